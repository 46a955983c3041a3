"""The one interface the CLI and the TUI use to reach the use cases.

Two implementations: ``LocalClient`` calls ``review.services`` in this process (direct
mode: a single-user machine, bootstrapping the first admin; identity is self-declared),
and ``RemoteClient`` calls the review server's HTTP API with the person's credential
(identity proven by the server). Both return the same types, so an entry point neither
knows nor cares which one it holds. Every method acts as the client's person.

Writes that start a gate's automatic step return ``(result, StepReport | None)``: where
the step ran (this process, the server, or a Prefect deployment) and what it said.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # only named in signatures: importing the client must not import every use case (CLI start-up)
    from review.domain.grading import GradeResult
    from review.services.audit import ChainReport
    from review.services.content_audit import ItemView, RunDetail
    from review.services.controls import EvidenceCheck
    from review.services.content_report import VerdictView
    from review.services.feedback import TriageOutcome
    from review.services.followups import ScanResult, VisitOutcome
    from review.services.permissions import Candidate, Permissions
    from review.services.queries import Page, ReviewDetail, ReviewFilter
    from review.services.replay import PreviewChange, ReplayReport
    from review.services.reviews import DecisionOutcome
    from review.services.tokens import NewToken, TokenInfo
    from review.store.models import AuditLog, ConflictDeclaration, ControlRequirement, Evidence, Review, User
    from review.store.models_content import AuditRun, SpotCheckLabel


@dataclass(frozen=True)
class StepReport:
    """The automatic gate step that followed a write: which, for which review, and what it said."""

    step: str  # initiation | development | release
    review_id: int
    ok: bool
    problem: str | None  # None | refused | failed
    message: str  # one line for a person ("" for a quiet refusal)
    where: str = "here"  # here | server | prefect


@dataclass(frozen=True)
class FeedbackReceipt:
    """What the public feedback channel answers: an id, never the message back."""

    id: int
    status: str


@dataclass(frozen=True)
class Report:
    """An audit report rendered by the server; the client writes the files."""

    run_id: int
    markdown: str
    html: str


@dataclass(frozen=True)
class DossierReport:
    """A review's dossier rendered by the server (``review.services.dossier``); the client writes it."""

    review_id: int
    markdown: str
    html: str


@dataclass(frozen=True)
class ProcessReportDoc:
    """The review process report (``review.services.process_report``): its figures as data and both renderings."""

    data: dict[str, Any]
    markdown: str
    html: str


Progress = Callable[[dict], None]


