"""Train the offline classifier from the pack's labelled seed set.

    python -m review.domain.content.train_classifier [--seed-file F] [--out F] [--folds K]

Each seed line is ``{"text", "label", "group"}``; ``group`` names the source bundle or
template a line came from. Evaluation is grouped K-fold cross-validation: whole groups are
held out, so no held-out line shares a template/source with the training lines (group
``legacy``, the old templated set, is training-only and never scored). The out-of-fold
predictions fit the softmax temperature (calibration) and give the held-out report that is
stored in the weights. Then the model is refit on everything and written.

Detailed per-category precision/recall, threshold table, benign-set false-positive rate and
per-record cost: ``python -m review.domain.content.eval_classifier``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence, TypedDict

from review.domain.content.classifier import SAFE, ClassifierWeights, SoftmaxRegression, decide as _decide_p, features, train

PACK = Path(__file__).resolve().parents[3] / "policies" / "packs" / "default" / "content"
TRAIN_ONLY = {"legacy"}
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)

Row = tuple[str, str, str]  # (text, label, group) of a seed line


class HeldOut(TypedDict):
    """One out-of-fold prediction: a scored seed line and the logits of a model that never saw its group."""

    text: str
    label: str
    group: str
    logits: list[float]
    units: float
    min_evidence: float
    classes: list[str]


def load_seed(path: Path) -> list[Row]:
    """(text, label, group) triples; a line without ``group`` is its own group."""
    out: list[Row] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            obj = json.loads(line)
            out.append((str(obj["text"]), str(obj["label"]), str(obj.get("group") or f"line{n}")))
        except (ValueError, KeyError) as exc:
            raise SystemExit(f"{path}:{n}: expected JSON with text and label ({exc})") from None
    return out


def group_folds(rows: Sequence[Row], k: int) -> list[set[str]]:
    """Deterministic grouped folds: scored groups, largest first, each to the lightest fold."""
    sizes = Counter(g for _, _, g in rows if g not in TRAIN_ONLY)
    folds: list[set[str]] = [set() for _ in range(k)]
    load = [0] * k
    for g, n in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        j = min(range(k), key=lambda i: (load[i], i))
        folds[j].add(g)
        load[j] += n
    return [f for f in folds if f]


def out_of_fold(rows: Sequence[Row], k: int = 8, **train_kw: Any) -> list[HeldOut]:
    """Held-out logits for every scored row (its whole group was not in training)."""
    out: list[HeldOut] = []
    for fold in group_folds(rows, k):
        model = SoftmaxRegression(train([(t, l) for t, l, g in rows if g not in fold], **train_kw))
        for t, l, g in rows:
            if g in fold:
                feats, units = features(t, model.max_chars)
                out.append({"text": t, "label": l, "group": g, "logits": model.logits(feats), "units": units,
                            "min_evidence": model.min_evidence, "classes": model.classes})
    return out


def _softmax(scores: Sequence[float], temperature: float) -> list[float]:
    top = max(scores)
    e = [math.exp((s - top) / temperature) for s in scores]
    z = sum(e)
    return [v / z for v in e]


def fit_temperature(oof: Sequence[HeldOut]) -> float:
    """Temperature minimising held-out negative log-likelihood (grid search)."""
    best = (float("inf"), 1.0)
    for t in [0.4 + 0.05 * i for i in range(53)]:
        nll = 0.0
        for r in oof:
            p = _softmax(r["logits"], t)
            nll -= math.log(max(p[r["classes"].index(r["label"])], 1e-12))
        best = min(best, (nll / len(oof), round(t, 2)))
    return best[1]


def decide(r: HeldOut, temperature: float) -> tuple[str, float]:
    """Same decision as ``SoftmaxRegression.predict`` from stored logits."""
    classes = r["classes"]
    if r["units"] < r["min_evidence"]:
        return SAFE, 1.0
    return _decide_p(classes, _softmax(r["logits"], temperature))


def report(oof: Sequence[HeldOut], temperature: float, thresholds: Iterable[float] = THRESHOLDS) -> dict[str, Any]:
    """Per threshold: held-out benign false-positive rate, harmful recall (any category),
    per-category precision/recall (a flag counts for the predicted category)."""
    preds = [(r["label"], *decide(r, temperature)) for r in oof]
    cats = sorted({y for y, _, _ in preds if y != SAFE})
    n_safe = sum(1 for y, _, _ in preds if y == SAFE)
    n_harm = len(preds) - n_safe
    acc = sum(1 for y, lab, _ in preds if y == lab) / len(preds)
    table: dict[str, dict[str, Any]] = {}
    for th in thresholds:
        flag = [(y, lab if lab != SAFE and p >= th else SAFE) for y, lab, p in preds]
        fp = sum(1 for y, f in flag if y == SAFE and f != SAFE)
        caught = sum(1 for y, f in flag if y != SAFE and f != SAFE)
        per: dict[str, dict[str, float | None]] = {}
        for c in cats:
            tp = sum(1 for y, f in flag if y == c and f == c)
            npred = sum(1 for _, f in flag if f == c)
            ntrue = sum(1 for y, _ in flag if y == c)
            per[c] = {"precision": round(tp / npred, 3) if npred else None, "recall": round(tp / ntrue, 3), "n": ntrue}
        table[str(th)] = {"benign_fpr": round(fp / n_safe, 4), "benign_flagged": fp, "harmful_recall": round(caught / n_harm, 3),
                          "per_category": per}
    return {"n_scored": len(preds), "n_safe": n_safe, "n_harmful": n_harm, "groups": len({r["group"] for r in oof}),
            "argmax_accuracy": round(acc, 3), "temperature": temperature, "by_threshold": table}


def build(rows: Sequence[Row], k: int = 8, **train_kw: Any) -> tuple[ClassifierWeights, dict[str, Any]]:
    oof = out_of_fold(rows, k, **train_kw)
    temperature = fit_temperature(oof)
    held_out = report(oof, temperature)
    weights = train([(t, l) for t, l, _ in rows], temperature=temperature, **train_kw)
    weights["held_out"] = {"method": f"grouped {k}-fold CV (whole source/template groups held out)",
                           **{key: held_out[key] for key in ("n_scored", "n_safe", "n_harmful", "groups", "argmax_accuracy", "temperature")},
                           "by_threshold": {th: {key: v[key] for key in ("benign_fpr", "harmful_recall")}
                                            for th, v in held_out["by_threshold"].items()}}
    return weights, held_out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed-file", type=Path, default=PACK / "classifier_seed.jsonl")
    ap.add_argument("--out", type=Path, default=PACK / "classifier_nb.json")
    ap.add_argument("--folds", type=int, default=8)
    args = ap.parse_args(argv)
    rows = load_seed(args.seed_file)
    weights, held_out = build(rows, args.folds)
    print(json.dumps({"train": len(rows), "held_out": weights["held_out"]}, indent=1))
    args.out.write_text(json.dumps(weights, ensure_ascii=False, separators=(",", ":"), sort_keys=False), encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
