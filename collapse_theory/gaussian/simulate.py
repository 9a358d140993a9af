"""Public simulator of the Gaussian model (docs/theory.md §2 in one dimension, §3 in d dimensions).

Model i+1 is the Gaussian fitted (sample mean and unbiased or maximum-likelihood covariance) to
M_i draws from model i, under the Replace, FreshData and Accumulate regimes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._chunks import memory_budget, replicates_per_call
from collapse_theory._validate import (
    InputError,
    InputTypeError,
    _show,
    as_float_array,
    check_allocation,
    check_choice,
    check_covariance,
    check_finite_result,
    check_int,
    check_record,
    check_simulation_size,
    record_slots,
)
from collapse_theory.backends import JAX_BLOCKS_PER_CALL, jax_block_keys, jax_dtype, resolve
from collapse_theory.gaussian import _numba
from collapse_theory.gaussian.theory import ESTIMATORS, refuse_sigma0
from collapse_theory.policies import Policy, check_policy
from collapse_theory.regimes import (
    BASIC_REGIMES,
    Accumulate,
    FreshData,
    Regime,
    Replace,
    WeightedFresh,
    check_regime,
    regime_code,
)
from collapse_theory.results import SimulationResult, run_metadata
from collapse_theory.rng import (
    BLOCK_SIZE,
    SeedLike,
    as_seed_sequence,
    block_bounds,
    default_num_threads,
    run_replicate_blocks,
)
from collapse_theory.schedules import Schedule, ScheduleLike, as_schedule

__all__ = ["parse_location", "simulate"]

METHODS = ("sufficient", "samples")
#: The regimes of this family: the basic ones and WeightedFresh (docs/theory.md §9.1).
SUPPORTED_REGIMES = (*BASIC_REGIMES, WeightedFresh)
#: var0 x M and |mean0| x M (the scale of a dataset's scatter and of its sum) must stay below
#: ``finfo(dtype).max * SCALE_HEADROOM``, else the run is refused before it starts; an overflow
#: that happens later (a fitted variance growing by chance) is refused at the end
#: (:func:`_check_finite`).
SCALE_HEADROOM = 1e-2


class FrozenDistribution(Protocol):
    """What ``data0`` may be besides an array of points: a frozen ``scipy.stats`` distribution
    (sampled with ``rvs``; its moments from ``mean()``/``var()`` or ``mean``/``cov``)."""

    def rvs(self, size: Any = ..., random_state: Any = ...) -> Any: ...


def _check_fit_sizes(
    sizes: np.ndarray, fresh: np.ndarray, dim: int, ddof: int, regime: Regime
) -> None:
    """Each fit needs enough points: M > d for a covariance, M >= 2 for the unbiased variance."""
    minimum = dim + 1 if dim > 1 else 1 + ddof
    what = (
        f"M > d = {dim} to fit a {dim}x{dim} covariance"
        if dim > 1
        else ("M >= 2 for the unbiased variance" if ddof else "M >= 1")
    )
    if sizes.size and sizes.min() < minimum:
        raise InputError(
            f"num_samples must satisfy {what}; got a sample size of {int(sizes.min())}"
        )
    if isinstance(regime, WeightedFresh) and regime.num_real < minimum:
        raise InputError(
            f"WeightedFresh(num_real={regime.num_real}) is too few fresh draws for a fit: the "
            f"fresh fit needs num_real >= {minimum} here (as M: {what})"
        )
    if isinstance(regime, FreshData) and regime.variant == "split" and np.any(sizes - fresh < 1):
        raise InputError(
            f"FreshData(fraction={regime.fraction}, 'split') leaves no synthetic draws for "
            f"num_samples={int(sizes.min())}; use a smaller fraction or more samples"
        )


def _fresh_parameters(regime: Regime, sizes: np.ndarray) -> tuple[float, np.ndarray]:
    """The kernels' (fraction, fresh_counts): FreshData's fraction and round(fraction M_i), or
    WeightedFresh's weight w and num_real n in every generation; else (0, zeros)."""
    if isinstance(regime, WeightedFresh):
        return regime.weight, np.full(sizes.shape, regime.num_real, dtype=np.int64)
    fraction = regime.fraction if isinstance(regime, FreshData) else 0.0
    return fraction, np.rint(fraction * sizes).astype(np.int64)


