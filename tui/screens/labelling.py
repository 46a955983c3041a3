"""What the two labelling screens share (spot checks, key 3; evaluations, key 5): a list of runs and a labelling
view of one run's sample, on one screen, with the audit's review modes and moving through the items.

* The modes: blind (the default: other reviewers' labels and the item's stratum hidden), a second review (always
  blind; labels go in with ``second=True``), adjudication (a third reviewer settles what the first two disagree on,
  seeing both), unlabelled only. Toggling one re-reads the sample (``reload``) in the subclass's worker.
* A subclass composes a ``ContentSwitcher`` with the panes ``PANES`` (runs, label), the run table ``TABLE`` and the
  labelling view's scroll body ``BODY``; its ``state`` has ``items``, ``index``, ``current`` and ``verdict``
  (with ``awaiting_adjudication``); it implements the workers ``_load_runs()`` and ``_load_run(...)`` and
  ``show_item()`` (``reload`` and the run table's columns, ``RUN_COLUMNS``, are here).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import ContentSwitcher, DataTable

from review.errors import Conflict
from tui.screens.base import CommitteeScreen

#: next/previous and the review modes, as both labelling views bind them
MODE_BINDINGS = [
    Binding("j,n", "move(1)", "Next"),
    Binding("k,p", "move(-1)", "Prev"),
    Binding("u", "toggle_unlabelled", "Unlabelled"),
    Binding("b", "toggle_blind", "Blind"),
    Binding("s", "toggle_second", "2nd review"),
    Binding("a", "toggle_adjudicate", "Adjudicate"),
]
MODE_ACTIONS = {"back", "move", "toggle_unlabelled", "toggle_blind", "toggle_second", "toggle_adjudicate"}


def labelling_conflict(exc: Conflict) -> Conflict:
    """The service's refusal of a label, with the CLI's flags replaced by this screen's keys."""
    hint = (" (press s in this screen for a blind second review)" if "--second" in exc.message else
            " (press a in this screen to adjudicate)" if "--adjudicate" in exc.message else "")
    return Conflict(exc.message.replace("pass --second", "label it as a second review").replace("with --adjudicate", "by adjudicating")
                    + hint)


