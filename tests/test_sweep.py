"""Parameter sweeps (issue 8): reproducible on every executor, resumable, checked before work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import collapse_theory as ct
from collapse_theory import sweep
from collapse_theory._stats import top_share
from collapse_theory.cli import main
from collapse_theory.results import SimulationResult
from collapse_theory.sweep.store import Store

REPO = Path(__file__).resolve().parents[1]

CATEGORICAL = {
    "function": "categorical.simulate",
    "seed": 11,
    "replicates": 600,  # blocks of 256, 256, 88
    "block_replicates": 256,
    "fixed": {"p0": [0.5, 0.3, 0.2], "num_generations": 8, "record": [0, 4, 8]},
    "grid": {"num_samples": [5, 20], "regime": ["replace", "accumulate", "fresh:0.3:split"]},
}


def _spec(base: dict, **changes) -> sweep.SweepSpec:
    data = json.loads(json.dumps(base))
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            data[section][name] = value
        else:
            data[section] = value
    return sweep.SweepSpec.from_dict(data)


def _same(a: sweep.SweepResult, b: sweep.SweepResult) -> None:
    assert a.arrays.keys() == b.arrays.keys() and a.per_replicate.keys() == b.per_replicate.keys()
    for name in a.arrays:
        assert np.array_equal(a.arrays[name], b.arrays[name]), name
    for name in a.per_replicate:
        assert np.array_equal(a.per_replicate[name], b.per_replicate[name]), name
    assert np.array_equal(a.generations, b.generations)


def _log(directory: Path) -> list[list[str]]:
    return [line.split() for line in (directory / "log.txt").read_text().splitlines()]


# --------------------------------------------------------------------------------------------
# seeds and merging


def test_a_point_is_one_simulator_call_with_the_point_seed(tmp_path):
    spec = _spec(CATEGORICAL)
    result, stats = sweep.run_sweep(spec, tmp_path / "run")
    assert (stats.total, stats.computed, stats.skipped) == (18, 18, 0)
    assert result.arrays["p"].shape == (2, 3, 3, 600, 3)
    assert result.per_replicate["absorbed_at"].shape == (2, 3, 600)
    regimes = [ct.Replace(), ct.Accumulate(), ct.FreshData(0.3, "split")]
    for point in (0, 5):
        i, j = spec.indices(point)
        direct = ct.categorical.simulate(
            [0.5, 0.3, 0.2],
            [5, 20][i],
            8,
            num_replicates=600,
            regime=regimes[j],
            record=[0, 4, 8],
            seed=sweep.point_seed(11, point),
        )
        assert np.array_equal(result.arrays["p"][i, j], direct["p"])
        assert np.array_equal(result.per_replicate["absorbed_at"][i, j], direct["absorbed_at"])


def test_task_files_are_simulation_results(tmp_path):
    spec = _spec(CATEGORICAL, grid={"num_samples": [5]}, replicates=256)
    sweep.run_sweep(spec, tmp_path)
    (path,) = (tmp_path / "tasks").glob("*.npz")
    loaded = SimulationResult.load(path)
    assert loaded["p"].shape == (3, 256, 3)
    assert loaded.metadata["sweep"]["task"] == "p0-b0"
    assert loaded.metadata["model"] == "categorical"


def test_load_and_keep(tmp_path):
    spec = _spec(CATEGORICAL, keep=["absorbed_at"])
    result, _ = sweep.run_sweep(spec, tmp_path)
    assert result.arrays == {} and list(result.per_replicate) == ["absorbed_at"]
    _same(sweep.load(tmp_path), result)


def test_sweep_agrees_with_theory(tmp_path):
    """Simulated sigma_n^2 against the closed forms of docs/theory.md §2.2 (mean) and §2.4 (mean of
    log sigma_n^2, the first log-scale cumulant), each swept on the same grid; |z| < 4."""
    grid = {"num_samples": [4, 10, 50], "estimator": ["unbiased", "mle"]}
    simulated, _ = sweep.run_sweep(
        sweep.SweepSpec(
            "gaussian.simulate",
            grid=grid,
            fixed={"mean0": 0.0, "cov0": 1.0, "num_generations": 12, "record": "last"},
            seed=5,
            replicates=4096,
            block_replicates=2048,
        ),
        tmp_path / "sim",
    )
    variance, _ = sweep.run_sweep(
        sweep.SweepSpec(
            "gaussian.theory.expected_variance", grid=grid, fixed={"generations": 12}, seed=0
        ),
        tmp_path / "var",
    )
    cumulants, _ = sweep.run_sweep(
        sweep.SweepSpec(
            "gaussian.theory.log_variance_cumulants",
            grid=grid,
            fixed={"generations": 12, "order": 2},
            seed=0,
        ),
        tmp_path / "cum",
    )
    var = simulated.arrays["var"][:, :, 0, :]  # (3, 2, R)
    for values, expected, spread in (
        (var, variance.arrays["value"], var.std(axis=-1, ddof=1)),
        (
            np.log(var),
            cumulants.arrays["value"][..., 0],
            np.sqrt(cumulants.arrays["value"][..., 1]),
        ),
    ):
        z = (values.mean(axis=-1) - expected) / (spread / np.sqrt(var.shape[-1]))
        assert np.all(np.abs(z) < 4), z


def test_theory_sweep_values(tmp_path):
    spec = sweep.SweepSpec(
        "categorical.theory.expected_survivors",
        grid={"num_samples": [10, 40]},
        fixed={"p0": "zipf:1.2:6", "generations": [1, 5]},
        seed=0,
    )
    result, stats = sweep.run_sweep(spec, tmp_path)
    assert stats.total == 2 and result.generations is None
    p0 = np.arange(1, 7) ** -1.2
    for i, m in enumerate([10, 40]):
        expected = ct.categorical.expected_survivors(p0 / p0.sum(), m, [1, 5])
        assert np.array_equal(result.arrays["value"][i], expected)


def test_to_xarray(tmp_path):
    xr = pytest.importorskip("xarray")
    result, _ = sweep.run_sweep(_spec(CATEGORICAL), tmp_path)
    data = result.to_xarray()
    assert isinstance(data, xr.Dataset)
    assert data["p"].dims == ("num_samples", "regime", "generation", "replicate", "state")
    assert data["absorbed_at"].dims == ("num_samples", "regime", "replicate")
    assert data["regime"].values.tolist() == ["replace", "accumulate", "fresh:0.3:split"]
    cell = data["p"].sel(num_samples=20, regime="accumulate", generation=8).values
    assert np.array_equal(cell, result.arrays["p"][1, 1, 2])
    summary = result.to_xarray(summary=True)
    assert summary["p"].dims == ("num_samples", "regime", "generation", "statistic", "state")
    stats = summary["p"].sel(num_samples=5, regime="replace", generation=4)
    values = result.arrays["p"][0, 0, 1]
    assert np.array_equal(stats.sel(statistic="median").values, np.median(values, axis=0))
    assert np.array_equal(stats.sel(statistic="q0.95").values, np.quantile(values, 0.95, axis=0))
    np.testing.assert_allclose(
        stats.sel(statistic="stderr").values, values.std(axis=0, ddof=1) / np.sqrt(600)
    )
    # the heavy-tail diagnostic of that stderr (docs/theory.md §6), one implementation
    np.testing.assert_array_equal(
        stats.sel(statistic="top_share").values, top_share(values, axis=0)
    )


# --------------------------------------------------------------------------------------------
# executors: in-process, process pool, Dask LocalCluster (Must show 1)


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield cluster, client


def test_identical_on_every_executor(tmp_path, dask_cluster):
    cluster, client = dask_cluster
    spec = _spec(CATEGORICAL)
    serial, _ = sweep.run_sweep(spec, tmp_path / "serial")
    threaded, _ = sweep.run_sweep(spec, tmp_path / "threads", threads_per_task=2)
    pool, pool_stats = sweep.run_sweep(spec, tmp_path / "pool", scheduler="processes:2")
    on_client, client_stats = sweep.run_sweep(spec, tmp_path / "client", client=client)
    by_address, _ = sweep.run_sweep(spec, tmp_path / "address", scheduler=cluster.scheduler_address)
    assert pool_stats.computed == client_stats.computed == 18
    assert len(client.scheduler_info()["workers"]) == 2
    for other in (threaded, pool, on_client, by_address):
        _same(serial, other)


def test_dask_not_installed(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    spec = _spec(CATEGORICAL)
    with pytest.raises(ImportError, match=r"collapse_theory\[sweep\]"):
        sweep.run_sweep(spec, tmp_path / "a", scheduler="local:2")
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(_toml(CATEGORICAL))
    code = main(["sweep", str(spec_path), "--out", str(tmp_path / "b"), "--scheduler", "tcp://x:1"])
    assert code == 2
    assert "collapse_theory[sweep]" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# resume (Must show 2), corruption, directories


KILL_SPEC = """\
function = "gaussian.simulate"
seed = 3
replicates = 1024
block_replicates = 256

