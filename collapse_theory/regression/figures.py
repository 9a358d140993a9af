"""Figures of the regression family (docs/theory.md §5.2): exact risk against Monte Carlo."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from collapse_theory._figures import COLORS, band, caption, legend_below, new_figure, register
from collapse_theory.kde.options import AccumulateSubsample
from collapse_theory.regimes import Accumulate, FreshData, Replace
from collapse_theory.regression import theory
from collapse_theory.regression.simulate import simulate
from collapse_theory.rng import spawn

#: The figures' set-up (docs/theory.md §5.2's check).
D, T = 5, 20


@register("regression_risk", family="regression")
def figure_regression_risk(*, seed: Any = 0, quick: bool = False) -> Figure:
    """OLS, d = 5, T = 20, σ² = 1: (a) replace grows linearly, accumulate stays below
    (π²/6)σ²d/(T−d−1) (exact against MC ± 2 SE); (b) every regime side by side, OLS and ridge
    λ = 5 (MC ± 2 SE)."""
    n = 20 if quick else 50
    reps = 400 if quick else 4000
    gens = np.arange(n + 1)
    children = spawn(seed, 8)
    fig, (ax_exact, ax_all) = new_figure(9.0, 3.9, 2)
    w_star = np.ones(D)
    for i, regime in enumerate((Replace(), Accumulate())):
        run = simulate(w_star, T, n, regime=regime, num_replicates=reps, seed=children[i])
        name = type(regime).__name__.lower()
        ax_exact.plot(
            gens,
            theory.expected_excess_risk(D, T, gens, regime=regime),
            "-",
            color=COLORS[i],
            lw=1.2,
            label=f"{name}: exact",
        )
        band(ax_exact, gens, run["risk"], COLORS[i], f"{name}: MC")
    ax_exact.axhline(
        theory.accumulate_bound(D, T), color="0.3", ls="--", lw=0.9, label="(π²/6)σ²d/(T−d−1)"
    )
    ax_exact.set(
        xlabel="generation n",
        ylabel=r"$E\,\|\hat w_n - w^*\|^2_\Sigma$",
        title="(a) OLS: exact laws",
        yscale="log",
    )
    legend_below(ax_exact, ncols=2, fontsize=7)
    regimes = {
        "replace": Replace(),
        "fresh 20% split": FreshData(0.2, "split"),
        "accumulate": Accumulate(),
        "accumulate-subsample": AccumulateSubsample(),
    }
    curves = [
        (name, regime, ridge, children[2 + i] if ridge == 0 else children[2 + i].spawn(1)[0])
        for i, (name, regime) in enumerate(regimes.items())
        for ridge in ((0.0, 5.0) if name in ("replace", "accumulate") else (0.0,))
    ]
    for color, (name, regime, ridge, child) in zip((*COLORS, "0.35"), curves, strict=True):
        run = simulate(
            w_star, T, n, regime=regime, ridge=ridge, num_replicates=reps // 2, seed=child
        )
        band(ax_all, gens, run["risk"], color, name + (f", λ = {ridge:g}" if ridge else ""))
    ax_all.set(
        xlabel="generation n",
        ylabel=r"$E\,\|\hat w_n - w^*\|^2_\Sigma$",
        title="(b) regimes (MC ± 2 SE)",
        yscale="log",
    )
    legend_below(ax_all, ncols=2, fontsize=7)
    caption(fig, f"Linear regression, d = {D}, T = {T}, fixed design, σ² = 1, w* = 1, R = {reps}.")
    return fig


@register("verify_regression", kind="report", family="regression", checks=("regression.",))
def figure_verify_regression(seed: Any = 0, quick: bool = True) -> Figure:
    """The verify checks' set-up (d = 5, T = 20): E‖ŵ_n − w*‖²_Σ of OLS under replace and
    accumulate, exact against Monte Carlo, and the difference (docs/theory.md §5.2)."""
    n, reps = 20, 1000 if quick else 10_000
    gens = np.arange(n + 1)
    children = spawn(seed, 2)
    fig, (ax, ax_diff) = new_figure(8.4, 3.6, 2)
    for i, regime in enumerate((Replace(), Accumulate())):
        run = simulate(np.ones(D), T, n, regime=regime, num_replicates=reps, seed=children[i])
        exact = theory.expected_excess_risk(D, T, gens, regime=regime)
        name = type(regime).__name__.lower()
        ax.plot(gens, exact, "-", color=COLORS[i], lw=1.0, label=f"{name}: exact")
        band(ax, gens, run["risk"], COLORS[i], f"{name}: MC")
        band(ax_diff, gens, run["risk"], COLORS[i], name, theory=exact)
    ax.set(xlabel="generation n", ylabel="excess risk", title="(a) exact and MC ± 2 SE")
    legend_below(ax, ncols=2, fontsize=7)
    ax_diff.set(xlabel="generation n", ylabel="MC − exact", title="(b) simulation − theory")
    legend_below(ax_diff, ncols=2, fontsize=7)
    fig.suptitle(f"OLS regression, d = {D}, T = {T}, R = {reps}", fontsize=10)
    return fig
