"""Public simulator of the categorical model (docs/theory.md §1).

Generation i+1 is the empirical frequency vector of M_i draws from generation i:
C_{i+1} | p_i ~ Multinomial(M_i, p_i), p_{i+1} = C_{i+1} / M_i (Replace), with the FreshData,
Accumulate and add-lambda (``pseudo_count``) variants.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    check_int,
    check_probability_vector,
    check_real,
    check_record,
    check_simulation_size,
    record_slots,
)
from collapse_theory.backends import jax_block_keys, jax_blocks, jax_dtype, resolve
from collapse_theory.categorical import _numba
from collapse_theory.regimes import FreshData, Regime, Replace, check_regime, regime_code
from collapse_theory.results import SimulationResult, run_metadata
from collapse_theory.rng import SeedLike, run_replicate_blocks
from collapse_theory.schedules import ScheduleLike, as_schedule

__all__ = ["simulate"]


def simulate(
    p0: ArrayLike,
    num_samples: ScheduleLike,
    num_generations: int,
    *,
    num_replicates: int = 1000,
    regime: Regime | None = None,
    pseudo_count: float = 0.0,
    record: str | ArrayLike = "all",
    seed: SeedLike = None,
    backend: str | None = None,
    progress: bool = False,
    num_threads: int | None = None,
    chunk_size: int = 1,
) -> SimulationResult:
    r"""Simulate recursive fitting of a categorical distribution (neutral Wright–Fisher chain).

    .. math::

        C_{i+1} \mid p_i \sim \mathrm{Multinomial}(M_i, q_i), \qquad
        p_{i+1} = \frac{C_{i+1} + \lambda}{M_i + K\lambda}

    with :math:`q_i = p_i` (Replace), :math:`q_i = (1-\alpha)p_i + \alpha p_0` (FreshData "mix"),
    :math:`\mathrm{round}(\alpha M_i)` draws from :math:`p_0` plus the rest from :math:`p_i`
    (FreshData "split"), or, for Accumulate, :math:`p_{i+1}` the pooled frequencies of all
    batches so far (docs/theory.md §1, §1.7, §1.8).

    Parameters
    ----------
    p0 : array_like, shape (K,)
        The original distribution: non-negative, summing to 1.
    num_samples : int or schedule
        M, or a schedule giving M_0, ..., M_{n-1} (see :mod:`collapse_theory.schedules`).
    num_generations : int
        n >= 0, the number of fits.
    num_replicates : int
        R independent chains.
    regime : Replace, FreshData or Accumulate
        Default ``Replace()``.
    pseudo_count : float
        Add-lambda smoothing of every fit (0: maximum likelihood).
    record : "all", "last" or sequence of int
        Generations whose frequency vectors are kept (memory is ``len(record) * R * K * 8`` bytes).
    seed : None, int, SeedSequence or Generator
        Root of the per-block random streams. The same seed gives identical arrays for any
        ``num_threads`` and ``chunk_size``.
    backend : None, "numba" or "jax"
        None: the default of :func:`collapse_theory.backends.use` ("numba" unless changed).
        "numba" is the CPU kernel; "jax" runs on jax's default device (CPU or GPU), in float64
        unless ``backends.use("jax", dtype="float32")`` (docs/backends.md). Both draw the same
        distribution, not the same numbers.
    progress : bool
        Show a progress bar over replicate blocks.
    num_threads : int, optional
        Threads running replicate blocks (default: all CPUs available to this process).
    chunk_size : int
        Replicate blocks handed to a thread at a time (jax: blocks per device call if > 1,
        default 64; ``num_threads`` is not used by jax).

    Returns
    -------
    SimulationResult
        ``result["p"]`` has shape (len(record), R, K); ``result["absorbed_at"]`` (R,) holds the
        first generation with a single surviving state, or -1 if that did not happen within n.

    Raises
    ------
    InputError, InputTypeError
        On invalid input, naming the argument (a ``ValueError``, a ``TypeError``), also when the
        arrays of the run would exceed the memory limit
        (:func:`collapse_theory._validate.memory_limit`, 4 GiB unless
        ``COLLAPSE_THEORY_MEMORY_LIMIT_GIB`` says otherwise): checked before any is allocated.

    Examples
    --------
    >>> import collapse_theory as ct
    >>> run = ct.categorical.simulate([0.5, 0.3, 0.2], 20, 50, num_replicates=500, seed=1)
    >>> run["p"].shape
    (51, 500, 3)
    """
    p0 = check_probability_vector("p0", p0)
    num_generations = check_int("num_generations", num_generations, minimum=0)
    schedule = as_schedule(num_samples)
    num_replicates = check_int("num_replicates", num_replicates, minimum=1)
    regime = check_regime(Replace() if regime is None else regime)
    pseudo_count = check_real("pseudo_count", pseudo_count, minimum=0.0)
    backend = resolve(backend)
    # jax holds the frequencies three times while it assembles them (batches, joined, swapped)
    check_simulation_size(
        record, num_generations, num_replicates, p0.size, copies=3 if backend == "jax" else 1
    )
    sizes = schedule.sizes(num_generations)
    recorded = check_record(record, num_generations)
    fraction = regime.fraction if isinstance(regime, FreshData) else 0.0
    fresh_counts = np.rint(fraction * sizes).astype(np.int64)
    parameters = {
        "p0": p0,
        "num_samples": repr(schedule),
        "sample_sizes": sizes if sizes.size <= 10_000 else "omitted (long schedule)",
        "num_generations": num_generations,
        "num_replicates": num_replicates,
        "regime": repr(regime),
        "pseudo_count": pseudo_count,
    }
    if backend == "jax":
        from collapse_theory.categorical import _jax

        seed_sequence, children, chunk_size = jax_blocks(
            seed, num_replicates, chunk_size, num_threads
        )
        p, absorbed = _jax.simulate(
            jax_block_keys(children),
            num_replicates,
            p0,
            sizes,
            fresh_counts,
            record_slots(recorded, num_generations),
            fraction,
            pseudo_count,
            regime=regime_code(regime),
            num_slots=recorded.size,
            dtype=jax_dtype(),
            chunk_size=chunk_size,
            progress=progress,
        )
        parameters["jax_dtype"] = str(p.dtype)
        return SimulationResult(
            generations=recorded,
            trajectories={"p": np.ascontiguousarray(np.swapaxes(p, 0, 1))},
            per_replicate={"absorbed_at": absorbed},
            metadata=run_metadata("categorical", parameters, seed_sequence, backend),
        )
    out_p = np.empty((recorded.size, num_replicates, p0.size))
    out_absorbed = np.empty(num_replicates, dtype=np.int64)
    slots = record_slots(recorded, num_generations)

    def work(generator: np.random.Generator, start: int, stop: int) -> None:
        _numba.simulate_block(
            generator,
            p0,
            sizes,
            regime_code(regime),
            fraction,
            fresh_counts,
            pseudo_count,
            slots,
            out_p[:, start:stop, :],
            out_absorbed[start:stop],
        )

    seed_sequence = run_replicate_blocks(
        work,
        seed,
        num_replicates,
        label="categorical",
        progress=progress,
        num_threads=num_threads,
        chunk_size=chunk_size,
    )
    return SimulationResult(
        generations=recorded,
        trajectories={"p": out_p},
        per_replicate={"absorbed_at": out_absorbed},
        metadata=run_metadata("categorical", parameters, seed_sequence, backend),
    )


def heterozygosity(p: np.ndarray) -> np.ndarray:
    """H = 1 - sum_i p_i^2 along the last axis (docs/theory.md §1.3)."""
    return 1.0 - np.einsum("...k,...k->...", p, p)


def num_surviving(p: np.ndarray) -> np.ndarray:
    """Number of states with positive frequency along the last axis."""
    return np.count_nonzero(p > 0, axis=-1)
