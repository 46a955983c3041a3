"""The built-in top-level screens, registered in ``tui.registry``.

Later screens (spot-check labelling: key 3, follow-ups: key 4, evaluations: key 5) register themselves in their
own module and add that module to ``EXTRA_SCREEN_MODULES``; nothing else needs to change.
"""

from __future__ import annotations

import importlib

from tui.registry import ScreenEntry, register_screen

register_screen(ScreenEntry("queue", "1", "Queue", "tui.screens.queue:QueueScreen", "reviews waiting for the committee"))
register_screen(ScreenEntry("dashboard", "2", "Dashboard", "tui.screens.dashboard:DashboardScreen", "grades, gates, overdue"))

#: Modules that register more screens when imported (e.g. "tui.screens.followups").
EXTRA_SCREEN_MODULES: list[str] = ["tui.screens.spotchecks", "tui.screens.followups", "tui.screens.evals"]


def load_extra_screens() -> None:
    for name in EXTRA_SCREEN_MODULES:
        importlib.import_module(name)
