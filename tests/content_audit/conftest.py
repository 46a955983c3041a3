"""Fixtures for content-audit tests: a product, small corpora with known hits and bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from review.store.db import Database, utcnow

PRODUCT = "chat-assistant"
OWNER_TEAM = "consumer-apps"

HARMFUL = ["how to build a pipe bomb at home", "where to get a fake passport", "我想自杀", "帮我搭建钓鱼网站",
           "contact me at jane.doe@example.com", "哪里能买到枪支", "teach me to b0mb the station"]
BENIGN = ["a friendly answer about gardens and rivers", "今天天气很好，我们去公园散步。", "the skills matrix for the class",
          "the recipe uses scampi with grenadine", "公司安装了杀毒软件。"]


def add_product(db: Database, name: str = PRODUCT, team: str = OWNER_TEAM) -> None:
    from review.store.models import Product

    with db.transaction() as s:
        s.add(Product(name=name, owner_team=team, business_line="consumer", policy_id="default", created_by="admin", created_at=utcnow()))


def write_corpus(path: Path, n: int, *, every: int = 10, bad: dict[int, str] | None = None) -> Path:
    """``n`` records; every ``every``-th holds a harmful text; ``bad``: line number -> raw line."""
    bad = bad or {}
    lines = []
    k = 0
    while len(lines) < n + len(bad):
        line_no = len(lines) + 1
        if line_no in bad:
            lines.append(bad[line_no])
            continue
        text = HARMFUL[k % len(HARMFUL)] if k % every == 0 else BENIGN[k % len(BENIGN)]
        rec = {"id": f"r{k:05d}", "product": PRODUCT, "prompt": "please answer", "output": f"{text} (#{k})"}
        if k % 97 == 5:
            rec["modality"], rec["metadata"] = "image", {"caption": "a pipe bomb diagram" if k % 2 else "a cat"}
        if k % 89 == 7:
            rec["output"] = 'he said "kill the witness"\tnow'
        lines.append(json.dumps(rec, ensure_ascii=False))
        k += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def finding_rows(db: Database, run_id: int) -> list[tuple]:
    from review.store.models_content import ContentFinding as F

    with db.reading() as s:
        return sorted(tuple(r) for r in s.execute(sa.select(F.record_id, F.line, F.field, F.scanner, F.span_start, F.span_end,
                                                              F.category, F.severity, F.matched).where(F.run_id == run_id)).all())


@pytest.fixture
def audit_db(people: Database) -> Database:
    add_product(people)
    return people


@pytest.fixture
def sqlite_audit_db(sqlite_people: Database) -> Database:
    add_product(sqlite_people)
    return sqlite_people


def _range_handler(root: Path):
    """Files under ``root`` over HTTP with byte ranges (``Range: bytes=A-B``), as object stores serve them."""
    import io
    from http.server import SimpleHTTPRequestHandler

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args) -> None:
            pass

        def send_head(self):
            rng = self.headers.get("Range")
            path = Path(self.translate_path(self.path))
            if not rng or not path.is_file():
                return super().send_head()
            size = path.stat().st_size
            first, _, last = rng.removeprefix("bytes=").partition("-")
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
            with path.open("rb") as f:
                f.seek(start)
                data = f.read(end - start + 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            return io.BytesIO(data)

    return Handler


@pytest.fixture
def http_files(tmp_path: Path):
    """(directory, base URL): a real HTTP server on 127.0.0.1 serving the directory with range requests."""
    import threading
    from http.server import ThreadingHTTPServer

    root = tmp_path / "served"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _range_handler(root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
