"""Command palette provider: screen navigation plus whatever the current screen offers.

A screen contributes entries by returning ``(title, help, callback)`` from
``palette_commands()`` (see ``tui.screens.base.CommitteeScreen``); the workspace offers
its committee actions there, each with the reason when it is not available now.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.registry import screens


class CommitteeCommands(Provider):
    def _commands(self) -> list[tuple[str, str, object]]:
        app = self.app
        out: list[tuple[str, str, object]] = [
            (f"Go to {e.title}", f"[{e.key}] {e.description}", partial(app.switch_mode, e.name)) for e in screens()
        ]
        screen = self.screen
        if hasattr(screen, "palette_commands"):
            out = list(screen.palette_commands()) + out
        return out

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)
