"""Calibration of the verification suite: rerun the Monte Carlo checks over many seeds.

A run states a family-wise false-alarm rate ``a``: under correct closed forms, the probability
that any Monte Carlo check fails (:mod:`.runner`). Calibration measures it. Over ``S`` seeds it
counts the runs with at least one failed Monte Carlo check, ``F``, and compares ``F/S`` with
``a``: an exact (Clopper–Pearson) 95 % interval for the observed rate and the one-sided binomial
p-value ``P(Binomial(S, a) >= F)``. Bonferroni is conservative, so the observed rate may lie
below ``a``; a rate significantly *above* it means some check's standard error or CLT
approximation is wrong.

With ``a = 1e-3`` a few hundred seeds see almost no failures, so the pooled z-scores carry most
of the information: under correct theory each is approximately N(0, 1). The calibration reports
the pooled fractions ``|z| > 1.96, 2.576, 3.29`` against 5 %, 1 %, 0.1 % (binomial intervals),
the Kolmogorov–Smirnov distance of the pooled z-scores from N(0, 1), and, per check, the mean and
standard deviation of z over seeds (a check whose mean z is biased shows up here long before it
fails a run).

Seeds: run ``i`` uses root seed ``first_seed + i`` exactly as ``collapse-theory verify --seed``
does, so any run of the calibration can be replayed alone. Runs are appended one line per seed to
``calibration_runs.jsonl`` in the output directory and reused on restart (same quick flag,
family-wise rate and backend), so a long calibration can be interrupted and resumed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np
from scipy import stats

from collapse_theory._json import dumps, write_json
from collapse_theory._stats import z_threshold
from collapse_theory._validate import InputError, check_int, check_real, output_directory
from collapse_theory.backends import resolve as resolve_backend
from collapse_theory.progress import progress_bar
from collapse_theory.verify.registry import select
from collapse_theory.verify.runner import DEFAULT_FAMILY_WISE_RATE, bonferroni_threshold, run

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Calibration", "calibrate"]

#: Per-check two-sided levels whose pooled exceedance rates are reported.
LEVELS = (0.05, 0.01, 0.001)

RUNS_FILE = "calibration_runs.jsonl"


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for a proportion.

    Examples
    --------
    >>> low, high = clopper_pearson(0, 200)
    >>> low, round(high, 4)
    (0.0, 0.0183)
    """
    alpha = 1.0 - confidence
    low = 0.0 if successes == 0 else stats.beta.ppf(alpha / 2, successes, trials - successes + 1)
    high = (
        1.0
        if successes == trials
        else stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes)
    )
    return float(low), float(high)


class CheckBias(TypedDict):
    """One row of :meth:`Calibration.per_check`: a check's z-scores over the seeds."""

    name: str
    mean_z: float
    sd_z: float
    z_of_mean: float
    max_abs_z: float
    failures: int
    errors: int