class Client(ABC):
    """Every use case an entry point may call, as the client's person."""

    #: "direct" (this process owns the database) or "remote" (the review server does)
    mode: str = "direct"

    # ---- who -----------------------------------------------------------------------------
    @abstractmethod
    def whoami(self) -> User: ...

    @abstractmethod
    def add_user(self, username: str, *, team: str, roles: str, display_name: str = "") -> User: ...

    @abstractmethod
    def set_channel(self, url: str | None, *, username: str | None = None) -> str | None:
        """Set (``None``: clear) the notification channel (an Apprise URL) of this person, or of ``username`` (admin);
        returns it masked."""

    @abstractmethod
    def channel(self, username: str | None = None) -> str | None:
        """This person's (or ``username``'s) channel, masked; None when there is none."""

    @abstractmethod
    def list_users(self) -> list[User]: ...

    @abstractmethod
    def create_token(self, username: str, *, scope: str = "write", expires: str | None = None, name: str = "") -> NewToken: ...

    @abstractmethod
    def list_tokens(self, username: str | None = None) -> list[TokenInfo]: ...

    @abstractmethod
    def revoke_token(self, token_id: Any) -> TokenInfo: ...

    # ---- reviews -------------------------------------------------------------------------
    @abstractmethod
    def submit(self, doc: Any, *, source: str = "submission") -> tuple[Review, StepReport | None]: ...

    @abstractmethod
    def submit_gate(self, review_id: Any, *, expected_version: int | None = None) -> tuple[Review, StepReport | None]: ...

    @abstractmethod
    def list_reviews(self, f: ReviewFilter | None = None, *, sort: str = "id", descending: bool = True, limit: int = 50,
                     offset: int = 0, with_total: bool = True, count_cap: int | None = None) -> Page: ...

    def interrupt_when(self, cancelled: Callable[[], bool]) -> AbstractContextManager[None]:
        """Reads begun in this block (in this thread) stop early once ``cancelled()`` is true, where the
        database allows it (a local SQLite file: the statement raises); elsewhere they run to the end."""
        return nullcontext()

    @abstractmethod
    def show_review(self, review_id: Any) -> ReviewDetail: ...

    @abstractmethod
    def permissions(self, review_id: Any) -> Permissions: ...

    @abstractmethod
    def assignees(self, review_id: Any) -> list[Candidate]: ...

    @abstractmethod
    def assign(self, review_id: Any, assignee: str | None = None, *, expected_version: int | None = None) -> Review: ...

    @abstractmethod
    def decide(self, review_id: Any, decision: str, *, rationale: str,
               expected_version: int | None = None) -> tuple[DecisionOutcome, StepReport | None]: ...

    @abstractmethod
    def add_evidence(self, review_id: Any, control_id: str, path: str | Path) -> Evidence: ...

    @abstractmethod
    def list_evidence(self, review_id: Any) -> list[Evidence]: ...

    @abstractmethod
    def download_evidence(self, review_id: Any, evidence_id: Any, dest: str | Path) -> Path:
        """Write the file to ``dest`` (a directory keeps its name); refused, with nothing left behind, when its
        bytes do not hash to the SHA-256 recorded at upload."""

    @abstractmethod
    def check_evidence(self, review_id: Any = None) -> EvidenceCheck:
        """Every evidence file (of one review, or all) is in the store and unchanged since upload."""

    @abstractmethod
    def verify(self, review_id: Any, control_id: str, verdict: str, *, rationale: str = "",
               expected_version: int | None = None) -> tuple[ControlRequirement, StepReport | None]: ...

    @abstractmethod
    def waive(self, review_id: Any, control_id: str, *, rationale: str) -> tuple[ControlRequirement, StepReport | None]: ...

    @abstractmethod
    def advance(self, review_id: Any, *, expected_version: int | None = None) -> tuple[Review, StepReport | None]: ...

    @abstractmethod
    def change_standing(self, review_id: Any, action: str, *, rationale: str, to_gate: str | None = None,
                        expected_version: int | None = None) -> Review: ...

    @abstractmethod
    def override_grade(self, review_id: Any, grade: str, *, rationale: str, expected_version: int | None = None) -> Review: ...

    @abstractmethod
    def residual(self, review_id: Any) -> GradeResult: ...

    @abstractmethod
    def replay(self, review_id: Any) -> ReplayReport: ...

    @abstractmethod
    def preview_pack(self, pack: str, *, status: str | None = None) -> tuple[int, list[PreviewChange]]: ...

    @abstractmethod
    def declare_conflict(self, product: str, *, reason: str) -> ConflictDeclaration: ...

    @abstractmethod
    def questionnaire_labels(self, pack_id: str) -> tuple[dict[str, str], dict[tuple[str, str], str]]: ...

    # ---- dashboard -----------------------------------------------------------------------
    @abstractmethod
    def grade_distribution(self) -> dict[str, int]: ...

    @abstractmethod
    def level_distribution(self) -> list[dict[str, Any]]:
        """Reviews per grade as each pack names it: ``[{"grade", "label", "count"}]``, highest grade first."""

    @abstractmethod
    def gate_funnel(self) -> dict[str, dict[str, int]]: ...

    @abstractmethod
    def overdue_counts(self, *, now: datetime | None = None) -> dict[str, Any]: ...

    # ---- the audit log -------------------------------------------------------------------
    @abstractmethod
    def verify_audit_log(self, *, checkpoints: list[dict[str, Any]] | None = None, state: bool = True) -> ChainReport: ...

    @abstractmethod
    def audit_checkpoint(self) -> dict[str, Any]: ...

    @abstractmethod
    def export_audit_log(self, out: Any) -> int: ...

    @abstractmethod
    def audit_public_key(self) -> str: ...

    @abstractmethod
    def audit_log(self, *, review_id: Any = None, limit: int = 50) -> list[AuditLog]: ...

    # ---- follow-ups, feedback, notifications ---------------------------------------------
    @abstractmethod
    def list_checks(self, *, which: str | None = None, now: datetime | None = None, limit: int = 200) -> list[dict[str, Any]]: ...

    @abstractmethod
    def show_check(self, check_id: Any) -> dict[str, Any]: ...

    @abstractmethod
    def record_visit(self, check_id: Any, customer: str, doc: Any, *, source: str = "answers") -> VisitOutcome: ...

    @abstractmethod
    def followup_scan(self, *, now: datetime | None = None) -> ScanResult: ...

    @abstractmethod
    def pending_reaudits(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def submit_feedback(self, product: str, message: str, *, contact: str | None = None) -> FeedbackReceipt: ...

    @abstractmethod
    def triage_feedback(self, feedback_id: Any, verdict: str, *, rationale: str) -> TriageOutcome: ...

    @abstractmethod
    def list_feedback(self, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]: ...

    @abstractmethod
    def inbox(self, *, limit: int = 100) -> list[dict[str, Any]]: ...

    @abstractmethod
    def review_notifications(self, review_id: Any, *, limit: int = 100) -> list[dict[str, Any]]: ...

    # ---- content-safety audits -----------------------------------------------------------
    @abstractmethod
    def run_audit(self, path: str | Path, *, product: str, fmt: str | None = None, chunk_lines: int = 10_000,
                  double_review: bool = False, pack: str | None = None, seed: int | None = None, reaudit: Any = None,
                  engine: str = "inline", workers: int = 1, progress: Progress | None = None,
                  started: Callable[[AuditRun], None] | None = None, cluster: str | None = None, dask_workers: int = 0) -> AuditRun: ...

    @abstractmethod
    def resume_audit(self, run_id: Any, *, engine: str = "inline", workers: int = 1, progress: Progress | None = None,
                     cluster: str | None = None, dask_workers: int = 0) -> AuditRun: ...

    @abstractmethod
    def list_audits(self, *, product: str | None = None, limit: int = 50) -> list[tuple[AuditRun, str]]: ...

    @abstractmethod
    def get_audit(self, run_id: Any, *, bad_limit: int = 50) -> RunDetail: ...

    @abstractmethod
    def audit_verdict(self, run_id: Any) -> VerdictView: ...

    @abstractmethod
    def sample_items(self, run_id: Any, *, blind: bool = True, unlabelled_only: bool = False, offset: int = 0,
                     limit: int | None = None) -> list[ItemView]: ...

    @abstractmethod
    def label_items(self, run_id: Any, labels: list[dict[str, Any]], *, where: list[str] | None = None) -> list[SpotCheckLabel]: ...

    @abstractmethod
    def pack_categories(self, pack_ref: str) -> list[tuple[str, str, int]]: ...

    @abstractmethod
    def audit_report(self, run_id: Any) -> Report: ...

    @abstractmethod
    def review_report(self, review_id: Any) -> DossierReport:
        """The review's dossier as Markdown and HTML."""

    @abstractmethod
    def process_report(self, start: str | None = None, end: str | None = None, *, now: datetime | None = None) -> ProcessReportDoc:
        """The review process over ``start``..``end`` (YYYY-MM-DD, both included; default the 90 days to ``now``)."""

    # ---- conveniences (same in both modes) ------------------------------------------------
    def label_item(self, run_id: Any, seq: Any, verdict: str, *, category: str | None = None, severity: int | None = None,
                   note: str = "", second: bool = False, adjudicate: bool = False) -> SpotCheckLabel:
        return self.label_items(run_id, [{"item": seq, "verdict": verdict, "category": category, "severity": severity,
                                          "note": note, "second": second, "adjudicate": adjudicate}])[0]

    def close(self) -> None:  # noqa: B027 - a no-op by default; the remote client closes its pool
        """Release connections (the remote client's HTTP pool)."""


def checked_download(target: Path, expected_sha256: str) -> Path:
    """A downloaded evidence file, checked against the SHA-256 recorded at upload; removed and refused when it differs."""
    from review.errors import Conflict
    from review.hashing import file_sha256

    got = file_sha256(target)
    if not expected_sha256 or got != expected_sha256.lower():
        target.unlink(missing_ok=True)
        raise Conflict(f"{target.name}: the downloaded bytes hash to {got[:16]}..., not the {expected_sha256[:16] or '(missing)'}... "
                       "recorded at upload; the file was not kept")
    return target
