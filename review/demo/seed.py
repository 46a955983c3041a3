"""Seed a fresh database with the demo products and walk several through the gates.

Everything goes through the service layer, as a person at the CLI or in the TUI would,
so the demo exercises the same rules (duties, quorum, unmet controls) as real use.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from review.demo.catalog import PRODUCTS, TEAM_SUBMITTERS, submission
from review.errors import ReviewError
from review.services import controls, reviews, users
from review.services.queries import show_review
from review.store.db import Database

CHAIR = "wei.chen"
REVIEWERS = ("amara.okafor", "lucas.martin", "priya.nair")
ADMIN = "admin"


@dataclass
class DemoLog:
    lines: list[str] = field(default_factory=list)
    echo: Callable[[str], None] | None = None

    def __call__(self, text: str) -> None:
        self.lines.append(text)
        if self.echo:
            self.echo(text)


def seed_people(db: Database) -> None:
    users.add_user(db, ADMIN, team="ethics-office", roles="admin", display_name="Ethics office admin", actor=None)
    users.add_user(db, CHAIR, team="ethics-committee", roles="chair,reviewer", display_name="Wei Chen (chair)", actor=ADMIN)
    for name in REVIEWERS:
        users.add_user(db, name, team="ethics-committee", roles="reviewer", display_name=name.replace(".", " ").title(), actor=ADMIN)
    for team, submitter in TEAM_SUBMITTERS.items():
        users.add_user(db, submitter, team=team, roles="submitter", display_name=f"{team} lead", actor=ADMIN)


def run_demo(db: Database, *, log: DemoLog | None = None, evidence_dir: Path | None = None) -> dict[str, int]:
    """Build the demo world in ``db`` (already migrated, empty). Returns product name -> review id."""
    log = log or DemoLog()
    seed_people(db)
    log(f"people: admin, chair {CHAIR}, reviewers {', '.join(REVIEWERS)}, {len(TEAM_SUBMITTERS)} product-team submitters")
    ids: dict[str, int] = {}
    for item in PRODUCTS:
        name = item["product"]["name"]
        r = reviews.submit(db, submission(item), actor=TEAM_SUBMITTERS[item["product"]["owner_team"]], source=f"demo:{name}")
        ids[name] = r.id
        log(f"submitted {name!r}: review {r.id}, grade {r.grade}")

    users.declare_conflict(db, "City video analytics", actor="lucas.martin", reason="Former employee of the camera vendor")
    log("lucas.martin declared a conflict of interest on City video analytics (recused)")

    tmp = evidence_dir or Path(tempfile.mkdtemp(prefix="ethics-review-evidence-"))
    tmp.mkdir(parents=True, exist_ok=True)

    def evidence_for(name: str, gate_filter: tuple[str, ...] = ("DEVELOPMENT",)) -> None:
        rid = ids[name]
        team_user = TEAM_SUBMITTERS[_team(name)]
        for c in show_review(db, rid).controls:
            if c.verify_gate in gate_filter and c.status in ("REQUIRED", "REJECTED"):
                f = tmp / f"{rid}-{c.control_id}.md"
                f.write_text(f"# {c.title}\n\nProduct: {name}\nEvidence expected: {c.evidence_expected}\n\nSee attached report, signed by the product owner.\n")
                controls.add_evidence(db, rid, c.control_id, f, actor=team_user)

    def verify_all(name: str, reviewer: str, gate_filter: tuple[str, ...] = ("DEVELOPMENT",), fail: str | None = None) -> None:
        rid = ids[name]
        for c in show_review(db, rid).controls:
            if c.verify_gate in gate_filter and c.status == "EVIDENCE_SUBMITTED":
                if c.control_id == fail:
                    controls.verify(db, rid, c.control_id, "fail", actor=reviewer, rationale="Report does not cover the minors' mode")
                else:
                    controls.verify(db, rid, c.control_id, "pass", actor=reviewer)

    def through_gate(name: str, reviewer: str, rationale: str, *, second: str | None = None) -> None:
        rid = ids[name]
        reviews.assign(db, rid, reviewer, actor=CHAIR)
        out = reviews.decide(db, rid, "approve", actor=reviewer, rationale=rationale)
        log(f"  {out.message}")
        if not out.applied and second:
            out = reviews.decide(db, rid, "approve", actor=second, rationale=rationale + " (quorum)")
            log(f"  {out.message}")

    # 1. Remote sensing (LOW): all the way to monitoring.
    name = "Remote-sensing platform"
    log(f"walk {name!r} through every gate")
    through_gate(name, "priya.nair", "No personal data; accountability owner named")
    reviews.advance(db, ids[name], actor=TEAM_SUBMITTERS["geo-insight"])
    evidence_for(name, ("DEVELOPMENT", "RELEASE"))
    verify_all(name, "priya.nair", ("DEVELOPMENT", "RELEASE"))
    reviews.submit_gate(db, ids[name], actor=TEAM_SUBMITTERS["geo-insight"])
    through_gate(name, "priya.nair", "Controls verified against initiation requirements")
    reviews.advance(db, ids[name], actor=TEAM_SUBMITTERS["geo-insight"])
    reviews.submit_gate(db, ids[name], actor=TEAM_SUBMITTERS["geo-insight"])
    through_gate(name, "amara.okafor", "Release approved")
    reviews.advance(db, ids[name], actor=TEAM_SUBMITTERS["geo-insight"])
    log(f"  {name} is released and monitored")

    # 2. Medical LLM (HIGH): development re-verification, then release needs chair + reviewer.
    name = "Medical LLM assistant"
    log(f"walk {name!r} (HIGH) to release with a two-person quorum")
    through_gate(name, "amara.okafor", "Clinician-in-the-loop design acceptable; controls set")
    reviews.advance(db, ids[name], actor=TEAM_SUBMITTERS["health-ai"])
    evidence_for(name, ("DEVELOPMENT",))
    reviews.submit_gate(db, ids[name], actor=TEAM_SUBMITTERS["health-ai"])
    reviews.assign(db, ids[name], "amara.okafor", actor=CHAIR)
    try:  # evidence is in, but nobody has verified it yet: the gate must refuse
        reviews.decide(db, ids[name], "approve", actor="amara.okafor", rationale="premature approval")
    except ReviewError as exc:
        log(f"  refused as expected: {exc.message}")
    verify_all(name, "amara.okafor", ("DEVELOPMENT",))
    out = reviews.decide(db, ids[name], "approve", actor="amara.okafor", rationale="All development controls verified; residual risk acceptable")
    log(f"  {out.message}")
    residual = reviews.compute_residual(db, ids[name], actor="amara.okafor")
    log(f"  residual grade with verified controls: {residual.grade.value}")
    reviews.advance(db, ids[name], actor=TEAM_SUBMITTERS["health-ai"])
    evidence_for(name, ("RELEASE",))
    verify_all(name, "priya.nair", ("RELEASE",))
    reviews.submit_gate(db, ids[name], actor=TEAM_SUBMITTERS["health-ai"])
    through_gate(name, "priya.nair", "Release checks complete", second=CHAIR)
    reviews.advance(db, ids[name], actor=CHAIR)
    log(f"  {name} released")

    # 3. Board-game robot: a control fails verification and goes back to the team.
    name = "Board-game robot for children"
    log(f"{name!r}: development gate with a failed verification")
    through_gate(name, "lucas.martin", "Minors' protections planned; physical safety case required")
    reviews.advance(db, ids[name], actor=TEAM_SUBMITTERS["edu-robotics"])
    evidence_for(name, ("DEVELOPMENT",))
    verify_all(name, "lucas.martin", ("DEVELOPMENT",), fail="HR-02")

    # 4. Warehouse robot: approved, advanced, then suspended after an incident report.
    name = "Warehouse picking robot"
    through_gate(name, "priya.nair", "Safety case accepted for development")
    reviews.advance(db, ids[name], actor=TEAM_SUBMITTERS["logistics-robotics"])
    reviews.change_standing(db, ids[name], "suspend", actor=CHAIR, rationale="Near-miss with a staff member reported; pending investigation")
    log(f"{name!r}: suspended by the chair after a near-miss report")

    # 5. Decisions at initiation.
    reviews.assign(db, ids["Elderly companion app"], "amara.okafor", actor=CHAIR)
    reviews.decide(db, ids["Elderly companion app"], "reject", actor="amara.okafor",
                   rationale="Covert persuasion of elderly users: unacceptable under the human-centric principle")
    log("'Elderly companion app': rejected (UNACCEPTABLE: covert manipulation of vulnerable people)")
    reviews.assign(db, ids["Digital-human generation platform"], "priya.nair", actor=CHAIR)
    reviews.decide(db, ids["Digital-human generation platform"], "request-changes", actor="priya.nair",
                   rationale="Describe consent verification for real-person likeness and the watermark design")
    log("'Digital-human generation platform': changes requested")
    reviews.assign(db, ids["City video analytics"], "amara.okafor", actor=CHAIR)
    reviews.assign(db, ids["SME credit scoring"], "lucas.martin", actor=CHAIR)
    through_gate("Code assistant", "lucas.martin", "Low risk; filtering in place")
    reviews.advance(db, ids["Code assistant"], actor=TEAM_SUBMITTERS["dev-tools"])
    reviews.override_grade(db, ids["CV screening assistant"], "HIGH", actor=CHAIR,
                           rationale="Confirmed HIGH: employment decisions are high-risk under EU AI Act Annex III")
    return ids


def _team(product_name: str) -> str:
    for p in PRODUCTS:
        if p["product"]["name"] == product_name:
            return p["product"]["owner_team"]
    raise KeyError(product_name)
