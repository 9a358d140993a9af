"""The paper's GMM experiment (docs/theory.md §4): the one-call run, its figures, its command, and
the Monte Carlo KL between mixtures.

Statistical checks are z-tests with |z| < Z_CRIT = 4.0 at fixed seeds (two-sided false alarm
6.3e-5 each).
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import collapse_theory as ct
from collapse_theory import metrics, plotting
from collapse_theory.cli import main
from collapse_theory.gmm import Mixture, PaperExperiment, mixture_variance, paper_experiment

Z_CRIT = 4.0


@pytest.fixture(scope="module")
def small_run() -> PaperExperiment:
    return paper_experiment(
        num_samples=200, num_generations=60, snapshots=(0, 20, 60, 500), num_replicates=4, seed=7
    )


def test_experiment_shapes_and_l2(small_run: PaperExperiment) -> None:
    run = small_run
    assert run.snapshots == (0, 20, 60)  # 500 > num_generations is dropped
    np.testing.assert_array_equal(run.generations, np.arange(61))
    assert run.l2.shape == (61, 4) and run.variance.shape == (61, 4, 2)
    assert run.result["weights"].shape == (61, 4, 2)
    assert np.all(run.l2[0] == 0.0)
    assert np.all(run.l2[1:] > 0.0) and np.all(np.isfinite(run.l2))
    np.testing.assert_allclose(run.variance[0], 1.0)
    assert np.all(np.isfinite(run.variance)) and np.all(run.variance > 0)
    # the curve is l2_gmm to model 0, and the variance is the overall covariance diagonal
    mix = run.mixture(20, 3)
    assert run.l2[20, 3] == pytest.approx(metrics.l2_gmm(mix, run.mixture0), rel=1e-12)
    samples = mix.sample(200_000, np.random.default_rng(0))
    np.testing.assert_allclose(run.variance[20, 3], samples.var(axis=0), rtol=0.02)
    rows = run.snapshot_table(1)
    assert [row["generation"] for row in rows] == [0, 20, 60]
    assert rows[0]["l2"] == 0.0 and rows[0]["weights"] == [0.5, 0.5]
    assert run.format_table().count("\n") == 2 + 2


def test_experiment_is_reproducible_and_validates() -> None:
    a = paper_experiment(num_generations=5, num_samples=100, seed=3, start="two-gaussians")
    b = paper_experiment(num_generations=5, num_samples=100, seed=3, start="two-gaussians")
    np.testing.assert_array_equal(a.l2, b.l2)
    np.testing.assert_allclose(a.variance[0, 0], [1.0 + 2.5**2, 1.0])
    with pytest.raises(ValueError, match="start"):
        paper_experiment(start="three-blobs", num_generations=1)
    with pytest.raises(ValueError, match="init"):
        paper_experiment(init="random", num_generations=1)
    with pytest.raises(ValueError, match="num_samples"):
        paper_experiment(num_samples=3, num_generations=1)


def test_mixture_variance_closed_form() -> None:
    w, m = [0.25, 0.75], [[-1.0, 0.0], [1.0, 2.0]]
    c = [np.eye(2), [[2.0, 0.5], [0.5, 1.0]]]
    # x: 0.25 * 1 + 0.75 * 2 + Var of the means (0.25 * 0.75 * 2^2); y: 1 + 0.75 * 0.25 * 2^2
    np.testing.assert_allclose(mixture_variance(w, m, c), [1.75 + 0.75, 1.0 + 0.75])


def test_variance_mean_follows_single_gaussian_law() -> None:
    """EM with full covariances and reg_covar 0 matches the sample (ddof 0) covariance, so the
    fitted mixture's per-dimension variance has E sigma_n^2 = sigma_0^2 ((N-1)/N)^n exactly
    (module docstring of collapse_theory.gmm.paper). Tested at N = 50, n = 40 (expected 0.446)
    over 300 chains; the two dimensions of a chain are averaged first (independent chains)."""
    n, size = 40, 50
    run = ct.gmm.simulate(
        ct.gmm.paper_start("blob"),
        size,
        n,
        num_replicates=300,
        init="kmeans++",
        record=[n],
        seed=11,
    )
    var = mixture_variance(run["weights"][0], run["means"][0], run["covs"][0]).mean(axis=1)
    expected = ((size - 1) / size) ** n
    z = (var.mean() - expected) / (var.std(ddof=1) / np.sqrt(var.size))
    assert abs(z) < Z_CRIT, (var.mean(), expected, z)
    # and it does collapse: the median is below the mean (log-scale drift, docs/theory.md §2.6)
    assert np.median(var) < expected


def test_figures_build_with_labels(small_run: PaperExperiment) -> None:
    snap = plotting.figure_gmm_snapshots(experiment=small_run)
    l2 = plotting.figure_gmm_l2(experiment=small_run)
    for fig in (snap, l2):
        assert isinstance(fig, Figure)
        visible = [ax for ax in fig.get_axes() if ax.get_visible()]
        for ax in visible:
            assert ax.get_xlabel().strip() and ax.get_ylabel().strip() and ax.get_title().strip()
    visible = [ax for ax in snap.get_axes() if ax.get_visible()]
    assert len(visible) == len(small_run.snapshots) + 1
    assert visible[1].get_title().startswith("generation 20")
    assert len(visible[0].patches) == 2  # one 2-sigma ellipse per component
    assert len(l2.get_axes()) == 2 and all(ax.get_yscale() == "log" for ax in l2.get_axes())
    with pytest.raises(TypeError, match="PaperExperiment"):
        plotting.figure_gmm_l2(experiment="not a run")


def test_cli_gmm_paper_writes_files(capsys, tmp_path) -> None:
    code = main(
        [
            "gmm-paper",
            "--generations",
            "30",
            "--num-samples",
            "100",
            "--replicates",
            "2",
            "--seed",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    for name in ("gmm_snapshots.png", "gmm_snapshots.pdf", "gmm_l2.png", "gmm_l2.pdf"):
        assert (tmp_path / name).stat().st_size > 1000
    csv = (tmp_path / "snapshots.csv").read_text().strip().splitlines()
    assert csv[0].startswith("replicate,generation,variance_x")
    assert len(csv) == 1 + 2 * 1  # only generation 0 of the paper's snapshots is <= 30
    csv_row = csv[1].split(",")
    assert csv_row[:2] == ["0", "0"] and float(csv_row[4]) == 0.0
    assert "## chain 1" in (tmp_path / "snapshots.md").read_text()
    assert "| generation |" in out and "per-dimension variance at generation 30" in out


def test_kl_gmm_identical_is_zero() -> None:
    mix = Mixture([0.3, 0.7], [[-1.0, 0.0], [2.0, 1.0]], [np.eye(2), [[2.0, 0.5], [0.5, 1.0]]])
    value, se = metrics.kl_gmm(mix, mix, num_samples=5000, seed=0)
    assert value == 0.0 and se == 0.0


@pytest.mark.parametrize(
    ("m1", "c1", "m2", "c2"),
    [
        ([0.0], [[1.0]], [1.0], [[2.0]]),
        ([0.0, 1.0], [[2.0, 0.3], [0.3, 1.0]], [0.5, 0.0], [[1.0, 0.0], [0.0, 1.0]]),
    ],
)
def test_kl_gmm_matches_gaussian_closed_form(m1, c1, m2, c2) -> None:
    a, b = Mixture([1.0], [m1], [c1]), Mixture([1.0], [m2], [c2])
    value, se = metrics.kl_gmm(a, b, num_samples=50_000, seed=4)
    exact = metrics.kl_gaussian(np.array(m1), np.array(c1), np.array(m2), np.array(c2))
    assert se > 0 and abs(value - exact) < Z_CRIT * se, (value, exact, se)


def test_kl_gmm_bad_input() -> None:
    a = Mixture([1.0], [[0.0]], [[[1.0]]])
    b = Mixture([1.0], [[0.0, 0.0]], [np.eye(2)])
    with pytest.raises(ValueError, match="dimension"):
        metrics.kl_gmm(a, b)
    with pytest.raises(ValueError, match="num_samples"):
        metrics.kl_gmm(a, a, num_samples=1)
    with pytest.raises(TypeError, match="Mixture"):
        metrics.kl_gmm(a, "b")
