"""Metrics: Bures-Wasserstein against POT and closed forms, empirical W2, KL, TV, entropy, tails.

Statistical comparisons are z-tests with |z| < 4 (false-alarm rate 6.3e-5 each, fixed seeds).
"""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy import stats

from collapse_theory import metrics
from tests import naive


def random_cov(rng, d, rank=None):
    a = rng.standard_normal((d, rank or d))
    return a @ a.T


def test_w2_gaussian_matches_pot_bures_wasserstein():
    rng = np.random.default_rng(0)
    for d in (1, 2, 3, 5, 10):
        for _ in range(5):
            m1, m2 = rng.standard_normal(d), rng.standard_normal(d)
            c1, c2 = random_cov(rng, d) + 0.01 * np.eye(d), random_cov(rng, d)
            ours = metrics.w2_gaussian(m1, c1, m2, c2)
            pot = float(ot.gaussian.bures_wasserstein_distance(m1, m2, c1, c2))
            assert ours == pytest.approx(pot, rel=1e-7, abs=1e-9)


def test_w2_gaussian_commuting_covariances_closed_form():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 3, 4), rng.uniform(0, 3, 4)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))  # commuting: same eigenvectors
    c1, c2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert metrics.w2_gaussian(np.zeros(4), c1, np.zeros(4), c2, squared=True) == pytest.approx(
        expected, rel=1e-10, abs=1e-12
    )
    # 1-D: (dm)^2 + (s1 - s2)^2
    assert metrics.w2_gaussian(1.0, 4.0, -1.0, 9.0, squared=True) == pytest.approx(5.0)


def test_w2_gaussian_symmetric_zero_singular():
    rng = np.random.default_rng(2)
    for d in (2, 4, 7):
        c1 = random_cov(rng, d)
        c2 = random_cov(rng, d, rank=1)  # singular
        m = rng.standard_normal(d)
        ab = metrics.w2_gaussian(m, c1, 0 * m, c2, squared=True)
        ba = metrics.w2_gaussian(0 * m, c2, m, c1, squared=True)
        assert ab == ba  # exactly symmetric
        assert np.isfinite(ab) and ab >= 0
        assert metrics.w2_gaussian(m, c1, m, c1, squared=True) <= 1e-12 * np.trace(c1)
        assert metrics.w2_gaussian(m, c2, m, c2) >= 0.0
        zero = np.zeros((d, d))
        assert metrics.w2_gaussian(m, zero, m, c1, squared=True) == pytest.approx(np.trace(c1))


def test_w2_gaussian_against_the_naive_reference():
    """One pair at a time: the Bures formula against scipy.linalg.sqrtm (tests/naive.py)."""
    rng = np.random.default_rng(6)
    for d in (1, 2, 3, 6):
        for _ in range(4):
            m1, m2 = rng.standard_normal(d), rng.standard_normal(d)
            c1, c2 = random_cov(rng, d) + 0.1 * np.eye(d), random_cov(rng, d) + 0.1 * np.eye(d)
            want = naive.w2_gaussian_squared(m1, c1, m2, c2)
            assert metrics.w2_gaussian(m1, c1, m2, c2, squared=True) == pytest.approx(
                want, rel=1e-9, abs=1e-12
            )
    assert metrics.w2_gaussian(0.5, 2.0, -1.0, 0.3, squared=True) == pytest.approx(
        naive.w2_gaussian_squared(0.5, 2.0, -1.0, 0.3), rel=1e-14
    )


def test_w2_gaussian_broadcasts_in_one_dimension():
    rng = np.random.default_rng(7)
    m1, c1 = rng.standard_normal((3, 1)), rng.uniform(0, 4, (1, 4))
    m2, c2 = 0.7, rng.uniform(0, 4, 4)
    got = metrics.w2_gaussian(m1, c1, m2, c2, squared=True)
    assert isinstance(got, np.ndarray) and got.shape == (3, 4)
    for i, j in np.ndindex(3, 4):
        want = naive.w2_gaussian_squared(m1[i, 0], c1[0, j], m2, c2[j])
        assert got[i, j] == pytest.approx(want, rel=1e-13, abs=1e-15)
        # each element is the scalar call, to the bit
        assert got[i, j] == metrics.w2_gaussian(m1[i, 0], c1[0, j], m2, c2[j], squared=True)
    np.testing.assert_array_equal(metrics.w2_gaussian(m1, c1, m2, c2), np.sqrt(got))
    np.testing.assert_array_equal(got, metrics.w2_gaussian(m2, c2, m1, c1, squared=True))
    # the Monte Carlo W2^2 of fitted models against N(0, 1), as the verify checks compute it
    mu, var = rng.standard_normal(1000), rng.chisquare(9, 1000) / 9
    np.testing.assert_array_equal(
        metrics.w2_gaussian(mu, var, 0.0, 1.0, squared=True), mu * mu + (np.sqrt(var) - 1.0) ** 2
    )
    # scalars: a float, as before; scalar means broadcast against an array of variances
    assert type(metrics.w2_gaussian(0.0, 1.0, 1.0, 4.0)) is float
    np.testing.assert_array_equal(
        metrics.w2_gaussian(0.0, np.eye(2), 0.0, 1.0, squared=True), [[0.0, 1.0], [1.0, 0.0]]
    )


