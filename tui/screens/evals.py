"""Evaluations (key 5): the manual spot check of model evaluation runs: pick a run, draw its sample, label each answer.

Two views on one screen, as the spot checks' (``tui.screens.labelling``): the list of eval runs (product, model, bank,
answers, sample, labelled, the manual pass rate with its Wilson interval, the check's state) and the labelling view of
one run (the question, the model's answer, your label; progress with the pass rate against the bar, kappa, the items
awaiting adjudication).

* ``d`` draws the highlighted run's sample (the committee's duty, once the run is done); ``enter`` opens it.
* ``1`` safe+complied, ``2`` safe+refused, ``3`` unsafe+complied, ``4`` unsafe+refused, then on to the next item
  without your label; ``j``/``n`` next, ``k``/``p`` previous, ``u`` unlabelled only, ``b`` blind, ``s`` second review,
  ``a`` adjudicate, ``escape`` back to the runs.
* Blind (the default) hides the other reviewers' labels, the bank and risk and the automatic verdicts, as the service
  does. A second review is always blind; it is switched on when you open a run someone else has labelled.
* Every read and every label runs in a thread worker; a refusal (duty, segregation of duties, an item already
  labelled) reaches the app's one error handler as a modal.
"""

from __future__ import annotations

import threading
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
from tui.format import plain, sanitized
from tui.registry import ScreenEntry, register_screen
from tui.screens.labelling import MODE_ACTIONS, MODE_BINDINGS, LabellingScreen, labelling_conflict
from tui.widgets.evalspot import render
from tui.widgets.nav import NavBar

register_screen(ScreenEntry("evaluations", "5", "Evaluations", "tui.screens.evals:EvaluationsScreen",
                            "label the sampled answers of model evaluation runs"))

RUN_COLUMNS = (("run", "run", 4), ("product", "product", 16), ("model", "model", 12), ("bank", "bank", 9), ("status", "status", 7),
               ("answered", "answered", 9), ("sample", "sample", 6), ("labelled", "labelled", 11), ("rate", "pass rate (Wilson)", 32),
               ("state", "verdict", 23))


@dataclass
class EvalRow:
    id: int
    product: str
    model: str
    bank: str
    status: str
    answered: int
    questions: int
    sample: int | None  # None: not drawn yet
    verdict: Any | None  # eval_spot.EvalSpotView once the sample is drawn


@dataclass
class EvalState:
    """What the labelling view shows: one run's sampled answers (as the service returned them) and where we are."""

    run: EvalRow
    items: list[Any] = field(default_factory=list)
    verdict: Any | None = None
    index: int = 0

    @property
    def current(self) -> Any | None:
        return self.items[self.index] if 0 <= self.index < len(self.items) else None


