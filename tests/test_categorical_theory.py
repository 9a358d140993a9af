"""Tests of the categorical closed forms and exact chains (docs/theory.md §1).

Three kinds of checks:

- brute force: dense matrices, the full composition chain, scipy's pmfs (tests/naive.py);
- simulation: ``ct.categorical.simulate`` against the closed forms. The verify suite's checks
  (collapse_theory/categorical/checks.py, calibrated z-tests) are read from the session's quick
  report, not run again; the few comparisons that are not among them use |z| < Z_CRIT = 4.0, a
  two-sided false-alarm probability of 6.3e-5 each; seeds are fixed, so a run is reproducible;
- extremes, bad inputs and hypothesis fuzzing over declared domains.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

import collapse_theory as ct
from collapse_theory._stats import proportion_z
from tests import naive

C = ct.categorical
Z_CRIT = 4.0  # two-sided normal tail P(|Z| > 4) = 6.3e-5

P4 = np.array([0.5, 0.3, 0.15, 0.05])
P30 = np.arange(1, 31) ** -1.2
P30 = P30 / P30.sum()


# ---------------------------------------------------------------------------------------------
# brute force


def test_transition_matrix_matches_scipy():
    m = 7
    matrix = C.transition_matrix(m)
    for j in range(m + 1):
        np.testing.assert_allclose(matrix[j], binom.pmf(np.arange(m + 1), m, j / m), atol=1e-15)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-14)
    assert C.transition_matrix(1).tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_eigenvalues_two_state_match_dense():
    m = 12
    values, mult = C.eigenvalues(m)
    dense = np.sort(np.linalg.eigvals(C.transition_matrix(m)).real)[::-1]
    assert np.all(mult == 1)
    assert np.max(np.abs(np.sort(values)[::-1] - dense)) < 1e-12


def test_eigenvalues_composition_chain_k3_m8():
    _comps, matrix = C.composition_chain(3, 8)
    assert matrix.shape == (45, 45)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-13)
    values, mult = C.eigenvalues(8, 3)
    assert int(mult.sum()) == 45
    expected = np.sort(np.repeat(values, mult))
    got = np.sort(np.linalg.eigvals(matrix).real)
    assert np.max(np.abs(got - expected)) < 1e-12


def test_eigenvalues_large_m_and_max_index():
    values, mult = C.eigenvalues(10**9, 4, max_index=3)
    m = 1e9
    np.testing.assert_allclose(values, [1.0, 1.0, 1 - 1 / m, (1 - 1 / m) * (1 - 2 / m)], rtol=1e-15)
    assert mult.tolist() == [1, 3, 6, 10]
    with pytest.raises(ValueError, match="max_index"):
        C.eigenvalues(10**9)


@pytest.mark.parametrize(
    ("p", "sizes"),
    [
        (0.37, [10] * 60),
        (0.0123, [50] * 120),
        (0.5, [200] * 150),
        (0.9, [7] * 40),
        (0.2, [5, 9, 20, 3, 40, 41, 41, 41, 100, 100, 7, 300, 300, 299]),
        (0.004, [400] * 60),
    ],
)
def test_banded_loss_matches_dense_iteration(p, sizes):
    dense = naive.lumped_loss_dense(p, sizes)
    schedule = ct.schedules.Explicit(sizes)
    prob, bound = C.lumped_loss_probability(p, schedule, np.arange(1, len(sizes) + 1))
    error = np.abs(prob - dense)
    assert np.all(bound <= 1e-12)
    assert np.all(error <= bound)
    # the constant-M path (mirror-symmetric kernel) agrees as well
    if len(set(sizes)) == 1:
        prob_c, bound_c = C.lumped_loss_probability(p, sizes[0], np.arange(1, len(sizes) + 1))
        assert np.all(np.abs(prob_c - dense) <= bound_c)
        np.testing.assert_allclose(C.loss_probability(p, sizes[0], len(sizes)), prob_c[-1])


def test_loss_one_generation_closed_form():
    p = np.array([0.0, 1e-3, 0.1, 0.5, 0.99, 1.0])
    np.testing.assert_allclose(C.loss_probability(p, 17, 1), (1 - p) ** 17, rtol=1e-13, atol=0)


def test_linear_schedule_and_generation_broadcasting():
    schedule = ct.schedules.Linear(5, 3.0)
    sizes = schedule.sizes(25)
    dense = naive.lumped_loss_dense(0.15, sizes)
    got = C.loss_probability([[0.15], [0.15]], schedule, [[3, 25]])
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got[0], dense[[2, 24]], atol=1e-13)


def test_composition_chain_brute_force_moments_and_survivors():
    p0 = np.array([0.55, 0.3, 0.15])
    comps, matrix = C.composition_chain(3, 6)
    for n in (1, 3, 7):
        dist = naive.composition_distribution(comps, matrix, p0, n)
        freq = comps / 6.0
        mean = dist @ freq
        cov = (freq * dist[:, None]).T @ freq - np.outer(mean, mean)
        got_mean, got_cov = C.moments(p0, 6, n)
        np.testing.assert_allclose(got_mean, mean, atol=1e-13)
        np.testing.assert_allclose(got_cov, cov, atol=1e-13)
        survivors = dist @ np.count_nonzero(comps, axis=1)
        np.testing.assert_allclose(C.expected_survivors(p0, 6, n), survivors, atol=1e-12)
        lost0 = dist @ (comps[:, 0] == 0)
        np.testing.assert_allclose(C.loss_probability(p0[0], 6, n), lost0, atol=1e-12)
        heterozygosity = dist @ (1 - np.sum(freq**2, axis=1))
        np.testing.assert_allclose(C.expected_heterozygosity(p0, 6, n), heterozygosity, atol=1e-13)


def test_absorption_bound_check_value_section_1_1():
    """§1.1: K=4, M=20, n=100: exact P(T_abs > 100) = 1.05e-2 <= bound 3.96e-2."""
    comps, matrix = C.composition_chain(4, 20)
    assert comps.shape[0] == 1771
    dist = naive.composition_distribution(comps, matrix, P4, 100)
    exact = dist @ (np.count_nonzero(comps, axis=1) >= 2)
    bound = float(C.absorption_bound(P4, 20, 100))
    assert round(float(exact), 4) == 0.0105
    assert round(bound, 4) == 0.0396
    assert exact <= bound


def test_absorption_time_exact_matches_dense_and_check_values():
    for m, p in [(10, 0.5), (13, 0.21), (40, 0.777)]:
        got = C.absorption_time([p, 1 - p], m, method="exact")
        assert got.method == "exact"
        assert abs(got.mean - naive.absorption_time_dense(p, m)) < 1e-10 * got.mean
    for m, ratio in [(10, 0.908), (50, 0.974), (200, 0.992)]:
        result = C.absorption_time([0.5, 0.5], m)
        assert result.method == "exact"
        assert round(result.mean / result.diffusion, 3) == ratio
    four = C.absorption_time(P4, 20)
    assert four.method == "exact" and round(four.mean, 3) == 29.757
    assert round(C.absorption_time(P4, 20, method="diffusion").mean, 2) == 31.32
    big = C.absorption_time(P4, 200)  # 1373701 compositions: auto falls back to Littler
    assert big.method == "diffusion" and round(big.mean, 2) == 313.25


def test_check_values_section_1_3_to_1_9():
    # §1.3
    assert round(float(C.expected_heterozygosity(P4, 20, 10)), 5) == 0.38020
    _, cov = C.moments(P4, 20, 10)
    np.testing.assert_array_equal(np.round(np.diag(cov), 5), [0.10032, 0.08427, 0.05116, 0.01906])
    # §1.4
    np.testing.assert_array_equal(
        np.round(C.expected_survivors(P30, 50, [1, 5, 20]), 3), [16.159, 8.493, 3.784]
    )
    rare = P30[-1]
    assert round(float(C.loss_probability(rare, 50, 20)), 4) == 0.9732
    assert round(float(C.loss_probability(rare, 50, 20, method="galton-watson")), 4) == 0.9751
    assert round(float(C.loss_probability(rare, 50, 20, method="feller")), 4) == 0.9729
    # §1.7
    p3 = [0.6, 0.3, 0.1]
    _, mix = C.stationary_moments(p3, 40, ct.FreshData(0.1))
    np.testing.assert_array_equal(np.round(np.diag(mix), 5), [0.02854, 0.02497, 0.01070])
    _, split = C.stationary_moments(p3, 40, ct.FreshData(0.1, "split"))
    np.testing.assert_array_equal(np.round(np.diag(split), 5), [0.02824, 0.02471, 0.01059])
    # §1.8
    _, acc = C.moments([0.3, 0.7], 20, 100, ct.Accumulate())
    assert round(0.21 - acc[0, 0], 5) == 0.19325
    # §1.9
    tl = C.tail_loss(P30, 50, 20, 0.02)
    assert tl.tail_states.size == 20 and round(tl.initial_mass, 4) == 0.1955
    assert round(float(tl.prob_all_lost), 4) == 0.3548
    assert round(float(tl.median_mass), 2) == 0.12
    assert float(tl.expected_mass) == tl.initial_mass


def test_fresh_moments_converge_to_stationary():
    for fresh in (ct.FreshData(0.1), ct.FreshData(0.1, "split"), ct.FreshData(1.0, "split")):
        _, cov = C.moments([0.6, 0.3, 0.1], 40, 2000, fresh)
        _, stat = C.stationary_moments([0.6, 0.3, 0.1], 40, fresh)
        np.testing.assert_allclose(cov, stat, rtol=1e-10, atol=1e-15)


def test_schedule_moments_match_recursions():
    schedule = ct.schedules.Explicit([5, 8, 13, 21])
    _, cov = C.moments([0.5, 0.5], schedule, 4)
    expected = 1 - (1 - 1 / 5) * (1 - 1 / 8) * (1 - 1 / 13) * (1 - 1 / 21)
    assert abs(cov[0, 0] - 0.25 * expected) < 1e-15
    _, acc = C.moments([0.5, 0.5], schedule, 3, ct.Accumulate())
    t = np.cumsum([5, 8, 13])
    g = (1 - 5 / t[0] ** 2) * (1 - 8 / t[1] ** 2) * (1 - 13 / t[2] ** 2)
    assert abs(acc[0, 0] - 0.25 * (1 - g)) < 1e-15


# ---------------------------------------------------------------------------------------------
# simulation (the verify suite's checks, and CLT z-tests with |z| < Z_CRIT)


#: The simulation checks of docs/theory.md §1.2-1.9 at the parameters of the verify suite
#: (collapse_theory/categorical/checks.py). They are read from the session's quick verify report
#: (tests/conftest.py) instead of running the same Monte Carlo a second time.
VERIFY_CHECKS = {
    "heterozygosity_variance_covariance_1_2_1_3": [
        "categorical.heterozygosity",
        "categorical.variance_first",
        "categorical.variance_rarest",
        "categorical.covariance",
        "categorical.martingale_mean",
    ],
    "loss_and_survivors_1_4": [
        "categorical.survivors_n1",
        "categorical.survivors_n5",
        "categorical.survivors_n20",
        "categorical.loss_rarest",
    ],
    "fresh_stationary_1_7": [
        "categorical.fresh_mix_stationary_variance",
        "categorical.fresh_split_stationary_variance",
    ],
    "accumulate_1_8": ["categorical.accumulate"],
    "tail_loss_1_9": [
        "categorical.tail_all_lost",
        "categorical.tail_surviving",
        "categorical.tail_mass",
    ],
    "absorption_time_and_fixation_1_2_1_6": [
        "categorical.absorption_time",
        "categorical.fixation_first",
        "categorical.fixation_rarest",
    ],
}


@pytest.mark.parametrize("topic", list(VERIFY_CHECKS))
def test_simulation_agrees_with_the_closed_forms(topic, quick_report_seed0):
    rows = [quick_report_seed0[name] for name in VERIFY_CHECKS[topic]]
    assert [(row.name, row.passed, row.error) for row in rows] == [
        (row.name, True, None) for row in rows
    ]


def test_simulation_tail_mass_median_section_1_9():
    """The median of the tail mass (not among the verify checks): P(X <= m) >= 1/2 > P(X < m),
    each one-sided within Z_CRIT standard errors, and the lumped law's own median condition."""
    run = C.simulate(P30, 50, 20, num_replicates=20_000, record=[20], seed=15)
    tl = C.tail_loss(P30, 50, 20, 0.02)
    mass = run.at("p", 20)[:, tl.tail_states].sum(axis=1)
    median = float(tl.median_mass)
    se = 0.5 / np.sqrt(mass.size)
    assert np.mean(mass <= median + 1e-12) > 0.5 - Z_CRIT * se
    assert np.mean(mass < median - 1e-12) < 0.5 + Z_CRIT * se
    dist = C.lumped_distribution(tl.initial_mass, 50, 20)
    cdf_below = dist.probabilities[dist.fractions < median - 1e-12].sum()
    assert cdf_below < 0.5 <= cdf_below + dist.probabilities[np.isclose(dist.fractions, median)][0]


