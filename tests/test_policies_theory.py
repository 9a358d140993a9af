"""Exact laws under sampling policies (docs/theory.md §8): the §8 check values, the banded
two-state chain against dense matrices, the composition chain, and calibrated Monte Carlo
agreement of every exact function at several parameter points.

Statistical comparisons are two-sided z-tests at a family-wise false-alarm rate of 1e-3 over
the NUM_TESTS comparisons of this file (Bonferroni, :func:`_stats.z_threshold`), fixed seeds;
means of heavy-tailed quantities are compared only where the heavy-tail diagnostic
(:func:`_stats.se_trusted`) trusts the standard error.
"""

from __future__ import annotations

import numpy as np
import pytest

import collapse_theory as ct
from collapse_theory._stats import (
    mean_z,
    proportion_z,
    se_trusted,
    top_share,
    variance_z,
    z_threshold,
)
from collapse_theory.categorical.policy import (
    EXACT_COMPOSITIONS,
    EXACT_TWO_STATE,
    MONTE_CARLO,
    two_state_law,
)
from collapse_theory.policies import Compose, MinP, Temperature, TopK, TopP, Truncation
from tests import naive

NUM_TESTS = 150
Z = z_threshold(1e-3, NUM_TESTS)

TWO_STATE_POLICIES = {
    "temperature 0.9": (Temperature(0.9), [("temperature", 0.9)]),
    "temperature 1.3": (Temperature(1.3), [("temperature", 1.3)]),
    "top-k 1": (TopK(1), [("top_k", 1)]),
    "top-p 0.7": (TopP(0.7), [("top_p", 0.7)]),
    "min-p 0.5": (MinP(0.5), [("min_p", 0.5)]),
    "temperature then top-p": (
        Compose(Temperature(1.2), TopP(0.8)),
        [("temperature", 1.2), ("top_p", 0.8)],
    ),
}


# ---------------------------------------------------------------------------------------------
# §8 check values and exactness


def test_two_state_check_values():
    lost = ct.categorical.loss_probability(0.2, 30, [5, 25], policy=Temperature(0.9))
    np.testing.assert_array_equal(np.round(lost, 6), [0.273992, 0.906619])
    moments = ct.categorical.moments([0.2, 0.8], 30, 25, policy=Temperature(0.9))
    assert moments.method == EXACT_TWO_STATE
    assert round(float(moments.mean[0]), 6) == 0.058310
    _, cov = moments  # unpacks like the plain moments
    assert np.isclose(cov[0, 0], -cov[0, 1]) and cov[0, 0] > 0


@pytest.mark.parametrize("name", list(TWO_STATE_POLICIES))
@pytest.mark.parametrize(("p", "m"), [(0.2, 30), (0.55, 41)])
def test_banded_two_state_law_matches_dense_matrices(name, p, m):
    policy, stages = TWO_STATE_POLICIES[name]
    dense = naive.two_state_policy_dense(p, m, 30, stages)
    gens = np.array([1, 2, 7, 30])
    law = two_state_law(p, m, gens, policy)
    fractions = np.arange(m + 1) / m
    rows = dense[gens - 1]
    tolerance = law.error_bound + 1e-13
    assert np.all(np.abs(law.lost - rows[:, 0]) <= tolerance)
    assert np.all(np.abs(law.fixed - rows[:, -1]) <= tolerance)
    assert np.all(np.abs(law.mean - rows @ fractions) <= tolerance)
    assert np.all(np.abs(law.second_moment - rows @ fractions**2) <= tolerance)


def test_banded_window_follows_a_drifting_law():
    """A hot temperature drives a rare state's law from 0.05 M to M/2 and a cold one from 0.45 M
    to 0: the window of kernel rows moves (rows kept, new ones built on either side), and the law
    still equals the dense matrix product (M = 600)."""
    for p, tau in ((0.05, 1.5), (0.45, 0.8)):
        dense = naive.two_state_policy_dense(p, 600, 40, [("temperature", tau)])
        gens = np.array([2, 5, 10, 20, 40])
        law = two_state_law(p, 600, gens, Temperature(tau))
        fractions = np.arange(601) / 600
        rows = dense[gens - 1]
        tolerance = law.error_bound + 1e-12
        assert np.all(np.abs(law.lost - rows[:, 0]) <= tolerance)
        assert np.all(np.abs(law.mean - rows @ fractions) <= tolerance)
        assert np.all(np.abs(law.second_moment - rows @ fractions**2) <= tolerance)


