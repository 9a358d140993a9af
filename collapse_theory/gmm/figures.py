r"""Figures of the Gaussian-mixture family (registered with :mod:`collapse_theory._figures`).

Paper figures: ``gmm_snapshots`` (samples and fitted components at the paper's snapshot
generations, docs/theory.md §4) and ``gmm_l2`` (L2 distance to the original and per-dimension
variance against generations). Report figure: ``verify_gmm`` (recursive EM against the Gaussian
MLE law §2.6 and the Wright-Fisher weight law §1.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from collapse_theory._figures import (
    COLORS,
    band,
    caption,
    ellipse,
    new_figure,
    register,
)
from collapse_theory.rng import SeedLike, spawn

if TYPE_CHECKING:
    from collapse_theory.gmm.paper import PaperExperiment


def _gmm_experiment(
    experiment: PaperExperiment | None, seed: SeedLike, quick: bool, start: str, num_replicates: int
) -> PaperExperiment:
    """``experiment`` if given, else the paper's run (350 generations when ``quick``)."""
    from collapse_theory import gmm

    if experiment is not None:
        if not isinstance(experiment, gmm.PaperExperiment):
            raise TypeError(
                "experiment must be a collapse_theory.gmm.PaperExperiment (from "
                f"gmm.paper_experiment); got {type(experiment).__name__}"
            )
        return experiment
    return gmm.paper_experiment(
        start=start,
        num_generations=350 if quick else 2000,
        num_replicates=num_replicates,
        seed=spawn(seed, 1)[0],
    )


@register("gmm_snapshots", family="gmm")
def figure_gmm_snapshots(
    *,
    seed: SeedLike = 0,
    quick: bool = False,
    experiment: PaperExperiment | None = None,
    start: str = "blob",
) -> Figure:
    r"""The paper's GMM experiment: samples of the fitted mixture at the snapshot generations
    (docs/theory.md §4; issue 4).

    A 2-component, full-covariance mixture refitted by EM (tol 1e-5, ``reg_covar`` 0, k-means++
    each generation) to N = 1000 draws of the previous fit. One panel per snapshot generation
    (0, 50, 100, 150, 200, 350, 2000): 1000 draws of the fitted mixture of chain 0, coloured by
    component, with each component's 2σ ellipse; equal axes, each panel zoomed to its own data;
    the title gives the per-dimension variance of the mixture. The last panel is that variance
    against the generation (log y), snapshots marked. Drawn by ``collapse-theory gmm-paper``; not
    (yet) in :data:`FIGURES`, whose tests expect two-panel figures.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        350 generations instead of 2000.
    experiment : PaperExperiment, optional
        Draw this run (chain 0) instead of running one.
    start : "blob" or "two-gaussians"
        Model 0 when the run is made here.

    Returns
    -------
    matplotlib.figure.Figure
    """
    run = _gmm_experiment(experiment, seed, quick, start, 1)
    shots = list(run.snapshots)[:7]
    draw_rng = np.random.default_rng(spawn(seed, 2)[1])
    fig, axes = new_figure(12.0, 6.4, 4, nrows=2)
    comp_colors = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
    for ax, g in zip(axes, shots, strict=False):
        weights = run.result["weights"][g, 0]
        means, covs = run.result["means"][g, 0], run.result["covs"][g, 0]
        counts = draw_rng.multinomial(1000, weights / weights.sum())
        for k, count in enumerate(counts):
            color = comp_colors[k % len(comp_colors)]
            if weights[k] == 0:
                continue
            if count:
                values, vectors = np.linalg.eigh(covs[k])
                factor = vectors * np.sqrt(np.clip(values, 0.0, None))
                pts = means[k] + draw_rng.standard_normal((count, means.shape[1])) @ factor.T
                ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.35, color=color, linewidths=0)
            ellipse(ax, means[k], covs[k], color)
            ax.plot(*means[k][:2], marker="+", color="k", ms=7, mew=1.2)
        var = run.variance[g, 0]
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(f"generation {g}\nvar per dim = ({var[0]:.3g}, {var[1]:.3g})")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
    for ax in axes[len(shots) : 7]:
        ax.set_visible(False)
    ax_var = axes[7]
    gens = run.generations
    for dim, ls in ((0, "-"), (1, "--")):
        ax_var.plot(
            gens, run.variance[:, 0, dim], color="0.2", ls=ls, lw=1.0, label=f"$x_{dim + 1}$"
        )
    expected = ((run.num_samples - 1) / run.num_samples) ** gens.astype(np.float64)
    ax_var.plot(gens, expected, color=COLORS[1], lw=1.2, ls=":", label="$E\\sigma_n^2 = r^n$")
    for g in shots:
        ax_var.axvline(g, color=COLORS[0], lw=0.6, alpha=0.5)
    ax_var.set_yscale("log")
    ax_var.set_xlabel("generation $n$")
    ax_var.set_ylabel("per-dimension variance")
    ax_var.set_title("variance of the fit (chain 0)")
    ax_var.legend(loc="lower left")
    caption(
        fig,
        f"Recursive EM, 2 components, full covariances, N = {run.num_samples} per generation, "
        f"start '{run.start}' (model 0 = N(0, I) for 'blob'); 1000 draws of each fitted mixture, "
        "2σ ellipses, + = component means; $r = (N-1)/N$.\nAt generation 0 of 'blob' both "
        "components are N(0, I) and their ellipses coincide.",
    )
    return fig


