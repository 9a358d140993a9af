"""The ``collapse-theory`` command line, run in-process through ``main``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import collapse_theory as ct
from collapse_theory._cli import parse_matrix, parse_record, parse_regime, parse_vector
from collapse_theory.categorical.cli import parse_p0
from collapse_theory.cli import main

FAST = ["categorical.eigenvalues_two_state", "categorical.loss_one_generation"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_module_help_subprocess():
    done = subprocess.run(
        [sys.executable, "-m", "collapse_theory", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "verify" in done.stdout and "simulate" in done.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["verify", "--help"],
        ["simulate", "--help"],
        ["simulate", "categorical", "--help"],
        ["simulate", "gaussian", "--help"],
        ["figures", "--help"],
    ],
)
def test_every_command_has_help(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage: collapse-theory" in capsys.readouterr().out


def test_verify_list(capsys):
    code, out, _ = run_cli(capsys, "verify", "--list")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == len(ct.verify.checks())
    assert lines[0].startswith(ct.verify.checks()[0].name)
    assert "§1.5" in out


def test_verify_only_writes_reports(capsys, tmp_path):
    code, out, _ = run_cli(
        capsys, "verify", "--quick", "--seed", "3", "--only", *FAST, "--out", str(tmp_path)
    )
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[-1] == "2 passed, 0 failed"
    for name in FAST:
        assert any(line.startswith(name) and "PASS" in line for line in lines)
    report = json.loads((tmp_path / "report.json").read_text())
    assert [row["name"] for row in report["rows"]] == FAST
    assert report["seed"]["entropy"] == 3
    assert "| categorical.loss_one_generation |" in (tmp_path / "report.md").read_text()


def test_verify_failure_exits_1(capsys, monkeypatch):
    original = ct.categorical.loss_probability
    monkeypatch.setattr(
        ct.categorical, "loss_probability", lambda *a, **k: 1.05 * np.asarray(original(*a, **k))
    )
    code, out, _ = run_cli(capsys, "verify", "--only", "categorical.loss_one_generation")
    assert code == 1
    assert out.strip().splitlines()[-1] == "0 passed, 1 failed"


def _simulate_and_load(capsys, tmp_path, spec: str, *extra: str):
    out_file = tmp_path / "run.npz"
    code, out, err = run_cli(
        capsys,
        "simulate", "categorical", "--p0", spec, "--num-samples", "30", "--generations", "20",
        "--replicates", "300", "--seed", "5", "--out", str(out_file), *extra,
    )  # fmt: skip
    assert code == 0, err
    return out, ct.SimulationResult.load(out_file)


def test_simulate_zipf_round_trip(capsys, tmp_path):
    out, loaded = _simulate_and_load(capsys, tmp_path, "zipf:1.1:12", "--record", "0,5,20")
    assert "H mean" in out and "surviving median" in out and "absorbed" in out
    assert loaded.generations.tolist() == [0, 5, 20]
    direct = ct.categorical.simulate(
        parse_p0("zipf:1.1:12"), 30, 20, num_replicates=300, seed=5, record=[0, 5, 20]
    )
    np.testing.assert_array_equal(loaded["p"], direct["p"])
    np.testing.assert_array_equal(loaded["absorbed_at"], direct["absorbed_at"])
    assert loaded.metadata["parameters"]["num_replicates"] == 300
    table = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in table] == ["0", "5", "20"]
    h0 = float(ct.categorical.heterozygosity(parse_p0("zipf:1.1:12")))
    assert float(table[0][1]) == pytest.approx(h0, rel=1e-5)


def test_simulate_uniform_with_regime(capsys, tmp_path):
    _out, loaded = _simulate_and_load(
        capsys, tmp_path, "uniform:5", "--regime", "fresh:0.2:split", "--record", "last"
    )
    assert loaded.generations.tolist() == [20]
    assert "FreshData" in loaded.metadata["parameters"]["regime"]
    assert np.all(loaded["absorbed_at"] == -1)  # fresh data keeps every state


@pytest.mark.parametrize("suffix", [".txt", ".npy"])
def test_simulate_file_spec(capsys, tmp_path, suffix):
    p0 = np.array([0.5, 0.25, 0.125, 0.125])
    path = tmp_path / f"p0{suffix}"
    if suffix == ".npy":
        np.save(path, p0)
    else:
        path.write_text("0.5, 0.25\n0.125 0.125\n")
    _, loaded = _simulate_and_load(capsys, tmp_path, str(path), "--regime", "accumulate")
    np.testing.assert_array_equal(loaded["p"][0, 0], p0)
    assert loaded["p"].shape == (21, 300, 4)


def test_parsers():
    assert parse_p0("uniform:4").tolist() == [0.25] * 4
    zipf = parse_p0("zipf:2:3")
    np.testing.assert_allclose(zipf, np.array([1, 1 / 4, 1 / 9]) / (1 + 1 / 4 + 1 / 9))
    assert parse_regime("replace") == ct.Replace()
    assert parse_regime("accumulate") == ct.Accumulate()
    assert parse_regime("fresh:0.1") == ct.FreshData(0.1, "mix")
    assert parse_regime("fresh:0.1:split") == ct.FreshData(0.1, "split")
    assert parse_record("0,5,10") == [0, 5, 10]
    assert parse_record("last") == "last"


BASE = ["simulate", "categorical", "--num-samples", "10", "--generations", "5"]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nonsense"],
        ["verify", "--only", "categorical.no_such_check"],
        ["verify", "--seed", "-1"],
        ["verify", "--bogus"],
        ["simulate"],
        ["simulate", "gaussian"],
        [*BASE, "--p0", "zipf:x:10"],
        [*BASE, "--p0", "zipf:1.1"],
        [*BASE, "--p0", "uniform:0"],
        [*BASE, "--p0", "/no/such/file.txt"],
        [*BASE, "--p0", "uniform:3", "--regime", "fresh:1.5"],
        [*BASE, "--p0", "uniform:3", "--regime", "fresh:0.1:blend"],
        [*BASE, "--p0", "uniform:3", "--regime", "forget"],
        [*BASE, "--p0", "uniform:3", "--record", "0,99"],
        [*BASE, "--p0", "uniform:3", "--record", "a,b"],
        [*BASE, "--p0", "uniform:3", "--pseudo-count", "-1"],
        [
            "simulate",
            "categorical",
            "--p0",
            "uniform:3",
            "--num-samples",
            "0",
            "--generations",
            "5",
        ],
        [
            "simulate",
            "categorical",
            "--p0",
            "uniform:3",
            "--num-samples",
            "2.5",
            "--generations",
            "5",
        ],
        ["simulate", "categorical", "--p0", "uniform:3", "--generations", "5"],
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv):
    code, _out, err = run_cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("collapse-theory: error: ")
    assert "Traceback" not in err


def test_figures_list_and_draw(capsys, tmp_path):
    code, out, _err = run_cli(capsys, "figures", "--list")
    assert code == 0 and "w2_schedules" in out
    code, out, _err = run_cli(capsys, "figures", "variance_law", "--quick", "--out", str(tmp_path))
    assert code == 0
    for suffix in ("png", "pdf"):
        assert (tmp_path / f"variance_law.{suffix}").stat().st_size > 1000
    code, _out, err = run_cli(capsys, "figures", "nonsense", "--out", str(tmp_path))
    assert code == 2 and "unknown figure" in err and len(err.strip().splitlines()) == 1


def test_bad_probability_file(capsys, tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("0.5 0.7 nonsense\n")
    code, _, err = run_cli(capsys, *BASE, "--p0", str(path))
    assert code == 2 and err.startswith("collapse-theory: error: ")
    path.write_text("0.5 0.7\n")  # does not sum to 1
    code, _, err = run_cli(capsys, *BASE, "--p0", str(path))
    assert code == 2 and "p0" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------------------------
# simulate gaussian

GAUSS = ["simulate", "gaussian", "--num-samples", "10", "--generations", "8"]


def _table(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]


def test_simulate_gaussian_1d_round_trip(capsys, tmp_path):
    out_file = tmp_path / "g1.npz"
    code, out, err = run_cli(
        capsys, *GAUSS, "--mean0", "1.5", "--var0", "2", "--replicates", "400", "--seed", "3",
        "--record", "0,4,8", "--estimator", "mle", "--out", str(out_file),
    )  # fmt: skip
    assert code == 0, err
    assert "var median" in out and "P(var < 0.1 var0)" in out and "estimator=mle" in out
    table = _table(out)
    assert [row[0] for row in table] == ["0", "4", "8"]
    # generation, mu mean, mu SE, var median, var mean, var SE, P(var < 0.1 var0)
    assert [float(v) for v in table[0][1:]] == [1.5, 0.0, 2.0, 2.0, 0.0, 0.0]
    loaded = ct.SimulationResult.load(out_file)
    direct = ct.gaussian.simulate(
        1.5, 2.0, 10, 8, num_replicates=400, seed=3, record=[0, 4, 8], estimator="mle"
    )
    np.testing.assert_array_equal(loaded["mean"], direct["mean"])
    np.testing.assert_array_equal(loaded["var"], direct["var"])
    assert float(table[2][3]) == pytest.approx(np.median(direct["var"][2]), rel=1e-5)
    assert float(table[2][4]) == pytest.approx(np.mean(direct["var"][2]), rel=1e-5)
    assert loaded.metadata["parameters"]["estimator"] == "mle"


def test_simulate_gaussian_2d_round_trip(capsys, tmp_path):
    out_file = tmp_path / "g2.npz"
    code, out, err = run_cli(
        capsys, *GAUSS, "--mean0", "1,-1", "--cov0", "2,0.5;0.5,1", "--replicates", "300",
        "--seed", "9", "--method", "samples", "--regime", "fresh:0.2:split", "--max-rows", "3",
        "--out", str(out_file),
    )  # fmt: skip
    assert code == 0, err
    assert "log det mean" in out and "trace median" in out and "d=2" in out
    assert "(3 of 9 recorded generations shown" in out
    table = _table(out)
    assert [row[0] for row in table] == ["0", "4", "8"]
    # generation, |mu-mu0|^2 mean, SE, log det mean, SE, trace mean, SE, trace median
    assert float(table[0][1]) == 0.0
    assert float(table[0][3]) == pytest.approx(np.log(1.75), rel=1e-5)
    assert float(table[0][5]) == pytest.approx(3.0)
    loaded = ct.SimulationResult.load(out_file)
    direct = ct.gaussian.simulate(
        np.array([1.0, -1.0]),
        np.array([[2.0, 0.5], [0.5, 1.0]]),
        10,
        8,
        num_replicates=300,
        seed=9,
        method="samples",
        regime=ct.FreshData(0.2, "split"),
    )
    assert loaded["cov"].shape == (9, 300, 2, 2)
    np.testing.assert_array_equal(loaded["cov"], direct["cov"])
    np.testing.assert_array_equal(loaded["mean"], direct["mean"])


def test_simulate_gaussian_defaults_accumulate(capsys):
    code, out, err = run_cli(
        capsys, *GAUSS, "--var0", "1", "--replicates", "50", "--regime", "accumulate"
    )
    assert code == 0, err
    assert "regime=accumulate" in out and len(_table(out)) == 9


def test_vector_and_matrix_parsers():
    assert parse_vector("1, 2.5", "--mean0").tolist() == [1.0, 2.5]
    assert parse_matrix("2,0.5;0.5,1", "--cov0").tolist() == [[2.0, 0.5], [0.5, 1.0]]
    assert parse_matrix("3", "--cov0").shape == (1, 1)


@pytest.mark.parametrize(
    "argv",
    [
        [*GAUSS],
        [*GAUSS, "--var0", "0"],
        [*GAUSS, "--var0", "-1"],
        [*GAUSS, "--var0", "nan"],
        [*GAUSS, "--var0", "x"],
        [*GAUSS, "--var0", "1", "--cov0", "1"],
        [*GAUSS, "--var0", "1", "--mean0", "1,2"],
        [*GAUSS, "--var0", "1", "--mean0", ""],
        [*GAUSS, "--var0", "1", "--estimator", "ddof2"],
        [*GAUSS, "--var0", "1", "--method", "exact"],
        [*GAUSS, "--var0", "1", "--regime", "fresh:2"],
        [*GAUSS, "--var0", "1", "--record", "0,99"],
        [*GAUSS, "--cov0", "1,2;3"],
        [*GAUSS, "--cov0", "1,2,3;4,5,6"],
        [*GAUSS, "--cov0", "1,a;a,1"],
        [*GAUSS, "--cov0", "1,2;2,1"],
        [*GAUSS, "--cov0", "1,0.5;0,1"],
        [*GAUSS, "--cov0", "1,0;0,1", "--mean0", "1"],
        ["simulate", "gaussian", "--var0", "1", "--num-samples", "1", "--generations", "3"],
        ["simulate", "gaussian", "--cov0", "1,0;0,1", "--num-samples", "2", "--generations", "3"],
        ["simulate", "gaussian", "--var0", "1", "--generations", "3"],
    ],
)
def test_simulate_gaussian_bad_input_exits_2(capsys, argv):
    code, _out, err = run_cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("collapse-theory: error: ")
    assert "Traceback" not in err


def test_gmm_paper_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["gmm-paper", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: collapse-theory gmm-paper" in out and "--start" in out


def test_gmm_paper_writes_figures_and_table(capsys, tmp_path):
    code, out, _ = run_cli(
        capsys,
        "gmm-paper",
        "--start",
        "two-gaussians",
        "--generations",
        "50",
        "--num-samples",
        "100",
        "--replicates",
        "1",
        "--out",
        str(tmp_path / "paper"),
    )
    assert code == 0
    names = {p.name for p in (tmp_path / "paper").iterdir()}
    assert names == {
        "gmm_snapshots.png",
        "gmm_snapshots.pdf",
        "gmm_l2.png",
        "gmm_l2.pdf",
        "snapshots.md",
        "snapshots.csv",
    }
    rows = (tmp_path / "paper" / "snapshots.csv").read_text().strip().splitlines()
    assert [row.split(",")[1] for row in rows[1:]] == ["0", "50"]
    assert "start=two-gaussians" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["gmm-paper", "--start", "three-blobs"],
        ["gmm-paper", "--num-samples", "3", "--generations", "1"],
        ["gmm-paper", "--replicates", "0", "--generations", "1"],
        ["gmm-paper", "--init", "random"],
        ["gmm-paper", "--generations", "-4"],
    ],
)
def test_gmm_paper_bad_input_exits_2(capsys, argv, tmp_path):
    code, _, err = run_cli(capsys, *argv, "--out", str(tmp_path))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("collapse-theory: error: ")
