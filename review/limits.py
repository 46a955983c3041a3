"""Size limits for input people and machines send (each error names the limit and how to raise it).

Read from the environment (validated at start by ``review.settings``); the defaults suit
a review team: a product file is small, an evidence file can be a report, one audited
record is one chat turn.
"""

from __future__ import annotations

import os

PRODUCT_FILE_ENV = "ETHICS_REVIEW_MAX_PRODUCT_FILE_KB"
RECORD_ENV = "ETHICS_REVIEW_MAX_RECORD_KB"
EVIDENCE_ENV = "ETHICS_REVIEW_MAX_EVIDENCE_MB"
FEEDBACK_ENV = "ETHICS_REVIEW_FEEDBACK_MAX_CHARS"


def _int(env: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(env) or default))
    except ValueError:
        return default


def product_file_bytes() -> int:
    return _int(PRODUCT_FILE_ENV, 256) * 1024


def record_bytes() -> int:
    return _int(RECORD_ENV, 1024) * 1024


def evidence_bytes() -> int:
    return _int(EVIDENCE_ENV, 200) * 1024 * 1024


def feedback_chars() -> int:
    return _int(FEEDBACK_ENV, 5000)
