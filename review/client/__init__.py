"""How entry points reach the use cases: ``Client`` (local or remote), chosen by ``connect``."""

from __future__ import annotations

from review.client.base import Client, FeedbackReceipt, Report, StepReport

__all__ = ["Client", "FeedbackReceipt", "Report", "StepReport", "connect_local", "connect_remote"]


def connect_local(database_url: str, actor: str | None, *, data_dir=None, evidence_dir=None, explicit_database: str | None = None) -> Client:
    """Direct mode: this process owns the database; ``actor`` is self-declared."""
    from review.client.local import LocalClient
    from review.store.db import Database

    return LocalClient(Database(database_url, data_dir=data_dir, evidence_dir=evidence_dir), actor, database_param=explicit_database)


def connect_remote(url: str, token: str | None) -> Client:
    """Remote mode: the review server owns the database; ``token`` proves who acts."""
    from review.client.remote import RemoteClient

    return RemoteClient(url, token)