@register("gmm_l2", family="gmm")
def figure_gmm_l2(
    *,
    seed: SeedLike = 0,
    quick: bool = False,
    experiment: PaperExperiment | None = None,
    start: str = "blob",
) -> Figure:
    r"""The paper's GMM experiment over generations: L2 distance to the original density and
    per-dimension variance (docs/theory.md §4; issue 4).

    Panel (a), log y: :math:`\|f_n - f_0\|_2` (closed form, :func:`metrics.l2_gmm`) of every
    chain (thin lines) and their median (thick). Panel (b), log y: the per-dimension variance of
    every chain and dimension (thin) and the median over them (thick), against the exact mean
    :math:`E\sigma_n^2 = \sigma_0^2 r^n`, r = (N−1)/N (EM with full covariances matches the
    sample covariance, so the mixture's variance is the single-Gaussian MLE recursion in
    expectation, module :mod:`collapse_theory.gmm.paper`), and the single-Gaussian median
    :math:`\sigma_0^2 e^{n\kappa_1}`, :math:`\kappa_1 = E\ln(\chi^2_{N-1}/N)` (docs/theory.md §2.6).
    Drawn by ``collapse-theory gmm-paper``; not (yet) in :data:`FIGURES`.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        4 chains of 350 generations instead of 8 chains of 2000.
    experiment : PaperExperiment, optional
        Draw this run instead of running one.
    start : "blob" or "two-gaussians"
        Model 0 when the run is made here.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from scipy.special import digamma

    run = _gmm_experiment(experiment, seed, quick, start, 4 if quick else 8)
    gens = run.generations
    fig, (ax_l2, ax_var) = new_figure(11.0, 4.4, 2)
    n = gens[1:]
    for r in range(run.num_replicates):
        ax_l2.plot(n, run.l2[1:, r], color=COLORS[0], lw=0.6, alpha=0.45)
    ax_l2.plot(n, np.median(run.l2[1:], axis=1), color=COLORS[0], lw=2.0)
    ax_l2.set_yscale("log")
    ax_l2.set_xlabel("generation $n$")
    ax_l2.set_ylabel("$\\|f_n - f_0\\|_2$  (L2 distance to the original)")
    ax_l2.set_title("(a) L2 distance between fitted and original densities")
    ax_l2.legend(
        handles=[
            mpl.lines.Line2D([], [], color=COLORS[0], lw=0.6, label="one chain"),
            mpl.lines.Line2D(
                [], [], color=COLORS[0], lw=2.0, label=f"median of {run.num_replicates} chains"
            ),
        ],
        loc="lower right",
    )
    var = run.variance.reshape(gens.size, -1)
    for column in var.T:
        ax_var.plot(gens, column, color=COLORS[2], lw=0.6, alpha=0.4)
    ax_var.plot(gens, np.median(var, axis=1), color=COLORS[2], lw=2.0)
    m = run.num_samples
    var0 = float(np.mean(run.variance[0]))
    ax_var.plot(gens, var0 * ((m - 1) / m) ** gens.astype(float), color="0.2", lw=1.3, ls="--")
    kappa1 = float(digamma((m - 1) / 2.0) + np.log(2.0 / m))
    ax_var.plot(gens, var0 * np.exp(kappa1 * gens), color="0.2", lw=1.3, ls=":")
    ax_var.set_yscale("log")
    ax_var.set_xlabel("generation $n$")
    ax_var.set_ylabel("per-dimension variance of the fitted mixture")
    ax_var.set_title("(b) per-dimension variance collapses")
    ax_var.legend(
        handles=[
            mpl.lines.Line2D([], [], color=COLORS[2], lw=0.6, label="one chain, one dimension"),
            mpl.lines.Line2D([], [], color=COLORS[2], lw=2.0, label="median"),
            mpl.lines.Line2D(
                [], [], color="0.2", lw=1.3, ls="--", label="exact mean $\\sigma_0^2 r^n$"
            ),
            mpl.lines.Line2D(
                [],
                [],
                color="0.2",
                lw=1.3,
                ls=":",
                label="single-Gaussian median $\\sigma_0^2 e^{n\\kappa_1}$ (§2.6)",
            ),
        ],
        loc="lower left",
    )
    caption(
        fig,
        f"Recursive EM, 2 components, full covariances, N = {m} per generation, start "
        f"'{run.start}', k-means++ each generation, tol 1e-5, reg_covar 0; "
        f"{run.num_replicates} independent chains; $r = (N-1)/N$.",
    )
    return fig


@register("verify_gmm", kind="report", family="gmm", checks=("gmm.",))
def figure_verify_gmm(seed: SeedLike = 0, quick: bool = True) -> Figure:
    """Recursive EM against its closed-form limits (§2.6 and §1.3)."""
    import collapse_theory as ct
    from collapse_theory.gmm.checks import SEPARATED

    reps = 2000 if quick else 20_000
    one_seed, two_seed = spawn(seed, 2)
    fig, (ax_var, ax_w) = new_figure(8.4, 3.3, 2)
    m, n = 50, 40
    one = ct.gmm.Mixture([1.0], [[0.0]], [[[1.0]]])
    run = ct.gmm.simulate(one, m, n, num_replicates=reps, seed=one_seed)
    gens = run.generations
    ax_var.plot(
        gens,
        ct.gaussian.expected_variance(m, gens, estimator="mle"),
        "k-",
        lw=1.2,
        label=r"theory $((M-1)/M)^n$",
    )
    band(ax_var, gens, run["covs"][:, :, 0, 0, 0], "C0", "EM, K = 1: MC mean ± 2 SE")
    ax_var.set(
        xlabel="generation n", ylabel=r"$E\,\sigma_n^2$", title=f"(a) one component, M = {m}"
    )
    ax_var.legend()
    m, n = 100, 40
    run = ct.gmm.simulate(ct.gmm.Mixture(**SEPARATED), m, n, num_replicates=reps, seed=two_seed)
    gens = run.generations
    w = run["weights"][:, :, 0]
    w0 = SEPARATED["weights"][0]
    ax_w.plot(
        gens,
        w0 * (1 - w0) * (1 - (1 - 1 / m) ** gens),
        "k-",
        lw=1.2,
        label=r"Wright–Fisher $w_0(1-w_0)(1-(1-1/M)^n)$",
    )
    centred = (w - w.mean(axis=1, keepdims=True)) ** 2 * reps / (reps - 1)
    band(ax_w, gens, centred, "C3", "EM weights: MC mean ± 2 SE")
    ax_w.set(
        xlabel="generation n",
        ylabel=r"Var $w_n$",
        title=f"(b) two components 100 sd apart, M = {m}",
    )
    ax_w.legend(loc="upper left")
    fig.suptitle(f"Gaussian mixtures by recursive EM, R = {reps}", fontsize=10)
    return fig
