"""What every manual spot check shares (a content audit's sample, ``content_labels``; a model evaluation's sample,
``eval_spot``): which round a reviewer's label is, how the rounds add up to one label an item and to the agreement
of two reviewers (Cohen's kappa), and batch labels read from a CSV or JSONL file.

Rounds: a first review, a blind second review by another reviewer (their agreement is the kappa), and a third
reviewer's adjudication of an item the first two disagree on. A reviewer may correct their own label; an item's
label is the adjudication when there is one, else the first review (else the second)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Hashable, Protocol, Sequence, TypeVar

from sqlmodel import Session

from review.domain import sampling
from review.errors import Conflict, Forbidden, InvalidInput
from review.services import audit
from review.store.db import utcnow

#: label rounds: a first review, a blind second review, a third reviewer's adjudication of a disagreement
FIRST, SECOND, ADJUDICATION = 1, 2, 3


class Labelled(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def reviewer(self) -> str: ...
    @property
    def round(self) -> int: ...


L = TypeVar("L", bound=Labelled)


def label_round(existing: Sequence[L], reviewer: str, *, item: str, second: bool, adjudicate: bool, double_review: bool,
                verdict_of: Callable[[L], Hashable], adjudication: bool, no_adjudication: str = "") -> int:
    """The round of ``reviewer``'s label on an item that already has ``existing`` labels, or the error that refuses it.

    ``item`` names the item in messages (``labels.csv:4: item 17``); ``double_review``: every item gets a second
    review (the first label of an item is then its first review, the next its second); ``adjudication``: whether a
    third reviewer may settle a disagreement here (``no_adjudication`` says why not); ``verdict_of``: what two
    reviews must agree on."""
    mine = next((x for x in existing if x.reviewer == reviewer), None)
    others = [x for x in existing if x.reviewer != reviewer]
    if adjudicate:
        rnd = _adjudication_round(existing, mine, reviewer, item, verdict_of, adjudication, no_adjudication)
    elif mine is not None:
        if second and mine.round == FIRST:
            raise Forbidden(f"{item}: you gave its first review; a second review must come from a different reviewer")
        rnd = mine.round  # a reviewer corrects their own label (first, second or adjudication)
    elif double_review and not any(x.round == FIRST for x in others):
        rnd = FIRST  # in a double review the first label of an item is its first review, whatever the flag says
    elif second or (others and double_review):
        if any(x.round == SECOND for x in others):
            raise Conflict(f"{item} already has its second review (by {next(x.reviewer for x in others if x.round == SECOND)})"
                           + ("; a third reviewer settles a disagreement with --adjudicate" if adjudication else ""))
        rnd = SECOND
    elif any(x.round == FIRST for x in others):
        first = next(x.reviewer for x in others if x.round == FIRST)
        raise Conflict(f"{item} is already labelled by {first}; pass --second for a blind second review")
    else:
        rnd = FIRST
    if rnd == SECOND and any(x.round == FIRST and x.reviewer == reviewer for x in existing):
        raise Forbidden(f"{item}: a second review must come from a different reviewer")
    return rnd


def item_seq(lab: dict, at: str, listing: str) -> int:
    """The item number of a label (``17`` or ``#17``); ``listing`` is the command that lists the items."""
    try:
        return int(str(lab.get("item")).lstrip("#"))
    except ValueError:
        raise InvalidInput(f"{at}item {lab.get('item')!r} is not a number; `{listing}` lists them") from None


def save_label(s: Session, mine: Any, make: Callable[[], Any], values: dict[str, Any], *, note: str, reviewer: str, rnd: int,
               action: str, entity: str, entity_id: str, policy_version: str) -> Any:
    """Write ``reviewer``'s label (``mine``, their existing row, corrected; else ``make()``) with ``values``, and put it on
    the trail with what it replaced."""
    before = None if mine is None else {k: getattr(mine, k) for k in values}
    row = mine or make()
    for k, v in values.items():
        setattr(row, k, v)
    row.note, row.labelled_at = note, utcnow()
    s.add(row)
    audit.record(s, actor=reviewer, action=action, entity=entity, entity_id=entity_id, before=before, after={**values, "round": rnd},
                 policy_version=policy_version)
    s.flush()
    return row


def _adjudication_round(existing: Sequence[L], mine: L | None, reviewer: str, item: str, verdict_of: Callable[[L], Hashable],
                        adjudication: bool, no_adjudication: str) -> int:
    """A third reviewer settles an item its two reviewers disagree on; refused otherwise."""
    if not adjudication:
        raise InvalidInput(f"{item}: {no_adjudication}; --adjudicate settles disagreements between two reviews")
    by = {x.round: x for x in existing}
    if FIRST not in by or SECOND not in by:
        raise Conflict(f"{item} has {'no' if not by else 'one'} review so far; adjudication follows two reviews that disagree")
    if verdict_of(by[FIRST]) == verdict_of(by[SECOND]):
        raise Conflict(f"{item}: {by[FIRST].reviewer} and {by[SECOND].reviewer} agree ({verdict_of(by[FIRST])}); nothing to adjudicate")
    if mine is not None and mine.round != ADJUDICATION:
        raise Forbidden(f"{item}: you gave its {'first' if mine.round == FIRST else 'second'} review; "
                        f"a third reviewer adjudicates ({by[FIRST].reviewer} and {by[SECOND].reviewer} may not)")
    if ADJUDICATION in by and by[ADJUDICATION].reviewer != reviewer:
        raise Conflict(f"{item} is already adjudicated by {by[ADJUDICATION].reviewer}")
    return ADJUDICATION


@dataclass
class Rounds(Generic[L]):
    """A sample's labels by round (item number -> label)."""

    first: dict[int, L]
    second: dict[int, L]
    third: dict[int, L]

    @property
    def primary(self) -> dict[int, L]:
        """Each labelled item's label: the adjudication, else the first review, else the second."""
        out: dict[int, L] = {}
        for seq in set(self.first) | set(self.second) | set(self.third):
            out[seq] = self.third.get(seq) or self.first.get(seq) or self.second[seq]
        return out

    @property
    def pairs(self) -> list[int]:
        """The items with a first and a blind second review, in order."""
        return sorted(set(self.first) & set(self.second))

    def kappa(self, key: Callable[[L], Hashable]) -> float | None:
        """Cohen's kappa of the first and second reviews on ``key`` (None without a pair)."""
        both = self.pairs
        return sampling.cohens_kappa([key(self.first[k]) for k in both], [key(self.second[k]) for k in both]) if both else None

    def disagreements(self, key: Callable[[L], Hashable]) -> list[int]:
        return [k for k in self.pairs if key(self.first[k]) != key(self.second[k])]


def rounds_of(labels: Sequence[L]) -> Rounds[L]:
    r: Rounds[L] = Rounds({}, {}, {})
    for lab in labels:
        {FIRST: r.first, ADJUDICATION: r.third}.get(lab.round, r.second)[lab.seq] = lab
    return r


# ---- batch labels from a file ----------------------------------------------------------------
def read_label_file(path: str | Path, *, required: Sequence[str] = ("item", "verdict"),
                    optional: Sequence[str] = ("category", "severity", "note", "second")) -> tuple[list[dict], list[str]]:
    """Labels from CSV (a header naming ``required`` and any of ``optional``) or JSONL (one object per line with the
    same keys). Returns (labels, 'file:line' of each); ``second`` and ``adjudicate`` read as booleans."""
    p = Path(path)
    cols = ", ".join((*required, *optional))
    if not p.is_file():
        raise InvalidInput(f"{path}: no such file; give a CSV or JSONL of labels ({cols})")
    labels: list[dict] = []
    where: list[str] = []
    if p.suffix.lower() == ".csv":
        with p.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not set(required) <= {h.strip() for h in reader.fieldnames}:
                raise InvalidInput(f"{path}:1: header must include {' and '.join(required)} (optional: {', '.join(optional)})")
            for row in reader:
                labels.append({k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k})
                where.append(f"{path}:{reader.line_num}")
    else:
        for n, raw in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError as exc:
                raise InvalidInput(f"{path}:{n}: not valid JSON ({exc}); write one object per line") from None
            if not isinstance(obj, dict):
                raise InvalidInput(f"{path}:{n}: expected an object with {' and '.join(required)}")
            labels.append(obj)
            where.append(f"{path}:{n}")
    for lab in labels:
        for flag in ("second", "adjudicate"):
            lab[flag] = str(lab.get(flag, "")).strip().lower() in ("1", "true", "yes", "y")
    return labels, where
