"""Knowledge base of known-bad exemplars, matched by near-duplicate detection.

Character shingles (default 5-grams) of the folded match view, MinHash signatures with
``num_perm`` universal hash functions over a CRC32 + BLAKE2 base hash (stable across
processes, unlike ``hash()``), LSH banding to find candidates, then the estimated Jaccard
similarity from the signatures. A cheap exact prefilter (shared shingles with any exemplar)
skips texts that cannot reach the threshold, so clean text costs one set intersection.
"""

from __future__ import annotations

import hashlib
import random
import zlib
from dataclasses import dataclass

from review.domain.content.normalize import fold_text

_PRIME = (1 << 61) - 1
_MAX = (1 << 32) - 1


def shingles(text: str, k: int) -> set[str]:
    t = " ".join(fold_text(text).split())
    if len(t) <= k:
        return {t} if t else set()
    return {t[i:i + k] for i in range(len(t) - k + 1)}


def _base_hash(s: str) -> int:
    b = s.encode("utf-8")
    return (zlib.crc32(b) << 32) | int.from_bytes(hashlib.blake2b(b, digest_size=4).digest(), "big")


class MinHasher:
    def __init__(self, num_perm: int = 64, seed: int = 1):
        rng = random.Random(seed)  # fixed seed: identical signatures in every process
        self.params = [(rng.randrange(1, _PRIME), rng.randrange(0, _PRIME)) for _ in range(num_perm)]

    def signature(self, shingle_set: set[str]) -> tuple[int, ...]:
        if not shingle_set:
            return tuple(_MAX for _ in self.params)
        hs = [_base_hash(s) for s in shingle_set]
        return tuple(min(((a * h + b) % _PRIME) & _MAX for h in hs) for a, b in self.params)


def jaccard_estimate(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    return sum(1 for x, y in zip(a, b) if x == y) / len(a)


@dataclass(frozen=True)
class KBMatch:
    exemplar_id: str
    category: str
    severity: int
    similarity: float


class KnowledgeBase:
    def __init__(self, exemplars, shingle: int = 5, num_perm: int = 64, bands: int = 16, threshold: float = 0.5):
        if num_perm % bands:
            raise ValueError(f"bands ({bands}) must divide num_perm ({num_perm})")
        self.k, self.bands, self.rows, self.threshold = shingle, bands, num_perm // bands, threshold
        self.hasher = MinHasher(num_perm)
        self.exemplars = list(exemplars)
        self.sigs: list[tuple[int, ...]] = []
        self.sizes: list[int] = []
        self.buckets: dict[tuple, list[int]] = {}
        self.all_shingles: set[str] = set()
        for i, ex in enumerate(self.exemplars):
            sh = shingles(ex.text, self.k)
            self.all_shingles |= sh
            sig = self.hasher.signature(sh)
            self.sigs.append(sig)
            self.sizes.append(len(sh))
            for band in range(self.bands):
                key = (band, sig[band * self.rows:(band + 1) * self.rows])
                self.buckets.setdefault(key, []).append(i)
        self.min_size = min(self.sizes) if self.sizes else 0

    def match(self, text: str) -> list[KBMatch]:
        """Exemplars whose estimated Jaccard similarity with ``text`` reaches the threshold."""
        if not self.exemplars or not text:
            return []
        sh = shingles(text, self.k)
        if not sh:
            return []
        shared = len(sh & self.all_shingles)
        # Jaccard(A, B) <= |A & B| / |A|; no exemplar can reach the threshold without
        # sharing enough shingles (with some slack for MinHash estimation error).
        if shared < 0.5 * self.threshold * min(len(sh), max(self.min_size, 1)):
            return []
        sig = self.hasher.signature(sh)
        cands: set[int] = set()
        for band in range(self.bands):
            cands.update(self.buckets.get((band, sig[band * self.rows:(band + 1) * self.rows]), ()))
        out = []
        for i in sorted(cands):
            sim = jaccard_estimate(sig, self.sigs[i])
            if sim >= self.threshold:
                ex = self.exemplars[i]
                out.append(KBMatch(ex.id, ex.category, ex.severity, round(sim, 4)))
        out.sort(key=lambda m: (-m.similarity, m.exemplar_id))
        return out
