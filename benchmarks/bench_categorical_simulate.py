"""P3 of design.md: categorical simulation, K=1000 Zipf(1.1), M=10^4, R=1000, n=1000.

Baseline: the best vectorised numpy, one ``Generator.multinomial`` call over all replicates per
generation. Both sides simulate the same chain (Replace regime, keep only the last generation).
Also records scaling in M (cost should be flat), K and R, and the first-call compile time.

The jax backend runs P3 in the same run (``--no-jax`` skips it) over ``--jax-generations``
generations (its cost per generation is constant, so chain-generations/s is comparable), timed
after a first call at the same shapes.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_categorical_simulate.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import collapse_theory as ct
from benchmarks.common import best_time, write_report
from collapse_theory.categorical import zipf


def numpy_vectorised(
    p0: np.ndarray, num_samples: int, num_generations: int, num_replicates: int, seed: int
) -> np.ndarray:
    """The baseline: one multinomial call over all replicates per generation."""
    rng = np.random.default_rng(seed)
    p = np.tile(p0, (num_replicates, 1))
    for _ in range(num_generations):
        p = rng.multinomial(num_samples, p) / num_samples
    return p


def ours(p0, num_samples, num_generations, num_replicates, seed, threads=None):
    run = ct.categorical.simulate(
        p0,
        num_samples,
        num_generations,
        num_replicates=num_replicates,
        record="last",
        seed=seed,
        num_threads=threads,
    )
    return run["p"][0]


def compile_seconds() -> float:
    """Wall time of the first call in a fresh interpreter with an empty numba cache."""
    code = (
        "import time; t=time.perf_counter(); import collapse_theory as ct; "
        "ct.categorical.simulate([0.5, 0.5], 10, 2, num_replicates=2, seed=0); "
        "print(time.perf_counter()-t)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--jax-generations", type=int, default=50)
    parser.add_argument("--no-jax", action="store_true", help="skip the jax backend row")
    args = parser.parse_args()

    p0 = zipf(1000, 1.1)
    n, r, m = args.generations, args.replicates, 10_000
    ours(p0, m, 2, 2, 0)  # compile outside the timings
    rows = []
    t_numpy, p_numpy = best_time(lambda: numpy_vectorised(p0, m, n, r, 1), repeats=1)
    t_one, p_one = best_time(lambda: ours(p0, m, n, r, 1, threads=1), repeats=3)
    t_all, _ = best_time(lambda: ours(p0, m, n, r, 1), repeats=3)
    chain_generations = n * r
    for label, seconds in [
        ("numpy Generator.multinomial (vectorised)", t_numpy),
        ("collapse_theory numba, 1 thread", t_one),
        ("collapse_theory numba, all threads", t_all),
    ]:
        rows.append(
            {
                "workload": "P3",
                "implementation": label,
                "seconds": seconds,
                "chain-generations/s": chain_generations / seconds,
                "ratio vs numpy": t_numpy / seconds,
            }
        )
    if not args.no_jax:
        from collapse_theory.backends import jax_devices

        n_jax = args.jax_generations

        def jax_run(seed: int) -> np.ndarray:
            run = ct.categorical.simulate(
                p0, m, n_jax, num_replicates=r, record="last", seed=seed, backend="jax"
            )
            return run["p"][0]

        first, _ = best_time(lambda: jax_run(1), 1)
        t_jax, _ = best_time(lambda: jax_run(2), 1)
        rows.append(
            {
                "workload": f"P3 (n={n_jax} timed)",
                "implementation": f"collapse_theory jax on {','.join(jax_devices())} "
                f"(compile {first - t_jax:.1f} s)",
                "seconds": t_jax * n / n_jax,
                "chain-generations/s": n_jax * r / t_jax,
                "ratio vs numpy": t_numpy / (t_jax * n / n_jax),
            }
        )
    survivors = {
        "numpy": float((p_numpy > 0).sum(1).mean()),
        "ours": float((p_one > 0).sum(1).mean()),
    }

    scaling = []
    cases = [(m_scale, 1000, 256, 1) for m_scale in (10**2, 10**4, 10**6, 10**9)]
    cases += [(m, k, 256, 1) for k in (10, 100, 10_000)]
    cases += [(m, 1000, reps, None) for reps in (256, 1024, 4096)]
    for m_case, k, reps, threads in cases:
        seconds, _ = best_time(
            lambda m_case=m_case, k=k, reps=reps, threads=threads: ours(
                zipf(k, 1.1), m_case, 200, reps, 2, threads=threads
            ),
            2,
        )
        scaling.append(
            {
                "M": m_case,
                "K": k,
                "R": reps,
                "n": 200,
                "threads": threads or "all",
                "seconds": seconds,
            }
        )

    start = time.perf_counter()
    compile_time = compile_seconds()
    print(f"compile probe took {time.perf_counter() - start:.1f}s")
    path = write_report(
        "categorical_simulate",
        f"P3: categorical simulation, K=1000 Zipf(1.1), M=10^4, R={r}, n={n}",
        rows,
        {
            "mean surviving states at n": survivors,
            "load average (1, 5, 15 min) at the end": os.getloadavg(),
            "scaling": scaling,
            "first call with empty numba cache (s)": compile_time,
        },
    )
    for row in rows:
        print(row)
    for row in scaling:
        print(row)
    print("surviving states", survivors, "compile", compile_time)
    print("wrote", path)


if __name__ == "__main__":
    main()
