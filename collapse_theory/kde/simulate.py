"""The KDE simulator: R chains of Gaussian KDEs refitted on their own samples (docs/theory.md §5.1)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    InputError,
    as_float_array,
    check_int,
    check_real,
    check_record,
    check_simulation_size,
    record_slots,
)
from collapse_theory.backends import jax_block_keys, jax_blocks, jax_dtype, resolve
from collapse_theory.kde import _numba
from collapse_theory.kde.options import (
    AccumulateSubsample,
    Bandwidth,
    Proportional,
    Regime,
    check_bandwidth,
    check_family_regime,
)
from collapse_theory.kde.theory import check_num_samples
from collapse_theory.regimes import Accumulate, FreshData, Replace, regime_code
from collapse_theory.results import SimulationResult, run_metadata
from collapse_theory.rng import SeedLike, run_replicate_blocks

__all__ = ["simulate", "start_model"]

#: Largest dimension of the points.
MAX_DIM = 64


def start_model(data0_or_var0: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Model 0 as (support points (K, d), kernel Cholesky factor (d, d)).

    A number is a variance: N(0, var0) in 1-D, one support point at 0 with factor sqrt(var0).
    An array of shape (N,) or (N, d) is a sample whose empirical distribution is model 0
    (factor 0): dataset 0 is resampled from it with replacement.
    """
    if np.ndim(data0_or_var0) == 0:
        var0 = check_real("data0_or_var0", data0_or_var0, minimum=0.0, strict_minimum=True)
        return np.zeros((1, 1)), np.full((1, 1), math.sqrt(var0))
    points = as_float_array("data0_or_var0", data0_or_var0)
    if points.ndim == 1:
        points = points[:, None]
    if points.ndim != 2 or points.shape[0] < 2 or not 1 <= points.shape[1] <= MAX_DIM:
        raise InputError(
            "data0_or_var0 must be a variance > 0 or an array of at least 2 points, shape (N,) "
            f"or (N, d) with 1 <= d <= {MAX_DIM}; got shape {points.shape}"
        )
    return np.ascontiguousarray(points), np.zeros((points.shape[1], points.shape[1]))


def _bandwidth_code(bandwidth: float | Proportional | str) -> tuple[int, float]:
    if isinstance(bandwidth, float):
        return _numba.FIXED, bandwidth
    if isinstance(bandwidth, Proportional):
        return _numba.PROPORTIONAL, bandwidth.c
    return (_numba.SCOTT if bandwidth == "scott" else _numba.SILVERMAN), 0.0


def _kernel_regime_code(regime: Regime) -> int:
    return _numba.SUBSAMPLE if isinstance(regime, AccumulateSubsample) else regime_code(regime)


