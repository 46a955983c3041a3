"""Configuration shared by the flows: the app database, schedules, and engine settings for in-process runs.

The app's database (``ETHICS_REVIEW_DATABASE_URL``) is the source of truth; Prefect keeps
its own database (SQLite under ``PREFECT_HOME`` by default, or its own PostgreSQL for a
team: ``PREFECT_API_DATABASE_CONNECTION_URL``), never the app's.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from review.store.db import Database, shared

FOLLOWUP_CRON_ENV = "ETHICS_REVIEW_FOLLOWUP_CRON"
ESCALATION_CRON_ENV = "ETHICS_REVIEW_ESCALATION_CRON"
DEFAULT_FOLLOWUP_CRON = "0 2 * * *"  # nightly at 02:00
DEFAULT_ESCALATION_CRON = "0 * * * *"  # hourly
TIMEZONE_ENV = "ETHICS_REVIEW_SCHEDULE_TZ"
CHECKPOINT_CRON_ENV = "ETHICS_REVIEW_CHECKPOINT_CRON"
DEFAULT_CHECKPOINT_CRON = "30 * * * *"  # hourly, at half past


def followup_cron() -> str:
    return os.environ.get(FOLLOWUP_CRON_ENV) or DEFAULT_FOLLOWUP_CRON


def escalation_cron() -> str:
    return os.environ.get(ESCALATION_CRON_ENV) or DEFAULT_ESCALATION_CRON


def checkpoint_cron() -> str:
    return os.environ.get(CHECKPOINT_CRON_ENV) or DEFAULT_CHECKPOINT_CRON


def schedule_timezone() -> str:
    return os.environ.get(TIMEZONE_ENV) or "UTC"


def database(url: str | None = None) -> Database:
    """The app database for a flow run: ``url`` if given, else ``ETHICS_REVIEW_DATABASE_URL`` (one handle per URL per process)."""
    from review.store.db import default_url

    return shared(url or default_url())


@contextmanager
def fast_engine() -> Iterator[None]:
    """Settings for flows run in this process with the engine (demo --prefect, tests): no heartbeat thread.

    Each flow run otherwise waits about a second for its heartbeat thread on exit.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
