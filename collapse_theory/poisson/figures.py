r"""Figures of the Poisson family (registered with :mod:`collapse_theory._figures`).

Paper figures: ``poisson_survival`` (the exact law of :math:`P(\hat\lambda_k > 0)` and the
variance in each regime against Monte Carlo, docs/theory.md §5.3) and
``poisson_bernoulli_bounds`` (the Bernoulli case: Suresh's and the martingale bound beside the
exact law, and the accumulate ratio approaching :math:`R_M`, §1.1, §1.8, §5.3). Report figure:
``verify_poisson``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from collapse_theory import poisson
from collapse_theory._figures import (
    COLORS,
    band,
    caption,
    legend_below,
    log_grid,
    mc_points,
    new_figure,
    register,
)
from collapse_theory._stats import proportion_se
from collapse_theory.poisson import bernoulli
from collapse_theory.regimes import Accumulate, FreshData, Replace
from collapse_theory.rng import SeedLike, spawn

#: (label, regime) of the variance panel.
_REGIMES = (
    ("replace", Replace()),
    ("fresh 20% (mix)", FreshData(0.2)),
    ("accumulate", Accumulate()),
)


@register("poisson_survival", family="poisson")
def figure_poisson_survival(*, seed: SeedLike = 0, quick: bool = False) -> Figure:
    r"""Poisson rate refitted on n draws (docs/theory.md §5.3; the example of docs/poisson.md).

    Panel (a): :math:`P(\hat\lambda_k > 0) = 1 - e^{-n\lambda_0 g_k}`, exact, for
    :math:`n\lambda_0` = 2, 10 and 50, against Monte Carlo proportions ± 2 SE, with the
    large-k form :math:`1 - e^{-2n\lambda_0/k}`. Panel (b): :math:`\mathrm{Var}\,\hat\lambda_k /
    (\lambda_0/n)` under Replace (k), fresh data and Accumulate (:math:`\to\pi^2/6`), exact
    against Monte Carlo ± 2 SE.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        R = 4000 instead of R = 40000.

    Returns
    -------
    matplotlib.figure.Figure
    """
    reps = 4_000 if quick else 40_000
    n, k_max = 5, 200
    seeds = spawn(seed, 6)
    fig, (ax_p, ax_v) = new_figure(10.0, 4.2, 2)
    record = log_grid(k_max, 14)
    gens = np.arange(1, k_max + 1)
    for color, rate0, child in zip(COLORS, (0.4, 2.0, 10.0), seeds[:3], strict=False):
        exact = poisson.nonzero_probability(rate0, n, gens)
        ax_p.plot(gens, exact, color=color, lw=1.6, label=f"exact, $n\\lambda_0={n * rate0:g}$")
        ax_p.plot(gens, -np.expm1(-2 * n * rate0 / gens), ":", color=color, lw=1.0)
        run = poisson.simulate(rate0, n, k_max, num_replicates=reps, record=record, seed=child)
        alive = [proportion_se(row > 0) for row in run["rate"]]
        mc_points(ax_p, record, *np.array(alive).T, color)
    ax_p.plot([], [], ":", color="0.3", label="$1 - e^{-2n\\lambda_0/k}$")
    ax_p.plot([], [], "o", mfc="white", color="0.3", ms=3.5, label=f"MC ± 2 SE ($R={reps:,}$)")
    ax_p.set_xscale("log")
    ax_p.set(xlabel="generation $k$", ylabel="$P(\\hat\\lambda_k > 0)$")
    ax_p.set_title(f"(a) the rate is still positive, $n={n}$")
    legend_below(ax_p, fontsize=7)

    rate0, k_var = 2.0, 40
    gens_v = np.arange(1, k_var + 1)  # Var = 0 at k = 0: off the log scale
    for color, (label, regime), child in zip(COLORS, _REGIMES, seeds[3:], strict=False):
        _, var = poisson.moments(rate0, n, gens_v, regime)
        ax_v.plot(gens_v, var * n / rate0, color=color, lw=1.6, label=f"exact, {label}")
        run = poisson.simulate(rate0, n, k_var, num_replicates=reps, regime=regime, seed=child)
        scaled = (run["rate"] - rate0) ** 2 * n / rate0
        band(ax_v, run.generations[1:], scaled[1:], color, f"MC ± 2 SE, {label}")
    ax_v.axhline(np.pi**2 / 6, color="0.4", lw=0.8, ls="--", label="$\\pi^2/6$")
    ax_v.set_yscale("log")
    ax_v.set(
        xlabel="generation $k$", ylabel="$\\mathrm{Var}\\,\\hat\\lambda_k\\,/\\,(\\lambda_0/n)$"
    )
    ax_v.set_title(f"(b) variance by regime, $\\lambda_0={rate0:g}$, $n={n}$")
    legend_below(ax_v, fontsize=7)
    caption(
        fig,
        "Poisson rate refitted (sample mean) on n draws a generation; dotted: the large-k form "
        "of the exact law. Bands: Monte Carlo mean ± 2 SE.",
    )
    return fig


@register("poisson_bernoulli_bounds", family="poisson")
def figure_poisson_bernoulli_bounds(*, seed: SeedLike = 0, quick: bool = False) -> Figure:
    r"""The Bernoulli case: the 2-state chain's exact law beside published bounds
    (docs/theory.md §1.1, §1.8, §5.3).

    Panel (a): :math:`P(p_k > 0)` exact with Suresh et al.'s lower bound
    :math:`1 - e^{-Mp_0/k}`, and :math:`P(p_k \notin \{0,1\})` exact with the martingale upper
    bound :math:`M^2p_0(1-p_0)(1-1/M)^k/(M-1)`, for :math:`p_0 = 0.1`, M = 20, against Monte
    Carlo ± 2 SE. Panel (b): under Accumulate, :math:`M\mathrm{Var}\,p_k/(p_0(1-p_0))` exact
    for M = 5, 20, 50, with the limits :math:`R_M` and :math:`\pi^2/6`.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        R = 4000 instead of R = 40000 Monte Carlo chains.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from collapse_theory import categorical

    reps = 4_000 if quick else 40_000
    p0, m, k_max = 0.1, 20, 150
    (child,) = spawn(seed, 1)
    gens = np.arange(0, k_max + 1)
    record = log_grid(k_max, 14)
    run = categorical.simulate(
        [p0, 1 - p0], m, k_max, num_replicates=reps, record=record, seed=child
    )
    p = run["p"][..., 0]
    fig, (ax_b, ax_r) = new_figure(10.0, 4.2, 2)
    ax_b.plot(
        gens,
        bernoulli.nonzero_probability(p0, m, gens),
        color=COLORS[0],
        lw=1.6,
        label="$P(p_k > 0)$ exact",
    )
    ax_b.plot(
        gens,
        bernoulli.suresh_lower_bound(p0, m, gens),
        "--",
        color=COLORS[0],
        lw=1.0,
        label="Suresh et al. lower bound",
    )
    mc_points(ax_b, record, *np.array([proportion_se(row > 0) for row in p]).T, COLORS[0])
    alive = 1.0 - np.asarray(bernoulli.collapse_probability(p0, m, gens))
    ax_b.plot(gens, alive, color=COLORS[1], lw=1.6, label="$P(p_k \\notin \\{0,1\\})$ exact")
    ax_b.plot(
        gens,
        bernoulli.martingale_upper_bound(p0, m, gens),
        "--",
        color=COLORS[1],
        lw=1.0,
        label="martingale upper bound (§1.1)",
    )
    interior = (p > 0) & (p < 1)
    mc_points(
        ax_b,
        record,
        *np.array([proportion_se(row) for row in interior]).T,
        COLORS[1],
        label=f"MC ± 2 SE ($R={reps:,}$)",
    )
    ax_b.set(xlabel="generation $k$", ylabel="probability", ylim=(0, 1.05))
    ax_b.set_title(f"(a) Bernoulli($p_0={p0}$), $M={m}$: exact law and bounds")
    legend_below(ax_b, fontsize=7)

    ks = log_grid(10_000, 60)
    for color, size in zip(COLORS, (5, 20, 50), strict=False):
        ax_r.plot(
            ks, bernoulli.accumulate_ratio(size, ks), color=color, lw=1.6, label=f"$M={size}$"
        )
        ax_r.axhline(bernoulli.accumulate_limit(size), color=color, lw=0.8, ls=":")
    ax_r.axhline(np.pi**2 / 6, color="0.3", lw=0.8, ls="--", label="$\\pi^2/6$ ($M\\to\\infty$)")
    ax_r.plot(
        [],
        [],
        ":",
        color="0.3",
        lw=0.8,
        label="$R_M = M[1 - \\sin(\\pi/\\sqrt{M})/(\\pi/\\sqrt{M})]$",
    )
    ax_r.set_xscale("log")
    ax_r.set(xlabel="generation $k$", ylabel="$M\\,\\mathrm{Var}\\,p_k\\,/\\,(p_0(1-p_0))$")
    ax_r.set_title("(b) accumulate: the variance ratio and its limit $R_M$")
    legend_below(ax_r, fontsize=7)
    caption(
        fig,
        "Bernoulli(p0) refitted on M draws = the 2-state categorical chain (docs/theory.md §1); "
        "exact laws by lumping (§1.4) and the accumulate product (§1.8).",
    )
    return fig


