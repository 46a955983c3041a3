"""Spot-check sampling maths (pure): sample size, stratified allocation, a seeded draw,
Wilson score interval, pass-rate verdict and Cohen's kappa."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Generic, Hashable, Mapping, Sequence, TypeVar

K = TypeVar("K", bound=Hashable)  # a stratum label
T = TypeVar("T")  # a drawn member: an id (``draw``) or a position (``draw_positions``)


def z_for(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def sample_size(population: int, *, min_sample: int | None = None, confidence: float = 0.95,
                margin: float | None = None, p: float = 0.5) -> int:
    """Items to review: the larger of ``min_sample`` and the size for ``margin`` at
    ``confidence`` (normal approximation, finite-population correction), never above the
    population. E.g. 95 % / 5 % on a large population -> 385."""
    if population < 0:
        raise ValueError(f"population must be >= 0, got {population}")
    if min_sample is None and margin is None:
        raise ValueError("give min_sample, margin, or both")
    n = 0
    if margin is not None:
        if not 0 < margin < 1:
            raise ValueError(f"margin must be between 0 and 1, got {margin}")
        z = z_for(confidence)
        n0 = z * z * p * (1 - p) / (margin * margin)
        n = math.ceil(n0 / (1 + (n0 - 1) / population)) if population else 0
    if min_sample is not None:
        n = max(n, min_sample)
    return min(n, population)


def allocate(strata: Mapping[K, int], total: int, min_per_stratum: int = 0) -> dict[K, int]:
    """Split ``total`` over strata (name -> size): proportional (largest remainder), with at
    least ``min_per_stratum`` for every non-empty stratum when the total allows it, never
    more than a stratum holds, and never above the population. Deterministic."""
    sizes = {k: max(0, int(v)) for k, v in strata.items()}
    population = sum(sizes.values())
    total = max(0, min(total, population))
    keys = sorted(sizes, key=repr)
    alloc = {k: 0 for k in keys}
    if total == 0:
        return alloc
    nonempty = [k for k in keys if sizes[k] > 0]
    floor_need = {k: min(min_per_stratum, sizes[k]) for k in nonempty}
    if sum(floor_need.values()) > total:  # cannot give everyone the minimum: spread evenly
        left = total
        while left:
            for k in sorted(nonempty, key=lambda k: (-sizes[k], repr(k))):
                if left and alloc[k] < floor_need[k]:
                    alloc[k] += 1
                    left -= 1
        return alloc
    alloc.update(floor_need)
    left = total - sum(alloc.values())
    room = {k: sizes[k] - alloc[k] for k in nonempty}
    while left > 0:
        cap = sum(room.values())
        if cap == 0:
            break
        shares = {k: left * room[k] / cap for k in nonempty}
        given = 0
        for k in nonempty:
            add = min(room[k], int(shares[k]))
            alloc[k] += add
            room[k] -= add
            given += add
        left -= given
        if left > 0:  # largest remainders first
            for k in sorted(nonempty, key=lambda k: (-(shares[k] - int(shares[k])), repr(k))):
                if left and room[k] > 0:
                    alloc[k] += 1
                    room[k] -= 1
                    left -= 1
    return alloc


@dataclass(frozen=True)
class Sample(Generic[K, T]):
    seed: int
    allocation: dict[K, int]
    ids: dict[K, list[T]]  # stratum -> sorted list of drawn ids


def _stratum_seed(seed: int, stratum: Hashable) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}|{stratum!r}".encode()).digest()[:8], "big")


def draw(population_by_stratum: Mapping[K, Sequence[str]], total: int, *, seed: int,
         min_per_stratum: int = 0) -> Sample[K, str]:
    """Seeded, reproducible stratified draw: same seed and population -> same sample
    (ids are sorted inside each stratum before drawing, so input order does not matter)."""
    sizes = {k: len(v) for k, v in population_by_stratum.items()}
    alloc = allocate(sizes, total, min_per_stratum)
    ids: dict[K, list[str]] = {}
    for k, n in alloc.items():
        pool = sorted(population_by_stratum[k])
        ids[k] = sorted(random.Random(_stratum_seed(seed, k)).sample(pool, n))
    return Sample(seed, alloc, ids)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when n == 0."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes ({successes}) must be between 0 and n ({n})")
    z = z_for(confidence)
    phat = successes / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Verdict:
    passed: bool  # observed pass rate >= threshold
    rate: float
    lower: float
    upper: float
    lower_clears: bool  # Wilson lower bound >= threshold (the stricter reading)
    n: int
    threshold: float


def pass_verdict(passes: int, n: int, threshold: float = 0.90, confidence: float = 0.95) -> Verdict:
    lo, hi = wilson_interval(passes, n, confidence)
    rate = passes / n if n else 0.0
    return Verdict(n > 0 and rate >= threshold, rate, lo, hi, n > 0 and lo >= threshold, n, threshold)


def cohens_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa of two reviewers' labels; 1.0 when they agree on everything (even if
    only one label was used, where the textbook formula would divide by zero)."""
    if len(a) != len(b):
        raise ValueError(f"label lists differ in length ({len(a)} vs {len(b)})")
    n = len(a)
    if n == 0:
        raise ValueError("no labels")
    po = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    labels = set(a) | set(b)
    pe = sum((sum(1 for x in a if x == l) / n) * (sum(1 for y in b if y == l) / n) for l in labels)
    if pe >= 1.0:
        return 1.0 if po >= 1.0 else 0.0
    return (po - pe) / (1 - pe)


def draw_positions(sizes: Mapping[K, int], total: int, *, seed: int, min_per_stratum: int = 0) -> Sample[K, int]:
    """Like ``draw`` for populations too big to list: each stratum is ``range(size)`` (the
    caller maps position ``k`` to its k-th member in a fixed order, e.g. input order).
    Memory is O(sample), not O(population); same seed and sizes -> same positions."""
    alloc = allocate(sizes, total, min_per_stratum)
    ids = {k: sorted(random.Random(_stratum_seed(seed, k)).sample(range(max(0, int(sizes[k]))), n)) for k, n in alloc.items()}
    return Sample(seed, alloc, ids)
