"""benchmarks/gpu.py in its --cpu-smoke mode: every workload runs on both backends, every
statistical check passes, and the results files name the device."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("jax")

from benchmarks import gpu


def test_cpu_smoke_runs_every_workload_and_passes_its_checks(tmp_path):
    out = tmp_path / "results"
    assert gpu.main(["--cpu-smoke", "--out", str(out)]) == 0
    payload = json.loads((out / "gpu.json").read_text())
    assert payload["mode"] == "smoke" and payload["complete"] and payload["all_passed"]
    assert payload["device"]["platform"] in payload["device"]["devices"][0]
    ran = {(row["workload"], row["backend"].split()[0]) for row in payload["throughput"]}
    assert ran == {(w, b) for w in ("P1", "P2", "P3", "P4") for b in ("jax", "numba")}
    assert all(row["rate"] > 0 for row in payload["throughput"])
    assert len(payload["checks"]) == gpu.NUM_CHECKS
    assert all(row["passed"] for row in payload["checks"])
    assert "device: cpu" in (out / "gpu.md").read_text()


def test_out_directory_parent_must_exist(tmp_path):
    with pytest.raises(ValueError, match="--out"):
        gpu.main(["--cpu-smoke", "--workloads", "P1", "--out", str(tmp_path / "a" / "b")])