@register("verify_poisson", kind="report", family="poisson", checks=("poisson.",))
def figure_verify_poisson(seed: SeedLike = 0, quick: bool = True) -> Figure:
    r"""The checks' survival law and Replace variance against Monte Carlo (docs/theory.md §5.3):
    :math:`P(\hat\lambda_k > 0)` for :math:`\lambda_0 = 0.5`, n = 10, and the difference of the
    simulated and exact variance for :math:`\lambda_0 = 2`, n = 10."""
    reps = 4_000 if quick else 40_000
    n, k_max = 10, 30
    first, second = spawn(seed, 2)
    fig, (ax, ax_diff) = new_figure(8.4, 3.3, 2)
    gens = np.arange(0, k_max + 1)
    run = poisson.simulate(0.5, n, k_max, num_replicates=reps, seed=first)
    ax.plot(gens, poisson.nonzero_probability(0.5, n, gens), "k-", lw=1.2, label="exact")
    band(ax, run.generations, run["rate"] > 0, "C0", "MC ± 2 SE")
    ax.set(xlabel="generation $k$", ylabel="$P(\\hat\\lambda_k > 0)$", title="(a) survival")
    ax.legend()
    run = poisson.simulate(2.0, n, 10, num_replicates=reps, seed=second)
    _, var = poisson.moments(2.0, n, run.generations)
    band(ax_diff, run.generations, (run["rate"] - 2.0) ** 2, "C3", "MC − exact ± 2 SE", theory=var)
    ax_diff.set(xlabel="generation $k$", ylabel="difference", title="(b) variance: MC − exact")
    ax_diff.legend()
    fig.suptitle(f"Poisson family, R = {reps}", fontsize=10)
    return fig
