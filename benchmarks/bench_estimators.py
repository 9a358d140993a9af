"""Estimator universality (docs/theory.md §10): Var(theta_g)/Var(theta_1) for the mean, the median
and the 10 % trimmed mean of a known-scale Gaussian location model, against Sum_{k<=g} 1/k^2
(Accumulate) and g (Replace), over the sample size M and the generation g.

Every row is one Monte Carlo estimate from R chains of ``gaussian.simulate(..., method="samples",
location=..., known_scale=True)``. The ratio uses second moments about the true location
(E theta_g = theta_0 by symmetry): r = mean(a^2)/mean(b^2), a = theta_g - theta_0,
b = theta_1 - theta_0, on the same chains; its standard error is the delta method's,
sd(a^2 - r b^2)/(mean(b^2) sqrt(R)). "deviation" is r minus the limit, "z" the deviation over
its SE (for the mean the limit is exact at every M: |z| is then N(0, 1) noise). "top share" is
the heavy-tail diagnostic of docs/theory.md §6 for the linearised terms (untrusted above 0.6).
This is a statistical result, not a timing: the seconds column only says what a row costs.

``--save`` writes ``benchmarks/results/estimators.{json,md}``; without it the table is printed.

Run from the repository root::

    python -m benchmarks.bench_estimators --save
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import collapse_theory as ct
from benchmarks.common import write_report
from collapse_theory._stats import top_share

ESTIMATORS = ("mean", "median", "trimmed:0.1")
SIZES = (10, 30, 100, 300, 1000)
GENERATIONS = (2, 3, 5)


def ratio_with_se(theta: np.ndarray, theta0: float, g: int) -> tuple[float, float, float]:
    """(r, SE(r), top share) for r = E(theta_g - theta0)^2 / E(theta_1 - theta0)^2 (delta method)."""
    a2 = (theta[g] - theta0) ** 2
    b2 = (theta[1] - theta0) ** 2
    ratio = float(a2.mean() / b2.mean())
    terms = (a2 - ratio * b2) / b2.mean()
    return ratio, float(terms.std(ddof=1) / np.sqrt(terms.size)), float(top_share(terms))


def rows_for(location: str, size: int, regime_name: str, replicates: int, seed: int) -> list[dict]:
    regime = ct.Accumulate() if regime_name == "accumulate" else ct.Replace()
    start = time.perf_counter()
    theta = ct.gaussian.simulate(
        0.0,
        1.0,
        size,
        max(GENERATIONS),
        num_replicates=replicates,
        method="samples",
        location=location,
        known_scale=True,
        regime=regime,
        record="all",
        seed=seed,
    )["mean"]
    seconds = time.perf_counter() - start
    rows = []
    for g in GENERATIONS:
        limit = float(np.sum(1.0 / np.arange(1, g + 1) ** 2)) if regime_name == "accumulate" else g
        ratio, se, share = ratio_with_se(theta, 0.0, g)
        rows.append(
            {
                "regime": regime_name,
                "estimator": location,
                "M": size,
                "g": g,
                "ratio": ratio,
                "SE": se,
                "limit": limit,
                "deviation": ratio - limit,
                "z": (ratio - limit) / se,
                "top share": share,
                "R": replicates,
                "seconds": seconds,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/estimators.*")
    args = parser.parse_args()

    ct.gaussian.simulate(0.0, 1.0, 5, 2, num_replicates=2, method="samples", location="median")
    rows = []
    seeds = iter(np.random.SeedSequence(args.seed).spawn(2 * len(ESTIMATORS) * len(SIZES)))
    for regime_name in ("accumulate", "replace"):
        for location in ESTIMATORS:
            for size in SIZES:
                new = rows_for(location, size, regime_name, args.replicates, next(seeds))
                for row in new:
                    print(
                        f"{row['regime']:10s} {row['estimator']:12s} M={row['M']:5d} g={row['g']} "
                        f"ratio={row['ratio']:.4f}±{row['SE']:.4f} limit={row['limit']:.4f} "
                        f"dev={row['deviation']:+.4f} z={row['z']:+.2f} ({row['seconds']:.1f} s)",
                        flush=True,
                    )
                rows += new
    if args.save:
        title = (
            "Estimator universality: Var(theta_g)/Var(theta_1) against Sum 1/k^2 (accumulate) "
            f"and g (replace), known-scale N(theta, 1), R = {args.replicates} chains per (M, "
            "estimator, regime)"
        )
        write_report("estimators", title, rows, {"parameters": vars(args)})


if __name__ == "__main__":
    main()
