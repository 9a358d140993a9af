r"""Figures of the categorical family (registered with :mod:`collapse_theory._figures`).

Paper figures: ``categorical_survivors`` (expected surviving states and loss probabilities,
exact against Galton-Watson, Feller and Monte Carlo, docs/theory.md §1.4) and
``absorption_time`` (P(T > n) and the exact/Kimura mean ratio, §1.6), ``heat_death``
(temperature sampling: skeleton against finite-M chains, §8.1). Report figure:
``verify_categorical`` (E H_n and the loss of the rarest state, §1.3-1.4).
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from collapse_theory import categorical
from collapse_theory._figures import (
    COLORS,
    band,
    caption,
    log_grid,
    mc_points,
    new_figure,
    register,
)
from collapse_theory._stats import mean_se
from collapse_theory.rng import SeedLike, spawn


@register("categorical_survivors", family="categorical")
def figure_categorical_survivors(*, seed: SeedLike = 0, quick: bool = False) -> Figure:
    r"""Loss of states of a Zipf distribution, :math:`p_{0,i} \propto i^{-1.2}`, K = 30, M = 50
    (docs/theory.md §1.4; the example of docs/categorical.md).

    Panel (a): expected number of surviving states :math:`E N_n`, exact (lumped 2-state chains)
    with the Galton–Watson and Feller approximations, against Monte Carlo means ± 2 SE. Panel (b):
    :math:`P(p_{n,i} = 0)` for the states of rank 2, 10 and 30: exact, Galton–Watson, Feller
    and Monte Carlo proportions ± 2 binomial SE.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        R = 2×10⁴ and n <= 100 instead of R = 10⁵ and n <= 200.

    Returns
    -------
    matplotlib.figure.Figure
    """
    num_states, m = 30, 50
    reps = 20_000 if quick else 100_000
    n_max = 100 if quick else 200
    p0 = categorical.zipf(num_states, 1.2)
    (child,) = spawn(seed, 1)
    record = log_grid(n_max, 18)
    run = categorical.simulate(p0, m, n_max, num_replicates=reps, record=record, seed=child)
    p_run = run["p"]
    gens = np.unique(np.concatenate([log_grid(n_max, 40), record]))
    fig, (ax_n, ax_l) = new_figure(10.0, 4.3, 2)

    exact = categorical.expected_survivors(p0, m, gens)
    ax_n.plot(gens, exact, color=COLORS[0], lw=1.8, label="exact")
    for method, style, name in (
        ("galton-watson", "--", "Galton–Watson"),
        ("feller", ":", "Feller"),
    ):
        approx = categorical.expected_survivors(p0, m, gens, method=method)
        ax_n.plot(gens, approx, style, color="0.35", lw=1.2, label=name)
    survivors = categorical.num_surviving(p_run)
    mc_points(
        ax_n,
        record,
        *mean_se(survivors, axis=1),
        COLORS[0],
        label=f"MC mean ± 2 SE ($R={reps:,}$)",
    )
    ax_n.set_xscale("log")
    ax_n.set_ylim(0, num_states)
    ax_n.set_xlabel("generation $n$")
    ax_n.set_ylabel("surviving states $E\\,N_n$  (of $K=30$)")
    ax_n.set_title(f"(a) expected surviving states, $K={num_states}$, $M={m}$")
    ax_n.legend(loc="upper right")

    handles = []
    for j, rank in enumerate((2, 10, 30)):
        color = COLORS[j]
        p = p0[rank - 1]
        ax_l.plot(gens, categorical.loss_probability(p, m, gens), color=color, lw=1.8)
        for method, style in (("galton-watson", "--"), ("feller", ":")):
            approx = categorical.loss_probability(p, m, gens, method=method)
            ax_l.plot(gens, approx, style, color=color, lw=1.1)
        lost = np.mean(p_run[:, :, rank - 1] == 0.0, axis=1)
        mc_points(ax_l, record, lost, np.sqrt(lost * (1.0 - lost) / reps), color)
        handles.append(mpl.patches.Patch(color=color, label=f"rank {rank}, $p_0 = {p:.3g}$"))
    handles += [
        mpl.lines.Line2D([], [], color="0.2", lw=1.8, label="exact"),
        mpl.lines.Line2D([], [], color="0.2", lw=1.1, ls="--", label="Galton–Watson"),
        mpl.lines.Line2D([], [], color="0.2", lw=1.1, ls=":", label="Feller"),
        mpl.lines.Line2D(
            [], [], color="0.2", marker="o", mfc="white", ms=3.5, ls="", label="MC ± 2 SE"
        ),
    ]
    ax_l.set_xscale("log")
    ax_l.set_ylim(-0.02, 1.45)
    ax_l.set_yticks(np.linspace(0.0, 1.0, 6))
    ax_l.set_xlabel("generation $n$")
    ax_l.set_ylabel("$P(p_{n,i} = 0)$  (state $i$ lost by $n$)")
    ax_l.legend(handles=handles, loc="upper left", ncols=2)
    ax_l.set_title("(b) loss probability of single states")
    caption(
        fig,
        "Categorical model (neutral Wright–Fisher), $p_{0,i} \\propto i^{-1.2}$, refitted from "
        f"$M={m}$ draws (docs/theory.md §1.4).\nExact: lumped 2-state chain; dashed: Galton–Watson; "
        "dotted: Feller diffusion; markers: Monte Carlo ± 2 SE.",
    )
    return fig


@register("absorption_time", family="categorical")
def figure_absorption_time(*, seed: SeedLike = 0, quick: bool = False) -> Figure:
    r"""Absorption time of two states against the Kimura diffusion (docs/theory.md §1.6).

    Panel (a), log y: :math:`P(T > n)` from :math:`p_0 = (	frac12, 	frac12)` against the scaled
    time n/M for M = 10 and M = 200: exact (lumped chain,
    :func:`~collapse_theory.categorical.absorption_time_survival`), the diffusion series
    (dashed) and Monte Carlo proportions ± 2 binomial SE from the simulator's ``absorbed_at``.
    Panel (b): the mean absorption time, exact (fundamental matrix) over Kimura's
    :math:`-2M[p\ln p + (1-p)\ln(1-p)]`, against M for p = 1/2 and p = 0.05: the diffusion
    overstates small-M chains (0.908 at M = 10, 0.974 at M = 50 for p = 1/2) and is exact as
    M grows.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        R = 2×10⁴ instead of 10⁵.

    Returns
    -------
    matplotlib.figure.Figure
    """
    reps = 20_000 if quick else 100_000
    fig, (ax_sf, ax_mean) = new_figure(10.0, 4.0, 2)
    for color, m, child in zip(COLORS, (10, 200), spawn(seed, 2), strict=False):
        n_max = 8 * m
        gens = np.arange(0, n_max + 1)
        run = categorical.simulate(
            [0.5, 0.5], m, n_max, num_replicates=reps, record="last", seed=child
        )
        absorbed_at = run.per_replicate["absorbed_at"]
        absorbed_at = np.where(absorbed_at < 0, n_max + 1, absorbed_at)
        exact = categorical.absorption_time_survival(0.5, m, gens)
        ax_sf.plot(gens / m, exact, "-", color=color, lw=1.6, label=f"M = {m}: exact")
        marks = np.unique(np.linspace(1, n_max, 17).astype(int))
        survived = (absorbed_at[None, :] > marks[:, None]).mean(axis=1)
        mc_points(
            ax_sf,
            marks / m,
            survived,
            np.sqrt(survived * (1.0 - survived) / reps),
            color,
            label=f"M = {m}: MC ± 2 SE",
        )
    scaled = np.linspace(0.05, 8.0, 160)
    diffusion = categorical.absorption_time_survival(0.5, 1, scaled, method="diffusion")
    ax_sf.plot(scaled, diffusion, "k--", lw=1.1, label="diffusion (any M)")
    ax_sf.set_yscale("log")
    ax_sf.set_ylim(1e-4, 1.5)
    ax_sf.set_xlabel("scaled time $n / M$ (generations / sample size)")
    ax_sf.set_ylabel("$P(T > n)$  (both states present)")
    ax_sf.set_title("(a) law of the absorption time, $p_0 = (1/2, 1/2)$")
    ax_sf.legend(loc="upper right")

    sizes = np.array([3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000])
    for color, p in zip(COLORS, (0.5, 0.05), strict=False):
        ratio = []
        for m in sizes:
            result = categorical.absorption_time([p, 1.0 - p], int(m), method="exact")
            ratio.append(result.mean / result.diffusion)
        ax_mean.plot(sizes, ratio, "o-", color=color, ms=4, label=f"$p = {p}$")
    ax_mean.axhline(1.0, color="0.3", lw=0.8)
    ax_mean.set_xscale("log")
    ax_mean.set_xlabel("sample size $M$")
    ax_mean.set_ylabel("exact $E\\,T$ / diffusion $E\\,T$")
    ax_mean.set_title("(b) mean absorption time: exact over Kimura")
    ax_mean.legend(loc="lower right")
    caption(
        fig,
        "Two states, refitted from $M$ draws (docs/theory.md §1.6). Diffusion: Kimura's eigenfunction "
        "series,\nmean $-2M[p\\ln p + (1-p)\\ln(1-p)]$; exact: lumped chain (a) and "
        "fundamental matrix (b).",
    )
    return fig


#: The temperatures of the heat-death figure (docs/theory.md §8.1).
HEAT_DEATH_TEMPERATURES = (0.7, 0.9, 1.0, 1.1, 1.5)


@register("heat_death", family="categorical")
def figure_heat_death(*, seed: SeedLike = 0, quick: bool = False) -> Figure:
    r"""Temperature sampling: the skeleton against finite-M chains (docs/theory.md §8.1).

    :math:`p_0 = (.5, .3, .15, .05)`, every fitted model sampled at temperature
    :math:`\tau \in \{0.7, 0.9, 1, 1.1, 1.5\}`. Panel (a): the probability of the mode,
    skeleton :math:`T^{n-1}(p_0)` (M → ∞, lines) against the chains with M = 200 (Monte Carlo
    mean ± 2 SE): below 1 the mode takes everything ("heat death" to a point), above 1 it
    falls to 1/4. Panel (b): the effective number of states :math:`1/\sum_i p_{n,i}^2`
    (skeleton, lines) and :math:`E\,1/\sum_i p_{n,i}^2` of the chains: the skeleton flattens to
    uniform for τ > 1, while the finite chains, still absorbed in the end, drift towards one
    state; τ = 1 is the neutral chain.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        R = 2000 instead of 20 000.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from collapse_theory.policies import Temperature

    p0 = np.array([0.5, 0.3, 0.15, 0.05])
    m, n_max = 200, 60
    reps = 2_000 if quick else 20_000
    gens = np.arange(n_max + 1)
    record = np.arange(0, n_max + 1, 4)
    fig, (ax_mode, ax_eff) = new_figure(10.0, 4.2, 2)
    children = spawn(seed, len(HEAT_DEATH_TEMPERATURES))
    for color, tau, child in zip(COLORS, HEAT_DEATH_TEMPERATURES, children, strict=False):
        policy = Temperature(tau)
        path = categorical.skeleton(p0, gens, policy)
        run = categorical.simulate(
            p0, m, n_max, num_replicates=reps, record=record, seed=child, policy=policy
        )
        label = f"$\\tau = {tau:g}$"
        ax_mode.plot(gens, path[:, 0], color=color, lw=1.6, label=label)
        mc_points(ax_mode, record, *mean_se(run["p"][:, :, 0], axis=1), color)
        ax_eff.plot(gens, 1.0 / np.sum(path**2, axis=-1), color=color, lw=1.6, label=label)
        effective = 1.0 / np.sum(run["p"] ** 2, axis=-1)
        mc_points(ax_eff, record, *mean_se(effective, axis=1), color)
    ax_mode.set_xlabel("generation $n$")
    ax_mode.set_ylabel("probability of the mode $p_{n,1}$")
    ax_mode.set_ylim(0.2, 1.02)
    ax_mode.set_title("(a) the mode: skeleton (lines) and $M = 200$ chains")
    ax_eff.set_xlabel("generation $n$")
    ax_eff.set_ylabel("effective states $1 / \\sum_i p_{n,i}^2$")
    ax_eff.set_ylim(0.9, 4.1)
    ax_eff.set_title("(b) effective number of states")
    # above the panels: the caption holds the bottom of the figure
    fig.legend(*ax_mode.get_legend_handles_labels(), loc="outside upper center", ncols=5)
    caption(
        fig,
        "Temperature sampling of every fitted model, $p_0 = (.5, .3, .15, .05)$ (docs/theory.md "
        f"§8.1).\nLines: skeleton $T^{{n-1}}(p_0)$ ($M \\to \\infty$); markers: Monte Carlo "
        f"means ± 2 SE of $R = {reps:,}$ chains with $M = {m}$.",
    )
    return fig


