"""The regression simulator: R chains of least-squares fits to their own labels
(docs/theory.md §5.2)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    InputError,
    as_float_array,
    check_choice,
    check_finite_result,
    check_int,
    check_real,
    check_record,
    check_simulation_size,
    record_slots,
)
from collapse_theory.backends import jax_block_keys, jax_blocks, jax_dtype, resolve
from collapse_theory.kde.options import AccumulateSubsample, Regime, check_family_regime
from collapse_theory.regimes import FreshData, Replace, regime_code
from collapse_theory.regression import _numba
from collapse_theory.regression.theory import _check_cov, check_sizes
from collapse_theory.results import SimulationResult, run_metadata
from collapse_theory.rng import SeedLike, run_replicate_blocks

__all__ = ["simulate"]

#: Largest dimension.
MAX_DIM = 256


def simulate(
    w_star: ArrayLike,
    num_points: int,
    num_generations: int,
    *,
    noise_var: float = 1.0,
    ridge: float = 0.0,
    cov: ArrayLike | None = None,
    design: str | ArrayLike = "fixed",
    regime: Regime | None = None,
    num_replicates: int = 1000,
    record: str | Sequence[int] | np.ndarray = "all",
    seed: SeedLike = None,
    backend: str | None = None,
    progress: bool = False,
    num_threads: int | None = None,
    chunk_size: int = 1,
) -> SimulationResult:
    r"""Simulate R chains of linear regression refitted on its own labels (docs/theory.md §5.2).

    .. math::

        y_n = X_n \hat w_{n-1} + \varepsilon_n, \qquad
        \hat w_n = \arg\min_w \sum_{\text{fitted rows}} (y - x^\top w)^2 + \lambda\|w\|^2,
        \qquad \hat w_0 = w^*.

    Parameters
    ----------
    w_star : array_like, shape (d,)
        The true coefficients (model 0).
    num_points : int
        T, rows per generation (>= d + 2 for OLS).
    num_generations : int
    noise_var : float
        σ² > 0 of the label noise.
    ridge : float
        λ >= 0.
    cov : (d, d) array, optional
        Σ of the design's rows N(0, Σ) (default identity); the risk is measured in its norm.
    design : "fixed", "redrawn" or (T, d) array
        One design per chain, reused every generation (docs/theory.md §5.2); a new one every
        generation; or this design, the same for every chain and generation (what
        :func:`~collapse_theory.regression.excess_risk_given_design` conditions on).
    regime : Replace (default), FreshData, Accumulate or AccumulateSubsample
        FreshData labels round(fraction T) rows ("split") or each row with probability
        fraction ("mix") by w*; Accumulate fits all rows and labels so far (the penalty λ once);
        AccumulateSubsample fits a uniform T-subset of them.
    num_replicates : int
    record : "all", "last" or sequence of int
    seed : None, int, SeedSequence or Generator
        Same seed, same arrays, for any ``num_threads`` and ``chunk_size``.
    backend : None, "numba" or "jax"
        None: the default of :func:`collapse_theory.backends.use`. "jax" runs on jax's default
        device: the same law, not the same numbers (not for AccumulateSubsample, which runs on numba
        when jax is only the default).
    progress : bool
    num_threads, chunk_size : int

    Returns
    -------
    SimulationResult
        ``"risk"`` (len(record), R): :math:`\|\hat w_n - w^*\|^2_\Sigma`; ``"w"``
        (len(record), R, d).

    Examples
    --------
    >>> run = simulate(np.zeros(5), 20, 10, num_replicates=1000, record="last", seed=1)
    >>> run["risk"].shape
    (1, 1000)
    """
    w = as_float_array("w_star", w_star, ndim=1)
    if not 1 <= w.size <= MAX_DIM:
        raise InputError(f"w_star must have 1 to {MAX_DIM} entries; got {w.size}")
    given = np.zeros((0, w.size))
    if not isinstance(design, str):
        given = as_float_array("design", design, ndim=2)
        if given.shape != (num_points, w.size):
            raise InputError(
                f"design must be 'fixed', 'redrawn' or an array of shape (num_points, d) = "
                f"({num_points}, {w.size}); got shape {given.shape}"
            )
        design = "given"
        if ridge == 0.0 and np.linalg.matrix_rank(given) < w.size:
            raise InputError(f"design must have rank {w.size} for OLS (ridge=0); got a lower rank")
    lam = check_real("ridge", ridge, minimum=0.0)
    d, t = check_sizes(w.size, num_points, lam)
    num_generations = check_int("num_generations", num_generations, minimum=0)
    sigma2 = check_real("noise_var", noise_var, minimum=0.0, strict_minimum=True)
    sigma = _check_cov(cov, d)
    check_choice("design", design, ("fixed", "redrawn", "given"))
    regime = check_family_regime(Replace() if regime is None else regime)
    num_replicates = check_int("num_replicates", num_replicates, minimum=1)
    pooled = isinstance(regime, AccumulateSubsample)
    backend = resolve(
        backend,
        not_on_jax=(
            "regime=AccumulateSubsample() runs on backend='numba' only (its pool grows); got "
            "backend='jax'"
        )
        if pooled
        else None,
    )
    if num_threads is not None:
        check_int("num_threads", num_threads, minimum=1)
    check_int("chunk_size", chunk_size, minimum=1)
    check_simulation_size(
        record,
        num_generations,
        num_replicates,
        d + 1,
        copies=3 if backend == "jax" else 1,
        extra_bytes=8.0 * (num_generations + 1 if pooled else 1) * t * (d + 2),
    )
    recorded = check_record(record, num_generations)
    fraction = regime.fraction if isinstance(regime, FreshData) else 0.0
    chain = Chain(
        w_star=w,
        chol=np.linalg.cholesky(sigma),
        given=given,
        noise_sd=math.sqrt(sigma2),
        ridge=lam,
        fraction=fraction,
        slots=record_slots(recorded, num_generations),
        generations=num_generations,
        num_points=t,
        split_count=int(np.rint(fraction * t)),
        regime=_numba.SUBSAMPLE if pooled else regime_code(regime),
        design=design,
    )
    run = _simulate_jax if backend == "jax" else _simulate_numba
    weights, risks, seed_sequence = run(
        chain,
        seed,
        num_replicates,
        num_threads=num_threads,
        chunk_size=chunk_size,
        progress=progress,
    )
    check_finite_result(
        "the excess risk",
        risks,
        advice="a least-squares fit met a singular design (e.g. a given design of rank < d, or "
        "a subsample of repeated rows): use ridge > 0 or more rows",
    )
    parameters = {
        "dim": d,
        "num_points": t,
        "num_generations": num_generations,
        "num_replicates": num_replicates,
        "noise_var": sigma2,
        "ridge": lam,
        "design": design,
        "regime": repr(regime),
    }
    return SimulationResult(
        generations=recorded,
        trajectories={"risk": risks, "w": weights},
        per_replicate={},
        metadata=run_metadata("regression", parameters, seed_sequence, backend),
    )


@dataclass(frozen=True)
class Chain:
    """A checked simulation's model and kernel settings (both backends take the same)."""

    w_star: np.ndarray
    chol: np.ndarray
    given: np.ndarray
    noise_sd: float
    ridge: float
    fraction: float
    slots: np.ndarray
    generations: int
    num_points: int
    split_count: int
    regime: int
    design: str

    @property
    def num_slots(self) -> int:
        return int(self.slots.max(initial=-1)) + 1


