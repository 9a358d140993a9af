"""Closed forms of the Gaussian model (docs/theory.md §2, §3) against Monte Carlo and exact identities.

Statistical tolerances: every Monte Carlo comparison is a z-test |estimate - theory| / SE < 4,
with the standard error estimated from the same sample. Under the null each test fails with
probability ~6.3e-5 (two-sided normal tail at 4), so the ~60 comparisons of this file raise a
false alarm with probability < 0.4% for any seed; the seeds are fixed, so the outcome is
deterministic. Means of sigma_n^2 are tested only with n <= M (the heavy-tail caveat of §2.5);
beyond that, log-scale quantities, medians and probabilities are tested.
"""

from __future__ import annotations

import importlib
import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import collapse_theory as ct
import collapse_theory.gaussian.theory as gt
from collapse_theory import Accumulate, FreshData
from collapse_theory import schedules as sch
from collapse_theory.gaussian.tails import expected_tail_mass
from collapse_theory.metrics import w2_gaussian
from collapse_theory.schedules import sample_sizes

Z = 4.0  # two-sided false-alarm rate 6.3e-5 per comparison


def assert_z(estimate, truth, se, label=""):
    estimate, truth, se = (np.asarray(v, dtype=float) for v in (estimate, truth, se))
    z = np.abs(estimate - truth) / se
    assert np.all(z < Z), f"{label}: estimate {estimate}, theory {truth}, SE {se}, z {z}"


def assert_mean(samples, truth, label="", axis=0):
    samples = np.asarray(samples, dtype=float)
    n = samples.shape[axis]
    assert_z(samples.mean(axis), truth, samples.std(axis, ddof=1) / math.sqrt(n), label)


def assert_prob(indicator, truth, label=""):
    indicator = np.asarray(indicator, dtype=float)
    truth = np.asarray(truth, dtype=float)
    n = indicator.shape[0]
    assert_z(indicator.mean(0), truth, np.sqrt(truth * (1 - truth) / n), label)


def assert_var(samples, truth, label=""):
    """Sample variance vs theory; SE from the sample fourth central moment."""
    x = np.asarray(samples, dtype=float)
    c = x - x.mean(0)
    m2, m4 = np.mean(c**2, 0), np.mean(c**4, 0)
    assert_z(x.var(0, ddof=1), truth, np.sqrt((m4 - m2**2) / x.shape[0]), label)


# ---------------------------------------------------------------------------------------------
# Vectorised Monte Carlo of the sufficient statistics (docs/theory.md §2.1)


def sufficient_paths(sizes, num_replicates, seed, *, mle=False):
    """(n+1, R) arrays of mu_i - mu_0 and sigma_i^2 (sigma_0 = 1) by normals and chi-squares."""
    rng = np.random.default_rng(seed)
    n = len(sizes)
    mu = np.zeros((n + 1, num_replicates))
    var = np.ones((n + 1, num_replicates))
    for i, m in enumerate(sizes):
        k = m - 1
        mu[i + 1] = mu[i] + np.sqrt(var[i] / m) * rng.standard_normal(num_replicates)
        var[i + 1] = var[i] * rng.chisquare(k, num_replicates) / (m if mle else k)
    return mu, var


