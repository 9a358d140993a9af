"""Shared helpers for the benchmark scripts: timing, environment record, JSON + Markdown output."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
import scipy

import collapse_theory
from collapse_theory._json import dumps, write_json

RESULTS = Path(__file__).resolve().parent / "results"


def best_time(work: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """Smallest wall time of ``repeats`` calls (seconds) and the last call's value."""
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = work()
        best = min(best, time.perf_counter() - start)
    return best, value


def _cpu_model() -> str:
    """The processor's model name from /proc/cpuinfo (Linux; platform.processor() is often
    empty there), or ""."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def environment() -> dict[str, Any]:
    """Machine, library versions and the BLAS/OpenMP pools actually loaded (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info

        pools = [
            {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for info in threadpool_info()
        ]
    except ImportError:  # pragma: no cover - optional
        pools = "threadpoolctl not installed"
    return {
        "machine": platform.machine(),
        "processor": platform.processor() or _cpu_model(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "collapse_theory": collapse_theory.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "threadpools": pools,
    }


def write_report(name: str, title: str, rows: list[dict[str, Any]], extra: dict[str, Any]) -> Path:
    """Write ``results/NAME.json`` and ``results/NAME.md`` (a table of ``rows``)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"title": title, "rows": rows, "environment": environment(), **extra}
    write_json(RESULTS / f"{name}.json", payload)
    columns = list(rows[0])
    lines = [f"# {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    lines += ["", "Environment: " + dumps(payload["environment"])]
    for key, value in extra.items():
        lines.append(f"{key}: {value}")
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
