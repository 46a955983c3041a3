"""What the CLI does after a use case succeeds: start the next gate's automatic step.

Filled in by the flows work: with a Prefect server configured, ``run_deployment(...,
timeout=0)``; otherwise the step runs in-process through the service layer. Every hook
must return quickly and never wait for an ephemeral Prefect server to boot.
"""

from __future__ import annotations

from typing import Any


def after_submit(ctx: Any, review: Any) -> None:
    """A product (or a gate) was submitted."""


def after_decide(ctx: Any, outcome: Any) -> None:
    """A committee decision was recorded."""


def after_verify(ctx: Any, requirement: Any) -> None:
    """A control was verified or rejected."""


def after_advance(ctx: Any, review: Any) -> None:
    """A review moved to its next gate."""