def test_simulation_loss_with_schedule():
    schedule = ct.schedules.Power(3, 1.0)
    run = C.simulate([0.08, 0.92], schedule, 12, num_replicates=20_000, record=[4, 12], seed=17)
    for g in (4, 12):
        lost = run.at("p", g)[:, 0] == 0
        assert abs(proportion_z(lost, float(C.loss_probability(0.08, schedule, g)))) < Z_CRIT


# ---------------------------------------------------------------------------------------------
# extremes


def test_extreme_sample_sizes_and_probabilities():
    # M = 1: everything is decided in the first generation
    assert C.expected_heterozygosity([0.5, 0.5], 1, [0, 1, 5]).tolist() == [0.5, 0.0, 0.0]
    np.testing.assert_allclose(C.loss_probability(0.3, 1, [0, 1, 10**6]), [0.0, 0.7, 0.7])
    assert C.absorption_time([0.5, 0.5], 1).mean == 1.0
    assert C.absorption_bound([0.5, 0.5], 1, [0, 1]).tolist() == [1.0, 0.0]
    # n = 10^6 does not underflow wrongly
    h = C.expected_heterozygosity([0.5, 0.5], 10**9, 10**6)
    assert abs(float(h) - 0.5 * np.exp(-1e-3 - 5e-13)) < 1e-15  # n log(1 - 1/M), not -n/M
    assert float(C.expected_heterozygosity([0.5, 0.5], 100, 10**6)) == 0.0
    # huge M, tiny p: exact loss probability at a cost that does not scale with M
    prob, bound = C.lumped_loss_probability(1e-300, 10**9, [1, 10**6])
    assert np.all(prob == 1.0) and np.all(bound < 1e-9)
    prob, bound = C.lumped_loss_probability(2e-9, 10**9, [1, 3])
    assert abs(prob[0] - np.exp(10**9 * np.log1p(-2e-9))) < 1e-14
    assert abs(prob[1] - C.loss_probability(2e-9, 10**9, 3, "galton-watson")) < 1e-3
    # p = 0 and p = 1
    np.testing.assert_array_equal(C.loss_probability([0.0, 1.0], 10**9, 7), [1.0, 0.0])
    # n = 10^6 on a small chain: absorbed long before, the answer is the fixation law
    np.testing.assert_allclose(C.loss_probability(0.3, 20, 10**6), 0.7, atol=1e-12)
    np.testing.assert_allclose(C.expected_survivors(P4, 20, 10**6), 1.0, atol=1e-11)
    # approximations stay finite
    for method in ("galton-watson", "feller"):
        value = C.loss_probability([1e-300, 0.5], 10**9, 10**6, method=method)
        assert np.all(np.isfinite(value)) and np.all((value >= 0) & (value <= 1))


