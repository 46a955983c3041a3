"""Offline content classifier: multinomial naive Bayes over character 2-3-grams of the
folded match view. Weights are JSON in the pack (trained by ``train_classifier``); no hub
download, no numpy. Small and honest: it is a backstop for the keyword library, not a
replacement for a real moderation model."""

from __future__ import annotations

import math
from collections import Counter

from review.domain.content.normalize import fold_text

SAFE = "safe"


def features(text: str, max_chars: int = 2000) -> Counter:
    t = " ".join(fold_text(text[:max_chars]).split())
    grams = Counter(map("".join, zip(t, t[1:])))
    grams.update(map("".join, zip(t, t[1:], t[2:])))
    return grams


class NaiveBayes:
    def __init__(self, weights: dict):
        if weights.get("kind") != "multinomial_nb_char23":
            raise ValueError(f"unsupported classifier weights kind {weights.get('kind')!r}")
        self.classes: list[str] = list(weights["classes"])
        self.prior: list[float] = list(weights["log_prior"])
        self.unknown: list[float] = list(weights["log_unknown"])
        self.table: dict[str, list[float]] = weights["log_likelihood"]
        self.version: str = str(weights.get("version", "0"))
        self.max_chars = int(weights.get("max_chars", 2000))

    def predict_proba(self, text: str) -> dict[str, float]:
        grams = features(text, self.max_chars)
        n = len(self.classes)
        scores = list(self.prior)
        table = self.table
        for g, c in grams.items():
            row = table.get(g)
            if row is None:
                continue  # unseen n-grams carry no evidence (vocabulary-restricted NB)
            for k in range(n):
                scores[k] += c * row[k]
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        z = sum(exp)
        return {cls: e / z for cls, e in zip(self.classes, exp)}

    def predict(self, text: str) -> tuple[str, float]:
        proba = self.predict_proba(text)
        label = max(self.classes, key=lambda c: (proba[c], c))
        return label, proba[label]


def train(examples: list[tuple[str, str]], alpha: float = 0.5, vocab_size: int = 6000, version: str = "1") -> dict:
    """Fit multinomial NB; keep the ``vocab_size`` most frequent n-grams."""
    classes = sorted({label for _, label in examples})
    doc_counts = Counter(label for _, label in examples)
    per_class: dict[str, Counter] = {c: Counter() for c in classes}
    total = Counter()
    for text, label in examples:
        f = features(text)
        per_class[label].update(f)
        total.update(f)
    vocab = [g for g, _ in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:vocab_size]]
    vset = set(vocab)
    denom = {c: sum(v for g, v in per_class[c].items() if g in vset) + alpha * len(vocab) for c in classes}
    n_docs = len(examples)
    table = {g: [round(math.log((per_class[c][g] + alpha) / denom[c]), 4) for c in classes] for g in vocab}
    return {
        "kind": "multinomial_nb_char23",
        "version": version,
        "classes": classes,
        "log_prior": [round(math.log(doc_counts[c] / n_docs), 4) for c in classes],
        "log_unknown": [round(math.log(alpha / denom[c]), 4) for c in classes],
        "log_likelihood": table,
        "max_chars": 2000,
    }
