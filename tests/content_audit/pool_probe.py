"""Run in a scanning process by the tests: what that process has imported (this module imports nothing more)."""

from __future__ import annotations

import sys
from typing import Any


def imported(*roots: str) -> list[str]:
    """The modules under ``roots`` loaded in this process."""
    return sorted(m for m in sys.modules if m.split(".")[0] in roots)


def deaf_forever(ready: Any) -> None:
    """A process that ignores SIGTERM and never ends (``ready`` set once it does): what a pool's manager thread meets
    when a process was spawned after it terminated the others (the race ``ScanPool.shutdown`` covers)."""
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.set()
    while True:
        time.sleep(60)


def nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds
