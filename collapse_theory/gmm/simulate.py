"""Recursive fitting of Gaussian mixtures by EM (docs/theory.md §4; the paper's GMM experiment)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._chunks import memory_budget, replicates_per_call
from collapse_theory._validate import (
    InputError,
    check_allocation,
    check_choice,
    check_int,
    check_real,
    check_record,
    check_simulation_size,
    record_slots,
)
from collapse_theory.backends import (
    JAX_BLOCKS_PER_CALL,
    jax_block_keys,
    jax_blocks,
    jax_dtype,
    resolve,
)
from collapse_theory.gmm import _numba
from collapse_theory.gmm.em import (
    COVARIANCE_TYPES,
    DEGENERATE_FLOOR,
    DEGENERATE_RATIO,
    check_fit_memory,
    degenerate_components,
    min_samples,
    warn_if_degenerate,
)
from collapse_theory.gmm.mixture import Mixture, check_mixture
from collapse_theory.regimes import (
    ACCUMULATE,
    FreshData,
    Regime,
    Replace,
    check_regime,
    regime_code,
)
from collapse_theory.results import SimulationResult, run_metadata
from collapse_theory.rng import BLOCK_SIZE, SeedLike, run_replicate_blocks
from collapse_theory.schedules import ScheduleLike, as_schedule

__all__ = ["INITS", "simulate"]

INITS = ("warm", "kmeans++")


def simulate(
    mixture0: Mixture,
    num_samples: ScheduleLike,
    num_generations: int,
    *,
    num_replicates: int = 1,
    init: str = "warm",
    regime: Regime | None = None,
    tol: float = 1e-5,
    max_iter: int = 2000,
    reg_covar: float = 0.0,
    covariance_type: str = "full",
    record: str | ArrayLike = "all",
    seed: SeedLike = None,
    degenerate_floor: float = DEGENERATE_FLOOR,
    degenerate_ratio: float = DEGENERATE_RATIO,
    backend: str | None = None,
    progress: bool = False,
    num_threads: int | None = None,
    chunk_size: int = 1,
    jax_memory_gib: float | None = None,
) -> SimulationResult:
    r"""Simulate recursive EM fitting of a Gaussian mixture (docs/theory.md §4).

    Dataset i holds :math:`M_i` iid draws from model i; model i+1 is the K-component mixture
    (full covariances) fitted to it by EM (:func:`~collapse_theory.gmm.fit_em`: log-sum-exp
    responsibilities, stop when the mean log-likelihood changes by less than ``tol``). Replace
    fits only the newest dataset (the paper's setting: K = 2, M = 1000, tol = 1e-5, at most 2000
    iterations); FreshData draws a fraction of each dataset from ``mixture0``; Accumulate fits
    the pool of all datasets so far.

    Expected behaviour (the floor-free process, ``reg_covar = 0``, the default here): a
    one-component mixture is the maximum-likelihood Gaussian of docs/theory.md §2.6,
    :math:`E\sigma_n^2 = \sigma_0^2 ((M-1)/M)^n` per dimension; the weights of well-separated
    components drift like a Wright–Fisher chain (§1),
    :math:`\operatorname{Var} w_n = w_0 (1 - w_0)(1 - (1 - 1/M)^n)`, and a component whose
    weight reaches 0 is lost for good under warm starts (recorded in ``"lost"``). Without a floor
    EM can also reach the likelihood's singular solutions, components on a line or a few points
    (recorded in ``"degenerate"``, with a warning); ``reg_covar = c > 0`` (scikit-learn's 1e-6, the
    paper's protocol: :func:`~collapse_theory.gmm.paper_experiment`) rules them out and stops
    each component's variance near ``c`` times a number of order M (docs/theory.md §4.2).

    Parameters
    ----------
    mixture0 : Mixture
        Model 0.
    num_samples : int or schedule
        M, or a schedule of :math:`M_i`; needs :math:`M_i \ge K(d+1)`.
    num_generations : int
        n >= 0.
    num_replicates : int
        R independent chains.
    init : "warm" or "kmeans++"
        Start EM from the previous generation's fit (``"warm"``) or afresh from k-means++ on the
        new dataset (``"kmeans++"``, scikit-learn's default, so the paper's refit from scratch).
        With ``"warm"`` a lost component stays lost; with ``"kmeans++"`` all K are refitted.
    regime : Replace, FreshData or Accumulate
    tol, max_iter, reg_covar, covariance_type
        EM settings (see :func:`~collapse_theory.gmm.fit_em`; ``reg_covar`` defaults to 0, the
        floor-free process; 1e-6 is scikit-learn's default and the paper's).
    record : "all", "last" or sequence of int
    seed : None, int, SeedSequence or Generator
        Same seed, same arrays, for any ``num_threads`` and ``chunk_size``.
    degenerate_floor, degenerate_ratio : float
        Thresholds of ``"degenerate"`` (:func:`~collapse_theory.gmm.degenerate_components`).
    backend : None, "numba" or "jax"
        None: the default of :func:`collapse_theory.backends.use` ("numba" unless changed).
        "jax" runs on jax's default device (CPU or GPU), in float64 unless
        ``backends.use("jax", dtype="float32")`` (docs/backends.md); same distribution, not the
        same numbers as numba. Under jax a batch of replicates iterates EM until its slowest
        member has converged (the others wait, masked).
    progress : bool
        Show a progress bar over replicate blocks.
    num_threads, chunk_size : int
        Parallel execution over fixed replicate blocks; they never change the results. With
        ``backend="jax"``, ``chunk_size`` > 1 caps a device call at that many blocks of 256
        replicates (default 64) and ``num_threads`` is not used.
    jax_memory_gib : float or None
        ``backend="jax"`` only: the device memory (GiB) the replicates of one device call may
        use for their work buffers; a call runs as many replicates side by side as fit
        (:mod:`collapse_theory._chunks`). None: 1 GiB (``_chunks.DEFAULT_JAX_MEMORY_GIB``). Never
        changes the results.

    Returns
    -------
    SimulationResult
        Trajectories with leading axes (len(record), R): ``"weights"`` (..., K), ``"means"``
        (..., K, d), ``"covs"`` (..., K, d, d), ``"lost"`` (..., K) bool, ``"degenerate"``
        (..., K) bool (components of positive weight with a practically singular covariance,
        judged at the recorded generations only), ``"log_likelihood"`` (mean log-likelihood of
        the fit; NaN at generation 0, which is not fitted), ``"iterations"`` (0 at generation 0)
        and ``"converged"``.

    Warns
    -----
    DegenerateFitWarning
        Once, when a recorded generation of any chain has a degenerate component.

    Raises
    ------
    InputError, InputTypeError
        On invalid input, naming the argument; when the recorded arrays and the work buffers
        would exceed the memory limit (:func:`collapse_theory._validate.check_allocation`),
        checked before any is allocated.

    Examples
    --------
    >>> import numpy as np
    >>> import collapse_theory as ct
    >>> mix = ct.gmm.Mixture([1.0], [[0.0, 0.0]], [np.eye(2)])
    >>> run = ct.gmm.simulate(mix, 100, 5, num_replicates=4, seed=0)
    >>> run["covs"].shape
    (6, 4, 1, 2, 2)
    """
    mixture0 = check_mixture("mixture0", mixture0, positive_definite=True)
    check_choice("init", init, INITS)
    num_generations = check_int("num_generations", num_generations, minimum=0)
    schedule = as_schedule(num_samples)
    num_replicates = check_int("num_replicates", num_replicates, minimum=1)
    regime = check_regime(Replace() if regime is None else regime)
    tol = check_real("tol", tol, minimum=0.0, strict_minimum=True)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    reg_covar = check_real("reg_covar", reg_covar, minimum=0.0)
    diagonal = check_choice("covariance_type", covariance_type, COVARIANCE_TYPES) == "diag"
    degenerate_floor = check_real("degenerate_floor", degenerate_floor, minimum=0.0)
    degenerate_ratio = check_real("degenerate_ratio", degenerate_ratio, minimum=0.0)
    k, dim = mixture0.num_components, mixture0.dim
    backend = resolve(backend)
    # per replicate and recorded generation: weights, means, covs, log-likelihood, iterations,
    # converged, and the lost and degenerate flags; jax holds the result three times
    check_simulation_size(
        record,
        num_generations,
        num_replicates,
        k * (3 + dim + dim * dim) + 3,
        copies=3 if backend == "jax" else 1,
    )
    sizes = schedule.sizes(num_generations)
    needed = min_samples(k, dim)
    if sizes.size and sizes.min() < needed:
        raise InputError(
            f"num_samples must be >= K (d + 1) = {needed} to fit {k} components with full "
            f"{dim}x{dim} covariances; got a sample size of {int(sizes.min())}"
        )
    max_points = _largest_dataset(sizes, regime)
    if backend == "jax":
        width = _jax_width(num_replicates, sizes, regime, k, dim, chunk_size, jax_memory_gib)
    else:
        check_fit_memory(
            f"num_samples (datasets of up to {max_points} points) with K = {k}",
            num_replicates,
            max_points,
            k,
            dim,
            num_threads,
        )
    fraction = regime.fraction if isinstance(regime, FreshData) else 0.0
    fresh_counts = np.rint(fraction * sizes).astype(np.int64)
    recorded = check_record(record, num_generations)
    slots = record_slots(recorded, num_generations)
    parameters = {
        "mixture0": {
            "weights": mixture0.weights,
            "means": mixture0.means,
            "covs": mixture0.covs,
        },
        "num_samples": repr(schedule),
        "sample_sizes": sizes if sizes.size <= 10_000 else "omitted (long schedule)",
        "num_generations": num_generations,
        "num_replicates": num_replicates,
        "init": init,
        "regime": repr(regime),
        "tol": tol,
        "max_iter": max_iter,
        "reg_covar": reg_covar,
        "covariance_type": covariance_type,
        "degenerate_floor": degenerate_floor,
        "degenerate_ratio": degenerate_ratio,
    }
    if backend == "jax":
        from collapse_theory.gmm import _jax

        seed_sequence, children, chunk_size = jax_blocks(
            seed, num_replicates, chunk_size, num_threads
        )
        outputs = _jax.simulate(
            jax_block_keys(children),
            num_replicates,
            mixture0.weights,
            mixture0.means,
            mixture0.covs,
            sizes,
            fresh_counts,
            slots,
            fraction,
            tol,
            max_iter,
            reg_covar,
            regime=regime_code(regime),
            init=_jax.WARM if init == "warm" else _jax.KMEANS,
            diagonal=diagonal,
            num_slots=recorded.size,
            dtype=jax_dtype(),
            width=width,
            progress=progress,
        )
        names = ("weights", "means", "covs", "lost", "log_likelihood", "iterations", "converged")
        parameters["jax_dtype"] = str(outputs[0].dtype)
        trajectories = {
            name: np.ascontiguousarray(np.swapaxes(a, 0, 1))
            for name, a in zip(names, outputs, strict=True)
        }
    else:
        trajectories, seed_sequence = _simulate_numba(
            mixture0,
            num_replicates,
            sizes,
            fresh_counts,
            regime,
            fraction,
            init,
            tol,
            max_iter,
            reg_covar,
            diagonal,
            slots,
            recorded.size,
            seed,
            progress,
            num_threads,
            chunk_size,
        )
    trajectories["degenerate"] = degenerate_components(
        trajectories["covs"], trajectories["lost"], floor=degenerate_floor, ratio=degenerate_ratio
    )
    warn_if_degenerate(
        "gmm.simulate", trajectories["degenerate"], degenerate_floor, degenerate_ratio, recorded
    )
    return SimulationResult(
        generations=recorded,
        trajectories=trajectories,
        metadata=run_metadata("gmm", parameters, seed_sequence, backend),
    )


def _largest_dataset(sizes: np.ndarray, regime: Regime) -> int:
    """Points in the largest dataset EM fits: the largest M_i, or under Accumulate the pool of
    all of them."""
    if not sizes.size:
        return 1
    total = int(sizes.sum()) if regime_code(regime) == ACCUMULATE else int(sizes.max())
    return max(total, 1)


def _jax_width(
    num_replicates: int,
    sizes: np.ndarray,
    regime: Regime,
    num_components: int,
    dim: int,
    chunk_size: int,
    jax_memory_gib: float | None,
) -> int:
    """Replicates per jax device call: as many as ``jax_memory_gib`` holds (each needs
    :func:`collapse_theory.gmm._jax.bytes_per_replicate`), at most ``chunk_size`` blocks (64 when
    ``chunk_size`` is 1); the call's buffers are also refused above the memory limit."""
    from collapse_theory.gmm._jax import bytes_per_replicate

    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    budget = memory_budget("jax_memory_gib", jax_memory_gib)
    per_replicate = bytes_per_replicate(sizes, regime_code(regime), num_components, dim)
    blocks = chunk_size if chunk_size > 1 else JAX_BLOCKS_PER_CALL
    width = replicates_per_call(
        "jax_memory_gib", budget, per_replicate, num_replicates, most=blocks * BLOCK_SIZE
    )
    check_allocation(
        f"num_samples (datasets of up to {_largest_dataset(sizes, regime)} points) with "
        f"K = {num_components} on jax, {width} replicates per device call",
        width * per_replicate,
        advice="use fewer points per dataset or a smaller jax_memory_gib",
    )
    return width


def _simulate_numba(
    mixture0: Mixture,
    num_replicates: int,
    sizes: np.ndarray,
    fresh_counts: np.ndarray,
    regime: Regime,
    fraction: float,
    init: str,
    tol: float,
    max_iter: int,
    reg_covar: float,
    diagonal: bool,
    slots: np.ndarray,
    num_slots: int,
    seed: SeedLike,
    progress: bool,
    num_threads: int | None,
    chunk_size: int,
) -> tuple[dict[str, np.ndarray], np.random.SeedSequence]:
    """The numba backend of :func:`simulate`: the trajectories with leading axes (record, R)
    and the root SeedSequence."""
    k, dim = mixture0.num_components, mixture0.dim
    # Replicate axis first, so that every block writes a C-contiguous slice (one compiled
    # signature of the kernel whatever the number of blocks); swapped to (record, R) at the end.
    shape = (num_replicates, num_slots)
    out = {
        "weights": np.empty((*shape, k)),
        "means": np.empty((*shape, k, dim)),
        "covs": np.empty((*shape, k, dim, dim)),
        "log_likelihood": np.empty(shape),
        "iterations": np.empty(shape, dtype=np.int64),
        "converged": np.empty(shape, dtype=np.bool_),
        "lost": np.empty((*shape, k), dtype=np.bool_),
    }
    # Writable copies: the kernel's helpers then see one array type (a Mixture's are read-only).
    weights0 = np.array(mixture0.weights, order="C")
    means0 = np.array(mixture0.means, order="C")
    covs0 = np.array(mixture0.covs, order="C")
    init_code = _numba.WARM if init == "warm" else _numba.KMEANS

    def work(generator: np.random.Generator, start: int, stop: int) -> None:
        _numba.simulate_block(
            generator,
            weights0,
            means0,
            covs0,
            sizes,
            fresh_counts,
            regime_code(regime),
            fraction,
            init_code,
            tol,
            max_iter,
            reg_covar,
            diagonal,
            slots,
            out["weights"][start:stop],
            out["means"][start:stop],
            out["covs"][start:stop],
            out["log_likelihood"][start:stop],
            out["iterations"][start:stop],
            out["converged"][start:stop],
            out["lost"][start:stop],
        )

    seed_sequence = run_replicate_blocks(
        work,
        seed,
        num_replicates,
        label="gmm",
        progress=progress,
        num_threads=num_threads,
        chunk_size=chunk_size,
    )
    trajectories = {name: np.ascontiguousarray(np.swapaxes(a, 0, 1)) for name, a in out.items()}
    return trajectories, seed_sequence
