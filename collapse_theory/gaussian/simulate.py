"""Public simulator of the Gaussian model (theory.md §2 in one dimension, §3 in d dimensions).

Model i+1 is the Gaussian fitted (sample mean and unbiased or maximum-likelihood covariance) to
M_i draws from model i, under the Replace, FreshData and Accumulate regimes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from collapse_theory._validate import (
    as_float_array,
    check_choice,
    check_int,
    check_record,
    check_record_size,
    record_slots,
)
from collapse_theory.gaussian import _numba
from collapse_theory.regimes import FreshData, Replace, check_regime, regime_code
from collapse_theory.results import SimulationResult, run_metadata
from collapse_theory.rng import run_replicate_blocks
from collapse_theory.schedules import as_schedule

__all__ = ["check_covariance", "simulate"]

ESTIMATORS = ("unbiased", "mle")
METHODS = ("sufficient", "samples")


def check_covariance(name: str, cov: Any, dim: int | None = None) -> np.ndarray:
    """A finite, symmetric, positive semi-definite d x d matrix (tolerance 1e-10 relative)."""
    cov = as_float_array(name, cov, ndim=2)
    if cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square matrix; got shape {cov.shape}")
    if dim is not None and cov.shape[0] != dim:
        raise ValueError(f"{name} must be {dim} x {dim} to match mean0; got shape {cov.shape}")
    scale = max(float(np.max(np.abs(cov))), np.finfo(float).tiny)
    if not np.allclose(cov, cov.T, rtol=0.0, atol=1e-10 * scale):
        raise ValueError(
            f"{name} must be symmetric; got max |C - C^T| = {np.max(np.abs(cov - cov.T)):.3g}"
        )
    smallest = float(np.linalg.eigvalsh(cov)[0])
    if smallest < -1e-10 * scale:
        raise ValueError(
            f"{name} must be positive semi-definite; got smallest eigenvalue {smallest:.3g}"
        )
    return 0.5 * (cov + cov.T)


def _check_fit_sizes(
    sizes: np.ndarray, fresh: np.ndarray, dim: int, ddof: int, regime: Any
) -> None:
    """Each fit needs enough points: M > d for a covariance, M >= 2 for the unbiased variance."""
    minimum = dim + 1 if dim > 1 else 1 + ddof
    if sizes.size and sizes.min() < minimum:
        what = (
            f"M > d = {dim} to fit a {dim}x{dim} covariance"
            if dim > 1
            else ("M >= 2 for the unbiased variance" if ddof else "M >= 1")
        )
        raise ValueError(
            f"num_samples must satisfy {what}; got a sample size of {int(sizes.min())}"
        )
    if isinstance(regime, FreshData) and regime.variant == "split" and np.any(sizes - fresh < 1):
        raise ValueError(
            f"FreshData(fraction={regime.fraction}, 'split') leaves no synthetic draws for "
            f"num_samples={int(sizes.min())}; use a smaller fraction or more samples"
        )


def simulate(
    mean0: Any,
    cov0: Any,
    num_samples: Any,
    num_generations: int,
    *,
    num_replicates: int = 1000,
    estimator: str = "unbiased",
    regime: Any = None,
    method: str = "sufficient",
    record: Any = "all",
    seed: Any = None,
    backend: str = "numba",
    progress: bool = False,
    num_threads: int | None = None,
    chunk_size: int = 1,
) -> SimulationResult:
    r"""Simulate recursive fitting of a Gaussian (theory.md §2.1, §3.1).

    .. math::

        \mu_{i+1} = \bar X^{(i)}, \qquad
        \Sigma_{i+1} = \frac{1}{M_i - \delta} \sum_{j=1}^{M_i} (X^{(i)}_j - \bar X^{(i)})
        (X^{(i)}_j - \bar X^{(i)})^\top, \qquad X^{(i)}_j \sim N(\mu_i, \Sigma_i)

    with :math:`\delta = 1` (``estimator="unbiased"``) or 0 (``"mle"``). ``method="sufficient"``
    draws the sample mean and scatter directly, :math:`\bar X \sim N(\mu, \Sigma/M)` and scatter
    :math:`\sim \mathrm{Wishart}_d(M-1, \Sigma)` via the Bartlett factor (exact, O(d^3) per
    generation); ``method="samples"`` draws the M points (the paper's procedure). FreshData
    mixes in draws from the original model (``"split"``: round(fraction M) of them; ``"mix"``:
    Binomial(M, fraction) of them); Accumulate fits the pool of all batches so far.

    Parameters
    ----------
    mean0 : float or array_like, shape (d,)
        Mean of model 0; a scalar selects the 1-D model.
    cov0 : float or array_like, shape (d, d)
        Variance sigma_0^2 (1-D) or covariance of model 0 (symmetric positive semi-definite).
    num_samples : int or schedule
        M, or a schedule of M_i; every fit needs M_i > d (and M_i >= 2 for "unbiased" in 1-D).
    num_generations : int
        n >= 0.
    num_replicates : int
        R independent chains.
    estimator : "unbiased" or "mle"
    regime : Replace, FreshData or Accumulate
    method : "sufficient" or "samples"
    record : "all", "last" or sequence of int
    seed : None, int, SeedSequence or Generator
        Same seed, same arrays, for any ``num_threads`` and ``chunk_size``.
    backend : "numba"
    progress : bool
    num_threads, chunk_size : int
        Parallel execution over fixed replicate blocks; they never change the results.

    Returns
    -------
    SimulationResult
        1-D: ``"mean"`` and ``"var"`` of shape (len(record), R). d-D: ``"mean"`` (len(record), R, d)
        and ``"cov"`` (len(record), R, d, d).

    Examples
    --------
    >>> import collapse_theory as ct
    >>> run = ct.gaussian.simulate(0.0, 1.0, 10, 20, num_replicates=1000, seed=0)
    >>> run["var"].shape
    (21, 1000)
    """
    check_choice("estimator", estimator, ESTIMATORS)
    check_choice("method", method, METHODS)
    check_choice("backend", backend, ("numba", "jax"))
    if backend == "jax":
        raise ValueError(
            "backend='jax' is not implemented for the Gaussian simulator yet; use 'numba'"
        )
    one_dim = np.ndim(mean0) == 0
    mean0_array = as_float_array("mean0", mean0, ndim=0 if one_dim else 1)
    if one_dim:
        var0 = as_float_array("cov0", cov0)
        if var0.size != 1:
            raise ValueError(
                f"cov0 must be a scalar variance when mean0 is a scalar; got shape {var0.shape}"
            )
        var0 = float(var0.reshape(()))
        if var0 <= 0:
            raise ValueError(f"cov0 (the variance sigma_0^2) must be > 0; got {var0}")
        dim = 1
    else:
        dim = mean0_array.size
        if dim == 0:
            raise ValueError("mean0 must have at least one coordinate; got an empty array")
        cov0_array = check_covariance("cov0", cov0, dim)
    num_generations = check_int("num_generations", num_generations, minimum=0)
    schedule = as_schedule(num_samples)
    sizes = schedule.sizes(num_generations)
    num_replicates = check_int("num_replicates", num_replicates, minimum=1)
    regime = check_regime(Replace() if regime is None else regime)
    recorded = check_record(record, num_generations)
    ddof = 1 if estimator == "unbiased" else 0
    fraction = regime.fraction if isinstance(regime, FreshData) else 0.0
    fresh_counts = np.rint(fraction * sizes).astype(np.int64)
    _check_fit_sizes(sizes, fresh_counts, dim, ddof, regime)
    per_replicate = dim + dim * dim if not one_dim else 2
    check_record_size(record, recorded.size * num_replicates * per_replicate)
    slots = record_slots(recorded, num_generations)
    common = (
        sizes,
        fresh_counts,
        regime_code(regime),
        fraction,
        ddof,
        _numba.SUFFICIENT if method == "sufficient" else _numba.SAMPLES,
        slots,
    )

    if one_dim:
        out_mean = np.empty((recorded.size, num_replicates))
        out_var = np.empty((recorded.size, num_replicates))

        def work(generator: np.random.Generator, start: int, stop: int) -> None:
            _numba.simulate_block_1d(
                generator,
                float(mean0_array),
                var0,
                *common,
                out_mean[:, start:stop],
                out_var[:, start:stop],
            )

        trajectories = {"mean": out_mean, "var": out_var}
    else:
        out_mean = np.empty((recorded.size, num_replicates, dim))
        out_cov = np.empty((recorded.size, num_replicates, dim, dim))

        def work(generator: np.random.Generator, start: int, stop: int) -> None:
            _numba.simulate_block_nd(
                generator,
                mean0_array,
                cov0_array,
                *common,
                out_mean[:, start:stop],
                out_cov[:, start:stop],
            )

        trajectories = {"mean": out_mean, "cov": out_cov}

    seed_sequence = run_replicate_blocks(
        work,
        seed,
        num_replicates,
        label="gaussian",
        progress=progress,
        num_threads=num_threads,
        chunk_size=chunk_size,
    )
    parameters = {
        "mean0": mean0_array,
        "cov0": var0 if one_dim else cov0_array,
        "num_samples": repr(schedule),
        "sample_sizes": sizes if sizes.size <= 10_000 else "omitted (long schedule)",
        "num_generations": num_generations,
        "num_replicates": num_replicates,
        "estimator": estimator,
        "regime": repr(regime),
        "method": method,
    }
    return SimulationResult(
        generations=recorded,
        trajectories=trajectories,
        metadata=run_metadata("gaussian", parameters, seed_sequence, backend),
    )