[fixed]
mean0 = 0.0
cov0 = 1.0
num_generations = 100
method = "samples"
record = "last"

[grid]
num_samples = [1000, 1001, 1002]
"""


def test_killed_sweep_resumes_to_the_same_result(tmp_path):
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(KILL_SPEC)
    spec = sweep.load_spec(spec_path)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "collapse_theory", "sweep", str(spec_path), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while len(list((out / "tasks").glob("*.npz"))) < 3:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the sweep produced no results in 60 s"
            time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
    before = {p.name: p.read_bytes() for p in (out / "tasks").glob("*.npz")}
    first_done = {name.split(".")[0] for name in before}
    assert 3 <= len(first_done) < 12, first_done  # killed mid-run

    resumed, stats = sweep.run_sweep(spec, out)
    assert (stats.skipped, stats.computed, stats.discarded) == (
        len(first_done),
        12 - len(first_done),
        0,
    )
    for name, data in before.items():  # the first run's files were kept untouched
        assert (out / "tasks" / name).read_bytes() == data
    all_ids = {task.id for task in sweep.build_tasks(3, 1024, 256)}
    log = _log(out)
    computed = [(run, task) for event, run, task, *_ in log if event == "computed"]
    counts = {task: sum(1 for _, t in computed if t == task) for task in all_ids}
    assert max(counts.values()) == 1  # no task computed twice
    second = {task for run, task in computed if run == stats.run_id}
    assert second == all_ids - first_done
    assert {task for run, task in computed if run != stats.run_id} <= first_done

    uninterrupted, _ = sweep.run_sweep(spec, tmp_path / "whole")
    _same(resumed, uninterrupted)


def test_corrupt_files_are_recomputed(tmp_path):
    spec = _spec(CATEGORICAL)
    reference, _ = sweep.run_sweep(spec, tmp_path)
    files = sorted((tmp_path / "tasks").glob("*.npz"))
    truncated, flipped, renamed = files[1], files[7], files[12]
    truncated.write_bytes(truncated.read_bytes()[:200])
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    # A valid file under another task's name is detected by its metadata.
    renamed.rename(
        renamed.with_name(files[0].name.split(".")[0] + "." + renamed.name.split(".", 1)[1])
    )
    (tmp_path / "tasks" / f".{files[3].name}.123.tmp").write_bytes(b"partial write")
    with pytest.raises(ValueError, match="no valid result file"):
        sweep.load(tmp_path)
    resumed, stats = sweep.run_sweep(spec, tmp_path)
    assert (stats.discarded, stats.computed) == (3, 3)
    _same(resumed, reference)
    assert not list((tmp_path / "tasks").glob(".*"))
    discarded = {row[3] for row in _log(tmp_path) if row[0] == "discarded"}
    assert discarded == {"checksum-mismatch", "belongs-to-another-task"}


def test_directories_holding_something_else_are_refused(tmp_path):
    sweep.run_sweep(_spec(CATEGORICAL), tmp_path / "a")
    with pytest.raises(ValueError, match="holds a different sweep"):
        sweep.run_sweep(_spec(CATEGORICAL, seed=12), tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        sweep.run_sweep(_spec(CATEGORICAL), tmp_path / "b")
    with pytest.raises(ValueError, match="in use by another running sweep"):
        store = Store(tmp_path / "a", _spec(CATEGORICAL), [])
        with store.lock(), Store(tmp_path / "a", _spec(CATEGORICAL), []).lock():
            pass


# --------------------------------------------------------------------------------------------
# bad specs are refused before any work (Must show 3)

BAD_SPECS = [
    ({"function": "gaussian.simulat"}, ValueError, "function: unknown 'gaussian.simulat'"),
    ({"function": "categorical.theory.np"}, ValueError, "function: unknown"),
    ({"grid": {}}, ValueError, "grid: empty"),
    ({"grid__num_samples": []}, ValueError, r"grid.num_samples: empty list"),
    (
        {"grid__num_sample": [5]},
        ValueError,
        "grid.num_sample: categorical.simulate has no parameter",
    ),
    ({"fixed__seed": 3}, ValueError, "fixed.seed: set by the sweep"),
    ({"fixed__num_samples": 5}, ValueError, "fixed.num_samples: 'num_samples' is also a grid axis"),
    ({"fixed": {"num_generations": 8}}, ValueError, "fixed: missing 'p0'"),
    ({"grid__num_samples": [5, 0]}, ValueError, r"grid.num_samples\[1\]: num_samples must be"),
    ({"grid__num_samples": [5, 2.5]}, TypeError, r"grid.num_samples\[1\]"),
    ({"grid__regime": ["replace", "fresh:1.5"]}, ValueError, r"grid.regime\[1\]: fraction must be"),
    ({"grid__regime": ["replace", "keep"]}, ValueError, r"grid.regime\[1\]: a regime is"),
    ({"fixed__p0": [0.5, 0.6]}, ValueError, "fixed.p0: p0 must sum to 1"),
    ({"fixed__record": [0, 9]}, ValueError, "fixed.record: record must be <= 8"),
    ({"fixed__pseudo_count": -1.0}, ValueError, "fixed.pseudo_count: pseudo_count must be >= 0"),
    ({"keep": ["var"]}, ValueError, r"keep\[0\]: categorical.simulate has no array 'var'"),
    ({"block_replicates": 300}, ValueError, "block_replicates must be a multiple of 256"),
    ({"replicates": 0}, ValueError, "replicates must be an integer >= 1"),
    ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
    ({"sed": 1}, ValueError, "sed: unknown key"),
    ({"grid__num_samples": [5, 5]}, ValueError, r"grid.num_samples\[1\]: 5 is repeated"),
    ({"grid__num_samples": "5"}, TypeError, "grid.num_samples: must be a list"),
]


@pytest.mark.parametrize(("changes", "error", "message"), BAD_SPECS)
def test_bad_specs_are_refused_before_any_work(tmp_path, changes, error, message):
    out = tmp_path / "out"
    with pytest.raises(error, match=message):
        sweep.run_sweep(_spec(CATEGORICAL, **changes), out)
    assert not out.exists()


def test_bad_specs_combinations_and_theory(tmp_path):
    gaussian = {
        "function": "gaussian.simulate",
        "seed": 0,
        "replicates": 256,
        "fixed": {"mean0": [0.0, 0.0], "num_generations": 3},
        "grid": {"cov0": [[[1, 0], [0, 1]], [[1, 2], [2, 1]]], "num_samples": [3, 4]},
    }
    with pytest.raises(ValueError, match=r"grid.cov0\[1\]: cov0 must be positive semi-definite"):
        sweep.plan(sweep.SweepSpec.from_dict(gaussian))
    gaussian["grid"] = {"cov0": [[[1, 0], [0, 1]]], "num_samples": [3, 2]}
    with pytest.raises(ValueError, match=r"grid.num_samples\[1\]: num_samples must satisfy M > d"):
        sweep.plan(sweep.SweepSpec.from_dict(gaussian))
    theory = {"function": "gaussian.theory.expected_variance", "seed": 0, "fixed": {}}
    with pytest.raises(ValueError, match=r"grid.generations\[1\]: generations must be >= 0"):
        sweep.plan(
            sweep.SweepSpec.from_dict(
                {**theory, "grid": {"num_samples": [3], "generations": [1, -2]}}
            )
        )
    with pytest.raises(
        ValueError, match=r"replicates: gaussian\.theory\.expected_variance is deterministic"
    ):
        sweep.plan(
            sweep.SweepSpec.from_dict(
                {**theory, "replicates": 5, "grid": {"num_samples": [3], "generations": [1]}}
            )
        )
    with pytest.raises(TypeError, match=r"grid.regime\[0\]: a spec holds data only"):
        sweep.SweepSpec("gaussian.simulate", grid={"regime": [ct.Replace()]}, seed=0)


def test_checking_a_spec_runs_no_simulation(monkeypatch):
    """plan() calls each simulator's own argument checks but never reaches a kernel."""
    from collapse_theory.categorical import _numba

    def forbidden(*args, **kwargs):
        raise AssertionError("a kernel ran while checking the spec")

    monkeypatch.setattr(_numba, "simulate_block", forbidden)
    checked = sweep.plan(_spec(CATEGORICAL, replicates=10**9, block_replicates=2**20))
    assert len(checked.arguments) == 6
    assert checked.arguments[5]["regime"] == ct.FreshData(0.3, "split")


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["function", "seed", "replicates", "block_replicates", "keep", "grid", "fixed", "x"]
        ),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-3, 3000)
            | st.floats(allow_nan=True)
            | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["num_samples", "p0", "regime", "seed"]), inner, max_size=2
                )
            ),
            max_leaves=6,
        ),
    )
)
def test_fuzzed_specs_fail_cleanly(data):
    try:
        sweep.plan(sweep.SweepSpec.from_dict(data))
    except (ValueError, TypeError) as error:
        assert str(error)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=12), st.none() | st.integers(-2, 5))
