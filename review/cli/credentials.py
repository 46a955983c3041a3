"""`ethics-review login` / `logout`: the server URL and token kept in a file only you can read.

The file is ``$ETHICS_REVIEW_HOME/credentials.json`` (mode 0600, its directory 0700). It
is read when ``ETHICS_REVIEW_URL`` / ``ETHICS_REVIEW_TOKEN`` are not set; an explicit
``--database`` still means direct mode.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from review.errors import InvalidInput

FILE = "credentials.json"


def credentials_path(settings: Any) -> Path:
    return Path(settings.home) / FILE


def stored_credentials(settings: Any) -> tuple[str, str] | None:
    """(url, token) from the credentials file, or None when there is none."""
    path = credentials_path(settings)
    if not path.is_file():
        return None
    if path.stat().st_mode & 0o077:
        raise InvalidInput(f"{path} is readable by other users; fix it with `chmod 600 {path}` or log in again")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return str(data["url"]), str(data["token"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(f"{path}: not a credentials file written by `ethics-review login`; remove it and log in again") from None


def store_credentials(settings: Any, url: str, token: str) -> Path:
    """Write the credentials file (0600) atomically."""
    path = credentials_path(settings)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"url": url, "token": token}, f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def forget_credentials(settings: Any) -> bool:
    path = credentials_path(settings)
    if path.exists():
        path.unlink()
        return True
    return False
