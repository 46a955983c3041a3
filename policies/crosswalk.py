"""The frameworks an organisation tracks, and which of their obligations a review's verified controls meet.

Shared by the dossier (``review.services.dossier``) and ``ethics-review show``: both read the installed packs'
crosswalks (``review.domain.crosswalk``), so a file verified once for a control counts for every obligation, in
every tracked framework, that control maps to.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Mapping, Sequence

from policies.loader import available_packs, load_pack
from review.domain.crosswalk import Crosswalk, crosswalk, obligations_met
from review.domain.crosswalk import verified_evidence as verified_evidence  # re-exported: shared by the dossier and show
from review.errors import InvalidInput


def tracked_frameworks(own: str, setting: str) -> list[str]:
    """The ``frameworks`` setting when set (each must be an installed pack), else the installed packs the review's own
    pack maps its controls to (``maps_to``)."""
    installed = available_packs()
    named = [x.strip() for x in setting.split(",") if x.strip()]
    for fw in named:
        if fw not in installed:
            raise InvalidInput(f"ETHICS_REVIEW_FRAMEWORKS (frameworks in the config file): {fw!r} is not an installed pack; "
                               f"use some of {', '.join(installed)}, or install its pack on ETHICS_REVIEW_POLICY_PATH")
    if named:
        return list(dict.fromkeys(x for x in named if x != own))
    return [fw for fw in load_pack(own).pack.frameworks_mapped() if fw in installed]


def coverage(own: str, verified: Mapping[str, Sequence[str]], setting: str, frameworks: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Per framework (``frameworks``, else ``tracked_frameworks(own, setting)``): its obligations and those the
    ``verified`` controls of pack ``own`` (control id -> its evidence, as shown) meet. A review graded by a pack that is
    no longer installed has no crosswalks to show: []."""
    return [{**about, "met": [asdict(m) for m in obligations_met(walk, verified)]} for about, walk in walks(own, setting, frameworks)]


def walks(own: str, setting: str, frameworks: Sequence[str] | None = None) -> list[tuple[dict[str, Any], Crosswalk]]:
    """``coverage`` before any evidence: per framework, what it is (``framework``, ``version``, ``title``, how many
    ``obligations``) and the crosswalk from pack ``own`` to it. ``ethics-review show`` keeps these (they depend on the
    installed packs alone) and meets them with each review's verified controls (``review.services.showing``)."""
    if own not in available_packs():
        return []
    mine = load_pack(own).pack
    out = []
    for fw in tracked_frameworks(own, setting) if frameworks is None else frameworks:
        target = load_pack(fw).pack
        out.append(({"framework": target.id, "version": target.version, "title": target.title, "obligations": len(target.controls)},
                    crosswalk(mine, target)))
    return out
