"""Figures of the toy Bernoulli family: a paper figure and the verify report's figure."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from collapse_theory._figures import COLORS, band, caption, new_figure, register
from collapse_theory.rng import spawn

from . import theory
from .simulate import simulate


@register("bernoulli_loss", family="bernoulli")
def figure_bernoulli_loss(*, seed: Any = 0, quick: bool = False) -> Figure:
    """Toy Bernoulli(0.2), M = 10: P(p_n = 0) and E[p_n(1-p_n)], exact against Monte Carlo."""
    p0, m, n = 0.2, 10, 40
    reps = 2000 if quick else 20_000
    (child,) = spawn(seed, 1)
    run = simulate(p0, m, n, num_replicates=reps, seed=child)
    gens = run.generations
    fig, (ax_loss, ax_var) = new_figure(8.4, 3.4, 2)
    ax_loss.plot(gens, theory.loss_probability(p0, m, gens), "-", color=COLORS[0], label="exact")
    band(ax_loss, gens, run["p"] == 0.0, COLORS[1], "MC ± 2 SE")
    ax_loss.set(xlabel="generation n", ylabel="$P(p_n = 0)$", title="(a) loss of the outcome 1")
    ax_loss.legend()
    variance = theory.expected_variance(p0, m, gens)
    ax_var.plot(gens, variance, "-", color=COLORS[0], label="$p_0(1-p_0)(1-1/M)^n$")
    band(ax_var, gens, run["p"] * (1.0 - run["p"]), COLORS[1], "MC ± 2 SE")
    ax_var.set(xlabel="generation n", ylabel="$E[p_n(1-p_n)]$", title="(b) variance")
    ax_var.legend()
    caption(
        fig,
        f"Toy family (tests/toy_family): Bernoulli({p0}) refitted on M = {m} draws, R = {reps}.",
    )
    return fig


@register("verify_bernoulli", kind="report", family="bernoulli", checks=("bernoulli.",))
def figure_verify_bernoulli(seed: Any = 0, quick: bool = True) -> Figure:
    """E[p_n(1-p_n)] of the variance check's chain against Monte Carlo (docs/theory.md §1.3)."""
    p0, m, n = 0.3, 20, 30
    reps = 2000 if quick else 20_000
    (child,) = spawn(seed, 1)
    run = simulate(p0, m, n, num_replicates=reps, seed=child)
    gens = run.generations
    fig, (ax, ax_diff) = new_figure(8.4, 3.3, 2)
    variance = theory.expected_variance(p0, m, gens)
    samples = run["p"] * (1.0 - run["p"])
    ax.plot(gens, variance, "k-", lw=1.2, label="theory")
    band(ax, gens, samples, "C0", "MC mean ± 2 SE")
    ax.set(xlabel="generation n", ylabel="$p_n(1-p_n)$", title="(a) $E[p_n(1-p_n)]$")
    ax.legend()
    band(ax_diff, gens, samples, "C3", "MC − theory ± 2 SE", theory=variance)
    ax_diff.set(xlabel="generation n", ylabel="difference", title="(b) simulation − theory")
    ax_diff.legend()
    fig.suptitle(f"Toy Bernoulli, p0 = {p0}, M = {m}, R = {reps}", fontsize=10)
    return fig
