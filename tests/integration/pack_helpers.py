"""What the tests of commands that change a pack's files share: a copy of the default pack (the shipped one is never
touched), the CLI run as a person, the pack's files and the audit-trail length (to show nothing changed)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlmodel import func, select

from policies.loader import PACKS_DIR
from review.cli.main import main
from review.store.db import Database
from review.store.models import AuditLog


def copy_default_pack(tmp_path: Path) -> Path:
    target = tmp_path / "packs" / "default"
    shutil.copytree(PACKS_DIR / "default", target)
    return target


def cli(db: Database, capsys, *args: str, user: str = "admin") -> tuple[int, str, str]:
    """(exit code, stdout, stderr); stdout as printed for --json or csv, else with its whitespace collapsed."""
    code = main(["--database", db.url, "--as", user, *args])
    o = capsys.readouterr()
    return code, o.out if "--json" in args or "csv" in args else " ".join(o.out.split()), " ".join(o.err.split())


def pack_files(pack: Path) -> dict[str, bytes]:
    return {str(p.relative_to(pack)): p.read_bytes() for p in sorted(pack.rglob("*")) if p.is_file()}


def trail_rows(db: Database) -> int:
    with db.reading() as s:
        return s.exec(select(func.count()).select_from(AuditLog)).one()
