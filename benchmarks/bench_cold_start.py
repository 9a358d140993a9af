"""Issue 13: the wall time of the README's first command, ``collapse-theory verify --quick``,
with an empty numba cache (cold: every kernel compiled) and with a filled one (warm).

Each configuration runs the command in a subprocess, exactly as a user types it, with
``NUMBA_CACHE_DIR`` pointing at a fresh empty directory: once cold, then ``--warm`` times warm
with the cache the cold run filled. The configurations are the default (``--workers 2`` on a
machine with 2 or more CPUs: two processes; on an empty cache each runs the families it
started, so that a kernel is compiled twice only when nothing else is left to run) and, for
comparison, ``--workers 1`` (serial). Repeats interleave the configurations and the report
keeps every run (the minimum is what a quiet machine gives; the machine's load average before
each run is recorded with it). Also recorded per run: the CPU time of the child (user + sys),
whether the run printed the compile notice, and its summary line.

Targets (issue 13, a quiet 2-core machine): cold <= 45 s, warm <= 20 s.

Run from the repository root::

    python -m benchmarks.bench_cold_start [--repeats 2] [--warm 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import write_report
from collapse_theory.verify.runner import COMPILE_NOTICE

TARGETS = {"cold": 45.0, "warm": 20.0}
CONFIGURATIONS = {"default (--workers 2)": [], "serial (--workers 1)": ["--workers", "1"]}


def command() -> list[str]:
    """The README command: the ``collapse-theory`` script next to this Python if installed."""
    script = shutil.which("collapse-theory", path=str(Path(sys.executable).parent))
    script = script or shutil.which("collapse-theory")
    base = [script] if script else [sys.executable, "-m", "collapse_theory"]
    return [*base, "verify", "--quick"]


def commit() -> str:
    """The git commit of the working tree, with ``+dirty`` when it has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True)
        return head + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def timed_run(arguments: list[str], cache: Path) -> dict[str, Any]:
    """One run of the command with ``NUMBA_CACHE_DIR=cache``: wall and CPU seconds and what it
    printed."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([*command(), *arguments], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = done.stdout.strip().splitlines()
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "load_before": round(load, 2),
        "compile_notice": COMPILE_NOTICE in done.stderr,
        "exit": done.returncode,
        "summary": lines[-1] if lines else done.stderr.strip()[-200:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2, help="cold runs per configuration")
    parser.add_argument("--warm", type=int, default=2, help="warm runs after each cold run")
    args = parser.parse_args()
    rows = []
    for repeat in range(args.repeats):
        for name, arguments in CONFIGURATIONS.items():
            with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
                for run in ["cold"] + ["warm"] * args.warm:
                    row = {"configuration": name, "repeat": repeat, "run": run}
                    row.update(timed_run(arguments, Path(cache)))
                    rows.append(row)
                    print(row, flush=True)
    best = {
        f"{name}, {run}": min(
            r["wall_s"] for r in rows if r["configuration"] == name and r["run"] == run
        )
        for name in CONFIGURATIONS
        for run in ("cold", "warm")
    }
    path = write_report(
        "cold_start",
        "Cold start of `collapse-theory verify --quick` (issue 13)",
        rows,
        {
            "command": " ".join(command()),
            "commit": commit(),
            "targets_s": TARGETS,
            "best_wall_s": best,
            "note": "wall times are noisy on a shared machine: compare minima, and the load "
            "average recorded before each run; cpu_s is the child's user + sys time",
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
