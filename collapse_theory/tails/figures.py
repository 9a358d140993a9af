"""Figures of the tail-loss table: median tail mass against generations / M."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from collapse_theory._figures import new_figure, register
from collapse_theory.tails.table import TailLossTable

__all__ = ["figure_regimes", "figure_replace"]

_COLORS = {10: "#1f77b4", 100: "#d62728", 1000: "#2ca02c"}
_REGIME_COLORS = {"replace": "#d62728", "fresh 10%": "#1f77b4", "accumulate": "#2ca02c"}
_FLOOR = 1e-4


def _figure(ncols: int) -> tuple[Figure, list[Axes]]:
    fig, axes = new_figure(3.6 * ncols, 3.4, ncols)
    for ax in axes:
        ax.set_yscale("log")
        ax.set_ylim(_FLOOR * 0.7, 2.0)
        ax.set_xlabel("generation n / M")
    axes[0].set_ylabel("median tail mass / original (0 drawn at 1e-4)")
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


def _relative(curve, values):
    return np.maximum(values / curve.initial_mass, _FLOOR)


@register("tail_loss_replace", kind="table")
def figure_replace(table: TailLossTable) -> Figure:
    """Replace: median tail mass / T0 against n / M for each M (Monte Carlo solid, exact or
    Rao–Blackwell dashed black); under Replace the curves for different M nearly coincide —
    the loss rate scales as 1/M."""
    panels = _panels(table)
    fig, axes = _figure(len(panels))
    for ax, (family, model, estimator, title) in zip(axes, panels, strict=True):
        for (f, mo, e, m, regime, method), curve in sorted(
            table.curves.items(), key=lambda kv: kv[0]
        ):
            if (f, mo, e, regime) != (family, model, estimator, "replace"):
                continue
            x = curve.generations / m
            if method == "monte-carlo":
                ax.plot(
                    x,
                    _relative(curve, curve.median),
                    "-",
                    color=_COLORS.get(m, "0.4"),
                    lw=1.6,
                    label=f"M={m} Monte Carlo",
                )
            else:
                ax.plot(
                    x,
                    _relative(curve, curve.median),
                    "--",
                    color="k",
                    lw=0.9,
                    label=f"{method}" if m == 10 else None,
                )
        ax.set_title(title, fontsize=9)
        ax.legend(loc="best")
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
        ax.legend(loc="best")
    fig.suptitle(
        "Fresh data and accumulation stop the tail loss (median, 10–90% band)", fontsize=10
    )
    return fig