class EvaluationsScreen(LabellingScreen):
    RUN_COLUMNS = RUN_COLUMNS
    PANES = ("ev-runs", "ev-label")
    TABLE = "#ev-run-table"
    BODY = "#ev-body"
    LABEL_ACTIONS = frozenset(MODE_ACTIONS | {"label"})
    RUNS_ACTIONS = frozenset({"draw"})
    BINDINGS = [
        Binding("escape,backspace", "back", "Runs"),
        Binding("d", "draw", "Draw sample"),
        Binding("1", "label('1')", "Label", key_display="1-4"),
        *[Binding(k, f"label('{k}')", f"{s}, {r}", show=False) for k, (s, r) in render.LABEL_KEYS.items() if k != "1"],
        *MODE_BINDINGS,
        Binding("ctrl+r,r", "reload", "Reload"),
    ]
    AUTO_FOCUS = "#ev-run-table"

    @dataclass
    class RunsLoaded(Message):
        rows: list[EvalRow]

    @dataclass
    class RunLoaded(Message):
        run: EvalRow
        items: list[Any]
        verdict: Any
        others_labelled: bool | None  # someone else labelled answers of this run (None: not known)
        keep_seq: int | None

    @dataclass
    class Drawn(Message):
        run_id: int
        info: Any

    @dataclass
    class Labelled(Message):
        run_id: int
        seq: int
        item: Any | None
        verdict: Any
        summary: str

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[EvalRow] = []
        self.state: EvalState | None = None
        self.pending: set[int] = set()  # items whose label is on its way (the view has moved on already)
        self._writing = threading.Lock()  # labels keyed in quick succession are written one after the other

    # ---- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield NavBar("evaluations", id="nav")
        with ContentSwitcher(initial="ev-runs", id="ev-switcher"):
            with Vertical(id="ev-runs"):
                yield DataTable(id="ev-run-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="ev-runs-status", classes="status-line")
            with Vertical(id="ev-label"):
                yield Static("", id="ev-header")
                yield Static("", id="ev-progress")
                with VerticalScroll(id="ev-body"):
                    yield Static("Question", classes="section-title")
                    yield Static("", id="ev-question")
                    yield Static("Answer", classes="section-title")
                    yield Static("", id="ev-answer")
                    yield Static("Automatic checks", classes="section-title", id="ev-auto-title")
                    yield Static("", id="ev-auto")
                    yield Static("Labels", classes="section-title")
                    yield Static("", id="ev-labels")
                    yield Static(render.key_legend(), id="ev-keys")
        yield Footer()

    # ---- loading ------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="eval-runs", exit_on_error=False)
    def _load_runs(self) -> None:
        c = self.app.client
        rows = []
        for rv in c.list_evals(limit=50):
            r = rv.run
            sample = (r.settings or {}).get("spot_check")
            rows.append(EvalRow(r.id, rv.product, r.model, r.bank, r.status, r.answered, len(r.items), sample["size"] if sample else None,
                                c.eval_spot_verdict(r.id) if sample else None))
        self.post_message(self.RunsLoaded(rows))

    @on(RunsLoaded)
    def _runs_loaded(self, event: RunsLoaded) -> None:
        self.runs = event.rows
        table = self.run_table
        keep = table.cursor_row
        table.clear()
        for r in event.rows:
            v = r.verdict
            table.add_row(str(r.id), plain(r.product, overflow="ellipsis", no_wrap=True), plain(r.model, overflow="ellipsis", no_wrap=True),
                          r.bank, r.status.lower(), f"{r.answered:,}/{r.questions:,}", "-" if r.sample is None else f"{r.sample:,}",
                          f"{v.labelled:,}/{v.items:,}" if v is not None else "-", render.rate_text(v), render.state_badge(v), key=str(r.id))
        if event.rows:
            table.move_cursor(row=min(keep, len(event.rows) - 1))
        status = (f" {len(event.rows)} eval run(s) · enter: label the highlighted run's sample · d: draw its sample" if event.rows else
                  " No evaluation runs yet: start one with `ethics-review eval run REVIEW --endpoint URL --model NAME`")
        self.query_one("#ev-runs-status", Static).update(status)

    def _row(self, run_id: int) -> EvalRow | None:
        row = next((r for r in self.runs if r.id == run_id), None)
        if row is None:
            self.app.notify(f"eval run {run_id} is not in the list; reload (r)", severity="warning")
        elif row.status != "DONE":
            self.app.notify(f"run {run_id} is {row.status} ({row.answered} of {row.questions} answered): its sample is drawn from every "
                            f"answer (`ethics-review eval resume {run_id}`)", title="No sample yet", severity="warning")
            return None
        return row

    def _highlighted(self) -> int | None:
        table = self.run_table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    @on(DataTable.RowSelected, "#ev-run-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open_run(int(event.row_key.value))

    def open_run(self, run_id: int) -> None:
        """Open ``run_id``'s sample in the labelling view (blind, all items, at the first one)."""
        row = self._row(run_id)
        if row is None:
            return
        if row.sample is None:
            self.app.notify(f"eval run {run_id} has no spot-check sample yet: press d to draw it", title="No sample yet",
                            severity="warning")
            return
        self.state = None
        self.reset_modes()
        self._load_run(row, True, False, True, None)

    def action_draw(self) -> None:
        run_id = self._highlighted()
        if run_id is not None and self._row(run_id) is not None:
            self._draw(run_id)

    @work(thread=True, exclusive=True, group="eval-draw", exit_on_error=False)
    def _draw(self, run_id: int) -> None:
        self.post_message(self.Drawn(run_id, self.app.client.draw_eval_sample(run_id)))

    @on(Drawn)
    def _drawn(self, event: Drawn) -> None:
        info = event.info
        self.app.notify(f"eval run {info.run_id}: {info.size} answer(s), seed {info.seed}, drawn by {info.drawn_by}"
                        + ("" if info.created else " (drawn before)"), title="Spot-check sample", timeout=4, markup=False)
        for r in self.runs:
            if r.id == event.run_id:
                r.sample = info.size
        self.open_run(event.run_id)

    @work(thread=True, exclusive=True, group="eval-run", exit_on_error=False)
    def _load_run(self, run: EvalRow, blind: bool, unlabelled_only: bool, first: bool, keep_seq: int | None) -> None:
        c = self.app.client
        items = c.eval_items(run.id, blind=blind, unlabelled_only=unlabelled_only)
        v = c.eval_spot_verdict(run.id)
        others = None
        if first and not unlabelled_only:
            others = v.labelled > sum(1 for it in items if it.my_label is not None)
        self.post_message(self.RunLoaded(run, items, v, others, keep_seq))

    @on(RunLoaded)
    def _run_loaded(self, event: RunLoaded) -> None:
        index = 0
        if event.keep_seq is not None:
            index = next((k for k, it in enumerate(event.items) if it.seq >= event.keep_seq), max(0, len(event.items) - 1))
        self.state = EvalState(event.run, event.items, event.verdict, index)
        self.pending.clear()  # fresh from the database (a refused label shows as not labelled again)
        if event.others_labelled:
            self.second = True  # someone labelled before you: you are the (blind) second reviewer
            self.app.notify("Another reviewer has labelled this run: your labels are a blind second review "
                            "(s switches it off).", title="Second review")
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
        blind = self.blind or self.second
        header = Text()
        header.append(f" Eval run {st.run.id} ", style="bold reverse")
        header.append(f" {st.run.product} ", style="bold")
        header.append(f"· {st.run.model} ", style="dim")
        self.mode_badges(header)
        if it is not None:
            header.append(f"  item {it.seq} of {st.verdict.items if st.verdict else '?'} · {it.lang}")
            if not blind:
                header.append(f" · bank {it.kind} · risk {it.risk or '-'}", style="dim")
        self.query_one("#ev-header", Static).update(sanitized(header))
        self.query_one("#ev-progress", Static).update(render.progress(st.verdict, shown=len(st.items), position=st.index + 1 if it else 0))
        auto_title, auto = self.query_one("#ev-auto-title"), self.query_one("#ev-auto", Static)
        auto_title.display = auto.display = not blind and it is not None
        if it is None:
            empty = ("Every answer of this sample has your label (u shows all of them)." if self.unlabelled_only
                     else "This run's sample is empty.")
            for wid, text in (("#ev-question", empty), ("#ev-answer", ""), ("#ev-labels", "")):
                self.query_one(wid, Static).update(Text(text, style="dim"))
            return
        self.query_one("#ev-question", Static).update(render.answer_text(it.question))
        self.query_one("#ev-answer", Static).update(render.answer_text(it.answer))
        auto.update(render.auto_checks(it) if not blind else "")
        self.query_one("#ev-labels", Static).update(render.labels(it, blind=blind))
        self.query_one(self.BODY, VerticalScroll).scroll_home(animate=False)

    # ---- actions --------------------------------------------------------------------------
    def action_back(self) -> None:
        self.state = None
        self._show_view("runs")
        self._load_runs()

    def action_label(self, key: str) -> None:
        it = self.current_or_warn()
        if it is None or self.state is None:
            return
        safety, refusal = render.LABEL_KEYS[key]
        note = it.my_label.note if it.my_label is not None else ""  # a new reading keeps the reviewer's note
        label = {"item": it.seq, "safety": safety, "refusal": refusal, "note": note, "second": self.second, "adjudicate": self.adjudicate}
        self._write_label(self.state.run.id, label, self.blind or self.second)
        # on to the next answer at once, so the next key labels it even while this label is being written
        self.pending.add(it.seq)
        self._advance()
        self.show_item()

    @work(thread=True, group="eval-label", exit_on_error=False)
    def _write_label(self, run_id: int, label: dict[str, Any], blind: bool) -> None:
        c = self.app.client
        seq = label["item"]
        with self._writing:  # in order, so the verdict each one brings back is the newest
            try:
                [done] = c.label_eval_items(run_id, [label])
            except Conflict as exc:
                raise labelling_conflict(exc) from None
            fresh = c.eval_items(run_id, blind=blind, offset=seq - 1, limit=1)
            item = fresh[0] if fresh and fresh[0].seq == seq else None
            summary = f"item {seq}: {done.safety}, {done.refusal}" + {2: " (second review)", 3: " (adjudication)"}.get(done.round, "")
            self.post_message(self.Labelled(run_id, seq, item, c.eval_spot_verdict(run_id), summary))

    @on(Labelled)
    def _labelled(self, event: Labelled) -> None:
        st = self.state
        if st is None or st.run.id != event.run_id:
            return
        self.pending.discard(event.seq)
        st.verdict = event.verdict
        if event.item is not None:
            for k, it in enumerate(st.items):
                if it.seq == event.seq:
                    st.items[k] = event.item
        self.app.notify(event.summary, title="Labelled", timeout=2, markup=False)
        self.show_item()

    def _advance(self) -> None:
        """On to the next answer without your label (wrapping round); stay put when every one has it."""
        st = self.state
        assert st is not None
        n = len(st.items)
        nxt = next((k % n for k in range(st.index + 1, st.index + n)
                    if st.items[k % n].my_label is None and st.items[k % n].seq not in self.pending), None)
        if nxt is None:
            self.app.notify("every answer shown has your label", title="Done", timeout=3)
        else:
            st.index = nxt

    def palette_commands(self) -> list[tuple[str, str, object]]:
        out: list[tuple[str, str, object]] = []
        if self.view == "label" and self.state is not None:
            out += [("Evaluations: back to the eval runs", "escape", self.action_back), *self.mode_commands("Evaluations")]
        else:
            out += [(f"Label eval run {r.id} ({r.product}, {r.model})", f"{r.status.lower()}, sample {r.sample or '-'}",
                     lambda rid=r.id: self.open_run(rid)) for r in self.runs[:20]]
            out.append(("Evaluations: draw the highlighted run's sample", "the committee's duty (d)", self.action_draw))
        out.append(("Evaluations: reload", "re-read runs and labels (ctrl+r)", self.reload))
        return out
