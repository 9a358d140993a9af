"""The CPU RNG limit: P1 and P2 against the fill rate of the variates their kernels draw.

Measured in one run, on the threads the simulators use (2 by default, one PCG64 ``Generator`` per
thread, as ``collapse_theory.rng.block_generators`` gives each replicate block), with numba
kernels that call the same samplers as the simulators (``Generator.standard_normal`` and
``standard_exponential`` through numba, ``collapse_theory._samplers.gamma_from_constants`` and
``binomial``) and store each draw in a cache-resident buffer:

- fill rates: normal, exponential, Gamma(49.5) (the chi-square of P1: M - 1 = 99 degrees of
  freedom), and the Binomial draws of the categorical kernel (P3) on both of its paths;
- the P1 limit: one normal and one Gamma(49.5) per chain-generation, nothing else;
- the P2 limit: one normal per sample;
- P1 and P2 through the public simulator (``ct.gaussian.simulate``, R = 10^5 and 10^3, n = 1000,
  M = 100, ``record="last"``) and as fractions of their limits;
- where P1's time goes beyond the RNG: a copy of P1's hot loop (``_replace_sufficient_1d``) run
  per block of 256 chains as the simulator does (the arithmetic and memory traffic), the same loop
  over 4096-chain blocks, and the simulator at n = 1 (its fixed costs per call).

Run from the repository root on a quiet machine::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.bench_rng_limit

(numpy's own ``standard_normal`` fill is reported too, as design.md's P2 limit names it;
OPENBLAS_* do not touch the RNG, but are unset as for every numpy baseline.) Writes
``benchmarks/results/rng_limit.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: find `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from numba import njit

import collapse_theory as ct
from benchmarks.common import RESULTS, environment
from collapse_theory._json import write_json
from collapse_theory._samplers import (
    binomial,
    gamma_constants,
    gamma_from_constants,
    standard_gamma,
)
from collapse_theory._validate import output_directory
from collapse_theory.rng import BLOCK_SIZE, block_generators

#: The written analysis of the profile (from the committed run; see the tables above it).
ANALYSIS = """
## Analysis (of the committed run)

**After issue 21's kernel changes P1 is at 0.89 of its RNG limit (before: 0.76) and P2 at 0.87
(before: 0.69)**, rates per CPU-second (the shared 2-core machine had a load average of 2-3
from other jobs, which moves wall-clock rates by up to 3x between rounds: the wall-clock rates
quoted above are those of a loaded machine, the CPU-time rates are what the run takes with a
core per thread). The limit of P1 is what its variates alone cost: one ziggurat normal (the
mean) and one Marsaglia-Tsang Gamma(49.5) (one normal, one exponential, a squeeze test, rarely
a logarithm) per chain-generation, 1.5e8 per second on 2 threads; the limit of P2 is one normal
per sample. The two changes (numbers bit-identical for P1; rounding-level for P2, see below):

- **P1, `_replace_sufficient_1d`**: the branch between the two inlined Gamma samplers
  (`shape >= 1`: Marsaglia-Tsang from per-generation constants; `M <= 2`: `standard_gamma`)
  is decided once per generation, and each of two chain loops inlines one sampler. The copy of
  the hot loop with the old per-chain branch (0.77 of the limit, the row "with the kernel's
  per-chain gamma branch") against the copy without it (0.91) measured what the branch cost;
  the simulator now runs at the branch-free copy's rate (0.89: the remaining ~10 % is the loop's
  own arithmetic and memory, and about 2 % the simulator around the kernel: its fixed costs at
  n = 1 and the thread pool). Same draws in the same order: the layout fixture is unchanged.
- **P2, `_batch_1d`**: one pass over the standard normals z_i accumulating sum z_i and
  sum z_i^2, the summary then `mean + sd zbar` and `sd^2 (sum z_i^2 - n zbar^2)`, instead of
  storing the points and summing their squared deviations in a second pass. The second pass
  was a serial chain of dependent additions (numba does not reassociate floating point), 31 %
  of P2's time; the two running sums of the single pass overlap with the normal generator. A
  sum of squares is only inaccurate when the mean is large against the spread; the z_i are
  centred by construction (n zbar^2 / sum z_i^2 is about 1/n), so the difference loses about
  one bit. The numbers change at rounding level only (relative 1.6e-15 on the layout fixture's
  `gauss_1d_mle_samples_fresh`). Welford's update was not chosen (not measured): it puts a
  division per point on the dependent chain, and on centred z_i it is no more accurate.