def simulate(
    data0_or_var0: ArrayLike,
    num_samples: int,
    num_generations: int,
    *,
    bandwidth: Bandwidth,
    regime: Regime | None = None,
    num_replicates: int = 1000,
    record: str | Sequence[int] | np.ndarray = "all",
    seed: SeedLike = None,
    backend: str | None = None,
    progress: bool = False,
    num_threads: int | None = None,
    chunk_size: int = 1,
    tail_threshold: float | None = None,
    record_datasets: bool = False,
) -> SimulationResult:
    r"""Simulate R chains of a Gaussian KDE refitted on its own samples (docs/theory.md §5.1).

    Dataset n holds M draws from model n (a draw: a uniform support point plus kernel noise);
    model n+1 is the KDE of dataset n (Replace, FreshData), of the pool of datasets 0..n
    (Accumulate) or of a uniform M-subset of that pool (AccumulateSubsample). The kernel
    covariance is :math:`h^2 I` (fixed h) or :math:`c^2\hat\Sigma` (Proportional(c), "scott",
    "silverman"; :math:`\hat\Sigma` the MLE covariance of the fitted points).

    Parameters
    ----------
    data0_or_var0 : float or array_like, shape (N,) or (N, d)
        Model 0: N(0, var0) for a number, else the empirical distribution of the points (e.g. a
        named start of :func:`collapse_theory.kde.named_start`).
    num_samples : int
        M, the size of every dataset (>= 1; >= 2 for a data-dependent bandwidth).
    num_generations : int
        n >= 0.
    bandwidth : float h > 0, Proportional(c), "scott" or "silverman"
    regime : Replace (default), FreshData, Accumulate or AccumulateSubsample
    num_replicates : int
    record : "all", "last" or sequence of int
    seed : None, int, SeedSequence or Generator
        Same seed, same arrays, for any ``num_threads`` and ``chunk_size``.
    backend : None, "numba" or "jax"
        None: the default of :func:`collapse_theory.backends.use`. "jax" (Replace and FreshData,
        no ``record_datasets``) runs on jax's default device: the same law, not the same numbers.
        When jax is only the default, what it cannot run runs on numba.
    progress : bool
    num_threads, chunk_size : int
        Parallel execution over fixed replicate blocks; they never change the results.
    tail_threshold : float, optional
        1-D only: also record ``"tail"``, the mass of model n outside [-t, t] (t > 0).
    record_datasets : bool
        Also record ``"dataset"`` (len(record), R, M, d): dataset n, the M points drawn from
        model n (under FreshData, fresh points included), for distances to the start
        (:func:`collapse_theory.kde.distance_to_start`).

    Returns
    -------
    SimulationResult
        ``"mean"`` and ``"var"`` of shape (len(record), R) in 1-D; ``"mean"`` (len(record), R, d)
        and ``"cov"`` (len(record), R, d, d) in d dimensions: model n's mean and covariance
        (MLE covariance of its points + kernel covariance).

    Examples
    --------
    >>> run = simulate(1.0, 50, 10, bandwidth=0.3, num_replicates=2000, record="last", seed=1)
    >>> run["var"].shape
    (1, 2000)
    """
    support0, chol0 = start_model(data0_or_var0)
    bandwidth = check_bandwidth(bandwidth)
    num_samples = check_num_samples(num_samples, bandwidth)
    num_generations = check_int("num_generations", num_generations, minimum=0)
    num_replicates = check_int("num_replicates", num_replicates, minimum=1)
    regime = check_family_regime(Replace() if regime is None else regime)
    jax_cannot = isinstance(regime, (Accumulate, AccumulateSubsample)) or record_datasets
    backend = resolve(
        backend,
        not_on_jax=(
            "backend='jax' runs Replace and FreshData without record_datasets (static shapes); "
            f"got regime={regime!r}, record_datasets={record_datasets}: use backend='numba'"
        )
        if jax_cannot
        else None,
    )
    if num_threads is not None:
        check_int("num_threads", num_threads, minimum=1)
    check_int("chunk_size", chunk_size, minimum=1)
    dim = support0.shape[1]
    threshold = math.nan
    if tail_threshold is not None:
        if dim != 1:
            raise InputError(f"tail_threshold is for 1-D models; got points in {dim} dimensions")
        threshold = check_real("tail_threshold", tail_threshold, minimum=0.0, strict_minimum=True)
    pooled = isinstance(regime, (Accumulate, AccumulateSubsample))
    check_simulation_size(
        record,
        num_generations,
        num_replicates,
        dim
        + dim * dim
        + (1 if tail_threshold is not None else 0)
        + (num_samples * dim if record_datasets else 0),
        extra_bytes=8.0 * (num_generations + 1 if pooled else 2) * num_samples * dim,
    )
    recorded = check_record(record, num_generations)
    slots = record_slots(recorded, num_generations)
    rule, value = _bandwidth_code(bandwidth)
    fraction = regime.fraction if isinstance(regime, FreshData) else 0.0
    split_count = int(np.rint(fraction * num_samples))
    kernel_args = (
        support0,
        chol0,
        num_samples,
        num_generations,
        rule,
        value,
        _kernel_regime_code(regime),
        split_count,
        fraction,
        slots,
        threshold,
    )
    run = _simulate_jax if backend == "jax" else _simulate_numba
    means, covs, tails, datasets, seed_sequence = run(
        kernel_args,
        recorded.size,
        seed,
        num_replicates,
        record_datasets=record_datasets,
        num_threads=num_threads,
        chunk_size=chunk_size,
        progress=progress,
    )
    if dim == 1:
        trajectories = {"mean": means[..., 0], "var": covs[..., 0, 0]}
    else:
        trajectories = {"mean": means, "cov": covs}
    if tail_threshold is not None:
        trajectories["tail"] = tails
    if record_datasets:
        trajectories["dataset"] = datasets
    parameters = {
        "num_samples": num_samples,
        "num_generations": num_generations,
        "num_replicates": num_replicates,
        "dim": dim,
        "bandwidth": bandwidth if not isinstance(bandwidth, Proportional) else repr(bandwidth),
        "regime": repr(regime),
        "start": "gaussian" if np.ndim(data0_or_var0) == 0 else f"{support0.shape[0]} points",
    }
    return SimulationResult(
        generations=recorded,
        trajectories=trajectories,
        per_replicate={},
        metadata=run_metadata("kde", parameters, seed_sequence, backend),
    )