def log_var_paths(sizes, num_replicates, seed):
    """ln(sigma_i^2 / sigma_0^2) for i = 0..n (log space: no underflow at large n)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(sizes) + 1, num_replicates))
    for i, m in enumerate(sizes):
        out[i + 1] = out[i] + np.log(rng.chisquare(m - 1, num_replicates) / (m - 1))
    return out


def explicit_paths(sizes, num_replicates, seed, *, regime, mle=False):
    """Explicit-sample simulation (draw the M points) for FreshData and Accumulate; (mu, var)."""
    rng = np.random.default_rng(seed)
    ddof = 0 if mle else 1
    r = num_replicates
    n = len(sizes)
    mu = np.zeros((n + 1, r))
    var = np.ones((n + 1, r))
    pool_n, pool_s, pool_ss = 0.0, np.zeros(r), np.zeros(r)
    for i, m in enumerate(sizes):
        model = mu[i][:, None] + np.sqrt(var[i])[:, None] * rng.standard_normal((r, m))
        if isinstance(regime, FreshData):
            true = rng.standard_normal((r, m))
            if regime.variant == "split":
                fresh = np.zeros((r, m), bool)
                fresh[:, : int(np.rint(regime.fraction * m))] = True
            else:
                fresh = rng.random((r, m)) < regime.fraction
            x = np.where(fresh, true, model)
        else:
            x = model
        if isinstance(regime, Accumulate):
            pool_n += m
            pool_s += x.sum(1)
            pool_ss += (x * x).sum(1)
            mu[i + 1] = pool_s / pool_n
            var[i + 1] = (pool_ss - pool_n * mu[i + 1] ** 2) / (pool_n - ddof)
        else:
            mu[i + 1] = x.mean(1)
            var[i + 1] = x.var(1, ddof=ddof)
    return mu, var


# ---------------------------------------------------------------------------------------------
# §2.2-2.5: moments, log scale, drift, W2 (unbiased, replace)


def test_check_values_section_2_exact():
    """The exact numbers printed in docs/theory.md §2.2-2.9 (closed forms, no randomness)."""
    assert float(gt.expected_std(10, 20)) == pytest.approx(0.5744, abs=5e-5)
    assert float(gt.variance_of_variance(100, 10)) == pytest.approx(0.2214, abs=5e-5)
    k1, k2 = gt.log_variance_cumulants(10, 20, order=2)
    assert float(k1) == pytest.approx(-2.3041, abs=5e-5)
    assert float(k2) == pytest.approx(4.975, abs=5e-4)
    assert float(gt.prob_variance_below(0.1, 10, 20)) == pytest.approx(0.4929, abs=5e-5)
    assert float(gt.prob_variance_below(0.1, 10, 20, method="normal")) == pytest.approx(
        0.5003, abs=5e-5
    )
    probs = [float(gt.prob_variance_below(0.01, 50, 100, method=m)) for m in gt.PROBABILITY_METHODS]
    np.testing.assert_allclose(probs, [0.10607, 0.10573, 0.10608], atol=5e-6)
    assert float(gt.mean_squared_drift(10, 20)) == pytest.approx(2.0)
    assert float(gt.expected_w2_squared(10, 20)) == pytest.approx(2.851, abs=5e-4)
    assert float(gt.w2_first_order(10, 20)) == pytest.approx(3.0)
    assert float(gt.w2_lower_bound(10, 20)) == pytest.approx(2.0)
    assert float(gt.expected_w2_squared(100, 50)) == pytest.approx(0.7372, abs=5e-5)
    assert float(gt.expected_w2_squared(sch.Linear(20, 20), 400)) == pytest.approx(0.4881, abs=5e-5)
    assert float(gt.expected_w2_squared(sch.Power(20, 2.0), 400)) == pytest.approx(0.1241, abs=5e-5)
    # §2.6 MLE
    assert float(gt.expected_variance(10, 20, estimator="mle")) == pytest.approx(0.1216, abs=5e-5)
    assert float(gt.mean_squared_drift(10, 20, estimator="mle")) == pytest.approx(0.8784, abs=5e-5)
    assert float(gt.expected_w2_squared(10, 20, estimator="mle")) == pytest.approx(1.5994, abs=5e-5)
    # §2.7 fresh (m = 4 of M = 20), §2.8 accumulate
    fresh = FreshData(0.2, "split")
    assert float(gt.expected_variance(20, 300, regime=fresh)) == pytest.approx(1.1290, abs=5e-5)
    assert float(gt.mean_squared_drift(20, 300, regime=fresh)) == pytest.approx(0.1532, abs=5e-5)
    v, d = gt.stationary_moments(20, fresh)
    assert (v, d) == pytest.approx((1.1290, 0.1532), abs=5e-5)
    assert float(gt.expected_variance(10, 200, regime=Accumulate())) == pytest.approx(
        0.9356, abs=5e-5
    )
    assert float(gt.mean_squared_drift(10, 200, regime=Accumulate())) == pytest.approx(
        0.16231, abs=5e-6
    )
    assert float(gt.mean_squared_drift(10, 10**5, regime=Accumulate())) < math.pi**2 / 60
    # §2.9 original-model tail mass at 3 sigma
    assert float(expected_tail_mass(3.0, 10, 0, centered=True)) == pytest.approx(0.0027, abs=5e-5)


def test_moments_and_log_scale_vs_sufficient_statistics():
    """§2.2-2.4 at M=10, n=20 (R=2e5) and Var sigma^2 at M=100, n=10 (means only with n <= M)."""
    sizes = [10] * 20
    mu, var = sufficient_paths(sizes, 200_000, seed=1)
    gens = np.array([1, 5, 10, 20])
    assert_mean(np.sqrt(var[gens].T), gt.expected_std(10, gens), "E sigma_n")
    assert_mean(var[[1, 5, 10]].T, gt.expected_variance(10, [1, 5, 10]), "E sigma_n^2, n <= M")
    logv = np.log(var[gens].T)
    k1, k2 = gt.log_variance_cumulants(10, gens, order=2)
    assert_mean(logv, k1, "E ln sigma^2")
    assert_var(logv, k2, "Var ln sigma^2")
    assert_var(mu[gens].T, gt.mean_squared_drift(10, gens), "Var mu_n")
    assert_mean(mu[gens].T ** 2, gt.mean_squared_drift(10, gens), "E (mu_n - mu_0)^2")
    w2 = w2_gaussian(mu[[2, 5, 10]], var[[2, 5, 10]], 0.0, 1.0, squared=True)
    assert_mean(w2.T, gt.expected_w2_squared(10, [2, 5, 10]), "E W2^2")
    # A fresh draw from model n: Var X = E sigma^2 + E dmu^2 (exact, §2.4)
    x = mu[10] + np.sqrt(var[10]) * np.random.default_rng(2).standard_normal(mu.shape[1])
    assert_mean(x**2, gt.fresh_draw_variance(10, 10), "Var X")
    _, var100 = sufficient_paths([100] * 10, 200_000, seed=3)
    assert_var(var100[10], gt.variance_of_variance(100, 10), "Var sigma^2")


def test_probabilities_and_medians_vs_monte_carlo():
    """P(sigma_n^2 < eps) by Gil-Pelaez against MC frequencies, including n >> M."""
    logv = log_var_paths([10] * 200, 100_000, seed=4)
    gens = np.array([1, 20, 200])
    for eps in (1e-3, 0.1, 1.0):
        exact = gt.prob_variance_below(eps, 10, gens)
        assert_prob((logv[gens] < math.log(eps)).T, exact, f"P(sigma^2 < {eps})")
    # the exact median: P(sigma_n^2 < e^{kappa_1}) is close to but not exactly 1/2
    k1 = gt.log_variance_cumulants(10, 200, order=1)[0]
    exact = gt.prob_variance_below(float(k1), 10, 200, log_eps=True)
    assert_prob(logv[200] < k1, exact, "P(sigma^2 < e^kappa1)")
    # a schedule and the MLE: ln sigma^2 shifted by sum ln r_i
    sizes = sample_sizes(sch.Linear(5, 1), 30)
    _, var = sufficient_paths(sizes, 100_000, seed=5, mle=True)
    exact = gt.prob_variance_below(0.2, sch.Linear(5, 1), 30, estimator="mle")
    assert_prob(var[30] < 0.2, exact, "P MLE schedule")


def test_methods_agree_where_the_law_is_nearly_normal():
    gens = np.array([1, 10, 1000])
    eps = np.exp(gt.log_variance_cumulants(1000, gens, order=1)[0] + 0.1)
    exact = gt.prob_variance_below(eps, 1000, gens)
    edge = gt.prob_variance_below(eps, 1000, gens, method="edgeworth")
    np.testing.assert_allclose(exact, edge, atol=2e-4)
    # n = 1, M = 2: ln sigma^2 = ln chi2_1, the CDF of chi2_1 exactly
    from scipy.stats import chi2

    x = np.array([1e-4, 0.01, 1.0, 3.0, 10.0])
    np.testing.assert_allclose(gt.prob_variance_below(x, 2, 1), chi2.cdf(x, 1), atol=1e-10)


# ---------------------------------------------------------------------------------------------
# §2.6 MLE and schedules


def test_mle_vs_sufficient_statistics_and_identities():
    mu, var = sufficient_paths([10] * 20, 200_000, seed=6, mle=True)
    gens = np.array([1, 5, 20])
    assert_mean(var[gens].T, gt.expected_variance(10, gens, estimator="mle"), "E sigma^2 MLE")
    assert_mean(np.sqrt(var[gens].T), gt.expected_std(10, gens, estimator="mle"), "E sigma MLE")
    drift = gt.mean_squared_drift(10, gens, estimator="mle")
    assert_mean(mu[gens].T ** 2, drift, "E dmu^2 MLE")
    w2 = w2_gaussian(mu[gens], var[gens], 0.0, 1.0, squared=True)
    assert_mean(w2.T, gt.expected_w2_squared(10, gens, estimator="mle"), "E W2^2 MLE")
    assert_var(var[gens].T, gt.variance_of_variance(10, gens, estimator="mle"), "Var s^2 MLE")
    # exact identities: conservation, boundedness by 2 var0
    g = np.arange(0, 2000, 37)
    for m in (1, 2, 7, sch.Linear(3, 2)):
        total = gt.expected_variance(m, g, estimator="mle") + gt.mean_squared_drift(
            m, g, estimator="mle"
        )
        np.testing.assert_allclose(total, 1.0, rtol=1e-12)
        assert np.all(gt.expected_w2_squared(m, g, estimator="mle", var0=9.0) <= 18.0)
        np.testing.assert_allclose(gt.fresh_draw_variance(m, g, estimator="mle"), 1.0)
    # M = 1 with the MLE: the variance is 0 after the first fit
    assert float(gt.expected_variance(1, 3, estimator="mle")) == 0.0
    assert float(gt.expected_std(1, 3, estimator="mle")) == 0.0
    assert float(gt.variance_of_variance(1, 3, estimator="mle")) == 0.0
    assert float(gt.expected_w2_squared(1, 3, estimator="mle")) == pytest.approx(2.0)


def test_unbiased_bounds_and_schedule_criterion():
    g = np.array([0, 1, 10, 100, 1000])
    for m in (2, 10, sch.Linear(20, 20), sch.Power(20, 2.0)):
        exact = gt.expected_w2_squared(m, g)
        lower = gt.w2_lower_bound(m, g)
        upper = lower + 2.0
        assert np.all(lower <= exact + 1e-15) and np.all(exact <= upper)
    # E W2^2 linear in n (constant M), ~ ln n (linear M), bounded (M ~ i^2)
    n = np.array([1000, 2000])
    const = gt.expected_w2_squared(20, n)
    assert const[1] - const[0] == pytest.approx(1000 / 20, rel=1e-6)  # slope var0 / M
    lin = gt.expected_w2_squared(sch.Linear(20, 20), n)
    # doubling n adds ln(2)/20 of drift plus at most half as much from the sigma term
    assert math.log(2) / 20 < lin[1] - lin[0] < 1.5 * math.log(2) / 20
    power = gt.expected_w2_squared(sch.Power(20, 2.0), [10**4, 10**5])
    assert power[1] - power[0] < 1e-5


def test_schedule_vs_sufficient_statistics():
    sizes = sample_sizes(sch.Linear(20, 20), 40)
    mu, var = sufficient_paths(sizes, 200_000, seed=7)
    gens = np.array([5, 40])
    w2 = w2_gaussian(mu[gens], var[gens], 0.0, 1.0, squared=True)
    assert_mean(w2.T, gt.expected_w2_squared(sch.Linear(20, 20), gens), "E W2^2 linear")
    assert_mean(np.sqrt(var[gens].T), gt.expected_std(sch.Linear(20, 20), gens), "E sigma lin")


# ---------------------------------------------------------------------------------------------
# §2.7 fresh data and §2.8 accumulate vs explicit samples


@pytest.mark.parametrize(
    "regime, mle",
    [
        (FreshData(0.2, "split"), False),
        (FreshData(0.2, "mix"), False),
        (FreshData(0.3, "mix"), True),
        (Accumulate(), False),
        (Accumulate(), True),
    ],
)
def test_regimes_vs_explicit_samples(regime, mle):
    sizes = [10] * 30 if isinstance(regime, Accumulate) else [20] * 30
    mu, var = explicit_paths(sizes, 20_000, seed=8, regime=regime, mle=mle)
    est = "mle" if mle else "unbiased"
    gens = np.array([1, 3, 10, 30])
    m = sizes[0]
    assert_mean(var[gens].T, gt.expected_variance(m, gens, regime=regime, estimator=est), "V_n")
    drift = gt.mean_squared_drift(m, gens, regime=regime, estimator=est)
    assert_mean(mu[gens].T ** 2, drift, "D_n")


@pytest.mark.parametrize("regime", [FreshData(0.25, "split"), Accumulate()])
def test_regimes_with_a_schedule_vs_explicit_samples(regime):
    schedule = sch.Linear(4, 2)
    sizes = sample_sizes(schedule, 15)
    mu, var = explicit_paths(list(sizes), 20_000, seed=9, regime=regime)
    gens = np.array([1, 5, 15])
    assert_mean(var[gens].T, gt.expected_variance(schedule, gens, regime=regime), "V sched")
    assert_mean(mu[gens].T ** 2, gt.mean_squared_drift(schedule, gens, regime=regime), "D sched")


def test_fresh_recursion_constant_and_schedule_paths_agree():
    fresh = FreshData(0.1, "mix")
    g = [0, 1, 7, 150]
    for est in ("unbiased", "mle"):
        a = gt.expected_variance(12, g, regime=fresh, estimator=est)
        b = gt.expected_variance(sch.Explicit([12] * 150), g, regime=fresh, estimator=est)
        np.testing.assert_allclose(a, b, rtol=1e-12)
        a = gt.mean_squared_drift(12, g, regime=fresh, estimator=est)
        b = gt.mean_squared_drift(sch.Explicit([12] * 150), g, regime=fresh, estimator=est)
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # stationary values are the limit of the recursion
    v, d = gt.stationary_moments(12, fresh, var0=4.0, estimator="mle")
    np.testing.assert_allclose(
        [
            float(gt.expected_variance(12, 10**4, regime=fresh, var0=4.0, estimator="mle")),
            float(gt.mean_squared_drift(12, 10**4, regime=fresh, var0=4.0, estimator="mle")),
        ],
        [v, d],
        rtol=1e-10,
    )
    # accumulate: the closed product of §2.8 for constant M
    j = np.arange(2, 201)
    np.testing.assert_allclose(
        gt.expected_variance(10, 200, regime=Accumulate()), np.prod(1 - 1 / (j * (j * 10 - 1)))
    )
    with pytest.raises(ValueError, match="stationary"):
        gt.stationary_moments(20, FreshData(0.0))
    with pytest.raises(ValueError, match="constant"):
        gt.stationary_moments(sch.Linear(20, 1), FreshData(0.2))


# ---------------------------------------------------------------------------------------------
# §2.9 tail mass


def test_tail_mass_vs_direct_monte_carlo():
    """Direct MC: one Gaussian model per path, its exact two-sided tail mass."""
    from scipy.special import ndtr

    k = 3.0
    mu, var = sufficient_paths([10] * 20, 200_000, seed=10)
    s = np.sqrt(var[20])
    about_mu0 = ndtr((mu[20] - k) / s) + ndtr((-k - mu[20]) / s)
    about_own = 2 * ndtr(-k / s)
    # centered=True: exact mean (Gil-Pelaez) and exact median
    assert_mean(about_own, expected_tail_mass(k, 10, 20, centered=True), "E own tail")
    median_own = float(expected_tail_mass(k, 10, 20, centered=True, statistic="median"))
    assert_prob(about_own < median_own, 0.5, "median own tail")
    # centered=False: Rao-Blackwellised MC (independent seed) vs direct MC: difference of two
    # independent estimates, SE combined
    rb = float(expected_tail_mass(k, 10, 20, num_paths=200_000, seed=11))
    se = about_mu0.std() / math.sqrt(about_mu0.size)
    # two independent estimates, the Rao-Blackwellised one with SE <= the direct one's:
    # the SE of their difference is at most sqrt(2) se
    assert_z(about_mu0.mean(), rb, math.sqrt(2) * se, "E tail about mu0 (RB SE <= direct SE)")
    # §2.9's .0619 is itself a Monte Carlo mean at R = 2e5 (the size used here): same bound
    assert_z(0.0619, rb, math.sqrt(2) * se, "§2.9 check value")
    med = float(expected_tail_mass(k, 10, 20, statistic="median", num_paths=200_000, seed=12))
    # the returned (MC) median splits the direct sample in half, within both MC errors
    assert_z(np.mean(about_mu0 < med), 0.5, math.sqrt(0.25 / about_mu0.size) * math.sqrt(2), "med")
    assert 5e-12 < med < 5e-11  # §2.9: median 1.4e-11
    # §2.9 check: M=100, n=50, direct .02700
    mu, var = sufficient_paths([100] * 50, 100_000, seed=13)
    s = np.sqrt(var[50])
    direct = ndtr((mu[50] - k) / s) + ndtr((-k - mu[50]) / s)
    rb = float(expected_tail_mass(k, 100, 50, num_paths=100_000, seed=14))
    assert_z(direct.mean(), rb, 1.5 * direct.std() / math.sqrt(direct.size), "M=100 tail")


def test_tail_mass_exact_branch_identities():
    from scipy.special import ndtr

    k1 = gt.log_variance_cumulants(10, 40, order=1)[0]
    median = float(expected_tail_mass(2.0, 10, 40, centered=True, statistic="median"))
    approx = 2 * ndtr(-2.0 * math.exp(-k1 / 2))
    assert median == pytest.approx(float(approx), rel=0.5)  # §2.9: median ~ 2Phi(k e^{-k1/2})
    mean = expected_tail_mass(2.0, 10, [0, 1, 40], centered=True)
    assert mean[0] == pytest.approx(2 * ndtr(-2.0), abs=1e-10)
    a = expected_tail_mass(2.0, 10, [3, 5], seed=np.random.SeedSequence(5), num_paths=1000)
    b = expected_tail_mass(2.0, 10, [3, 5], seed=np.random.SeedSequence(5), num_paths=1000)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# §3 multivariate

COV0 = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])  # tr 3.5, det .695


def test_check_values_section_3_exact():
    """docs/theory.md §3 check values; their Sigma_0 (trace 3.5) is reconstructed as COV0."""
    assert float(gt.expected_mean_drift(COV0, 12, 15)) == pytest.approx(4.375)
    assert float(gt.expected_log_det(COV0, 12, 15)) == pytest.approx(-9.486, abs=5e-4)
    assert float(gt.expected_det(COV0, 200, 20)) == pytest.approx(0.5134, abs=5e-5)
    assert float(gt.trace_moments(COV0, 200, 20)[1]) == pytest.approx(1.3755, abs=5e-5)
    np.testing.assert_allclose(gt.lyapunov_exponents(3, 10), [-0.1152, -0.2480, -0.4009], atol=5e-5)
    assert float(gt.w2_first_order_isotropic(1.0, 3, 200, 20)) == pytest.approx(0.6015, abs=5e-5)
    # d = 1 reduces to the 1-D formulas
    np.testing.assert_allclose(
        gt.trace_moments([[2.0]], 7, [0, 3, 9])[1],
        gt.variance_of_variance(7, [0, 3, 9], var0=2.0),
    )
    np.testing.assert_allclose(
        gt.expected_log_det([[1.0]], 7, [0, 3, 9]), gt.log_variance_cumulants(7, [0, 3, 9], 1)[0]
    )


def explicit_multivariate(cov0, m, n, r, seed):
    """Draw the M samples of every generation explicitly; returns mean drifts and covariances."""
    rng = np.random.default_rng(seed)
    d = cov0.shape[0]
    mu = np.zeros((r, d))
    cov = np.broadcast_to(cov0, (r, d, d)).copy()
    drifts, covs = [], []
    for _ in range(n):
        chol = np.linalg.cholesky(cov)
        x = mu[:, None, :] + np.einsum("rij,rmj->rmi", chol, rng.standard_normal((r, m, d)))
        mu = x.mean(1)
        c = x - mu[:, None, :]
        cov = np.einsum("rmi,rmj->rij", c, c) / (m - 1)
        drifts.append((mu**2).sum(1))
        covs.append(cov)
    return np.array(drifts), np.array(covs)


def test_multivariate_vs_explicit_samples():
    """§3.2-3.4 at d=3, M=12, n=15 with the M points drawn explicitly (R = 2e4)."""
    drifts, covs = explicit_multivariate(COV0, 12, 15, 20_000, seed=15)
    gens = np.array([1, 5, 15])
    assert_mean(drifts[gens - 1].T, gt.expected_mean_drift(COV0, 12, gens), "E|dmu|^2")
    logdet = np.linalg.slogdet(covs[gens - 1])[1]
    assert_mean(logdet.T, gt.expected_log_det(COV0, 12, gens), "E ln det")
    assert_var(logdet.T, gt.variance_log_det(COV0, 12, gens), "Var ln det")
    tr = np.trace(covs[gens - 1], axis1=2, axis2=3)
    mean_tr, var_tr = gt.trace_moments(COV0, 12, gens)
    assert_mean(tr.T, mean_tr, "E tr")
    assert_var(tr.T, var_tr, "Var tr")
    assert_mean(np.linalg.det(covs[[0, 4]]).T, gt.expected_det(COV0, 12, [1, 5]), "E det")


def bartlett_paths(cov0, sizes, r, seed):
    """Sigma_n = B_n B_n^T with B_n = L_0 T_1 ... T_n (Bartlett factors / sqrt k, §3.1)."""
    rng = np.random.default_rng(seed)
    d = cov0.shape[0]
    b = np.broadcast_to(np.linalg.cholesky(cov0), (r, d, d)).copy()
    out = []
    for m in sizes:
        k = m - 1
        t = np.tril(rng.standard_normal((r, d, d)), -1)
        diag = np.sqrt(rng.chisquare(k - np.arange(d), (r, d)))
        t[:, np.arange(d), np.arange(d)] = diag
        b = b @ (t / math.sqrt(k))
        out.append(b @ np.swapaxes(b, 1, 2))
    return np.array(out)


def test_multivariate_vs_bartlett_and_w2_bounds():
    covs = bartlett_paths(COV0, [200] * 20, 100_000, seed=16)
    sigma = covs[-1]
    assert_mean(np.linalg.det(sigma), gt.expected_det(COV0, 200, 20), "E det M=200")
    tr = np.trace(sigma, axis1=1, axis2=2)
    assert_var(tr, gt.trace_moments(COV0, 200, 20)[1], "Var tr M=200")
    # isotropic start: E W2^2 (mean drift exact, Bures term by eigenvalues) vs bounds, 1st order
    covs = bartlett_paths(np.eye(3), [200] * 20, 50_000, seed=17)[-1]
    bures = np.trace(covs, axis1=1, axis2=2) + 3 - 2 * np.sqrt(np.linalg.eigvalsh(covs)).sum(1)
    w2 = bures.mean() + float(gt.expected_mean_drift(np.eye(3), 200, 20))
    lower, upper = gt.w2_squared_bounds(np.eye(3), 200, 20)
    assert lower <= w2 <= upper
    # §3.6 check: MC .5886 vs first order .6015 (an approximation, so a relative tolerance)
    assert w2 == pytest.approx(0.5886, abs=0.005)
    assert w2 == pytest.approx(float(gt.w2_first_order_isotropic(1.0, 3, 200, 20)), rel=0.05)


def test_lyapunov_exponents_vs_qr_products():
    """(1/n) ln lambda_j(Sigma_n) by the QR method over n = 3000 Bartlett factors, 40 chains."""
    rng = np.random.default_rng(18)
    d, m, n, r = 3, 10, 3000, 40
    k = m - 1
    q = np.broadcast_to(np.eye(d), (r, d, d)).copy()
    logs = np.zeros((r, d))
    for _ in range(n):
        t = np.tril(rng.standard_normal((r, d, d)), -1)
        t[:, np.arange(d), np.arange(d)] = np.sqrt(rng.chisquare(k - np.arange(d), (r, d)))
        q, rr = np.linalg.qr((t / math.sqrt(k)) @ q)
        logs += np.log(np.abs(np.diagonal(rr, axis1=1, axis2=2)))
    rates = 2 * logs / n
    assert_mean(np.sort(rates, 1)[:, ::-1], gt.lyapunov_exponents(d, m), "Lyapunov")


# ---------------------------------------------------------------------------------------------
# Extremes and numerical stability


def test_extreme_arguments_are_finite_and_correct():
    n = 10**6
    assert float(gt.expected_variance(10, n)) == 1.0
    k1, k2, k3, k4 = gt.log_variance_cumulants(10, n)
    assert np.isfinite([k1, k2, k3, k4]).all() and k1 < -1e5
    assert float(gt.expected_w2_squared(10, n)) == pytest.approx(n / 10 + 2, rel=1e-9)
    assert float(gt.expected_std(10, n)) == 0.0  # true value e^{-2.6e4}: below the float range
    assert float(gt.prob_variance_below(k1, 10, n, log_eps=True)) == pytest.approx(0.5, abs=1e-3)
    assert float(gt.mean_squared_drift(10, n, regime=Accumulate())) < math.pi**2 / 60
    for var0 in (1e-300, 1e300):
        assert float(gt.expected_variance(10, 20, var0=var0)) == pytest.approx(var0, rel=1e-14)
        assert float(gt.expected_std(10, 20, var0=var0)) == pytest.approx(
            0.5744 * math.sqrt(var0), rel=1e-3
        )
        assert float(gt.expected_w2_squared(10, 20, var0=var0)) == pytest.approx(
            2.851199444 * var0, rel=1e-9
        )
        v, _d = gt.stationary_moments(20, FreshData(0.2, "split"), var0=var0)
        assert v == pytest.approx(1.1290322580645 * var0, rel=1e-12)
        assert float(gt.prob_variance_below(0.1 * var0, 10, 20, var0=var0)) == pytest.approx(
            0.49291, abs=1e-5
        )
    big = 10**9
    assert 1 - float(gt.expected_std(big, 10)) == pytest.approx(10 / (4 * (big - 1)), rel=1e-6)
    assert float(gt.log_variance_cumulants(big, 10, 1)[0]) == pytest.approx(-10 / (big - 1), 1e-6)
    assert float(gt.expected_w2_squared(big, 10)) == pytest.approx(1.5e-8, rel=1e-6)
    exact = float(gt.prob_variance_below(1 - 1e-4, big, 10))
    edge = float(gt.prob_variance_below(1 - 1e-4, big, 10, method="edgeworth"))
    assert exact == pytest.approx(edge, abs=1e-6)
    assert gt.lyapunov_exponents(3, big)[0] == pytest.approx(-1 / big, rel=1e-6)
    assert float(gt.expected_det(np.eye(2) * 1e-150, big, 10)) == pytest.approx(1e-300, rel=1e-6)


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: gt.expected_variance(10, 5, var0=0.0), ValueError, "var0.*> 0"),
        (lambda: gt.expected_variance(10, 5, var0=-1.0), ValueError, "var0.*> 0"),
        (lambda: gt.expected_variance(10, 5, var0=float("nan")), ValueError, "var0.*finite"),
        (lambda: gt.expected_std(10, 5, var0="1"), TypeError, "var0.*real number"),
        (lambda: gt.prob_variance_below(0.1, 10, 5, var0=np.inf), ValueError, "var0"),
        (lambda: gt.stationary_moments(20, FreshData(0.2), var0=-2.0), ValueError, "var0"),
        (lambda: gt.expected_variance(1, 5), ValueError, "num_samples must be >= 2"),
        (lambda: gt.expected_variance(0, 5, estimator="mle"), ValueError, "num_samples"),
        (lambda: gt.expected_variance(10.0, 5), TypeError, "num_samples"),
        (lambda: gt.expected_variance(10, -1), ValueError, "generations"),
        (lambda: gt.expected_variance(10, 1.5), TypeError, "generations"),
        (lambda: gt.expected_variance(10, 5, estimator="ols"), ValueError, "estimator"),
        (lambda: gt.expected_variance(10, 5, regime="replace"), TypeError, "regime"),
        (lambda: gt.expected_std(10, 5, regime=Accumulate()), ValueError, "Replace"),
        (lambda: gt.variance_of_variance(10, 5, regime=FreshData(0.1)), ValueError, "Replace"),
        (lambda: gt.prob_variance_below(0.1, 10, 5, method="saddle"), ValueError, "method"),
        (lambda: gt.prob_variance_below(-0.1, 10, 5), ValueError, "eps"),
        (lambda: gt.prob_variance_below([0.1, 0.2], 10, [1, 2, 3]), ValueError, "broadcast"),
        (lambda: gt.prob_variance_below(float("nan"), 10, 5), ValueError, "eps"),
        (lambda: gt.log_variance_cumulants(10, 5, order=0), ValueError, "order"),
        (lambda: expected_tail_mass(0.0, 10, 5), ValueError, "k"),
        (lambda: expected_tail_mass(2.0, 10, 5, statistic="mode"), ValueError, "statistic"),
        (lambda: gt.expected_variance(20, 5, regime=FreshData(1.0, "split")), ValueError, "split"),
        (lambda: gt.expected_log_det(np.eye(3), 3, 5), ValueError, "M > d"),
        (lambda: gt.expected_log_det([[1, 0.5], [0.4, 1]], 10, 5), ValueError, "symmetric"),
        (lambda: gt.expected_det([[1, 2], [2, 1]], 10, 5), ValueError, "definite"),
        (lambda: gt.trace_moments([[1, 2], [2, 1]], 10, 5), ValueError, "semi-definite"),
        (lambda: gt.trace_moments(np.ones((2, 3)), 10, 5), ValueError, "square"),
        (lambda: gt.expected_log_det([[np.nan]], 10, 5), ValueError, "finite"),
        (lambda: gt.lyapunov_exponents(3, 3), ValueError, "num_samples"),
        (lambda: gt.w2_first_order_isotropic(0.0, 2, 10, 5), ValueError, "var0"),
    ],
)
def test_bad_input_raises_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# The 1-D scale is one variance, var0, everywhere


#: The Gaussian family's modules with public functions taking the 1-D scale.
MODULES = ("theory", "simulate", "tails")


def _public_callables():
    """(label, callable) for every public function of the Gaussian family's modules and every
    public method of its public classes (the tail definitions), found from ``__all__``."""
    # the package's attribute ``simulate`` is the function: fetch the modules by name
    modules = [importlib.import_module(f"collapse_theory.gaussian.{name}") for name in MODULES]
    found = []
    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                found.append((f"{module.__name__}.{name}", obj))
            elif inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if inspect.isfunction(member) and not attr.startswith("_"):
                        found.append((f"{module.__name__}.{name}.{attr}", member))
    return found


def _taking_var0():
    return [
        (label, f) for label, f in _public_callables() if "var0" in inspect.signature(f).parameters
    ]


def _scale_free_1d():
    """The 1-D laws without a scale: a ``num_samples`` parameter, no var0, no cov0 or dim."""
    return [
        (label, f)
        for label, f in _public_callables()
        if "num_samples" in (names := set(inspect.signature(f).parameters))
        and not names & {"var0", "cov0", "dim"}
    ]


#: Values for the required parameters of the functions that take var0 (by parameter name).
_EXAMPLES = {
    "num_samples": 10,
    "generations": [0, 5],
    "k": 3.0,
    "tail": ct.gaussian.tails.GaussianTail(k=3.0),
    "eps": 0.1,
    "fresh": FreshData(0.2),
    "dim": 2,
    "mean0": 0.0,
    "num_generations": 3,
    "mean": 0.0,
    "var": 1.0,
    "num_real": 20,
}


#: Required although they have a default (simulate's, so that cov0 may be left out for var0).
_ALWAYS = ("num_samples", "num_generations")


def _call_with(label, function, **kwargs):
    """Call ``function`` with example values for its required parameters (var0 excepted)."""
    parameters = inspect.signature(function).parameters
    args = {}
    for name, parameter in parameters.items():
        required = parameter.default is inspect.Parameter.empty or name in _ALWAYS
        if name in ("self", "var0") or not required:
            continue
        assert name in _EXAMPLES, f"{label}: add an example value for its parameter {name!r}"
        args[name] = _EXAMPLES[name]
    if "self" in parameters:  # a method of a tail definition
        owner = getattr(ct.gaussian.tails, label.rsplit(".", 2)[-2])
        return function(owner(k=3.0), **args, **kwargs)
    return function(**args, **kwargs)


def test_the_var0_list_is_derived_from_the_signatures_and_complete():
    labels = {label.rsplit(".", 1)[-1] for label, _ in _taking_var0()}
    # the ones known today: a new function taking var0 joins the list by its signature alone
    assert {
        "expected_variance",
        "mean_squared_drift",
        "fresh_draw_variance",
        "expected_std",
        "variance_of_variance",
        "prob_variance_below",
        "expected_w2_squared",
        "w2_lower_bound",
        "w2_first_order",
        "stationary_moments",
        "w2_first_order_isotropic",
        "simulate",
        "mass",
        "w2_squared_moments",
    } <= labels
    assert {label.rsplit(".", 1)[-1] for label, _ in _scale_free_1d()} >= {
        "log_variance_cumulants",
        "expected_tail_mass",
        "gaussian_rao_blackwell",
        "gaussian_monte_carlo",
    }
    # and no public function spells the 1-D scale any other way
    for label, function in _public_callables():
        names = set(inspect.signature(function).parameters)
        assert not names & {"sigma0", "sigma2", "sd0", "std0", "scale0"}, label


@pytest.mark.parametrize(
    ("label", "function"), _taking_var0(), ids=[label for label, _ in _taking_var0()]
)
def test_sigma0_is_refused_naming_var0(label, function):
    with pytest.raises(TypeError, match=r"takes var0.*pass var0=sigma0\*\*2 \(here var0=4\.0\)"):
        _call_with(label, function, sigma0=2.0)


@pytest.mark.parametrize(
    ("label", "function"), _scale_free_1d(), ids=[label for label, _ in _scale_free_1d()]
)
def test_sigma0_is_refused_by_the_scale_free_laws_too(label, function):
    with pytest.raises(TypeError, match=r"does not take sigma0.*var0.*remove the argument"):
        _call_with(label, function, sigma0=2.0)


@pytest.mark.parametrize(
    ("label", "function"), _taking_var0(), ids=[label for label, _ in _taking_var0()]
)
def test_var0_is_accepted_and_validated(label, function):
    if "simulate" not in label:
        _call_with(label, function, var0=2.0)
    else:
        _call_with(label, function, var0=2.0, num_replicates=3, seed=0)
    with pytest.raises(ValueError, match="var0"):
        _call_with(label, function, var0=-1.0)


def test_var0_is_a_variance():
    one = gt.expected_variance(20, 5, var0=1.0)
    assert ct.gaussian.expected_variance(20, 5, var0=2.0) == 2.0 * one  # exactly
    assert float(gt.expected_variance(20, 5)) == 1.0  # the default is var0 = 1
    var0, g = 2.5, np.array([0, 1, 7, 40])
    linear = (
        gt.expected_variance,
        gt.mean_squared_drift,
        gt.fresh_draw_variance,
        gt.expected_w2_squared,
        gt.w2_lower_bound,
        gt.w2_first_order,
    )
    for f in linear:
        np.testing.assert_allclose(f(12, g, var0=var0), var0 * f(12, g), rtol=1e-15)
    np.testing.assert_allclose(
        gt.expected_std(12, g, var0=var0), math.sqrt(var0) * gt.expected_std(12, g), rtol=1e-14
    )
    np.testing.assert_allclose(
        gt.variance_of_variance(12, g, var0=var0), var0**2 * gt.variance_of_variance(12, g), 1e-14
    )
    np.testing.assert_allclose(
        gt.stationary_moments(12, FreshData(0.2), var0=var0),
        np.multiply(var0, gt.stationary_moments(12, FreshData(0.2))),
        rtol=1e-15,
    )
    np.testing.assert_allclose(
        gt.prob_variance_below(0.3 * var0, 12, g, var0=var0),
        gt.prob_variance_below(0.3, 12, g),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        gt.w2_first_order_isotropic(var0, 3, 200, g),
        var0 * gt.w2_first_order_isotropic(1.0, 3, 200, g),
        rtol=1e-15,
    )
    mean, var = gt.w2_squared_moments(20, 10, var0=var0)
    mean1, var1 = gt.w2_squared_moments(20, 10)
    np.testing.assert_allclose(mean, var0 * mean1, rtol=1e-15)
    np.testing.assert_allclose(var, var0**2 * var1, rtol=1e-15)
    # d = 1: Sigma_0 = var0 I is the 1-D model of variance var0 (first order, both ways)
    np.testing.assert_allclose(
        gt.w2_first_order_isotropic(var0, 1, 1000, g),
        var0 * (1.5 * g / 1000 + 0.5 * g * (1 / 999 - 1 / 1000)),
        rtol=1e-12,
    )


# ---------------------------------------------------------------------------------------------
# Property-based


sizes_st = hs.integers(2, 10**6) | hs.builds(sch.Linear, hs.integers(2, 50), hs.floats(0, 5))
gens_st = hs.lists(hs.integers(0, 500), min_size=1, max_size=4)


@settings(max_examples=30, deadline=None)
@given(sizes_st, gens_st, hs.floats(1e-200, 1e200), hs.sampled_from(gt.ESTIMATORS))
def test_fuzz_one_dimensional(m, gens, var0, est):
    g = np.array(gens)
    v = gt.expected_variance(m, g, var0=var0, estimator=est)
    d = gt.mean_squared_drift(m, g, var0=var0, estimator=est)
    w2 = gt.expected_w2_squared(m, g, var0=var0, estimator=est)
    std = gt.expected_std(m, g, var0=var0, estimator=est)
    assert v.shape == d.shape == w2.shape == std.shape == g.shape
    assert np.all(np.isfinite(v)) and np.all(v >= 0) and np.all(d >= 0)
    assert np.all(std**2 <= v * (1 + 1e-12))  # Jensen
    assert np.all(d <= w2 * (1 + 1e-12) + 1e-300)
    assert np.all(w2 <= (d + 2 * var0) * (1 + 1e-12))
    cum = gt.log_variance_cumulants(m, g, order=3, estimator=est)
    assert cum.shape == (3, *g.shape) and np.all(cum[0] <= 0) and np.all(cum[1] >= 0)
    p = gt.prob_variance_below(var0, m, g + 1, var0=var0, method="normal", estimator=est)
    assert np.all((p >= 0.5) & (p <= 1))


@settings(max_examples=30, deadline=None)
@given(
    hs.integers(1, 4),
    hs.integers(0, 20),
    hs.integers(0, 200),
    hs.integers(0, 2**32 - 1),
    hs.sampled_from(gt.ESTIMATORS),
)
def test_fuzz_multivariate(d, extra, n, seed, est):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, d))
    cov = a @ a.T + 0.1 * np.eye(d)
    m = d + 1 + extra
    lower, upper = gt.w2_squared_bounds(cov, m, n, estimator=est)
    _mean_tr, var_tr = gt.trace_moments(cov, m, n, estimator=est)
    assert 0 <= lower <= upper and var_tr >= 0
    assert np.isfinite(gt.expected_log_det(cov, m, n, estimator=est))
    assert 0 <= gt.expected_det(cov, m, n, estimator=est) <= np.linalg.det(cov) * (1 + 1e-9)
    assert np.all(np.diff(gt.lyapunov_exponents(d, m, estimator=est)) < 0) or d == 1


@settings(max_examples=30, deadline=None)
@given(hs.integers(2, 200), hs.floats(0.01, 1.0), hs.sampled_from(["mix", "split"]))
def test_fuzz_fresh_stationary(m, fraction, variant):
    fresh = FreshData(fraction, variant)
    beta = np.rint(fraction * m) / m if variant == "split" else fraction
    if beta == 0 or (variant == "split" and m - np.rint(fraction * m) < 1):
        return
    try:
        v, d = gt.stationary_moments(m, fresh)
    except ValueError as error:  # expected moments diverge: the recursion must grow
        assert "spectral radius" in str(error)
        grow = gt.expected_variance(m, [100, 200], regime=fresh)
        assert grow[1] > grow[0]
        return
    assert v > 0 and d > 0 and np.isfinite(v + d)
    late = gt.expected_variance(m, 10**5, regime=fresh, estimator="unbiased")
    assert float(late) == pytest.approx(v, rel=1e-6)