def test_banded_chain_at_large_m_reduces_to_the_neutral_chain():
    """An identity policy run through the banded policy propagation (M = 20000) gives the
    neutral lumped chain's loss probabilities (computed by a different algorithm)."""
    identity = Compose(Temperature(1.0))
    gens = np.array([1, 10, 100])
    law = two_state_law(0.002, 20_000, gens, identity)
    neutral = ct.categorical.loss_probability(0.002, 20_000, gens)
    np.testing.assert_allclose(law.lost, neutral, rtol=1e-9, atol=1e-12)
    assert np.all(law.error_bound < 1e-11)


def test_composition_chain_with_two_states_matches_the_count_chain():
    from collapse_theory.categorical import policy as cp

    policy = Compose(Temperature(1.2), TopP(0.8))
    record = np.array([1, 3, 8])
    comps, laws = cp.composition_laws(np.array([0.3, 0.7]), 12, record, policy)
    law = two_state_law(0.3, 12, record, policy)
    for i, composition_law in enumerate(laws):
        assert np.isclose(composition_law[comps[:, 0] == 0].sum(), law.lost[i], atol=1e-14)
        assert np.isclose(composition_law @ (comps[:, 0] / 12), law.mean[i], atol=1e-14)


def test_identity_policy_is_the_plain_theory():
    p0 = [0.5, 0.3, 0.2]
    np.testing.assert_array_equal(
        ct.categorical.expected_survivors(p0, 20, [3, 9], policy=Temperature(1.0)),
        ct.categorical.expected_survivors(p0, 20, [3, 9]),
    )
    np.testing.assert_array_equal(
        ct.gaussian.expected_variance(10, [3, 9], estimator="mle", policy=Temperature(1.0)),
        ct.gaussian.expected_variance(10, [3, 9], estimator="mle"),
    )
    # a temperature next to 1 runs the policy formulas: they reduce to the plain closed forms
    near_one = Temperature(1.0 + 1e-13)
    for estimator in ("unbiased", "mle"):
        for name in ("expected_w2_squared", "expected_std", "variance_of_variance"):
            function = getattr(ct.gaussian, name)
            np.testing.assert_allclose(
                function(10, [0, 1, 3, 9], estimator=estimator, policy=near_one),
                function(10, [0, 1, 3, 9], estimator=estimator),
                rtol=1e-9,
                atol=1e-14,
            )


def test_gaussian_check_values():
    from collapse_theory.policies import truncated_normal_moments

    c2 = truncated_normal_moments(2.0)[0]
    assert round(c2, 6) == 0.773741
    np.testing.assert_allclose(
        ct.gaussian.expected_variance(10, [0, 1, 6], policy=Truncation(2.0)),
        [1.0, 1.0, c2**5],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        ct.gaussian.expected_variance(
            10, [0, 1, 6], var0=2.0, estimator="mle", policy=Truncation(2.0)
        ),
        2.0 * 0.9 ** np.array([0, 1, 6]) * c2 ** np.array([0, 0, 5]),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        ct.gaussian.expected_variance(10, [0, 1, 6], policy=Temperature(0.8)),
        [1.0, 1.0, 0.8**10],
        rtol=1e-12,
    )
    # a temperature scales sigma_n by tau^(n-1): Var, E sigma, kappa_1 follow exactly
    np.testing.assert_allclose(
        ct.gaussian.variance_of_variance(10, 6, policy=Temperature(0.8)),
        ct.gaussian.variance_of_variance(10, 6) * 0.8**20,
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        ct.gaussian.expected_std(10, 6, policy=Temperature(0.8)),
        ct.gaussian.expected_std(10, 6) * 0.8**5,
        rtol=1e-12,
    )
    k1 = ct.gaussian.log_variance_cumulants(10, 6, 2, policy=Temperature(0.8))
    plain = ct.gaussian.log_variance_cumulants(10, 6, 2)
    np.testing.assert_allclose(k1, plain + np.array([10 * np.log(0.8), 0.0]), rtol=1e-12)