def test_huge_exact_problem_is_refused_with_advice():
    with pytest.raises(ValueError, match="galton-watson"):
        C.loss_probability(0.5, 10**9, 1000)


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: C.transition_matrix(10**6), ValueError, "GiB"),
        (lambda: C.transition_matrix(2.0), TypeError, "num_samples"),
        (lambda: C.transition_matrix(0), ValueError, "num_samples"),
        (lambda: C.eigenvalues(10, 1), ValueError, "num_states"),
        (lambda: C.expected_heterozygosity([0.5, 0.6], 10, 1), ValueError, "p0"),
        (lambda: C.expected_heterozygosity([0.5, 0.5], 10, -1), ValueError, "generations"),
        (lambda: C.expected_heterozygosity([0.5, 0.5], 10, 1.5), TypeError, "generations"),
        (lambda: C.moments([0.5, 0.5], 10, 1, regime="replace"), TypeError, "regime"),
        (lambda: C.moments([np.nan, 1.0], 10, 1), ValueError, "p0"),
        (lambda: C.stationary_moments([0.5, 0.5], 10, ct.FreshData(0.0)), ValueError, "fraction"),
        (
            lambda: C.stationary_moments([0.5, 0.5], 10, ct.FreshData(0.01, "split")),
            ValueError,
            "fresh draws",
        ),
        (lambda: C.stationary_moments([0.5, 0.5], 10, ct.Replace()), TypeError, "fresh"),
        (
            lambda: C.stationary_moments(
                [0.5, 0.5], ct.schedules.Linear(5, 1.0), ct.FreshData(0.5)
            ),
            TypeError,
            "constant",
        ),
        (lambda: C.loss_probability(1.5, 10, 1), ValueError, "p must lie"),
        (lambda: C.loss_probability(0.5, 10, 1, method="poisson"), ValueError, "method"),
        (lambda: C.loss_probability(0.5, -3, 1), ValueError, "num_samples"),
        (lambda: C.expected_survivors([1.0], "10", 1), TypeError, "num_samples"),
        (lambda: C.tail_loss(P4, 10, 1, 0.0), ValueError, "threshold"),
        (lambda: C.tail_loss(P4, 10, 1, 1.5), ValueError, "threshold"),
        (lambda: C.tail_loss(P4, 10, 1, 0.01), ValueError, "empty"),
        (lambda: C.absorption_time(P4, 200, method="exact"), ValueError, "diffusion"),
        (lambda: C.absorption_time(P4, 20, method="fast"), ValueError, "method"),
        (lambda: C.composition_chain(10, 50), ValueError, "states"),
        (lambda: C.lumped_loss_probability(0.5, 10, 1, tol=0.5), ValueError, "tol"),
    ],
)
def test_bad_input_is_refused_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# hypothesis: declared domains

