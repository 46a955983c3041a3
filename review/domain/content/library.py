"""Growing a keyword library: which imported terms are new, which the library already holds, and which
look like another term; and how many terms each TC260 risk has, each term counted once.

Terms are compared in the filter's own match-view form (``normalize.canonical_term``): ``Pipe-Bomb``,
``pïpe  bomb`` and ``pipe bomb`` are one term to the filter, so they are one term here.

* **duplicate**: the canonical form is already in the library (or earlier in the file) in the same
  category: skipped.
* **collision**: the canonical form is already in the library (or earlier in the file) in another
  category: skipped (a match would be filed under both); the report names where it is.
* **near-duplicate**: added, and reported with the terms it resembles: the same once spaces,
  separators and leetspeak digits are dropped or folded everywhere (``pipebomb`` / ``pipe bomb``,
  ``m3th`` / ``meth``), or one edit apart (a letter inserted, deleted or replaced, or two adjacent
  letters swapped) when both have at least ``NEAR_MIN_LEN`` letters. Found with a deletion-neighbourhood
  index (every key and each of its one-letter deletions), so 50,000 terms cost a few hundred thousand
  dictionary operations, not 50,000² comparisons.

The domain does not import ``policies``: library entries and categories are duck-typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

from review.domain.content.normalize import LEET_TABLE, SEP_ASCII, canonical_term

#: Shortest key (in characters, after folding) checked for one-edit near-duplicates: shorter terms
#: one edit apart are mostly different words ("kill" / "pill").
NEAR_MIN_LEN = 5
#: Neighbours reported per near-duplicate term (the report stays readable at 50,000 terms).
NEAR_MAX_PER_TERM = 3
_LOOSE_DROP = str.maketrans({c: None for c in SEP_ASCII + "\u3000"})


class LibraryEntry(Protocol):
    """A keyword already in the library (``policies.content_schema.Keyword``)."""

    @property
    def term(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def severity(self) -> int: ...
    @property
    def subcode(self) -> str | None: ...
    @property
    def source(self) -> str: ...
    @property
    def glued(self) -> bool: ...


class RiskCategory(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def tc260(self) -> Sequence[str]: ...
    @property
    def subcodes(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Incoming:
    """One term of an import file, checked and resolved (category code, subcode, severity or None: the category's)."""

    term: str
    category: str
    line: int
    severity: int | None = None
    subcode: str | None = None
    glued: bool = False


@dataclass(frozen=True)
class Skipped:
    """An incoming term not added: ``kind`` is ``duplicate`` or ``collision``; ``where`` is the existing term's
    ``file:line`` (or ``line N`` of the import file), ``note`` what differs (severity, glued)."""

    incoming: Incoming
    kind: str
    existing_term: str
    existing_category: str
    where: str
    note: str = ""


@dataclass(frozen=True)
class Near:
    """An added term and the terms it resembles (``(term, category, where, why)``)."""

    incoming: Incoming
    neighbours: tuple[tuple[str, str, str, str], ...]


@dataclass
class ImportPlan:
    added: list[Incoming] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    near: list[Near] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Skipped]:
        return [s for s in self.skipped if s.kind == kind]

    def added_per_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.added:
            out[t.category] = out.get(t.category, 0) + 1
        return out


def loose_key(canon: str) -> str:
    """A canonical term with spaces and separators dropped and every leetspeak digit or symbol folded (not only
    inside words, as the match view does): the key near-duplicates by spelling share."""
    return canon.translate(LEET_TABLE).translate(_LOOSE_DROP)


def deletions(key: str) -> set[str]:
    """``key`` and every string one character shorter (the deletion neighbourhood of radius one)."""
    return {key, *(key[:k] + key[k + 1:] for k in range(len(key)))}