def _simulate_numba(
    kernel_args,
    num_slots,
    seed,
    num_replicates,
    *,
    record_datasets,
    num_threads,
    chunk_size,
    progress,
):
    """The numba kernel over the replicate blocks: means (S, R, d), covariances (S, R, d, d),
    tails (S, R) (or a placeholder), datasets (S, R, M or 0, d) and the root seed."""
    support0, num_samples = kernel_args[0], kernel_args[2]
    dim = support0.shape[1]
    means = np.empty((num_slots, num_replicates, dim))
    covs = np.empty((num_slots, num_replicates, dim, dim))
    with_tail = math.isfinite(kernel_args[-1])
    tails = np.empty((num_slots, num_replicates) if with_tail else (1, 1))
    datasets = np.empty((num_slots, num_replicates, num_samples if record_datasets else 0, dim))

    def work(generator: np.random.Generator, start: int, stop: int) -> None:
        _numba.simulate_block(
            generator,
            *kernel_args,
            means[:, start:stop],
            covs[:, start:stop],
            tails[:, start:stop] if with_tail else tails,
            datasets[:, start:stop],
        )

    seed_sequence = run_replicate_blocks(
        work,
        seed,
        num_replicates,
        label="kde",
        progress=progress,
        num_threads=num_threads,
        chunk_size=chunk_size,
    )
    return means, covs, tails, datasets, seed_sequence


def _simulate_jax(
    kernel_args,
    num_slots,
    seed,
    num_replicates,
    *,
    record_datasets,
    num_threads,
    chunk_size,
    progress,
):
    """The jax kernel (:mod:`collapse_theory.kde._jax`, Replace and FreshData), same outputs."""
    from collapse_theory.kde import _jax

    del record_datasets  # refused for jax before
    (
        support0,
        chol0,
        num_samples,
        generations,
        rule,
        value,
        regime,
        split_count,
        fraction,
        slots,
        threshold,
    ) = kernel_args
    seed_sequence, children, chunk_size = jax_blocks(seed, num_replicates, chunk_size, num_threads)
    means, covs, tails = _jax.simulate(
        jax_block_keys(children),
        num_replicates,
        support0,
        chol0,
        value,
        fraction,
        threshold,
        slots,
        generations=generations,
        num_samples=num_samples,
        split_count=split_count,
        rule=rule,
        regime=regime,
        num_slots=num_slots,
        dtype=jax_dtype(),
        chunk_size=chunk_size,
        progress=progress,
    )

    def swap(array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.swapaxes(array, 0, 1))

    return swap(means), swap(covs), swap(tails), None, seed_sequence