class LabellingScreen(CommitteeScreen):
    """The runs / labelling views and the review modes (see the module's docstring)."""

    PANES = ("sc-runs", "sc-label")
    TABLE = "#sc-run-table"
    BODY = "#sc-body"
    #: actions that only make sense in the labelling view (hidden from the footer elsewhere)
    LABEL_ACTIONS: frozenset[str] = frozenset(MODE_ACTIONS)
    #: actions that only make sense in the list of runs
    RUNS_ACTIONS: frozenset[str] = frozenset()
    #: the run table's columns: (key, label, width)
    RUN_COLUMNS: tuple[tuple[str, str, int], ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.view = "runs"
        self.state: Any | None = None
        self.blind = True
        self.second = False
        self.adjudicate = False
        self.unlabelled_only = False

    def show_item(self) -> None:  # pragma: no cover - overridden
        """Paint the current item of ``state``."""

    def _load_runs(self) -> None:  # pragma: no cover - overridden (a thread worker)
        """Read the runs; post them to the screen."""

    def _load_run(self, run: Any, blind: bool, unlabelled_only: bool, first: bool, keep_seq: int | None) -> None:  # pragma: no cover
        """Read ``run``'s sample in these modes (a thread worker); ``keep_seq``: the item to stay on."""

    def on_mount(self) -> None:
        for key, label, width in self.RUN_COLUMNS:
            self.run_table.add_column(label, key=key, width=width)
        self.reload()

    def on_screen_resume(self) -> None:
        if self.is_mounted and self.view == "runs":
            self.reload()

    def reload(self) -> None:
        """The labelling view's sample again, on the same item (modes changed, a label refused); else the runs."""
        if self.view == "label" and self.state is not None:
            cur = self.state.current
            self._load_run(self.state.run, self.blind or self.second, self.unlabelled_only, False, cur.seq if cur else None)
        else:
            self._load_runs()

    @property
    def run_table(self) -> DataTable:
        return self.query_one(self.TABLE, DataTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.LABEL_ACTIONS:
            return self.view == "label" and self.state is not None
        if action in self.RUNS_ACTIONS:
            return self.view == "runs"
        return True

    def _show_view(self, view: str) -> None:
        self.view = view
        self.query_one(ContentSwitcher).current = self.PANES[1] if view == "label" else self.PANES[0]
        (self.query_one(self.BODY) if view == "label" else self.run_table).focus()
        self.refresh_bindings()

    def reset_modes(self) -> None:
        """A run just opened: blind, first round, every item."""
        self.blind, self.second, self.adjudicate, self.unlabelled_only = True, False, False, False

    def mode_badges(self, header: Text) -> None:
        """Append the modes that are on to ``header``."""
        for on_, label, style in ((self.blind or self.second, "blind", "black on cyan"), (self.second, "second review", "black on magenta"),
                                  (self.adjudicate, "adjudication", "black on green"),
                                  (self.unlabelled_only, "unlabelled only", "black on yellow")):
            if on_:
                header.append(" ")
                header.append(f" {label} ", style=style)

    def mode_commands(self, prefix: str) -> list[tuple[str, str, object]]:
        """The labelling view's entries in the command palette."""
        return [
            (f"{prefix}: only unlabelled items" + (" (on)" if self.unlabelled_only else ""), "toggle (u)", self.action_toggle_unlabelled),
            (f"{prefix}: blind" + (" (on)" if self.blind or self.second else " (off)"), "hide or show other reviewers' labels (b)",
             self.action_toggle_blind),
            (f"{prefix}: second review" + (" (on)" if self.second else " (off)"), "label as a blind second reviewer (s)",
             self.action_toggle_second),
            (f"{prefix}: adjudicate" + (" (on)" if self.adjudicate else " (off)"), "settle the first two reviews' disagreements (a)",
             self.action_toggle_adjudicate),
        ]

    # ---- actions ------------------------------------------------------------------------------
    def action_move(self, delta: int) -> None:
        st = self.state
        if st is None or not st.items:
            return
        new = max(0, min(len(st.items) - 1, st.index + delta))
        if new == st.index:
            self.app.notify("first item of the sample" if delta < 0 else "last item of the sample", timeout=2)
        st.index = new
        self.show_item()

    def current_or_warn(self) -> Any | None:
        it = self.state.current if self.state else None
        if it is None:
            self.app.notify("no item to label here", severity="warning")
        return it

    def action_toggle_unlabelled(self) -> None:
        self.unlabelled_only = not self.unlabelled_only
        self.reload()

    def action_toggle_blind(self) -> None:
        if self.second:
            self.app.notify("a second review is blind: switch the second review off (s) to see other reviewers' labels",
                            title="Blind", severity="warning", markup=False)
            return
        self.blind = not self.blind
        self.reload()

    def action_toggle_second(self) -> None:
        self.second = not self.second
        if self.second:
            self.blind, self.adjudicate = True, False
        self.app.notify("your next labels are a blind second review" if self.second else "your next labels are first-round labels",
                        title="Second review " + ("on" if self.second else "off"), markup=False, timeout=3)
        self.reload()

    def action_toggle_adjudicate(self) -> None:
        """Settle the items the first two reviewers disagree on (you see both labels; not blind)."""
        self.adjudicate = not self.adjudicate
        if self.adjudicate:
            self.second, self.blind = False, False
            waiting = self.state.verdict.awaiting_adjudication if self.state and self.state.verdict else []
            note = f"items waiting: {', '.join(map(str, waiting[:12]))}" if waiting else "no disagreement waits for a third reviewer now"
        else:
            self.blind, note = True, "your next labels are first-round labels"
        self.app.notify(note, title="Adjudication " + ("on" if self.adjudicate else "off"), markup=False, timeout=4)
        self.reload()

    def action_reload(self) -> None:
        self.reload()