def _check_scale(
    mean0: np.ndarray, largest_variance: float, sizes: np.ndarray, dtype: str, scale_name: str
) -> None:
    """Refuse a model whose datasets would overflow ``dtype``: var0 x M and |mean0| x M must be
    below ``finfo(dtype).max * SCALE_HEADROOM`` (largest variance and M over the run)."""
    limit = float(np.finfo(dtype).max) * SCALE_HEADROOM
    largest_size = float(sizes.max()) if sizes.size else 1.0
    largest_mean = float(np.max(np.abs(mean0))) if mean0.size else 0.0
    if max(largest_variance, largest_mean) * largest_size > limit:
        raise InputError(
            f"{scale_name} (largest variance {largest_variance:.3g}) and mean0 (largest |mean| "
            f"{largest_mean:.3g}) with datasets of up to M = {largest_size:.0f} points would "
            f"overflow {dtype}: the variance x M and |mean| x M must stay below {limit:.3g}. The "
            "chain is scale-equivariant: simulate mean0=0 with unit variance and rescale "
            "(mean0 + sqrt(var0) * mean, var0 * var)"
        )


def _check_work_buffers(
    method: str,
    sizes: np.ndarray,
    dim: int,
    data0: Any,
    workers: int,
) -> None:
    """Refuse work buffers above the memory limit: ``method="samples"`` holds M_i points per
    running thread, the first fit to ``data0`` a block of BLOCK_SIZE x M_0 points (three
    arrays of them) per running thread."""
    largest = float(sizes.max()) if sizes.size else 0.0
    per_worker = largest * dim * 8.0 if method == "samples" else 0.0
    if data0 is not None and sizes.size:
        per_worker = max(per_worker, 3.0 * BLOCK_SIZE * float(sizes[0]) * dim * 8.0)
    check_allocation(
        f"num_samples (up to M = {largest:.0f}) with method={method!r}"
        + (" and data0" if data0 is not None else "")
        + f" on {workers} thread(s)",
        workers * per_worker,
        advice="use method='sufficient' (no points are drawn) or fewer threads (num_threads)",
    )


def _check_finite(trajectories: dict[str, np.ndarray], scale_name: str) -> None:
    """Refuse a run whose recorded arrays overflowed (see :func:`_check_scale`)."""
    for name, values in trajectories.items():
        check_finite_result(
            f"the recorded {name!r}",
            values,
            advice=f"{scale_name} is too large for the float range over this run; the chain is "
            "scale-equivariant: simulate mean0=0 with unit variance and rescale",
        )


