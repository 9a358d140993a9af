"""A new model family plugs into every piece of shared machinery with its folder and ONE line.

The toy family ``tests/toy_family/bernoulli/`` (a Bernoulli(p0) refitted on M draws) follows the
template of docs/contributing.md. The fixture below registers it with the one line
``families.register("bernoulli", "tests.toy_family.bernoulli")`` and nothing else; the tests
then find it in verify, the figures, the tail-loss table, sweeps and the command line, and,
once it is unregistered, nowhere any more (so the rest of the suite never sees it).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.stats import binom

import collapse_theory as ct
from collapse_theory import _figures, families, sweep
from collapse_theory.cli import main
from collapse_theory.tails import table as tails_table

PACKAGE = "tests.toy_family.bernoulli"


def _unregister() -> None:
    families.unregister("bernoulli")


@pytest.fixture
def bernoulli():
    """The toy family, registered by the one line; removed afterwards."""
    families.register("bernoulli", PACKAGE)  # the one registration line
    try:
        yield families.package("bernoulli")
    finally:
        _unregister()


def _listed_anywhere(capsys) -> dict[str, bool]:
    """Where the machinery lists the toy family right now."""
    assert main(["figures", "--list"]) == 0
    figures_listed = "bernoulli_loss" in capsys.readouterr().out
    status = main(
        ["simulate", "bernoulli", "--p0", "0.2", "--num-samples", "5", "--generations", "2"]
    )
    capsys.readouterr()
    return {
        "families": "bernoulli" in families.names(),
        "checks": any(c.name.startswith("bernoulli.") for c in ct.verify.checks()),
        "check families": any(c.family == "bernoulli" for c in ct.verify.checks()),
        "paper figures": "bernoulli_loss" in ct.plotting.FIGURES,
        "all figures": any(s.family == "bernoulli" for s in _figures.figures().values()),
        "report figures": bool(_figures.report_figures(["bernoulli.variance"])),
        "figures --list": figures_listed,
        "tail grid": any(s.family == "bernoulli" for s in tails_table.default_grid(quick=True)),
        "tails names": hasattr(ct.tails, "BernoulliTail"),
        "sweep functions": any(f.startswith("bernoulli.") for f in sweep.functions()),
        "simulate command": status == 0,
        "ct.bernoulli": hasattr(ct, "bernoulli"),
    }


# --------------------------------------------------------------------------------------------
# the registry itself


def test_register_refuses_a_wrong_name_or_a_second_package(bernoulli):
    assert families.get("bernoulli") is bernoulli.FAMILY
    assert ct.bernoulli is bernoulli
    families.register("bernoulli", PACKAGE)  # the same again: nothing happens
    assert families.names().count("bernoulli") == 1
    with pytest.raises(ValueError, match="must be a Family named 'coin'"):
        families.register("coin", PACKAGE)  # its FAMILY is named "bernoulli"
    assert "coin" not in families.names()
    with pytest.raises(ValueError, match=re.escape(f"already registered as {PACKAGE!r}")):
        families.register("bernoulli", "collapse_theory.categorical")
    with pytest.raises(ValueError, match=r"already registered as 'collapse_theory\.categorical'"):
        families.register("categorical", PACKAGE)
    with pytest.raises(ValueError, match="built-in"):
        families.unregister("categorical")
    assert families.get("bernoulli") is bernoulli.FAMILY
    assert families.get("categorical").name == "categorical"


# --------------------------------------------------------------------------------------------
# verify


def test_verify_runs_the_family_checks(bernoulli, tmp_path):
    names = [c.name for c in ct.verify.checks("bernoulli")]
    assert names == ["bernoulli.loss_probability", "bernoulli.variance"]
    assert set(names) <= {c.name for c in ct.verify.checks()}
    report = ct.verify.run(quick=True, seed=0, only=["bernoulli"])
    assert [row.name for row in report.rows] == names
    assert report.passed, report.format()

    # the brute-force estimate against the obvious recursion over the first fitted count
    def lost(p: float, m: int, n: int) -> float:
        if p == 0.0 or n == 0:
            return float(p == 0.0)
        return sum(binom.pmf(j, m, p) * lost(j / m, m, n - 1) for j in range(m + 1))

    assert report["bernoulli.loss_probability"].estimate == pytest.approx(
        lost(0.2, 3, 3), rel=1e-12
    )
    assert report.num_monte_carlo == 1
    paths = report.save(tmp_path)
    assert (tmp_path / "figures" / "verify_bernoulli.png").is_file()
    assert (tmp_path / "figures" / "verify_bernoulli.pdf").is_file()
    assert "verify_bernoulli" in (tmp_path / "report.md").read_text()
    assert tmp_path / "figures" / "verify_bernoulli.png" in paths


# --------------------------------------------------------------------------------------------
# figures


def test_figures_lists_and_draws_the_family_figure(bernoulli, tmp_path, capsys):
    assert ct.plotting.FIGURES["bernoulli_loss"] is ct.plotting.figure_bernoulli_loss
    assert _figures.get("verify_bernoulli").kind == "report"
    assert "verify_bernoulli" not in ct.plotting.FIGURES  # report figures are not paper figures
    assert main(["figures", "--list"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "Toy Bernoulli(0.2)" in listed["bernoulli_loss"]
    assert "categorical_survivors" in listed  # the built-in figures are still there
    out = tmp_path / "figs"
    assert main(["figures", "bernoulli_loss", "--quick", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"bernoulli_loss.png", "bernoulli_loss.pdf"}
    assert all(p.stat().st_size > 1000 for p in out.iterdir())


# --------------------------------------------------------------------------------------------
# tails


def test_tail_loss_table_has_the_family_rows(bernoulli):
    grid = tails_table.default_grid(quick=True)
    toy = [s for s in grid if s.family == "bernoulli"]
    assert [(s.model, s.num_samples, s.regime, s.source) for s in toy] == [
        ("Bernoulli(0.1)", 10, "replace", "bernoulli")
    ]
    assert ct.tails.BernoulliTail is bernoulli.BernoulliTail
    table = tails_table.tail_loss_table(quick=True)
    rows = [r for r in table.rows if r["family"] == "bernoulli"]
    assert len(rows) == 1 and rows[0]["method"] == "monte-carlo" and rows[0]["draws"] == 100
    assert rows[0]["T0"] == pytest.approx(0.1)
    assert {r["family"] for r in table.rows} > {"bernoulli", "categorical"}
    assert "| bernoulli | Bernoulli(0.1) |" in tails_table.markdown(table)


# --------------------------------------------------------------------------------------------
# sweep


def test_sweep_finds_runs_and_merges_the_family(bernoulli, tmp_path):
    names = sweep.functions()
    assert "bernoulli.simulate" in names
    assert {
        "bernoulli.theory.expected_p",
        "bernoulli.theory.expected_variance",
        "bernoulli.theory.loss_probability",
        "bernoulli.theory.transition_matrix",
    } <= set(names)
    spec = sweep.SweepSpec(
        "bernoulli.simulate",
        grid={"num_samples": [5, 20]},
        fixed={"p0": "0.3", "num_generations": 4, "record": [0, 2, 4]},  # p0 decoded by FAMILY
        seed=3,
        replicates=300,  # blocks of 256 and 44 in two tasks per point
        block_replicates=256,
    )
    result, stats = sweep.run_sweep(spec, tmp_path / "sim")
    assert (stats.total, stats.computed) == (4, 4)
    assert result.arrays["p"].shape == (2, 3, 300)
    for i, m in enumerate([5, 20]):
        direct = bernoulli.simulate(
            0.3, m, 4, num_replicates=300, record=[0, 2, 4], seed=sweep.point_seed(3, i)
        )
        assert np.array_equal(result.arrays["p"][i], direct["p"])
    theory, _ = sweep.run_sweep(
        sweep.SweepSpec(
            "bernoulli.theory.expected_variance",
            grid={"num_samples": [5, 20]},
            fixed={"p0": 0.3, "generations": [0, 4]},
            seed=0,
        ),
        tmp_path / "theory",
    )
    assert np.allclose(theory.arrays["value"], [[0.21, 0.21 * 0.8**4], [0.21, 0.21 * 0.95**4]])
    # The dry run checks every point before any work, through the simulator's own checks.
    bad = sweep.SweepSpec(
        "bernoulli.simulate",
        grid={"p0": [0.3, 1.5]},
        fixed={"num_samples": 5, "num_generations": 2},
        seed=0,
        replicates=10,
    )
    with pytest.raises(ValueError, match=r"grid\.p0\[1\].*p0 must be <= 1"):
        sweep.run_sweep(bad, tmp_path / "bad")
    assert not (tmp_path / "bad" / "tasks").exists() or not any(
        (tmp_path / "bad" / "tasks").iterdir()
    )


# --------------------------------------------------------------------------------------------
# command line


def test_simulate_command(bernoulli, tmp_path, capsys):
    argv = ["simulate", "bernoulli", "--p0", "0.2", "--num-samples", "10", "--generations", "6"]
    assert main([*argv, "--replicates", "400", "--seed", "1", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("bernoulli: p0=0.2, M=10, n=6, R=400, seed entropy=1")
    assert out[1].split() == ["generation", "p", "mean", "p(1-p)", "mean", "P(p=0)", "P(p=1)"]
    assert [line.split()[0] for line in out[2:9]] == [str(n) for n in range(7)]
    assert out[2].split()[1:] == ["0.2", "0.16", "0", "0"]
    saved = ct.SimulationResult.load(tmp_path / "run.npz")
    assert saved["p"].shape == (7, 400) and saved.metadata["model"] == "bernoulli"
    for bad, message in (
        (["--p0", "1.5"], "p0 must be <= 1"),
        (["--p0", "half"], "--p0 must be a number"),
        (["--num-samples", "0"], "num_samples must be an integer >= 1"),
    ):
        assert main([*argv, *bad]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        err = captured.err.strip()
        assert err.startswith("collapse-theory: error: ") and "\n" not in err and message in err


# --------------------------------------------------------------------------------------------
# unregistering


def test_unregistered_family_is_listed_nowhere(capsys):
    assert not any(_listed_anywhere(capsys).values())
    families.register("bernoulli", PACKAGE)
    try:
        listed = _listed_anywhere(capsys)  # every registry loads (and caches) the family
        assert all(listed.values()), listed
    finally:
        _unregister()
    listed = _listed_anywhere(capsys)
    assert not any(listed.values()), [where for where, found in listed.items() if found]
    with pytest.raises(ValueError, match="no check named or starting with 'bernoulli'"):
        ct.verify.run(only=["bernoulli"])
    with pytest.raises(ValueError, match="unknown figure"):
        _figures.get("verify_bernoulli")
    with pytest.raises(ValueError, match=r"unknown 'bernoulli\.simulate'"):
        sweep.registry.resolve("bernoulli.simulate")
    # Registering again brings everything back (the registries import the family afresh), and
    # the caching registries listen to the family registry once, however often it changes.
    listeners = len(families._listeners)
    families.register("bernoulli", PACKAGE)
    try:
        assert all(_listed_anywhere(capsys).values())
        assert len(ct.verify.checks("bernoulli")) == 2
    finally:
        _unregister()
    assert not any(_listed_anywhere(capsys).values())
    assert len(families._listeners) == listeners
