"""The committee's terminal UI: ``EthicsReviewApp(client, actor)``.

* ``client`` is a ``review.client.Client``: local (direct mode) or remote (the review
  server, acting as the person whose token it holds). The screens call only the client,
  so the TUI runs the same against a database file or a team server. A ``Database`` is
  accepted too and wrapped in a local client (single-user mode, and the tests).

* Top-level screens come from ``tui.registry`` (one Textual mode each, key 1, 2, ...).
* Every database call runs in a thread worker on a screen; a failure reaches
  ``on_worker_failed`` (the one error handler): a conflict is explained and the screen
  reloaded, any other error is shown in a modal.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from review.client import Client
from review.text import visible
from review.errors import Conflict, Forbidden, GateBlocked, IllegalTransition, InvalidInput, NotAuthenticated, NotFound, ReviewError, Unavailable
from tui import messages
from tui.commands import CommitteeCommands
from tui.modals import ConflictModal, ErrorModal
from tui.registry import screens
from tui.screens import load_extra_screens

ERROR_TITLES: dict[type, str] = {
    Forbidden: "Not allowed", GateBlocked: "Blocked by a gate rule", IllegalTransition: "Not possible in this state",
    InvalidInput: "Please check the input", NotFound: "Not found", NotAuthenticated: "Not signed in",
    Unavailable: "Review server unavailable",
}


class EthicsReviewApp(App):
    """``clock`` returns the aware UTC "now" used for SLA text (tests freeze it)."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "Ethics review"
    COMMANDS = App.COMMANDS | {CommitteeCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Keys", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, client: Any, actor: str | None = None, *, clock: Callable[[], datetime] | None = None, start: str = "queue") -> None:
        load_extra_screens()
        super().__init__()
        if not isinstance(client, Client):  # a Database: direct mode as ``actor``
            from review.client.local import LocalClient

            client = LocalClient(client, actor)
        self.client: Client = client
        self.actor: str = actor or client.whoami().username
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.start_mode = start
        for entry in screens():
            self.add_mode(entry.name, entry.factory())
            self.bind(entry.key, f"switch_mode('{entry.name}')", description=entry.title, show=True)

    def now(self) -> datetime:
        return self.clock()

    def notify(self, message: str, *, title: str = "", **kw: Any) -> None:  # type: ignore[override]
        """Toasts carry untrusted text (product names, messages from the server): never markup, controls made visible."""
        kw["markup"] = False
        super().notify(visible(message), title=visible(title), **kw)

    def on_resize(self, event: Any) -> None:
        """A short terminal (24 lines) keeps the panes in view: the "why not" list shrinks to 2 scrollable lines."""
        self.set_class(event.size.height < 32, "-short")

    def on_mount(self) -> None:
        self.set_class(self.size.height < 32, "-short")
        where = getattr(self.client, "url", None)
        self.sub_title = f"as {self.actor}" + (f" on {where}" if where else "")
        self.switch_mode(self.start_mode)

    # ---- navigation ---------------------------------------------------------------------
    @on(messages.OpenReview)
    def open_review(self, message: messages.OpenReview) -> None:
        from tui.screens.workspace import ReviewWorkspace

        self.push_screen(ReviewWorkspace(message.review_id))

    @on(messages.ReviewChanged)
    def review_changed(self, message: messages.ReviewChanged) -> None:
        # Every screen under the workspace (the queue) re-reads its rows.
        for screen in self.screen_stack[:-1]:
            if hasattr(screen, "reload"):
                screen.reload()

    def action_help(self) -> None:
        self.action_show_help_panel()

    # ---- the one error handler ------------------------------------------------------------
    @on(Worker.StateChanged)
    def _app_worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.post_message(messages.WorkerFailed(event.worker.error, event.worker.name, None))

    @on(messages.WorkerFailed)
    def on_worker_failed(self, message: messages.WorkerFailed) -> None:
        err, origin = message.error, message.origin

        def reload_origin(_: Any = None) -> None:
            if origin is not None and origin.is_attached and hasattr(origin, "reload"):
                origin.reload()

        if isinstance(err, Conflict):
            self.push_screen(ConflictModal(err.message))
            reload_origin()
        elif isinstance(err, ReviewError):
            title = next((t for cls, t in ERROR_TITLES.items() if isinstance(err, cls)), "Refused")
            self.push_screen(ErrorModal(title, err.message), reload_origin)
        else:
            self.log.error(f"worker {message.worker_name} failed: {err!r}")
            self.push_screen(ErrorModal("Unexpected error", f"{type(err).__name__}: {err}\n\n(in {message.worker_name or 'a background task'})"))
