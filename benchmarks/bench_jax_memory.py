"""Peak memory of the jax backend on the CPU: the mixture under Accumulate, before and after the
memory-bounded chunks of ``collapse_theory._chunks``, and P1 at R = 10^7.

Each configuration runs in a fresh subprocess that reports its peak resident set
(``getrusage(RUSAGE_SELF).ru_maxrss``) after the imports and after the run, so one run's buffers do
not hide another's. Configurations:

- mixture, K=2, d=2, M=1000, n=10, Accumulate, R=128, warm start: "one call" (a budget that holds
  all 128 chains, which is what every call did before the chunks: up to 64 blocks of 256 chains
  per call), the default budget (``DEFAULT_JAX_MEMORY_GIB``) and a small budget of 0.1 GiB;
- P1 (1-D Gaussian, sufficient statistics, M=100) at R = 10^7 chains, n=4 generations,
  ``record="last"`` (memory does not grow with n: the kernels carry only the recorded
  generations; 4 keeps the CPU run short), at the default budget and at 0.01 GiB.

It also checks the per-replicate estimates the mixture and Gaussian simulators size their chunks
with (``gmm._jax.bytes_per_replicate``, ``gaussian._jax.bytes_per_replicate``) against XLA's own
buffer assignment
(``compiled.memory_analysis().temp_size_in_bytes``, difference between widths 4 and 1) for a few
(K, d).

Run from the repository root::

    python -m benchmarks.bench_jax_memory       # writes benchmarks/results/jax_memory.{json,md}
    python -m benchmarks.bench_jax_memory --only "P1, R = 10^7"   # rerun some, keep the others
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: find `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, environment

MIX_R, MIX_M, MIX_N = 128, 1000, 10
P1_R, P1_N = 10**7, 4

CONFIGS: dict[str, dict[str, Any]] = {
    "mixture Accumulate, one call (before)": {"kind": "mixture", "jax_memory_gib": 64.0},
    "mixture Accumulate, default budget": {"kind": "mixture", "jax_memory_gib": None},
    "mixture Accumulate, budget 0.1 GiB": {"kind": "mixture", "jax_memory_gib": 0.1},
    "P1, R = 10^7": {"kind": "p1", "jax_memory_gib": None},
    "P1, R = 10^7, budget 0.01 GiB": {"kind": "p1", "jax_memory_gib": 0.01},
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(config: dict[str, Any]) -> dict[str, Any]:
    """Run one configuration in this (fresh) process; peak RSS after imports and after the run."""
    import numpy as np

    import collapse_theory as ct
    from collapse_theory import _chunks
    from collapse_theory.gmm import _jax as gmm_jax
    from collapse_theory.regimes import ACCUMULATE

    after_import = peak_rss_mib()
    start = time.perf_counter()
    info: dict[str, Any] = {}
    if config["kind"] == "mixture":
        mixture = ct.gmm.Mixture([0.5, 0.5], [[-1.5, 0.0], [1.5, 0.0]], [np.eye(2), np.eye(2)])
        run = ct.gmm.simulate(
            mixture, MIX_M, MIX_N, num_replicates=MIX_R, regime=ct.Accumulate(), seed=0,
            record="last", backend="jax", jax_memory_gib=config["jax_memory_gib"],
        )  # fmt: skip
        per_replicate = gmm_jax.bytes_per_replicate(np.full(MIX_N, MIX_M), ACCUMULATE, 2, 2)
        budget = _chunks.memory_budget("jax_memory_gib", config["jax_memory_gib"])
        width = _chunks.replicates_per_call("b", budget, per_replicate, MIX_R, most=64 * 256)
        info = {
            "replicates_per_call": width,
            "estimated_buffers_mib": width * per_replicate / 2**20,
            "mean_log_det": float(np.log(np.linalg.det(run["covs"][-1])).mean()),
        }
    else:
        from collapse_theory.gaussian import _jax as gaussian_jax

        run = ct.gaussian.simulate(
            0.0, 1.0, 100, P1_N, num_replicates=P1_R, record="last", seed=0, backend="jax",
            jax_memory_gib=config["jax_memory_gib"],
        )  # fmt: skip
        per_replicate = gaussian_jax.bytes_per_replicate(1, 1, gaussian_jax.SUFFICIENT)
        budget = _chunks.memory_budget("jax_memory_gib", config["jax_memory_gib"])
        width = _chunks.replicates_per_call("b", budget, per_replicate, P1_R, most=64 * 256)
        info = {
            "replicates_per_call": width,
            "estimated_buffers_mib": width * per_replicate / 2**20,
            "result_mib": 2 * run["var"].nbytes / 2**20,
            "mean_var_last": float(run["var"][-1].mean()),
        }
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    return {
        "peak_rss_mib": peak,
        "after_import_rss_mib": after_import,
        "run_peak_minus_import_mib": peak - after_import,
        "seconds": seconds,
        **info,
    }


def run_child(config: dict[str, Any]) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.bench_jax_memory", "--child", json.dumps(config)]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=root)
    return json.loads(done.stdout.strip().splitlines()[-1])


def estimate_against_xla() -> list[dict[str, Any]]:
    """``bytes_per_replicate`` against XLA's temp buffers per replicate (compile only)."""
    import jax
    import numpy as np

    from collapse_theory._chunks import blocks_per_chunk
    from collapse_theory.gmm import _jax as gmm_jax
    from collapse_theory.regimes import ACCUMULATE, REPLACE

    rows = []
    n, m = 10, 1000
    sizes = np.full(n, m)
    for k, d in ((2, 1), (2, 2), (3, 3)):
        weights, means = np.full(k, 1.0 / k), 3.0 * np.arange(k * d).reshape(k, d)
        covs = np.broadcast_to(np.eye(d), (k, d, d)).copy()
        for regime in (ACCUMULATE, REPLACE):
            batch_rows, pool_rows = gmm_jax.buffer_rows(sizes, regime)
            temp = {}
            for width in (1, 4):
                with jax.enable_x64(True):
                    args = (
                        weights, means, covs, sizes.astype(float), np.zeros(n),
                        np.array([0] + [-1] * (n - 1) + [1], np.int32), 0.0, 1e-5,
                        np.int32(100), 0.0,
                    )  # fmt: skip
                    lowered = gmm_jax._batch_jit.lower(
                        np.zeros((blocks_per_chunk(width), 2), np.uint32),
                        np.int32(0), width, *[np.asarray(a) for a in args],
                        regime=regime, init=gmm_jax.WARM, diagonal=False, num_slots=2,
                        batch_rows=batch_rows, pool_rows=pool_rows, dtype="float64",
                    )  # fmt: skip
                    temp[width] = lowered.compile().memory_analysis().temp_size_in_bytes
            measured = (temp[4] - temp[1]) / 3
            estimate = gmm_jax.bytes_per_replicate(sizes, regime, k, d)
            rows.append(
                {
                    "K": k,
                    "d": d,
                    "regime": "Accumulate" if regime == ACCUMULATE else "Replace",
                    "xla_bytes_per_replicate": measured,
                    "estimate_bytes_per_replicate": estimate,
                    "estimate / xla": estimate / measured,
                }
            )
    return rows + gaussian_estimate_against_xla()


