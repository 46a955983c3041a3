"""`audit classifier evaluate`: the pack's softmax-regression classifier, its recall and false-positive rate."""

from __future__ import annotations

import json
from pathlib import Path

from review.cli.main import main

WEIGHTS = Path(__file__).resolve().parents[2] / "policies" / "packs" / "default" / "content" / "classifier_nb.json"


def test_evaluate_prints_recall_and_false_positive_rate(sqlite_db, capsys):
    assert main(["--database", sqlite_db.url, "--json", "audit", "classifier", "evaluate"]) == 0
    ev = json.loads(capsys.readouterr().out)
    weights = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    stored = weights["held_out"]["by_threshold"][str(ev["threshold"])]
    assert ev["threshold"] == 0.95 and ev["kind"] == "softmax_lr_wordchar_v2"
    assert (ev["held_out"]["recall"], ev["held_out"]["false_positive_rate"]) == (stored["harmful_recall"], stored["benign_fpr"])
    assert ev["held_out"]["harmful"] == 224 and ev["unseen"]["benign"] > 400 and 0 <= ev["unseen"]["recall"] <= 1
    assert main(["--database", sqlite_db.url, "audit", "classifier", "evaluate"]) == 0
    out = capsys.readouterr().out
    assert "softmax regression" in out and "recall (harmful)" in out and f"{stored['harmful_recall']:.1%} of 224" in out


def test_evaluate_refuses_a_pack_without_a_classifier(sqlite_db, tmp_path, capsys):
    from tests.content_audit.test_remote_scanners import make_pack

    pack = make_pack(tmp_path, None, classifier=None)
    assert main(["--database", sqlite_db.url, "audit", "classifier", "evaluate", "--pack", pack]) == 2
    assert "has no enabled classifier" in capsys.readouterr().err
