"""Numba kernel of the Poisson simulator (docs/theory.md §5.3).

Only the total count of a dataset matters (the MLE is the sample mean): n draws of
Poisson(rate) sum to one Poisson(n rate) draw, so a generation costs one or two Poisson draws
whatever n. :func:`simulate_block` has one signature (:data:`SIGNATURE`), compiled at its first
call.
"""

from __future__ import annotations

from numba import njit, types

from collapse_theory._samplers import RNG, fresh_draw_count, one_signature
from collapse_theory.regimes import ACCUMULATE, REPLACE


@njit(cache=True, nogil=True, inline="always")
def _poisson(rng, mean: float) -> int:
    """One Poisson(mean) draw (0 when mean is 0)."""
    return rng.poisson(mean) if mean > 0.0 else 0


@njit(cache=True, nogil=True)
def _simulate_block(rng, rate0, sizes, regime, fraction, fresh_counts, record_slot, out_rate):
    """Simulate ``out_rate.shape[1]`` replicates of the fitted Poisson rate.

    Generation g+1 is (count of the dataset) / sizes[g] (Replace, FreshData), or the pooled
    count over the pooled size (Accumulate); a dataset holds ``fresh`` draws of Poisson(rate0)
    (``fresh_draw_count``: round(fraction n) for "split", Binomial(n, fraction) for "mix", 0
    otherwise) and the rest from the current model. ``record_slot[g]`` is the row of
    ``out_rate`` for generation g, or -1.
    """
    num_generations = sizes.size
    for r in range(out_rate.shape[1]):
        rate = rate0
        pool_count = 0.0
        pool_size = 0.0
        if record_slot[0] >= 0:
            out_rate[record_slot[0], r] = rate
        for g in range(num_generations):
            size = sizes[g]
            fresh = fresh_draw_count(rng, regime, size, fresh_counts[g], fraction)
            count = _poisson(rng, fresh * rate0) + _poisson(rng, (size - fresh) * rate)
            if regime == ACCUMULATE:
                pool_count += count
                pool_size += size
                rate = pool_count / pool_size
            else:
                rate = count / size
            if record_slot[g + 1] >= 0:
                out_rate[record_slot[g + 1], r] = rate
            if rate == 0.0 and regime == REPLACE:
                # Absorbed: every later model is Poisson(0).
                for later in range(g + 2, num_generations + 1):
                    if record_slot[later] >= 0:
                        out_rate[record_slot[later], r] = 0.0
                break


_F64 = types.float64
_I64 = types.int64
#: (rng, rate0, sizes, regime, fraction, fresh_counts, record_slot, out_rate); arrays of any
#: layout.
SIGNATURE = types.void(RNG, _F64, _I64[:], _I64, _F64, _I64[:], _I64[:], _F64[:, :])
simulate_block = one_signature(_simulate_block, SIGNATURE)
