"""Spot-check labelling (key 3): pick an audit run, step through its sample, label each item.

Two views on one screen: the list of audit runs (product, counts, verdict so far) and the
labelling view of one run (prompt and output with the filter's matched spans highlighted by
severity, the findings, your label; progress with the pass rate and its Wilson interval).

* ``y`` pass, ``v`` violation (category picker: a letter per category of the run's pack,
  digits 0-7 first for the severity), ``0``-``7`` change the severity of your violation,
  ``j``/``n`` next, ``k``/``p`` previous, ``u`` unlabelled only, ``b`` blind, ``s`` second
  review, ``a`` adjudicate (double review: a third reviewer settles the items the first two
  disagree on, seeing both labels), ``escape`` back to the runs.
* Blind (the default) hides other reviewers' labels and the item's stratum. A second
  review (``s``: labels go in with ``second=True``, for Cohen's kappa) is always blind; it
  is switched on when you open a run someone else has already labelled.
* Every read and every label runs in a thread worker; a refusal (duty, segregation of
  duties, an item already labelled) reaches the app's one error handler as a modal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import ContentSwitcher, DataTable, Footer, Static

from review.errors import Conflict
from tui.format import plain, sanitized, when
from tui.modals.category_picker import CategoryChoice, CategoryPickerModal
from tui.registry import ScreenEntry, register_dashboard_panel, register_screen
from tui.screens.labelling import MODE_ACTIONS, MODE_BINDINGS, LabellingScreen, labelling_conflict
from tui.widgets.dashboard import audit_panel
from tui.widgets.nav import NavBar
from tui.widgets.spotcheck import render

register_screen(ScreenEntry("spot-checks", "3", "Spot checks", "tui.screens.spotchecks:SpotChecksScreen",
                            "label content-audit samples"))
register_dashboard_panel(audit_panel.PANEL)  # the content-audit work's card on the dashboard

RUN_COLUMNS = (("run", "run", 5), ("product", "product", 28), ("status", "status", 9), ("records", "records", 9),
               ("flagged", "flagged", 8), ("sample", "sample", 7), ("labelled", "labelled", 9),
               ("rate", "pass rate (Wilson)", 30), ("verdict", "verdict", 20), ("started", "started", 17))


@dataclass
class RunRow:
    id: int
    product: str
    status: str
    records: int
    flagged: int
    sample: int
    started: Any
    pack_ref: str
    verdict: Any | None


@dataclass
class LabelState:
    """What the labelling view shows: one run's sample (as the service returned it) and where we are."""

    run: RunRow
    items: list[Any] = field(default_factory=list)
    verdict: Any | None = None
    categories: list[tuple[str, str, int]] = field(default_factory=list)
    index: int = 0

    @property
    def current(self) -> Any | None:
        return self.items[self.index] if 0 <= self.index < len(self.items) else None


