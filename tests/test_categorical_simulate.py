"""The categorical simulator: agreement with the naive reference, exact sampler laws,
reproducibility, recording, and input validation.

Statistical comparisons are two-sided z-tests with |z| < Z_CRIT = 4.0 (false alarm 6.3e-5 per
comparison; about 60 comparisons in this file, so a family-wise rate below 4e-3), or
goodness-of-fit p-values above P_MIN = 1e-4, all at fixed seeds.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

import collapse_theory as ct
from collapse_theory import _samplers
from collapse_theory._stats import mean_difference_z, pooled_proportion_z
from collapse_theory.categorical import _numba as kernels
from tests import naive

Z_CRIT = 4.0
P_MIN = 1e-4


@numba.njit
def _draw_binomials(rng, n, p, size):
    out = np.empty(size, dtype=np.int64)
    for i in range(size):
        out[i] = _samplers.binomial(rng, n, p)
    return out


@numba.njit
def _draw_multinomials(rng, total, weights, size):
    k = weights.size
    states = np.argsort(-weights)
    suffix = np.empty(k)
    counts = np.zeros(k, dtype=np.int64)
    out = np.empty((size, k), dtype=np.int64)
    for i in range(size):
        kernels.multinomial(rng, total, weights, states, k, suffix, counts)
        out[i] = counts
    return out


def binomial_gof_pvalue(draws: np.ndarray, n: int, p: float, num_bins: int = 60) -> float:
    """Chi-square goodness of fit of Binomial(n, p) draws, on bins cut at the law's quantiles
    (exact bin probabilities from the CDF; bins with expected count < 5 are merged)."""
    edges = np.unique(st.binom.ppf(np.linspace(0, 1, num_bins + 1)[1:-1], n, p).astype(np.int64))
    upper = np.append(edges, n)  # bin b holds lower[b] < x <= upper[b]
    cdf = st.binom.cdf(upper, n, p)
    prob = np.diff(np.concatenate([[0.0], cdf]))
    observed = np.bincount(np.searchsorted(upper, draws), minlength=upper.size).astype(float)
    expected = prob * draws.size
    keep = expected >= 5
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    obs, exp = obs[exp > 0], exp[exp > 0]
    return float(st.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


@pytest.mark.parametrize(
    ("n", "p"),
    [
        (1, 0.5),
        (10, 0.3),
        (100, 0.05),
        (40, 0.24),
        (100, 0.3),
        (10_000, 0.0015),
        (10_000, 0.3),
        (50, 0.9),
        (10**6, 1e-7),
        (10**9, 0.4),
        (10**9, 2e-9),
    ],
)
def test_binomial_sampler_matches_binomial_law(n, p):
    draws = _draw_binomials(np.random.default_rng([7, n]), n, p, 100_000)
    assert draws.min() >= 0 and draws.max() <= n
    assert binomial_gof_pvalue(draws, n, p) > P_MIN
    sd = np.sqrt(n * p * (1 - p))
    z = (draws.mean() - n * p) / (sd / np.sqrt(draws.size))
    assert abs(z) < Z_CRIT


def test_binomial_sampler_edge_cases():
    rng = np.random.default_rng(0)
    assert np.all(_draw_binomials(rng, 0, 0.5, 10) == 0)
    assert np.all(_draw_binomials(rng, 10, 0.0, 10) == 0)
    assert np.all(_draw_binomials(rng, 10, 1.0, 10) == 10)


def test_multinomial_sampler_matches_multinomial_law():
    weights = np.array([0.15, 0.5, 0.35]) * 3.0  # unnormalised on purpose
    total = 6
    draws = _draw_multinomials(np.random.default_rng(3), total, weights, 40_000)
    assert np.all(draws.sum(axis=1) == total)
    rows, counts = np.unique(draws, axis=0, return_counts=True)
    cells = dict(zip(map(tuple, rows.tolist()), counts.tolist(), strict=True))
    support = [(a, b, total - a - b) for a in range(total + 1) for b in range(total + 1 - a)]
    pmf = np.array([st.multinomial.pmf(c, total, weights / weights.sum()) for c in support])
    observed = np.array([cells.get(c, 0) for c in support])
    big = pmf * draws.shape[0] >= 5
    obs = np.append(observed[big], observed[~big].sum())
    exp = np.append(pmf[big], pmf[~big].sum()) * draws.shape[0]
    assert st.chisquare(obs, exp).pvalue > P_MIN


REGIMES = {
    "replace": (ct.Replace(), {"regime": "replace"}),
    "mix": (ct.FreshData(0.2, "mix"), {"regime": "mix", "fraction": 0.2}),
    "split": (ct.FreshData(0.3, "split"), {"regime": "split", "fraction": 0.3}),
    "accumulate": (ct.Accumulate(), {"regime": "accumulate"}),
}


@pytest.mark.parametrize("name", list(REGIMES))
@pytest.mark.parametrize("pseudo_count", [0.0, 0.5])
def test_kernel_agrees_with_naive_reference(name, pseudo_count):
    regime, naive_kwargs = REGIMES[name]
    p0 = np.array([0.55, 0.25, 0.15, 0.05])
    sizes = ct.schedules.Linear(6, 1.0).sizes(8)
    fast = ct.categorical.simulate(
        p0,
        ct.schedules.Linear(6, 1.0),
        8,
        num_replicates=20_000,
        regime=regime,
        pseudo_count=pseudo_count,
        seed=11,
    )["p"]
    slow = naive.categorical_replicates(
        p0, sizes, 2_000, seed=12, pseudo_count=pseudo_count, **naive_kwargs
    )
    for generation in (1, 4, 8):
        h_fast = ct.categorical.heterozygosity(fast[generation])
        h_slow = ct.categorical.heterozygosity(slow[generation])
        assert abs(mean_difference_z(h_fast, h_slow)) < Z_CRIT
        for state in (0, 3):
            assert (
                abs(mean_difference_z(fast[generation][:, state], slow[generation][:, state]))
                < Z_CRIT
            )
            lost_fast = fast[generation][:, state] == 0
            lost_slow = slow[generation][:, state] == 0
            assert abs(pooled_proportion_z(lost_fast, lost_slow)) < Z_CRIT


def test_frequencies_are_valid_fits():
    p0 = [0.4, 0.3, 0.2, 0.1]
    run = ct.categorical.simulate(p0, 13, 30, num_replicates=600, seed=2)
    p = run["p"]
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    counts = p[1:] * 13
    np.testing.assert_allclose(counts, np.rint(counts), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(run["absorbed_at"], naive.first_absorption(p))
    absorbed = run["absorbed_at"]
    for r in np.flatnonzero(absorbed >= 0)[:50]:
        after = p[absorbed[r] :, r]
        assert np.all(after == after[0])


def test_accumulate_keeps_states_seen_in_the_first_batch():
    run = ct.categorical.simulate(
        [0.5, 0.3, 0.2], 10, 40, num_replicates=500, regime=ct.Accumulate(), seed=5
    )
    seen_first = run["p"][1] > 0
    assert np.all(run["p"][-1][seen_first] > 0)


def test_same_seed_same_arrays_for_any_threads_and_chunks():
    args = ([0.5, 0.2, 0.2, 0.1], 25, 20)
    runs = [
        ct.categorical.simulate(*args, num_replicates=1000, seed=99, num_threads=t, chunk_size=c)
        for t, c in [(1, 1), (2, 1), (3, 2), (2, 4)]
    ]
    for run in runs[1:]:
        np.testing.assert_array_equal(run["p"], runs[0]["p"])
        np.testing.assert_array_equal(run["absorbed_at"], runs[0]["absorbed_at"])
    other = ct.categorical.simulate(*args, num_replicates=1000, seed=100)
    assert not np.array_equal(other["p"], runs[0]["p"])


def test_blocks_do_not_depend_on_the_replicate_count():
    short = ct.categorical.simulate([0.5, 0.5], 10, 5, num_replicates=300, seed=4)
    long = ct.categorical.simulate([0.5, 0.5], 10, 5, num_replicates=1000, seed=4)
    np.testing.assert_array_equal(short["p"], long["p"][:, :300])


def test_seed_forms():
    seq = np.random.SeedSequence(8)
    a = ct.categorical.simulate([0.5, 0.5], 10, 5, num_replicates=50, seed=seq)
    b = ct.categorical.simulate(
        [0.5, 0.5], 10, 5, num_replicates=50, seed=np.random.SeedSequence(8)
    )
    np.testing.assert_array_equal(a["p"], b["p"])
    c = ct.categorical.simulate([0.5, 0.5], 10, 5, num_replicates=50, seed=np.random.default_rng(1))
    assert c["p"].shape == a["p"].shape
    fresh = ct.categorical.simulate([0.5, 0.5], 10, 5, num_replicates=50)
    replay = ct.categorical.simulate(
        [0.5, 0.5],
        10,
        5,
        num_replicates=50,
        seed=np.random.SeedSequence(fresh.metadata["seed"]["entropy"]),
    )
    np.testing.assert_array_equal(fresh["p"], replay["p"])


def test_record_selects_generations_without_changing_draws():
    args = ([0.6, 0.3, 0.1], 15, 12)
    full = ct.categorical.simulate(*args, num_replicates=300, seed=3)
    last = ct.categorical.simulate(*args, num_replicates=300, seed=3, record="last")
    some = ct.categorical.simulate(*args, num_replicates=300, seed=3, record=[12, 0, 5, 5])
    assert last["p"].shape == (1, 300, 3)
    np.testing.assert_array_equal(last.generations, [12])
    np.testing.assert_array_equal(some.generations, [0, 5, 12])
    np.testing.assert_array_equal(last["p"][0], full["p"][12])
    np.testing.assert_array_equal(some["p"], full["p"][[0, 5, 12]])
    np.testing.assert_array_equal(last["absorbed_at"], full["absorbed_at"])


def test_extreme_but_valid_inputs():
    one = ct.categorical.simulate([0.3, 0.7], 1, 3, num_replicates=100, seed=0)
    assert np.all(one["absorbed_at"] == 1)
    huge = ct.categorical.simulate(
        [0.5, 0.5 - 1e-300, 1e-300], 10**9, 20, num_replicates=64, seed=0
    )
    assert np.all(np.isfinite(huge["p"]))
    np.testing.assert_allclose(huge["p"][-1].sum(axis=1), 1.0, atol=1e-12)
    delta = ct.categorical.simulate([1.0, 0.0], 10, 3, num_replicates=4, seed=0)
    assert np.all(delta["absorbed_at"] == 0)
    zero = ct.categorical.simulate([0.5, 0.5], 10, 0, num_replicates=4, seed=0)
    assert zero["p"].shape == (1, 4, 2)


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"p0": [0.5, -0.1, 0.6]}, ValueError, "p0"),
        ({"p0": [0.5, np.nan, 0.5]}, ValueError, "p0"),
        ({"p0": [0.5, 0.6]}, ValueError, "sum to 1"),
        ({"p0": [[0.5, 0.5]]}, ValueError, "p0"),
        ({"p0": []}, ValueError, "p0"),
        ({"p0": "abc"}, TypeError, "p0"),
        ({"num_samples": 0}, ValueError, "num_samples"),
        ({"num_samples": 2.5}, TypeError, "num_samples"),
        ({"num_samples": "10"}, TypeError, "num_samples"),
        ({"num_samples": True}, TypeError, "num_samples"),
        ({"num_generations": -1}, ValueError, "num_generations"),
        ({"num_generations": 1.5}, TypeError, "num_generations"),
        ({"num_replicates": 0}, ValueError, "num_replicates"),
        ({"regime": "replace"}, TypeError, "regime"),
        ({"pseudo_count": -1.0}, ValueError, "pseudo_count"),
        ({"record": "some"}, ValueError, "record"),
        ({"record": [11]}, ValueError, "record"),
        ({"record": []}, ValueError, "record"),
        ({"backend": "torch"}, ValueError, "backend"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": "abc"}, TypeError, "seed"),
        ({"num_threads": 0}, ValueError, "num_threads"),
    ],
)
def test_bad_input_is_refused_clearly(kwargs, error, needle):
    arguments = {"p0": [0.5, 0.5], "num_samples": 10, "num_generations": 10, "num_replicates": 10}
    arguments.update(kwargs)
    with pytest.raises(error, match=needle):
        ct.categorical.simulate(**arguments)


@pytest.mark.parametrize(
    ("make", "error", "needle"),
    [
        (lambda: ct.FreshData(1.5), ValueError, "fraction"),
        (lambda: ct.FreshData(float("nan")), ValueError, "fraction"),
        (lambda: ct.FreshData(0.1, "bogus"), ValueError, "variant"),
    ],
)
def test_bad_regimes_are_refused(make, error, needle):
    with pytest.raises(error, match=needle):
        make()


def test_oversized_record_is_refused_before_allocating():
    with pytest.raises(ValueError, match="record 'last'"):
        ct.categorical.simulate(np.full(1000, 1e-3), 10, 1000, num_replicates=10_000)


@settings(max_examples=40, deadline=None)
@given(
    weights=hs.lists(hs.floats(0.0, 1.0), min_size=1, max_size=6).filter(lambda w: sum(w) > 0.01),
    num_samples=hs.integers(1, 40),
    num_generations=hs.integers(0, 12),
    num_replicates=hs.integers(1, 5),
    regime=hs.sampled_from(
        [ct.Replace(), ct.FreshData(0.25, "mix"), ct.FreshData(0.5, "split"), ct.Accumulate()]
    ),
    pseudo_count=hs.sampled_from([0.0, 0.1, 2.0]),
    seed=hs.integers(0, 2**32),
)
def test_fuzz_simulate_gives_valid_frequency_vectors(
    weights, num_samples, num_generations, num_replicates, regime, pseudo_count, seed
):
    p0 = np.array(weights) / np.sum(weights)
    run = ct.categorical.simulate(
        p0,
        num_samples,
        num_generations,
        num_replicates=num_replicates,
        regime=regime,
        pseudo_count=pseudo_count,
        seed=seed,
    )
    p = run["p"]
    assert p.shape == (num_generations + 1, num_replicates, p0.size)
    assert np.all(np.isfinite(p)) and np.all(p >= 0) and np.all(p <= 1 + 1e-12)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-9)
    assert np.all(p[:, :, p0 == 0] == 0) or pseudo_count > 0
    np.testing.assert_array_equal(run["absorbed_at"], naive.first_absorption(p))
