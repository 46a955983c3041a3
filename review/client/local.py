"""The local client: the use cases in this process, acting as one named person.

Used in direct mode (a single-user machine, or bootstrapping the first admin: identity is
self-declared there) and by the review server itself, which builds one per request for
the person the request's credential proves.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from review.client.base import Client, DossierReport, FeedbackReceipt, ProcessReportDoc, Progress, Report, StepReport, checked_download
from review.errors import InvalidInput
from review.domain.duties import Duty

if TYPE_CHECKING:
    from review.client import steps
    from review.services import audit as audit_service
    from review.services import content_audit as ca
    from review.services import content_labels, content_report, controls, dashboard, feedback, followups, notifications, permissions
    from review.services import common, queries, replay, reviews, tokens, users
    from review.store.db import Database
else:  # imported on first use: `ethics-review list` needs the queries, not the audit engine
    from review.lazy import LazyModule

    steps = LazyModule("review.client.steps")
    audit_service = LazyModule("review.services.audit")
    ca = LazyModule("review.services.content_audit")
    common = LazyModule("review.services.common")
    content_labels = LazyModule("review.services.content_labels")
    content_report = LazyModule("review.services.content_report")
    controls = LazyModule("review.services.controls")
    dashboard = LazyModule("review.services.dashboard")
    feedback = LazyModule("review.services.feedback")
    followups = LazyModule("review.services.followups")
    notifications = LazyModule("review.services.notifications")
    permissions = LazyModule("review.services.permissions")
    queries = LazyModule("review.services.queries")
    replay = LazyModule("review.services.replay")
    reviews = LazyModule("review.services.reviews")
    tokens = LazyModule("review.services.tokens")
    users = LazyModule("review.services.users")


class LocalClient(Client):
    mode = "direct"

    def __init__(self, db: Database, actor: str | None, *, database_param: str | None = None, deliver: bool = True,
                 audit_engines: dict[str, Callable[..., Any]] | None = None) -> None:
        """``actor``: the person acting (None: only public use cases and bootstrapping work).
        ``database_param``: a database URL to hand Prefect deployments (an explicit ``--database``).
        ``audit_engines``: scanners besides ``inline`` (the CLI adds ``prefect``: the audit flow)."""
        self.db = db
        self._actor = actor
        self.database_param = database_param
        self.deliver = deliver
        self.audit_engines = audit_engines or {}

    @property
    def actor(self) -> str:
        if not self._actor:
            raise InvalidInput("who is acting? pass --as USER or set ETHICS_REVIEW_USER (direct mode), "
                               "or set ETHICS_REVIEW_URL and a token to act through the review server")
        return self._actor

    def _after(self, event: str, obj: Any) -> StepReport | None:
        return steps.after(self.db, event, obj, database_param=self.database_param)

    def _deliver(self) -> None:
        if self.deliver:
            notifications.deliver_pending(self.db)

    # ---- who -----------------------------------------------------------------------------
    def whoami(self):
        return users.get_user(self.db, self.actor)

    def add_user(self, username, *, team, roles, display_name=""):
        return users.add_user(self.db, username, team=team, roles=roles, display_name=display_name, actor=self._actor)

    def list_users(self):
        return users.list_users(self.db)

    def set_channel(self, url, *, username=None):
        return notifications.set_channel(self.db, username or self.actor, url, actor=self.actor)

    def channel(self, username=None):
        who = username or self.actor
        if who != self.actor:
            users.require_duty(self.db, self.actor, Duty.MANAGE_USERS)
        return notifications.channel_of(self.db, who)

    def create_token(self, username, *, scope="write", expires=None, name=""):
        return tokens.create_token(self.db, username, actor=self.actor, scope=scope, expires=expires, name=name)

    def list_tokens(self, username=None):
        return tokens.list_tokens(self.db, actor=self.actor, username=username)

    def revoke_token(self, token_id):
        return tokens.revoke_token(self.db, token_id, actor=self.actor)

    # ---- reviews -------------------------------------------------------------------------
    def submit(self, doc, *, source="submission"):
        review = reviews.submit(self.db, doc, actor=self.actor, source=source)
        return review, self._after("submit", review)

    def submit_gate(self, review_id, *, expected_version=None):
        review = reviews.submit_gate(self.db, review_id, actor=self.actor, expected_version=expected_version)
        return review, self._after("submit", review)

    def interrupt_when(self, cancelled):
        from review.store.db import interrupt_when

        return interrupt_when(cancelled)

    def list_reviews(self, f=None, *, sort="id", descending=True, limit=50, offset=0, with_total=True, count_cap=None):
        return queries.list_reviews(self.db, f, sort=sort, descending=descending, limit=limit, offset=offset, with_total=with_total,
                                    count_cap=count_cap)

    def show_review(self, review_id):
        return queries.show_review(self.db, review_id)

    def permissions(self, review_id):
        return permissions.permissions(self.db, review_id, self.actor)

    def assignees(self, review_id):
        return permissions.assignees(self.db, review_id)

    def assign(self, review_id, assignee=None, *, expected_version=None):
        return reviews.assign(self.db, review_id, assignee or self.actor, actor=self.actor, expected_version=expected_version)

    def decide(self, review_id, decision, *, rationale, expected_version=None):
        out = reviews.decide(self.db, review_id, decision, actor=self.actor, rationale=rationale, expected_version=expected_version)
        return out, self._after("decide", out)

    def add_evidence(self, review_id, control_id, path):
        return controls.add_evidence(self.db, review_id, control_id, path, actor=self.actor)

    def add_evidence_upload(self, review_id: Any, control_id: str, path: Path, *, filename: str):
        """The server's half of an upload: ``path`` is its copy, ``filename`` the uploader's name for it."""
        return controls.add_evidence(self.db, review_id, control_id, path, actor=self.actor, filename=filename)

    def list_evidence(self, review_id):
        return controls.list_evidence(self.db, review_id)

    def evidence_file(self, review_id: Any, evidence_id: Any):
        return controls.evidence_file(self.db, review_id, evidence_id, actor=self.actor)

    def download_evidence(self, review_id, evidence_id, dest):
        ev, blob = self.evidence_file(review_id, evidence_id)
        target = _target(Path(dest), ev.filename)
        shutil.copyfile(blob, target)
        return checked_download(target, ev.sha256)

    def check_evidence(self, review_id=None):
        return controls.check_evidence(self.db, review_id)

    def verify(self, review_id, control_id, verdict, *, rationale="", expected_version=None):
        req = controls.verify(self.db, review_id, control_id, verdict, actor=self.actor, rationale=rationale, expected_version=expected_version)
        return req, self._after("verify", req)

    def waive(self, review_id, control_id, *, rationale):
        req = controls.waive(self.db, review_id, control_id, actor=self.actor, rationale=rationale)
        return req, self._after("waive", req)

    def advance(self, review_id, *, expected_version=None):
        review = reviews.advance(self.db, review_id, actor=self.actor, expected_version=expected_version)
        return review, self._after("advance", review)

    def change_standing(self, review_id, action, *, rationale, to_gate=None, expected_version=None):
        return reviews.change_standing(self.db, review_id, action, actor=self.actor, rationale=rationale, to_gate=to_gate,
                                       expected_version=expected_version)

    def override_grade(self, review_id, grade, *, rationale, expected_version=None):
        return reviews.override_grade(self.db, review_id, grade, actor=self.actor, rationale=rationale, expected_version=expected_version)

    def residual(self, review_id):
        return reviews.compute_residual(self.db, review_id, actor=self._actor or "system")

    def replay(self, review_id):
        return replay.replay(self.db, review_id)

    def preview_pack(self, pack, *, status=None):
        return replay.preview_pack(self.db, pack, status=status)

    def declare_conflict(self, product, *, reason):
        return users.declare_conflict(self.db, product, actor=self.actor, reason=reason)

    def questionnaire_labels(self, pack_id):
        return dashboard.questionnaire_labels(pack_id)

    # ---- dashboard -----------------------------------------------------------------------
    def grade_distribution(self):
        return queries.grade_distribution(self.db)

    def level_distribution(self):
        return queries.level_distribution(self.db)

    def gate_funnel(self):
        return queries.gate_funnel(self.db)

    def overdue_counts(self, *, now=None):
        return dashboard.overdue_counts(self.db, now=now)

    # ---- the audit log -------------------------------------------------------------------
    def verify_audit_log(self, *, checkpoints=None, state=True):
        return audit_service.verify_chain(self.db, checkpoints=checkpoints or [], state=state)

    def audit_checkpoint(self):
        from review.services import checkpoints

        self.whoami()  # an active person takes it
        return checkpoints.create(self.db)

    def export_audit_log(self, out):
        from review.services import checkpoints

        return checkpoints.export(self.db, out, actor=self.actor)

    def may_export_audit_log(self) -> None:
        from review.services import checkpoints

        checkpoints.may_export(self.db, self.actor)

    def may_set_clock(self) -> None:
        from review.domain.duties import Duty

        users.require_duty(self.db, self.actor, Duty.SET_CLOCK)

    def audit_public_key(self):
        from review.services import signing

        from review.errors import NotFound

        key = signing.load_key(self.db.data_dir, create=False)  # a read never makes a key
        if key is None:
            raise NotFound("this deployment has no audit signing key yet: it is made with the first audit row")
        return signing.public_pem(key.public)

    def audit_log(self, *, review_id=None, limit=50):
        return audit_service.recent(self.db, review_id=None if review_id is None else common.parse_review_id(review_id), limit=limit)

    # ---- follow-ups, feedback, notifications ---------------------------------------------
    def list_checks(self, *, which=None, now=None, limit=200):
        return followups.list_checks(self.db, which=which, now=now, limit=limit)

    def show_check(self, check_id):
        return followups.show_check(self.db, check_id, viewer=self._actor)

    def record_visit(self, check_id, customer, doc, *, source="answers"):
        out = followups.record_visit(self.db, check_id, customer, doc, actor=self.actor, source=source)
        self._deliver()
        return out

    def followup_scan(self, *, now=None):
        res = followups.scan(self.db, now=now)
        self._deliver()
        return res

    def pending_reaudits(self):
        return followups.pending_reaudits(self.db)

    def submit_feedback(self, product, message, *, contact=None):
        fb = feedback.submit_feedback(self.db, product, message, contact=contact)
        self._deliver()
        return FeedbackReceipt(fb.id, fb.status)

    def triage_feedback(self, feedback_id, verdict, *, rationale):
        out = feedback.triage(self.db, feedback_id, verdict, actor=self.actor, rationale=rationale)
        self._deliver()
        return out

    def list_feedback(self, *, status=None, limit=100):
        return feedback.list_feedback(self.db, status=status, limit=limit, viewer=self._actor)

    def inbox(self, *, limit=100):
        return notifications.inbox(self.db, self.actor, limit=limit)

    def review_notifications(self, review_id, *, limit=100):
        return [{**n, "via": None} for n in notifications.list_notifications(self.db, review_id=common.parse_review_id(review_id), limit=limit)]

    # ---- content-safety audits -----------------------------------------------------------
    def run_audit(self, path, *, product, fmt=None, chunk_lines=10_000, double_review=False, pack=None, seed=None, reaudit=None,
                  engine="inline", workers=1, progress=None, started=None, source_name: str | None = None, cluster=None, dask_workers=0):
        engine = self._check_scan(engine, workers, cluster, dask_workers)  # before anything is written
        # checked before anything is written; the request closes with the run's verdict, not when the scan ends
        req = followups.get_pending_reaudit(self.db, reaudit, product=product)["id"] if reaudit is not None else None
        run = ca.start_run(self.db, path, product=product, actor=self.actor, fmt=fmt, chunk_lines=chunk_lines,
                           double_review=double_review, engine=engine, pack=pack, seed=seed, reaudit=req)
        if started is not None:
            started(run)
        assert run.id is not None
        return self._scan(run.id, engine, workers, progress, cluster, dask_workers)

    def resume_audit(self, run_id, *, engine="inline", workers=1, progress=None, cluster=None, dask_workers=0):
        engine = self._check_scan(engine, workers, cluster, dask_workers)
        run = ca.get_run_row(self.db, run_id)
        return self._scan(run.id, engine, workers, progress, cluster, dask_workers)

    def _check_scan(self, engine: str, workers: int, cluster: str | None, dask_workers: int) -> str:
        """The engine a scan uses (a cluster means the Prefect flow), refusing bad options before any write."""
        if workers < 1:
            raise InvalidInput(f"--workers {workers}: give 1 or more processes")
        if dask_workers < 0 or (cluster and dask_workers):
            raise InvalidInput(f"--dask-workers {dask_workers}: give 1 or more local Dask workers, or --cluster ADDRESS, not both")
        if cluster or dask_workers:
            if "prefect" not in self.audit_engines:
                raise InvalidInput("--cluster/--dask-workers run the audit flow (Prefect); it is not available here")
            ca.require_shared_database(self.db, "--cluster" if cluster else "--dask-workers")
            return "prefect"
        return engine

    def _scan(self, run_id: int, engine: str, workers: int, progress: Progress | None, cluster: str | None = None,
              dask_workers: int = 0):
        if engine in self.audit_engines:
            where = {"workers": workers, "cluster": cluster, "dask_workers": dask_workers} if engine == "prefect" else {}
            self.audit_engines[engine](self.db, run_id, self._actor, **where)
            return ca.get_run_row(self.db, run_id)
        if engine != "inline":
            raise InvalidInput(f"--engine {engine!r} is not one of: inline, {', '.join(self.audit_engines) or '(none else here)'}")
        return ca.run_inline(self.db, run_id, actor=self._actor, workers=workers, progress=_progress_adapter(self.db, run_id, progress))

    def list_audits(self, *, product=None, limit=50):
        return ca.list_runs(self.db, product=product, limit=limit)

    def get_audit(self, run_id, *, bad_limit=50):
        return ca.get_run(self.db, run_id, bad_limit=bad_limit)

    def audit_verdict(self, run_id):
        return content_report.verdict(self.db, run_id)

    def sample_items(self, run_id, *, blind=True, unlabelled_only=False, offset=0, limit=None):
        return ca.sample_items(self.db, run_id, self.actor, blind=blind, unlabelled_only=unlabelled_only, offset=offset, limit=limit)

    def label_items(self, run_id, labels, *, where=None):
        names = list(where) if where else None
        return content_labels.label_items(self.db, run_id, self.actor, labels, where=(lambda k: names[k]) if names else None)

    def pack_categories(self, pack_ref):
        return ca.pack_categories(pack_ref)

    def audit_report(self, run_id):
        rid, md, html = content_report.render_report(self.db, run_id)
        return Report(rid, md, html)

    def review_report(self, review_id):
        from review.services import dossier

        d = dossier.dossier(self.db, review_id)
        return DossierReport(d.detail.review["id"], dossier.render_markdown(d), dossier.render_html(d))

    def process_report(self, start=None, end=None, *, now=None):
        from review.services import process_report as pr

        lo, hi = pr.period(start, end, now=now)
        r = pr.process_report(self.db, lo, hi, actor=self.actor, now=now)
        return ProcessReportDoc(r.to_json(), pr.render_markdown(r), pr.render_html(r))


def _target(dest: Path, filename: str) -> Path:
    """Where a download goes: into ``dest`` when it is a directory, else ``dest`` itself."""
    return dest / filename if dest.is_dir() else dest


def _progress_adapter(db: Database, run_id: int, progress: Progress | None) -> Callable[[dict], None] | None:
    """Turn per-chunk results into cumulative ``{run, lines_total, lines_done, findings}`` events."""
    if progress is None:
        return None
    descs = ca.chunk_descriptors(db, run_id)
    sizes = {d["seq"]: d["lines"] for d in descs}
    state = {"run": run_id, "lines_total": sum(sizes.values()), "lines_done": 0, "findings": 0}
    progress(dict(state))

    def tick(out: dict) -> None:
        state["lines_done"] += sizes.get(out["seq"], 0)
        state["findings"] += out.get("findings", 0)
        progress(dict(state))

    return tick
