r"""The class histogram of a VAE's samples against the K = 10 Wright–Fisher chain
(docs/theory.md §1.3, §1.4, §11.2).

Let :math:`\hat p_k` be the class frequencies of model k's N samples under the fixed classifier.
If every VAE reproduced the class law of its training set, :math:`N\hat p_{k+1} \mid \hat p_k
\sim \mathrm{Multinomial}(N, \hat p_k)`: the neutral Wright–Fisher chain of docs/theory.md §1
with K = 10 states and M = N, started at :math:`\hat p_0`. Given :math:`\hat p_0`, exactly:

- :math:`E\hat p_n = \hat p_0` and :math:`\mathrm{Cov}\,\hat p_n = c_n\,(\mathrm{diag}\,\hat p_0
  - \hat p_0 \hat p_0^\top)` with :math:`c_n = 1 - (1 - 1/N)^n` under Replace (§1.3; FreshData
  and Accumulate: §1.7, §1.8), hence :math:`E\lVert\hat p_n - \hat p_0\rVert^2 = c_n H_0`,
  :math:`H_0 = 1 - \sum_i \hat p_{0,i}^2`, and :math:`E H_n = H_0 - c_n H_0`;
- the expected number of surviving classes :math:`E N_n = \sum_i (1 - P(\hat p_{n,i} = 0))`
  (§1.4, lumped two-state chains);
- the entropy of :math:`\hat p_n` has no closed form: its band is the 5%–95% range of
  Wright–Fisher chains simulated with :func:`collapse_theory.categorical.simulate`.

A VAE departs from this neutral law through its own bias (it does not reproduce the class law
of its training data): :func:`drift_test` measures the departure as the ratio of the observed
mean squared drift to the neutral one, i.e. an effective sample size
:math:`M_{\mathrm{eff}} \approx N / \mathrm{ratio}` for small :math:`n / N`, and the mean drift
of each class with its z-score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._stats import mean_se
from collapse_theory._validate import (
    InputError,
    as_float_array,
    check_generations,
    check_int,
    check_probability_vector,
)
from collapse_theory.regimes import Regime, Replace, check_regime
from collapse_theory.rng import SeedLike

__all__ = ["ClassChainPrediction", "DriftTest", "class_chain_prediction", "drift_test"]


@dataclass(frozen=True)
class ClassChainPrediction:
    """The K-state Wright–Fisher prediction for a class histogram (docs/theory.md §1.3, §1.4).

    Attributes
    ----------
    generations : numpy.ndarray, shape (n,)
    drift_scale : numpy.ndarray, shape (n,)
        :math:`c_n`: :math:`\\mathrm{Cov}\\,\\hat p_n = c_n (\\mathrm{diag}\\,p_0 - p_0 p_0^\\top)`.
    expected_heterozygosity : numpy.ndarray, shape (n,)
        :math:`E H_n = (1 - c_n) H_0` (exact).
    expected_survivors : numpy.ndarray, shape (n,)
        :math:`E N_n` (exact under Replace; the Monte Carlo mean otherwise).
    entropy_band : numpy.ndarray, shape (n, 2)
        5% and 95% quantiles of the entropy (nats) of simulated chains.
    entropy_median : numpy.ndarray, shape (n,)
        Their median.
    survivors_band : numpy.ndarray, shape (n, 2)
        5% and 95% quantiles of the number of surviving classes.
    """

    generations: np.ndarray
    drift_scale: np.ndarray
    expected_heterozygosity: np.ndarray
    expected_survivors: np.ndarray
    entropy_band: np.ndarray
    entropy_median: np.ndarray
    survivors_band: np.ndarray


def class_chain_prediction(
    p0: ArrayLike,
    num_samples: int,
    generations: ArrayLike,
    regime: Regime | None = None,
    *,
    num_replicates: int = 4000,
    seed: SeedLike = 0,
) -> ClassChainPrediction:
    r"""Wright–Fisher prediction for the class histogram of generations ``generations``
    (docs/theory.md §1.3, §1.4, §1.7, §1.8, §11.2), started at ``p0`` with M = ``num_samples``.

    .. math:: E H_n = (1 - c_n) H_0, \qquad E N_n = \sum_i \big(1 - P(p_{n,i} = 0)\big)

    Parameters
    ----------
    p0 : array_like, shape (K,)
        Class frequencies of generation 0's samples.
    num_samples : int
        M = N >= 1, samples per generation.
    generations : int or array_like of int
        n >= 0, generations after generation 0.
    regime : Replace, FreshData or Accumulate
        Default Replace; FreshData's fresh draws come from ``p0``.
    num_replicates : int
        Simulated chains for the entropy and survivor bands (default 4000).
    seed : int or SeedSequence
        Seed of those chains.

    Returns
    -------
    ClassChainPrediction
    """
    from collapse_theory.categorical import simulate
    from collapse_theory.categorical import theory as categorical

    p0 = check_probability_vector("p0", p0)
    num_samples = check_int("num_samples", num_samples, minimum=1)
    gens = np.atleast_1d(check_generations("generations", generations))
    num_replicates = check_int("num_replicates", num_replicates, minimum=2)
    regime = check_regime(Replace() if regime is None else regime, where="class_chain_prediction")
    h0 = 1.0 - float(p0 @ p0)
    _, cov = categorical.moments(p0, num_samples, gens, regime)
    trace = np.trace(np.atleast_3d(cov).reshape(len(gens), p0.size, p0.size), axis1=1, axis2=2)
    scale = trace / h0 if h0 > 0 else np.zeros(len(gens))
    run = simulate(
        p0,
        num_samples,
        int(gens.max()),
        num_replicates=num_replicates,
        regime=regime,
        record=sorted(set(gens.tolist())),
        seed=seed,
    )
    freq = np.stack([run.at("p", int(n)) for n in gens])  # (n, R, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.sum(np.where(freq > 0, freq * np.log(freq), 0.0), axis=-1)
    survivors = (freq > 0).sum(axis=-1)
    if isinstance(regime, Replace):
        expected_survivors = np.atleast_1d(categorical.expected_survivors(p0, num_samples, gens))
    else:
        expected_survivors = survivors.mean(axis=1)
    return ClassChainPrediction(
        generations=gens,
        drift_scale=scale,
        expected_heterozygosity=(1.0 - scale) * h0,
        expected_survivors=np.asarray(expected_survivors, dtype=float),
        entropy_band=np.quantile(ent, [0.05, 0.95], axis=1).T,
        entropy_median=np.median(ent, axis=1),
        survivors_band=np.quantile(survivors, [0.05, 0.95], axis=1).T,
    )


@dataclass(frozen=True)
class DriftTest:
    """Observed class drift against the neutral Wright–Fisher drift (docs/theory.md §1.3, §11.2).

    Attributes
    ----------
    generations : numpy.ndarray, shape (G,)
        1, ..., G.
    ratio, ratio_se : numpy.ndarray, shape (G,)
        Mean over chains of :math:`\\lVert\\hat p_n - \\hat p_0\\rVert^2 / (c_n H_0)` (1 for a
        neutral chain) and its standard error over chains.
    effective_samples : numpy.ndarray, shape (G,)
        :math:`M_{\\mathrm{eff}}`: the M of a neutral chain with the observed mean squared drift
        (solving :math:`c_n(M) H_0 = \\lVert\\cdot\\rVert^2` with Replace's
        :math:`c_n = 1 - (1 - 1/M)^n`; inf when there is no drift; nan for other regimes).
    mean_drift, mean_drift_se : numpy.ndarray, shape (G, K)
        Mean over chains of :math:`\\hat p_{n,i} - \\hat p_{0,i}` and its standard error
        (0 for a neutral chain: the martingale of §1.2).
    z_max : numpy.ndarray, shape (G,)
        The largest :math:`|z|` of the mean drifts over classes (standard errors over the R
        chains: a t-statistic with R - 1 degrees of freedom, heavy-tailed for small R).
    spread_ratio : numpy.ndarray, shape (G,)
        The random part alone: :math:`\\sum_i \\widehat{\\mathrm{Var}}_r(\\hat p_{n,i} -
        \\hat p_{0,i}) / (c_n \\bar H_0)` (variance across chains, 1 for a neutral chain); what
        ``ratio`` has beyond it is the chains' common (systematic) drift.
    """

    generations: np.ndarray
    ratio: np.ndarray
    ratio_se: np.ndarray
    effective_samples: np.ndarray
    mean_drift: np.ndarray
    mean_drift_se: np.ndarray
    z_max: np.ndarray
    spread_ratio: np.ndarray


def drift_test(frequencies: ArrayLike, num_samples: int, regime: Regime | None = None) -> DriftTest:
    r"""Compare the class drift of R chains with the neutral chain (docs/theory.md §1.3, §11.2).

    .. math:: \mathrm{ratio}_n = \frac{1}{R}\sum_r
              \frac{\lVert \hat p^{(r)}_n - \hat p^{(r)}_0 \rVert^2}{c_n H^{(r)}_0},
              \qquad E[\mathrm{ratio}_n] = 1 \text{ for a neutral chain}

    Parameters
    ----------
    frequencies : array_like, shape (R, G+1, K)
        Class frequencies of R >= 2 chains at generations 0..G (G >= 1).
    num_samples : int
        M = N, samples per generation.
    regime : Replace, FreshData or Accumulate
        Default Replace (sets :math:`c_n`, docs/theory.md §1.3, §1.7, §1.8).

    Returns
    -------
    DriftTest
    """
    from collapse_theory.categorical import theory as categorical

    freq = as_float_array("frequencies", frequencies, ndim=3)
    num_samples = check_int("num_samples", num_samples, minimum=1)
    regime = check_regime(Replace() if regime is None else regime, where="drift_test")
    reps, count, k = freq.shape
    if reps < 2 or count < 2:
        raise InputError(f"frequencies must have shape (R >= 2, G+1 >= 2, K); got {freq.shape}")
    if np.any(freq < 0) or not np.allclose(freq.sum(axis=-1), 1.0, atol=1e-9):
        raise InputError("frequencies must be non-negative and sum to 1 over the last axis")
    gens = np.arange(1, count)
    h0 = 1.0 - np.sum(freq[:, 0] ** 2, axis=-1)  # (R,)
    uniform = np.full(k, 1.0 / k)
    _, cov = categorical.moments(uniform, num_samples, gens, regime)
    scale = np.trace(cov, axis1=1, axis2=2) / (1.0 - 1.0 / k)  # c_n does not depend on p0
    drift = freq[:, 1:] - freq[:, :1]  # (R, G, K)
    squared = np.sum(drift**2, axis=-1)  # (R, G)
    ratio, ratio_se = mean_se(squared / (scale[None] * h0[:, None]), axis=0)
    mean_drift, drift_se = mean_se(drift, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(drift_se > 0, mean_drift / drift_se, 0.0)
    observed = squared.mean(axis=0) / h0.mean()
    effective = _effective_samples(observed, gens, regime)
    spread = drift.var(axis=0, ddof=1).sum(axis=-1) / (scale * h0.mean())
    return DriftTest(
        gens, ratio, ratio_se, effective, mean_drift, drift_se, np.abs(z).max(axis=1), spread
    )


def _effective_samples(observed_scale: np.ndarray, gens: np.ndarray, regime: Regime) -> np.ndarray:
    """Replace: M with 1 - (1 - 1/M)^n = observed (inf for no drift, 1 for c >= 1); nan for the
    other regimes (no single-parameter reading)."""
    if not isinstance(regime, Replace):
        return np.full(len(gens), np.nan)
    out = np.full(len(gens), np.inf)
    for j, (c, n) in enumerate(zip(observed_scale, gens, strict=True)):
        if c >= 1:
            out[j] = 1.0
        elif c > 0:
            out[j] = 1.0 / (1.0 - (1.0 - c) ** (1.0 / n))
    return out
