"""The paper's GMM experiment (docs/theory.md §4.1–§4.2): the authors' protocol as defaults, the
one-call run and its distances, its figures, its command, and the Monte Carlo KL between
mixtures.

Statistical checks are z-tests with |z| < Z_CRIT = 4.0 at fixed seeds (two-sided false alarm
6.3e-5 each).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure

import collapse_theory as ct
from collapse_theory import metrics, plotting
from collapse_theory._stats import mean_z
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.cli import build_parser, main
from collapse_theory.gmm import Mixture, PaperExperiment, mixture_variance, paper_experiment
from collapse_theory.gmm.mixture import l2_squared_batched

Z_CRIT = 4.0


@pytest.fixture(scope="module")
def small_run() -> PaperExperiment:
    return paper_experiment(
        num_samples=200, num_generations=60, snapshots=(0, 20, 60, 500), num_replicates=4, seed=7
    )


def test_defaults_are_the_authors_protocol() -> None:
    """docs/theory.md §4.1: reg_covar 1e-6, k-means++ every generation, tol 1e-5, max_iter 2000,
    N = 1000, 2050 fits, the paper's snapshots; in Python and on the command line."""
    assert ct.gmm.PAPER_PROTOCOL == {
        "num_samples": 1000,
        "num_generations": 2050,
        "init": "kmeans++",
        "reg_covar": 1e-6,
        "tol": 1e-5,
        "max_iter": 2000,
    }
    defaults = {
        name: p.default for name, p in inspect.signature(paper_experiment).parameters.items()
    }
    for name, value in ct.gmm.PAPER_PROTOCOL.items():
        assert defaults[name] == value, name
    assert (
        tuple(defaults["snapshots"]) == ct.gmm.PAPER_SNAPSHOTS == (0, 50, 100, 150, 200, 350, 2000)
    )
    cli = vars(build_parser().parse_args(["gmm-paper"]))
    assert cli["num_samples"] == 1000 and cli["generations"] == 2050
    assert cli["init"] == "kmeans++" and cli["reg_covar"] == 1e-6
    assert cli["tol"] == 1e-5 and cli["max_iter"] == 2000
    assert cli["snapshots"] == list(ct.gmm.PAPER_SNAPSHOTS)
    run = paper_experiment(num_generations=3, num_samples=100, seed=0)
    assert (run.init, run.reg_covar, run.tol, run.max_iter) == ("kmeans++", 1e-6, 1e-5, 2000)
    assert run.result.metadata["parameters"]["reg_covar"] == 1e-6
    assert "reg_covar=1e-06" in run.protocol()