probability_vectors = (
    st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=2, max_size=6)
    .filter(lambda xs: sum(xs) > 1e-3)
    .map(lambda xs: np.array(xs) / np.sum(xs))
)
sample_sizes = st.integers(1, 60)
generation_lists = st.lists(st.integers(0, 80), min_size=1, max_size=5)


@settings(max_examples=30, deadline=None)
@given(probability_vectors, sample_sizes, generation_lists)
def test_fuzz_moments_and_heterozygosity(p0, m, gens):
    gens = np.sort(np.array(gens))
    for regime in (ct.Replace(), ct.FreshData(0.3), ct.FreshData(0.3, "split"), ct.Accumulate()):
        mean, cov = C.moments(p0, m, gens, regime)
        assert mean.shape == (gens.size, p0.size) and cov.shape == (gens.size, p0.size, p0.size)
        assert np.all(np.isfinite(cov))
        for c in cov:
            assert np.linalg.eigvalsh(c).min() > -1e-12
    h = C.expected_heterozygosity(p0, m, gens)
    assert np.all(np.isfinite(h)) and np.all(np.diff(h) <= 1e-15) and np.all(h >= 0)
    bound = C.absorption_bound(p0, m, gens)
    assert np.all((bound >= 0) & (bound <= 1))


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 1.0), sample_sizes, generation_lists)
def test_fuzz_loss_probabilities(p, m, gens):
    gens = np.sort(np.array(gens))
    for method in ("exact", "galton-watson", "feller"):
        value = C.loss_probability(p, m, gens, method=method)
        assert np.all(np.isfinite(value)) and np.all((value >= 0) & (value <= 1))
        assert np.all(np.diff(value) >= -1e-12)  # losing is permanent: monotone in n
    prob, bound = C.lumped_loss_probability(p, m, gens)
    assert np.all((prob >= 0) & (prob <= 1))
    assert np.all(bound <= 1e-12)


