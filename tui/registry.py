"""Extension points: the top-level screens (one Textual *mode* each) and dashboard panels.

Built-in screens are registered in ``tui.screens``. A later screen (spot-check labelling,
follow-ups) adds itself with one call, at import time of its module::

    from tui.registry import ScreenEntry, register_screen
    register_screen(ScreenEntry("follow-ups", "4", "Follow-ups", "tui.screens.followups:FollowupsScreen",
                                "post-release follow-up checks"))

and lists its module in ``tui.screens.EXTRA_SCREEN_MODULES``. The app then gets a mode,
a key binding (``key``), a command-palette entry "Go to <title>", and a tab in the nav bar.
Keys ``3`` (spot-checks) and ``4`` (follow-ups) are reserved for that work.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

RESERVED_KEYS = {"3": "spot-checks", "4": "follow-ups"}


@dataclass(frozen=True)
class ScreenEntry:
    name: str  # the Textual mode name
    key: str  # the global key that switches to it
    title: str
    target: str  # "module:ScreenClass" (imported lazily, when first shown)
    description: str = ""

    def factory(self) -> Callable[[], Any]:
        def make() -> Any:
            module, _, cls = self.target.partition(":")
            return getattr(importlib.import_module(module), cls)()

        return make


_SCREENS: dict[str, ScreenEntry] = {}


def register_screen(entry: ScreenEntry) -> None:
    """Add a top-level screen. Raises ``ValueError`` if its name or key is taken."""
    for other in _SCREENS.values():
        if other.name != entry.name and other.key == entry.key:
            raise ValueError(f"screen key {entry.key!r} of {entry.name!r} is already used by {other.name!r}")
    reserved = RESERVED_KEYS.get(entry.key)
    if reserved and reserved != entry.name:
        raise ValueError(f"screen key {entry.key!r} is reserved for {reserved!r}")
    _SCREENS[entry.name] = entry


def screens() -> list[ScreenEntry]:
    return sorted(_SCREENS.values(), key=lambda e: e.key)


# ---- dashboard panels --------------------------------------------------------------------
@dataclass(frozen=True)
class DashboardPanel:
    """A dashboard card: ``load(client)`` runs in a worker thread, ``render(data, width)`` returns a Rich renderable."""

    id: str
    title: str
    load: Callable[[Any], Any]
    render: Callable[[Any, int], Any]


_PANELS: dict[str, DashboardPanel] = {}


def register_dashboard_panel(panel: DashboardPanel) -> None:
    _PANELS[panel.id] = panel


def dashboard_panels() -> list[DashboardPanel]:
    return list(_PANELS.values())
