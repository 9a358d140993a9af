"""The KDE and regression simulators (docs/theory.md §5.1, §5.2) against vectorised numpy loops.

Workloads (chain-generations per second; best of 3):

- KDE: N(0, 1) start, fixed h = 0.3, M = 100, n = 100, R = 2000, under replace and accumulate.
  numpy: all chains at once, one generation at a time: indices ``integers(0, K, (R, M))``,
  ``take_along_axis`` + ``h * standard_normal((R, M))``; the pool of accumulate is an (R, nM)
  array filled batch by batch and its variance recomputed each generation, as the library's
  definition requires.
- Regression: d = 5, T = 20, n = 100, R = 10000, OLS with a fixed design, replace and
  accumulate. numpy: batched ``np.linalg.solve`` of the (R, d, d) normal equations per generation.

The jax backend runs the same workloads on the CPU (not KDE accumulate, which is numba only),
timed after a first call that compiles it; ``--no-jax`` skips it. Both sides record the variance of model n (KDE) or the risk (regression) at the last generation;
the report states their means, so the two implementations can be seen to simulate the same law.

Run from the repository root::

    python -m benchmarks.bench_kde_regression
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import collapse_theory as ct
from benchmarks.common import best_time, write_report

KDE = {"M": 100, "n": 100, "R": 2000, "h": 0.3}
REGRESSION = {"d": 5, "T": 20, "n": 100, "R": 10_000}


def kde_numpy(regime: str, seed: int = 0) -> np.ndarray:
    """Var(model n) of R KDE chains, vectorised over the chains."""
    m, n, r, h = KDE["M"], KDE["n"], KDE["R"], KDE["h"]
    rng = np.random.default_rng(seed)
    support = np.zeros((r, 1))
    scale = np.ones((r, 1))  # model 0 = N(0, 1): one point at 0 with kernel sd 1
    pool = np.empty((r, (n + 1) * m)) if regime == "accumulate" else None
    for g in range(n):
        index = rng.integers(0, support.shape[1], (r, m))
        batch = np.take_along_axis(support, index, axis=1) + scale * rng.standard_normal((r, m))
        if pool is None:
            support = batch
        else:
            pool[:, g * m : (g + 1) * m] = batch
            support = pool[:, : (g + 1) * m]
        scale = np.full((r, 1), h)
    return support.var(axis=1) + h * h


def regression_numpy(regime: str, seed: int = 0) -> np.ndarray:
    """||w_n - w*||^2 of R OLS chains with a fixed design each, vectorised over the chains."""
    d, t, n, r = REGRESSION["d"], REGRESSION["T"], REGRESSION["n"], REGRESSION["R"]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((r, t, d))
    gram = np.swapaxes(x, 1, 2) @ x
    w_star = np.ones(d)
    w = np.tile(w_star, (r, 1))
    moment = np.zeros((r, d))
    for g in range(1, n + 1):
        y = np.einsum("rtd,rd->rt", x, w) + rng.standard_normal((r, t))
        xty = np.einsum("rtd,rt->rd", x, y)
        if regime == "accumulate":
            moment += xty
            w = np.linalg.solve(g * gram, moment[..., None])[..., 0]
        else:
            w = np.linalg.solve(gram, xty[..., None])[..., 0]
    return np.sum((w - w_star) ** 2, axis=1)


def kde_ours(regime: str, threads: int, backend: str = "numba") -> np.ndarray:
    run = ct.kde.simulate(
        1.0,
        KDE["M"],
        KDE["n"],
        bandwidth=KDE["h"],
        regime=ct.Accumulate() if regime == "accumulate" else ct.Replace(),
        num_replicates=KDE["R"],
        record="last",
        seed=0,
        num_threads=threads,
        backend=backend,
    )
    return run["var"][0]


def regression_ours(regime: str, threads: int, backend: str = "numba") -> np.ndarray:
    run = ct.regression.simulate(
        np.ones(REGRESSION["d"]),
        REGRESSION["T"],
        REGRESSION["n"],
        regime=ct.Accumulate() if regime == "accumulate" else ct.Replace(),
        num_replicates=REGRESSION["R"],
        record="last",
        seed=0,
        num_threads=threads,
        backend=backend,
    )
    return run["risk"][0]


def _rows(model: str, sizes: dict, numpy_run, ours_run, exact, with_jax: bool) -> list[dict]:
    rows = []
    work = sizes["R"] * sizes["n"]
    for regime in ("replace", "accumulate"):
        ours_run(regime, 1)  # compile (or load numba's cache) outside the timing
        timings = {"vectorised numpy": best_time(lambda r=regime: numpy_run(r))}
        threads = len(os.sched_getaffinity(0))
        for count in sorted({1, threads}):
            timings[f"collapse_theory numba, {count} thread(s)"] = best_time(
                lambda r=regime, c=count: ours_run(r, c)
            )
        if with_jax and not (model == "kde" and regime == "accumulate"):
            ours_run(regime, 1, "jax")  # compile outside the timing
            timings["collapse_theory jax (cpu)"] = best_time(lambda r=regime: ours_run(r, 1, "jax"))
        best = min(seconds for seconds, _ in timings.values())
        for implementation, (seconds, values) in timings.items():
            rows.append(
                {
                    "model": model,
                    "regime": regime,
                    "implementation": implementation,
                    "seconds": seconds,
                    "chain-generations/s": work / seconds,
                    "time / fastest": seconds / best,
                    "mean at n": float(np.mean(values)),
                    "exact mean": exact(regime),
                }
            )
    return rows


def main() -> None:
    kde_exact = {
        regime: float(ct.kde.expected_variance(KDE["M"], KDE["n"], bandwidth=KDE["h"], regime=r))
        for regime, r in (("replace", ct.Replace()), ("accumulate", ct.Accumulate()))
    }
    regression_exact = {
        regime: float(
            ct.regression.expected_excess_risk(
                REGRESSION["d"], REGRESSION["T"], REGRESSION["n"], regime=r
            )
        )
        for regime, r in (("replace", ct.Replace()), ("accumulate", ct.Accumulate()))
    }
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-jax", action="store_true", help="skip the jax rows")
    with_jax = not parser.parse_args().no_jax
    rows = _rows("kde", KDE, kde_numpy, kde_ours, kde_exact.__getitem__, with_jax)
    rows += _rows(
        "regression",
        REGRESSION,
        regression_numpy,
        regression_ours,
        regression_exact.__getitem__,
        with_jax,
    )
    path = write_report(
        "kde_regression",
        "KDE and regression simulators against vectorised numpy",
        rows,
        {
            "kde workload": KDE,
            "regression workload": REGRESSION,
            "load average (1, 5, 15 min) at the end": os.getloadavg(),
        },
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