@settings(max_examples=30, deadline=None)
@given(probability_vectors, st.integers(1, 30), st.integers(0, 40))
def test_fuzz_survivors_tail_and_absorption(p0, m, n):
    survivors = C.expected_survivors(p0, m, [n, n + 5])
    assert 1.0 - 1e-9 <= survivors[1] <= survivors[0] + 1e-12 <= np.count_nonzero(p0) + 1e-9
    threshold = float(np.max(p0)) + 1e-9 if np.max(p0) < 1 else 1.0
    if np.any(p0 < threshold):
        tl = C.tail_loss(p0, m, [n], min(threshold, 1.0))
        assert 0.0 <= tl.prob_all_lost[0] <= 1.0 and 0.0 <= tl.median_mass[0] <= 1.0
    result = C.absorption_time(p0, m)
    assert np.isfinite(result.mean) and result.mean >= 0


def test_backward_pass_agrees_with_forward_propagation():
    """Constant M: the backward hitting-probability pass (all p at once) and the forward banded
    propagation (one p at a time) are independent algorithms; each is within its bound."""
    p = np.array([1e-4, 0.003, 0.05, 0.3, 0.5, 0.9])
    gens = np.array([1, 2, 17, 150, 400])
    prob, bound = ct.categorical.markov.lumped_loss_probability(p[:, None], 2000, gens[None, :])
    for i, value in enumerate(p):
        forward = ct.categorical.markov.propagate(float(value), 2000, gens)
        assert np.all(np.abs(prob[i] - forward.lost) <= bound[i] + forward.bound)
        assert np.all(bound[i] <= 1e-12)
