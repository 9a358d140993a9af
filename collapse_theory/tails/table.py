r"""The tail-loss benchmark grid: family x estimator x M x regime (``collapse-theory tail-loss``).

Each registered family whose ``tails.py`` declares ``benchmark_settings`` and
``benchmark_curves`` contributes its rows (:mod:`collapse_theory.families`): the settings of its
models and estimators for M in {10, 100, 1000} and the regimes replace, fresh 10% ("mix") and
accumulate, with horizon n = 2M generations (the chains' time scale is M) unless the family caps
it, and for each setting a Monte Carlo curve plus, where the family has one, its exact or
Rao–Blackwellised law, shown next to the Monte Carlo row with z-scores of their agreement. The
tail is the original model's lightest / lowest-density 10% of mass in every family.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from collapse_theory._json import write_json
from collapse_theory._stats import se_trusted, two_sample_z
from collapse_theory._validate import check_int, output_directory
from collapse_theory.regimes import Accumulate, FreshData, Regime, Replace
from collapse_theory.rng import SeedLike, as_seed_sequence
from collapse_theory.tails.curves import TailCurve
from collapse_theory.tails.rates import TailRates, tail_rates

__all__ = [
    "CurveRequest",
    "Setting",
    "TailLossTable",
    "default_grid",
    "tail_loss_table",
    "write_outputs",
]

#: Tail level used throughout the grid (fraction of the original mass).
TAIL_QUANTILE = 0.1
#: P(T_n < EPS * T0) is reported.
EPS = 0.01
#: Rates: crossing of CROSSING_FRACTION * T0 and the fit window end there.
CROSSING_FRACTION = 0.1
REGIMES: dict[str, Regime] = {
    "replace": Replace(),
    "fresh 10%": FreshData(0.1),
    "accumulate": Accumulate(),
}


@dataclass(frozen=True)
class Setting:
    """One cell of the grid: ``family`` and ``model`` are the table's labels, ``source`` the
    registered family whose ``tails`` module computes the cell."""

    family: str
    model: str
    estimator: str
    num_samples: int
    regime: str
    horizon: int
    replicates: int
    source: str


@dataclass(frozen=True)
class CurveRequest:
    """What the table asks a family's ``benchmark_curves(request)`` for: the curves of
    ``setting`` at the recorded ``generations``, for the grid's tail level and ``eps``, drawing
    the Monte Carlo curve from ``mc_seed`` and any reference law from ``exact_seed``."""

    setting: Setting
    generations: np.ndarray
    tail_quantile: float
    eps: float
    mc_seed: np.random.SeedSequence
    exact_seed: np.random.SeedSequence

    @property
    def regime(self) -> Regime:
        """The setting's data regime as a library object."""
        return REGIMES[self.setting.regime]


def _benchmark_modules() -> list[ModuleType]:
    """The ``tails`` modules of the registered families that contribute rows, in family order."""
    from collapse_theory import families

    return [m for _, m in families.modules("tails") if hasattr(m, "benchmark_settings")]


def record_generations(horizon: int) -> np.ndarray:
    """Recorded generations: 21 evenly over the horizon plus 21 over its first quarter."""
    grid = np.concatenate([np.linspace(0, horizon, 21), np.linspace(0, horizon / 4, 21)])
    return np.unique(np.round(grid).astype(np.int64))


def default_grid(
    *, quick: bool = False, replicates: int | None = None, generations: int | None = None
) -> list[Setting]:
    """Every family's settings (module docstring); ``quick`` keeps M = 10, the smallest model
    and few replicates (seconds, for tests). ``generations`` overrides every horizon,
    ``replicates`` every replicate count."""
    sizes = (10,) if quick else (10, 100, 1000)
    grid = [s for module in _benchmark_modules() for s in module.benchmark_settings(sizes, quick)]
    overrides = {}
    if generations is not None:
        overrides["horizon"] = generations
    if replicates is not None:
        overrides["replicates"] = replicates
    return [dataclasses.replace(s, **overrides) for s in grid]