def test_experiment_shapes_and_distances(small_run: PaperExperiment) -> None:
    run = small_run
    assert run.snapshots == (0, 20, 60)  # 500 > num_generations is dropped
    np.testing.assert_array_equal(run.generations, np.arange(61))
    for array in (
        run.l2_squared_to_first_fit,
        run.l2_to_first_fit,
        run.l2_squared_to_truth,
        run.l2_to_truth,
    ):
        assert array.shape == (61, 4) and np.all(np.isfinite(array)) and np.all(array >= 0)
    assert run.variance.shape == (61, 4, 2) and run.component_std.shape == (61, 4, 2)
    assert np.all(run.l2_squared_to_truth[0] == 0.0) and np.all(run.l2_squared_to_first_fit[1] == 0)
    np.testing.assert_array_equal(run.l2_to_truth, np.sqrt(run.l2_squared_to_truth))
    np.testing.assert_array_equal(run.l2_to_first_fit, np.sqrt(run.l2_squared_to_first_fit))
    # the distances are metrics.l2_gmm (a separate implementation) to model 0 and to generation 1
    for g, r in [(0, 1), (2, 0), (20, 3), (60, 2)]:
        mix, first = run.mixture(g, r), run.mixture(1, r)
        assert run.l2_squared_to_truth[g, r] == pytest.approx(
            metrics.l2_gmm(mix, run.mixture0, squared=True), rel=1e-9, abs=1e-15
        )
        assert run.l2_squared_to_first_fit[g, r] == pytest.approx(
            metrics.l2_gmm(mix, first, squared=True), rel=1e-9, abs=1e-15
        )
        # the paper's per-component std: sqrt(tr C_k / 2)
        np.testing.assert_allclose(
            run.component_std[g, r], [np.sqrt(np.trace(c) / 2) for c in mix.covs], rtol=1e-15
        )
    np.testing.assert_allclose(run.variance[0], 1.0)
    np.testing.assert_allclose(run.component_std[0], 1.0)
    assert np.all(np.isfinite(run.variance)) and np.all(run.variance > 0)
    samples = run.mixture(20, 3).sample(200_000, np.random.default_rng(0))
    np.testing.assert_allclose(run.variance[20, 3], samples.var(axis=0), rtol=0.02)
    assert not run.degenerate.any() and not run.degenerate_chains().any()
    assert "none in 4 chain(s)" in run.degeneracy_summary()
    rows = run.snapshot_table(1)
    assert [row["generation"] for row in rows] == [0, 20, 60]
    assert rows[0]["l2_to_truth"] == 0.0 and rows[0]["weights"] == [0.5, 0.5]
    assert rows[0]["component_std"] == [1.0, 1.0] and rows[0]["degenerate"] == [False, False]
    table = run.format_table()
    assert table.count("\n") == 2 + 2 and "squared L2 to first fit" in table


def test_l2_squared_batched_matches_l2_gmm_and_flags_singular_pairs() -> None:
    """The vectorised closed form against metrics.l2_gmm, pair by pair: random mixtures, a lost
    component (weight 0, ignored), and a singular component (no finite L2 norm: inf)."""
    rng = np.random.default_rng(5)

    def random_mixture(k: int) -> Mixture:
        factors = rng.normal(size=(k, 2, 2))
        covs = factors @ factors.transpose(0, 2, 1) + 0.05 * np.eye(2)
        return Mixture(rng.dirichlet(np.ones(k)), rng.normal(size=(k, 2)), covs)

    pairs = [(random_mixture(2), random_mixture(3)) for _ in range(6)]
    lost = Mixture([1.0, 0.0], [[0.0, 0.0], [9.0, 9.0]], [np.eye(2), np.zeros((2, 2))])
    pairs.append((lost, random_mixture(2)))
    a = [np.stack([getattr(p[0], n) for p in pairs[:6]]) for n in ("weights", "means", "covs")]
    b = [np.stack([getattr(p[1], n) for p in pairs[:6]]) for n in ("weights", "means", "covs")]
    batched = l2_squared_batched(*a, *b)
    for i, (f, g) in enumerate(pairs[:6]):
        assert batched[i] == pytest.approx(metrics.l2_gmm(f, g, squared=True), rel=1e-10)
    f, g = pairs[6]
    one = l2_squared_batched(f.weights, f.means, f.covs, g.weights, g.means, g.covs)
    assert one == pytest.approx(metrics.l2_gmm(f, g, squared=True), rel=1e-10)
    line = np.diag([1.0, 0.0])  # rank 1: a density on the x axis
    singular = Mixture([0.5, 0.5], [[0.0, 0.0], [1.0, 0.0]], [np.eye(2), line])
    with pytest.raises(ValueError):
        metrics.l2_gmm(singular, g)
    value = l2_squared_batched(
        singular.weights, singular.means, singular.covs, g.weights, g.means, g.covs
    )
    assert value == np.inf


