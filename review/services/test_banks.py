"""A pack's test banks: ``bank_lint`` (sizes per risk, coverage and age against the pack's standard) and
``import_bank`` (items added with validation and deduplication, the pack's version bumped, the change on the
audit trail: one use case, see ``pack_files.commit_pack_change``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from policies.banks import KINDS, BankError, BankItem, BankLint, dedupe_key, lint_banks, parse_lines, read_bank, read_text
from policies.content_schema import ContentSafetyPolicy
from policies.loader import LoadedPack, load_pack
from policies.standard import Standard, load_standard
from review.errors import InvalidInput
from review.hashing import file_sha256
from review.services.pack_files import commit_pack_change, locked
from review.store.db import Database

ACTION = "bank-import"


def _policy(lp: LoadedPack) -> ContentSafetyPolicy:
    if lp.content_policy is None:
        raise InvalidInput(f"pack {lp.id} ({lp.path}) has no content_safety section, so no test banks; add one first")
    policy: ContentSafetyPolicy = lp.content_policy
    return policy


def pack_standard(lp: LoadedPack) -> Standard:
    """The standard the pack names: an id (``policies/standards/<id>.yaml``) or a YAML file beside the pack."""
    policy = _policy(lp)
    ref = policy.standard
    if not ref:
        raise InvalidInput(f"pack {lp.id}: content_safety.standard is not set; name the standard it is held to "
                           "(e.g. `standard: tc260-003`)")
    return load_standard(str(lp.directory / ref) if ref.endswith((".yaml", ".yml")) else ref)


def read_banks(lp: LoadedPack, today: date | None = None) -> dict[str, list[BankItem]]:
    """Every bank the pack names, read and checked."""
    policy = _policy(lp)
    paths = policy.banks.paths() if policy.banks else {}
    return {kind: read_bank(lp.directory, rel, kind, today=today) for kind, rel in paths.items() if rel}


@dataclass
class BankReport:
    pack: str
    version: str
    standard: str
    starter: bool
    banks: list[BankLint]
    today: date

    @property
    def ok(self) -> bool:
        return not self.starter and all(not b.problems for b in self.banks)

    def to_json(self) -> dict[str, Any]:
        return {"pack": self.pack, "version": self.version, "standard": self.standard, "starter": self.starter, "ok": self.ok,
                "today": self.today.isoformat(), "banks": [b.to_json() for b in self.banks]}


def bank_lint(pack_ref: str, today: date | None = None) -> BankReport:
    today = today or date.today()
    lp = load_pack(pack_ref)
    policy = _policy(lp)
    std = pack_standard(lp)
    paths: dict[str, str | None] = policy.banks.paths() if policy.banks else dict.fromkeys(KINDS)
    lints = lint_banks(read_banks(lp, today), paths, std, today)
    return BankReport(lp.id, lp.version, std.id, bool(policy.banks and policy.banks.starter), lints, today)


@dataclass
class BankImportReport:
    pack: str
    kind: str
    file: str
    file_sha256: str
    read: int
    added: list[BankItem] = field(default_factory=list)
    duplicates: list[tuple[BankItem, str]] = field(default_factory=list)  # (item, where the same question already is)
    version_before: str = ""
    version_after: str | None = None
    hash_after: str | None = None
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"pack": self.pack, "bank": self.kind, "file": self.file, "file_sha256": self.file_sha256, "dry_run": self.dry_run,
                "read": self.read, "added": len(self.added), "added_per_risk": _per_risk(self.added),
                "duplicates": [{"where": i.where, "id": i.id, "same_as": w} for i, w in self.duplicates],
                "version_before": self.version_before, "version_after": self.version_after, "hash_after": self.hash_after}


def _per_risk(items: list[BankItem]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i.risk or "-"] = out.get(i.risk or "-", 0) + 1
    return dict(sorted(out.items()))


def import_bank(db: Database | None, pack_ref: str, file: str | Path, *, kind: str, actor: str | None,
                dry_run: bool = False, today: date | None = None) -> BankImportReport:
    """Add the items of ``file`` (JSON Lines, the bank's own format; ``added`` defaults to today) to ``pack_ref``'s
    ``kind`` bank. Every line is checked first (a bad one: an error naming file, line, field and value; nothing
    written). A question already in the bank or earlier in the file (same text after NFKC, case and whitespace) is
    skipped and reported; an id already in the bank is refused (ids name questions in eval runs)."""
    if kind not in KINDS:
        raise InvalidInput(f"--bank {kind!r}: expected one of {', '.join(KINDS)}")
    today = today or date.today()
    path = Path(file)
    incoming = parse_lines(read_text(path, str(file)), kind, str(file), today=today, default_added=today)
    lp = load_pack(pack_ref)
    with locked(lp.directory, exclusive=not dry_run):
        lp = load_pack(lp.path)  # as it is now that no other change can happen
        policy = _policy(lp)
        rel = policy.banks.paths()[kind] if policy.banks else None
        if not rel:
            raise InvalidInput(f"pack {lp.id} names no {kind} bank; add `banks: {{{kind}: content/banks/{kind}.jsonl}}` to its "
                               "content_safety section, create the file (it may be empty), and import again")
        target = lp.directory / rel
        existing = read_bank(lp.directory, rel, kind, today=today) if target.exists() else []
        ids = {i.id: i.where for i in existing}
        seen = {dedupe_key(i.question): i.where for i in existing}
        report = BankImportReport(lp.id, kind, str(file), file_sha256(path), len(incoming), version_before=lp.version, dry_run=dry_run)
        for item in incoming:
            if item.id in ids:
                raise BankError(f"{item.where}: field 'id': value {item.id!r} is already in the bank ({ids[item.id]}); "
                                "give the new question another id")
            key = dedupe_key(item.question)
            if key in seen:
                report.duplicates.append((item, seen[key]))
                continue
            seen[key] = item.where
            report.added.append(item)
        if dry_run or not report.added:
            return report
        if db is None or actor is None:
            raise InvalidInput("who is importing? pass --as USER (a chair or an admin): the change goes on the audit trail")
        import json

        before = target.read_text(encoding="utf-8") if target.exists() else ""
        lines = "".join(json.dumps(i.to_json(), ensure_ascii=False) + "\n" for i in report.added)
        after = commit_pack_change(db, lp, {target: before + ("" if not before or before.endswith("\n") else "\n") + lines},
                                   actor=actor, action=ACTION, check=lambda p: read_banks(p, today),
                                   details={"bank": kind, "file": path.name, "file_sha256": report.file_sha256, "read": report.read,
                                            "added": len(report.added), "added_per_risk": _per_risk(report.added),
                                            "duplicates": len(report.duplicates)})
        report.version_after, report.hash_after = after.version, after.content_hash
    return report
