"""What every committee screen shares: worker failures go to the app's one error handler."""

from __future__ import annotations

from textual import on
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from tui import messages


class CommitteeScreen(Screen):
    """Base screen. ``reload()`` re-reads the screen's data (after a conflict, a change, ``ctrl+r``)."""

    def reload(self) -> None:  # pragma: no cover - overridden
        """Re-read this screen's data from the database (in a worker)."""

    def palette_commands(self) -> list[tuple[str, str, object]]:
        """(title, help, callback) entries this screen adds to the command palette."""
        return []

    @on(Worker.StateChanged)
    def _forward_failure(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: forward failures to the app, which owns the modal.
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.app.post_message(messages.WorkerFailed(event.worker.error, event.worker.name, self))
