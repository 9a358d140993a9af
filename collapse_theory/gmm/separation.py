r"""How far apart must the components be for the exact component-wise law to hold
(docs/theory.md §4.3)?

:func:`separation_scan` runs recursive EM (warm starts, ``reg_covar=0``) on two one-dimensional
unit-variance components whose means are ``s`` standard deviations apart and compares, at
generation n = M, four statistics of component 0 with the law of
:func:`~collapse_theory.gmm.theory.component_law` (which does not depend on s): P(S), the
probability that no component is lost, and, given S, the mean weight, the mean log-variance and
the variance of the log-variance. Each comparison is a z-score; a separation *holds* when all
its z-scores are below the Bonferroni threshold of the whole scan, and the validity threshold of
a sample size M is the smallest separation from which every larger one on the grid holds.
:func:`~collapse_theory.gmm.figures.figure_gmm_separation` draws the scan; ``benchmarks/bench_gmm_separation.py`` writes it
as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from collapse_theory._stats import mean_se, proportion_se, variance_se, z_threshold
from collapse_theory._validate import InputError, InputTypeError, check_int, check_real
from collapse_theory.gmm.theory import LAW_EM_SETTINGS
from collapse_theory.rng import SeedLike, spawn

__all__ = [
    "SeparationScan",
    "separation_scan",
]

#: Component weights of the scan (component 0 is the smaller one).
WEIGHTS = (0.3, 0.7)
#: Separations (in component standard deviations) and sample sizes of the full scan.
SEPARATIONS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0, 15.0, 20.0)
SIZES = (50, 200)
#: Chains per (M, separation) of the full scan.
REPLICATES = {50: 4000, 200: 2000}
#: The quick scan of the figure (about a second): M, separations, chains.
QUICK_SIZE = 30
QUICK_SEPARATIONS = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)
QUICK_REPLICATES = 400
#: Family-wise false-alarm rate of the scan's z-scores (Bonferroni over all of them).
FALSE_ALARM_RATE = 1e-3
#: EM settings of the scan: what the law assumes (docs/theory.md §4.3).
EM_SETTINGS = LAW_EM_SETTINGS
#: The statistics compared, in table order: name -> (law field, how the MC estimate is read).
STATISTICS = ("survival", "weight", "log_variance", "log_variance_var")


@dataclass(frozen=True)
class SeparationScan:
    """A scan of the law against recursive EM over separations (see the module docstring).

    Attributes
    ----------
    rows : list of dict
        One per (M, separation): ``M``, ``n``, ``separation``, ``replicates``, ``survivors``,
        and for every statistic ``<name>_law``, ``<name>_mc``, ``<name>_se``, ``<name>_z``, then
        ``max_abs_z`` and ``holds``.
    z_star : float
        The Bonferroni threshold of the scan's z-scores.
    thresholds : dict
        M -> the smallest separation from which every larger separation on the grid holds
        (None if the largest does not).
    settings : dict
        Weights, horizon, EM settings, false-alarm rate, seed.
    """

    rows: list[dict[str, Any]]
    z_star: float
    thresholds: dict[int, float | None]
    settings: dict[str, Any] = field(default_factory=dict)


def _mixture(separation: float) -> Any:
    from collapse_theory.gmm import Mixture

    half = 0.5 * separation
    return Mixture(list(WEIGHTS), [[-half], [half]], [[[1.0]], [[1.0]]])


def _law_values(m: int, n: int) -> dict[str, float]:
    from collapse_theory.gmm.theory import component_law

    law = component_law(_mixture(100.0), m, n)  # the law does not depend on the separation
    return {
        "survival": float(law.survival),
        "weight": float(law.weight),
        "log_variance": float(law.log_variance[0]),
        "log_variance_var": float(law.log_variance_var),
    }


def _monte_carlo(
    separation: float, m: int, n: int, reps: int, seed: np.random.SeedSequence
) -> tuple[int, dict[str, tuple[float, float]]]:
    """(survivors, statistic -> (estimate, standard error)) from ``reps`` chains of EM."""
    from collapse_theory.gmm import simulate

    run = simulate(
        _mixture(separation), m, n, num_replicates=reps, record="last", seed=seed, **EM_SETTINGS
    )
    lost, covs, weights = run["lost"][-1], run["covs"][-1], run["weights"][-1]
    alive = ~lost.any(axis=-1)
    log_var = np.log(covs[alive, 0, 0, 0])
    return int(alive.sum()), {
        "survival": proportion_se(alive),
        "weight": mean_se(weights[alive, 0]),
        "log_variance": mean_se(log_var),
        "log_variance_var": variance_se(log_var),
    }


def _describe_seed(seed: SeedLike) -> Any:
    """The seed as JSON: an int or None as is, a SeedSequence by its entropy and spawn key."""
    if isinstance(seed, np.random.SeedSequence):
        return {"entropy": seed.entropy, "spawn_key": list(seed.spawn_key)}
    return seed if isinstance(seed, (int, type(None))) else repr(seed)


def _threshold(rows: list[dict[str, Any]]) -> float | None:
    """Smallest separation from which every larger one holds (rows of one M, sorted)."""
    found = None
    for row in reversed(rows):
        if not row["holds"]:
            break
        found = row["separation"]
    return found


def separation_scan(
    *,
    separations: Sequence[float] = SEPARATIONS,
    sizes: Sequence[int] = SIZES,
    replicates: int | dict[int, int] | None = None,
    seed: SeedLike = 0,
    progress: Any = None,
) -> SeparationScan:
    """Run the scan of the module docstring: for every M in ``sizes`` and separation s, EM on
    two components s standard deviations apart for n = M generations, against the §4.3 law.

    Parameters
    ----------
    separations : sequence of float
        Distances between the two means, in component standard deviations (> 0).
    sizes : sequence of int
        Sample sizes M (>= 4; the law's dense pass limits M to 5000).
    replicates : int or dict, optional
        Chains per (M, separation): one number, or one per M (default :data:`REPLICATES`).
    seed : None, int, SeedSequence or Generator
        Every (M, separation) cell gets its own child stream, in grid order.
    progress : callable, optional
        Called with one line of text per finished cell.

    Returns
    -------
    SeparationScan
    """
    seps = [check_real("separations", s, minimum=0.0, strict_minimum=True) for s in separations]
    ms = [check_int("sizes", m, minimum=4) for m in sizes]
    if not seps or not ms:
        raise InputError("separations and sizes must not be empty")
    if replicates is None:
        replicates = {m: REPLICATES.get(m, QUICK_REPLICATES) for m in ms}
    if isinstance(replicates, dict):
        reps = {m: check_int(f"replicates[{m}]", replicates.get(m), minimum=2) for m in ms}
    elif isinstance(replicates, (int, np.integer)) and not isinstance(replicates, bool):
        reps = {m: check_int("replicates", replicates, minimum=2) for m in ms}
    else:
        raise InputTypeError(f"replicates must be an int or a dict M -> int; got {replicates!r}")
    seps = sorted(seps)
    z_star = z_threshold(FALSE_ALARM_RATE, len(ms) * len(seps) * len(STATISTICS))
    streams = iter(spawn(seed, len(ms) * len(seps)))
    rows: list[dict[str, Any]] = []
    thresholds: dict[int, float | None] = {}
    for m in ms:
        n = m
        law = _law_values(m, n)
        mine = []
        for s in seps:
            survivors, mc = _monte_carlo(s, m, n, reps[m], next(streams))
            row: dict[str, Any] = {
                "M": m,
                "n": n,
                "separation": s,
                "replicates": reps[m],
                "survivors": survivors,
            }
            for name in STATISTICS:
                estimate, stderr = mc[name]
                row[f"{name}_law"] = law[name]
                row[f"{name}_mc"] = estimate
                row[f"{name}_se"] = stderr
                row[f"{name}_z"] = (estimate - law[name]) / stderr if stderr > 0 else np.nan
            zs = np.array([row[f"{name}_z"] for name in STATISTICS])
            row["max_abs_z"] = float(np.nanmax(np.abs(zs))) if np.any(np.isfinite(zs)) else np.nan
            row["holds"] = bool(np.all(np.isfinite(zs)) and row["max_abs_z"] <= z_star)
            mine.append(row)
            if progress is not None:
                progress(f"M={m} s={s:g}: max |z| = {row['max_abs_z']:.2f}")
        rows.extend(mine)
        thresholds[m] = _threshold(mine)
    settings = {
        "weights": list(WEIGHTS),
        "variances": [1.0, 1.0],
        "horizon": "n = M",
        "component": 0,
        "em": dict(EM_SETTINGS),
        "false_alarm_rate": FALSE_ALARM_RATE,
        "seed": _describe_seed(seed),
    }
    return SeparationScan(rows=rows, z_star=float(z_star), thresholds=thresholds, settings=settings)
