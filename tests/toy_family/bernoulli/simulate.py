"""Simulator of the toy Bernoulli family: M p_{n+1} | p_n ~ Bin(M, p_n), in plain numpy."""

from __future__ import annotations

from typing import Any

import numpy as np

from collapse_theory._validate import (
    check_choice,
    check_int,
    check_real,
    check_record,
    check_record_size,
    record_slots,
)
from collapse_theory.results import SimulationResult, run_metadata
from collapse_theory.rng import as_seed_sequence, block_bounds, block_generators

__all__ = ["simulate"]


def simulate(
    p0: float,
    num_samples: int,
    num_generations: int,
    *,
    num_replicates: int = 1000,
    record: Any = "all",
    seed: Any = None,
    backend: str | None = None,
    progress: bool = False,
    num_threads: int | None = None,
    chunk_size: int = 1,
) -> SimulationResult:
    """Simulate R chains of a Bernoulli(p0) refitted each generation on M draws (Replace).

    Parameters
    ----------
    p0 : float in [0, 1]
    num_samples : int >= 1
    num_generations : int >= 0
    num_replicates : int >= 1
    record : "all", "last" or sequence of int
    seed : None, int, SeedSequence or Generator
        Replicate block b (256 replicates) draws from the b-th child of the seed, as every
        simulator of the library does, so a sweep's blocks join up to the same run.
    backend, progress, num_threads, chunk_size
        Accepted for the shared call of the sweep and checked; the toy always runs numpy in this
        thread.

    Returns
    -------
    SimulationResult
        ``result["p"]`` has shape (len(record), R).
    """
    p0 = check_real("p0", p0, minimum=0.0, maximum=1.0)
    num_samples = check_int("num_samples", num_samples, minimum=1)
    num_generations = check_int("num_generations", num_generations, minimum=0)
    num_replicates = check_int("num_replicates", num_replicates, minimum=1)
    recorded = check_record(record, num_generations)
    check_record_size(record, recorded.size * num_replicates)
    if backend is not None:
        check_choice("backend", backend, ("numba", "numpy"))
    if num_threads is not None:
        check_int("num_threads", num_threads, minimum=1)
    check_int("chunk_size", chunk_size, minimum=1)
    del progress  # nothing to show: a toy run takes milliseconds
    # Every argument is checked: only now is the seed asked for streams (the sweep's dry run
    # stops here).
    seed_sequence = as_seed_sequence(seed)
    generators = block_generators(seed_sequence, num_replicates)
    slots = record_slots(recorded, num_generations)
    out = np.empty((recorded.size, num_replicates))
    for generator, (start, stop) in zip(generators, block_bounds(num_replicates), strict=True):
        p = np.full(stop - start, p0)
        for n in range(num_generations + 1):
            if n > 0:
                p = generator.binomial(num_samples, p) / num_samples
            if slots[n] >= 0:
                out[slots[n], start:stop] = p
    parameters = {
        "p0": p0,
        "num_samples": num_samples,
        "num_generations": num_generations,
        "num_replicates": num_replicates,
    }
    return SimulationResult(
        generations=recorded,
        trajectories={"p": out},
        per_replicate={},
        metadata=run_metadata("bernoulli", parameters, seed_sequence, "numpy"),
    )