@register("verify_categorical", kind="report", family="categorical", checks=("categorical.",))
def figure_verify_categorical(seed: SeedLike = 0, quick: bool = True) -> Figure:
    """Heterozygosity and loss of the rarest state against generations (§1.3, §1.4)."""
    import collapse_theory as ct

    p0, m, n = np.array([0.2, 0.3, 0.5]), 50, 100
    reps = 4000 if quick else 40_000
    (child,) = spawn(seed, 1)
    run = ct.categorical.simulate(p0, m, n, num_replicates=reps, seed=child)
    gens = run.generations
    fig, (ax_h, ax_loss) = new_figure(8.4, 3.3, 2)
    het = ct.categorical.expected_heterozygosity(p0, m, gens)
    ax_h.plot(gens, het, "k-", lw=1.2, label="theory $H_0(1-1/M)^n$")
    band(ax_h, gens, 1.0 - np.sum(run["p"] ** 2, axis=-1), "C0", "simulation: MC mean ± 2 SE")
    ax_h.set(xlabel="generation n", ylabel="heterozygosity $H_n$", title="(a) $E H_n$ (§1.3)")
    ax_h.legend()
    lost = (run["p"][:, :, 0] == 0).astype(float)
    exact = ct.categorical.loss_probability(p0[0], m, gens)
    ax_loss.plot(gens, exact, "k-", lw=1.2, label="exact (lumped chain)")
    band(ax_loss, gens, lost, "C3", "simulation: MC mean ± 2 SE")
    ax_loss.set(
        xlabel="generation n", ylabel="P(state lost)", title="(b) rarest state ($p_0$=0.2) lost"
    )
    ax_loss.legend()
    fig.suptitle(f"Categorical, K = 3, M = {m}, R = {reps}", fontsize=10)
    return fig
