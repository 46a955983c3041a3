"""Changing a pack's files as one use case: the files replaced atomically, the pack's version one patch up, the
pack loaded back (it must validate), and the change on the audit trail, in one transaction; every file put back
as it was if any step, the commit included, fails. The pack directory is locked meanwhile (``locked``), so two
changes run one after the other. Used by the keyword import and the test-bank import."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any, Callable, Iterator

from policies.keyword_import import bump_patch
from policies.loader import LoadedPack, load_pack
from review.domain.duties import Duty, require
from review.services import audit
from review.services.common import load_actor
from review.store.db import Database


def commit_pack_change(db: Database, lp: LoadedPack, files: dict[Path, str], *, actor: str, action: str,
                       details: dict[str, Any], check: Callable[[LoadedPack], object] = lambda _lp: None) -> LoadedPack:
    """Write ``files`` (path -> new text) into ``lp``'s directory and bump its version, as described above; ``check``
    looks at the pack as written (raise to refuse it). Returns the pack as written."""
    pack_yaml, old, new = bump_patch(lp.path.read_text(encoding="utf-8"), str(lp.path))
    files = {lp.path: pack_yaml, **files}
    originals: dict[Path, bytes] = {}
    try:
        with db.transaction() as s:
            require(load_actor(s, actor), Duty.MANAGE_POLICY)
            for target, text in files.items():
                originals[target] = target.read_bytes() if target.exists() else b""
                replace_file(target, text)
            after = load_pack(lp.path)  # what was written must read back as a valid pack
            check(after)
            written = sorted(str(t.relative_to(lp.directory)) for t in files)
            audit.record(s, actor=actor, action=action, entity="policy_pack", entity_id=lp.id,
                         before={"version": old, "hash": lp.content_hash},
                         after={"version": new, "hash": after.content_hash, "written": written, **details},
                         policy_version=new)
        return after
    except BaseException:
        for target, data in originals.items():
            replace_file(target, data)
        raise


def replace_file(target: Path, data: str | bytes) -> None:
    """Write ``target`` whole or not at all (a temporary file beside it, renamed over it)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


@contextlib.contextmanager
def locked(directory: Path, exclusive: bool) -> Iterator[None]:
    """The pack directory locked (flock): a change excludes other changes, a dry run only waits for them."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)
