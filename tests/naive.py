"""Slow, obvious numpy reference implementations that the fast kernels are tested against.

Nothing here is optimised: one replicate at a time, one generation at a time, using numpy's own
samplers, written to be read side by side with theory.md.
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------------------------
# Categorical simulation (theory.md §1)


def categorical_chain(
    p0: np.ndarray,
    sizes: np.ndarray,
    *,
    regime: str = "replace",
    fraction: float = 0.0,
    pseudo_count: float = 0.0,
    rng: np.random.Generator,
) -> np.ndarray:
    """One replicate of the categorical chain; returns p_0, ..., p_n as an (n+1, K) array.

    regime: "replace", "mix", "split" or "accumulate" (theory.md §1, §1.7, §1.8).
    """
    p0 = np.asarray(p0, dtype=float)
    num_states = p0.size
    p = p0.copy()
    pool = np.zeros(num_states)
    path = [p.copy()]
    for size in sizes:
        if regime == "mix":
            counts = rng.multinomial(size, (1 - fraction) * p + fraction * p0)
        elif regime == "split":
            fresh = int(np.rint(fraction * size))
            counts = rng.multinomial(fresh, p0) + rng.multinomial(size - fresh, p)
        else:
            counts = rng.multinomial(size, p)
        if regime == "accumulate":
            pool = pool + counts
            p = (pool + pseudo_count) / (pool.sum() + num_states * pseudo_count)
        else:
            p = (counts + pseudo_count) / (size + num_states * pseudo_count)
        path.append(p.copy())
    return np.array(path)


def categorical_replicates(p0, sizes, num_replicates, *, seed, **kwargs) -> np.ndarray:
    """(n+1, R, K) array of independent chains from :func:`categorical_chain`."""
    rng = np.random.default_rng(seed)
    paths = [categorical_chain(p0, sizes, rng=rng, **kwargs) for _ in range(num_replicates)]
    return np.stack(paths, axis=1)


def first_absorption(paths: np.ndarray) -> np.ndarray:
    """First generation with a single positive state, per replicate (-1 if none)."""
    single = np.count_nonzero(paths > 0, axis=-1) == 1
    hit = single.any(axis=0)
    return np.where(hit, single.argmax(axis=0), -1)