def gaussian_estimate_against_xla() -> list[dict[str, Any]]:
    """``gaussian._jax.bytes_per_replicate`` against XLA's temp buffers per replicate."""
    import jax
    import numpy as np

    from collapse_theory._chunks import blocks_per_chunk
    from collapse_theory.gaussian import _jax as gaussian_jax
    from collapse_theory.regimes import ACCUMULATE, REPLACE

    rows = []
    n, m, num_slots = 10, 100, 2
    for d, method, regime in (
        (1, gaussian_jax.SUFFICIENT, REPLACE),
        (1, gaussian_jax.SAMPLES, ACCUMULATE),
        (3, gaussian_jax.SAMPLES, REPLACE),
    ):
        mean0 = np.zeros(()) if d == 1 else np.zeros(d)
        cov0 = np.ones(()) if d == 1 else np.eye(d)
        temp = {}
        for width in (1, 4):
            with jax.enable_x64(True):
                lowered = gaussian_jax._batch_jit.lower(
                    np.zeros((blocks_per_chunk(width), 2), np.uint32), np.int32(0), width,
                    np.zeros((width, *mean0.shape)), np.zeros((width, *cov0.shape)), mean0, cov0,
                    np.full(n, float(m)), np.zeros(n), np.array([0] + [-1] * (n - 1) + [1], np.int32),
                    np.float64(0.0), np.float64(1.0), regime=regime, method=method,
                    first_generation=0, num_slots=num_slots, dtype="float64",
                    policy=(1.0, float("inf")),
                )  # fmt: skip
                temp[width] = lowered.compile().memory_analysis().temp_size_in_bytes
        measured = max((temp[4] - temp[1]) / 3, 1.0)
        estimate = gaussian_jax.bytes_per_replicate(num_slots, d, method)
        rows.append(
            {
                "K": "Gaussian",
                "d": d,
                "regime": ("sufficient" if method == gaussian_jax.SUFFICIENT else "samples")
                + (", Accumulate" if regime == ACCUMULATE else ", Replace"),
                "xla_bytes_per_replicate": measured,
                "estimate_bytes_per_replicate": estimate,
                "estimate / xla": estimate / measured,
            }
        )
    return rows


