"""The top bar: the registered screens with their keys, the current one highlighted, and who is acting.

When the terminal is too narrow for every title (80 columns hold four), only the current screen keeps its title:
the others show their keys, so who is acting stays in view."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from tui.registry import screens


class NavBar(Static):
    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.current = current

    def bar(self, width: int | None = None) -> Text:
        """The bar's text; compact (titles of the other screens left out) when the full one is wider than ``width``."""
        full = self._bar(compact=False)
        return full if width is None or full.cell_len <= width else self._bar(compact=True)

    def _bar(self, *, compact: bool) -> Text:
        t = Text()
        t.append(" Ethics review ", style="bold reverse")
        for e in screens():
            current = e.name == self.current
            t.append(f"  {e.key} " if not compact or current else f"  {e.key}", style="bold")
            if current or not compact:
                t.append(e.title, style="bold underline" if current else "dim")
        actor = getattr(self.app, "actor", "?")
        t.append(f"   as {actor}", style="italic")
        return t

    def on_mount(self) -> None:
        self.update(self.bar(self.app.size.width))

    def on_resize(self, event: Any) -> None:
        self.update(self.bar(event.size.width))
