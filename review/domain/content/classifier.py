"""Offline content classifier: a multinomial logistic-regression (softmax) model over sparse
binary features of the folded match view, with an explicit ``safe`` class.

Features (see ``features``): Latin word unigrams and bigrams, CJK character 1-3-grams, and
Latin character 4-grams inside words (some robustness to inflection and split words). The
feature vector is scaled by ``1/sqrt(max(n_features, min_norm))``, so a text with only a
handful of features (a caption, "please answer") carries little total evidence: it cannot
reach a confident harmful score from one or two n-grams. On top of that, a hard minimum-
evidence rule: a text with fewer than ``min_evidence`` units (Latin words + CJK chars / 2)
is always ``safe`` for this scanner (the keyword and regex scanners still see it).
Probabilities are temperature-calibrated on held-out groups (``eval_classifier``).

Weights are JSON in the pack (trained by ``train_classifier``); no hub download, no numpy.
It is a backstop for the keyword library, not a replacement for a real moderation model.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, NotRequired, Sequence, TypedDict

from review.domain.content.normalize import fold_text, native

SAFE = "safe"
KIND = "softmax_lr_wordchar_v2"

_LATIN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def view(text: str, max_chars: int = 2000) -> str:
    return " ".join(fold_text(text[:max_chars]).split())


def features(text: str, max_chars: int = 2000) -> tuple[set[str], float]:
    """(binary feature set, evidence units) of ``text``."""
    t = view(text, max_chars)
    words = _LATIN.findall(t)
    feats: set[str] = set()
    add = feats.add
    prev = "^"
    for w in words:
        add("w" + w)
        add("b" + prev + " " + w)
        prev = w
        if len(w) > 4:
            p = " " + w + " "
            for i in range(len(p) - 3):
                add("c" + p[i:i + 4])
    cjk = 0
    for run in _CJK.findall(t):
        cjk += len(run)
        for i, ch in enumerate(run):
            add("z" + ch)
            if i + 1 < len(run):
                add("z" + run[i:i + 2])
                if i + 2 < len(run):
                    add("z" + run[i:i + 3])
    return feats, len(words) + cjk / 2


class ClassifierWeights(TypedDict):
    """The classifier weights file of a pack (``classifier_nb.json``), as ``train`` writes it."""

    kind: str
    version: str
    classes: list[str]
    bias: list[float]
    scale: float
    weights: dict[str, list[int]]  # feature -> one integer per class (times ``scale``)
    temperature: float
    min_norm: float
    min_evidence: float
    max_chars: int
    held_out: NotRequired[dict[str, Any]]  # the cross-validation summary ``train_classifier`` adds


class SoftmaxRegression:
    """The pack's classifier weights (kind ``softmax_lr_wordchar_v2``) as a calibrated softmax
    regression. (It was once named ``NaiveBayes``; the weights file never named the class.)"""

    def __init__(self, weights: Mapping[str, Any]):
        if weights.get("kind") != KIND:
            raise ValueError(f"unsupported classifier weights kind {weights.get('kind')!r}; "
                             "retrain with python -m review.domain.content.train_classifier")
        self.classes: list[str] = list(weights["classes"])
        if SAFE not in self.classes:
            raise ValueError("classifier weights need a 'safe' class")
        self.safe_index = self.classes.index(SAFE)
        self.bias: list[float] = [float(b) for b in weights["bias"]]
        self._bias_t = tuple(self.bias)
        #: each class's place in name order (``decide`` breaks a tie between harmful classes by name)
        self._rank = tuple(sorted(self.classes).index(c) for c in self.classes)
        self.scale = float(weights.get("scale", 1.0))
        # Weights as stored (integers times ``scale`` for trained packs): sums of integers
        # are exact, so the compiled path and this reference give identical logits.
        self.table: dict[str, list[float]] = {f: list(row) for f, row in weights["weights"].items()}
        self._keys = frozenset(self.table)
        self._ints = all(type(v) is int for row in self.table.values() for v in row)
        nat = native()
        self._model = nat.model_new(self.table, len(self.classes)) if nat is not None and self._ints else None
        self.temperature = float(weights.get("temperature", 1.0))
        self.min_norm = float(weights.get("min_norm", 1.0))
        self.min_evidence = float(weights.get("min_evidence", 0.0))
        self.version: str = str(weights.get("version", "0"))
        self.max_chars = int(weights.get("max_chars", 2000))

    def sums(self, feats: set[str]) -> list[float]:
        """Per-class sums of the weights of ``feats`` (exact for integer weights)."""
        present = feats & self._keys  # C-speed: only features the model has weights for
        if not present:
            return [0] * len(self.classes)
        cols = zip(*[self.table[f] for f in present], strict=True)
        return [sum(col) for col in cols] if self._ints else [math.fsum(col) for col in cols]

    def _logits(self, sums: Sequence[float], n_features: int) -> list[float]:
        norm = 1.0 / math.sqrt(max(n_features, self.min_norm))
        scale = self.scale
        return [b + (a * scale) * norm for b, a in zip(self.bias, sums, strict=True)]

    def logits(self, feats: set[str]) -> list[float]:
        return self._logits(self.sums(feats), len(feats))

    def scores(self, text: str) -> tuple[list[float], float]:
        """(logits, evidence units) of ``text``: compiled (hashed features, weight sums in C)
        when available, else from ``features``; the same numbers either way."""
        if self._model is not None:
            sums, n, units = native().model_sums(self._model, text, self.max_chars)  # type: ignore[union-attr]  # set only with native()
            return self._logits(sums, n), units
        feats, units = features(text, self.max_chars)
        return self.logits(feats), units

    def _proba(self, scores: list[float]) -> list[float]:
        inv_t = 1.0 / self.temperature
        top = max(scores)
        exp = [math.exp((s - top) * inv_t) for s in scores]
        z = 0.0
        for e in exp:  # left to right, as softmax_many adds (sum() compensates from Python 3.12 on)
            z += e
        return [e / z for e in exp]

    def predict_proba(self, text: str) -> dict[str, float]:
        logits, units = self.scores(text)
        p = self._proba(logits)
        if units < self.min_evidence:  # too little text to judge: all mass to safe
            p = [1.0 if k == self.safe_index else 0.0 for k in range(len(p))]
        return dict(zip(self.classes, p, strict=True))

    def predict(self, text: str) -> tuple[str, float]:
        """``(category, P(harmful))`` when the harmful classes together outweigh ``safe``
        (category = the most probable harmful class), else ``("safe", P(safe))``."""
        return decide(self.classes, list(self.predict_proba(text).values()))

    @property
    def native_model(self) -> object | None:
        """The compiled weight table for ``model_sums`` / ``fold_scan``, or None (the reference path)."""
        return self._model if native() is not None else None

    def predict_many(self, texts: list[str], rows: list[tuple[tuple[int, ...], int, float]] | None = None) -> list[tuple[str, float]]:
        """``[self.predict(t) for t in texts]``: the same numbers (the same operations in the same order), with the
        compiled sums of all texts in one call and no per-text method calls. ``rows``: those sums when the caller
        has them already (``fold_scan``)."""
        nat = native()
        if rows is None:
            if self._model is None or nat is None:
                return [self.predict(t) for t in texts]
            rows = nat.model_sums_many(self._model, texts, self.max_chars)
        bias, scale, min_norm, inv_t, min_ev = self.bias, self.scale, self.min_norm, 1.0 / self.temperature, self.min_evidence
        classes, safe = self.classes, self.safe_index
        if nat is not None:  # the same operations in C (softmax_many), ~10x faster than the loop below
            return [(classes[k], p) for k, p in nat.softmax_many(rows, self._bias_t, scale, min_norm, inv_t, min_ev, safe, self._rank)]
        one_hot = [1.0 if k == safe else 0.0 for k in range(len(classes))]
        exp_, sqrt_ = math.exp, math.sqrt
        out: list[tuple[str, float]] = []
        for sums, n, units in rows:
            norm = 1.0 / sqrt_(max(n, min_norm))  # as _logits, _proba, predict_proba and decide, inlined
            scores = [b + (a * scale) * norm for b, a in zip(bias, sums, strict=True)]
            top = max(scores)
            exp = [exp_((x - top) * inv_t) for x in scores]
            z = 0.0
            for e in exp:
                z += e
            p = [e / z for e in exp] if units >= min_ev else one_hot
            out.append(decide(classes, p))
        return out


def decide(classes: list[str], p: list[float]) -> tuple[str, float]:
    s = classes.index(SAFE)
    p_safe = p[s]
    if p_safe >= 0.5:
        return SAFE, p_safe
    k = max((i for i in range(len(classes)) if i != s), key=lambda i: (p[i], classes[i]))
    return classes[k], 1.0 - p_safe



def train(examples: list[tuple[str, str]], *, epochs: int = 20, lr: float = 0.5, l2: float = 1e-4,
          harm_weight: float = 1.0, min_df: int = 1, min_norm: float = 24.0, min_evidence: float = 3.0, keep: int = 4000,
          temperature: float = 1.0, version: str = "2", seed: int = 13) -> ClassifierWeights:
    """Fit softmax regression with AdaGrad + L2 (lazy, sparse). Features seen in fewer than
    ``min_df`` examples are dropped; the ``keep`` features with the largest weight norm are
    stored (as integers, ``scale`` 1e-2)."""
    import random

    classes = sorted({label for _, label in examples})
    if SAFE not in classes:
        raise ValueError("training set needs 'safe' examples")
    idx = {c: i for i, c in enumerate(classes)}
    safe_i = idx[SAFE]
    n = len(classes)
    feats = [features(t)[0] for t, _ in examples]
    df: dict[str, int] = {}
    for fs in feats:
        for f in fs:
            df[f] = df.get(f, 0) + 1
    data: list[tuple[list[str], float, int]] = []
    for fs, (_, label) in zip(feats, examples, strict=True):
        norm = 1.0 / math.sqrt(max(len(fs), min_norm))
        data.append(([f for f in fs if df[f] >= min_df], norm, idx[label]))
    W: dict[str, list[float]] = {}
    G: dict[str, list[float]] = {}
    b = [0.0] * n
    gb = [1e-8] * n
    rnd = random.Random(seed)
    order = list(range(len(data)))
    for _ in range(epochs):
        rnd.shuffle(order)
        for i in order:
            kept, x, y = data[i]
            s = list(b)
            for f in kept:
                row = W.get(f)
                if row is not None:
                    for k in range(n):
                        s[k] += row[k] * x
            top = max(s)
            e = [math.exp(v - top) for v in s]
            z = sum(e)
            g = [v / z for v in e]
            g[y] -= 1.0
            if y != safe_i and harm_weight != 1.0:
                g = [v * harm_weight for v in g]
            for k in range(n):
                gb[k] += g[k] * g[k]
                b[k] -= lr * g[k] / math.sqrt(gb[k])
            for f in kept:
                row = W.get(f)
                if row is None:
                    row = W[f] = [0.0] * n
                    G[f] = [1e-8] * n
                acc = G[f]
                for k in range(n):
                    gk = g[k] * x + l2 * row[k]
                    acc[k] += gk * gk
                    row[k] -= lr * gk / math.sqrt(acc[k])
    ranked = sorted(W.items(), key=lambda kv: (-sum(v * v for v in kv[1]), kv[0]))[:keep]
    return {
        "kind": KIND,
        "version": version,
        "classes": classes,
        "bias": [round(v, 4) for v in b],
        "scale": 0.01,
        "weights": {f: [int(round(v * 100)) for v in row] for f, row in sorted(ranked)},
        "temperature": temperature,
        "min_norm": min_norm,
        "min_evidence": min_evidence,
        "max_chars": 2000,
    }
