"""collapse_theory._jax_samplers: the exact Gamma sampler for vmapped jax kernels, against the
Gamma law (Kolmogorov-Smirnov, mean and variance z-scores at fixed seeds), and the jax Gaussian
simulator that draws its chi-squares with it against the closed form of one generation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

jax = pytest.importorskip("jax")

import collapse_theory as ct  # noqa: E402
from collapse_theory import _jax_samplers  # noqa: E402
from collapse_theory._stats import (  # noqa: E402
    mean_z,
    proportion_z,
    variance_z,
    z_threshold,
)

SHAPES = (0.3, 1.0, 4.5, 49.5)
#: Family-wise false-alarm rate 1e-3 over the 3 tests of every shape.
Z_STAR = z_threshold(1e-3, 3 * len(SHAPES))
DRAWS = 20_000
#: One compiled sampler for every shape (a runtime argument).
SAMPLE = jax.jit(jax.vmap(_jax_samplers.gamma, in_axes=(0, None)))


@pytest.mark.parametrize("shape", SHAPES)
def test_gamma_follows_the_gamma_law(shape):
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(int(10 * shape)), DRAWS)
        draws = np.asarray(SAMPLE(keys, shape))
    assert draws.dtype == np.float64 and np.all(draws > 0)
    assert abs(mean_z(draws, shape)) < Z_STAR
    assert abs(variance_z(draws, shape)) < Z_STAR
    assert stats.kstest(draws, stats.gamma(shape).cdf).pvalue > 1e-3 / (3 * len(SHAPES))


def test_elementwise_shapes_and_chisquare():
    with jax.enable_x64(True):
        dof = np.array([[0.0, 1.0], [3.0, 99.0]])
        keys = jax.random.split(jax.random.key(1), DRAWS)
        draws = np.asarray(jax.jit(jax.vmap(lambda k: _jax_samplers.chisquare(k, dof)))(keys))
    assert draws.shape == (DRAWS, 2, 2)
    assert np.all(draws[:, 0, 0] == 0)
    for index in ((0, 1), (1, 0), (1, 1)):
        assert abs(mean_z(draws[(slice(None), *index)], dof[index])) < Z_STAR


def test_float32():
    with jax.enable_x64(True):
        draw = _jax_samplers.gamma(jax.random.key(0), 2.5, jax.numpy.float32)
    assert draw.dtype == np.float32 and draw > 0


def test_jax_gaussian_one_generation_follows_the_closed_form():
    """One Replace generation of the 1-D Gaussian (unbiased, M points, sufficient statistics):
    mu_1 ~ N(mu_0, sigma_0^2 / M), sigma_1^2 ~ sigma_0^2 chi2_{M-1} / (M - 1) (docs/theory.md
    §2.1). z-tests of the mean and variance of both, of E[log sigma_1^2] = psi((M-1)/2) +
    log(2 / (M - 1)) + log sigma_0^2, and of the probability below the exact median; family-wise
    false-alarm rate 1e-3."""
    size, var0, num_replicates = 10, 2.0, 20_000
    run = ct.gaussian.simulate(
        1.0, var0, size, 1, num_replicates=num_replicates, seed=17, backend="jax"
    )
    mean1, var1 = run["mean"][1], run["var"][1]
    dof = size - 1
    z_star = z_threshold(1e-3, 6)
    assert abs(mean_z(mean1, 1.0)) < z_star
    assert abs(variance_z(mean1, var0 / size)) < z_star
    assert abs(mean_z(var1, var0)) < z_star
    assert abs(variance_z(var1, 2 * var0**2 / dof)) < z_star
    log_mean = float(special.digamma(dof / 2) + np.log(2 / dof) + np.log(var0))
    assert abs(mean_z(np.log(var1), log_mean)) < z_star
    median = var0 * stats.chi2(dof).median() / dof
    assert abs(proportion_z(var1 < median, 0.5)) < z_star
