"""The top bar: the registered screens with their keys, the current one highlighted, and who is acting."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.registry import screens


class NavBar(Static):
    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.current = current

    def on_mount(self) -> None:
        t = Text()
        t.append(" Ethics review ", style="bold reverse")
        for e in screens():
            style = "bold underline" if e.name == self.current else "dim"
            t.append(f"  {e.key} ", style="bold")
            t.append(e.title, style=style)
        actor = getattr(self.app, "actor", "?")
        t.append(f"   as {actor}", style="italic")
        self.update(t)