def test_experiment_is_reproducible_and_validates() -> None:
    a = paper_experiment(num_generations=5, num_samples=100, seed=3, start="two-gaussians")
    b = paper_experiment(num_generations=5, num_samples=100, seed=3, start="two-gaussians")
    np.testing.assert_array_equal(a.l2_squared_to_first_fit, b.l2_squared_to_first_fit)
    np.testing.assert_allclose(a.variance[0, 0], [1.0 + 2.5**2, 1.0])
    with pytest.raises(InputError, match="start"):
        paper_experiment(start="three-blobs", num_generations=1)
    with pytest.raises(InputError, match="init"):
        paper_experiment(init="random", num_generations=1)
    with pytest.raises(InputError, match="num_samples"):
        paper_experiment(num_samples=3, num_generations=1)
    with pytest.raises(InputError, match="reg_covar"):
        paper_experiment(reg_covar=-1e-6, num_generations=1)
    with pytest.raises(InputTypeError, match="num_generations"):
        paper_experiment(num_generations=10.0)
    with pytest.raises(InputTypeError, match="num_replicates"):
        paper_experiment(num_generations=1, num_replicates="2")
    with pytest.raises(InputError, match="num_replicates=1000000000"):
        paper_experiment(num_replicates=10**9)  # refused before anything is allocated
    no_fit = paper_experiment(num_generations=0, seed=0)
    assert np.isnan(no_fit.l2_squared_to_first_fit).all() and no_fit.l2_to_truth[0, 0] == 0.0


def test_mixture_variance_closed_form() -> None:
    w, m = [0.25, 0.75], [[-1.0, 0.0], [1.0, 2.0]]
    c = [np.eye(2), [[2.0, 0.5], [0.5, 1.0]]]
    # x: 0.25 * 1 + 0.75 * 2 + Var of the means (0.25 * 0.75 * 2^2); y: 1 + 0.75 * 0.25 * 2^2
    np.testing.assert_allclose(mixture_variance(w, m, c), [1.75 + 0.75, 1.0 + 0.75])


@pytest.mark.parametrize("reg_covar", [0.0, 0.01])
def test_variance_mean_follows_exact_law(reg_covar: float) -> None:
    """docs/theory.md §4.2: every M step makes the mixture's overall covariance the ddof-0
    sample covariance plus c I, so E sigma_n^2 = sigma_0^2 r^n + c N (1 - r^n), r = (N-1)/N.
    Tested at N = 50, n = 40 (r^n = 0.446; c N (1 - r^n) = 0.277 for c = 0.01) over 300 chains;
    the two dimensions of a chain are averaged first (independent chains). The law without the
    floor term is refused at c = 0.01 (the test has the power to see the floor)."""
    n, size = 40, 50
    with warnings.catch_warnings():
        # without the floor a few chains end degenerate; the identity holds for them too
        warnings.simplefilter("ignore", ct.gmm.DegenerateFitWarning)
        run = ct.gmm.simulate(
            ct.gmm.paper_start("blob"),
            size,
            n,
            num_replicates=300,
            init="kmeans++",
            reg_covar=reg_covar,
            record=[n],
            seed=11,
        )
    var = mixture_variance(run["weights"][0], run["means"][0], run["covs"][0]).mean(axis=1)
    expected = float(ct.gmm.expected_mixture_variance(1.0, size, n, reg_covar))
    assert abs(mean_z(var, expected)) < Z_CRIT, (var.mean(), expected)
    if reg_covar > 0:
        assert abs(mean_z(var, float(ct.gmm.expected_mixture_variance(1.0, size, n)))) > Z_CRIT
    # and it does collapse: the median is below the mean (log-scale drift, docs/theory.md §2.6)
    assert np.median(var) < expected


def _legend_overlaps_data(ax) -> bool:
    """Whether the axes' legend box intersects its data area (both in display coordinates)."""
    legend = ax.get_legend()
    renderer = ax.figure.canvas.get_renderer()
    return legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


