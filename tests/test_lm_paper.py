"""``collapse-theory lm-paper`` (collapse_theory.lm.cli, lm.report, lm.figures): a quick run
with tiny sizes writes every file, the figures are labelled, bad input exits with status 2."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from matplotlib.figure import Figure

from collapse_theory._validate import InputError
from collapse_theory.cli import main
from collapse_theory.lm import figures as lm_figures
from collapse_theory.lm import report
from collapse_theory.lm.corpus import load_corpus
from collapse_theory.lm.simulate import LMRun
from collapse_theory.regimes import FreshData, Replace

TINY = ["--block-length", "12", "--num-sequences", "10", "--generations", "2"]


@pytest.fixture(scope="module")
def experiment():
    return report.paper_experiment(
        load_corpus("pydoc"),
        generations=2,
        block_length=12,
        num_sequences=12,
        unigram_replicates=3,
        regimes=(Replace(), FreshData(0.1, "split")),
        seed=3,
    )


def test_quick_cli_run_writes_every_file(tmp_path, capsys) -> None:
    out = tmp_path / "lm"
    argv = ["lm-paper", "--quick", *TINY, "--unigram-replicates", "3", "--out", str(out)]
    assert main(argv) == 0
    names = {p.name for p in out.iterdir()}
    for stem in ("lm_perplexity", "lm_unigram"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
    assert {"metrics.csv", "report.md", "run_replace.npz", "run_fresh-0.1-split.npz"} <= names
    with (out / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 3  # (replace, fresh, unigram) x generations 0..2
    for column in ("model", "regime", "generation", "test_perplexity_mean"):
        assert column in rows[0]
    assert {"sample_perplexity_gen0_mean", "surviving_types", "test_perplexity_median"} <= set(
        rows[0]
    )
    assert {(r["model"], r["regime"]) for r in rows} == {
        ("ngram", "replace"),
        ("ngram", "fresh:0.1:split"),
        ("unigram-mle", "replace"),
    }
    saved = LMRun.load(out / "run_replace.npz")
    assert saved.config["block_length"] == 12 and saved.config["policy"] == "TopP(p=0.9)"
    text = (out / "report.md").read_text()
    assert "test_perplexity_mean" in text and "exact E N_n" in text
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    "bad",
    [
        ["--order", "0"],
        ["--order", "6"],
        ["--policy", "top-k 0"],
        ["--policy", "top-p 0.9", "--beam", "5"],
        ["--paper-decoding", "--policy", "top-p 0.5"],
        ["--block-length", "1000000"],
        ["--prompt-length", "13"],
        ["--regime", "weighted:0.5:3"],
        ["--regime", "sometimes"],
        ["--num-sequences", "100000"],
        ["--keep-original", "1.5"],
    ],
)
def test_bad_input_exits_with_status_2(bad, tmp_path, capsys) -> None:
    assert main(["lm-paper", *TINY, "--out", str(tmp_path / "x"), *bad]) == 2
    assert "error" in capsys.readouterr().err


def test_metrics_rows_and_report(experiment) -> None:
    rows = report.metrics_rows(experiment)
    assert len(rows) == 9 and rows[0]["replicates"] == 1
    first = experiment.runs["replace"].summary()[1]
    row = next(r for r in rows if r["regime"] == "replace" and r["generation"] == 1)
    assert row["test_perplexity_mean"] == first["test_perplexity_mean"]
    md = report.markdown_report(experiment, header="hello")
    assert md.startswith("# lm-paper: ngram") and "hello" in md and "fresh:0.1:split" in md


def test_figures_are_labelled(experiment) -> None:
    runs = {"replace": experiment.runs["replace"], "kept": experiment.runs["fresh:0.1:split"]}
    for fig in (
        lm_figures.plot_perplexity_histograms(runs),
        lm_figures.plot_unigram_theory(experiment.unigram),
    ):
        assert isinstance(fig, Figure) and fig.legends
        for ax in fig.get_axes():
            assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
            assert ax.get_lines() or ax.patches or ax.collections


def test_unigram_figure_refuses_runs_where_the_law_is_not_exact(experiment) -> None:
    with pytest.raises(InputError, match="exact"):
        lm_figures.plot_unigram_theory(experiment.runs["replace"])


def test_paper_experiment_refuses_bad_input() -> None:
    with pytest.raises(InputError, match="model"):
        report.paper_experiment(model="lstm")
    with pytest.raises(InputError, match="beam"):
        report.paper_experiment(beam=5, policy="top-p 0.9")
    with pytest.raises(InputError, match="twice"):
        report.paper_experiment(regimes=(Replace(), Replace()), generations=0, num_sequences=2,
                                block_length=8, unigram_replicates=0)  # fmt: skip


def test_test_perplexity_rises_under_replace(experiment) -> None:
    """Fixed seed: the tiny run already shows the direction (sizes too small for magnitudes)."""
    run = experiment.runs["replace"]
    assert np.median(run.test_perplexity[:, 2]) > np.median(run.test_perplexity[:, 0])
