"""Train the offline classifier from the pack's labelled seed set.

    python -m review.domain.content.train_classifier [--seed-file F] [--out F]

Splits the seed set deterministically (every 5th example of each label is held out),
reports held-out accuracy, then refits on everything and writes the weights JSON.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from review.domain.content.classifier import NaiveBayes, train

PACK = Path(__file__).resolve().parents[3] / "policies" / "packs" / "default" / "content"


def load_seed(path: Path) -> list[tuple[str, str]]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            obj = json.loads(line)
            out.append((str(obj["text"]), str(obj["label"])))
        except (ValueError, KeyError) as exc:
            raise SystemExit(f"{path}:{n}: expected JSON with text and label ({exc})")
    return out


def split(examples):
    by_label = defaultdict(list)
    for ex in examples:
        by_label[ex[1]].append(ex)
    tr, te = [], []
    for label in sorted(by_label):
        for k, ex in enumerate(by_label[label]):
            (te if k % 5 == 4 else tr).append(ex)
    return tr, te


def evaluate(model: NaiveBayes, test) -> dict:
    correct = sum(1 for text, label in test if model.predict(text)[0] == label)
    harmful_as_safe = sum(1 for t, l in test if l != "safe" and model.predict(t)[0] == "safe")
    safe_as_harmful = sum(1 for t, l in test if l == "safe" and model.predict(t)[0] != "safe")
    return {"n": len(test), "accuracy": correct / len(test), "harmful_missed": harmful_as_safe,
            "safe_flagged": safe_as_harmful,
            "n_harmful": sum(1 for _, l in test if l != "safe"), "n_safe": sum(1 for _, l in test if l == "safe")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed-file", type=Path, default=PACK / "classifier_seed.jsonl")
    ap.add_argument("--out", type=Path, default=PACK / "classifier_nb.json")
    args = ap.parse_args(argv)
    examples = load_seed(args.seed_file)
    tr, te = split(examples)
    report = evaluate(NaiveBayes(train(tr)), te)
    print(json.dumps({"train": len(tr), "held_out": report}, indent=2))
    weights = train(examples)
    weights["held_out"] = report
    args.out.write_text(json.dumps(weights, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