@dataclass(frozen=True)
class Calibration:
    """The outcome of :func:`calibrate`.

    Attributes
    ----------
    names : tuple of str
        The Monte Carlo checks, in registry order (columns of ``z``).
    seeds : numpy.ndarray
        Root seed of each run (rows of ``z``).
    z : numpy.ndarray
        z-scores, shape (len(seeds), len(names)); NaN where a check raised an error.
    z_threshold : float
        The per-check threshold of each run (Bonferroni over ``len(names)`` checks).
    family_wise_rate : float
        The stated rate.
    quick : bool
    seconds : float
        Wall time of the runs done by this call (reused runs cost nothing).
    """

    names: tuple[str, ...]
    seeds: np.ndarray
    z: np.ndarray
    z_threshold: float
    family_wise_rate: float
    quick: bool
    seconds: float

    @property
    def num_seeds(self) -> int:
        return int(self.z.shape[0])

    @property
    def failed_runs(self) -> int:
        """Runs in which at least one check failed (|z| above the threshold, or an error)."""
        bad = ~(np.abs(self.z) <= self.z_threshold)  # NaN (an error) counts as a failure
        return int(np.any(bad, axis=1).sum())

    @property
    def observed_rate(self) -> float:
        return self.failed_runs / self.num_seeds if self.num_seeds else math.nan

    @property
    def rate_interval(self) -> tuple[float, float]:
        """95 % Clopper–Pearson interval of the observed family-wise failure rate."""
        return clopper_pearson(self.failed_runs, self.num_seeds)

    @property
    def excess_p_value(self) -> float:
        """``P(Binomial(S, a) >= F)``: small when failures are too many for the stated rate."""
        return float(stats.binom.sf(self.failed_runs - 1, self.num_seeds, self.family_wise_rate))

    @property
    def consistent(self) -> bool:
        """Whether the observed failures are consistent with the stated rate (p >= 0.01)."""
        return self.excess_p_value >= 0.01

    def pooled_levels(self) -> list[dict[str, float]]:
        """Per stated two-sided level: pooled fraction of |z| beyond its quantile, with CI."""
        finite = self.z[np.isfinite(self.z)]
        rows = []
        for level in LEVELS:
            threshold = z_threshold(level)
            count = int(np.sum(np.abs(finite) > threshold))
            low, high = clopper_pearson(count, finite.size)
            rows.append(
                {
                    "level": level,
                    "threshold": float(threshold),
                    "count": count,
                    "total": int(finite.size),
                    "observed": count / finite.size if finite.size else math.nan,
                    "low": low,
                    "high": high,
                }
            )
        return rows

    def ks(self) -> tuple[float, float]:
        """Kolmogorov–Smirnov statistic and p-value of the pooled z-scores against N(0, 1)."""
        finite = self.z[np.isfinite(self.z)]
        result = stats.kstest(finite, "norm")
        return float(result.statistic), float(result.pvalue)

    def per_check(self) -> list[CheckBias]:
        """Per check: mean and SD of z over seeds, z of that mean, max |z|, failures."""
        rows: list[CheckBias] = []
        for j, name in enumerate(self.names):
            column = self.z[:, j]
            finite = column[np.isfinite(column)]
            mean = float(finite.mean()) if finite.size else math.nan
            sd = float(finite.std(ddof=1)) if finite.size > 1 else math.nan
            rows.append(
                {
                    "name": name,
                    "mean_z": mean,
                    "sd_z": sd,
                    "z_of_mean": mean * math.sqrt(finite.size) if finite.size else math.nan,
                    "max_abs_z": float(np.max(np.abs(finite))) if finite.size else math.nan,
                    "failures": int(np.sum(~(np.abs(column) <= self.z_threshold))),
                    "errors": int(np.sum(~np.isfinite(column))),
                }
            )
        return rows

    def format(self) -> str:
        """Plain-text summary: the stated against the observed rate, pooled levels, KS, and the
        checks whose mean z is most biased."""
        low, high = self.rate_interval
        ks_stat, ks_p = self.ks()
        lines = [
            f"calibration ({'quick' if self.quick else 'full'}): {self.num_seeds} seeds "
            f"({int(self.seeds.min()) if self.num_seeds else '-'}..."
            f"{int(self.seeds.max()) if self.num_seeds else '-'}), {len(self.names)} Monte Carlo "
            f"checks, |z| <= {self.z_threshold:.3f}",
            f"stated family-wise false-alarm rate: {self.family_wise_rate:g}",
            f"observed: {self.failed_runs} of {self.num_seeds} runs failed = "
            f"{self.observed_rate:.4g} (95% CI {low:.3g}..{high:.3g}); "
            f"P(>= {self.failed_runs} failures | stated rate) = {self.excess_p_value:.3g} -> "
            + ("consistent" if self.consistent else "TOO MANY FAILURES"),
            "",
            "pooled z-scores: level  threshold  observed  95% CI",
        ]
        for row in self.pooled_levels():
            lines.append(
                f"  {row['level']:<8g} {row['threshold']:>6.3f}  {row['observed']:.5f}  "
                f"{row['low']:.5f}..{row['high']:.5f}  ({row['count']} of {row['total']})"
            )
        lines.append(f"KS distance of pooled z from N(0,1): {ks_stat:.4f} (p = {ks_p:.3g})")
        per_check = sorted(self.per_check(), key=lambda r: -abs(r["z_of_mean"]))
        lines += ["", "most biased checks (mean z over seeds, z of that mean, SD of z, max |z|):"]
        lines.extend(
            f"  {r['name']:48} {r['mean_z']:+.3f}  {r['z_of_mean']:+.2f}  {r['sd_z']:.3f}  "
            f"{r['max_abs_z']:.2f}"
            for r in per_check[:10]
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        low, high = self.rate_interval
        ks_stat, ks_p = self.ks()
        return {
            "quick": self.quick,
            "num_seeds": self.num_seeds,
            "seeds": [int(s) for s in self.seeds],
            "family_wise_rate": self.family_wise_rate,
            "z_threshold": self.z_threshold,
            "failed_runs": self.failed_runs,
            "observed_rate": self.observed_rate,
            "rate_interval": [low, high],
            "excess_p_value": self.excess_p_value,
            "consistent": self.consistent,
            "pooled_levels": self.pooled_levels(),
            "ks": {"statistic": ks_stat, "p_value": ks_p},
            "per_check": self.per_check(),
        }

    def save(self, directory: str | Path) -> list[Path]:
        """Write ``calibration.md``, ``calibration.json`` and ``calibration.png`` (QQ plot)."""
        from collapse_theory.plotting import save_figure

        directory = output_directory("directory", directory)
        md = directory / "calibration.md"
        md.write_text("# Verification suite calibration\n\n```\n" + self.format() + "\n```\n")
        js = directory / "calibration.json"
        write_json(js, self.to_dict())
        png, pdf = save_figure(self.figure(), directory, "calibration")
        return [md, js, png, pdf]

    def figure(self) -> Figure:
        """QQ plot of the pooled z-scores against N(0, 1) and the per-check mean z."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9.0, 3.6), layout="constrained")
        qq, bias = fig.subplots(1, 2)
        finite = np.sort(self.z[np.isfinite(self.z)])
        probabilities = (np.arange(1, finite.size + 1) - 0.5) / finite.size
        expected = stats.norm.ppf(probabilities)
        qq.plot(expected, finite, ".", ms=2, color="C0", label="pooled z-scores")
        lim = max(4.0, float(np.max(np.abs(finite))) if finite.size else 4.0)
        qq.plot([-lim, lim], [-lim, lim], "k-", lw=0.8, label="N(0, 1)")
        for sign in (-1, 1):
            qq.axhline(sign * self.z_threshold, color="C3", ls=":", lw=0.8)
        qq.set(xlabel="N(0, 1) quantile", ylabel="observed z", title="(a) z-scores, all checks")
        qq.legend(loc="upper left")
        per_check = self.per_check()
        z_of_mean = np.array([r["z_of_mean"] for r in per_check])
        bias.plot(np.arange(len(per_check)), z_of_mean, "o", ms=3)
        bound = z_threshold(0.001, max(1, len(per_check)))
        bias.axhspan(-bound, bound, color="0.9", label=f"|z| < {bound:.2f} (Bonferroni 1e-3)")
        bias.set(
            xlabel="check (registry order)",
            ylabel="mean z × √seeds",
            title="(b) bias of each check over seeds",
        )
        bias.legend(loc="upper left")
        fig.suptitle(
            f"Calibration over {self.num_seeds} seeds: {self.failed_runs} failed runs, "
            f"stated family-wise rate {self.family_wise_rate:g}",
            fontsize=10,
        )
        return fig


def _read_runs(
    path: Path, quick: bool, rate: float, backend: str, names: tuple[str, ...]
) -> dict[int, list]:
    """Previously finished runs of the same configuration (one JSON object per line)."""
    runs: dict[int, list] = {}
    if not path.exists():
        return runs
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by an interruption
        if (
            record.get("quick") != quick
            or record.get("family_wise_rate") != rate
            or record.get("backend", "numba") != backend
        ):
            continue
        z_by_name = record.get("z", {})
        if all(name in z_by_name for name in names):
            runs[int(record["seed"])] = [
                math.nan if z_by_name[name] is None else z_by_name[name] for name in names
            ]
    return runs


def calibrate(
    num_seeds: int = 200,
    *,
    quick: bool = True,
    first_seed: int = 0,
    only: Iterable[str] | str | None = None,
    family_wise_rate: float = DEFAULT_FAMILY_WISE_RATE,
    out: str | Path | None = None,
    progress: bool = False,
    workers: int = 1,
) -> Calibration:
    """Rerun the Monte Carlo checks for seeds ``first_seed .. first_seed + num_seeds - 1``.

    Parameters
    ----------
    num_seeds : int
        Number of runs (seeds).
    quick : bool
        Quick or full sizes.
    first_seed : int
        Root seed of the first run.
    only : iterable of str, optional
        Restrict to these checks (names or prefixes); exact checks are always left out (they
        are deterministic).
    family_wise_rate : float
        The stated rate whose calibration is measured.
    out : path, optional
        Directory for ``calibration_runs.jsonl`` (appended after every run, reused on restart;
        created if needed, never its parents).
    progress : bool
        Progress bar over seeds.
    workers : int
        Processes of each run (:func:`collapse_theory.verify.run`); the numbers do not depend
        on it.

    Returns
    -------
    Calibration

    Examples
    --------
    >>> cal = calibrate(3, only=["categorical.heterozygosity"])
    >>> cal.z.shape
    (3, 1)
    """
    num_seeds = check_int("num_seeds", num_seeds, minimum=1)
    first_seed = check_int("first_seed", first_seed, minimum=0)
    family_wise_rate = check_real(
        "family_wise_rate", family_wise_rate, minimum=0.0, strict_minimum=True, maximum=1.0
    )
    names = tuple(check.name for check in select(only) if check.is_monte_carlo)
    if not names:
        raise InputError(f"only: selects no Monte Carlo check; got {only!r}")
    path = None if out is None else output_directory("out", out) / RUNS_FILE
    backend = resolve_backend(None)
    done = {} if path is None else _read_runs(path, quick, family_wise_rate, backend, names)
    seeds = np.arange(first_seed, first_seed + num_seeds)
    z = np.full((num_seeds, len(names)), np.nan)
    start = time.perf_counter()
    with progress_bar(num_seeds, "calibrate", enabled=progress, unit="seed") as advance:
        for i, seed in enumerate(seeds):
            if int(seed) in done:
                z[i] = done[int(seed)]
            else:
                report = run(
                    quick, int(seed), names, family_wise_rate=family_wise_rate, workers=workers
                )
                z[i] = [report[name].z for name in names]
                if path is not None:
                    record = {
                        "seed": int(seed),
                        "quick": quick,
                        "backend": backend,
                        "family_wise_rate": family_wise_rate,
                        "seconds": report.seconds,
                        "z": dict(zip(names, z[i], strict=True)),  # dumps: non-finite -> null
                    }
                    with path.open("a") as handle:
                        handle.write(dumps(record) + "\n")
            advance(1)
    return Calibration(
        names=names,
        seeds=seeds,
        z=z,
        z_threshold=bonferroni_threshold(family_wise_rate, len(names)),
        family_wise_rate=family_wise_rate,
        quick=quick,
        seconds=time.perf_counter() - start,
    )
