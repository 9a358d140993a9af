"""Figures of the KDE family (docs/theory.md §5.1): exact moment laws against Monte Carlo."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from collapse_theory._figures import COLORS, band, caption, legend_below, new_figure, register
from collapse_theory.kde import theory
from collapse_theory.kde.checks import MC, REGIMES
from collapse_theory.kde.simulate import simulate
from collapse_theory.kde.starts import STARTS, distance_to_start, named_start
from collapse_theory.rng import spawn


@register("kde_variance", family="kde")
def figure_kde_variance(*, seed: Any = 0, quick: bool = False) -> Figure:
    """Gaussian KDE of N(0, 1), M = 20: (a) a fixed bandwidth inflates the variance to M h^2
    when M h^2 > 1 and shrinks it otherwise; (b) the four regimes at h = 0.3. Exact curves
    against Monte Carlo means +- 2 SE (docs/theory.md §5.1)."""
    m, n = 20, 40 if quick else 100
    reps = 400 if quick else 4000
    gens = np.arange(n + 1)
    children = spawn(seed, 7)
    fig, (ax_h, ax_regime) = new_figure(9.0, 3.9, 2)
    h_star = theory.inflation_threshold(m)
    for i, factor in enumerate((1.5, 1.0, 0.5)):
        h = factor * h_star
        run = simulate(1.0, m, n, bandwidth=h, num_replicates=reps, seed=children[i])
        label = f"h = {factor:g} h*"
        ax_h.plot(
            gens,
            theory.expected_variance(m, gens, bandwidth=h),
            "-",
            color=COLORS[i],
            lw=1.2,
            label=f"{label}: exact",
        )
        band(ax_h, gens, run["var"], COLORS[i], f"{label}: MC")
    ax_h.set(
        xlabel="generation n",
        ylabel="E Var(model n)",
        title=f"(a) replace, h* = 1/sqrt(M) = {h_star:.3g}",
    )
    legend_below(ax_h, ncols=2, fontsize=7)
    for i, (name, regime) in enumerate(REGIMES.items()):
        run = simulate(
            1.0, m, n, bandwidth=MC["h"], regime=regime, num_replicates=reps, seed=children[3 + i]
        )
        ax_regime.plot(
            gens,
            theory.expected_variance(m, gens, bandwidth=MC["h"], regime=regime),
            "-",
            color=COLORS[i],
            lw=1.2,
            label=f"{name}: exact",
        )
        band(ax_regime, gens, run["var"], COLORS[i], f"{name}: MC")
    ax_regime.set(
        xlabel="generation n", ylabel="E Var(model n)", title=f"(b) regimes, h = {MC['h']}"
    )
    legend_below(ax_regime, ncols=2, fontsize=7)
    caption(fig, f"Gaussian KDE, N(0,1) start, M = {m}, R = {reps}; bands: MC mean ± 2 SE.")
    return fig


@register("verify_kde", kind="report", family="kde", checks=("kde.",))
def figure_verify_kde(seed: Any = 0, quick: bool = True) -> Figure:
    """The verify checks' set-up (M = 20, h = 0.3): E Var(model n) per regime, exact against
    Monte Carlo, and the difference (docs/theory.md §5.1)."""
    m, n, h = MC["M"], 2 * MC["n"], MC["h"]
    reps = 1000 if quick else 10_000
    gens = np.arange(n + 1)
    children = spawn(seed, len(REGIMES))
    fig, (ax, ax_diff) = new_figure(8.4, 3.6, 2)
    for i, (name, regime) in enumerate(REGIMES.items()):
        run = simulate(1.0, m, n, bandwidth=h, regime=regime, num_replicates=reps, seed=children[i])
        exact = theory.expected_variance(m, gens, bandwidth=h, regime=regime)
        ax.plot(gens, exact, "-", color=COLORS[i], lw=1.0, label=name)
        band(ax, gens, run["var"], COLORS[i], f"{name} MC")
        band(ax_diff, gens, run["var"], COLORS[i], name, theory=exact)
    ax.set(xlabel="generation n", ylabel="Var(model n)", title="(a) exact and MC ± 2 SE")
    legend_below(ax, ncols=4, fontsize=7)
    ax_diff.set(xlabel="generation n", ylabel="MC − exact", title="(b) simulation − theory")
    legend_below(ax_diff, ncols=4, fontsize=7)
    fig.suptitle(f"KDE, M = {m}, h = {h}, R = {reps}", fontsize=10)
    return fig


@register("kde_kazdan", family="kde")
def figure_kde_kazdan(*, seed: Any = 0, quick: bool = False) -> Figure:
    """Kazdan et al.'s 2-D starts (blobs, moons, circles, swiss roll; N = M points) refitted by
    a KDE: (a) energy distance and (b) W2 of dataset n to the start, Scott's rule (solid; its
    variance inflates geometrically, docs/theory.md §5.1) against a small fixed bandwidth
    (dashed). Monte Carlo means over chains."""
    m, n = (100, 20) if quick else (200, 40)
    reps = 3 if quick else 10
    gens = np.unique(np.linspace(0, n, 9).astype(np.int64))
    children = spawn(seed, 2 * len(STARTS) + 1)
    fig, (ax_energy, ax_w2) = new_figure(9.0, 3.9, 2)
    for i, name in enumerate(STARTS):
        start = named_start(name, m, seed=children[-1])
        scale = float(np.sqrt(np.trace(np.cov(start.T))))
        for j, (bandwidth, style) in enumerate((("scott", "-"), (0.05 * scale, "--"))):
            run = simulate(
                start,
                m,
                n,
                bandwidth=bandwidth,
                num_replicates=reps,
                record=gens,
                seed=children[2 * i + j],
                record_datasets=True,
            )
            label = f"{name}, " + ("Scott" if j == 0 else "h = 0.05 sd")
            for ax, metric in ((ax_energy, "energy"), (ax_w2, "w2")):
                distance = distance_to_start(run, start, metric=metric).mean(axis=1) / (
                    scale if metric == "w2" else 1.0
                )
                ax.plot(gens, distance, style, color=COLORS[i], marker=".", label=label)
    ax_energy.set(
        xlabel="generation n",
        ylabel="energy distance to the start",
        title="(a) energy distance",
        yscale="log",
    )
    ax_w2.set(
        xlabel="generation n",
        ylabel="W2 to the start / sd of the start",
        title="(b) Wasserstein-2",
        yscale="log",
    )
    legend_below(ax_energy, ncols=2, fontsize=7)
    legend_below(ax_w2, ncols=2, fontsize=7)
    caption(fig, f"KDE chains from scikit-learn's 2-D generators, N = M = {m}, R = {reps}.")
    return fig