class SpotChecksScreen(LabellingScreen):
    RUN_COLUMNS = RUN_COLUMNS
    LABEL_ACTIONS = frozenset(MODE_ACTIONS | {"label_pass", "label_violation", "severity"})
    BINDINGS = [
        Binding("escape,backspace", "back", "Runs"),
        Binding("y", "label_pass", "Pass"),
        Binding("v", "label_violation", "Violation"),
        Binding("0", "severity(0)", "Severity", key_display="0-7"),
        *[Binding(str(d), f"severity({d})", f"Severity {d}", show=False) for d in range(1, 8)],
        *MODE_BINDINGS,
        Binding("ctrl+r,r", "reload", "Reload"),
    ]

    @dataclass
    class RunsLoaded(Message):
        rows: list[RunRow]

    @dataclass
    class RunLoaded(Message):
        run: RunRow
        items: list[Any]
        verdict: Any
        categories: list[tuple[str, str, int]]
        others_labelled: bool | None  # someone else labelled items of this run (None: not known)
        keep_seq: int | None

    @dataclass
    class Labelled(Message):
        run_id: int
        item: Any | None
        verdict: Any
        summary: str
        advance: bool

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunRow] = []
        self.state: LabelState | None = None

    # ---- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield NavBar("spot-checks", id="nav")
        with ContentSwitcher(initial="sc-runs", id="sc-switcher"):
            with Vertical(id="sc-runs"):
                yield DataTable(id="sc-run-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="sc-runs-status", classes="status-line")
            with Vertical(id="sc-label"):
                yield Static("", id="sc-header")
                yield Static("", id="sc-progress")
                with VerticalScroll(id="sc-body"):
                    yield Static("Prompt", classes="section-title")
                    yield Static("", id="sc-prompt")
                    yield Static("Output", classes="section-title")
                    yield Static("", id="sc-output")
                    yield Static("Metadata", classes="section-title", id="sc-meta-title")
                    yield Static("", id="sc-meta")
                    yield Static("Filter findings", classes="section-title")
                    yield Static("", id="sc-findings")
                    yield Static("Labels", classes="section-title")
                    yield Static("", id="sc-labels")
        yield Footer()

    AUTO_FOCUS = "#sc-run-table"

    # ---- loading ------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="spotcheck-runs", exit_on_error=False)
    def _load_runs(self) -> None:
        c = self.app.client
        rows = []
        for run, product in c.list_audits(limit=50):
            v = c.audit_verdict(run.id) if run.status == "SCANNED" else None
            rows.append(RunRow(run.id, product, run.status, run.records, run.flagged_records, run.sample_size, run.created_at,
                               str((run.settings or {}).get("pack_ref") or run.pack_id), v))
        self.post_message(self.RunsLoaded(rows))

    @on(RunsLoaded)
    def _runs_loaded(self, event: RunsLoaded) -> None:
        self.runs = event.rows
        table = self.run_table
        keep = table.cursor_row
        table.clear()
        for r in event.rows:
            v = r.verdict
            labelled = f"{v.labelled}/{v.items}" if v is not None else "-"
            table.add_row(str(r.id), plain(r.product, overflow="ellipsis", no_wrap=True), r.status.lower(), f"{r.records:,}",
                          f"{r.flagged:,}", f"{r.sample:,}", labelled, render.rate_text(v), render.verdict_badge(v),
                          when(r.started), key=str(r.id))
        if event.rows:
            table.move_cursor(row=min(keep, len(event.rows) - 1))
        status = (f" {len(event.rows)} audit run(s) · enter: label the highlighted run's sample" if event.rows else
                  " No audit runs yet: start one with `ethics-review audit run FILE --product NAME`")
        self.query_one("#sc-runs-status", Static).update(status)

    @on(DataTable.RowSelected, "#sc-run-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open_run(int(event.row_key.value))

    def open_run(self, run_id: int) -> None:
        """Open ``run_id``'s sample in the labelling view (blind, all items, at the first one)."""
        row = next((r for r in self.runs if r.id == run_id), None)
        if row is None:
            self.app.notify(f"audit run {run_id} is not in the list; reload (r)", severity="warning")
            return
        if row.status != "SCANNED":
            self.app.notify(f"run {run_id} is {row.status}: its sample is drawn when every chunk is scanned "
                            f"(`ethics-review audit resume {run_id}`)", title="No sample yet", severity="warning", markup=False)
            return
        self.state = None
        self.reset_modes()
        self._load_run(row, True, False, True, None)

    @work(thread=True, exclusive=True, group="spotcheck-run", exit_on_error=False)
    def _load_run(self, run: RunRow, blind: bool, unlabelled_only: bool, first: bool, keep_seq: int | None) -> None:
        c = self.app.client
        items = c.sample_items(run.id, blind=blind, unlabelled_only=unlabelled_only)
        v = c.audit_verdict(run.id)
        others = None
        if first and not unlabelled_only:
            others = v.labelled > sum(1 for it in items if it.my_label is not None)
        self.post_message(self.RunLoaded(run, items, v, c.pack_categories(run.pack_ref), others, keep_seq))

    @on(RunLoaded)
    def _run_loaded(self, event: RunLoaded) -> None:
        index = 0
        if event.keep_seq is not None:
            index = next((k for k, it in enumerate(event.items) if it.seq >= event.keep_seq), max(0, len(event.items) - 1))
        self.state = LabelState(event.run, event.items, event.verdict, event.categories, index)
        if event.others_labelled:
            self.second = True  # someone labelled before you: you are the (blind) second reviewer
            self.app.notify("Another reviewer has labelled this run: your labels are a blind second review "
                            "(s switches it off).", title="Second review", markup=False)
        if self.view != "label":
            self._show_view("label")
        self.refresh_bindings()
        self.show_item()

    # ---- rendering -----------------------------------------------------------------------
    def show_item(self) -> None:
        st = self.state
        if st is None:
            return
        it = st.current
        header = Text()
        header.append(f" Run {st.run.id} ", style="bold reverse")
        header.append(f" {st.run.product} ", style="bold")
        self.mode_badges(header)
        if it is not None:
            header.append(f"  item {it.seq} of {st.verdict.items if st.verdict else '?'} · record {it.record_id} · line {it.line}")
            if it.flagged:
                header.append(" · flagged: ", style="dim")
                header.append(", ".join(it.categories), style="bold red")
            else:
                header.append(" · not flagged by the filter", style="dim")
        self.query_one("#sc-header", Static).update(sanitized(header))
        self.query_one("#sc-progress", Static).update(render.progress(st.verdict, shown=len(st.items), position=st.index + 1 if it else 0))
        blind = self.blind or self.second
        if it is None:
            empty = ("Every item of this sample has your label (u shows all items)." if self.unlabelled_only
                     else "This run's sample is empty.")
            for wid, text in (("#sc-prompt", empty), ("#sc-output", ""), ("#sc-meta", ""), ("#sc-findings", ""), ("#sc-labels", "")):
                self.query_one(wid, Static).update(Text(text, style="dim"))
            return
        self.query_one("#sc-prompt", Static).update(render.highlight(it.prompt, render.spans_for(it, "prompt")))
        self.query_one("#sc-output", Static).update(render.highlight(it.output, render.spans_for(it, "output")))
        meta = render.field_text(it, "metadata")
        self.query_one("#sc-meta-title").display = bool(meta)
        meta_widget = self.query_one("#sc-meta", Static)
        meta_widget.display = bool(meta)
        meta_widget.update(render.highlight(meta, render.spans_for(it, "metadata")) if meta else "")
        self.query_one("#sc-findings", Static).update(render.findings(it))
        self.query_one("#sc-labels", Static).update(render.labels(it, blind=blind))
        self.query_one("#sc-body", VerticalScroll).scroll_home(animate=False)

    # ---- actions --------------------------------------------------------------------------
    def action_back(self) -> None:
        self.state = None
        self._show_view("runs")
        self._load_runs()

    def action_label_pass(self) -> None:
        it = self.current_or_warn()
        if it is not None:
            self._save(self.state.run.id, it.seq, "pass", None, None, advance=True)

    def action_label_violation(self) -> None:
        it = self.current_or_warn()
        if it is None or self.state is None:
            return
        if not self.state.categories:
            self.app.notify("the run's policy pack has no content categories", severity="error")
            return
        run_id, seq = self.state.run.id, it.seq
        mine = it.my_label
        severity = mine.severity if mine is not None and mine.verdict == "violation" else None

        def chosen(choice: CategoryChoice | None) -> None:
            if choice is not None:
                self._save(run_id, seq, "violation", choice.category, choice.severity, advance=False)

        self.app.push_screen(CategoryPickerModal(f"item {seq}", self.state.categories, severity=severity), chosen)

    def action_severity(self, severity: int) -> None:
        it = self.current_or_warn()
        if it is None or self.state is None:
            return
        mine = it.my_label
        if mine is None or mine.verdict != "violation":
            self.app.notify(f"severity {severity}: label item {it.seq} a violation first (v), then set its severity",
                            title="Not a violation", severity="warning", markup=False)
            return
        self._save(self.state.run.id, it.seq, "violation", mine.category, severity, advance=False)

    # ---- writing ----------------------------------------------------------------------------
    def _save(self, run_id: int, seq: int, verdict: str, category: str | None, severity: int | None, *, advance: bool) -> None:
        self._write_label(run_id, seq, verdict, category, severity, (self.second, self.adjudicate), self.blind or self.second, advance)

    @work(thread=True, group="spotcheck-label", exit_on_error=False)
    def _write_label(self, run_id: int, seq: int, verdict: str, category: str | None, severity: int | None, mode: tuple[bool, bool],
                     blind: bool, advance: bool) -> None:
        c = self.app.client
        second, adjudicate = mode
        try:
            label = c.label_item(run_id, seq, verdict, category=category, severity=severity, second=second, adjudicate=adjudicate)
        except Conflict as exc:
            raise labelling_conflict(exc) from None
        fresh = c.sample_items(run_id, blind=blind, offset=seq - 1, limit=1)
        item = fresh[0] if fresh and fresh[0].seq == seq else None
        summary = f"item {seq}: {label.verdict}" + (f" {label.category} severity {label.severity}" if label.verdict == "violation" else "")
        summary += {2: " (second review)", 3: " (adjudication)"}.get(label.round, "")
        self.post_message(self.Labelled(run_id, item, c.audit_verdict(run_id), summary, advance))

    @on(Labelled)
    def _labelled(self, event: Labelled) -> None:
        st = self.state
        if st is None or st.run.id != event.run_id:
            return
        st.verdict = event.verdict
        if event.item is not None:
            for k, it in enumerate(st.items):
                if it.seq == event.item.seq:
                    st.items[k] = event.item
                    if event.advance and k == st.index and st.index < len(st.items) - 1:
                        st.index += 1
                    break
        self.app.notify(event.summary, title="Labelled", timeout=2, markup=False)
        self.show_item()

    def palette_commands(self) -> list[tuple[str, str, object]]:
        out: list[tuple[str, str, object]] = []
        if self.view == "label" and self.state is not None:
            out += [
                ("Spot checks: back to the audit runs", "escape", self.action_back),
                *self.mode_commands("Spot checks"),
            ]
        else:
            out += [(f"Label audit run {r.id} ({r.product})", f"{r.status.lower()}, sample {r.sample}", lambda rid=r.id: self.open_run(rid))
                    for r in self.runs[:20]]
        out.append(("Spot checks: reload", "re-read runs and labels (ctrl+r)", self.reload))
        return out
