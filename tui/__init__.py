"""The Textual terminal UI for the ethics committee (it calls review.services)."""

from __future__ import annotations

from typing import Any

__all__ = ["EthicsReviewApp"]


def __getattr__(name: str) -> Any:
    # Lazy: `import tui.registry` (for extensions) does not pay for Textual's app import.
    if name == "EthicsReviewApp":
        from tui.app import EthicsReviewApp

        return EthicsReviewApp
    raise AttributeError(name)
