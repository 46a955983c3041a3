"""The remote client: the same use cases through the review server's HTTP API, with a credential.

Every call sends ``Authorization: Bearer TOKEN``; the server decides who that is. A
problem+json answer becomes the same ``ReviewError`` class the use case raised on the
server (so the CLI exits with the same code), a network failure ``Unavailable``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from review.client.base import Client, DossierReport, FeedbackReceipt, ProcessReportDoc, Report, StepReport, checked_download
from review.client.codec import decode
from review.domain.grading import GradeResult
from review.errors import InvalidInput, ReviewError, Unavailable, error_for
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

API = "/api/v1"
PROBLEM_PREFIX = "urn:ethics-review:problem:"


class RemoteClient(Client):
    mode = "remote"

    def __init__(self, url: str, token: str | None, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 poll_interval: float = 0.5) -> None:
        self.url = url.rstrip("/")
        headers = {"User-Agent": "ethics-review-cli", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.url + API, headers=headers, timeout=timeout, transport=transport, follow_redirects=False)
        self.poll_interval = poll_interval

    def close(self) -> None:
        self.http.close()

    # ---- transport -----------------------------------------------------------------------
    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        params = kw.pop("params", None)
        if params:
            kw["params"] = {k: _param(v) for k, v in params.items() if v is not None}
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        if r.status_code >= 400:
            raise _error(r, self.url)
        return r

    @contextmanager
    def _stream(self, path: str) -> Iterator[httpx.Response]:
        """A GET whose body is read as it arrives (downloads, exports); errors as ``_send``'s."""
        try:
            with self.http.stream("GET", path) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _error(r, self.url)
                yield r
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: Exception) -> Unavailable:
        return Unavailable(f"cannot reach the review server at {self.url} ({type(exc).__name__}: {exc}); "
                           "check ETHICS_REVIEW_URL and that `ethics-review server` is running")

    def _call(self, method: str, path: str, into: Any = Any, **kw: Any) -> Any:
        return decode(into, self._send(method, path, **kw).json())

    def _stepped(self, method: str, path: str, key: str, into: Any, **kw: Any) -> tuple[Any, StepReport | None]:
        data = self._send(method, path, **kw).json()
        return decode(into, data[key]), decode(StepReport | None, data.get("step"))

    # ---- who -----------------------------------------------------------------------------
    def whoami(self) -> User:
        return self._call("GET", "/me", User)

    def add_user(self, username, *, team, roles, display_name=""):
        return self._call("POST", "/users", User, json={"username": username, "team": team, "roles": roles, "display_name": display_name})

    def list_users(self):
        return self._call("GET", "/users", list[User])

    def set_channel(self, url, *, username=None):
        return self._call("PUT", "/channel", str | None, json={"url": url, "username": username})

    def channel(self, username=None):
        return self._call("GET", "/channel", str | None, params={"username": username})

    def create_token(self, username, *, scope="write", expires=None, name=""):
        return self._call("POST", "/tokens", NewToken, json={"username": username, "scope": scope, "expires": expires, "name": name})

    def list_tokens(self, username=None):
        return self._call("GET", "/tokens", list[TokenInfo], params={"username": username})

    def revoke_token(self, token_id):
        return self._call("POST", f"/tokens/{_seg(token_id)}/revoke", TokenInfo)

    # ---- reviews -------------------------------------------------------------------------
    def submit(self, doc, *, source="submission"):
        return self._stepped("POST", "/reviews", "review", Review, json=doc, params={"source": source})

    def submit_gate(self, review_id, *, expected_version=None):
        return self._stepped("POST", f"/reviews/{_seg(review_id)}/submit", "review", Review, json={"expected_version": expected_version})

    def list_reviews(self, f=None, *, sort="id", descending=True, limit=50, offset=0, with_total=True, count_cap=None):
        f = f or ReviewFilter()
        return self._call("GET", "/reviews", Page, params={
            "gate": f.gate, "status": f.status, "grade": f.grade, "assignee": f.assignee, "overdue": f.overdue or None,
            "search": f.search, "team": f.team, "sort": sort, "asc": not descending, "limit": limit, "offset": offset,
            "with_total": with_total, "count_cap": count_cap})

    def show_review(self, review_id):
        return self._call("GET", f"/reviews/{_seg(review_id)}", ReviewDetail)

    def permissions(self, review_id):
        return self._call("GET", f"/reviews/{_seg(review_id)}/permissions", Permissions)

    def assignees(self, review_id):
        return self._call("GET", f"/reviews/{_seg(review_id)}/assignees", list[Candidate])

    def assign(self, review_id, assignee=None, *, expected_version=None):
        return self._call("POST", f"/reviews/{_seg(review_id)}/assign", Review, json={"assignee": assignee, "expected_version": expected_version})

    def decide(self, review_id, decision, *, rationale, expected_version=None):
        return self._stepped("POST", f"/reviews/{_seg(review_id)}/decisions", "outcome", DecisionOutcome,
                             json={"decision": decision, "rationale": rationale, "expected_version": expected_version})

    def add_evidence(self, review_id, control_id, path):
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"{path}: no such file (evidence must be a readable file)")
        with p.open("rb") as f:
            return self._call("POST", f"/reviews/{_seg(review_id)}/controls/{_seg(control_id)}/evidence", Evidence,
                              params={"filename": p.name}, content=_chunks(f), headers={"Content-Type": "application/octet-stream",
                                                                                        "Content-Length": str(p.stat().st_size)})

    def list_evidence(self, review_id):
        return self._call("GET", f"/reviews/{_seg(review_id)}/evidence", list[Evidence])

    def download_evidence(self, review_id, evidence_id, dest):
        with self._stream(f"/reviews/{_seg(review_id)}/evidence/{_seg(evidence_id)}") as r:
            name = _filename(r.headers.get("content-disposition", "")) or f"evidence-{evidence_id}"
            target = Path(dest) / name if Path(dest).is_dir() else Path(dest)
            with target.open("wb") as out:
                for chunk in r.iter_bytes():
                    out.write(chunk)
            return checked_download(target, r.headers.get("x-content-sha256", ""))

    def check_evidence(self, review_id=None):
        return self._call("GET", "/evidence/check", EvidenceCheck, params={"review": review_id} if review_id is not None else None)

    def verify(self, review_id, control_id, verdict, *, rationale="", expected_version=None):
        return self._stepped("POST", f"/reviews/{_seg(review_id)}/controls/{_seg(control_id)}/verify", "control", ControlRequirement,
                             json={"verdict": verdict, "rationale": rationale, "expected_version": expected_version})

    def waive(self, review_id, control_id, *, rationale):
        return self._stepped("POST", f"/reviews/{_seg(review_id)}/controls/{_seg(control_id)}/waive", "control", ControlRequirement,
                             json={"rationale": rationale})

    def advance(self, review_id, *, expected_version=None):
        return self._stepped("POST", f"/reviews/{_seg(review_id)}/advance", "review", Review, json={"expected_version": expected_version})

    def change_standing(self, review_id, action, *, rationale, to_gate=None, expected_version=None):
        return self._call("POST", f"/reviews/{_seg(review_id)}/standing", Review,
                          json={"action": action, "rationale": rationale, "to_gate": to_gate, "expected_version": expected_version})

    def override_grade(self, review_id, grade, *, rationale, expected_version=None):
        return self._call("POST", f"/reviews/{_seg(review_id)}/grade-override", Review,
                          json={"grade": grade, "rationale": rationale, "expected_version": expected_version})

    def residual(self, review_id):
        return self._call("GET", f"/reviews/{_seg(review_id)}/residual", GradeResult)

    def replay(self, review_id):
        return self._call("GET", f"/reviews/{_seg(review_id)}/replay", ReplayReport)

    def preview_pack(self, pack, *, status=None):
        if "/" in pack or pack.endswith((".yaml", ".yml")):
            raise InvalidInput(f"{pack}: against a review server, preview an installed pack by id (a local file stays on this machine)")
        return self._call("GET", f"/policies/{_seg(pack)}/preview", tuple[int, list[PreviewChange]], params={"status": status})

    def declare_conflict(self, product, *, reason):
        return self._call("POST", "/conflicts", ConflictDeclaration, json={"product": product, "reason": reason})

    def questionnaire_labels(self, pack_id):
        data = self._send("GET", f"/policies/{_seg(pack_id)}/labels").json()
        return dict(data["questions"]), {(q, o): label for q, o, label in data["options"]}

    # ---- dashboard -----------------------------------------------------------------------
    def grade_distribution(self):
        return self._call("GET", "/dashboard/grades", dict[str, int])

    def level_distribution(self):
        return self._call("GET", "/dashboard/levels", list[dict[str, Any]])

    def gate_funnel(self):
        return self._call("GET", "/dashboard/funnel", dict[str, dict[str, int]])

    def overdue_counts(self, *, now=None):
        return self._call("GET", "/dashboard/overdue", params={"now": now})

    # ---- the audit log -------------------------------------------------------------------
    def verify_audit_log(self, *, checkpoints=None, state=True):
        if checkpoints or not state:
            return self._call("POST", "/audit-log/verify", ChainReport, json={"checkpoints": checkpoints or [], "state": state})
        return self._call("GET", "/audit-log/verify", ChainReport)

    def audit_checkpoint(self):
        return self._call("POST", "/audit-log/checkpoints", dict)

    def export_audit_log(self, out):
        n = 0
        with self._stream("/audit-log/export") as r:
            for line in r.iter_lines():
                if line:
                    out.write(line + "\n")
                    n += 1 if line.startswith('{"row"') else 0
        return n

    def audit_public_key(self):
        return self._send("GET", "/audit-log/public-key").text

    def audit_log(self, *, review_id=None, limit=50):
        return self._call("GET", "/audit-log", list[AuditLog], params={"review": review_id, "limit": limit})

    # ---- follow-ups, feedback, notifications ---------------------------------------------
    def list_checks(self, *, which=None, now=None, limit=200):
        return self._call("GET", "/followups", params={"which": which, "now": now, "limit": limit})

    def show_check(self, check_id):
        return self._call("GET", f"/followups/{_seg(check_id)}")

    def record_visit(self, check_id, customer, doc, *, source="answers"):
        if not isinstance(doc, dict):
            raise InvalidInput(f"{source}: expected a mapping with answers, finding, controls and notes")
        return self._call("POST", f"/followups/{_seg(check_id)}/visits", VisitOutcome,
                          json={"customer": customer, "answers": doc, "source": source})

    def followup_scan(self, *, now=None):
        return self._call("POST", "/followups/scan", ScanResult, json={"now": _param(now)})

    def pending_reaudits(self):
        return self._call("GET", "/reaudits")

    def submit_feedback(self, product, message, *, contact=None):
        return self._call("POST", "/feedback", FeedbackReceipt, json={"product": product, "message": message, "contact": contact})

    def triage_feedback(self, feedback_id, verdict, *, rationale):
        return self._call("POST", f"/feedback/{_seg(feedback_id)}/triage", TriageOutcome, json={"verdict": verdict, "rationale": rationale})

    def list_feedback(self, *, status=None, limit=100):
        return self._call("GET", "/feedback", params={"status": status, "limit": limit})

    def inbox(self, *, limit=100):
        return self._call("GET", "/notifications", params={"limit": limit})

    def review_notifications(self, review_id, *, limit=100):
        return self._call("GET", f"/reviews/{_seg(review_id)}/notifications", params={"limit": limit})

    # ---- content-safety audits -----------------------------------------------------------
    def run_audit(self, path, *, product, fmt=None, chunk_lines=10_000, double_review=False, pack=None, seed=None, reaudit=None,
                  engine="inline", workers=1, progress=None, started=None, cluster=None, dask_workers=0):
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"{path}: no such file; give a JSONL or CSV file of records (id, product, prompt, output, modality, metadata)")
        if engine != "inline" or cluster or dask_workers:
            raise InvalidInput("--engine prefect, --cluster and --dask-workers run where the database is: against a review server, the server scans the upload")
        with p.open("rb") as f:
            run = self._call("POST", "/audits", AuditRun, content=_chunks(f),
                             headers={"Content-Type": "application/octet-stream", "Content-Length": str(p.stat().st_size)},
                             params={"product": product, "filename": p.name, "fmt": fmt, "chunk": chunk_lines, "double_review": double_review,
                                     "pack": pack, "seed": seed, "reaudit": reaudit})
        if started is not None:
            started(run)
        return self._wait(run.id, progress)

    def resume_audit(self, run_id, *, engine="inline", workers=1, progress=None, cluster=None, dask_workers=0):
        if engine != "inline" or cluster or dask_workers:
            raise InvalidInput("--engine prefect, --cluster and --dask-workers run where the database is: against a review server, the server scans")
        run = self._call("POST", f"/audits/{_seg(run_id)}/resume", AuditRun)
        return self._wait(run.id, progress)

    def _wait(self, run_id: int, progress: Any) -> AuditRun:
        """Poll the server until the run is scanned (or its background scan stopped with an error)."""
        while True:
            p = self._send("GET", f"/audits/{run_id}/progress").json()
            if progress is not None:
                progress({k: p[k] for k in ("run", "lines_total", "lines_done", "findings")})
            if p.get("error"):
                raise error_for(p.get("error_type") or "internal",
                                f"audit run {run_id} stopped on the server: {p['error']}; `ethics-review audit resume {run_id}` continues it")
            if p["status"] != "RUNNING" and not p.get("scanning"):
                return self.get_audit(run_id, bad_limit=1).run
            time.sleep(self.poll_interval)

    def list_audits(self, *, product=None, limit=50):
        return self._call("GET", "/audits", list[tuple[AuditRun, str]], params={"product": product, "limit": limit})

    def get_audit(self, run_id, *, bad_limit=50):
        return self._call("GET", f"/audits/{_seg(run_id)}", RunDetail, params={"bad_limit": bad_limit})

    def audit_verdict(self, run_id):
        return self._call("GET", f"/audits/{_seg(run_id)}/verdict", VerdictView)

    def sample_items(self, run_id, *, blind=True, unlabelled_only=False, offset=0, limit=None):
        return self._call("GET", f"/audits/{_seg(run_id)}/items", list[ItemView],
                          params={"blind": blind, "unlabelled_only": unlabelled_only, "offset": offset, "limit": limit})

    def label_items(self, run_id, labels, *, where=None):
        return self._call("POST", f"/audits/{_seg(run_id)}/labels", list[SpotCheckLabel], json={"labels": labels, "where": where})

    def pack_categories(self, pack_ref):
        return self._call("GET", f"/policies/{_seg(pack_ref)}/categories", list[tuple[str, str, int]])

    def audit_report(self, run_id):
        return self._call("GET", f"/audits/{_seg(run_id)}/report", Report)

    # ---- model evaluation ------------------------------------------------------------------
    # (the types are imported on use: they bring the evaluation's use cases, which `list` does not need)
    def run_eval(self, *, review, endpoint, model, bank, sample=None, pack=None, seed=None, api_key_env=None, concurrency=8,
                 timeout=60.0, retries=3, rate_limit=None, progress=None, started=None):
        from review.store.models_eval import EvalRun

        run = self._call("POST", "/evals", EvalRun, json={
            "review": str(review), "endpoint": endpoint, "model": model, "bank": bank, "sample": sample, "pack": pack, "seed": seed,
            "api_key_env": api_key_env, "concurrency": concurrency, "timeout": timeout, "retries": retries, "rate_limit": rate_limit})
        if started is not None:
            started(run)
        return self._wait_eval(run.id, progress)

    def resume_eval(self, run_id, *, progress=None):
        from review.store.models_eval import EvalRun

        run = self._call("POST", f"/evals/{_seg(run_id)}/resume", EvalRun)
        return self._wait_eval(run.id, progress)

    def _wait_eval(self, run_id: int, progress: Any) -> Any:
        """Poll the server until the run's questions are answered, or what stopped it (the same error, exit code and all)."""
        while True:
            p = self._send("GET", f"/evals/{run_id}/progress").json()
            if progress is not None:
                progress(p["answered"], p["questions"])
            if p.get("error"):
                raise error_for(p.get("error_type") or "unavailable", f"eval run {run_id} stopped on the server: {p['error']}")
            if not p["running"]:
                return self.get_eval(run_id).run
            time.sleep(self.poll_interval)

    def list_evals(self, *, review=None, limit=50):
        from review.services.eval_runs import RunView

        return self._call("GET", "/evals", list[RunView], params={"review": review, "limit": limit})

    def get_eval(self, run_id):
        from review.services.eval_runs import RunView

        return self._call("GET", f"/evals/{_seg(run_id)}", RunView)

    def draw_eval_sample(self, run_id, *, size=None, seed=None):
        from review.services.eval_spot import SampleInfo

        return self._call("POST", f"/evals/{_seg(run_id)}/sample", SampleInfo, json={"size": size, "seed": seed})

    def eval_items(self, run_id, *, blind=True, unlabelled_only=False, offset=0, limit=None):
        from review.services.eval_spot import EvalItemView

        return self._call("GET", f"/evals/{_seg(run_id)}/items", list[EvalItemView],
                          params={"blind": blind, "unlabelled_only": unlabelled_only, "offset": offset, "limit": limit})

    def label_eval_items(self, run_id, labels, *, where=None):
        from review.store.models_eval import EvalSpotLabel

        return self._call("POST", f"/evals/{_seg(run_id)}/labels", list[EvalSpotLabel], json={"labels": labels, "where": where})

    def eval_spot_verdict(self, run_id):
        from review.services.eval_spot import EvalSpotView

        return self._call("GET", f"/evals/{_seg(run_id)}/spot", EvalSpotView)

    def review_report(self, review_id):
        return self._call("GET", f"/reviews/{_seg(review_id)}/report", DossierReport)

    def process_report(self, start=None, end=None, *, now=None):
        return self._call("GET", "/reports/process", ProcessReportDoc, params={"from": start, "to": end, "now": now})


def _seg(value: Any) -> str:
    """One URL path segment from user input (ids, control ids, pack ids): no slashes, no dot segments."""
    from urllib.parse import quote

    text = str(value).strip()
    if not text or text in (".", "..") or "/" in text:
        raise InvalidInput(f"{value!r} is not a valid id")
    return quote(text, safe="")


def _param(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _chunks(f: Any, size: int = 1 << 20):
    while chunk := f.read(size):
        yield chunk


def _filename(disposition: str) -> str | None:
    from email.message import Message

    m = Message()
    m["content-disposition"] = disposition
    name = m.get_filename()
    return Path(name).name if name else None


def _error(r: httpx.Response, url: str) -> ReviewError:
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and str(body.get("type", "")).startswith(PROBLEM_PREFIX):
        kind = body["type"][len(PROBLEM_PREFIX):]
        detail = str(body.get("detail", ""))
        if kind == "internal":
            return Unavailable(f"the review server at {url} failed: {detail}")
        if kind == "unavailable" and body.get("exit_code") == 8:
            err = ReviewError(detail)
            err.exit_code = 8
            return err
        return error_for(kind, detail)
    if r.status_code in (401, 403):
        return error_for("not-authenticated" if r.status_code == 401 else "not-allowed", f"the server at {url} answered {r.status_code}")
    return Unavailable(f"the server at {url} answered HTTP {r.status_code}; is ETHICS_REVIEW_URL the review server?")