def test_fuzzed_schedulers(text, workers):
    try:
        kind, _target = sweep.parse_scheduler(text, workers)
    except (ValueError, TypeError) as error:
        assert str(error)
    else:
        assert kind in ("inprocess", "processes", "local", "address")


# --------------------------------------------------------------------------------------------
# command line


def _toml(data: dict) -> str:
    lines = []
    for key in ("function", "seed", "replicates", "block_replicates"):
        if key in data:
            lines.append(f"{key} = {json.dumps(data[key])}")
    for section in ("fixed", "grid"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in data[section].items()]
    return "\n".join(lines) + "\n"


def test_command_line(tmp_path, capsys):
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(_toml(CATEGORICAL))
    out = tmp_path / "out"
    assert main(["sweep", str(spec_path), "--out", str(out), "--progress"]) == 0
    printed = capsys.readouterr()
    assert "6 points" in printed.out and "computed 18" in printed.out
    assert "sweep (0 of 18 tasks already done)" in printed.err and "0/18" in printed.err
    assert main(["sweep", str(spec_path), "--out", str(out)]) == 0
    assert "computed 0, already done 18" in capsys.readouterr().out
    _same(sweep.load(out), sweep.run_sweep(CATEGORICAL, tmp_path / "api")[0])  # a dict spec
    with pytest.raises(TypeError, match="spec must be a SweepSpec or a mapping"):
        sweep.run_sweep("spec.toml", tmp_path / "api")

    bad = dict(CATEGORICAL, grid={"num_samples": [5, -1]})
    spec_path.write_text(_toml(bad))
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("collapse-theory: error: grid.num_samples[1]: ")
    assert not (tmp_path / "bad").exists()
    spec_path.write_text("function = [")
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "bad")]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_example_spec_is_valid():
    spec = sweep.load_spec(REPO / "docs" / "examples" / "sweep.toml")
    checked = sweep.plan(spec)
    assert spec.num_points == len(checked.arguments) == 24


