"""The review workspace: everything about one review, and the committee's actions on it.

Loads ``show_review`` + ``permissions`` in a worker; every action is a modal (for the
rationale) then a use case in a worker, with the version the user saw, so a decision
made by someone else in between is a Conflict (explained by the app, then reloaded).
After a decision or a verdict the same worker runs the gate's automatic step that
``review.services.next_steps`` says follows it (e.g. an applied release approval releases
the product and schedules its first follow-up) and the step's message is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from review.client import StepReport
from review.client.messages import override_summary
from review.client.types import WAIVABLE, Permissions, ReviewDetail
from tui import messages
from tui.format import control_status, humanize, plain
from tui.modals import (AssignModal, DecideModal, DecisionRequest, DeclareConflictModal, OverrideGradeModal, OverrideRequest, StandingModal,
                        VerifyControlModal, VerifyRequest, WaiveControlModal, WaiveRequest)
from tui.screens.base import CommitteeScreen
from tui.widgets.nav import NavBar
from tui.widgets.review import ACTION_KEYS, ActionBar, panels


def _action_bindings() -> list[Binding]:
    return [Binding(key, f"act('{action}')", label, id=f"ws-{action}") for action, (key, label) in ACTION_KEYS.items()]


class ReviewWorkspace(CommitteeScreen):
    BINDINGS = [Binding("escape,q", "back", "Back"), Binding("ctrl+r", "reload", "Reload"), *_action_bindings()]

    @dataclass
    class Loaded(Message):
        detail: ReviewDetail
        perms: Permissions
        labels: tuple[dict[str, str], dict[tuple[str, str], str]]

    @dataclass
    class ActionDone(Message):
        summary: str
        step: StepReport | None = None  # the automatic gate step that followed, if any

    def __init__(self, review_id: int) -> None:
        super().__init__()
        self.review_id = review_id
        self.detail: ReviewDetail | None = None
        self.perms: Permissions | None = None

    def compose(self) -> ComposeResult:
        yield NavBar("queue", id="nav")
        yield Static(f"Loading review {self.review_id}…", id="ws-header")
        with Horizontal(id="ws-body"):
            with VerticalScroll(id="ws-left"):
                yield Static("Product profile", classes="section-title")
                yield Static("", id="ws-profile")
                yield Static("Questionnaire answers", classes="section-title")
                yield Static("", id="ws-answers")
            with VerticalScroll(id="ws-right"):
                yield Static("Risk assessment", classes="section-title")
                yield Static("", id="ws-scores")
                yield Static("Control requirements", classes="section-title")
                yield DataTable(id="ws-controls", cursor_type="row", zebra_stripes=True)
                yield Static("Frameworks: obligations met by verified evidence", classes="section-title")
                yield Static("", id="ws-frameworks")
                yield Static("Decisions", classes="section-title")
                yield Static("", id="ws-decisions")
                yield Static("Audit trail", classes="section-title")
                yield Static("", id="ws-trail")
        yield ActionBar(id="ws-actions")
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one("#ws-controls", DataTable)
        for key, label, width in (("control", "control", 8), ("title", "title", 34), ("gate", "verify at", 12),
                                  ("status", "status", 18), ("evidence", "evidence", 30)):
            t.add_column(label, key=key, width=width)
        self.reload()

    # ---- loading --------------------------------------------------------------------
    @property
    def label(self) -> str:
        name = self.detail.product.get("name", "") if self.detail else ""
        return f"review {self.review_id}" + (f" ({name})" if name else "")

    def reload(self) -> None:
        self._load(self.review_id)

    @work(thread=True, exclusive=True, group="workspace-load", exit_on_error=False)
    def _load(self, review_id: int) -> None:
        c = self.app.client
        detail = c.show_review(review_id)
        perms = c.permissions(review_id)
        pack = detail.assessments[0]["pack_id"] if detail.assessments else detail.review.get("policy_id", "default")
        self.post_message(self.Loaded(detail, perms, c.questionnaire_labels(pack)))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.detail, self.perms = event.detail, event.perms
        d, now = event.detail, self.app.now()
        self.query_one("#ws-header", Static).update(panels.header(d, now))
        self.query_one("#ws-profile", Static).update(panels.profile(d))
        self.query_one("#ws-answers", Static).update(panels.answers(d, *event.labels))
        self.query_one("#ws-scores", Static).update(panels.scores(d))
        self.query_one("#ws-frameworks", Static).update(panels.frameworks(d))
        self.query_one("#ws-decisions", Static).update(panels.decisions(d))
        self.query_one("#ws-trail", Static).update(panels.trail(d))
        table = self.query_one("#ws-controls", DataTable)
        keep = table.cursor_row
        table.clear()
        for c in d.controls:
            ev = ", ".join(e["filename"] for e in c.evidence) or "-"
            table.add_row(plain(c.control_id), plain(c.title, overflow="ellipsis", no_wrap=True), c.verify_gate.lower(), control_status(c.status),
                          plain(ev, overflow="ellipsis", no_wrap=True), key=c.control_id)
        if d.controls:
            table.move_cursor(row=min(keep, len(d.controls) - 1))
        self.query_one(ActionBar).show(event.perms)

    # ---- actions ----------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.reload()

    @on(ActionBar.Requested)
    def _requested(self, event: ActionBar.Requested) -> None:
        self.action_act(event.action)

    def why_not(self, action: str) -> str | None:
        """The reason ``action`` is refused now, or None when allowed."""
        if self.perms is None or self.detail is None:
            return "the review is still loading"
        state = self.perms.actions.get(action)
        if state is None or state.allowed:
            return None
        return "; ".join(state.reasons)

    def action_act(self, action: str) -> None:
        why = self.why_not(action)
        if why is not None:
            self.app.notify(why, title=f"{humanize(action)}: not available", severity="warning", markup=False)
            return
        assert self.detail is not None and self.perms is not None
        version = self.perms.version
        if action == "assign-to-me":
            self._run("assign", version=version)
        elif action in ("approve", "request-changes", "reject"):
            allowed = {a: (s.allowed, "; ".join(s.reasons), s.note) for a, s in self.perms.actions.items()}
            self.app.push_screen(DecideModal(self.label, action, allowed), lambda r: r and self._run("decide", r, version=version))
        elif action == "verify":
            pending = [(c.control_id, c.title) for c in self.detail.controls if c.status == "EVIDENCE_SUBMITTED"]
            cursor = self._control_under_cursor()
            rid, client = self.detail.review["id"], self.app.client
            evidence = {c.control_id: c.evidence for c in self.detail.controls}
            self.app.push_screen(VerifyControlModal(self.label, pending, cursor, evidence=evidence,
                                                    fetch=lambda eid, dest: client.download_evidence(rid, eid, dest)),
                                 lambda r: r and self._run("verify", r, version=version))
        elif action == "override-grade":
            self.app.push_screen(OverrideGradeModal(self.label, self.detail.review["grade"]),
                                 lambda r: r and self._run("override", r, version=version))
        elif action == "declare-conflict":
            product = self.detail.product.get("name", "")
            self.app.push_screen(DeclareConflictModal(product), lambda r: r and self._run("conflict", (product, r), version=version))
        elif action == "assign":
            self._open_assign(version)
        elif action == "waive":
            open_controls = [(c.control_id, c.title) for c in self.detail.controls if c.status in WAIVABLE]
            self.app.push_screen(WaiveControlModal(self.label, open_controls, self._control_under_cursor()),
                                 lambda r: r and self._run("waive", r, version=version))
        elif action in ("advance", "suspend", "resume", "withdraw"):
            self.app.push_screen(StandingModal(self.label, action), lambda r: r is not None and self._run(action, r, version=version))

    @work(thread=True, exclusive=True, group="workspace-action", exit_on_error=False)
    def _open_assign(self, version: int) -> None:
        """Who may take the review (asked only when the chair wants to assign), then the modal."""
        assert self.detail is not None
        candidates, current = self.app.client.assignees(self.review_id), self.detail.review.get("assignee")
        self.app.call_from_thread(lambda: self.app.push_screen(AssignModal(self.label, candidates, current),
                                                               lambda r: r and self._run("assign-other", r, version=version)))

    def _control_under_cursor(self) -> str | None:
        table = self.query_one("#ws-controls", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    @work(thread=True, exclusive=True, group="workspace-action", exit_on_error=False)
    def _run(self, kind: str, request: Any = None, *, version: int) -> None:
        c, rid = self.app.client, self.review_id
        step: StepReport | None = None
        if kind == "assign":
            r = c.assign(rid, expected_version=version)
            summary = f"review {r.id} assigned to you; now {r.gate}/{r.status}"
        elif kind == "decide":
            assert isinstance(request, DecisionRequest)
            out, step = c.decide(rid, request.action, rationale=request.rationale, expected_version=version)
            summary = out.message
        elif kind == "verify":
            assert isinstance(request, VerifyRequest)
            req, step = c.verify(rid, request.control_id, request.verdict, rationale=request.rationale, expected_version=version)
            summary = f"control {req.control_id}: {req.status.lower()}"
        elif kind == "override":
            assert isinstance(request, OverrideRequest)
            r = c.override_grade(rid, request.grade, rationale=request.rationale, expected_version=version)
            summary = override_summary(r, request.grade)
        elif kind == "assign-other":
            r = c.assign(rid, request, expected_version=version)
            summary = f"review {r.id} assigned to {r.assignee}; now {r.gate}/{r.status}"
        elif kind == "waive":
            assert isinstance(request, WaiveRequest)
            req, step = c.waive(rid, request.control_id, rationale=request.rationale)
            summary = f"control {req.control_id}: waived"
        elif kind == "advance":
            r, step = c.advance(rid, expected_version=version)
            summary = f"review {r.id} advanced: now {r.gate}/{r.status}"
        elif kind in ("suspend", "resume", "withdraw"):
            r = c.change_standing(rid, kind, rationale=request, expected_version=version)
            summary = f"review {r.id}: {kind} recorded; now {r.gate}/{r.status}"
        elif kind == "conflict":
            product, reason = request
            c.declare_conflict(product, reason=reason)
            summary = f"conflict of interest on {product} recorded: you are recused"
        else:  # pragma: no cover - programming error
            raise ValueError(kind)
        self.post_message(self.ActionDone(summary, step))

    @on(ActionDone)
    def _done(self, event: ActionDone) -> None:
        self.app.notify(event.summary, title="Recorded", markup=False)
        step = event.step
        if step is not None and step.message:
            self.app.notify(step.message, title=f"Gate step: {step.step}", markup=False,
                            severity="information" if step.ok else ("error" if step.problem == "failed" else "warning"))
        self.app.post_message(messages.ReviewChanged(self.review_id, event.summary))
        self.reload()

    def palette_commands(self) -> list[tuple[str, str, object]]:
        out: list[tuple[str, str, object]] = []
        for action, (key, label) in ACTION_KEYS.items():
            why = self.why_not(action)
            help_text = f"[{key}] on {self.label}" + (f" · not available: {why}" if why else "")
            out.append((f"{label} ({self.label})", help_text, lambda a=action: self.action_act(a)))
        out.append((f"Reload {self.label}", "re-read the review (ctrl+r)", self.reload))
        return out