def _simulate_numba(
    chain: Chain, seed: SeedLike, num_replicates: int, *, num_threads, chunk_size, progress
) -> tuple[np.ndarray, np.ndarray, np.random.SeedSequence]:
    """The numba kernel over the replicate blocks: fits (S, R, d), risks (S, R), root seed."""
    weights = np.empty((chain.num_slots, num_replicates, chain.w_star.size))
    risks = np.empty((chain.num_slots, num_replicates))

    def work(generator: np.random.Generator, start: int, stop: int) -> None:
        _numba.simulate_block(
            generator,
            chain.w_star,
            chain.chol,
            chain.num_points,
            chain.generations,
            chain.noise_sd,
            chain.ridge,
            chain.design == "redrawn",
            chain.given,
            chain.regime,
            chain.split_count,
            chain.fraction,
            chain.slots,
            weights[:, start:stop],
            risks[:, start:stop],
        )

    seed_sequence = run_replicate_blocks(
        work,
        seed,
        num_replicates,
        label="regression",
        progress=progress,
        num_threads=num_threads,
        chunk_size=chunk_size,
    )
    return weights, risks, seed_sequence


def _simulate_jax(
    chain: Chain, seed: SeedLike, num_replicates: int, *, num_threads, chunk_size, progress
) -> tuple[np.ndarray, np.ndarray, np.random.SeedSequence]:
    """The jax kernel (:mod:`collapse_theory.regression._jax`): fits (S, R, d), risks (S, R),
    root seed."""
    from collapse_theory.regression import _jax

    seed_sequence, children, chunk_size = jax_blocks(seed, num_replicates, chunk_size, num_threads)
    fits, risks = _jax.simulate(
        jax_block_keys(children),
        num_replicates,
        chain.w_star,
        chain.chol,
        chain.given,
        chain.noise_sd,
        chain.ridge,
        chain.fraction,
        chain.slots,
        generations=chain.generations,
        num_points=chain.num_points,
        split_count=chain.split_count,
        regime=chain.regime,
        design=_jax.DESIGNS.index(chain.design),
        num_slots=chain.num_slots,
        dtype=jax_dtype(),
        chunk_size=chunk_size,
        progress=progress,
    )
    fits = np.ascontiguousarray(np.swapaxes(fits, 0, 1))
    return fits, np.ascontiguousarray(np.swapaxes(risks, 0, 1)), seed_sequence