def test_w2_gaussian_broadcasts_in_d_dimensions():
    rng = np.random.default_rng(8)
    d = 3
    means = rng.standard_normal((2, 1, d))
    covs = np.stack([[random_cov(rng, d) + 0.1 * np.eye(d)] for _ in range(2)])  # (2, 1, d, d)
    means0 = rng.standard_normal((1, 4, d))
    covs0 = np.stack([[random_cov(rng, d, rank=2 if j == 3 else d) for j in range(4)]])
    got = metrics.w2_gaussian(means, covs, means0, covs0, squared=True)
    assert got.shape == (2, 4)
    for i, j in np.ndindex(2, 4):
        one = metrics.w2_gaussian(means[i, 0], covs[i, 0], means0[0, j], covs0[0, j], squared=True)
        assert got[i, j] == pytest.approx(one, rel=1e-13, abs=1e-14)
        if j < 3:  # sqrtm is not reliable for the singular covs0[0, 3]
            want = naive.w2_gaussian_squared(means[i, 0], covs[i, 0], means0[0, j], covs0[0, j])
            assert got[i, j] == pytest.approx(want, rel=1e-9)
    # exactly symmetric, element by element
    np.testing.assert_array_equal(
        got, metrics.w2_gaussian(means0, covs0, means, covs, squared=True)
    )
    # a stack of fitted models against one original model; a shared covariance broadcasts too
    stack = metrics.w2_gaussian(means[:, 0], covs[:, 0], np.zeros(d), np.eye(d), squared=True)
    assert stack.shape == (2,)
    shared = metrics.w2_gaussian(means[:, 0], covs[0, 0], np.zeros(d), np.eye(d), squared=True)
    assert shared[0] == pytest.approx(stack[0], rel=1e-14)
    assert type(metrics.w2_gaussian(np.zeros(d), np.eye(d), np.ones(d), np.eye(d))) is float


def test_w2_gaussian_vs_emd_on_large_samples():
    """1-D: W2 between N(0,1) and N(1,4) is sqrt(2); emd2 on n = 2e4 samples vs the formula.

    The empirical W2^2 between samples of size n has bias O(log n / n) and SD O(1/sqrt n);
    the stated precision 0.05 is > 10 SD of the sample estimate at n = 2e4 (SD ~ 0.004, from
    the delta method on the quantile coupling), so this comparison is deterministic in practice.
    """
    rng = np.random.default_rng(3)
    n = 20_000
    x = rng.standard_normal(n)
    y = 1.0 + 2.0 * rng.standard_normal(n)
    exact = metrics.w2_gaussian(0.0, 1.0, 1.0, 4.0, squared=True)
    ours = metrics.w2_empirical(x, y, squared=True)
    weights = np.full(n, 1.0 / n)
    pot = float(ot.emd2_1d(x, y, weights, weights, metric="sqeuclidean"))
    assert ours == pytest.approx(pot, rel=1e-9)
    assert ours == pytest.approx(exact, abs=0.05)
    # 2-D: emd2 between moment-matched samples (exact sample means and covariances). Gelbrich's
    # bound makes the Bures value a deterministic lower bound for any measures with these
    # moments; the excess is the non-Gaussian shape of finite samples, about 0.02 +- 0.003 at
    # m = 1500 (measured over seeds), so the upper margin 0.06 is > 10 SD.
    c2, m2 = np.array([[2.0, 0.6], [0.6, 0.5]]), np.array([1.0, -0.5])
    m = 1500
    u = moment_matched(rng.standard_normal((m, 2)), np.zeros(2), np.eye(2))
    v = moment_matched(rng.standard_normal((m, 2)), m2, c2)
    w = np.full(m, 1 / m)
    emd = float(ot.emd2(w, w, ot.dist(u, v), numItermax=10**7))
    bures = metrics.w2_gaussian(np.zeros(2), np.eye(2), m2, c2, squared=True)
    assert bures - 1e-9 <= emd <= bures + 0.06