def within_one_edit(a: str, b: str) -> bool:
    """Optimal-string-alignment distance <= 1: equal, or one insertion, deletion, substitution or adjacent swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        return a[i + 1:] == b[i + 1:] or (i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:])
    return a[i + 1:] == b[i:] if la > lb else a[i:] == b[i + 1:]


@dataclass
class _Known:
    term: str
    category: str
    where: str
    severity: int | None
    glued: bool


def plan_import(existing: Iterable[LibraryEntry], incoming: Sequence[Incoming], *,
                default_severity: Callable[[str], int], file_name: str = "line", fold: Callable[[str], str] = canonical_term
                ) -> ImportPlan:
    """What importing ``incoming`` into a library holding ``existing`` does: added, skipped (duplicates and
    collisions, against the library and earlier lines of the file ``file_name``) and near-duplicates of the added terms.
    Linear in the number of terms (dictionaries keyed by canonical and loose forms)."""
    plan = ImportPlan()
    known: dict[str, _Known] = {}
    for k in existing:
        c = fold(k.term)
        if c and c not in known:
            known[c] = _Known(k.term, k.category, k.source, k.severity, k.glued)
    added_canon: list[str] = []
    for t in incoming:
        c = fold(t.term)
        hit = known.get(c)
        if hit is None:
            known[c] = _Known(t.term, t.category, f"{file_name}:{t.line}", t.severity, t.glued)
            plan.added.append(t)
            added_canon.append(c)
            continue
        kind = "duplicate" if hit.category == t.category else "collision"
        notes = []
        sev = t.severity if t.severity is not None else default_severity(t.category)
        had = hit.severity if hit.severity is not None else default_severity(hit.category)
        if kind == "duplicate" and sev != had:
            notes.append(f"severity {had} there, {sev} here")
        if kind == "duplicate" and hit.glued != t.glued:
            notes.append("glued (*term*) there only" if hit.glued else "glued (*term*) here only")
        plan.skipped.append(Skipped(t, kind, hit.term, hit.category, hit.where, "; ".join(notes)))
    plan.near = _near(known, plan.added, added_canon)
    return plan


def _near(known: dict[str, _Known], added: list[Incoming], added_canon: list[str]) -> list[Near]:
    """Near-duplicates of each added term among every other known term, through two indexes: loose key ->
    canonical forms, and (for keys of >= NEAR_MIN_LEN) each deletion variant -> loose keys."""
    by_loose: dict[str, list[str]] = {}
    by_variant: dict[str, list[str]] = {}
    loose_of: dict[str, str] = {}
    for c in known:
        lk = loose_key(c)
        loose_of[c] = lk
        group = by_loose.setdefault(lk, [])
        group.append(c)
        if len(group) == 1 and len(lk) >= NEAR_MIN_LEN:
            for v in deletions(lk):
                by_variant.setdefault(v, []).append(lk)
    out: list[Near] = []
    for t, c in zip(added, added_canon, strict=True):
        lk = loose_of[c]
        found: dict[str, str] = {o: "same without spaces, separators or leetspeak" for o in by_loose[lk] if o != c}
        if len(lk) >= NEAR_MIN_LEN and len(found) < NEAR_MAX_PER_TERM:
            for v in deletions(lk):
                for other in by_variant.get(v, ()):
                    if other != lk and within_one_edit(lk, other):
                        for o in by_loose[other]:
                            found.setdefault(o, "one edit apart")
                if len(found) >= NEAR_MAX_PER_TERM:
                    break
        if found:
            nbrs = sorted(found.items(), key=lambda kv: (known[kv[0]].where, kv[0]))[:NEAR_MAX_PER_TERM]
            out.append(Near(t, tuple((known[o].term, known[o].category, known[o].where, why) for o, why in nbrs)))
    return out


# ---------------------------------------------------------------- counting per risk

#: How ``terms_per_risk`` counts, in words (the CLI prints it with the counts).
COUNT_RULE = ("each term is counted once, under one TC260 risk: its subcode's risk when it has one "
              "(hate_discrimination/gender -> A.2.5), else the first risk its category lists "
              "(political: A.1.1, A.1.2, A.1.3 -> A.1.1); a term in several categories counts in the first")


def risk_of(category: RiskCategory, subcode: str | None) -> str:
    """The one TC260 risk a term of ``category`` (with ``subcode``) counts toward (see ``COUNT_RULE``)."""
    if subcode and subcode in category.subcodes:
        return category.subcodes[subcode]
    return category.tc260[0]


def terms_per_risk(categories: Sequence[RiskCategory], keywords: Iterable[LibraryEntry], *,
                   fold: Callable[[str], str] = canonical_term) -> tuple[dict[str, int], dict[str, set[str]], int]:
    """(risk -> terms, risk -> categories contributing, distinct terms): every distinct canonical term once,
    under ``risk_of`` its first entry (library order: the pack's category order, then file order)."""
    cats = {c.code: c for c in categories}
    seen: set[str] = set()
    counts: dict[str, int] = {}
    contributors: dict[str, set[str]] = {}
    for k in keywords:
        c = fold(k.term)
        if not c or c in seen:
            continue
        seen.add(c)
        risk = risk_of(cats[k.category], k.subcode)
        counts[risk] = counts.get(risk, 0) + 1
        contributors.setdefault(risk, set()).add(k.category)
    return counts, contributors, len(seen)
