"""Test banks as data: the questions a generative product's model is evaluated with (issue: TC260-003 test banks).

A pack's ``content_safety.banks`` names up to three JSON Lines files (paths relative to the pack):

* ``generated``: questions probing what the model generates, each tagged with one of the 31 TC260 risks;
* ``should_refuse``: questions the model must refuse, each tagged with a risk;
* ``must_not_refuse``: ordinary questions near sensitive topics the model must answer (a risk they resemble is
  optional).

One item a line: ``{"id": "g-a11-en-1", "risk": "A.1.1", "lang": "en", "question": "...", "added": "2026-12-05"}``.
Reading checks every line and names the file, line, field and value of the first bad one with the fix;
``lint_banks`` measures a pack's banks against a standard's figures (sizes, risks covered, age).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from policies.content_schema import TC260_RISKS
from policies.standard import Standard
from review.errors import InvalidInput

KINDS = ("generated", "should_refuse", "must_not_refuse")
LANGS = ("en", "zh")
MAX_ID = 64
MAX_QUESTION = 4000
_FIELDS = {"id", "risk", "lang", "question", "added"}


class BankError(InvalidInput):
    """A bad line in a test bank or a bank import (names file, line, field and value)."""


@dataclass(frozen=True)
class BankItem:
    id: str
    kind: str
    risk: str | None
    lang: str
    question: str
    added: date
    where: str  # "file:line"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.risk:
            out["risk"] = self.risk
        out.update(lang=self.lang, question=self.question, added=self.added.isoformat())
        return out


def dedupe_key(question: str) -> str:
    """Two questions are the same question when they read the same after NFKC, case folding and whitespace."""
    return " ".join(unicodedata.normalize("NFKC", question).casefold().split())


def _bad(where: str, fld: str, value: Any, problem: str, fix: str) -> BankError:
    shown = json.dumps(value, ensure_ascii=False, default=str)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return BankError(f"{where}: field {fld!r}: value {shown} {problem}; {fix}")


def parse_item(obj: Any, kind: str, where: str, *, today: date, default_added: date | None = None) -> BankItem:
    """One bank line, checked (``default_added``: the date an import gives an item without one)."""
    if not isinstance(obj, dict):
        raise BankError(f"{where}: expected a JSON object with id, risk, lang, question and added; write one object per line")
    unknown = sorted(set(obj) - _FIELDS)
    if unknown:
        raise _bad(where, unknown[0], obj[unknown[0]], "is not a bank field", f"use only {', '.join(sorted(_FIELDS))}")
    rid = obj.get("id")
    if not isinstance(rid, str) or not rid.strip() or len(rid) > MAX_ID or any(c.isspace() or not c.isprintable() for c in rid):
        raise _bad(where, "id", rid, f"is not an id (1-{MAX_ID} printable characters, no spaces)", "give every item a short unique id")
    risk = obj.get("risk")
    if risk is None and kind != "must_not_refuse":
        raise _bad(where, "risk", None, f"is missing (a {kind} question is tagged with the risk it probes)",
                   "add the TC260 risk, A.1.1 .. A.5.2")
    if risk is not None and risk not in TC260_RISKS:
        raise _bad(where, "risk", risk, "is not a TC260 risk", "use one of A.1.1 .. A.5.2 (`ethics-review policy keywords stats` lists them)")
    lang = obj.get("lang")
    if lang not in LANGS:
        raise _bad(where, "lang", lang, f"is not one of {', '.join(LANGS)}", "give the question's language")
    q = obj.get("question")
    if not isinstance(q, str) or not q.strip():
        raise _bad(where, "question", q, "is empty or not text", "write the question")
    if len(q) > MAX_QUESTION:
        raise _bad(where, "question", q, f"is longer than {MAX_QUESTION} characters", "shorten it")
    if any(not c.isprintable() and c not in "\n\t" for c in q):
        raise _bad(where, "question", q, "holds control characters", "remove them")
    raw_added = obj.get("added")
    added = default_added if raw_added is None else _date(raw_added)
    if added is None:
        raise _bad(where, "added", raw_added, "is not a date", "write the day it was added as YYYY-MM-DD")
    if added > today:
        raise _bad(where, "added", raw_added, "is in the future", "write the day it was added")
    return BankItem(rid.strip(), kind, risk, lang, q.strip(), added, where)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def parse_lines(text: str, kind: str, name: str, *, today: date, default_added: date | None = None) -> list[BankItem]:
    """Every item of a JSON Lines text (blank lines skipped); ids unique within it."""
    items: list[BankItem] = []
    seen: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        where = f"{name}:{n}"
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise BankError(f"{where}: not valid JSON ({exc}); write one JSON object per line") from None
        item = parse_item(obj, kind, where, today=today, default_added=default_added)
        if item.id in seen:
            raise _bad(where, "id", item.id, f"repeats the id of {seen[item.id]}", "give every item a unique id")
        seen[item.id] = where
        items.append(item)
    return items


def read_text(path: Path, shown: str, missing: str = "file not found") -> str:
    """A bank file's text: a missing file or one that is not UTF-8 is an error naming it (as ``shown``)."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BankError(f"{shown}: {missing}") from None
    except UnicodeDecodeError as exc:
        raise BankError(f"{shown}: not UTF-8 (byte {exc.start}); save it as UTF-8") from None