def _curves(setting: Setting, seed: np.random.SeedSequence) -> list[TailCurve]:
    """Monte Carlo curve, then the family's exact / Rao–Blackwell one where it exists."""
    from collapse_theory import families

    mc_seed, exact_seed = seed.spawn(2)
    request = CurveRequest(
        setting, record_generations(setting.horizon), TAIL_QUANTILE, EPS, mc_seed, exact_seed
    )
    return families.module(setting.source, "tails").benchmark_curves(request)


def _ci_se(ci: tuple[float, float]) -> float:
    """Standard error implied by a 95% interval (its half-width / 1.96); inf when open."""
    return (ci[1] - ci[0]) / (2.0 * 1.959964)


def agreement(
    mc: TailCurve, mc_rates: TailRates, ref: TailCurve, ref_rates: TailRates
) -> dict[str, float | int]:
    """z-scores of Monte Carlo against exact / Rao–Blackwell: the largest |z| over recorded
    generations n > 0 of E T_n and of P(T_n < eps T0) (probabilities where both SEs vanish,
    i.e. both 0 or both 1, are skipped) and the z of the rate (SEs from the 95%
    intervals; not a normal score where the median is two-valued, e.g. T0 or 0)."""
    live = mc.generations > 0

    def worst(a, sa, b, sb) -> float:
        zs = [
            two_sample_z(*v)
            for v in zip(a[live], sa[live], b[live], sb[live], strict=True)
            if v[1] + v[3] > 0
        ]
        return float(np.max(np.abs(zs))) if zs else 0.0

    return {
        "max_abs_z_mean": worst(mc.mean, mc.mean_se, ref.mean, ref.mean_se),
        "max_abs_z_prob_below": worst(
            mc.prob_below, mc.prob_below_se, ref.prob_below, ref.prob_below_se
        ),
        "z_rate": two_sample_z(
            mc_rates.rate, _ci_se(mc_rates.rate_ci), ref_rates.rate, _ci_se(ref_rates.rate_ci)
        ),
        "comparisons": int(live.sum()),
    }


def _row(setting: Setting, curve: TailCurve, rates: TailRates) -> dict[str, Any]:
    # values of mixed types (str, int, float), read back by column in markdown()
    last = -1
    t0 = curve.initial_mass
    m = setting.num_samples
    row: dict[str, Any] = {
        "family": setting.family,
        "model": setting.model,
        "estimator": setting.estimator,
        "M": m,
        "regime": setting.regime,
        "method": curve.method,
        "n": int(curve.generations[last]),
        "draws": curve.num_draws,
        "T0": t0,
        "median_Tn/T0": curve.median[last] / t0,
        "q10_Tn/T0": curve.quantiles[0, last] / t0,
        "q90_Tn/T0": curve.quantiles[1, last] / t0,
        "mean_Tn/T0": curve.mean[last] / t0,
        "mean_se/T0": curve.mean_se[last] / t0,
        "mean_top_share": _top_share(curve.mean_top_share, last),
        "P(Tn<0.01T0)": curve.prob_below[last],
        "P_se": curve.prob_below_se[last],
        "survivors_n": float("nan") if curve.surviving is None else curve.surviving[last],
        "survivors_0": float("nan") if curve.surviving is None else curve.surviving[0],
        "half_life": rates.half_life,
        "half_life_lo": rates.half_life_ci[0],
        "half_life_hi": rates.half_life_ci[1],
        "n_0.1": rates.crossing,
        "n_0.1_lo": rates.crossing_ci[0],
        "n_0.1_hi": rates.crossing_ci[1],
        "rate": rates.rate,
        "rate_lo": rates.rate_ci[0],
        "rate_hi": rates.rate_ci[1],
        "rate*M": rates.rate * m,
        "drift*M": curve.scale_drift * m,
        "drift_se*M": curve.scale_drift_se * m,
        "drift_top_share": curve.scale_drift_top_share,
        "rates_every_generation": rates.every_generation,
    }
    return row


def _top_share(shares: np.ndarray | None, index: int) -> float:
    """The heavy-tail diagnostic at one recorded generation; NaN for curves without one."""
    return float("nan") if shares is None else float(shares[index])


@dataclass
class TailLossTable:
    """Rows (one per setting and method), agreement checks and the curves, for the figures."""

    rows: list[dict[str, Any]]  # one per setting and method; see _row for the columns
    agreement: list[dict[str, object]]
    curves: dict[tuple, TailCurve] = field(repr=False)
    settings: dict[str, object]
    seconds: float


