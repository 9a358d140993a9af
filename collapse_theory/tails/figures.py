"""Figures of the tail-loss table: median tail mass against generations / M.

Both figures put one legend under the panels (``_figures.figure_legend``): the curves run
from the top left to the bottom right of every panel, so no place inside the axes is free.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from collapse_theory._figures import figure_legend, new_figure, register
from collapse_theory.tails.curves import TailCurve
from collapse_theory.tails.table import TailLossTable

__all__ = ["figure_regimes", "figure_replace"]

_COLORS = {10: "#1f77b4", 100: "#d62728", 1000: "#2ca02c"}
_REGIME_COLORS = {"replace": "#d62728", "fresh 10%": "#1f77b4", "accumulate": "#2ca02c"}
_FLOOR = 1e-4
_MAX_COLUMNS = 5


def _figure(count: int) -> tuple[Figure, list[Axes]]:
    """``count`` panels, at most :data:`_MAX_COLUMNS` to a row (spare panels hidden)."""
    ncols = min(count, _MAX_COLUMNS)
    nrows = -(-count // ncols)
    fig, axes = new_figure(3.6 * ncols, 3.2 * nrows + 0.7, ncols, nrows=nrows)
    for spare in axes[count:]:
        spare.set_visible(False)
    axes = axes[:count]
    for i, ax in enumerate(axes):
        ax.set_yscale("log")
        ax.set_ylim(_FLOOR * 0.7, 2.0)
        ax.set_xlabel("generation n / M")
        if i % ncols == 0:
            ax.set_ylabel("median tail mass / original\n(0 drawn at 1e-4)")
    return fig, axes


def _panels(table: TailLossTable) -> list[tuple[str, str, str, str]]:
    """(family, model, estimator, title) of the panels, in the table's row order; the estimator
    is named when a model has more than one."""
    keys = list(dict.fromkeys((k[0], k[1], k[2]) for k in table.curves))
    estimators: dict[tuple[str, str], int] = {}
    for family, model, _ in keys:
        estimators[(family, model)] = estimators.get((family, model), 0) + 1
    return [
        (f, m, e, f"{f} {m}" + (f", {e}" if estimators[(f, m)] > 1 else "")) for f, m, e in keys
    ]


def _relative(curve: TailCurve, values: np.ndarray) -> np.ndarray:
    return np.maximum(values / curve.initial_mass, _FLOOR)


@register("tail_loss_replace", kind="table")
def figure_replace(table: TailLossTable) -> Figure:
    """Replace: median tail mass / T0 against n / M for each M (Monte Carlo solid, the exact or
    Rao–Blackwell law dashed, in the colour of its M); under Replace the curves for different M
    nearly coincide — the loss rate scales as 1/M."""
    panels = _panels(table)
    fig, axes = _figure(len(panels))
    references = set()
    for ax, (family, model, estimator, title) in zip(axes, panels, strict=True):
        for (f, mo, e, m, regime, method), curve in sorted(table.curves.items()):
            if (f, mo, e, regime) != (family, model, estimator, "replace"):
                continue
            monte_carlo = method == "monte-carlo"
            if not monte_carlo:
                references.add(method)
            ax.plot(
                curve.generations / m,
                _relative(curve, curve.median),
                "-" if monte_carlo else "--",
                color=_COLORS.get(m, "0.4"),
                lw=1.6 if monte_carlo else 1.1,
                label=f"M={m}" if monte_carlo else None,
            )
        ax.set_title(title, fontsize=9)
    styles = [Line2D([], [], color="k", lw=1.6, label="Monte Carlo")]
    if references:
        styles.append(
            Line2D([], [], color="k", ls="--", lw=1.1, label=" or ".join(sorted(references)))
        )
    figure_legend(fig, axes, extra=styles)
    fig.suptitle("Replace: the typical model loses its tail on the time scale M", fontsize=10)
    return fig


@register("tail_loss_regimes", kind="table")
def figure_regimes(table: TailLossTable) -> Figure:
    """Median tail mass / T0 (10%–90% band shaded) for replace, fresh 10% and accumulate at
    M = 100 (the largest M in the table if 100 is absent): fresh data and accumulation stop the
    loss."""
    panels = _panels(table)
    sizes = sorted({k[3] for k in table.curves})
    m_show = 100 if 100 in sizes else sizes[-1]
    fig, axes = _figure(len(panels))
    for ax, (family, model, estimator, title) in zip(axes, panels, strict=True):
        for regime, color in _REGIME_COLORS.items():
            curve = table.curves.get((family, model, estimator, m_show, regime, "monte-carlo"))
            if curve is None:
                continue
            x = curve.generations / m_show
            ax.fill_between(
                x,
                _relative(curve, curve.quantiles[0]),
                _relative(curve, curve.quantiles[1]),
                color=color,
                alpha=0.15,
                lw=0,
            )
            ax.plot(x, _relative(curve, curve.median), color=color, lw=1.6, label=regime)
        ax.set_title(f"{title}, M={m_show}", fontsize=9)
    band = Patch(color="0.5", alpha=0.3, lw=0, label="10–90% of replicates")
    figure_legend(fig, axes, extra=[band])
    fig.suptitle(
        "Fresh data and accumulation stop the tail loss (median, 10–90% band)", fontsize=10
    )
    return fig
