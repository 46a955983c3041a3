"""Knowledge base of known-bad exemplars, matched by near-duplicate detection.

Character shingles (default 5-grams) of the folded match view, MinHash signatures with
``num_perm`` universal hash functions over a CRC32 + BLAKE2 base hash (stable across
processes, unlike ``hash()``), LSH banding to find candidates, then the estimated Jaccard
similarity from the signatures.

Below ``EXACT_MAX`` exemplars the similarity is exact: the Jaccard index of the shingle sets,
over the exemplars whose size allows a match (a MinHash estimate at 64 permutations
disagreed with the exact value on 154 of 4,000 test texts, and a small base costs little to
compare exactly). Above it, MinHash signatures and the LSH banding find the candidates.

An exact prefilter runs first, so the MinHash signature (the expensive part: num_perm hash
functions over every shingle, in Python) is computed only for texts that could match:
Jaccard(A, B) >= t needs t*|A| <= |B| <= |A|/t (sizes) and |A & B| >= t * max(|A|, |B|)
(overlap with that exemplar). Both bounds use t * SLACK, so a text whose true similarity is
a little under the threshold, but whose MinHash estimate could reach it, is still scored.
"""

from __future__ import annotations

import hashlib
import random
import zlib
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Iterable, Protocol

from review.domain.content.normalize import fold_text, native

_PRIME = (1 << 61) - 1
#: The prefilter keeps texts whose exact Jaccard bound reaches SLACK * threshold (MinHash
#: estimates vary by about 1/sqrt(num_perm) ~ 0.125 at 64 permutations).
SLACK = 0.75
_MAX = (1 << 32) - 1
#: Bases up to this many exemplars are compared by exact Jaccard; larger ones by MinHash + LSH.
EXACT_MAX = 2000


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
    return sum(1 for x, y in zip(a, b, strict=True) if x == y) / len(a)


@dataclass(frozen=True)
class KBMatch:
    exemplar_id: str
    category: str
    severity: int
    similarity: float


class Exemplar(Protocol):
    """What the knowledge base reads of an exemplar (``policies.content_schema.Exemplar``)."""

    @property
    def id(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def severity(self) -> int: ...
    @property
    def text(self) -> str: ...


class KnowledgeBase:
    def __init__(self, exemplars: Iterable[Exemplar], shingle: int = 5, num_perm: int = 64, bands: int = 16, threshold: float = 0.5,
                 exact_max: int = EXACT_MAX):
        if num_perm % bands:
            raise ValueError(f"bands ({bands}) must divide num_perm ({num_perm})")
        self.k, self.bands, self.rows, self.threshold = shingle, bands, num_perm // bands, threshold
        self.hasher = MinHasher(num_perm)
        self.exemplars = list(exemplars)
        self.exact = len(self.exemplars) <= exact_max
        self.sigs: list[tuple[int, ...]] = []
        self.sizes: list[int] = []
        self.buckets: dict[tuple[int, tuple[int, ...]], list[int]] = {}
        self.ex_shingles: list[set[str]] = []
        for i, ex in enumerate(self.exemplars):
            sh = shingles(ex.text, self.k)
            self.ex_shingles.append(sh)
            sig = self.hasher.signature(sh)
            self.sigs.append(sig)
            self.sizes.append(len(sh))
            for band in range(self.bands):
                key = (band, sig[band * self.rows:(band + 1) * self.rows])
                self.buckets.setdefault(key, []).append(i)
        # Exemplar indices sorted by shingle-set size, for the size bound (bisect).
        self.by_size = sorted(range(len(self.sizes)), key=self.sizes.__getitem__)
        self.sorted_sizes = [self.sizes[i] for i in self.by_size]
        nat = native()
        self._native = nat.kb_new(self.ex_shingles) if nat is not None and self.exemplars else None

    def could_match(self, sh: set[str]) -> bool:
        """Exact necessary condition for any exemplar to reach SLACK * threshold (no hashing)."""
        n = len(sh)
        t = self.threshold * SLACK
        lo = bisect_left(self.sorted_sizes, t * n)
        hi = bisect_right(self.sorted_sizes, n / t)
        for i in self.by_size[lo:hi]:
            if len(sh & self.ex_shingles[i]) >= t * max(n, self.sizes[i]):
                return True
        return False

    def exact_matches(self, sh: set[str]) -> list[tuple[int, float]]:
        """(exemplar index, Jaccard index) of every exemplar at or above the threshold (sizes bound the search)."""
        n, t = len(sh), self.threshold
        lo = bisect_left(self.sorted_sizes, t * n)
        hi = bisect_right(self.sorted_sizes, n / t)
        out = []
        for i in self.by_size[lo:hi]:
            inter = len(sh & self.ex_shingles[i])
            sim = inter / (n + self.sizes[i] - inter)
            if sim >= t:
                out.append((i, sim))
        return out

    @property
    def native_check(self) -> tuple[object, int, float] | None:
        """(compiled base, k, bound) for ``kb_could_match`` / ``fold_scan``, or None (the reference path)."""
        return (self._native, self.k, self.threshold * SLACK) if self._native is not None and native() is not None else None

    def match(self, text: str, could: bool | None = None) -> list[KBMatch]:
        """Exemplars whose Jaccard similarity with ``text`` reaches the threshold: exact for a
        base of up to ``EXACT_MAX`` exemplars, else estimated from the MinHash signatures.
        ``could``: the compiled prefilter's answer for ``text`` when the caller has it already (``fold_scan``)."""
        if not self.exemplars or not text:
            return []
        check = self.native_check if could is None else None
        if could is not None or check is not None:  # the same test on hashed shingles, no strings built
            if could is None:
                could = native().kb_could_match(check[0], text, check[1], check[2])  # type: ignore[union-attr,index]  # check implies native()
            if not could:
                return []
            sh = shingles(text, self.k)
        else:
            sh = shingles(text, self.k)
            if not sh or not self.could_match(sh):
                return []
        if not sh:
            return []
        out: list[KBMatch] = []
        if self.exact:
            found = self.exact_matches(sh)
        else:
            sig = self.hasher.signature(sh)
            cands: set[int] = set()
            for band in range(self.bands):
                cands.update(self.buckets.get((band, sig[band * self.rows:(band + 1) * self.rows]), ()))
            found = [(i, sim) for i in sorted(cands) if (sim := jaccard_estimate(sig, self.sigs[i])) >= self.threshold]
        for i, sim in found:
            ex = self.exemplars[i]
            out.append(KBMatch(ex.id, ex.category, ex.severity, round(sim, 4)))
        out.sort(key=lambda m: (-m.similarity, m.exemplar_id))
        return out
