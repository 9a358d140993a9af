r"""Tail-mass curves by Monte Carlo over simulated chains, for every regime.

Each function runs the family's public simulator (same seed, same numbers, whatever the number
of threads), measures the tail mass :math:`T_n` of every replicate's model at the recorded
generations and summarises it with :func:`~collapse_theory.tails.curves.curve_from_samples`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from collapse_theory import categorical, gaussian, gmm
from collapse_theory._validate import check_int
from collapse_theory.gmm.paper import mixture_variance
from collapse_theory.tails.curves import (
    TailCurve,
    _half_window,
    curve_from_samples,
    drift_from_logs,
)
from collapse_theory.tails.definitions import CategoricalTail, GaussianTail, MixtureTail
from collapse_theory.tails.exact import _check_eps, _check_record

__all__ = ["categorical_monte_carlo", "gaussian_monte_carlo", "mixture_monte_carlo"]


def _horizon(gens: np.ndarray) -> int:
    return int(gens[-1])


def categorical_monte_carlo(
    p0: Any,
    tail: CategoricalTail,
    num_samples: Any,
    generations: Any,
    *,
    regime: Any = None,
    eps: float = 0.01,
    num_replicates: int = 1000,
    seed: Any = None,
    progress: bool = False,
) -> TailCurve:
    r"""Tail mass :math:`T_n = \sum_{i\in A} p_{n,i}` of simulated categorical chains
    (theory.md §1.9) and the number of tail states still present.

    The scale drift is :math:`d\ln E[T_n(1-T_n)]/dn` over the second half of the horizon, with a
    delta-method standard error (under Replace it is :math:`\ln(1-1/M)`, §1.3; NaN once every
    replicate is absorbed by mid-horizon).

    Examples
    --------
    >>> curve = categorical_monte_carlo(
    ...     [0.9, 0.05, 0.05], CategoricalTail(threshold=0.1), 20, [0, 1, 5], num_replicates=200,
    ...     seed=0)
    >>> float(curve.median[0]), curve.num_draws
    (0.1, 200)
    """
    if not isinstance(tail, CategoricalTail):
        raise TypeError(f"tail must be a CategoricalTail; got {type(tail).__name__}")
    states = tail.states(p0)
    gens = _check_record(generations)
    eps = _check_eps(eps)
    num_replicates = check_int("num_replicates", num_replicates, minimum=2)
    run = categorical.simulate(
        p0,
        num_samples,
        _horizon(gens),
        num_replicates=num_replicates,
        regime=regime,
        record=gens,
        seed=seed,
        progress=progress,
    )
    p_tail = run["p"][:, :, states]
    masses = p_tail.sum(axis=-1)
    t0 = float(masses[0, 0])
    het = masses * (1.0 - masses)
    first, last = _half_window(gens)
    m1, m2 = het[first].mean(), het[last].mean()
    steps = float(gens[last] - gens[first])
    # Delta method for ln(mean h_last) - ln(mean h_first) from paired replicates.
    with np.errstate(divide="ignore", invalid="ignore"):  # NaN once every chain is absorbed
        influence = het[last] / m2 - het[first] / m1
        drift = (
            float(np.log(m2 / m1) / steps),
            float(influence.std(ddof=1) / np.sqrt(num_replicates) / steps),
        )
    return curve_from_samples(
        gens, masses, t0, eps, surviving=(p_tail > 0).sum(axis=-1), scale_drift=drift
    )


def gaussian_monte_carlo(
    tail: GaussianTail,
    num_samples: Any,
    generations: Any,
    *,
    estimator: str = "unbiased",
    regime: Any = None,
    eps: float = 0.01,
    num_replicates: int = 2000,
    seed: Any = None,
    progress: bool = False,
) -> TailCurve:
    r"""Tail mass :math:`\bar\Phi((k-\delta)/s) + \Phi((-k-\delta)/s)` of simulated 1-D Gaussian
    chains started at N(0, 1) (exact sufficient-statistics sampler, theory.md §2.1, §2.9).

    The scale drift is the mean per-generation change of :math:`\ln\sigma_n^2` over the second
    half of the horizon (:math:`\approx -1/M` unbiased, :math:`-2/M` MLE under Replace, §2.3).

    Examples
    --------
    >>> curve = gaussian_monte_carlo(GaussianTail(k=3), 10, [0, 20], num_replicates=500, seed=0)
    >>> round(float(curve.median[0]), 4)
    0.0027
    """
    if not isinstance(tail, GaussianTail):
        raise TypeError(f"tail must be a GaussianTail; got {type(tail).__name__}")
    gens = _check_record(generations)
    eps = _check_eps(eps)
    num_replicates = check_int("num_replicates", num_replicates, minimum=2)
    run = gaussian.simulate(
        0.0,
        1.0,
        num_samples,
        _horizon(gens),
        num_replicates=num_replicates,
        estimator=estimator,
        regime=regime,
        record=gens,
        seed=seed,
        progress=progress,
    )
    masses = tail.mass(run["mean"], run["var"])
    with np.errstate(divide="ignore"):
        drift = drift_from_logs(gens, np.log(run["var"]))
    return curve_from_samples(gens, masses, tail.original_mass, eps, scale_drift=drift)


def mixture_monte_carlo(
    mixture0: Any,
    tail: MixtureTail,
    num_samples: Any,
    generations: Any,
    *,
    regime: Any = None,
    eps: float = 0.01,
    num_replicates: int = 100,
    seed: Any = None,
    progress: bool = False,
) -> TailCurve:
    r"""Tail mass of 1-D Gaussian mixtures refitted by EM (warm start; theory.md §4), measured
    exactly on each fitted mixture (normal CDFs over the tail intervals).

    The scale drift is the mean per-generation change of the log mixture variance over the
    second half of the horizon.

    Examples
    --------
    >>> import collapse_theory as ct
    >>> mix0 = ct.gmm.Mixture([0.5, 0.5], [[-2.0], [2.0]], [[[1.0]], [[1.0]]])
    >>> curve = mixture_monte_carlo(mix0, MixtureTail(quantile=0.1), 50, [0, 2], seed=0,
    ...                             num_replicates=8)
    >>> round(float(curve.median[0]), 6)
    0.1
    """
    if not isinstance(tail, MixtureTail):
        raise TypeError(f"tail must be a MixtureTail; got {type(tail).__name__}")
    t0 = tail.original_mass(mixture0)  # also validates mixture0 (1-D) before simulating
    gens = _check_record(generations)
    eps = _check_eps(eps)
    num_replicates = check_int("num_replicates", num_replicates, minimum=2)
    run = gmm.simulate(
        mixture0,
        num_samples,
        _horizon(gens),
        num_replicates=num_replicates,
        regime=regime,
        record=gens,
        seed=seed,
        progress=progress,
    )
    weights, means, covs = run["weights"], run["means"], run["covs"]
    masses = tail.mass(mixture0, weights, means[..., 0], covs[..., 0, 0])
    drift = drift_from_logs(gens, np.log(mixture_variance(weights, means, covs)[..., 0]))
    return curve_from_samples(gens, masses, t0, eps, scale_drift=drift)
