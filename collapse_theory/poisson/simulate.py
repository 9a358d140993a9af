"""Public simulator of the Poisson family (docs/theory.md §5.3).

Model k+1 is the MLE (the sample mean) of n_k draws from model k: Poisson(rate_k) under Replace,
with part of each dataset drawn from the original Poisson(rate0) under FreshData, or the pooled
mean of every dataset so far under Accumulate.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    check_choice,
    check_int,
    check_real,
    check_record,
    check_simulation_size,
    record_slots,
)
from collapse_theory.poisson import _numba
from collapse_theory.poisson.theory import check_family_regime
from collapse_theory.regimes import FreshData, Regime, regime_code
from collapse_theory.results import SimulationResult, run_metadata
from collapse_theory.rng import SeedLike, run_replicate_blocks
from collapse_theory.schedules import ScheduleLike, as_schedule

__all__ = ["simulate"]


def simulate(
    rate0: float,
    num_samples: ScheduleLike,
    num_generations: int,
    *,
    num_replicates: int = 1000,
    regime: Regime | None = None,
    record: str | ArrayLike = "all",
    seed: SeedLike = None,
    backend: str | None = None,
    progress: bool = False,
    num_threads: int | None = None,
    chunk_size: int = 1,
) -> SimulationResult:
    r"""Simulate recursive fitting of a Poisson rate (docs/theory.md §5.3).

    .. math::

        \hat\lambda_{k+1} = \frac{1}{n_k} \sum_{i=1}^{n_k} X_i, \qquad
        X_i \sim \mathrm{Poisson}(\hat\lambda_k)

    (Replace); FreshData "mix" draws each point from :math:`(1-\alpha)\mathrm{Poi}(\hat\lambda_k)
    + \alpha\,\mathrm{Poi}(\lambda_0)`, "split" draws :math:`\mathrm{round}(\alpha n_k)` points
    from :math:`\mathrm{Poi}(\lambda_0)`; Accumulate fits the mean of all datasets so far.

    Parameters
    ----------
    rate0 : float
        :math:`\lambda_0 > 0`, the rate of the original model.
    num_samples : int or schedule
        n, or a schedule giving n_0, ..., n_{k-1} (see :mod:`collapse_theory.schedules`).
    num_generations : int
        k >= 0, the number of fits.
    num_replicates : int
        R independent chains.
    regime : Replace, FreshData or Accumulate
        Default ``Replace()``.
    record : "all", "last" or sequence of int
        Generations whose rates are kept.
    seed : None, int, SeedSequence or Generator
        Root of the per-block random streams: the same seed gives identical arrays for any
        ``num_threads`` and ``chunk_size``.
    backend : None or "numba"
        The family has one backend (numba, CPU).
    progress : bool
        Show a progress bar over replicate blocks.
    num_threads : int, optional
        Threads running replicate blocks (default: all CPUs available to this process).
    chunk_size : int
        Replicate blocks handed to a thread at a time.

    Returns
    -------
    SimulationResult
        ``result["rate"]`` has shape (len(record), R).

    Raises
    ------
    InputError, InputTypeError
        On invalid input, naming the argument, also when the arrays of the run would exceed the
        memory limit (:func:`collapse_theory._validate.memory_limit`): checked before any is
        allocated.

    Examples
    --------
    >>> import collapse_theory as ct
    >>> run = ct.poisson.simulate(2.0, 5, 10, num_replicates=500, seed=1)
    >>> run["rate"].shape
    (11, 500)
    """
    rate0 = check_real("rate0", rate0, minimum=0.0, strict_minimum=True)
    num_generations = check_int("num_generations", num_generations, minimum=0)
    schedule = as_schedule(num_samples)
    num_replicates = check_int("num_replicates", num_replicates, minimum=1)
    regime = check_family_regime(regime)
    if backend is not None:
        check_choice("backend", backend, ("numba",))
    check_simulation_size(record, num_generations, num_replicates, 1)
    sizes = schedule.sizes(num_generations)
    recorded = check_record(record, num_generations)
    fraction = regime.fraction if isinstance(regime, FreshData) else 0.0
    fresh_counts = np.rint(fraction * sizes).astype(np.int64)
    slots = record_slots(recorded, num_generations)
    out = np.empty((recorded.size, num_replicates))

    def work(generator: np.random.Generator, start: int, stop: int) -> None:
        _numba.simulate_block(
            generator,
            rate0,
            sizes,
            regime_code(regime),
            fraction,
            fresh_counts,
            slots,
            out[:, start:stop],
        )

    seed_sequence = run_replicate_blocks(
        work,
        seed,
        num_replicates,
        label="poisson",
        progress=progress,
        num_threads=num_threads,
        chunk_size=chunk_size,
    )
    parameters = {
        "rate0": rate0,
        "num_samples": repr(schedule),
        "sample_sizes": sizes if sizes.size <= 10_000 else "omitted (long schedule)",
        "num_generations": num_generations,
        "num_replicates": num_replicates,
        "regime": repr(regime),
    }
    return SimulationResult(
        generations=recorded,
        trajectories={"rate": out},
        per_replicate={},
        metadata=run_metadata("poisson", parameters, seed_sequence, "numba"),
    )