def test_figures_build_with_labels_and_legends_off_the_data(small_run: PaperExperiment) -> None:
    snap = plotting.figure_gmm_snapshots(experiment=small_run)
    l2 = plotting.figure_gmm_l2(experiment=small_run)
    for fig in (snap, l2):
        assert isinstance(fig, Figure)
        fig.canvas.draw()
        for ax in [ax for ax in fig.get_axes() if ax.get_visible()]:
            assert ax.get_xlabel().strip() and ax.get_ylabel().strip() and ax.get_title().strip()
            if ax.get_legend() is not None:
                assert not _legend_overlaps_data(ax), ax.get_title()
    visible = [ax for ax in snap.get_axes() if ax.get_visible()]
    # a shared-scale row and a zoomed row per snapshot, then variance and component stds
    assert len(visible) == 2 * len(small_run.snapshots) + 2
    assert visible[2].get_title().startswith("generation 20")
    shared = visible[0:6:2]
    assert len({ax.get_xlim() for ax in shared}) == 1 and len({ax.get_ylim() for ax in shared}) == 1
    assert len(visible[0].patches) == 2  # one 2-sigma ellipse per component
    assert "N(0, I)" in snap.get_supxlabel()
    l2_axes = l2.get_axes()
    assert len(l2_axes) == 3 and all(ax.get_yscale() == "log" for ax in l2_axes)
    with pytest.raises(InputTypeError, match="PaperExperiment"):
        plotting.figure_gmm_l2(experiment="not a run")


def test_two_gaussian_start_has_its_own_caption_and_per_dimension_references() -> None:
    """Issue 13: the caption names the start, and each dimension is compared with its own exact
    mean (sigma_0^2 = 7.25 and 1 for the two-Gaussian start), never pooled."""
    run = paper_experiment(start="two-gaussians", num_samples=100, num_generations=20, seed=2)
    snap = plotting.figure_gmm_snapshots(experiment=run)
    assert "(∓2.5, 0)" in snap.get_supxlabel()
    assert "N(0, I)" not in snap.get_supxlabel()
    l2 = plotting.figure_gmm_l2(experiment=run)
    ax_var = l2.get_axes()[1]
    starts = sorted(
        round(float(line.get_ydata()[0]), 6)
        for line in ax_var.get_lines()
        if line.get_linestyle() == "--"
    )
    assert starts == [1.0, 7.25]
    medians = [line for line in ax_var.get_lines() if line.get_linewidth() == 2.0]
    assert len(medians) == 2  # one median per dimension
    np.testing.assert_allclose(medians[0].get_ydata(), np.median(run.variance[:, :, 0], axis=1))


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
            "--reg-covar",
            "0",
            "--snapshots",
            "0,10,30",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "paper"),
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    for name in ("gmm_snapshots.png", "gmm_snapshots.pdf", "gmm_l2.png", "gmm_l2.pdf"):
        assert (tmp_path / "paper" / name).stat().st_size > 1000
    csv = (tmp_path / "paper" / "snapshots.csv").read_text().strip().splitlines()
    assert csv[0].startswith("replicate,generation,variance_x,variance_y,std_component_1")
    assert "l2_squared_to_first_fit" in csv[0] and csv[0].endswith("degenerate_2")
    assert len(csv) == 1 + 2 * 3
    csv_row = csv[1].split(",")
    assert csv_row[:2] == ["0", "0"] and float(csv_row[6]) == 0.0  # l2 to truth at generation 0
    assert "## chain 1" in (tmp_path / "paper" / "snapshots.md").read_text()
    assert "reg_covar=0" in out and "per-component std at generation 30" in out
    assert "degenerate components" in out


def test_cli_gmm_paper_refuses_a_missing_parent(capsys, tmp_path) -> None:
    target = tmp_path / "missing" / "paper"
    code = main(["gmm-paper", "--generations", "2", "--num-samples", "50", "--out", str(target)])
    _, err = capsys.readouterr()
    assert code == 2 and "does not exist" in err
    assert not (tmp_path / "missing").exists()
    for bad in (
        ["--reg-covar", "-1"],
        ["--tol", "0"],
        ["--generations", "1e3"],
        ["--snapshots", "a"],
    ):
        assert main(["gmm-paper", *bad]) == 2
    _, err = capsys.readouterr()
    assert "--reg-covar" in err and "--tol" in err and "--generations" in err


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
