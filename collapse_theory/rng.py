"""Seeds become independent per-block random streams.

Replicates are split into fixed blocks of :data:`BLOCK_SIZE`. Block ``b`` always draws from the
``b``-th child of the root :class:`numpy.random.SeedSequence`, so a result depends only on the
seed and the replicate count, never on how many threads or workers run the blocks, in which order,
or how blocks are grouped into chunks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from collapse_theory._validate import INTEGER_POLICY, InputTypeError, check_int
from collapse_theory.progress import progress_bar

__all__ = [
    "BLOCK_SIZE",
    "SeedLike",
    "as_generator",
    "as_seed_sequence",
    "block_bounds",
    "block_generators",
    "default_num_threads",
    "run_blocks",
    "run_replicate_blocks",
    "seed_metadata",
    "spawn",
]

#: Replicates per random stream. Part of the reproducibility contract: changing it changes results.
BLOCK_SIZE = 256

#: What every ``seed`` argument accepts: None (fresh entropy), a non-negative int, a SeedSequence
#: or a Generator (see :func:`as_seed_sequence`).
SeedLike = int | np.random.SeedSequence | np.random.Generator | None
T = TypeVar("T")


def as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Turn ``seed`` (None, a non-negative int, a SeedSequence or a Generator) into a SeedSequence.

    ``None`` draws fresh entropy (recorded in the result's metadata, so the run can be repeated).
    A ``Generator`` is advanced to derive the entropy, as numpy's own ``spawn`` would.
    """
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4, dtype=np.uint64))
    try:
        return np.random.SeedSequence(check_int("seed", seed, minimum=0))
    except InputTypeError:
        raise InputTypeError(
            "seed must be None, a non-negative integer, a numpy SeedSequence or a numpy "
            f"Generator; got {seed!r} ({type(seed).__name__})"
            + (f"; {INTEGER_POLICY}" if isinstance(seed, float) else "")
        ) from None


def seed_metadata(seed_sequence: np.random.SeedSequence) -> dict[str, int | list[int]]:
    """JSON-friendly description of a SeedSequence, enough to rebuild it."""
    entropy = seed_sequence.entropy
    if isinstance(entropy, (list, tuple, np.ndarray)):
        entropy = [int(e) for e in np.ravel(entropy)]
    else:
        entropy = int(entropy)
    return {"entropy": entropy, "spawn_key": [int(k) for k in seed_sequence.spawn_key]}


def block_bounds(num_replicates: int, block_size: int = BLOCK_SIZE) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the fixed replicate blocks."""
    return [
        (start, min(start + block_size, num_replicates))
        for start in range(0, num_replicates, block_size)
    ]


def block_generators(
    seed: SeedLike, num_replicates: int, block_size: int = BLOCK_SIZE
) -> list[np.random.Generator]:
    """One independent PCG64 Generator per replicate block, spawned from ``seed``."""
    root = seed if isinstance(seed, np.random.SeedSequence) else as_seed_sequence(seed)
    num_blocks = len(block_bounds(num_replicates, block_size))
    return [np.random.Generator(np.random.PCG64(child)) for child in root.spawn(num_blocks)]


def default_num_threads() -> int:
    """Threads used when the caller does not say: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def run_blocks(
    work: Callable[[int], T],
    num_blocks: int,
    *,
    num_threads: int | None = None,
    chunk_size: int = 1,
    on_done: Callable[[int], None] | None = None,
) -> list[T]:
    """Run ``work(block_index)`` for every block on a thread pool; results in block order.

    ``work`` must release the GIL (numba ``nogil=True`` kernels) to run in parallel. ``chunk_size``
    blocks are handed to a thread at a time. ``on_done(n)`` is called as ``n`` blocks complete
    (for progress bars). Neither setting changes the results.
    """
    threads = (
        default_num_threads()
        if num_threads is None
        else check_int("num_threads", num_threads, minimum=1)
    )
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    chunks: list[Sequence[int]] = [
        range(start, min(start + chunk_size, num_blocks))
        for start in range(0, num_blocks, chunk_size)
    ]

    def run_chunk(chunk: Iterable[int]) -> list[T]:
        out = [work(b) for b in chunk]
        if on_done is not None:
            on_done(len(out))
        return out

    if threads == 1 or len(chunks) <= 1:
        nested = [run_chunk(chunk) for chunk in chunks]
    else:
        with ThreadPoolExecutor(max_workers=min(threads, len(chunks))) as pool:
            nested = list(pool.map(run_chunk, chunks))
    return [result for chunk_results in nested for result in chunk_results]


def run_replicate_blocks(
    work: Callable[[np.random.Generator, int, int], None],
    seed: SeedLike,
    num_replicates: int,
    *,
    label: str,
    progress: bool = False,
    num_threads: int | None = None,
    chunk_size: int = 1,
) -> np.random.SeedSequence:
    """Call ``work(generator, start, stop)`` for every fixed replicate block, in parallel threads.

    Each block gets its own Generator spawned from ``seed``; returns the root SeedSequence (for
    the result's metadata). ``work`` writes its replicates ``start:stop`` into preallocated arrays.
    """
    seed_sequence = as_seed_sequence(seed)
    bounds = block_bounds(num_replicates)
    generators = block_generators(seed_sequence, num_replicates)

    def run_block(b: int) -> None:
        work(generators[b], *bounds[b])

    with progress_bar(len(bounds), label, enabled=progress) as advance:
        run_blocks(
            run_block, len(bounds), num_threads=num_threads, chunk_size=chunk_size, on_done=advance
        )
    return seed_sequence


def as_generator(seed: SeedLike) -> np.random.Generator:
    """A numpy Generator from ``seed``: a Generator is used as it is (and advanced), anything
    else goes through :func:`as_seed_sequence` (an int gives the stream of
    ``np.random.default_rng(int)``)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(as_seed_sequence(seed))


def spawn(seed: SeedLike, count: int) -> list[np.random.SeedSequence]:
    """``count`` independent child streams of ``seed`` (see :func:`as_seed_sequence`)."""
    return as_seed_sequence(seed).spawn(check_int("count", count, minimum=0))
