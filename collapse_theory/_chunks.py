"""Memory-bounded device calls for the jax simulators: replicates in chunks sized from a budget.

A jax simulator runs ``vmap`` over a batch of replicates; everything the batch needs lives in
device memory at once, so the batch width must follow from what one replicate needs and what
the caller allows. This module is family-agnostic:

- :func:`memory_budget` checks the budget argument (GiB, default
  :data:`DEFAULT_JAX_MEMORY_GIB`) and returns bytes;
- :func:`replicates_per_call` turns a budget and a per-replicate size into a batch width;
- :func:`run_chunks` runs a jitted ``call(block_keys, offset, start, stop)`` over consecutive
  chunks of ``width`` replicates and joins the results;
- :func:`chunk_replicate_keys`, inside the jitted function, gives each replicate of a chunk its
  key: replicate ``r`` always gets ``split(block_key[r // 256], 256)[r % 256]`` (the key of
  :func:`collapse_theory.backends.jax_replicate_keys`), so the same seed gives the same arrays
  for any width, and the width compiles once whatever the chunk's position.

A family adopts it with an estimate of its bytes per replicate (measured with XLA's
``compiled.memory_analysis()``, see ``benchmarks/bench_jax_memory.py``), a ``_batch`` that
takes ``(block_keys, offset, width, ...)`` and calls :func:`chunk_replicate_keys`, and one call
of :func:`run_chunks` (docs/backends.md, "Batching, memory and compilation").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import InputError, check_real, format_bytes
from collapse_theory.progress import progress_bar
from collapse_theory.rng import BLOCK_SIZE

__all__ = [
    "DEFAULT_JAX_MEMORY_GIB",
    "blocks_per_chunk",
    "chunk_replicate_keys",
    "memory_budget",
    "replicates_per_call",
    "run_chunks",
]

#: Default device-memory budget of one jax call (GiB): the work buffers of the replicates it
#: runs side by side. 1 GiB keeps a 2-core, 24 GiB CI machine safe and still batches thousands
#: of replicates of every workload in ``benchmarks/``; on a GPU pass more (e.g. 20).
DEFAULT_JAX_MEMORY_GIB = 1.0


def memory_budget(name: str, gib: float | None) -> int:
    """The budget argument ``name`` (GiB > 0, None for :data:`DEFAULT_JAX_MEMORY_GIB`) in bytes."""
    if gib is None:
        gib = DEFAULT_JAX_MEMORY_GIB
    gib = check_real(name, gib, minimum=0.0, strict_minimum=True)
    if not math.isfinite(gib):
        raise InputError(f"{name} must be a finite number of GiB > 0; got {gib!r}")
    return int(gib * 2**30)


def replicates_per_call(
    name: str,
    budget_bytes: int,
    bytes_per_replicate: float,
    num_replicates: int,
    *,
    most: int | None = None,
) -> int:
    """Replicates one device call runs side by side: ``floor(budget / bytes_per_replicate)``,
    at most ``num_replicates`` (and ``most`` when given), at least 1.

    Raises
    ------
    InputError
        When one replicate alone needs more than the budget (``name`` is the budget argument).
    """
    if bytes_per_replicate > budget_bytes:
        raise InputError(
            f"{name}={budget_bytes / 2**30:.3g} GiB cannot hold the work buffers of one replicate "
            f"(about {format_bytes(bytes_per_replicate)}): raise {name} or ask for smaller "
            "datasets"
        )
    width = int(budget_bytes // max(bytes_per_replicate, 1.0))
    if most is not None:
        width = min(width, most)
    return max(1, min(width, num_replicates))


def blocks_per_chunk(width: int) -> int:
    """Replicate blocks a chunk of ``width`` consecutive replicates can touch, wherever it
    starts: ``ceil((width + BLOCK_SIZE - 1) / BLOCK_SIZE)``."""
    return (width + 2 * BLOCK_SIZE - 2) // BLOCK_SIZE


def chunk_replicate_keys(block_key_data: Any, offset: Any, width: int) -> Any:
    """Inside jitted code: the keys of replicates ``offset .. offset + width - 1`` counted from
    the first block of ``block_key_data`` ((blocks, 2) uint32 threefry key data; ``offset`` may be
    traced). Replicate ``j`` of block ``b`` has ``split(block_key_b, BLOCK_SIZE)[j]``, the key
    :func:`collapse_theory.backends.jax_replicate_keys` gives it."""
    import jax
    from jax import lax

    keys = jax.random.wrap_key_data(block_key_data, impl="threefry2x32")
    every = jax.vmap(lambda key: jax.random.split(key, BLOCK_SIZE))(keys).reshape(-1)
    data = lax.dynamic_slice_in_dim(jax.random.key_data(every), offset, width, axis=0)
    return jax.random.wrap_key_data(data, impl="threefry2x32")


def run_chunks(
    call: Callable[[np.ndarray, np.int32, int, int], Sequence[ArrayLike]],
    block_keys: np.ndarray,
    num_replicates: int,
    width: int,
    *,
    label: str,
    progress: bool,
) -> list[np.ndarray]:
    """Run ``call(keys, offset, start, stop)`` over chunks of ``width`` replicates; join the
    results (replicate axis first).

    Chunk ``c`` holds replicates ``start = c width`` to ``stop = min(start + width, R)``;
    ``keys`` are the :func:`blocks_per_chunk` key rows from block ``start // BLOCK_SIZE`` on
    (padded with the last block's key past the end) and ``offset = start mod BLOCK_SIZE``, for
    :func:`chunk_replicate_keys`. ``call`` returns ``width`` rows; rows past ``stop`` (the last
    chunk's padding) are dropped. Every chunk has the same shapes, so the device code compiles
    once.
    """
    num_blocks = block_keys.shape[0]
    per_chunk = blocks_per_chunk(width)
    starts = range(0, num_replicates, width)
    pieces: list[list[np.ndarray]] = []
    with progress_bar(len(starts), label, enabled=progress, unit="chunk") as advance:
        for start in starts:
            stop = min(start + width, num_replicates)
            first = start // BLOCK_SIZE
            rows = np.minimum(np.arange(first, first + per_chunk), num_blocks - 1)
            offset = np.int32(start - first * BLOCK_SIZE)
            outputs = call(block_keys[rows], offset, start, stop)
            pieces.append([np.asarray(o)[: stop - start] for o in outputs])
            advance(1)
    if len(pieces) == 1:
        return pieces[0]
    return [np.concatenate([piece[i] for piece in pieces]) for i in range(len(pieces[0]))]
