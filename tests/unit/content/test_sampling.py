import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from review.domain.sampling import allocate, cohens_kappa, draw, pass_verdict, sample_size, wilson_interval


def test_sample_sizes():
    assert sample_size(10**9, margin=0.05) == 385
    assert sample_size(10**9, margin=0.03) == 1068
    assert sample_size(10**9, min_sample=1000, margin=0.05) == 1000
    assert sample_size(500, margin=0.05) == 218
    assert sample_size(300, min_sample=1000) == 300
    with pytest.raises(ValueError):
        sample_size(10)


def test_wilson_known_values():
    lo, hi = wilson_interval(90, 100)
    assert math.isclose(lo, 0.8256, abs_tol=1e-4) and math.isclose(hi, 0.9448, abs_tol=1e-4)
    lo, hi = wilson_interval(0, 10)
    assert math.isclose(lo, 0.0, abs_tol=1e-12) and math.isclose(hi, 0.2775, abs_tol=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_verdict():
    v = pass_verdict(950, 1000, 0.90)
    assert v.passed and v.lower_clears
    v = pass_verdict(905, 1000, 0.90)
    assert v.passed and not v.lower_clears
    assert not pass_verdict(85, 100).passed


def test_kappa():
    assert cohens_kappa([1, 1, 0, 0], [1, 0, 0, 0]) == 0.5
    assert cohens_kappa(["ok"] * 5, ["ok"] * 5) == 1.0
    a = ["y"] * 20 + ["n"] * 15 + ["y"] * 5 + ["n"] * 10
    b = ["y"] * 20 + ["n"] * 15 + ["n"] * 5 + ["y"] * 10
    assert math.isclose(cohens_kappa(a, b), 0.4, abs_tol=1e-9)


strata_st = st.dictionaries(st.tuples(st.booleans(), st.sampled_from(["weapons", "privacy", "none", "sexual"])),
                            st.integers(0, 500), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(strata_st, st.integers(0, 2000), st.integers(0, 20))
def test_allocation_properties(strata, total, minimum):
    alloc = allocate(strata, total, minimum)
    pop = sum(strata.values())
    assert sum(alloc.values()) == min(total, pop)
    for k, n in alloc.items():
        assert 0 <= n <= strata[k]
    nonempty = [k for k, v in strata.items() if v > 0]
    if sum(min(minimum, strata[k]) for k in nonempty) <= min(total, pop):
        assert all(alloc[k] >= min(minimum, strata[k]) for k in nonempty)


@settings(max_examples=40, deadline=None)
@given(strata_st, st.integers(0, 500), st.integers(0, 2**32))
def test_draw_reproducible(strata, total, seed):
    pop = {k: [f"{k[0]}-{k[1]}-{i}" for i in range(n)] for k, n in strata.items()}
    s1 = draw(pop, total, seed=seed, min_per_stratum=5)
    s2 = draw({k: list(reversed(v)) for k, v in pop.items()}, total, seed=seed, min_per_stratum=5)
    assert s1 == s2 and s1.seed == seed
    for k, ids in s1.ids.items():
        assert set(ids) <= set(pop[k]) and len(ids) == s1.allocation[k]
