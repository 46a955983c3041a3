"""Crosswalks between frameworks: which of pack A's controls satisfy which of pack B's obligations.

A mapping is declared on a control (``maps_to: {framework: [ids]}``) in either pack, so a link from A to B is a
mapping written on A's control toward B, or one written on B's control toward A. B's obligations (its controls)
that no link reaches are the gaps. Evidence verified once for a control of A meets every obligation it links to,
in every framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:  # annotations only: ``obligations_met`` runs on kept crosswalks without the pack schema (``show``)
    from policies.schema import Control, PolicyPack


@dataclass(frozen=True)
class Link:
    control: str
    control_title: str
    obligation: str
    obligation_title: str
    #: The pack(s) whose ``maps_to`` declares the link.
    declared_in: tuple[str, ...]


@dataclass(frozen=True)
class Crosswalk:
    source: str
    target: str
    links: tuple[Link, ...]
    #: The target's obligations no control of the source maps to.
    gaps: tuple[Control, ...]

    def covered(self) -> int:
        return len({x.obligation for x in self.links})


def crosswalk(a: PolicyPack, b: PolicyPack) -> Crosswalk:
    """The links from ``a``'s controls to ``b``'s obligations (in ``a``'s control order, then ``b``'s) and the gaps."""
    declared: dict[tuple[str, str], list[str]] = {}
    for c in a.controls:
        for oid in c.maps_to.get(b.id, ()):
            declared.setdefault((c.id, oid), []).append(a.id)
    for o in b.controls:
        for cid in o.maps_to.get(a.id, ()):
            declared.setdefault((cid, o.id), []).append(b.id)
    a_order = {c.id: i for i, c in enumerate(a.controls)}
    b_controls = {o.id: (i, o) for i, o in enumerate(b.controls)}
    a_titles = {c.id: c.title for c in a.controls}
    pairs = sorted((k for k in declared if k[0] in a_order and k[1] in b_controls),
                   key=lambda k: (a_order[k[0]], b_controls[k[1]][0]))
    links = tuple(Link(cid, a_titles[cid], oid, b_controls[oid][1].title, tuple(declared[(cid, oid)])) for cid, oid in pairs)
    reached = {x.obligation for x in links}
    return Crosswalk(a.id, b.id, links, tuple(o for o in b.controls if o.id not in reached))


@dataclass(frozen=True)
class Met:
    """An obligation of another framework met by verified controls of the review's pack, with their evidence."""

    obligation: str
    title: str
    controls: tuple[str, ...]
    evidence: tuple[str, ...]


def obligations_met(walk: Crosswalk, verified: Mapping[str, Sequence[str]]) -> list[Met]:
    """Obligations of ``walk.target`` met by the ``verified`` controls (control id -> its evidence, as shown), in the
    order of the links: one piece of evidence counts for every obligation its control links to."""
    by_obligation: dict[str, list[Link]] = {}
    for link in walk.links:
        if link.control in verified:
            by_obligation.setdefault(link.obligation, []).append(link)
    return [Met(oid, links[0].obligation_title, tuple(x.control for x in links),
                tuple(dict.fromkeys(e for x in links for e in verified[x.control])))
            for oid, links in by_obligation.items()]


def verified_evidence(controls: Sequence[Any]) -> dict[str, list[str]]:
    """Control id -> its evidence as shown (file name and the start of its sha256), for the VERIFIED controls of a review."""
    return {c.control_id: [f"{e['filename']} {e['sha256'][:16]}" for e in c.evidence] for c in controls if c.status == "VERIFIED"}
