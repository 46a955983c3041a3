"""Where policy packs are installed, without loading one: the search path and the installed pack ids.

``policies.loader`` resolves and loads packs from here; ``review.services.showing`` fingerprints the installed
packs' files with it, to know when its cached crosswalks and question labels are stale, without importing YAML or
the pack schema.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKS_DIR = Path(__file__).parent / "packs"


def search_dirs() -> list[Path]:
    """Where packs are looked up by id: ``ETHICS_REVIEW_POLICY_PATH`` (os.pathsep list), then the shipped packs."""
    extra = [Path(p) for p in os.environ.get("ETHICS_REVIEW_POLICY_PATH", "").split(os.pathsep) if p]
    return [*extra, PACKS_DIR]


def available_packs() -> list[str]:
    ids: list[str] = []
    for d in search_dirs():
        if d.is_dir():
            ids.extend(sorted(p.parent.name for p in d.glob("*/pack.yaml")))
    return list(dict.fromkeys(ids))