Not worth doing: larger blocks, other chunking of blocks to threads, a different record layout
(each below 2 %: blocks of 256 or 4096 chains run at the same rate, `chunk_size = blocks /
threads` changes nothing).

The Binomial rates are those of `collapse_theory._samplers.binomial` (the categorical kernel's
conditional binomials): 4.8e7/s on the BTRS path (mean >= 10) and 3.6e7/s on the inversion path
(here mean 5), per 2 threads.
"""

M, GENERATIONS = 100, 1000
P1_REPLICATES, P2_REPLICATES = 100_000, 1000
BUFFER = 1 << 14  # doubles per thread: stays in L1/L2, so the rate is the RNG's, not memory's


# ---------------------------------------------------------------------------------------------
# Fill kernels: ``repeats`` passes over ``out``, every draw stored (so none is optimised away)


@njit(nogil=True, cache=True)
def fill_normal(rng, out, repeats):
    for _ in range(repeats):
        for i in range(out.size):
            out[i] = rng.standard_normal()


@njit(nogil=True, cache=True)
def fill_exponential(rng, out, repeats):
    for _ in range(repeats):
        for i in range(out.size):
            out[i] = rng.standard_exponential()


@njit(nogil=True, cache=True)
def fill_gamma(rng, out, repeats, shape):
    d, c = gamma_constants(shape)
    for _ in range(repeats):
        for i in range(out.size):
            out[i] = gamma_from_constants(rng, d, c)


@njit(nogil=True, cache=True)
def fill_binomial(rng, out, repeats, n, p):
    for _ in range(repeats):
        for i in range(out.size):
            out[i] = binomial(rng, n, p)


@njit(nogil=True, cache=True)
def fill_p1_variates(rng, out, repeats, shape):
    """P1's draws per chain-generation: the mean's normal and the variance's Gamma(shape)."""
    d, c = gamma_constants(shape)
    for _ in range(repeats):
        for i in range(out.size):
            out[i] = rng.standard_normal() + gamma_from_constants(rng, d, c)


@njit(nogil=True, cache=True)
def p1_hot_loop(rng, num_generations, size, means, variances, out_mean, out_var):
    """A copy of ``gaussian._numba._replace_sufficient_1d`` (Replace, unbiased, no policy, only
    the last generation recorded): one block's chains, generation by generation."""
    ddof = 1
    for g in range(num_generations):
        mean_scale = 1.0 / math.sqrt(size)
        var_scale = 2.0 / (size - ddof)
        shape = 0.5 * (size - 1)
        d, c = gamma_constants(shape)
        slot = 0 if g == num_generations - 1 else -1
        for r in range(means.size):
            means[r] += math.sqrt(variances[r]) * mean_scale * rng.standard_normal()
            draw = gamma_from_constants(rng, d, c)
            variances[r] *= draw * var_scale
            if slot >= 0:
                out_mean[slot, r] = means[r]
                out_var[slot, r] = variances[r]


@njit(nogil=True, cache=True)
def p1_hot_loop_branched(rng, num_generations, size, means, variances, out_mean, out_var):
    """:func:`p1_hot_loop` with the per-chain branch the real kernel had before issue 21 between
    the two inlined gamma samplers (``shape >= 1``: Marsaglia–Tsang from constants, else
    ``standard_gamma``) and its temperature factor: what the branch cost."""
    ddof = 1
    policy_scale = 1.0
    for g in range(num_generations):
        scale = policy_scale if g > 0 else 1.0
        mean_scale = scale / math.sqrt(size)
        var_scale = scale * scale * 2.0 / (size - ddof)
        shape = 0.5 * (size - 1)
        d, c = gamma_constants(max(shape, 1.0))
        slot = 0 if g == num_generations - 1 else -1
        for r in range(means.size):
            means[r] += math.sqrt(variances[r]) * mean_scale * rng.standard_normal()
            if shape >= 1.0:
                draw = gamma_from_constants(rng, d, c)
            else:
                draw = standard_gamma(rng, shape)
            variances[r] *= draw * var_scale
            if slot >= 0:
                out_mean[slot, r] = means[r]
                out_var[slot, r] = variances[r]


# ---------------------------------------------------------------------------------------------
# Timing on threads


#: A timed piece of work: a callable and the units (draws, chain-generations, samples) it makes.
Task = tuple[Callable[[], None], float]
#: Interleaved rounds: every task runs once per round and keeps its best time, so a load change
#: on the shared machine hits all of them alike rather than one.
ROUNDS = 7


