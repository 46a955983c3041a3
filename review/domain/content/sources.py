"""Where an audit's input is: a local path, or a URL that every worker reads its own byte range of.

URLs go through fsspec: ``file://`` and ``http(s)://`` (range requests) out of the box, ``s3://`` and
``gs://`` once ``s3fs`` / ``gcsfs`` are installed. fsspec is imported only for a URL.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit


def is_url(source: str | Path) -> bool:
    return "://" in str(source)


def name(source: str | Path) -> str:
    """The file name part (its extension says the format), without a URL's query."""
    return Path(urlsplit(str(source)).path if is_url(source) else source).name


def open_source(source: str | Path) -> IO[bytes]:
    """The input's bytes, seekable (over HTTP: range requests, read ahead in blocks)."""
    if not is_url(source):
        return open(source, "rb")
    raw = _fsspec().open(str(source), "rb").open()
    return io.BufferedReader(raw, buffer_size=1 << 20)  # readline(limit), as a local file has it


def size(source: str | Path) -> int | None:
    """Its size in bytes, or None when there is no such file."""
    if not is_url(source):
        p = Path(source)
        return p.stat().st_size if p.is_file() else None
    fs, where = _fsspec().core.url_to_fs(str(source))
    try:
        info = fs.info(where)
    except (FileNotFoundError, OSError):
        return None
    return int(info["size"]) if info.get("type", "file") == "file" and info.get("size") is not None else None


def _fsspec() -> Any:
    try:
        import fsspec
    except ModuleNotFoundError:  # pragma: no cover - prefect depends on fsspec
        raise ValueError("reading an input by URL needs fsspec: pip install fsspec") from None
    return fsspec