def test_points_may_record_different_generations(tmp_path):
    xr = pytest.importorskip("xarray")
    spec = sweep.SweepSpec(
        "gaussian.simulate",
        grid={"num_generations": [3, 7]},
        fixed={"mean0": 0.0, "cov0": 2.0, "num_samples": 10, "record": "last"},
        seed=4,
        replicates=256,
    )
    result, _ = sweep.run_sweep(spec, tmp_path)
    assert result.generations.tolist() == [[3], [7]]
    data = result.to_xarray()
    assert isinstance(data, xr.Dataset)
    assert data["generations"].dims == ("num_generations", "generation")


@settings(max_examples=8, deadline=None)
@given(
    replicates=st.integers(1, 1100),
    block=st.sampled_from([256, 512, 768]),
    order=st.randoms(use_true_random=False),
)
def test_any_blocks_any_order_same_point(replicates, block, order):
    """Whatever the block size and the order tasks run in, a point is one simulator call."""
    import tempfile

    from collapse_theory.sweep.store import Store
    from collapse_theory.sweep.tasks import build_tasks, run_task

    spec = sweep.SweepSpec(
        "gaussian.simulate",
        grid={"num_samples": [3, 8]},
        fixed={"mean0": 1.0, "cov0": 1.0, "num_generations": 4},
        seed=9,
        replicates=replicates,
        block_replicates=block,
    )
    checked = sweep.plan(spec)
    tasks = build_tasks(spec.num_points, replicates, block)
    shuffled = list(tasks)
    order.shuffle(shuffled)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(folder, spec, tasks).open()
        for task in shuffled:
            output = run_task(spec.function, checked.arguments[task.point], spec.seed, task)
            store.write(task, output, "test")
        result = sweep.load(folder)
    for point, m in enumerate([3, 8]):
        direct = ct.gaussian.simulate(
            1.0, 1.0, m, 4, num_replicates=replicates, seed=sweep.point_seed(9, point)
        )
        assert np.array_equal(result.arrays["var"][point], direct["var"])
        assert np.array_equal(result.arrays["mean"][point], direct["mean"])