def on_threads(
    work: Callable[[np.random.Generator, int], None], threads: int
) -> Callable[[], None]:
    """A callable running ``work(generator, thread)`` on ``threads`` threads at once, with fresh
    PCG64 generators every call."""
    calls = iter(range(10**9))

    def run() -> None:
        generators = block_generators(next(calls), threads * BLOCK_SIZE)  # one per thread
        assert len(generators) == threads
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(work, generators, range(threads)))

    return run


def fill_task(kernel: Callable[..., None], threads: int, repeats: int, *args: Any) -> Task:
    """``kernel`` filling its own cache-resident buffer on each thread."""
    buffers = [np.empty(BUFFER) for _ in range(threads)]
    kernel(np.random.default_rng(0), buffers[0], 1, *args)  # compile
    run = on_threads(lambda rng, t: kernel(rng, buffers[t], repeats, *args), threads)
    return run, threads * repeats * BUFFER


def fill_rate(kernel: Callable[..., None], threads: int, repeats: int, *args: Any) -> float:
    """Draws per second of :func:`fill_task` (best of 3)."""
    return rates({"x": fill_task(kernel, threads, repeats, *args)}, rounds=3)["x"]


def hot_loop_task(
    threads: int, block: int, num_chains: int, loop: Callable[..., None] = p1_hot_loop
) -> Task:
    """``loop`` (:func:`p1_hot_loop`) over blocks of ``block`` chains, ``num_chains`` split evenly
    over the threads (chain-generations)."""
    per_thread = num_chains // threads
    out = [(np.empty((1, block)), np.empty((1, block))) for _ in range(threads)]
    loop(np.random.default_rng(0), 2, M, np.zeros(block), np.ones(block), *out[0])

    def work(rng: np.random.Generator, t: int) -> None:
        for _ in range(per_thread // block):
            means, variances = np.zeros(block), np.ones(block)
            loop(rng, GENERATIONS, M, means, variances, *out[t])

    return on_threads(work, threads), threads * (per_thread // block) * block * GENERATIONS


def simulator_task(
    method: str, num_replicates: int, threads: int, generations: int, chunk_size: int = 1
) -> Task:
    """``ct.gaussian.simulate``: chain-generations (sufficient) or samples."""

    def run() -> None:
        ct.gaussian.simulate(
            0.0, 1.0, M, generations, num_replicates=num_replicates, record="last",
            method=method, seed=1, num_threads=threads, backend="numba", chunk_size=chunk_size,
        )  # fmt: skip

    run()
    return run, num_replicates * generations * (M if method == "samples" else 1)


def numpy_normal_task(threads: int) -> Task:
    """numpy's ``Generator.standard_normal(out=...)`` fill (releases the GIL)."""
    buffers = [np.empty(1 << 20) for _ in range(threads)]
    repeats = 10

    def work(rng: np.random.Generator, t: int) -> None:
        for _ in range(repeats):
            rng.standard_normal(out=buffers[t])

    return on_threads(work, threads), threads * repeats * buffers[0].size


def rates(
    tasks: dict[str, Task], rounds: int = ROUNDS, threads: int | None = None
) -> dict[str, float]:
    """Units per second of every task, best over ``rounds`` interleaved rounds: of wall time, or
    with ``threads``, of the process's CPU time divided by ``threads`` (the wall time the run
    would take with all its threads on cores of their own: what a quiet machine gives, and not
    hit by other jobs taking a core)."""
    best = dict.fromkeys(tasks, math.inf)
    for _ in range(rounds):
        for name, (run, _) in tasks.items():
            start, cpu = time.perf_counter(), time.process_time()
            run()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            best[name] = min(best[name], wall if threads is None else cpu / threads)
    return {name: units / best[name] for name, (_, units) in tasks.items()}


# ---------------------------------------------------------------------------------------------


def measure(threads: int, scale: float) -> dict[str, Any]:
    repeats = max(1, int(200 * scale))
    shape = 0.5 * (M - 1)
    r1 = max(threads * 256, int(P1_REPLICATES * scale) // (threads * 256) * threads * 256)
    r2 = max(threads * 256, int(P2_REPLICATES * scale))
    variates = {
        "normal": fill_task(fill_normal, threads, repeats),
        "exponential": fill_task(fill_exponential, threads, repeats),
        f"gamma({shape})": fill_task(fill_gamma, threads, repeats, shape),
        "binomial(10^4, 0.1) BTRS": fill_task(fill_binomial, threads, repeats, 10_000, 0.1),
        "binomial(10^4, 5e-4) inversion": fill_task(fill_binomial, threads, repeats, 10_000, 5e-4),
        "P1 variates (normal + gamma)": fill_task(fill_p1_variates, threads, repeats, shape),
        "numpy standard_normal fill": numpy_normal_task(threads),
    }
    workloads = {
        "P1": simulator_task("sufficient", r1, threads, GENERATIONS),
        "P2": simulator_task("samples", r2, threads, GENERATIONS),
        "P1 hot loop, blocks of 256": hot_loop_task(threads, 256, r1),
        "P1 hot loop, blocks of 4096": hot_loop_task(threads, 4096, max(r1, threads * 4096)),
        "P1 hot loop with the kernel's branch": hot_loop_task(
            threads, 256, r1, p1_hot_loop_branched
        ),
        "P1 at n = 1": simulator_task("sufficient", r1, threads, 1),
        "P1, one chunk of blocks per thread": simulator_task(
            "sufficient", r1, threads, GENERATIONS, chunk_size=-(-r1 // (256 * threads))
        ),
    }
    measured = rates({**variates, **workloads}, threads=threads)
    wall = rates({"P1": workloads["P1"], "P2": workloads["P2"]}, rounds=3)
    limit_p1 = measured["P1 variates (normal + gamma)"]
    p1, p2 = measured["P1"], measured["P2"]
    n1_seconds = r1 / measured["P1 at n = 1"]
    return {
        "threads": threads,
        "rounds": ROUNDS,
        "fill_rates_per_s": {name: measured[name] for name in variates},
        "P1": {
            "replicates": r1,
            "chain_generations_per_s": p1,
            "limit_chain_generations_per_s": limit_p1,
            "fraction_of_limit": p1 / limit_p1,
            "wall_chain_generations_per_s": wall["P1"],
            "hot_loop_blocks_256_per_s": measured["P1 hot loop, blocks of 256"],
            "hot_loop_blocks_4096_per_s": measured["P1 hot loop, blocks of 4096"],
            "hot_loop_branched_per_s": measured["P1 hot loop with the kernel's branch"],
            "one_chunk_per_thread_per_s": measured["P1, one chunk of blocks per thread"],
            "simulator_seconds_at_n_1": n1_seconds,
            "simulator_fixed_share_at_n_1000": n1_seconds / (r1 * GENERATIONS / p1),
        },
        "P2": {
            "replicates": r2,
            "samples_per_s": p2,
            "limit_samples_per_s": measured["normal"],
            "fraction_of_limit": p2 / measured["normal"],
            "wall_samples_per_s": wall["P2"],
            "fraction_of_numpy_fill": p2 / measured["numpy standard_normal fill"],
        },
    }


#: What the "before" row of the results is: the run recorded before the kernel changes.
BEFORE_LABEL = (
    "before issue 21's kernel changes (P1: gamma branch per chain; P2: two passes per dataset)"
)


def summary(result: dict[str, Any], label: str) -> dict[str, Any]:
    """The P1 and P2 rates and fractions of a run, for the before/after table."""
    return {
        "label": label,
        "P1_chain_generations_per_s": result["P1"]["chain_generations_per_s"],
        "P1_fraction_of_limit": result["P1"]["fraction_of_limit"],
        "P2_samples_per_s": result["P2"]["samples_per_s"],
        "P2_fraction_of_limit": result["P2"]["fraction_of_limit"],
        "load_average": result.get("load_average"),
    }


def before_after_lines(result: dict[str, Any]) -> list[str]:
    """The before/after table (empty without a recorded "before" run)."""
    if "before" not in result:
        return []
    rows = [result["before"], summary(result, "after (this run)")]
    return [
        "Before and after (each against the limit measured in its own run):",
        "",
        "| run | P1 chain-generations/s | P1 fraction | P2 samples/s | P2 fraction | load average |",
        "|---|---|---|---|---|---|",
        *(
            f"| {row['label']} | {row['P1_chain_generations_per_s']:.4g} | "
            f"{row['P1_fraction_of_limit']:.3f} | {row['P2_samples_per_s']:.4g} | "
            f"{row['P2_fraction_of_limit']:.3f} | "
            f"{', '.join(f'{x:.2f}' for x in row['load_average'] or ())} |"
            for row in rows
        ),
        "",
    ]


def write_markdown(path: Path, result: dict[str, Any], analysis: str) -> None:
    rows = result["fill_rates_per_s"]
    p1, p2 = result["P1"], result["P2"]
    lines = [
        f"# The CPU RNG limit of P1 and P2 (numba, {result['threads']} threads)",
        "",
        f"Rates per CPU-second x {result['threads']} threads (the process's CPU time over the "
        "threads: what the run takes when every thread has a core, so other jobs on the shared "
        f"machine do not bias a row), best of {result['rounds']} interleaved rounds. Wall-clock "
        f"rates of P1 and P2 in this run: {result['P1']['wall_chain_generations_per_s']:.3g} "
        f"chain-generations/s and {result['P2']['wall_samples_per_s']:.3g} samples/s.",
        "",
        "Command: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m "
        "benchmarks.bench_rng_limit`",
        "",
        "| variate (numba kernel, stored into an L2-resident buffer) | draws/s |",
        "|---|---|",
        *(f"| {name} | {rate:.4g} |" for name, rate in rows.items()),
        "",
        "| workload | rate | limit | fraction of the limit |",
        "|---|---|---|---|",
        f"| P1 sufficient statistics, R={p1['replicates']}, n={GENERATIONS}, M={M} | "
        f"{p1['chain_generations_per_s']:.4g} chain-generations/s | "
        f"{p1['limit_chain_generations_per_s']:.4g} (normal + gamma) | "
        f"{p1['fraction_of_limit']:.3f} |",
        f"| P2 explicit samples, R={p2['replicates']}, n={GENERATIONS}, M={M} | "
        f"{p2['samples_per_s']:.4g} samples/s | {p2['limit_samples_per_s']:.4g} (normal) | "
        f"{p2['fraction_of_limit']:.3f} |",
        "",
        *before_after_lines(result),
        "Where P1's time goes:",
        "",
        "| P1 variant | chain-generations/s | fraction of the limit |",
        "|---|---|---|",
        f"| the variates only (the limit) | {p1['limit_chain_generations_per_s']:.4g} | 1 |",
        f"| copy of the hot loop, blocks of 256 chains | {p1['hot_loop_blocks_256_per_s']:.4g} | "
        f"{p1['hot_loop_blocks_256_per_s'] / p1['limit_chain_generations_per_s']:.3f} |",
        f"| copy of the hot loop, blocks of 4096 chains | "
        f"{p1['hot_loop_blocks_4096_per_s']:.4g} | "
        f"{p1['hot_loop_blocks_4096_per_s'] / p1['limit_chain_generations_per_s']:.3f} |",
        f"| the same with the kernel's per-chain gamma branch and temperature | "
        f"{p1['hot_loop_branched_per_s']:.4g} | "
        f"{p1['hot_loop_branched_per_s'] / p1['limit_chain_generations_per_s']:.3f} |",
        f"| ct.gaussian.simulate | {p1['chain_generations_per_s']:.4g} | "
        f"{p1['fraction_of_limit']:.3f} |",
        f"| ct.gaussian.simulate, chunk_size = blocks / threads | "
        f"{p1['one_chunk_per_thread_per_s']:.4g} | "
        f"{p1['one_chunk_per_thread_per_s'] / p1['limit_chain_generations_per_s']:.3f} |",
        "",
        f"ct.gaussian.simulate at n = 1 (same R) takes {p1['simulator_seconds_at_n_1']:.3g} s: "
        f"{100 * p1['simulator_fixed_share_at_n_1000']:.2g} % of the n = 1000 run.",
        "",
        analysis.strip(),
        "",
        "Environment: " + str(result["environment"]),
        f"load average at the end: {result['load_average']}",
    ]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="work multiplier (quick: 0.1)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--render", action="store_true", help="rewrite rng_limit.md from rng_limit.json, no timing"
    )
    args = parser.parse_args(argv)
    out = output_directory("--out", args.out)
    previous = out / "rng_limit.json"
    if args.render:
        result = json.loads(previous.read_text())
    else:
        before = None
        if previous.exists():  # keep the first recorded run as "before" (issue 21)
            recorded = json.loads(previous.read_text())
            before = recorded.get("before") or summary(recorded, BEFORE_LABEL)
        result = measure(args.threads, args.scale)
        result["environment"] = environment()
        result["load_average"] = os.getloadavg()
        if before is not None:
            result["before"] = before
    result["analysis"] = ANALYSIS
    write_json(out / "rng_limit.json", result)
    write_markdown(out / "rng_limit.md", result, ANALYSIS)
    print((out / "rng_limit.md").read_text())


if __name__ == "__main__":
    main()