def write(out: Path, results: dict[str, Any], estimates: list[dict[str, Any]]) -> None:
    from collapse_theory._json import write_json

    payload = {"results": results, "estimates": estimates, "environment": environment()}
    write_json(out / "jax_memory.json", payload)
    lines = [
        "# Peak memory of the jax backend on the CPU (benchmarks/bench_jax_memory.py)",
        "",
        f"Mixture: K=2, d=2, M={MIX_M}, n={MIX_N}, Accumulate, R={MIX_R}, warm start. "
        f"P1: M=100, n={P1_N}, R={P1_R}, record='last'. One fresh process each; peak RSS from "
        "getrusage.",
        "",
        "| configuration | replicates per call | estimated buffers (MiB) | peak RSS (MiB) | "
        "peak - after imports (MiB) | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        estimated = row.get("estimated_buffers_mib")
        estimated = "-" if estimated is None else f"{estimated:.0f}"
        lines.append(
            f"| {name} | {row['replicates_per_call']} | {estimated} | {row['peak_rss_mib']:.0f} | "
            f"{row['run_peak_minus_import_mib']:.0f} | {row['seconds']:.1f} |"
        )
    lines += [
        "",
        "The per-replicate estimates the simulators size their chunks with "
        "(`gmm._jax.bytes_per_replicate`, M=1000, n=10; `gaussian._jax.bytes_per_replicate`, "
        "M=100, n=10, two recorded generations) against XLA's buffer assignment "
        "(temp bytes per replicate, widths 4 vs 1):",
        "",
        "| K | d | regime | XLA bytes/replicate | estimate | estimate / XLA |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['K']} | {r['d']} | {r['regime']} | {r['xla_bytes_per_replicate']:.4g} | "
            f"{r['estimate_bytes_per_replicate']:.4g} | {r['estimate / xla']:.2f} |"
            for r in estimates
        ),
        "",
        "Environment: " + json.dumps(payload["environment"]),
        f"load average at the end: {os.getloadavg()}",
    ]
    (out / "jax_memory.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--only", help="semicolon-separated configuration names (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    from collapse_theory._validate import output_directory

    out = output_directory("--out", args.out)
    names = [n for n in CONFIGS if args.only is None or n in args.only.split(";")]
    results: dict[str, Any] = {}
    previous = out / "jax_memory.json"
    if args.only and previous.exists():  # keep the configurations not rerun
        results = {
            name: row
            for name, row in json.loads(previous.read_text())["results"].items()
            if name in CONFIGS and name not in names
        }
    for name in names:
        results[name] = run_child(CONFIGS[name])
        print(name, results[name], flush=True)
    estimates = estimate_against_xla()
    write(out, results, estimates)
    print((out / "jax_memory.md").read_text())


if __name__ == "__main__":
    main()
