"""Seed a fresh database with the demo products and walk several through the gates and a follow-up round.

Everything goes through the service layer, as a person at the CLI or in the TUI would,
so the demo exercises the same rules (duties, quorum, unmet controls) as real use. The
automatic step of each gate runs through ``step(gate, review_id)``: by default the
in-process step logic of ``review.services.gates`` (fast), or the Prefect flows when the
caller passes a runner that uses the engine (``ethics-review demo --prefect``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from datetime import timedelta
from typing import Any, Callable

from review.demo.catalog import PRODUCTS, TEAM_SUBMITTERS, submission
from review.errors import ReviewError
from review.services import controls, feedback, followups, gates, reviews, users
from review.services.queries import show_review
from review.store.db import Database, utcnow

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


#: Runs one gate's automatic step; returns something with a ``message`` (StepResult) or a dict with one.
StepRunner = Callable[[str, int], Any]
#: Runs the follow-up scan at a given time; returns a dict of counts.
ScanRunner = Callable[[Any], dict[str, Any]]


def in_process_step(db: Database) -> StepRunner:
    """The gate steps through the services, in this process (what the CLI does without a Prefect server)."""
    table = {"initiation": gates.initiation_step, "development": gates.development_step, "release": gates.release_step}
    return lambda gate, rid: table[gate](db, rid)


def in_process_scan(db: Database) -> ScanRunner:
    return lambda now: followups.scan(db, now=now).to_json()


def _msg(result: Any) -> str:
    return result["message"] if isinstance(result, dict) else result.message


def run_demo(db: Database, *, log: DemoLog | None = None, evidence_dir: Path | None = None,
             step: StepRunner | None = None, scan: ScanRunner | None = None, audit: bool = True) -> dict[str, int]:
    """Build the demo world in ``db`` (already migrated, empty). Returns product name -> review id.
    ``audit``: include the content audit with a partly labelled, double-reviewed sample (``demo_audit``)."""
    log = log or DemoLog()
    step = step or in_process_step(db)
    scan = scan or in_process_scan(db)
    seed_people(db)
    log(f"people: admin, chair {CHAIR}, reviewers {', '.join(REVIEWERS)}, {len(TEAM_SUBMITTERS)} product-team submitters")
    ids: dict[str, int] = {}
    for item in PRODUCTS:
        name = item["product"]["name"]
        r = reviews.submit(db, submission(item), actor=TEAM_SUBMITTERS[item["product"]["owner_team"]], source=f"demo:{name}")
        ids[name] = r.id
        log(f"submitted {name!r}: review {r.id}, grade {r.grade}; {_msg(step('initiation', r.id))}")

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
    log(f"  {_msg(step('development', ids[name]))}")
    through_gate(name, "amara.okafor", "Release approved")
    log(f"  release gate: {_msg(step('release', ids[name]))}")

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
    log(f"  development re-verification: {_msg(step('development', ids[name]))}")
    out = reviews.decide(db, ids[name], "approve", actor="amara.okafor", rationale="All development controls verified; residual risk acceptable")
    log(f"  {out.message}")
    residual = reviews.compute_residual(db, ids[name], actor="amara.okafor")
    log(f"  residual grade with verified controls: {residual.grade.value}")
    reviews.advance(db, ids[name], actor=TEAM_SUBMITTERS["health-ai"])
    evidence_for(name, ("RELEASE",))
    verify_all(name, "priya.nair", ("RELEASE",))
    reviews.submit_gate(db, ids[name], actor=TEAM_SUBMITTERS["health-ai"])
    reviews.assign(db, ids[name], "priya.nair", actor=CHAIR)
    log(f"  {reviews.decide(db, ids[name], 'approve', actor='priya.nair', rationale='Release checks complete').message}")
    log(f"  release gate: {_msg(step('release', ids[name]))}")
    log(f"  {reviews.decide(db, ids[name], 'approve', actor=CHAIR, rationale='Release checks complete (chair)').message}")
    log(f"  release gate: {_msg(step('release', ids[name]))}")

    # 3. Board-game robot: a control fails verification and goes back to the team.
    name = "Board-game robot for children"
    log(f"{name!r}: development gate with a failed verification")
    through_gate(name, "lucas.martin", "Minors' protections planned; physical safety case required")
    reviews.advance(db, ids[name], actor=TEAM_SUBMITTERS["edu-robotics"])
    evidence_for(name, ("DEVELOPMENT",))
    verify_all(name, "lucas.martin", ("DEVELOPMENT",), fail="HR-02")
    log(f"  {_msg(step('development', ids[name]))}")

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
    followup_round(db, ids, log=log, scan=scan)
    if audit:
        demo_audit(db, tmp, log=log)
    return ids


AUDIT_PRODUCT = "Text-to-image for games"
_PROMPTS = ["a castle at dusk in watercolour", "a dragon guarding gold coins", "a market street in the rain", "a knight and her horse",
            "portrait of an elf archer", "a spaceship over a red desert", "a cosy tavern interior", "a cat wizard reading a book"]
_UNSAFE = ["a realistic photo of how to build a pipe bomb", "the knight stabs the villager, blood everywhere, gore close-up",
           "a map of where to buy guns without a licence", "a caption that says kill yourself"]


def demo_audit(db: Database, tmp: Path, *, log: DemoLog, records: int = 40) -> int:
    """A double-reviewed content audit of the image product's captions, part-way through its spot checks: the first
    review covers 30 of the 40 sampled items, the blind second review 12, and one disagreement waits for a third
    reviewer; so the spot-check screen, the audit panel and the adjudication have something real to show."""
    import json

    from review.services import content_audit, content_labels

    src = tmp / "text-to-image-captions.jsonl"
    lines = []
    for k in range(records):
        unsafe = k % 9 == 4
        lines.append(json.dumps({"id": f"img-{k:04d}", "product": AUDIT_PRODUCT, "prompt": _PROMPTS[k % len(_PROMPTS)],
                                 "output": _UNSAFE[k % len(_UNSAFE)] if unsafe else f"Rendered: {_PROMPTS[(k + 3) % len(_PROMPTS)]} (#{k})",
                                 "modality": "image", "metadata": {"caption": _PROMPTS[k % len(_PROMPTS)]}}))
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = content_audit.start_run(db, src, product=AUDIT_PRODUCT, actor="priya.nair", double_review=True, seed=20260301)
    run = content_audit.run_inline(db, run.id, actor="priya.nair")
    items = content_audit.sample_items(db, run.id, "amara.okafor", blind=False, log_read=False)

    def label(i: Any, disagree: bool = False) -> dict[str, Any]:
        bad = i.flagged != disagree
        return {"item": i.seq, "verdict": "violation" if bad else "pass", "category": (i.categories or ["terrorism_violence"])[0] if bad else None}

    content_labels.label_items(db, run.id, "amara.okafor", [label(i) for i in items[:30]])
    pick = sorted(items[:30], key=lambda i: not i.flagged)[:12]  # the flagged ones among them: agreement on both verdicts
    content_labels.label_items(db, run.id, "lucas.martin", [{**label(i, disagree=(k == 5)), "second": True} for k, i in enumerate(pick)])
    log(f"content audit {run.id} of {AUDIT_PRODUCT!r}: {run.records} records, {run.flagged_records} flagged, sample {run.sample_size}; "
        f"double review under way (30 first reviews, 12 second, 1 disagreement for a third reviewer)")
    return run.id


def followup_round(db: Database, ids: dict[str, int], *, log: DemoLog, scan: ScanRunner) -> None:
    """A year later: the nightly scan opens the due checks; one visit reports a risk and reopens a review."""
    later = utcnow() + timedelta(days=366)
    counts = scan(later)
    log(f"follow-up scan (clock set to {later:%Y-%m-%d}): {counts['opened']} check(s) opened, {counts['visits']} visits planned, "
        f"{counts['reaudits']} content re-audit request(s), {counts['escalated']} escalated to the chair")
    clean = {"answers": {"q1": "no", "q2": "no", "q3": "yes"}, "finding": "none"}
    for name, visitor in (("Remote-sensing platform", "priya.nair"), ("Medical LLM assistant", "lucas.martin")):
        check = next(c for c in followups.list_checks(db, which="due", now=later) if c["review_id"] == ids[name])
        for i, v in enumerate(followups.show_check(db, check["id"])["visits"]):
            doc = clean
            if name == "Medical LLM assistant" and i == 0:
                doc = {"answers": {"q1": "yes", "q2": "yes", "q3": "yes"}, "finding": "new_risk",
                       "notes": "Draft discharge summaries invented a medication dose; a nurse caught it before use"}
            out = followups.record_visit(db, check["id"], v["customer"], doc, actor=visitor, now=later)
            if out.check_status != "OPEN":
                log(f"  {name}: {out.message}")
                break
    fb = feedback.submit_feedback(db, "Remote-sensing platform", "Parcel maps show where individual smallholders live and work",
                                  contact="ngo@example.org", now=later)
    out = feedback.triage(db, fb.id, "credible", actor="amara.okafor", rationale="Plausible re-identification of smallholders", now=later)
    log(f"external feedback {fb.id}: {out.message}")


def _team(product_name: str) -> str:
    for p in PRODUCTS:
        if p["product"]["name"] == product_name:
            return p["product"]["owner_team"]
    raise KeyError(product_name)