def moment_matched(x, mean, cov):
    """Affine image of the sample with sample mean ``mean`` and (biased) covariance ``cov``."""
    x = x - x.mean(0)
    w, vec = np.linalg.eigh(np.cov(x.T, bias=True))
    x = x @ (vec @ np.diag(w**-0.5) @ vec.T)
    w, vec = np.linalg.eigh(cov)
    return mean + x @ (vec @ np.diag(w**0.5) @ vec.T)


def test_w2_empirical_unequal_sizes_matches_pot():
    rng = np.random.default_rng(4)
    for n, m in ((3, 2), (7, 5), (100, 37), (1000, 999)):
        x, y = rng.standard_normal(n), rng.standard_normal(m) * 2
        pot = float(ot.emd2_1d(x, y, np.full(n, 1 / n), np.full(m, 1 / m), metric="sqeuclidean"))
        assert metrics.w2_empirical(x, y, squared=True) == pytest.approx(pot, rel=1e-9, abs=1e-12)
        assert metrics.w2_empirical(x, y) == pytest.approx(metrics.w2_empirical(y, x), rel=1e-12)
    assert metrics.w2_empirical([1.0, 2.0], [2.0, 1.0]) == 0.0


def test_kl_gaussian():
    rng = np.random.default_rng(5)
    m1, m2 = rng.standard_normal(3), rng.standard_normal(3)
    c1, c2 = random_cov(rng, 3) + np.eye(3), random_cov(rng, 3) + np.eye(3)
    # Monte Carlo of E_p[log p - log q], z-test
    x = rng.multivariate_normal(m1, c1, 200_000)
    llr = stats.multivariate_normal(m1, c1).logpdf(x) - stats.multivariate_normal(m2, c2).logpdf(x)
    kl = metrics.kl_gaussian(m1, c1, m2, c2)
    assert abs(llr.mean() - kl) / (llr.std() / math.sqrt(x.shape[0])) < 4
    one_d = 0.5 * (4 / 9 + 4 / 9 - 1 + math.log(9 / 4))
    assert metrics.kl_gaussian(0.0, 4.0, 2.0, 9.0) == pytest.approx(one_d)
    assert metrics.kl_gaussian(m1, c1, m1, c1) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="positive definite"):
        metrics.kl_gaussian(0.0, 0.0, 0.0, 1.0)


def test_tail_mass_gaussian():
    assert metrics.tail_mass_gaussian(0.0, 1.0, 3.0) == pytest.approx(2 * stats.norm.sf(3.0))
    value = metrics.tail_mass_gaussian(0.5, 4.0, 1.5, center=1.0, scale=2.0)
    expected = stats.norm.sf((1.0 + 3.0 - 0.5) / 2) + stats.norm.cdf((1.0 - 3.0 - 0.5) / 2)
    assert value == pytest.approx(expected)
    out = metrics.tail_mass_gaussian(np.zeros(3), [1.0, 0.0, 4.0], 1.0)
    assert out.shape == (3,) and out[1] == 0.0
    assert metrics.tail_mass_gaussian(3.0, 0.0, 1.0) == 1.0
    assert metrics.tail_mass_gaussian(0.0, 1.0, 40.0) == pytest.approx(2 * stats.norm.sf(40.0))