def test_gaussian_policy_moments_reduce_to_the_plain_chain():
    from collapse_theory.gaussian.policy import policy_moments

    sizes, gens = np.full(8, 7.0), np.arange(9)
    for ddof, estimator in ((1, "unbiased"), (0, "mle")):
        v, d, q = policy_moments(sizes, gens, ddof, Compose(Temperature(1.0)))
        kw = dict(estimator=estimator)
        np.testing.assert_allclose(v, ct.gaussian.expected_variance(7, gens, **kw), rtol=1e-12)
        np.testing.assert_allclose(d, ct.gaussian.mean_squared_drift(7, gens, **kw), rtol=1e-12)
        np.testing.assert_allclose(
            q - v * v, ct.gaussian.variance_of_variance(7, gens, **kw), rtol=1e-10
        )


# ---------------------------------------------------------------------------------------------
# calibrated Monte Carlo agreement


@pytest.mark.parametrize(
    ("policy", "p", "m"),
    [(Temperature(0.9), 0.2, 30), (TopP(0.7), 0.35, 20), (Temperature(1.3), 0.1, 25)],
)
def test_two_state_laws_match_simulation(policy, p, m):
    gens = [2, 6, 15]
    run = ct.categorical.simulate([p, 1 - p], m, 15, num_replicates=20_000, record=gens,
                                  policy=policy, seed=17)  # fmt: skip
    lost = ct.categorical.loss_probability(p, m, gens, policy=policy)
    mean = ct.categorical.moments([p, 1 - p], m, gens, policy=policy)
    for i in range(len(gens)):
        first = run["p"][i, :, 0]
        assert abs(proportion_z(first == 0, lost[i])) < Z
        assert abs(mean_z(first, mean.mean[i, 0])) < Z
        assert abs(variance_z(first, mean.cov[i, 0, 0])) < Z


def test_composition_laws_match_simulation():
    p0, m, gens = [0.5, 0.3, 0.15, 0.05], 9, [1, 4, 12]
    policy = Compose(Temperature(1.4), TopK(3))
    survivors = ct.categorical.expected_survivors(p0, m, gens, policy=policy)
    moments = ct.categorical.moments(p0, m, gens, policy=policy)
    assert survivors.method == moments.method == EXACT_COMPOSITIONS
    run = ct.categorical.simulate(p0, m, 12, num_replicates=20_000, record=gens, policy=policy,
                                  seed=5)  # fmt: skip
    alive = np.count_nonzero(run["p"] > 0, axis=-1)
    for i in range(len(gens)):
        assert abs(mean_z(alive[i], survivors.value[i])) < Z
        for state in (0, 3):
            assert abs(mean_z(run["p"][i, :, state], moments.mean[i, state])) < Z


@pytest.mark.parametrize(
    ("p0", "m", "policy"),
    [([0.3, 0.7], 20, Temperature(0.8)), ([0.5, 0.3, 0.2], 8, TopP(0.9))],
)
def test_absorption_time_matches_simulation(p0, m, policy):
    exact = ct.categorical.absorption_time(p0, m, policy=policy)
    assert exact.method == "exact" and np.isnan(exact.diffusion)
    run = ct.categorical.simulate(p0, m, 400, num_replicates=20_000, record="last",
                                  policy=policy, seed=23)  # fmt: skip
    absorbed = run["absorbed_at"]
    assert np.all(absorbed > 0)  # every chain absorbed within the horizon
    assert abs(mean_z(absorbed, exact.mean)) < Z


def test_monte_carlo_fallback_says_so():
    p0 = ct.categorical.zipf(40, 1.1)
    estimate = ct.categorical.expected_survivors(p0, 50, [1, 5], policy=TopP(0.9),
                                                 num_replicates=2_000, seed=1)  # fmt: skip
    assert estimate.method == MONTE_CARLO and estimate.num_replicates == 2_000
    assert np.all(estimate.standard_error > 0)
    exact_first = ct.categorical.expected_survivors(p0, 50, 1)  # dataset 0 has no policy
    assert abs((estimate.value[0] - exact_first) / estimate.standard_error[0]) < Z