def read_bank(pack_dir: Path, rel: str, kind: str, *, today: date | None = None) -> list[BankItem]:
    text = read_text(Path(pack_dir) / rel, rel, "test bank file not found (paths are relative to the pack directory)")
    return parse_lines(text, kind, rel, today=today or date.today())


@dataclass
class BankLint:
    """One bank measured against the standard."""

    kind: str
    path: str | None
    size: int
    minimum: int
    newest: date | None
    age_days: int | None
    max_age_days: int
    per_risk: dict[str, int] = field(default_factory=dict)
    missing_risks: list[str] = field(default_factory=list)
    langs: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "size": self.size, "minimum": self.minimum,
                "newest": self.newest.isoformat() if self.newest else None, "age_days": self.age_days,
                "max_age_days": self.max_age_days, "per_risk": self.per_risk, "missing_risks": self.missing_risks,
                "langs": self.langs, "ok": not self.problems, "problems": self.problems}


def lint_banks(banks: dict[str, list[BankItem]], paths: dict[str, str | None], standard: Standard, today: date) -> list[BankLint]:
    """Each kind of bank against ``standard``: its size, the risks the generated bank covers (all 31), its age."""
    figures = standard.test_banks
    out: list[BankLint] = []
    for kind in KINDS:
        items = banks.get(kind, [])
        minimum = getattr(figures, kind)
        newest = max((i.added for i in items), default=None)
        age = (today - newest).days if newest else None
        per_risk: dict[str, int] = {}
        langs: dict[str, int] = {}
        for i in items:
            if i.risk:
                per_risk[i.risk] = per_risk.get(i.risk, 0) + 1
            langs[i.lang] = langs.get(i.lang, 0) + 1
        lint = BankLint(kind, paths.get(kind), len(items), minimum, newest, age, figures.max_age_days,
                        dict(sorted(per_risk.items())), [], dict(sorted(langs.items())))
        if paths.get(kind) is None:
            lint.problems.append(f"no {kind} bank: the pack names none (content_safety.banks.{kind})")
        if len(items) < minimum:
            lint.problems.append(f"{kind}: {len(items):,} question(s), the standard asks for at least {minimum:,}")
        if kind == "generated":
            lint.missing_risks = [r for r in TC260_RISKS if r not in per_risk]
            if lint.missing_risks:
                lint.problems.append(f"generated: {len(lint.missing_risks)} of the 31 risks have no question "
                                     f"({', '.join(lint.missing_risks[:5])}{'...' if len(lint.missing_risks) > 5 else ''})")
        if items and age is not None and age > figures.max_age_days:
            lint.problems.append(f"{kind}: newest question added {newest}, {age} days ago; the standard asks for an update "
                                 f"every {figures.max_age_days} days")
        out.append(lint)
    return out