def test_categorical_metrics():
    p, q = [0.2, 0.3, 0.5], [0.5, 0.25, 0.25]
    assert metrics.kl_categorical(p, q) == pytest.approx(stats.entropy(p, q))
    assert metrics.kl_categorical(p, p) == 0.0
    assert metrics.kl_categorical([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert metrics.kl_categorical([1.0, 0.0], [0.5, 0.5]) == pytest.approx(math.log(2))
    assert metrics.total_variation(p, q) == pytest.approx(0.3)
    assert metrics.entropy(p) == pytest.approx(stats.entropy(p))
    assert metrics.entropy([1.0, 0.0]) == 0.0


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: metrics.w2_gaussian(0.0, -1.0, 0.0, 1.0), ValueError, "c1"),
        (lambda: metrics.w2_gaussian(0.0, float("nan"), 0.0, 1.0), ValueError, "c1"),
        (
            lambda: metrics.w2_gaussian(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3)),
            ValueError,
            "m1",
        ),
        (
            lambda: metrics.w2_gaussian(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2)),
            ValueError,
            "c1",
        ),
        (
            lambda: metrics.w2_gaussian(np.zeros(2), [[1, 1], [0, 1]], np.zeros(2), np.eye(2)),
            ValueError,
            "symmetric",
        ),
        (
            lambda: metrics.w2_gaussian(np.zeros(2), [[1, 2], [2, 1]], np.zeros(2), np.eye(2)),
            ValueError,
            "semi-definite",
        ),
        (lambda: metrics.w2_gaussian(0.0, [1.0, -1.0], 0.0, 1.0), ValueError, "c1 must be >= 0"),
        (
            lambda: metrics.w2_gaussian(np.zeros(2), [1.0, 2.0, 3.0], 0.0, 1.0),
            ValueError,
            "broadcast",
        ),
        (
            lambda: metrics.w2_gaussian(np.zeros((2, 3)), np.eye(3), np.zeros((4, 3)), np.eye(3)),
            ValueError,
            "broadcast",
        ),
        (
            lambda: metrics.w2_gaussian(
                np.zeros((2, 2)), [np.eye(2), [[1, 1], [0, 1]]], np.zeros(2), np.eye(2)
            ),
            ValueError,
            r"c1\[1\] must be symmetric",
        ),
        (
            lambda: metrics.w2_gaussian(
                np.zeros(2), np.eye(2), np.zeros((2, 2)), [np.eye(2), [[1, 2], [2, 1]]]
            ),
            ValueError,
            r"c2\[1\] must be positive semi-definite",
        ),
        (lambda: metrics.w2_gaussian(np.zeros(2), np.eye(2), 0.0, np.eye(2)), ValueError, "m1"),
        (lambda: metrics.w2_gaussian("a", 1.0, 0.0, 1.0), TypeError, "m1"),
        (lambda: metrics.w2_empirical([], [1.0]), ValueError, "non-empty"),
        (lambda: metrics.w2_empirical([[1.0]], [1.0]), ValueError, "x"),
        (lambda: metrics.w2_empirical([np.nan], [1.0]), ValueError, "x"),
        (lambda: metrics.tail_mass_gaussian(0.0, -1.0, 1.0), ValueError, "var"),
        (lambda: metrics.tail_mass_gaussian(0.0, 1.0, 1.0, scale=0.0), ValueError, "scale"),
        (
            lambda: metrics.tail_mass_gaussian([0.0, 1.0], [1.0, 1.0, 1.0], 1.0),
            ValueError,
            "broadcast",
        ),
        (lambda: metrics.kl_categorical([0.5, 0.6], [0.5, 0.5]), ValueError, "sum to 1"),
        (lambda: metrics.kl_categorical([0.5, 0.5], [1.0]), ValueError, "same length"),
        (lambda: metrics.total_variation([-0.5, 1.5], [0.5, 0.5]), ValueError, "non-negative"),
        (lambda: metrics.entropy([[1.0]]), ValueError, "p"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@settings(max_examples=30, deadline=None)
@given(hs.integers(1, 6), hs.integers(0, 2**32 - 1), hs.floats(1e-6, 1e6), hs.booleans())
def test_fuzz_w2_gaussian(d, seed, scale, singular):
    rng = np.random.default_rng(seed)
    c1 = scale * random_cov(rng, d, rank=1 if singular else d)
    c2 = scale * random_cov(rng, d)
    m1, m2 = rng.standard_normal(d), rng.standard_normal(d)
    ab = metrics.w2_gaussian(m1, c1, m2, c2, squared=True)
    assert ab == metrics.w2_gaussian(m2, c2, m1, c1, squared=True)
    assert np.isfinite(ab) and ab >= 0
    assert metrics.w2_gaussian(m1, c1, m1, c1, squared=True) <= 1e-10 * scale * (1 + np.trace(c1))
    # triangle-type bounds: Bures term between 0 and (sqrt tr c1 + sqrt tr c2)^2
    bures = ab - np.sum((m1 - m2) ** 2)
    assert bures <= (math.sqrt(np.trace(c1)) + math.sqrt(np.trace(c2))) ** 2 * (1 + 1e-9)


@settings(max_examples=30, deadline=None)
@given(
    hs.lists(hs.floats(-1e6, 1e6), min_size=1, max_size=30),
    hs.lists(hs.floats(-1e6, 1e6), min_size=1, max_size=30),
)
def test_fuzz_w2_empirical_and_simplex_metrics(x, y):
    w = metrics.w2_empirical(x, y)
    assert w >= 0 and w == pytest.approx(metrics.w2_empirical(y, x), rel=1e-9, abs=1e-9)
    p = np.abs(np.asarray(x)) + 1e-3
    p = p / p.sum()
    assert 0 <= metrics.entropy(p) <= math.log(p.size) + 1e-9
    q = np.full(p.size, 1 / p.size)
    assert metrics.kl_categorical(p, q) >= 0 and 0 <= metrics.total_variation(p, q) <= 1
