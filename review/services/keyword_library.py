"""Growing a pack's keyword library: ``import_keywords`` (a .txt or .csv file of terms) and ``library_stats``.

An import reads and checks the whole file first (any bad line: an error naming file, line, field and
value; nothing written), plans it against the library (``review.domain.content.library``: duplicates
and collisions skipped, near-duplicates reported), then, unless it is a dry run or adds nothing, in
one use case: the acting chair or admin is checked, the terms are appended to their categories'
keyword files, the pack's version goes one patch up, the pack is loaded back (it must validate), and
the change goes on the audit trail. Files are replaced atomically and put back as they were if any
step, the commit included, fails; the pack directory is locked meanwhile, so two imports run one
after the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policies.content_schema import TC260_RISKS, ContentLibrary, ContentSafetyPolicy, load_content_library
from policies.keyword_import import bump_patch, keyword_line, read_import
from policies.loader import LoadedPack, load_pack
from review.domain.content.library import COUNT_RULE, ImportPlan, plan_import, terms_per_risk
from review.errors import InvalidInput
from review.hashing import file_sha256
from review.services.pack_files import commit_pack_change, locked
from review.store.db import Database

ACTION = "policy-keywords-import"


@dataclass
class ImportReport:
    pack: str
    path: str
    file: str
    file_sha256: str
    read: int
    plan: ImportPlan
    version_before: str
    version_after: str | None  # None: nothing written (dry run, or nothing to add)
    hash_before: str
    hash_after: str | None = None
    dry_run: bool = False
    written: list[str] = field(default_factory=list)  # files replaced, relative to the pack directory

    def to_json(self) -> dict[str, Any]:
        p = self.plan
        return {
            "pack": self.pack, "path": self.path, "file": self.file, "file_sha256": self.file_sha256, "dry_run": self.dry_run,
            "version_before": self.version_before, "version_after": self.version_after,
            "hash_before": self.hash_before, "hash_after": self.hash_after, "written": self.written,
            "read": self.read, "added": len(p.added), "added_per_category": p.added_per_category(),
            "duplicates": [_skipped(s) for s in p.of_kind("duplicate")],
            "collisions": [_skipped(s) for s in p.of_kind("collision")],
            "near_duplicates": [{"line": n.incoming.line, "term": n.incoming.term, "category": n.incoming.category,
                                 "near": [{"term": t, "category": c, "where": w, "why": why} for t, c, w, why in n.neighbours]}
                                for n in p.near],
        }


def _skipped(s: Any) -> dict[str, Any]:
    return {"line": s.incoming.line, "term": s.incoming.term, "category": s.incoming.category, "existing_term": s.existing_term,
            "existing_category": s.existing_category, "where": s.where, "note": s.note}


def _content(lp: LoadedPack) -> tuple[ContentSafetyPolicy, ContentLibrary]:
    if lp.content_policy is None:
        raise InvalidInput(f"pack {lp.id} ({lp.path}) has no content_safety section, so no keyword library; add one first")
    policy: ContentSafetyPolicy = lp.content_policy
    return policy, load_content_library(policy, lp.directory)


def import_keywords(db: Database | None, pack_ref: str, file: str | Path, *, category: str | None, actor: str | None,
                    dry_run: bool = False) -> ImportReport:
    """Import the terms of ``file`` into ``pack_ref``'s library (see the module docstring). ``db`` and ``actor``
    may be None for a dry run, which reads and reports only."""
    path = Path(file)
    lp = load_pack(pack_ref)
    with locked(lp.directory, exclusive=not dry_run):
        lp = load_pack(lp.path)  # as it is now that no other import can change it
        policy, library = _content(lp)
        incoming = read_import(path, policy, category, name=str(file))
        plan = plan_import(library.keywords, incoming, default_severity=lambda c: policy.category(c).default_severity,
                            file_name=str(file))
        for code in plan.added_per_category():
            if not policy.category(code).keywords:
                raise InvalidInput(f"category {code} of pack {lp.id} has no keyword file; add `keywords: content/keywords/{code}.txt` "
                                   "to its entry in content_safety and create the file, then import again")
        report = ImportReport(pack=lp.id, path=str(lp.path), file=str(file), file_sha256=file_sha256(path), read=len(incoming),
                              plan=plan, version_before=lp.version, version_after=None, hash_before=lp.content_hash, dry_run=dry_run)
        if dry_run or not plan.added:
            return report
        if db is None or actor is None:
            raise InvalidInput("who is importing? pass --as USER (a chair or an admin): the change goes on the audit trail")
        _write(db, lp, policy, report, actor)
    return report


def _write(db: Database, lp: LoadedPack, policy: ContentSafetyPolicy, report: ImportReport, actor: str) -> None:
    """Append the added terms, bump the version, load the pack back and record it on the trail: one use case."""
    plan = report.plan
    new = bump_patch(lp.path.read_text(encoding="utf-8"), str(lp.path))[2]
    note = f"# {len(plan.added)} term(s) imported for version {new} (see the audit trail: {ACTION})"
    lines: dict[Path, list[str]] = {}  # keyword file -> its new lines (two categories may share a file)
    for t in plan.added:
        rel = policy.category(t.category).keywords
        assert rel is not None  # checked by import_keywords
        lines.setdefault(lp.directory / rel, [note]).append(keyword_line(t))
    files: dict[Path, str] = {}
    for target, new_lines in lines.items():
        before = target.read_text(encoding="utf-8")
        files[target] = before + ("" if not before or before.endswith("\n") else "\n") + "\n".join(new_lines) + "\n"
    written = sorted(str(t.relative_to(lp.directory)) for t in [lp.path, *files])
    after = commit_pack_change(db, lp, files, actor=actor, action=ACTION, check=_content,
                               details={"file": Path(report.file).name, "file_sha256": report.file_sha256, "read": report.read,
                                        "added": plan.added_per_category(), "duplicates": len(plan.of_kind("duplicate")),
                                        "collisions": len(plan.of_kind("collision")), "near_duplicates": len(plan.near)})
    report.version_after, report.hash_after, report.written = new, after.content_hash, written


@dataclass(frozen=True)
class RiskCount:
    risk: str
    title: str
    terms: int
    minimum: int
    categories: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"risk": self.risk, "title": self.title, "terms": self.terms, "minimum": self.minimum,
                "short": self.terms < self.minimum, "categories": list(self.categories)}


@dataclass(frozen=True)
class LibraryStats:
    pack: str
    version: str
    terms: int  # distinct terms (canonical forms)
    risks: list[RiskCount]
    rule: str = COUNT_RULE


def library_stats(pack_ref: str) -> LibraryStats:
    """Terms per TC260 risk of a pack's library, each term counted once (``COUNT_RULE``); every risk listed."""
    lp = load_pack(pack_ref)
    policy, library = _content(lp)
    counts, contributors, distinct = terms_per_risk(policy.categories, library.keywords)
    rows = [RiskCount(r, title, counts.get(r, 0), policy.minimums.for_risk(r), tuple(sorted(contributors.get(r, ()))))
            for r, title in TC260_RISKS.items()]
    return LibraryStats(lp.id, lp.version, distinct, rows)