def test_importing_needs_neither_dask_nor_xarray():
    code = (
        "import sys, collapse_theory.sweep, collapse_theory.sweep.cli; "
        "print(sorted(m for m in ('dask', 'distributed', 'xarray') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_theory_values_refused_when_computed_name_the_point(tmp_path):
    spec = sweep.SweepSpec(
        "categorical.theory.expected_survivors",
        grid={"p0": [[0.5, 0.5], [0.5, 0.6]]},
        fixed={"num_samples": 10, "generations": [1, 2]},
        seed=0,
    )
    with pytest.raises(ValueError, match=r"task p1-b0 \(grid point 1\): p0 must sum to 1"):
        sweep.run_sweep(spec, tmp_path)
    assert [row[2] for row in _log(tmp_path)] == ["p0-b0"]  # point 0 was computed and kept


def test_ambient_backend_does_not_reach_the_tasks():
    """A sweep runs the backend its spec names (numba when none), whatever ``backends.use``
    block surrounds it, so in-process results equal those of workers that never see it."""
    from collapse_theory import backends
    from collapse_theory.sweep.tasks import Task, run_task

    task = Task(id="p0-b0", point=0, block=0, start=0, stop=256)
    arguments = {"p0": [0.5, 0.5], "num_samples": 10, "num_generations": 3}
    plain = run_task("categorical.simulate", arguments, 1, task)
    with backends.use("jax"):
        inside = run_task("categorical.simulate", arguments, 1, task)
    assert inside.metadata["backend"] == plain.metadata["backend"] == "numba"
    np.testing.assert_array_equal(inside.arrays["p"], plain.arrays["p"])
