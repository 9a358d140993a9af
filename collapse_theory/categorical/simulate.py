"""Public simulator of the categorical model (docs/theory.md §1).

Generation i+1 is the empirical frequency vector of M_i draws from generation i:
C_{i+1} | p_i ~ Multinomial(M_i, p_i), p_{i+1} = C_{i+1} / M_i (Replace), with the FreshData,
Accumulate and add-lambda (``pseudo_count``) variants.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._chunks import memory_budget, replicates_per_call
from collapse_theory._validate import (
    check_int,
    check_probability_vector,
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
from collapse_theory.categorical import _numba
from collapse_theory.policies import Policy, check_policy, kernel_stages
from collapse_theory.regimes import (
    BASIC_REGIMES,
    FreshData,
    Regime,
    Replace,
    WeightedFresh,
    check_regime,
    regime_code,
)
from collapse_theory.results import SimulationResult, run_metadata
from collapse_theory.rng import BLOCK_SIZE, SeedLike, run_replicate_blocks
from collapse_theory.schedules import ScheduleLike, as_schedule

__all__ = ["simulate"]

#: The regimes of this family: the basic ones and WeightedFresh (docs/theory.md §9.1).
SUPPORTED_REGIMES = (*BASIC_REGIMES, WeightedFresh)


def _fresh_parameters(regime: Regime, sizes: np.ndarray) -> tuple[float, np.ndarray]:
    """The kernels' (fraction, fresh_counts): FreshData's fraction and round(fraction M_i), or
    WeightedFresh's weight w and num_real n in every generation; else (0, zeros)."""
    if isinstance(regime, WeightedFresh):
        return regime.weight, np.full(sizes.shape, regime.num_real, dtype=np.int64)
    fraction = regime.fraction if isinstance(regime, FreshData) else 0.0
    return fraction, np.rint(fraction * sizes).astype(np.int64)


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
    policy: Policy | None = None,
    jax_memory_gib: float | None = None,
) -> SimulationResult:
    r"""Simulate recursive fitting of a categorical distribution (neutral Wright–Fisher chain).

    .. math::

        C_{i+1} \mid p_i \sim \mathrm{Multinomial}(M_i, q_i), \qquad
        p_{i+1} = \frac{C_{i+1} + \lambda}{M_i + K\lambda}

    with :math:`q_i = p_i` (Replace), :math:`q_i = (1-\alpha)p_i + \alpha p_0` (FreshData "mix"),
    :math:`\mathrm{round}(\alpha M_i)` draws from :math:`p_0` plus the rest from :math:`p_i`
    (FreshData "split"), or, for Accumulate, :math:`p_{i+1}` the pooled frequencies of all
    batches so far (docs/theory.md §1, §1.7, §1.8). WeightedFresh(w, n) combines two fits,
    :math:`p_{i+1} = (1-w)\,C_{i+1}/M_i + w\,F_{i+1}/n` with
    :math:`F_{i+1} \sim \mathrm{Multinomial}(n, p_0)` (docs/theory.md §9.1; with
    ``pseudo_count`` each fit is smoothed).

    With a sampling ``policy`` T (docs/theory.md §8.1) every fitted model generates from
    :math:`T(p_i)` instead of :math:`p_i` (in every regime, also the synthetic part of FreshData;
    the fresh draws and dataset 0 come from :math:`p_0` as is).

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
    regime : Replace, FreshData, Accumulate or WeightedFresh
        Default ``Replace()``. A ``policy`` applies to the synthetic draws of every regime.
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
    policy : Policy, optional
        Temperature, TopK, TopP, MinP or a Compose of them (:mod:`collapse_theory.policies`).
        None and ``Temperature(1.0)`` give bit-identical results.
    jax_memory_gib : float or None
        ``backend="jax"`` only: the device memory (GiB) the replicates of one device call may
        use for their work buffers (each multinomial holds its M uniforms); a call runs as many
        replicates side by side as fit (:mod:`collapse_theory._chunks`). None: 1 GiB
        (``_chunks.DEFAULT_JAX_MEMORY_GIB``). Never changes the results.

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
    regime = check_regime(
        Replace() if regime is None else regime, SUPPORTED_REGIMES, "ct.categorical.simulate"
    )
    pseudo_count = check_real("pseudo_count", pseudo_count, minimum=0.0)
    policy = check_policy(policy, "categorical")
    policy_codes, policy_params = kernel_stages(policy)
    backend = resolve(backend)
    budget = memory_budget("jax_memory_gib", jax_memory_gib)
    # jax holds the frequencies three times while it assembles them (batches, joined, swapped)
    check_simulation_size(
        record, num_generations, num_replicates, p0.size, copies=3 if backend == "jax" else 1
    )
    sizes = schedule.sizes(num_generations)
    recorded = check_record(record, num_generations)
    fraction, fresh_counts = _fresh_parameters(regime, sizes)
    parameters = {
        "p0": p0,
        "num_samples": repr(schedule),
        "sample_sizes": sizes if sizes.size <= 10_000 else "omitted (long schedule)",
        "num_generations": num_generations,
        "num_replicates": num_replicates,
        "regime": repr(regime),
        "pseudo_count": pseudo_count,
    }
    if policy is not None:
        parameters["policy"] = repr(policy)
    if backend == "jax":
        from collapse_theory.categorical import _jax

        seed_sequence, children, chunk_size = jax_blocks(
            seed, num_replicates, chunk_size, num_threads
        )
        blocks = chunk_size if chunk_size > 1 else JAX_BLOCKS_PER_CALL
        width = replicates_per_call(
            "jax_memory_gib",
            budget,
            _jax.bytes_per_replicate(sizes, fresh_counts, p0.size, recorded.size),
            num_replicates,
            most=blocks * BLOCK_SIZE,
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
            policy=tuple(zip(policy_codes.tolist(), policy_params.tolist(), strict=True)),
            num_slots=recorded.size,
            dtype=jax_dtype(),
            width=width,
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
            policy_codes,
            policy_params,
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
    r"""Heterozygosity :math:`H = 1 - \sum_i p_i^2` along the last axis (docs/theory.md §1.3).

    Parameters
    ----------
    p : numpy.ndarray, shape (..., K)
        Probability vectors along the last axis (e.g. ``run["p"]``).

    Returns
    -------
    numpy.ndarray, shape (...)
        :math:`1 - \sum_i p_i^2`, in :math:`[0, 1 - 1/K]`.
    """
    return 1.0 - np.einsum("...k,...k->...", p, p)


def num_surviving(p: np.ndarray) -> np.ndarray:
    """Number of states with positive frequency along the last axis.

    Parameters
    ----------
    p : numpy.ndarray, shape (..., K)
        Probability vectors along the last axis (e.g. ``run["p"]``).

    Returns
    -------
    numpy.ndarray of int, shape (...)
        The count of entries with :math:`p_i > 0` (docs/theory.md §1.4).
    """
    return np.count_nonzero(p > 0, axis=-1)