@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
@pytest.mark.parametrize(
    "policy",
    [
        Truncation(2.0),
        Truncation(1.0),
        Temperature(0.9),
        Compose(Truncation(1.5), Temperature(1.2)),
    ],
)
def test_gaussian_moments_match_simulation(policy, estimator):
    gens = [1, 3, 6]
    run = ct.gaussian.simulate(0.0, 2.0, 12, 6, num_replicates=20_000, record=gens,
                               estimator=estimator, policy=policy, seed=3)  # fmt: skip
    kw = dict(var0=2.0, estimator=estimator, policy=policy)
    variance = ct.gaussian.expected_variance(12, gens, **kw)
    spread = ct.gaussian.variance_of_variance(12, gens, **kw)
    drift = ct.gaussian.mean_squared_drift(12, gens, **kw)
    for i in range(len(gens)):
        var, mean = run["var"][i], run["mean"][i]
        assert se_trusted(top_share(var))
        assert abs(mean_z(var, variance[i])) < Z
        assert abs(mean_z(mean**2, drift[i])) < Z
        if se_trusted(top_share((var - var.mean()) ** 2)):
            assert abs(variance_z(var, spread[i])) < Z


def test_gaussian_truncated_chain_matches_naive_reference():
    rng = np.random.default_rng(8)
    slow = np.array([naive.gaussian_policy_chain(1.0, 8, 4, tau=1.1, cut=1.2, rng=rng)
                     for _ in range(4_000)])  # fmt: skip
    policy = Compose(Temperature(1.1), Truncation(1.2))  # the cut in units of the tempered sd
    assert policy.gaussian_law() == pytest.approx((1.1, 1.2))
    fast = ct.gaussian.simulate(0.0, 1.0, 8, 4, num_replicates=20_000, policy=policy, seed=9)
    from collapse_theory._stats import mean_difference_z

    for g in (1, 2, 4):
        assert abs(mean_difference_z(fast["var"][g], slow[:, g])) < Z
        assert abs(mean_difference_z(np.log(fast["var"][g]), np.log(slow[:, g]))) < Z


@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
def test_temperature_laws_of_the_log_variance_match_simulation(estimator):
    """Under a temperature sigma_n is tau^(n-1) times the plain sigma_n: P(sigma_n^2 < eps),
    E ln sigma_n^2, E sigma_n and E W2^2 (closed forms of §2.2-2.5 shifted, §8.2) against
    simulation."""
    policy, gens = Temperature(1.15), [1, 4, 8]
    run = ct.gaussian.simulate(0.0, 1.0, 8, 8, num_replicates=20_000, record=gens,
                               estimator=estimator, policy=policy, seed=31)  # fmt: skip
    kw = dict(estimator=estimator, policy=policy)
    below = ct.gaussian.prob_variance_below(0.3, 8, gens, **kw)
    kappa = ct.gaussian.log_variance_cumulants(8, gens, 2, **kw)
    std = ct.gaussian.expected_std(8, gens, **kw)
    w2 = ct.gaussian.expected_w2_squared(8, gens, **kw)
    for i in range(len(gens)):
        var = run["var"][i]
        assert abs(mean_z(run["mean"][i] ** 2 + (np.sqrt(var) - 1.0) ** 2, w2[i])) < Z
        assert abs(proportion_z(var < 0.3, below[i])) < Z
        assert abs(mean_z(np.log(var), kappa[0, i])) < Z
        assert abs(variance_z(np.log(var), kappa[1, i])) < Z
        assert abs(mean_z(np.sqrt(var), std[i])) < Z


def test_absorption_time_monte_carlo_fallback_says_so_and_agrees():
    policy = TopP(0.9)
    exact = ct.categorical.absorption_time([0.5, 0.3, 0.2], 8, policy=policy)
    mc = ct.categorical.absorption_time([0.5, 0.3, 0.2], 8, method="monte-carlo",
                                        policy=policy, num_replicates=8_000, seed=3)  # fmt: skip
    assert exact.method == "exact" and mc.method == MONTE_CARLO and mc.standard_error > 0
    assert abs((mc.mean - exact.mean) / mc.standard_error) < Z
    large = ct.categorical.absorption_time(ct.categorical.zipf(8, 1.1), 30, policy=policy,
                                           num_replicates=500)  # fmt: skip
    assert large.method == MONTE_CARLO  # 8 states, M = 30: too many compositions
    with pytest.raises(ct._validate.InputError, match="no form under policy"):
        ct.categorical.absorption_time([0.5, 0.5], 8, method="diffusion", policy=policy)
    with pytest.raises(ct._validate.InputError, match="beyond the limit"):
        ct.categorical.absorption_time(ct.categorical.zipf(8, 1.1), 30, method="exact",
                                       policy=policy)  # fmt: skip
