"""P1 and P2 of design.md: the 1-D Gaussian simulator.

P1 (sufficient statistics, R=10^5, n=1000, M=100, chain-generations/s) against
  - the paper-style per-chain loop: draw M samples with numpy, fit, repeat (timed on a subset of
    chains; its cost per chain is constant, so the rate is what a full run would achieve);
  - the best vectorised numpy: one normal and one chi-square per replicate and generation.
P2 (explicit samples, R=1000, n=1000, M=100, samples/s) against the limit: numpy's
  ``standard_normal`` fill rate (into a preallocated buffer) times the cores available.

The jax backend runs P1 and P2 in the same run (``--no-jax`` skips it), timed after a first call
at the same shapes (compile time reported separately), on the device jax finds.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.bench_gaussian_simulate
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from benchmarks.common import best_time, write_report
from collapse_theory.gaussian.simulate import simulate


def per_chain_loop(
    num_chains: int, num_samples: int, num_generations: int, seed: int
) -> np.ndarray:
    """The paper's procedure, one chain at a time."""
    rng = np.random.default_rng(seed)
    out = np.empty(num_chains)
    for c in range(num_chains):
        mean, sd = 0.0, 1.0
        for _ in range(num_generations):
            data = rng.normal(mean, sd, num_samples)
            mean, sd = data.mean(), data.std(ddof=1)
        out[c] = sd**2
    return out


def vectorised_numpy(num_replicates: int, num_samples: int, num_generations: int, seed: int):
    """Sufficient statistics for all replicates at once (docs/theory.md §2.1)."""
    rng = np.random.default_rng(seed)
    mean = np.zeros(num_replicates)
    var = np.ones(num_replicates)
    k = num_samples - 1
    for _ in range(num_generations):
        mean += np.sqrt(var / num_samples) * rng.standard_normal(num_replicates)
        var *= rng.chisquare(k, num_replicates) / k
    return var


def jax_rows(m: int, n: int, r1: int, r2: int, numba_p1: float, numba_p2: float):
    """P1 and P2 on the jax backend; the first call of each shape is timed as its compile."""
    from collapse_theory.backends import JAX_BLOCKS_PER_CALL, jax_devices
    from collapse_theory.rng import BLOCK_SIZE

    device = ",".join(jax_devices())
    width = min(r1, JAX_BLOCKS_PER_CALL * BLOCK_SIZE)  # one device call: compiles P1's shape
    first_p1, _ = best_time(
        lambda: simulate(
            0.0, 1.0, m, n, num_replicates=width, seed=0, record="last", backend="jax"
        ),
        1,
    )
    t_p1, _ = best_time(
        lambda: simulate(0.0, 1.0, m, n, num_replicates=r1, seed=0, record="last", backend="jax"),
        2,
    )
    first_p2, _ = best_time(
        lambda: simulate(
            0.0,
            1.0,
            m,
            n,
            num_replicates=r2,
            seed=0,
            record="last",
            method="samples",
            backend="jax",
        ),
        1,
    )
    t_p2, _ = best_time(
        lambda: simulate(
            0.0,
            1.0,
            m,
            n,
            num_replicates=r2,
            seed=1,
            record="last",
            method="samples",
            backend="jax",
        ),
        2,
    )
    p1_rate, p2_rate = r1 * n / t_p1, r2 * n * m / t_p2
    rows = (
        {
            "workload": "P1",
            "implementation": f"collapse_theory jax on {device}",
            "rate": p1_rate,
            "unit": "chain-generations/s",
            "ours / this": numba_p1 / p1_rate,
        },
        {
            "workload": "P2",
            "implementation": f"collapse_theory jax samples on {device}",
            "rate": p2_rate,
            "unit": "samples/s",
            "ours / this": numba_p2 / p2_rate,
        },
    )
    compile_s = {"P1 first call (s)": first_p1 - t_p1 * width / r1, "P2 first call (s)": first_p2}
    return rows[0], rows[1], {"device": device, "compile": compile_s, "ours": "numba, all threads"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop-chains", type=int, default=100)
    parser.add_argument("--no-jax", action="store_true", help="skip the jax backend rows")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    m, n = 100, 1000
    simulate(0.0, 1.0, m, 2, num_replicates=2, seed=0)
    simulate(0.0, 1.0, m, 2, num_replicates=2, seed=0, method="samples")

    r1 = 100_000
    t_loop, _ = best_time(lambda: per_chain_loop(args.loop_chains, m, n, 0), repeats=1)
    loop_rate = args.loop_chains * n / t_loop
    t_vec, _ = best_time(lambda: vectorised_numpy(r1, m, n, 0), repeats=3)
    t_one, _ = best_time(
        lambda: simulate(0.0, 1.0, m, n, num_replicates=r1, seed=0, record="last", num_threads=1),
        repeats=2,
    )
    t_all, _ = best_time(
        lambda: simulate(0.0, 1.0, m, n, num_replicates=r1, seed=0, record="last"), repeats=2
    )
    ours_rate = r1 * n / t_all
    rows = [
        {
            "workload": "P1",
            "implementation": f"per-chain loop (numpy, {args.loop_chains} chains timed)",
            "rate": loop_rate,
            "unit": "chain-generations/s",
            "ours / this": ours_rate / loop_rate,
        },
        {
            "workload": "P1",
            "implementation": "vectorised numpy (sufficient statistics)",
            "rate": r1 * n / t_vec,
            "unit": "chain-generations/s",
            "ours / this": t_vec / t_all,
        },
        {
            "workload": "P1",
            "implementation": "collapse_theory numba, 1 thread",
            "rate": r1 * n / t_one,
            "unit": "chain-generations/s",
            "ours / this": t_one / t_all,
        },
        {
            "workload": "P1",
            "implementation": f"collapse_theory numba, {cores} threads",
            "rate": ours_rate,
            "unit": "chain-generations/s",
            "ours / this": 1.0,
        },
    ]

    r2 = 1000
    fill = np.empty(10**6)  # a preallocated, cache-sized buffer: the generator's own rate
    rng = np.random.default_rng(0)
    t_fill, _ = best_time(lambda: [rng.standard_normal(out=fill) for _ in range(10)], repeats=3)
    fill_rate = 10 * fill.size / t_fill
    limit = fill_rate * cores
    t_samples, _ = best_time(
        lambda: simulate(
            0.0, 1.0, m, n, num_replicates=r2, seed=0, record="last", method="samples"
        ),
        repeats=2,
    )
    samples_rate = r2 * n * m / t_samples
    rows += [
        {
            "workload": "P2",
            "implementation": f"limit: numpy standard_normal fill x {cores} cores",
            "rate": limit,
            "unit": "samples/s",
            "ours / this": samples_rate / limit,
        },
        {
            "workload": "P2",
            "implementation": f"collapse_theory numba samples, {cores} threads",
            "rate": samples_rate,
            "unit": "samples/s",
            "ours / this": 1.0,
        },
    ]
    extra: dict = {"cores": cores, "load average (1, 5, 15 min) at the end": os.getloadavg()}
    if not args.no_jax:
        jax_p1, jax_p2, extra["jax"] = jax_rows(m, n, r1, r2, ours_rate, samples_rate)
        rows.insert(4, jax_p1)
        rows.append(jax_p2)
    path = write_report(
        "gaussian_simulate",
        "P1/P2: 1-D Gaussian simulation (M=100, n=1000)",
        rows,
        extra,
    )
    for row in rows:
        print(row)
    print("wrote", path)


if __name__ == "__main__":
    main()
