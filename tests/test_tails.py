"""collapse_theory.tails: tail definitions, exact / Rao–Blackwell / Monte Carlo tail-mass laws,
rates and the tail-loss command (docs/theory.md §1.4, §1.9, §2.3, §2.9).

Statistical checks use fixed seeds and |z| < 4 with standard errors from the CLT
(probabilities: sqrt(p(1-p)/R)); a test making G comparisons at |z| < 4 has a false-alarm rate
below G * 6.3e-5.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy.special import ndtr
from scipy.stats import binom

import collapse_theory as ct
from collapse_theory._stats import se_trusted, top_share
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.categorical import zipf
from collapse_theory.cli import main
from collapse_theory.tails import (
    CategoricalTail,
    GaussianTail,
    MixtureTail,
    average_rate,
    categorical_exact,
    categorical_monte_carlo,
    crossing_generation,
    gaussian_monte_carlo,
    gaussian_rao_blackwell,
    mixture_monte_carlo,
    tail_rates,
)
from collapse_theory.tails.curves import curve_from_samples
from collapse_theory.tails.table import default_grid, markdown, record_generations

Z_MAX = 4.0


def z_prob(p_mc: np.ndarray, p_ref: np.ndarray, num: int, se_ref: np.ndarray | float = 0.0):
    """z of Monte Carlo frequencies against reference probabilities (SE from the reference)."""
    se = np.sqrt(np.maximum(p_ref * (1 - p_ref), 1.0 / num) / num + np.square(se_ref))
    return (p_mc - p_ref) / se


# ---------------------------------------------------------------------------------------------
# Tail definitions and their errors


def test_categorical_tail_threshold_and_lightest_mass():
    p0 = [0.5, 0.2, 0.1, 0.1, 0.06, 0.04]
    assert CategoricalTail(threshold=0.1).states(p0).tolist() == [4, 5]
    assert CategoricalTail(threshold=0.11).states(p0).tolist() == [2, 3, 4, 5]
    # Ties stay together: 0.04 + 0.06 = 0.1 fits in 0.15, the two 0.1 states do not.
    assert CategoricalTail(lightest_mass=0.15).states(p0).tolist() == [4, 5]
    assert CategoricalTail(lightest_mass=0.3).states(p0).tolist() == [2, 3, 4, 5]
    assert CategoricalTail(lightest_mass=0.3).mass(p0) == pytest.approx(0.3)
    # States with p0 = 0 never belong to the tail.
    assert CategoricalTail(threshold=0.01).states([0.7, 0.0, 0.299, 0.001]).tolist() == [3]


def test_categorical_tail_given_indices_is_the_tail_a_threshold_picks():
    """An explicit set of states (the language-model family's rarest types) gives the same
    states, and so the same exact law, as the threshold that selects them."""
    p0 = [0.5, 0.2, 0.1, 0.1, 0.06, 0.04]
    given = CategoricalTail(indices=(5, 4, 4))
    assert given.states(p0).tolist() == [4, 5] and given.indices == (4, 5)
    by_index = categorical_exact(p0, given, 20, [0, 5, 20])
    by_threshold = categorical_exact(p0, CategoricalTail(threshold=0.1), 20, [0, 5, 20])
    for field in ("mean", "median", "prob_below", "quantiles"):
        np.testing.assert_array_equal(getattr(by_index, field), getattr(by_threshold, field))


@pytest.mark.parametrize(
    ("kwargs", "p0", "match"),
    [
        ({"indices": (0, 1, 2)}, [0.5, 0.3, 0.2], "some, not all, of the states 0..2"),
        ({"indices": (3,)}, [0.5, 0.3, 0.2], "some, not all, of the states 0..2"),
        ({"threshold": 0.01}, [0.5, 0.3, 0.2], "threshold=0.01 leaves the tail empty"),
        ({"threshold": 0.2}, [0.5, 0.3, 0.2], "threshold=0.2 leaves the tail empty"),
        ({"threshold": 0.6}, [0.5, 0.3, 0.2], "threshold=0.6 puts every state in the tail"),
        (
            {"lightest_mass": 0.1},
            [0.5, 0.3, 0.2],
            "lightest_mass=0.1 is below the mass of the lightest",
        ),
        ({"lightest_mass": 0.6}, [0.25] * 4, "lightest_mass=0.6 is below the mass of the lightest"),
    ],
)
def test_categorical_tail_outside_support_is_refused(kwargs, p0, match):
    with pytest.raises(ValueError, match=match):
        CategoricalTail(**kwargs).states(p0)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: CategoricalTail(threshold=0.0), ValueError, "threshold must be > 0"),
        (lambda: CategoricalTail(threshold=1.5), ValueError, "threshold must be <= 1"),
        (lambda: CategoricalTail(lightest_mass=0.0), ValueError, "lightest_mass must lie"),
        (lambda: CategoricalTail(lightest_mass=1.0), ValueError, "lightest_mass must lie"),
        (lambda: CategoricalTail(), ValueError, "exactly one of threshold or lightest_mass"),
        (lambda: CategoricalTail(indices=()), ValueError, "indices must be state indices"),
        (lambda: CategoricalTail(indices=(-1, 2)), ValueError, "indices must be state indices"),
        (lambda: CategoricalTail(indices=(0.5,)), ValueError, "indices must be state indices"),
        (lambda: CategoricalTail(0.1, 0.1), ValueError, "exactly one"),
        (lambda: CategoricalTail(threshold="0.1"), TypeError, "threshold must be a real"),
        (lambda: GaussianTail(k=0.0), ValueError, "k must be > 0"),
        (lambda: GaussianTail(k=-2), ValueError, "k must be > 0"),
        (lambda: GaussianTail(quantile=0.0), ValueError, "quantile must lie strictly"),
        (lambda: GaussianTail(quantile=1.0), ValueError, "quantile must lie strictly"),
        (lambda: GaussianTail(quantile=float("nan")), ValueError, "quantile must be finite"),
        (lambda: GaussianTail(k=3, quantile=0.1), ValueError, "exactly one of k or quantile"),
        (lambda: MixtureTail(k=0), ValueError, "k must be > 0"),
        (lambda: MixtureTail(quantile=1.2), ValueError, "quantile must lie strictly"),
    ],
)
def test_bad_tail_definitions(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_gaussian_tail_quantile_is_two_sided_k():
    tail = GaussianTail(quantile=0.1)
    assert tail.original_mass == pytest.approx(0.1, rel=1e-12)
    assert tail.width == pytest.approx(1.6448536269514722, rel=1e-12)
    assert GaussianTail(k=3).original_mass == pytest.approx(2 * ndtr(-3.0), rel=1e-14)
    # Mass of a shifted, narrower model (docs/theory.md §2.9 formula).
    m, v = 0.5, 0.25
    want = ndtr((m - 3.0) / 0.5) + ndtr((-3.0 - m) / 0.5)
    assert float(GaussianTail(k=3).mass(m, v)) == pytest.approx(want, rel=1e-14)


MIX0 = ct.gmm.Mixture([0.5, 0.5], [[-2.0], [2.0]], [[[1.0]], [[1.0]]])


def test_mixture_tail_sets():
    tail = MixtureTail(quantile=0.1)
    intervals = tail.intervals(MIX0)
    assert intervals[0][0] == -np.inf and intervals[-1][1] == np.inf
    assert tail.original_mass(MIX0) == pytest.approx(0.1, abs=1e-9)
    # The density is the same at every finite edge (a level set of f0).
    edges = np.array([x for pair in intervals for x in pair if np.isfinite(x)])
    density = 0.5 * (np.exp(-0.5 * (edges + 2) ** 2) + np.exp(-0.5 * (edges - 2) ** 2))
    assert np.ptp(density) < 1e-9 * density.max()
    # One component: the k-tail is the Gaussian k-tail, for any fitted model.
    one = ct.gmm.Mixture([1.0], [[0.3]], [[[2.0]]])
    g = GaussianTail(k=2.0)
    for mean, var in [(0.3, 2.0), (1.0, 0.5), (-4.0, 0.01)]:
        got = MixtureTail(k=2.0).mass(one, [1.0], [mean], [var])
        want = g.mass(mean, var, mean0=0.3, var0=2.0)
        assert float(got) == pytest.approx(float(want), rel=1e-10, abs=1e-300)
    with pytest.raises(ValueError, match="one-dimensional mixture0"):
        MixtureTail(quantile=0.1).intervals(ct.gmm.Mixture([1.0], [[0.0, 0.0]], [np.eye(2)]))


@settings(max_examples=15, deadline=None)
@given(
    hs.lists(hs.floats(1e-4, 1.0), min_size=2, max_size=12),
    hs.floats(-0.5, 1.5, allow_nan=False),
)
def test_fuzz_categorical_tail(weights, threshold):
    p0 = np.array(weights) / np.sum(weights)
    try:
        states = CategoricalTail(threshold=threshold).states(p0)
    except ValueError as error:
        assert "threshold" in str(error)
        return
    assert 0 < states.size < p0.size
    assert np.all(p0[states] < threshold)
    assert np.all(np.delete(p0, states) >= threshold)


@settings(max_examples=15, deadline=None)
@given(hs.lists(hs.floats(1e-4, 1.0), min_size=2, max_size=12), hs.floats(0.0, 1.0))
def test_fuzz_lightest_mass(weights, q):
    p0 = np.array(weights) / np.sum(weights)
    try:
        tail = CategoricalTail(lightest_mass=q)
        states = tail.states(p0)
    except ValueError as error:
        assert "lightest_mass" in str(error)
        return
    mass = p0[states].sum()
    assert mass <= q * (1 + 1e-9)
    rest = np.delete(p0, states)
    # The next lightest group would not fit, and every tail state is lighter than the rest.
    assert mass + p0[p0 == rest.min()].sum() > q * (1 - 1e-9)
    assert p0[states].max() < rest.min()


@settings(max_examples=8, deadline=None)
@given(
    hs.floats(0.1, 0.9),
    hs.floats(-3.0, 3.0),
    hs.floats(0.2, 2.0),
    hs.floats(0.01, 0.5),
)
def test_fuzz_mixture_quantile_mass(w, shift, sd, q):
    mix = ct.gmm.Mixture([w, 1 - w], [[0.0], [shift]], [[[1.0]], [[sd * sd]]])
    assert MixtureTail(quantile=q).original_mass(mix) == pytest.approx(q, abs=1e-8)


# ---------------------------------------------------------------------------------------------
# Exact categorical law (lumped chain) against a dense matrix and ct.categorical.tail_loss


def test_categorical_exact_matches_dense_lumped_chain():
    p0, m = zipf(12, 1.2), 15
    tail = CategoricalTail(threshold=0.05)
    gens = np.array([0, 1, 3, 8, 20])
    curve = categorical_exact(p0, tail, m, gens, eps=0.3)
    t0 = p0[tail.states(p0)].sum()
    matrix = ct.categorical.transition_matrix(m)
    law = binom.pmf(np.arange(m + 1), m, t0)
    fractions = np.arange(m + 1) / m
    for j, g in enumerate(gens[1:], start=1):
        dist = law @ np.linalg.matrix_power(matrix, g - 1)
        cdf = np.cumsum(dist)
        assert curve.mean[j] == pytest.approx(t0, abs=1e-12)  # martingale, §1.9
        assert curve.median[j] == fractions[np.searchsorted(cdf, 0.5 - 1e-12)]
        for level, value in zip((0.1, 0.9), curve.quantiles[:, j], strict=True):
            assert value == fractions[np.searchsorted(cdf, level - 1e-12)]
        assert curve.prob_below[j] == pytest.approx(dist[fractions < 0.3 * t0].sum(), abs=1e-12)
    reference = ct.categorical.tail_loss(p0, m, gens, 0.05)
    np.testing.assert_allclose(curve.median, reference.median_mass, atol=1e-15)
    np.testing.assert_allclose(curve.surviving, reference.expected_surviving, rtol=1e-10)
    # Scale drift: E[T(1-T)] decays by exactly 1 - 1/M per generation (§1.3).
    assert curve.scale_drift == pytest.approx(math.log1p(-1 / m), rel=1e-9)


# ---------------------------------------------------------------------------------------------
# Exact and Monte Carlo agree within their uncertainty


@pytest.fixture(scope="module")
def categorical_pair():
    p0, m = zipf(30, 1.2), 50
    tail = CategoricalTail(lightest_mass=0.2)
    gens = np.arange(0, 101, 5)
    exact = categorical_exact(p0, tail, m, gens, eps=0.25)
    mc = categorical_monte_carlo(p0, tail, m, gens, eps=0.25, num_replicates=4000, seed=11)
    return p0, tail, m, gens, exact, mc


def test_categorical_exact_and_monte_carlo_agree(categorical_pair):
    _, _, m, gens, exact, mc = categorical_pair
    r = mc.num_draws
    live = gens > 0
    z_mean = (mc.mean - exact.mean)[live] / mc.mean_se[live]
    z_surv = (mc.surviving - exact.surviving)[live] / mc.surviving_se[live]
    z_below = z_prob(mc.prob_below, exact.prob_below, r)[live]
    assert np.max(np.abs(z_mean)) < Z_MAX
    assert np.max(np.abs(z_surv)) < Z_MAX
    assert np.max(np.abs(z_below)) < Z_MAX
    # Medians through the distribution function: P(T <= exact median) and P(T < exact median)
    # from the exact law against the simulated frequencies.
    masses = mc.samples
    t0 = exact.initial_mass
    for j, g in enumerate(gens):
        if g == 0:
            continue
        law = ct.categorical.lumped_distribution(t0, m, int(g))
        med = exact.median[j]
        for prob_exact, hits in (
            (law.probabilities[law.fractions <= med + 1e-12].sum(), masses[j] <= med + 1e-12),
            (law.probabilities[law.fractions < med - 1e-12].sum(), masses[j] < med - 1e-12),
        ):
            assert abs(z_prob(hits.mean(), prob_exact, r)) < Z_MAX


def test_categorical_exact_and_monte_carlo_rates_agree(categorical_pair):
    *_, exact, mc = categorical_pair
    exact_rates = tail_rates(exact, fraction=0.25)
    mc_rates = tail_rates(mc, fraction=0.25, seed=1)
    assert exact_rates.rate_ci == (exact_rates.rate, exact_rates.rate)  # no sampling error
    assert exact_rates.rate > 0
    se = (mc_rates.rate_ci[1] - mc_rates.rate_ci[0]) / (2 * 1.96)
    assert abs(mc_rates.rate - exact_rates.rate) / se < Z_MAX
    lo, hi = mc_rates.half_life_ci
    width = hi - lo
    assert lo - width <= exact_rates.half_life <= hi + width


@pytest.fixture(scope="module")
def gaussian_pair():
    tail, m = GaussianTail(k=2.0), 20
    gens = np.arange(0, 31, 3)
    out = {}
    for est in ("unbiased", "mle"):
        rb = gaussian_rao_blackwell(tail, m, gens, estimator=est, num_paths=2000, seed=5)
        mc = gaussian_monte_carlo(tail, m, gens, estimator=est, num_replicates=10_000, seed=6)
        out[est] = (rb, mc)
    return tail, m, gens, out


@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
def test_gaussian_rao_blackwell_and_monte_carlo_agree(gaussian_pair, estimator):
    _, _, gens, out = gaussian_pair
    rb, mc = out[estimator]
    live = gens > 0
    z_mean = (mc.mean - rb.mean) / np.hypot(mc.mean_se, rb.mean_se)
    assert np.max(np.abs(z_mean[live])) < Z_MAX
    z_below = z_prob(mc.prob_below, rb.prob_below, mc.num_draws, rb.prob_below_se)
    assert np.max(np.abs(z_below[live])) < Z_MAX
    # Medians: the fraction of simulated masses below the Rao–Blackwell median is 1/2, up to
    # the binomial error of both (the RB median's own error, in probability, is <= 0.5/sqrt(N)).
    below = (mc.samples <= rb.median[:, None]).mean(axis=1)
    z_median = (below - 0.5) / math.sqrt(0.25 / mc.num_draws + 0.25 / rb.num_draws)
    assert np.max(np.abs(z_median[live])) < Z_MAX
    # Exact log-scale drift (docs/theory.md §2.3, §2.6) against the simulated one.
    assert abs(mc.scale_drift - rb.scale_drift) / mc.scale_drift_se < Z_MAX
    # Rates.
    rb_rates, mc_rates = tail_rates(rb, fraction=0.1, seed=2), tail_rates(mc, fraction=0.1, seed=3)
    se = math.hypot(*[(r.rate_ci[1] - r.rate_ci[0]) / 3.92 for r in (rb_rates, mc_rates)])
    assert abs(rb_rates.rate - mc_rates.rate) / se < Z_MAX


def test_gaussian_rao_blackwell_expected_tail_mass_theory_check():
    """docs/theory.md §2.9: M=10, n=20, E(3 sigma tail) = .0619 (vs original .0027)."""
    curve = gaussian_rao_blackwell(GaussianTail(k=3), 10, [0, 20], num_paths=20_000, seed=0)
    assert curve.mean[0] == pytest.approx(2 * ndtr(-3.0), rel=1e-12)
    assert abs(curve.mean[1] - 0.0619) / curve.mean_se[1] < Z_MAX
    reference = ct.gaussian.expected_tail_mass(3.0, 10, 20, num_paths=200_000, seed=1)
    se = math.hypot(curve.mean_se[1], 2 * curve.mean_se[1] * math.sqrt(20_000 / 200_000))
    assert abs(curve.mean[1] - float(reference)) / se < Z_MAX


# ---------------------------------------------------------------------------------------------
# The qualitative claims: rate ~ 1/M, MLE twice as fast, fresh data and accumulation stop it


def test_log_scale_drift_is_minus_one_over_m_and_twice_that_for_the_mle():
    for m in (10, 100, 1000):
        unbiased = gaussian_rao_blackwell(GaussianTail(k=2), m, [0, 2], num_paths=100, seed=0)
        mle = gaussian_rao_blackwell(
            GaussianTail(k=2), m, [0, 2], estimator="mle", num_paths=100, seed=0
        )
        # kappa_1 per generation = psi(k/2) - ln(k/2) ~ -1/k - 1/(3k^2), k = M - 1 (§2.3).
        k = m - 1
        assert unbiased.scale_drift == pytest.approx(-1 / k - 1 / (3 * k * k), rel=0.02)
        assert mle.scale_drift == pytest.approx(unbiased.scale_drift + math.log(k / m), rel=1e-12)
        assert 1.9 < mle.scale_drift / unbiased.scale_drift < 2.05


def test_replace_loses_the_tail_fresh_data_and_accumulate_do_not():
    p0, m = zipf(30, 1.2), 20
    tail = CategoricalTail(lightest_mass=0.2)
    gens = np.arange(0, 4 * m + 1, 4 * m // 10)
    r = 2000
    curves = {
        name: categorical_monte_carlo(
            p0, tail, m, gens, regime=regime, num_replicates=r, eps=0.01, seed=3
        )
        for name, regime in (
            ("replace", ct.Replace()),
            ("fresh", ct.FreshData(0.1)),
            ("accumulate", ct.Accumulate()),
        )
    }
    lost = {name: c.prob_below[-1] for name, c in curves.items()}  # P(T_n = 0) at n = 4M
    exact = categorical_exact(p0, tail, m, gens, eps=0.01)
    assert abs(z_prob(lost["replace"], exact.prob_below[-1], r)) < Z_MAX
    for name in ("fresh", "accumulate"):
        diff = lost["replace"] - lost[name]
        se = math.sqrt(
            (lost["replace"] * (1 - lost["replace"]) + lost[name] * (1 - lost[name])) / r
        )
        assert diff / se > 10
    # Accumulate: a tail seen in batch 1 is never lost (docs/theory.md §1.8): P(lost) stays at
    # P(lost at step 1) = (1 - T0)^M.
    t0 = exact.initial_mass
    assert abs(z_prob(lost["accumulate"], (1 - t0) ** m, r)) < Z_MAX
    # Rates: positive under replace; the median does not reach 0.1 T0 with fresh or accumulated
    # data.
    assert tail_rates(exact).rate > 0
    assert math.isnan(tail_rates(curves["accumulate"]).crossing)


def test_gaussian_fresh_and_accumulate_keep_the_tail():
    """P(T_n < T0/2) at n = 4M: high under replace, far lower with fresh or accumulated data,
    whose log scale no longer drifts (docs/theory.md §2.7, §2.8)."""
    tail, m, r = GaussianTail(quantile=0.1), 20, 2000
    gens = np.arange(0, 4 * m + 1, 8)
    halved = {}
    for name, regime in (
        ("replace", ct.Replace()),
        ("fresh", ct.FreshData(0.1)),
        ("accumulate", ct.Accumulate()),
    ):
        curve = gaussian_monte_carlo(
            tail, m, gens, regime=regime, eps=0.5, num_replicates=r, seed=4
        )
        halved[name] = curve.prob_below[-1]
        if name != "replace":
            assert abs(curve.scale_drift) / curve.scale_drift_se < Z_MAX
        else:
            assert curve.scale_drift < 0
    assert halved["replace"] > 0.5
    for name in ("fresh", "accumulate"):
        p1, p2 = halved["replace"], halved[name]
        assert (p1 - p2) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / r) > 10


@settings(max_examples=10, deadline=None)
@given(
    hs.lists(hs.floats(1e-3, 1.0), min_size=3, max_size=10),
    hs.integers(1, 40),
    hs.floats(0.05, 0.9),
)
def test_fuzz_categorical_exact_invariants(weights, m, q):
    p0 = np.array(weights) / np.sum(weights)
    tail = CategoricalTail(lightest_mass=q)
    try:
        states = tail.states(p0)
    except ValueError:
        return
    curve = categorical_exact(p0, tail, m, [0, 1, 3, 10])
    np.testing.assert_allclose(curve.mean, curve.initial_mass, atol=1e-10)  # martingale, §1.9
    assert np.all((curve.prob_below >= 0) & (curve.prob_below <= 1))
    assert np.all(curve.quantiles[0] <= curve.median) and np.all(curve.median <= curve.quantiles[1])
    assert curve.surviving[0] == states.size
    assert np.all(np.diff(curve.surviving) <= 1e-12)  # lost states never come back
    # eps T0 = 0.01 T0 < 1/M here, so P(T < eps T0) = P(T = 0), and 0 is absorbing.
    assert np.all(np.diff(curve.prob_below) >= -1e-12)


# ---------------------------------------------------------------------------------------------
# Rates


def test_crossing_and_average_rate():
    g = np.array([0, 10, 20, 30])
    # Log-linear between the bracketing generations: exact for an exponential decay...
    want = 10 + 10 * math.log(0.8 / 0.5) / math.log(0.8 / 0.4)
    assert crossing_generation(g, np.array([1.0, 0.8, 0.4, 0.1]), 0.5) == pytest.approx(want)
    decay = np.exp(-0.03 * g)
    assert crossing_generation(g, decay, 0.5) == pytest.approx(math.log(2) / 0.03, rel=1e-12)
    # ... and linear where the median reaches 0.
    assert crossing_generation(g, np.array([1.0, 0.8, 0.0, 0.0]), 0.2) == pytest.approx(17.5)
    assert math.isnan(crossing_generation(g, np.array([1.0, 0.9, 0.8, 0.7]), 0.5))
    # No crossing of 0.1 T0 by n = 90: the mean log-slope over the horizon, exactly 0.02.
    gg = np.arange(0, 100, 10)
    assert average_rate(gg, 0.3 * np.exp(-0.02 * gg), 0.3, 0.1) == pytest.approx(0.02, rel=1e-12)
    # A crossing: ln(1/f) / n_f, whatever the shape before it.
    dense = np.arange(0, 301)
    median = 0.3 * np.exp(-0.02 * dense)
    crossing = crossing_generation(dense, median, 0.03)
    assert crossing == pytest.approx(math.log(10) / 0.02, abs=0.01)
    assert average_rate(dense, median, 0.3, 0.1) == pytest.approx(math.log(10) / crossing)
    # A median that jumps to 0 has a rate: the crossing is where it jumps.
    jump = np.array([0.1, 0.1, 0.1, 0.0])
    assert average_rate(g, jump, 0.1, 0.1) == pytest.approx(math.log(10) / 29.0)


def test_exact_rates_do_not_depend_on_the_recorded_generations():
    """The exact curve's rates come from its median at every generation (issue: 0.069-0.077
    for one exact curve, depending on the recording grid, under a least-squares definition)."""
    p0, m = zipf(100, 1.1), 100
    tail = CategoricalTail(lightest_mass=0.1)
    every = categorical_exact(p0, tail, m, np.arange(0, 2 * m + 1))
    np.testing.assert_array_equal(every.median_every_generation, every.median)
    reference = tail_rates(every)
    assert reference.every_generation
    for grid in (
        record_generations(2 * m),
        np.arange(0, 2 * m + 1, 10),
        np.arange(0, 2 * m + 1, 20),
        [0, 7, 2 * m],
    ):
        curve = categorical_exact(p0, tail, m, grid)
        np.testing.assert_array_equal(curve.median_every_generation, every.median)
        rates = tail_rates(curve)
        assert (rates.rate, rates.half_life, rates.crossing) == (
            reference.rate,
            reference.half_life,
            reference.crossing,
        )
    assert reference.rate == pytest.approx(math.log(10) / reference.crossing)


def test_monte_carlo_means_carry_the_heavy_tail_diagnostic(categorical_pair):
    *_, exact, mc = categorical_pair
    np.testing.assert_array_equal(mc.mean_top_share, top_share(mc.samples, axis=1))
    assert np.all(se_trusted(mc.mean_top_share))  # masses in [0, 1]: light tails here
    assert mc.surviving_top_share.shape == mc.surviving.shape
    assert 0 < mc.scale_drift_top_share < 1
    assert exact.mean_top_share is None and math.isnan(exact.scale_drift_top_share)
    # A heavy-tailed sample: a few replicates carry the spread, and the table says so.
    heavy = np.random.default_rng(0).lognormal(0.0, 3.0, size=(2, 2000))
    heavy[0] = 1.0
    curve = curve_from_samples(np.array([0, 1]), heavy, 1.0, 0.01)
    assert curve.mean_top_share[1] > 0.6 and not se_trusted(curve.mean_top_share[1])
    rates = tail_rates(curve)
    table = ct.tails.table.TailLossTable(
        rows=[
            ct.tails.table._row(
                ct.tails.table.Setting("toy", "lognormal", "-", 10, "replace", 1, 2000, "toy"),
                curve,
                rates,
            )
        ],
        agreement=[],
        curves={},
        settings={},
        seconds=0.0,
    )
    row = markdown(table).splitlines()[2]
    assert "(SE untrusted)" in row and f"{curve.mean_top_share[1]:.2g}" in row


def test_tail_rates_errors():
    # Input errors are InputError (a ValueError) / InputTypeError (also a TypeError).
    curve = categorical_exact([0.9, 0.05, 0.05], CategoricalTail(threshold=0.1), 20, [0, 5, 10])
    with pytest.raises(InputError, match="fraction must lie strictly between 0 and 1"):
        tail_rates(curve, fraction=1.0)
    with pytest.raises(InputTypeError, match="curve must be a TailCurve"):
        tail_rates("curve")
    with pytest.raises(InputError, match="generations must include generation 0"):
        categorical_exact([0.9, 0.05, 0.05], CategoricalTail(threshold=0.1), 20, [1, 5])
    with pytest.raises(InputError, match="eps must lie strictly between 0 and 1"):
        categorical_exact([0.9, 0.05, 0.05], CategoricalTail(threshold=0.1), 20, [0, 5], eps=1)
    with pytest.raises(InputTypeError, match="tail must be a GaussianTail"):
        gaussian_rao_blackwell(CategoricalTail(threshold=0.1), 20, [0, 5])
    with pytest.raises(InputTypeError, match="tail must be a CategoricalTail"):
        categorical_exact([0.9, 0.1], GaussianTail(k=2), 20, [0, 5])
    with pytest.raises(InputError, match=r"threshold=0\.01 leaves the tail empty"):
        CategoricalTail(threshold=0.01).states([0.5, 0.3, 0.2])
    with pytest.raises(InputError, match="exactly one of k or quantile"):
        GaussianTail()


# ---------------------------------------------------------------------------------------------
# Reproducibility


def test_same_seed_same_curves():
    tail = GaussianTail(k=2)
    a = gaussian_rao_blackwell(tail, 10, [0, 5, 10], num_paths=300, seed=9)
    b = gaussian_rao_blackwell(tail, 10, [0, 5, 10], num_paths=300, seed=9)
    np.testing.assert_array_equal(a.median, b.median)
    np.testing.assert_array_equal(a.prob_below, b.prob_below)
    p0 = zipf(20, 1.2)
    c1 = categorical_monte_carlo(p0, CategoricalTail(lightest_mass=0.2), 10, [0, 5], seed=3)
    c2 = categorical_monte_carlo(p0, CategoricalTail(lightest_mass=0.2), 10, [0, 5], seed=3)
    np.testing.assert_array_equal(c1.quantiles, c2.quantiles)
    r1, r2 = tail_rates(a, seed=1), tail_rates(b, seed=1)
    assert repr(r1) == repr(r2)  # repr: NaN (no crossing) compares equal
    m1 = mixture_monte_carlo(MIX0, MixtureTail(quantile=0.1), 20, [0, 3], num_replicates=4, seed=2)
    m2 = mixture_monte_carlo(MIX0, MixtureTail(quantile=0.1), 20, [0, 3], num_replicates=4, seed=2)
    np.testing.assert_array_equal(m1.mean, m2.mean)


# ---------------------------------------------------------------------------------------------
# Command line


def test_cli_quick_writes_table_and_figures(tmp_path, capsys):
    assert main(["tail-loss", "--quick", "--replicates", "40", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| categorical | Zipf(1.1) K=100 | mle | 10 | replace | exact |" in out
    for name in (
        "tail_loss.md",
        "tail_loss.csv",
        "tail_loss.json",
        "tail_loss_replace.png",
        "tail_loss_regimes.pdf",
    ):
        assert (tmp_path / name).stat().st_size > 0
    rows = (tmp_path / "tail_loss.csv").read_text().splitlines()
    records = list(csv.DictReader(rows))
    methods = [(r["family"], r["method"]) for r in records]
    # one Monte Carlo row per setting of every family, plus the exact / Rao-Blackwell curves
    assert sum(method == "monte-carlo" for _, method in methods) == len(default_grid(quick=True))
    assert {("categorical", "exact"), ("gaussian", "rao-blackwell")} <= set(methods)
    assert {method for _, method in methods} <= {"monte-carlo", "exact", "rao-blackwell"}
    header = rows[0].split(",")
    assert {"mean_top_share", "drift_top_share", "rates_every_generation"} <= set(header)


def test_cli_errors_and_help(capsys, tmp_path):
    assert main(["tail-loss", "--replicates", "3"]) == 2
    err = capsys.readouterr().err
    assert "--replicates must be >= 10; got 3" in err
    assert main(["tail-loss", "--seed", "-1"]) == 2
    # --out: a missing parent is an error naming it, found before the run, and nothing is
    # created.
    missing = tmp_path / "no_such_dir" / "out"
    assert main(["tail-loss", "--quick", "--out", str(missing)]) == 2
    assert "no_such_dir" in capsys.readouterr().err
    assert not missing.parent.exists()
    with pytest.raises(SystemExit) as stop:
        main(["tail-loss", "--help"])
    assert stop.value.code == 0
    assert "Tail-loss rates over the grid" in capsys.readouterr().out


def test_sample_size_schedules_exact_and_monte_carlo_agree():
    """A growing schedule M_i = 10 + 5i: exact / Rao–Blackwell against Monte Carlo."""
    schedule = ct.schedules.Linear(10, 5)
    gens = np.arange(0, 31, 5)
    live = gens > 0
    p0 = zipf(20, 1.2)
    tail = CategoricalTail(lightest_mass=0.2)
    exact = categorical_exact(p0, tail, schedule, gens, eps=0.3)
    mc = categorical_monte_carlo(p0, tail, schedule, gens, eps=0.3, num_replicates=4000, seed=8)
    assert np.max(np.abs(z_prob(mc.prob_below, exact.prob_below, 4000)[live])) < Z_MAX
    z_surv = (mc.surviving - exact.surviving)[live] / mc.surviving_se[live]
    assert np.max(np.abs(z_surv)) < Z_MAX
    g = GaussianTail(k=2.0)
    rb = gaussian_rao_blackwell(g, schedule, gens, num_paths=1000, seed=1)
    mc = gaussian_monte_carlo(g, schedule, gens, num_replicates=4000, seed=2)
    z = z_prob(mc.prob_below, rb.prob_below, 4000, rb.prob_below_se)
    assert np.max(np.abs(z[live])) < Z_MAX
    assert abs(mc.scale_drift - rb.scale_drift) / mc.scale_drift_se < Z_MAX
