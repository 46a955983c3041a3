"""The audit-log checkpoint flow: sign the chain's head on a schedule and keep a copy outside the database.

Each run signs the head with the server's audit key (``review.services.checkpoints``); the
document is stored in the database and, with ``ETHICS_REVIEW_CHECKPOINT_DIR`` set, written
there as ``checkpoint-<row>.json`` (a directory synced to an object store, or mailed on).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from flows.settings import database
from review.services import checkpoints
from review.store.db import utcnow

DIR_ENV = "ETHICS_REVIEW_CHECKPOINT_DIR"


def _name() -> str:
    return f"audit-checkpoint {utcnow():%Y-%m-%d %H:%M}"


@flow(name="audit-checkpoint", flow_run_name=_name)
def audit_checkpoint(database_url: str | None = None, out_dir: str | None = None) -> dict[str, Any]:
    """Sign the audit chain's head; return the document (and write it to ``out_dir`` / ``$ETHICS_REVIEW_CHECKPOINT_DIR``)."""
    doc = checkpoints.create(database(database_url), if_changed=True)  # an idle hour adds no row
    target = out_dir or os.environ.get(DIR_ENV)
    if target:
        path = Path(target) / f"checkpoint-{doc['head_id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        doc = {**doc, "written_to": str(path)}
    get_run_logger().info("audit checkpoint at row %s (%s...)", doc["head_id"], doc["head_hash"][:16])
    return doc
