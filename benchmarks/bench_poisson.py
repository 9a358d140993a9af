"""Poisson simulation: lambda0 = 2, n = 100, R = 10^5 chains, k = 1000 generations (Replace and
Accumulate), recording only the last generation.

Baseline: the best vectorised numpy, one ``Generator.poisson(n * rate)`` call over all replicates
per generation (the dataset's total count, as the kernel draws it). Both sides simulate the same
chain. ``--save`` writes ``benchmarks/results/poisson.{json,md}``; without it the table is
printed only.

Run from the repository root::

    python -m benchmarks.bench_poisson
"""

from __future__ import annotations

import argparse

import numpy as np

import collapse_theory as ct
from benchmarks.common import best_time, write_report
from collapse_theory._stats import mean_difference_z


def numpy_vectorised(
    rate0: float, n: int, generations: int, replicates: int, seed: int, accumulate: bool
) -> np.ndarray:
    """The baseline: one Poisson call over all replicates per generation."""
    rng = np.random.default_rng(seed)
    rate = np.full(replicates, rate0)
    pool = np.zeros(replicates)
    for k in range(1, generations + 1):
        counts = rng.poisson(n * rate)
        if accumulate:
            pool += counts
            rate = pool / (n * k)
        else:
            rate = counts / n
    return rate


def ours(rate0, n, generations, replicates, seed, accumulate, threads=None) -> np.ndarray:
    regime = ct.Accumulate() if accumulate else ct.Replace()
    run = ct.poisson.simulate(
        rate0,
        n,
        generations,
        num_replicates=replicates,
        regime=regime,
        record="last",
        seed=seed,
        num_threads=threads,
    )
    return run["rate"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--replicates", type=int, default=100_000)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/poisson.*")
    args = parser.parse_args()

    rate0, n, k, r = 2.0, 100, args.generations, args.replicates
    ours(rate0, n, 2, 2, 0, False)  # compile outside the timings
    rows = []
    for accumulate in (False, True):
        regime = "accumulate" if accumulate else "replace"
        t_numpy, x_numpy = best_time(
            lambda a=accumulate: numpy_vectorised(rate0, n, k, r, 1, a), repeats=1
        )
        t_one, x_one = best_time(lambda a=accumulate: ours(rate0, n, k, r, 1, a, 1), repeats=3)
        t_all, _ = best_time(lambda a=accumulate: ours(rate0, n, k, r, 1, a), repeats=3)
        # same chain, different streams: the two final rates agree in distribution
        z = mean_difference_z(x_numpy, x_one)
        for label, seconds in [
            ("numpy Generator.poisson (vectorised)", t_numpy),
            ("collapse_theory numba, 1 thread", t_one),
            ("collapse_theory numba, all threads", t_all),
        ]:
            rows.append(
                {
                    "regime": regime,
                    "implementation": label,
                    "seconds": seconds,
                    "chain-generations/s": k * r / seconds,
                    "ratio vs numpy": t_numpy / seconds,
                    "z (mean of the last rate, numpy vs numba)": z,
                }
            )
    for row in rows:
        print(
            f"{row['regime']:10s} {row['implementation']:40s} {row['seconds']:8.3f} s  "
            f"{row['chain-generations/s']:.3g}/s  x{row['ratio vs numpy']:.2f}  "
            f"z={row['z (mean of the last rate, numpy vs numba)']:+.2f}"
        )
    if args.save:
        title = f"Poisson simulation, lambda0={rate0:g}, n={n}, R={r}, k={k}"
        write_report("poisson", title, rows, {"parameters": vars(args)})


if __name__ == "__main__":
    main()