@refuse_sigma0
def simulate(
    mean0: ArrayLike | None,
    cov0: ArrayLike | None = None,
    num_samples: ScheduleLike | None = None,
    num_generations: int | None = None,
    *,
    var0: float | None = None,
    num_replicates: int = 1000,
    estimator: str = "unbiased",
    regime: Regime | None = None,
    method: str = "sufficient",
    record: str | Sequence[int] | np.ndarray = "all",
    seed: SeedLike = None,
    backend: str | None = None,
    progress: bool = False,
    num_threads: int | None = None,
    chunk_size: int = 1,
    jax_memory_gib: float | None = None,
    data0: ArrayLike | FrozenDistribution | None = None,
    policy: Policy | None = None,
    location: str = "mean",
    known_scale: bool = False,
) -> SimulationResult:
    r"""Simulate recursive fitting of a Gaussian (docs/theory.md §2.1, §3.1).

    .. math::

        \mu_{i+1} = \bar X^{(i)}, \qquad
        \Sigma_{i+1} = \frac{1}{M_i - \delta} \sum_{j=1}^{M_i} (X^{(i)}_j - \bar X^{(i)})
        (X^{(i)}_j - \bar X^{(i)})^\top, \qquad X^{(i)}_j \sim N(\mu_i, \Sigma_i)

    with :math:`\delta = 1` (``estimator="unbiased"``) or 0 (``"mle"``). ``method="sufficient"``
    draws the sample mean and scatter directly, :math:`\bar X \sim N(\mu, \Sigma/M)` and scatter
    :math:`\sim \mathrm{Wishart}_d(M-1, \Sigma)` via the Bartlett factor (exact, O(d^3) per
    generation); ``method="samples"`` draws the M points (the paper's procedure). FreshData
    mixes in draws from the original model (``"split"``: round(fraction M) of them; ``"mix"``:
    Binomial(M, fraction) of them); Accumulate fits the pool of all batches so far;
    WeightedFresh(w, n) fits mean and (co)variance as (1 - w) x the fit to the M synthetic draws
    + w x the fit to n fresh draws of model 0 (docs/theory.md §9.1).

    Parameters
    ----------
    mean0 : float or array_like, shape (d,)
        Mean of model 0; a scalar selects the 1-D model.
    cov0 : float or array_like, shape (d, d)
        The scale of model 0: its variance :math:`\sigma_0^2` (1-D) or its covariance
        (symmetric positive semi-definite). In 1-D it may be given as ``var0=`` instead.
    num_samples : int or schedule
        M, or a schedule of M_i; every fit needs M_i > d (and M_i >= 2 for "unbiased" in 1-D).
        Required (it has a default only so that ``cov0`` may be left out for ``var0``).
    num_generations : int
        n >= 0. Required.
    var0 : float, optional
        The variance :math:`\sigma_0^2` (> 0) of a 1-D model 0, the keyword the 1-D closed forms
        of :mod:`collapse_theory.gaussian.theory` take: ``simulate(0.0, var0=2.0, ...)`` is
        ``simulate(0.0, 2.0, ...)``. Give exactly one of ``cov0`` and ``var0``; ``var0`` with a
        vector ``mean0`` is refused (use ``cov0``). The old keyword ``sigma0`` (a standard
        deviation) raises a TypeError: pass ``var0=sigma0**2``.
    num_replicates : int
        R independent chains.
    estimator : "unbiased" or "mle"
    regime : Replace, FreshData, Accumulate or WeightedFresh
        A ``policy`` applies to the synthetic draws of every regime. WeightedFresh needs
        ``num_real`` as large as a fit's M (>= 2 for "unbiased" in 1-D, > d in d-D).
    method : "sufficient" or "samples"
    record : "all", "last" or sequence of int
    seed : None, int, SeedSequence or Generator
        Same seed, same arrays, for any ``num_threads`` and ``chunk_size``.
    backend : None, "numba" or "jax"
        None: the default of :func:`collapse_theory.backends.use` ("numba" unless changed).
        "jax" runs on jax's default device (CPU or GPU), in float64 unless
        ``backends.use("jax", dtype="float32")`` (docs/backends.md); same distribution, not the
        same numbers as numba.
    progress : bool
    num_threads, chunk_size : int
        Parallel execution over fixed replicate blocks; they never change the results. With
        ``backend="jax"``, ``chunk_size`` > 1 caps a device call at that many blocks of 256
        replicates (default 64) and ``num_threads`` is not used.
    jax_memory_gib : float or None
        ``backend="jax"`` only: the device memory (GiB) the replicates of one device call may
        use for their work buffers; a call runs as many replicates side by side as fit
        (:mod:`collapse_theory._chunks`). None: 1 GiB (``_chunks.DEFAULT_JAX_MEMORY_GIB``). Never
        changes the results.
    data0 : array_like or scipy.stats frozen distribution, optional
        A non-Gaussian model 0 (docs/theory.md §2.1: only the first fit differs). An array of points,
        shape (N,) or (N, d), is resampled with replacement (its empirical distribution); a
        distribution is sampled with its ``rvs``. Dataset 0 is drawn point by point, the later
        ones by ``method``. ``mean0`` and ``cov0`` must then be None: they are taken from
        ``data0`` (the array's moments; the distribution's ``mean()``/``var()``, or ``mean``/``cov``
        attributes for a multivariate one) and recorded as generation 0. Replace and
        Accumulate only.
    policy : Temperature, Truncation or a Compose of them, optional
        Sampling policy of the fitted models, 1-D only (docs/theory.md §8.2): every model
        :math:`n \ge 1` generates :math:`\mu_n + \sigma_n s X`, X a standard normal on
        :math:`[-c, c]` (:meth:`collapse_theory.policies.Policy.gaussian_law`); dataset 0 and the
        fresh draws come from model 0 as is. A truncation draws the synthetic points one by one
        whatever ``method``. None and ``Temperature(1.0)`` give bit-identical results.

    location : "mean", "median" or "trimmed:<a>", default "mean"
        The estimator of the location of every fit (1-D, docs/theory.md §10): the sample mean,
        the sample median, or the trimmed mean dropping floor(a M) points at each end
        (0 <= a < 0.5, scipy.stats.trim_mean's convention). Anything but "mean" needs
        ``method="samples"`` (the sufficient statistics determine only the mean), Replace or
        Accumulate, the numba backend, no policy and no data0. The variance is fitted as
        before, about the sample mean.
    known_scale : bool, default False
        Keep the variance at ``var0`` and refit only the location (the location model of
        docs/theory.md §10); same restrictions as a ``location`` other than "mean".

    Returns
    -------
    SimulationResult
        1-D: ``"mean"`` and ``"var"`` of shape (len(record), R). d-D: ``"mean"`` (len(record), R, d)
        and ``"cov"`` (len(record), R, d, d). ``metadata["parameters"]`` records ``mean0`` and
        ``var0`` (1-D) or ``cov0`` (d-D).

    Raises
    ------
    InputError, InputTypeError
        On invalid input, naming the argument (a ``ValueError``, a ``TypeError``); when the
        arrays would exceed the memory limit (:func:`collapse_theory._validate.memory_limit`),
        checked before any is allocated; when the scale overflows the float range: up front
        (variance x M or |mean| x M above ``finfo.max * SCALE_HEADROOM``, 1.8e306 in float64)
        or, should a recorded value still be inf or NaN at the end, then.

    Examples
    --------
    >>> import collapse_theory as ct
    >>> run = ct.gaussian.simulate(0.0, 1.0, 10, 20, num_replicates=1000, seed=0)
    >>> run["var"].shape
    (21, 1000)
    >>> ct.gaussian.simulate(0.0, var0=2.0, num_samples=10, num_generations=3, seed=0).metadata[
    ...     "parameters"
    ... ]["var0"]
    2.0
    """
    given = {"num_samples": num_samples, "num_generations": num_generations}
    missing = [name for name in simulate.required_arguments if given[name] is None]
    if missing:
        raise InputTypeError(f"simulate() missing required argument(s): {', '.join(missing)}")
    check_choice("estimator", estimator, ESTIMATORS)
    check_choice("method", method, METHODS)
    location_code, trim = parse_location(location)
    if not isinstance(known_scale, (bool, np.bool_)):
        raise InputTypeError(f"known_scale must be True or False; got {_show(known_scale)}")
    location_model = location_code != _numba.LOCATION_MEAN or bool(known_scale)
    policy = check_policy(policy, "gaussian")
    policy_scale, policy_cut = (1.0, math.inf) if policy is None else policy.gaussian_law()
    if var0 is not None:
        if cov0 is not None:
            raise InputTypeError(
                "give the scale of model 0 once: cov0 (a variance in 1-D, a covariance in d-D) or "
                f"var0 (a 1-D variance), not both; got cov0={_show(cov0)} and var0={_show(var0)}"
            )
        if data0 is not None:
            raise InputError(
                "with data0, pass mean0=None and no var0: the variance is computed from data0"
            )
        if np.ndim(mean0) != 0:
            raise InputError(
                f"var0 is the variance of a 1-D model 0, but mean0 is a vector (shape "
                f"{np.shape(mean0)}); for d dimensions pass the covariance matrix as cov0"
            )
        cov0, scale_name = var0, "var0"
    else:
        scale_name = "cov0"
        if cov0 is None and data0 is None:
            raise InputTypeError(
                "simulate() needs the scale of model 0: cov0 (a variance in 1-D, a covariance "
                "matrix in d-D) or var0= (a 1-D variance)"
            )
    if data0 is not None:
        mean0, cov0 = _moments_of_data0(data0, mean0, cov0)
    one_dim = np.ndim(mean0) == 0
    mean0_array = as_float_array("mean0", mean0, ndim=0 if one_dim else 1)
    if one_dim:
        var0_array = as_float_array(scale_name, cov0)
        if var0_array.size != 1:
            raise InputError(
                f"{scale_name} must be a scalar variance when mean0 is a scalar; got shape "
                f"{var0_array.shape}"
            )
        var0 = float(var0_array.reshape(()))
        if var0 <= 0:
            raise InputError(f"{scale_name} (the variance sigma_0^2) must be > 0; got {var0}")
        dim = 1
    else:
        dim = mean0_array.size
        if policy is not None:
            raise InputError(
                f"policy={policy!r} is implemented for the 1-D Gaussian only; got mean0 of "
                f"shape {mean0_array.shape}"
            )
        if dim == 0:
            raise InputError("mean0 must have at least one coordinate; got an empty array")
        cov0_array = check_covariance("cov0", cov0)
        if cov0_array.shape[0] != dim:
            raise InputError(
                f"cov0 must be {dim} x {dim} to match mean0; got shape {cov0_array.shape}"
            )
    num_generations = check_int("num_generations", num_generations, minimum=0)
    schedule = as_schedule(num_samples)
    num_replicates = check_int("num_replicates", num_replicates, minimum=1)
    regime = check_regime(
        Replace() if regime is None else regime, SUPPORTED_REGIMES, "ct.gaussian.simulate"
    )
    backend = resolve(backend)
    memory_budget("jax_memory_gib", jax_memory_gib)
    # jax holds the recorded arrays three times while it assembles them
    check_simulation_size(
        record,
        num_generations,
        num_replicates,
        2 if one_dim else dim + dim * dim,
        copies=3 if backend == "jax" else 1,
    )
    sizes = schedule.sizes(num_generations)
    recorded = check_record(record, num_generations)
    _check_scale(
        mean0_array,
        var0 if one_dim else float(np.max(np.diag(cov0_array))),
        sizes,
        jax_dtype() if backend == "jax" else "float64",
        scale_name,
    )
    ddof = 1 if estimator == "unbiased" else 0
    fraction, fresh_counts = _fresh_parameters(regime, sizes)
    _check_fit_sizes(sizes, fresh_counts, dim, ddof, regime)
    if data0 is not None and isinstance(regime, (FreshData, WeightedFresh)):
        raise InputError(
            "data0 (a non-Gaussian model 0) works with Replace() and Accumulate(); "
            f"regime={regime!r} would need fresh draws from data0 in every generation, which is "
            "not supported"
        )
    first_generation = 1 if data0 is not None and num_generations > 0 else 0
    if backend == "jax":
        workers = 1  # the jax kernels draw points in fixed chunks; data0's fits run block by block
    else:
        threads = default_num_threads() if num_threads is None else num_threads
        workers = min(
            check_int("num_threads", threads, minimum=1), len(block_bounds(num_replicates))
        )
    if location_model:
        _check_location_model(
            location, known_scale, one_dim, regime, method, policy, data0, backend
        )
        return _simulate_location(
            float(mean0_array), var0, sizes, regime, location_code, trim, bool(known_scale),
            ddof, recorded, num_generations, num_replicates, seed, progress, num_threads,
            chunk_size, schedule, estimator, location,
        )  # fmt: skip
    buffered = "samples" if policy_cut < math.inf else method
    _check_work_buffers(buffered if backend != "jax" else "sufficient", sizes, dim, data0, workers)

    def first_fits(generator: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        if not first_generation:
            return np.empty((0,) + (() if one_dim else (dim,))), np.empty(
                (0,) + (() if one_dim else (dim, dim))
            )
        return _fit_first_dataset(data0, generator, count, int(sizes[0]), ddof, one_dim)

    slots = record_slots(recorded, num_generations)
    if backend == "jax":
        if num_threads is not None:  # not used by jax, but checked as numba does
            check_int("num_threads", num_threads, minimum=1)
        seed_sequence, trajectories = _simulate_jax(
            seed,
            num_replicates,
            data0,
            mean0_array,
            var0 if one_dim else cov0_array,
            sizes,
            fresh_counts,
            regime,
            method,
            ddof,
            first_generation,
            slots,
            recorded.size,
            chunk_size,
            jax_memory_gib,
            progress,
            (policy_scale, policy_cut),
        )
    else:
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
                    *first_fits(generator, stop - start),
                    first_generation,
                    *common[:-1],
                    policy_scale,
                    policy_cut,
                    common[-1],
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
                    *first_fits(generator, stop - start),
                    first_generation,
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
    _check_finite(trajectories, scale_name)
    return _result(
        recorded,
        trajectories,
        seed_sequence,
        backend,
        mean0_array,
        var0 if one_dim else cov0_array,
        schedule,
        sizes,
        num_generations,
        num_replicates,
        estimator,
        regime,
        method,
        data0,
        policy,
    )


#: For signature readers (sweeps): cov0 and the sizes default to None only so that var0 can
#: stand in for cov0; num_samples and num_generations are always required.
simulate.required_arguments = ("num_samples", "num_generations")  # type: ignore[attr-defined]


def parse_location(location: object) -> tuple[int, float]:
    """The kernel's (code, trim) for ``location`` (docs/theory.md §10).

    Parameters
    ----------
    location : str
        "mean", "median" or "trimmed:<a>" with 0 <= a < 0.5 (the fraction dropped at each end).

    Returns
    -------
    (int, float)
        The location code of :mod:`collapse_theory.gaussian._numba` and the trimmed fraction
        (0 unless trimmed).

    Raises
    ------
    InputError, InputTypeError
        For anything else, naming ``location``.
    """
    if not isinstance(location, str):
        raise InputTypeError(
            f"location must be 'mean', 'median' or 'trimmed:<a>' (a string); got {_show(location)}"
        )
    if location == "mean":
        return _numba.LOCATION_MEAN, 0.0
    if location == "median":
        return _numba.LOCATION_MEDIAN, 0.0
    if location.startswith("trimmed:"):
        try:
            trim = float(location.removeprefix("trimmed:"))
        except ValueError:
            trim = math.nan
        if 0.0 <= trim < 0.5:
            return _numba.LOCATION_TRIMMED, trim
    raise InputError(
        "location must be 'mean', 'median' or 'trimmed:<a>' with a trimmed fraction "
        f"0 <= a < 0.5 at each end (e.g. 'trimmed:0.1'); got {location!r}"
    )


def _check_location_model(
    location: str,
    known_scale: bool,
    one_dim: bool,
    regime: Regime,
    method: str,
    policy: Policy | None,
    data0: Any,
    backend: str,
) -> None:
    """Refuse what the location kernel does not do (docs/theory.md §10)."""
    what = f"location={location!r}" + (" with known_scale=True" if known_scale else "")
    refusals = [
        (not one_dim, "a 1-D model (mean0 a scalar)"),
        (method != "samples", "method='samples' (the sufficient statistics give only the mean)"),
        (
            not isinstance(regime, (Replace, Accumulate)),
            f"Replace() or Accumulate(), not {regime!r}",
        ),
        (policy is not None, "no sampling policy"),
        (data0 is not None, "no data0"),
        (backend != "numba", f"backend='numba', not {backend!r}"),
    ]
    for refused, need in refusals:
        if refused:
            raise InputError(f"{what} needs {need}")


def _simulate_location(
    mean0: float,
    var0: float,
    sizes: np.ndarray,
    regime: Regime,
    location_code: int,
    trim: float,
    known_scale: bool,
    ddof: int,
    recorded: np.ndarray,
    num_generations: int,
    num_replicates: int,
    seed: SeedLike,
    progress: bool,
    num_threads: int | None,
    chunk_size: int,
    schedule: Schedule,
    estimator: str,
    location: str,
) -> SimulationResult:
    """Run the location kernel (docs/theory.md §10) over replicate blocks."""
    accumulate = isinstance(regime, Accumulate)
    points = float(sizes.sum()) if accumulate else float(sizes.max(initial=1))
    threads = default_num_threads() if num_threads is None else num_threads
    workers = min(check_int("num_threads", threads, minimum=1), len(block_bounds(num_replicates)))
    check_allocation(
        f"location={location!r} holds {points:.0f} points per thread ({workers} thread(s))",
        workers * points * 8.0 * 2,
        advice="use fewer generations, smaller samples or fewer threads (num_threads)",
    )
    out_mean = np.empty((recorded.size, num_replicates))
    out_var = np.empty((recorded.size, num_replicates))
    slots = record_slots(recorded, num_generations)

    def work(generator: np.random.Generator, start: int, stop: int) -> None:
        _numba.simulate_location_1d(
            generator, mean0, var0, sizes, int(accumulate), location_code, trim,
            int(known_scale), ddof, slots, out_mean[:, start:stop], out_var[:, start:stop],
        )  # fmt: skip

    seed_sequence = run_replicate_blocks(
        work,
        seed,
        num_replicates,
        label="gaussian",
        progress=progress,
        num_threads=num_threads,
        chunk_size=chunk_size,
    )
    return _result(
        recorded, {"mean": out_mean, "var": out_var}, seed_sequence, "numba", np.asarray(mean0),
        var0, schedule, sizes, num_generations, num_replicates, estimator, regime, "samples",
        None, extra={"location": location, "known_scale": known_scale},
    )  # fmt: skip


def _simulate_jax(
    seed: SeedLike,
    num_replicates: int,
    data0: Any,
    mean0: np.ndarray,
    cov0: float | np.ndarray,
    sizes: np.ndarray,
    fresh_counts: np.ndarray,
    regime: Regime,
    method: str,
    ddof: int,
    first_generation: int,
    slots: np.ndarray,
    num_recorded: int,
    chunk_size: int,
    jax_memory_gib: float | None,
    progress: bool,
    policy_law: tuple[float, float] = (1.0, math.inf),
) -> tuple[np.random.SeedSequence, dict[str, np.ndarray]]:
    """The jax backend: per-block keys (and host Generators for the fits to ``data0``), the
    kernel of :mod:`collapse_theory.gaussian._jax`, outputs as (len(record), R, ...).

    A device call runs as many replicates as ``jax_memory_gib`` holds
    (:func:`collapse_theory.gaussian._jax.bytes_per_replicate` each), at most ``chunk_size``
    blocks (:data:`~collapse_theory.backends.JAX_BLOCKS_PER_CALL` when ``chunk_size`` is 1)."""
    from collapse_theory.gaussian import _jax

    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    method_code = _jax.SUFFICIENT if method == "sufficient" else _jax.SAMPLES
    blocks = chunk_size if chunk_size > 1 else JAX_BLOCKS_PER_CALL
    width = replicates_per_call(
        "jax_memory_gib",
        memory_budget("jax_memory_gib", jax_memory_gib),
        _jax.bytes_per_replicate(num_recorded, int(np.size(mean0)), method_code),
        num_replicates,
        most=blocks * BLOCK_SIZE,
    )
    seed_sequence = as_seed_sequence(seed)
    children = seed_sequence.spawn(len(block_bounds(num_replicates)))
    one_dim = np.ndim(mean0) == 0
    first_mean = first_cov = None
    if first_generation:
        fits = [
            _fit_first_dataset(
                data0,
                np.random.Generator(np.random.PCG64(child)),
                stop - start,
                int(sizes[0]),
                ddof,
                one_dim,
            )
            for child, (start, stop) in zip(children, block_bounds(num_replicates), strict=True)
        ]
        first_mean = np.concatenate([fit[0] for fit in fits])
        first_cov = np.concatenate([fit[1] for fit in fits])
    means, covs = _jax.simulate(
        jax_block_keys(children),
        num_replicates,
        mean0,
        np.asarray(cov0),
        first_mean,
        first_cov,
        sizes,
        fresh_counts,
        slots,
        _fresh_parameters(regime, sizes)[0],
        ddof,
        regime=regime_code(regime),
        method=method_code,
        first_generation=first_generation,
        num_slots=num_recorded,
        policy=policy_law,
        dtype=jax_dtype(),
        width=width,
        progress=progress,
    )
    means, covs = np.swapaxes(means, 0, 1), np.swapaxes(covs, 0, 1)
    trajectories = {"mean": means, "var": covs} if one_dim else {"mean": means, "cov": covs}
    return seed_sequence, {name: np.ascontiguousarray(a) for name, a in trajectories.items()}


def _result(
    recorded: np.ndarray,
    trajectories: dict[str, np.ndarray],
    seed_sequence: np.random.SeedSequence,
    backend: str,
    mean0: np.ndarray,
    cov0: float | np.ndarray,
    schedule: Schedule,
    sizes: np.ndarray,
    num_generations: int,
    num_replicates: int,
    estimator: str,
    regime: Regime,
    method: str,
    data0: Any,
    policy: Policy | None = None,
    extra: dict[str, Any] | None = None,
) -> SimulationResult:
    parameters = {
        "mean0": mean0,
        # 1-D: the variance, under the name the 1-D closed forms use; d-D: the covariance
        ("var0" if np.ndim(mean0) == 0 else "cov0"): cov0,
        "num_samples": repr(schedule),
        "sample_sizes": sizes if sizes.size <= 10_000 else "omitted (long schedule)",
        "num_generations": num_generations,
        "num_replicates": num_replicates,
        "estimator": estimator,
        "regime": repr(regime),
        "method": method,
        "data0": None if data0 is None else repr(data0)[:200],
    }
    if policy is not None:
        parameters["policy"] = repr(policy)
    parameters.update(extra or {})
    if backend == "jax":
        parameters["jax_dtype"] = str(trajectories["mean"].dtype)
    return SimulationResult(
        generations=recorded,
        trajectories=trajectories,
        metadata=run_metadata("gaussian", parameters, seed_sequence, backend),
    )


def _moments_of_data0(
    data0: ArrayLike | FrozenDistribution, mean0: ArrayLike | None, cov0: ArrayLike | None
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Mean and (co)variance of a non-Gaussian model 0 given as points or a scipy distribution."""
    if mean0 is not None or cov0 is not None:
        raise InputError("with data0, pass mean0=None and cov0=None: they are computed from data0")
    if hasattr(data0, "rvs"):
        if callable(getattr(data0, "var", None)):
            mean, var = float(data0.mean()), float(data0.var())
            if not (np.isfinite(mean) and np.isfinite(var) and var > 0):
                raise InputError(
                    f"data0 must have a finite mean and positive variance; got {mean}, {var}"
                )
            return mean, var
        if hasattr(data0, "mean") and hasattr(data0, "cov"):
            return np.asarray(data0.mean, dtype=float), np.asarray(data0.cov, dtype=float)
        raise InputTypeError(
            "data0 must be an array of points or a scipy.stats frozen distribution with mean() and "
            f"var() (or mean and cov attributes); got {type(data0).__name__}"
        )
    points = as_float_array("data0", data0)
    if points.ndim not in (1, 2) or points.shape[0] < 2:
        raise InputError(
            f"data0 must be an array of at least 2 points, shape (N,) or (N, d); got {points.shape}"
        )
    if points.ndim == 1:
        return float(points.mean()), float(points.var())
    return points.mean(axis=0), np.atleast_2d(np.cov(points, rowvar=False, ddof=0))


def _fit_first_dataset(
    data0: Any, generator: np.random.Generator, count: int, size: int, ddof: int, one_dim: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Fit model 1 for ``count`` replicates, each to ``size`` explicit draws from ``data0``."""
    if hasattr(data0, "rvs"):
        batch = np.asarray(data0.rvs(size=(count, size), random_state=generator), dtype=float)
    else:
        points = np.asarray(data0, dtype=float)
        batch = points[generator.integers(0, points.shape[0], size=(count, size))]
    mean = batch.mean(axis=1)
    centred = batch - mean[:, None]
    if one_dim:
        return mean, (centred**2).sum(axis=1) / (size - ddof)
    return mean, np.einsum("rmi,rmj->rij", centred, centred) / (size - ddof)