def tail_loss_table(
    *,
    quick: bool = False,
    seed: SeedLike = 0,
    replicates: int | None = None,
    generations: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> TailLossTable:
    """Run the grid (:func:`default_grid`) and return the table.

    Parameters
    ----------
    quick : bool
        Tiny grid (seconds).
    seed : int or SeedSequence
        Every setting and the bootstraps get streams spawned from it, in grid order.
    replicates, generations : int, optional
        Override the replicate counts / horizons of the grid.
    progress : callable, optional
        Called with a line of text after each setting.

    Returns
    -------
    TailLossTable
    """
    if replicates is not None:
        replicates = check_int("replicates", replicates, minimum=10)
    if generations is not None:
        generations = check_int("generations", generations, minimum=2)
    grid = default_grid(quick=quick, replicates=replicates, generations=generations)
    seeds = as_seed_sequence(seed).spawn(len(grid))
    rows, curves = [], {}
    checks: list[dict[str, object]] = []
    start = time.perf_counter()
    for setting, child in zip(grid, seeds, strict=True):
        tick = time.perf_counter()
        run_seed, boot_seed = child.spawn(2)
        found = _curves(setting, run_seed)
        rates = [
            tail_rates(c, fraction=CROSSING_FRACTION, seed=s)
            for c, s in zip(found, boot_seed.spawn(len(found)), strict=True)
        ]  # independent bootstraps: agreement() treats the two intervals as independent
        for curve, rate in zip(found, rates, strict=True):
            rows.append(_row(setting, curve, rate))
            curves[
                (
                    setting.family,
                    setting.model,
                    setting.estimator,
                    setting.num_samples,
                    setting.regime,
                    curve.method,
                )
            ] = curve
        if len(found) == 2:
            checks.append(
                {
                    "family": setting.family,
                    "model": setting.model,
                    "estimator": setting.estimator,
                    "M": setting.num_samples,
                    "reference": found[1].method,
                    **agreement(found[0], rates[0], found[1], rates[1]),
                }
            )
        if progress is not None:
            progress(
                f"{setting.family} {setting.model} {setting.estimator} M={setting.num_samples} "
                f"{setting.regime}: {time.perf_counter() - tick:.1f} s"
            )
    settings = {
        "quick": quick,
        "seed": repr(seed),
        "tail_quantile": TAIL_QUANTILE,
        "eps": EPS,
        "crossing_fraction": CROSSING_FRACTION,
        "replicates": replicates,
        "generations": generations,
    }
    return TailLossTable(rows, checks, curves, settings, time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------
# Output: Markdown, CSV, JSON, figures


def _fmt(value: object, digits: int = 3) -> str:
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    return str(value)


def _interval(point: float, lo: float, hi: float) -> str:
    if point == lo == hi or (math.isnan(point) and math.isnan(lo)):
        return _fmt(point)
    return f"{_fmt(point)} [{_fmt(lo)}, {_fmt(hi)}]"


def _se_text(se: float, share: float) -> str:
    """`` ± se`` (nothing when exact), flagged when its heavy-tail diagnostic says the SE is not
    to be trusted (docs/theory.md §6)."""
    if se == 0:
        return ""
    return f" ± {_fmt(se, 2)}" + ("" if se_trusted(share) else " (SE untrusted)")


def markdown(table: TailLossTable) -> str:
    """The table as Markdown (the CSV has every column)."""
    head = (
        "| family | model | est. | M | regime | method | n | T_n/T0 median [q10, q90] | "
        "E T_n/T0 | P(T_n<0.01T0) | tail states n/0 | half-life | n(0.1 T0) | "
        "rate [95% CI] | rate·M | drift·M | top 1% share: E T_n, drift |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    lines[1] = "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"
    for r in table.rows:
        survivors = (
            "–"
            if math.isnan(r["survivors_n"])
            else f"{r['survivors_n']:.1f}/{r['survivors_0']:.0f}"
        )
        drift = _fmt(r["drift*M"]) + _se_text(r["drift_se*M"], r["drift_top_share"])
        mean = _fmt(r["mean_Tn/T0"]) + _se_text(r["mean_se/T0"], r["mean_top_share"])
        cells = [
            r["family"],
            r["model"],
            r["estimator"],
            str(r["M"]),
            r["regime"],
            r["method"],
            str(r["n"]),
            f"{_fmt(r['median_Tn/T0'])} [{_fmt(r['q10_Tn/T0'], 2)}, {_fmt(r['q90_Tn/T0'], 2)}]",
            mean,
            _fmt(r["P(Tn<0.01T0)"]),
            survivors,
            _interval(r["half_life"], r["half_life_lo"], r["half_life_hi"]),
            _interval(r["n_0.1"], r["n_0.1_lo"], r["n_0.1_hi"]),
            _interval(r["rate"], r["rate_lo"], r["rate_hi"]),
            _fmt(r["rate*M"]),
            drift,
            f"{_fmt(r['mean_top_share'], 2)}, {_fmt(r['drift_top_share'], 2)}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Agreement of Monte Carlo with each family's reference law under Replace (exact or "
        "Rao–Blackwellised, column 'reference'): largest |z| over the recorded generations n > 0 "
        "of E T_n and of P(T_n < 0.01 T0); z of the rate (standard errors from the 95% "
        "bootstrap intervals of both). Where the median is two-valued (T0 or 0, e.g. a "
        "categorical tail at M = 10) the bootstrap distribution of the rate has two points and "
        "its z is not a normal score.",
        "",
        "| family | model | est. | M | reference | generations | max |z| E T_n | "
        "max |z| P(T_n<0.01T0) | z rate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in table.agreement:
        lines.append(
            f"| {c['family']} | {c['model']} | {c['estimator']} | {c['M']} | {c['reference']} | "
            f"{c['comparisons']} | {c['max_abs_z_mean']:.2f} | {c['max_abs_z_prob_below']:.2f} | "
            f"{c['z_rate']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def write_outputs(table: TailLossTable, out_dir: str | Path, *, command: str = "") -> list[Path]:
    """Write ``tail_loss.md``, ``tail_loss.csv``, ``tail_loss.json`` and the figures
    ``tail_loss_replace`` / ``tail_loss_regimes`` (PNG + PDF) into ``out_dir``."""
    from collapse_theory import _figures

    out = output_directory("out_dir", out_dir)
    title = "# Tail-loss rates (`collapse-theory tail-loss`)\n\n"
    intro = (
        (f"Command: `{command}`  \n" if command else "")
        + f"Settings: {json.dumps(table.settings)}; wall time {table.seconds:.0f} s.\n\n"
        "T_n: mass of the original tail under model n; per family: "
        + "; ".join(m.BENCHMARK_NOTE for m in _benchmark_modules())
        + ". n: horizon (2M unless noted). half-life / n(0.1 T0): first generation where the "
        "median falls below T0/2 / 0.1 T0 (– : not within n). rate: ln(10) / n(0.1 T0), the "
        "constant exponential rate that reaches 0.1 T0 at the same generation (without a "
        "crossing: -ln(median T_n/T0) / n); exact rows read these from the median at every "
        "generation, so they do not depend on the recorded generations "
        "(collapse_theory.tails.rates). drift·M: M × per-generation drift of the log scale over "
        "the second half. [..]: 95% bootstrap intervals; exact rows have no sampling error. "
        "± : standard error of a Monte Carlo mean; top 1% share: the share of its squared "
        "deviations carried by the largest 1% of replicates (paths), the heavy-tail diagnostic "
        "of that standard error (docs/theory.md §6), which is flagged untrusted above 0.6.\n\n"
    )
    paths = [out / "tail_loss.md", out / "tail_loss.csv", out / "tail_loss.json"]
    paths[0].write_text(title + intro + markdown(table))
    with open(paths[1], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table.rows[0]))
        writer.writeheader()
        writer.writerows(table.rows)
    write_json(
        paths[2],
        {
            "settings": table.settings,
            "seconds": table.seconds,
            "agreement": table.agreement,
            "rows": table.rows,
        },
        indent=1,
    )
    for name, spec in _figures.figures("table").items():
        paths.extend(_figures.save(spec.draw(table), out, name))
    return paths
