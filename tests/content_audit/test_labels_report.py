"""Spot-check labelling, segregation of duties, verdict with Wilson interval, kappa, missed-keyword
suggestions and the Markdown/HTML report."""

from __future__ import annotations

import pytest

from review.domain.sampling import cohens_kappa, wilson_interval
from review.errors import Conflict, Forbidden, InvalidInput
from review.services import content_audit as ca
from review.services import content_labels as cl
from review.services import content_report as cr
from tests.content_audit.conftest import PRODUCT, add_product, write_corpus

A, B = "amara.okafor", "lucas.martin"


@pytest.fixture
def scanned(audit_db, tmp_path):
    path = write_corpus(tmp_path / "in.jsonl", 60, every=6)
    run = ca.start_run(audit_db, path, product=PRODUCT, actor=A, chunk_lines=25, seed=3)
    return audit_db, ca.run_inline(audit_db, run.id)


def test_label_verdict_and_kappa(scanned):
    db, run = scanned
    items = ca.sample_items(db, run.id, A, mask=False)  # the spans against the text as written
    assert len(items) == run.sample_size == 60
    flagged = [i for i in items if i.flagged]
    assert flagged and all(i.spans for i in flagged)
    sp = flagged[0].spans[0]
    assert getattr(flagged[0], sp.field)[sp.start:sp.end] == sp.matched
    # A labels everything: flagged -> violation, clean -> pass, except 3 clean ones called violations (missed)
    clean = [i for i in items if not i.flagged]
    missed = {i.seq for i in clean[:3]}
    for i in items:
        if i.flagged or i.seq in missed:
            cl.label_item(db, run.id, i.seq, A, "violation", category="illegal_cyber", severity=5)
        else:
            cl.label_item(db, run.id, i.seq, A, "pass")
    v = cr.verdict(db, run.id)
    passes = len(clean) - 3
    assert (v.labelled, v.passes, v.complete, v.missed) == (60, passes, True, 3)
    lo, hi = wilson_interval(passes, 60, 0.95)
    assert v.rate == pytest.approx(passes / 60) and (v.lower, v.upper) == pytest.approx((lo, hi))
    assert v.passed is (passes / 60 >= 0.90)
    assert v.kappa is None
    # blind second review by B on the first 10 items, disagreeing on two
    firsts = {i.seq: ("violation" if (i.flagged or i.seq in missed) else "pass") for i in items}
    seconds = {}
    for seq in sorted(firsts)[:10]:
        verdict = firsts[seq] if seq > 2 else ("pass" if firsts[seq] == "violation" else "violation")
        seconds[seq] = verdict
        blind = ca.sample_items(db, run.id, B, blind=True)
        assert all(not x.other_labels and x.stratum is None for x in blind)
        cl.label_item(db, run.id, seq, B, verdict, category="weapons" if verdict == "violation" else None, second=True)
    v2 = cr.verdict(db, run.id)
    keys = sorted(seconds)
    assert v2.pairs == 10 and v2.disagreements == 2
    assert v2.kappa == pytest.approx(cohens_kappa([firsts[k] for k in keys], [seconds[k] for k in keys]))
    assert v2.passes == passes  # the verdict counts first-round labels


def test_label_rules(scanned, people):
    db, run = scanned
    with pytest.raises(Forbidden, match="lacks the role to label"):
        cl.label_item(db, run.id, 1, "admin", "pass")
    with pytest.raises(InvalidInput, match="violation needs --category"):
        cl.label_item(db, run.id, 1, A, "violation")
    with pytest.raises(InvalidInput, match="severity"):
        cl.label_item(db, run.id, 1, A, "violation", category="weapons", severity=9)
    cl.label_item(db, run.id, 1, A, "pass")
    with pytest.raises(Conflict, match="already labelled by amara.okafor; pass --second"):
        cl.label_item(db, run.id, 1, B, "pass")
    with pytest.raises(Forbidden, match="different reviewer"):
        cl.label_item(db, run.id, 1, A, "pass", second=True)
    relabel = cl.label_item(db, run.id, 1, A, "violation", category="weapons")  # own label: corrected
    assert (relabel.round, relabel.verdict, relabel.severity) == (1, "violation", 5)
    # all-or-nothing batch: a bad row leaves earlier rows unwritten
    with pytest.raises(InvalidInput, match="labels.csv:3"):
        cl.label_items(db, run.id, A, [{"item": 2, "verdict": "pass"}, {"item": 3, "verdict": "maybe"}],
                       where=lambda k: f"labels.csv:{k + 2}")
    assert cr.verdict(db, run.id).labelled == 1


def test_segregation_product_team_reviewer_cannot_label(audit_db, tmp_path):
    from review.services import users

    add_product(audit_db, "own-product", team="ethics-committee")
    users.add_user(audit_db, "insider", team="ethics-committee", roles="reviewer", actor="admin")
    path = tmp_path / "own.jsonl"
    path.write_text('{"id": "1", "output": "hello"}\n', encoding="utf-8")
    run = ca.run_inline(audit_db, ca.start_run(audit_db, path, product="own-product", actor="insider").id)
    with pytest.raises(Forbidden, match="segregation of duties"):
        cl.label_item(audit_db, run.id, 1, "insider", "pass")


def test_report_and_keyword_suggestions(scanned, tmp_path):
    db, run = scanned
    items = ca.sample_items(db, run.id, A)
    clean = [i for i in items if not i.flagged]
    missed = clean[:2]
    for i in items:
        if i in missed:
            cl.label_item(db, run.id, i.seq, A, "violation", category="misinformation")
        else:
            cl.label_item(db, run.id, i.seq, A, "pass" if not i.flagged else "violation",
                          category=None if not i.flagged else "weapons")
    sug = cr.suggest_keywords(db, run.id)
    assert sug and all(s["missed"] >= 1 for s in sug)
    words = {s["term"] for s in sug}
    assert words & set(" ".join(f"{m.prompt} {m.output}".lower() for m in missed).split()) or any("\u4e00" <= ch for w in words for ch in w)
    md, htm = cr.write_report(db, run.id, tmp_path / "out")
    text = md.read_text(encoding="utf-8")
    v = cr.verdict(db, run.id)
    assert f"# Content-safety audit run {run.id}: {PRODUCT}" in text
    assert f"{v.rate:.1%} ({v.passes}/{v.labelled})" in text and "Wilson interval" in text
    assert ("| Verdict | PASS |" if v.passed else "| Verdict | FAIL |") in text
    assert "## Findings by category and severity" in text and "| weapons |" in text
    assert "**" in text.split("## Examples")[1]  # highlighted spans
    assert sug[0]["term"] in text
    page = htm.read_text(encoding="utf-8")
    assert "<mark>" in page and "Wilson interval" in page and "<script" not in page
