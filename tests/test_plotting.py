"""Tests of collapse_theory.plotting: every registered figure builds (quick), is labelled, saves."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

import collapse_theory as ct
from collapse_theory import plotting
from collapse_theory._validate import InputError, InputTypeError


@pytest.fixture(scope="module")
def quick_figures() -> dict[str, Figure]:
    return {name: build(seed=0, quick=True) for name, build in plotting.FIGURES.items()}


def test_registry_names_and_signatures() -> None:
    assert set(plotting.FIGURES) == {
        "w2_schedules",
        "variance_law",
        "categorical_survivors",
        "absorption_time",
        "tail_mass",
        "gmm_snapshots",
        "gmm_l2",
        "gmm_separation",
        "heat_death",
        "weighted_fresh",
        "kde_variance",
        "kde_kazdan",
        "regression_risk",
        "poisson_survival",
        "poisson_bernoulli_bounds",
        "lm_perplexity",
        "lm_unigram",
    }
    for name, build in plotting.FIGURES.items():
        assert build is getattr(plotting, f"figure_{name}")


@pytest.mark.parametrize("name", sorted(plotting.FIGURES))
def test_figure_is_labelled(quick_figures: dict[str, Figure], name: str) -> None:
    fig = quick_figures[name]
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.get_axes() if ax.get_visible()]  # hidden spare panels do not count
    assert len(axes) >= 2
    for ax in axes:
        assert ax.get_xlabel().strip(), f"{name}: unlabelled x-axis"
        assert ax.get_ylabel().strip(), f"{name}: unlabelled y-axis"
        assert ax.get_title().strip(), f"{name}: no title"
        assert ax.get_lines() or ax.collections, f"{name}: empty panel"
    # Curve figures carry a legend per panel (or one for the figure); the snapshot grid explains
    # its marks in one panel.
    with_legend = [ax for ax in axes if ax.get_legend() is not None]
    assert len(with_legend) == len(axes) or fig.legends or (name == "gmm_snapshots" and with_legend)


def test_figures_do_not_touch_pyplot_backend() -> None:
    backend = matplotlib.get_backend()
    plotting.FIGURES["variance_law"](seed=1, quick=True)
    assert matplotlib.get_backend() == backend


def test_save_figure_writes_png_and_pdf(quick_figures: dict[str, Figure], tmp_path) -> None:
    png, pdf = plotting.save_figure(quick_figures["w2_schedules"], tmp_path / "out", "w2")
    assert png == tmp_path / "out" / "w2.png" and pdf == tmp_path / "out" / "w2.pdf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000


def test_save_figure_rejects_bad_input(tmp_path) -> None:
    with pytest.raises(InputTypeError, match="fig"):
        plotting.save_figure("not a figure", tmp_path, "x")
    with pytest.raises(InputError, match="name"):
        plotting.save_figure(Figure(), tmp_path, "../escape")
    # The output directory is created, its parents never: a typo is an error naming it.
    missing = tmp_path / "no_such_parent" / "figures"
    with pytest.raises(InputError, match="no_such_parent"):
        plotting.save_figure(Figure(), missing, "x")
    assert not missing.parent.exists()


def _overlapping_legends(fig: Figure) -> list[str]:
    """Legends (of the axes or the figure) whose drawn box overlaps the data area of an axes."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.get_axes() if ax.get_visible()]
    legends = [*fig.legends, *(ax.get_legend() for ax in axes if ax.get_legend() is not None)]
    assert legends, "no legend at all"
    return [
        ", ".join(t.get_text() for t in legend.get_texts())
        for legend in legends
        for ax in axes
        if legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))
    ]


def test_tail_mass_legends_cover_no_data(quick_figures: dict[str, Figure]) -> None:
    assert _overlapping_legends(quick_figures["tail_mass"]) == []


def test_tail_loss_figure_legends_cover_no_data() -> None:
    """The two figures of the tail-loss table put one legend under the panels."""
    from collapse_theory import tails
    from collapse_theory.tails.figures import figure_regimes, figure_replace
    from collapse_theory.tails.table import TailLossTable

    p0 = ct.categorical.zipf(20, 1.2)
    tail = tails.CategoricalTail(lightest_mass=0.2)
    gens = np.arange(0, 41, 4)
    curves = {}
    for m in (10, 20):
        key = ("categorical", "Zipf(1.2) K=20", "mle", m)
        curves[(*key, "replace", "exact")] = tails.categorical_exact(p0, tail, m, gens)
        for regime, obj in (("replace", ct.Replace()), ("accumulate", ct.Accumulate())):
            curves[(*key, regime, "monte-carlo")] = tails.categorical_monte_carlo(
                p0, tail, m, gens, regime=obj, num_replicates=50, seed=m
            )
    table = TailLossTable(rows=[], agreement=[], curves=curves, settings={}, seconds=0.0)
    for draw in (figure_replace, figure_regimes):
        fig = draw(table)
        assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.get_axes())
        assert _overlapping_legends(fig) == []
    labels = [t.get_text() for t in figure_replace(table).legends[0].get_texts()]
    assert labels == ["M=10", "M=20", "Monte Carlo", "exact"]


def test_w2_squared_moments_mean_is_exact() -> None:
    for schedule in (20, ct.schedules.Linear(20, 20.0), ct.schedules.Power(20, 2.0)):
        mean, var = ct.gaussian.w2_squared_moments(schedule, 50)
        np.testing.assert_allclose(
            mean, ct.gaussian.expected_w2_squared(schedule, np.arange(51)), rtol=1e-8, atol=1e-12
        )
        assert var[0] == 0.0 and np.all(np.diff(var) > 0)


def test_w2_squared_moments_variance_against_monte_carlo() -> None:
    # Light tails at M = 200: the sample variance of W2^2 is a sound estimate.
    run = ct.gaussian.simulate(0.0, 1.0, 200, 30, num_replicates=100_000, record=[30], seed=3)
    w2 = run["mean"][0] ** 2 + (np.sqrt(run["var"][0]) - 1.0) ** 2
    _, var = ct.gaussian.w2_squared_moments(200, 30)
    # relative SE of a sample variance ~ sqrt((kurtosis - 1) / R) ~ 1.5 %; 5 SE margin
    assert abs(w2.var(ddof=1) / var[30] - 1.0) < 0.08
