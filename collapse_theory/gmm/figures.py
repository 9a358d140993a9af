r"""Figures of the Gaussian-mixture family (registered with :mod:`collapse_theory._figures`).

Paper figures: ``gmm_snapshots`` (samples and fitted components at the paper's snapshot
generations, on one scale and zoomed, docs/theory.md §4.1) and ``gmm_l2`` (squared L2 distances,
per-dimension variance and per-component standard deviation against generations). Theory
figure: ``gmm_separation`` (the separation from which the exact component-wise law of §4.3
holds). Report figure: ``verify_gmm`` (recursive EM against the Gaussian MLE law §2.6 and the
Wright-Fisher weight law §1.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from collapse_theory._figures import (
    COLORS,
    STYLE,
    band,
    caption,
    ellipse,
    mc_points,
    new_figure,
    register,
)
from collapse_theory._validate import InputTypeError
from collapse_theory.gmm.paper import expected_mixture_variance
from collapse_theory.gmm.separation import (
    FALSE_ALARM_RATE,
    QUICK_REPLICATES,
    QUICK_SEPARATIONS,
    QUICK_SIZE,
    WEIGHTS,
    SeparationScan,
    separation_scan,
)
from collapse_theory.rng import SeedLike, spawn

if TYPE_CHECKING:
    from collapse_theory.gmm.paper import PaperExperiment


#: The per-component standard deviations and squared L2 distance the paper printed for its
#: single run at the last fit (docs/theory.md §4.1).
PRINTED_STDS = (0.0100, 0.0112)
PRINTED_L2_SQUARED = 536.28
_COMPONENT_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
_DIM_COLORS = ("#1f77b4", "#ff7f0e")


def _gmm_experiment(
    experiment: PaperExperiment | None, seed: SeedLike, quick: bool, start: str, num_replicates: int
) -> PaperExperiment:
    """``experiment`` if given, else the paper's run with the authors' protocol (350 generations
    when ``quick``)."""
    from collapse_theory import gmm

    if experiment is not None:
        if not isinstance(experiment, gmm.PaperExperiment):
            raise InputTypeError(
                "experiment must be a collapse_theory.gmm.PaperExperiment (from "
                f"gmm.paper_experiment); got {type(experiment).__name__}"
            )
        return experiment
    return gmm.paper_experiment(
        start=start,
        num_generations=350 if quick else gmm.PAPER_PROTOCOL["num_generations"],
        num_replicates=num_replicates,
        seed=spawn(seed, 1)[0],
    )


def _grid_figure(width: float, height: float) -> Figure:
    """An empty figure in the library's style (axes are added on a grid by the caller)."""
    fig, axes = new_figure(width, height, 1)
    axes[0].remove()
    return fig


def _start_text(run: PaperExperiment) -> str:
    """Model 0 in words, for captions."""
    if run.start == "blob":
        return "model 0 = N(0, I), the notebook's blob"
    return "model 0 = two unit Gaussians at (∓2.5, 0), weights ½, ½"


def _protocol_text(run: PaperExperiment) -> str:
    return (
        f"Recursive EM, 2 components, full covariances, N = {run.num_samples} per generation, "
        f"{_start_text(run)}; init {run.init}, reg_covar {run.reg_covar:g}, tol {run.tol:g}, "
        f"max_iter {run.max_iter}"
    )


def _draws(run: PaperExperiment, generation: int, rng: np.random.Generator) -> list[np.ndarray]:
    """1000 draws of the fit of chain 0 at ``generation``, one array per component."""
    weights = run.result["weights"][generation, 0]
    means, covs = run.result["means"][generation, 0], run.result["covs"][generation, 0]
    counts = rng.multinomial(1000, weights / weights.sum())
    out = []
    for k, count in enumerate(counts):
        values, vectors = np.linalg.eigh(covs[k])
        factor = vectors * np.sqrt(np.clip(values, 0.0, None))
        out.append(means[k] + rng.standard_normal((count, means.shape[1])) @ factor.T)
    return out


def _scatter(ax, run: PaperExperiment, generation: int, points: list[np.ndarray]) -> None:
    """Draws coloured by component, each component's 2-sigma ellipse and mean (+)."""
    weights = run.result["weights"][generation, 0]
    means, covs = run.result["means"][generation, 0], run.result["covs"][generation, 0]
    for k, pts in enumerate(points):
        if weights[k] == 0:
            continue
        color = _COMPONENT_COLORS[k % len(_COMPONENT_COLORS)]
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.35, color=color, linewidths=0)
        ellipse(ax, means[k], covs[k], color)
        ax.plot(*means[k][:2], marker="+", color="k", ms=7, mew=1.2)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


def _box(points: np.ndarray, pad: float = 0.08) -> tuple[np.ndarray, float]:
    """Centre and half-width of a square box around ``points`` (with a margin)."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    half = 0.5 * float(np.max(hi - lo)) * (1.0 + 2.0 * pad)
    return 0.5 * (lo + hi), max(half, 1e-12)


@register("gmm_snapshots", family="gmm")
def figure_gmm_snapshots(
    *,
    seed: SeedLike = 0,
    quick: bool = False,
    experiment: PaperExperiment | None = None,
    start: str = "blob",
) -> Figure:
    r"""The paper's GMM experiment: samples of the fitted mixture at the snapshot generations,
    on one shared scale and zoomed, and the fit's spread against the generation (docs/theory.md
    §4.1).

    Top row: 1000 draws of the fitted mixture of chain 0 at each snapshot generation (0, 50, 100,
    150, 200, 350, 2000), coloured by component, with each component's 2σ ellipse and mean (+),
    all on the same axes (the box that holds every panel's draws), so the collapse shows as the
    cloud shrinking. Middle row: the same draws, each panel zoomed to its own data (the title
    gives the zoom against the top row). Bottom: chain 0's per-dimension variance against the
    generation with its exact mean :math:`\sigma_{0,j}^2 r^n + cN(1 - r^n)` (one per dimension,
    docs/theory.md §4.2), and its per-component standard deviations
    :math:`\sqrt{\operatorname{tr}C_k/2}`, snapshots marked. Drawn by ``collapse-theory
    gmm-paper``; not (yet) in :data:`FIGURES`, whose tests expect two-panel figures.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        350 generations instead of 2050.
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
    draws = [_draws(run, g, draw_rng) for g in shots]
    fig = _grid_figure(16.0, 8.6)
    columns = max(len(shots), 4)
    grid = fig.add_gridspec(3, columns, height_ratios=(1.0, 1.0, 1.0))
    with mpl.rc_context(STYLE):
        everything = np.concatenate([p for parts in draws for p in parts if len(p)])
        centre, half = _box(everything)
        for column, (g, points) in enumerate(zip(shots, draws, strict=True)):
            shared = fig.add_subplot(grid[0, column])
            _scatter(shared, run, g, points)
            shared.set_xlim(centre[0] - half, centre[0] + half)
            shared.set_ylim(centre[1] - half, centre[1] + half)
            shared.set_aspect("equal")
            var = run.variance[g, 0]
            shared.set_title(f"generation {g}\nvar = ({var[0]:.3g}, {var[1]:.3g})", fontsize=9)
            zoom = fig.add_subplot(grid[1, column])
            _scatter(zoom, run, g, points)
            own = np.concatenate([p for p in points if len(p)])
            own_centre, own_half = _box(own)
            zoom.set_xlim(own_centre[0] - own_half, own_centre[0] + own_half)
            zoom.set_ylim(own_centre[1] - own_half, own_centre[1] + own_half)
            zoom.set_aspect("equal")
            zoom.set_title(f"zoom ×{half / own_half:.3g}", fontsize=9)
        split = (columns + 1) // 2
        ax_var = fig.add_subplot(grid[2, :split])
        ax_std = fig.add_subplot(grid[2, split:])
        gens = run.generations
        var0 = run.variance[0, 0]
        for dim in range(run.variance.shape[-1]):
            color = _DIM_COLORS[dim % len(_DIM_COLORS)]
            ax_var.plot(
                gens, run.variance[:, 0, dim], color=color, lw=1.0, label=f"$x_{dim + 1}$, chain 0"
            )
            ax_var.plot(
                gens,
                expected_mixture_variance(var0[dim], run.num_samples, gens, run.reg_covar),
                color=color,
                lw=1.2,
                ls="--",
                label=f"$x_{dim + 1}$: exact mean $\\sigma_{{0}}^2 r^n + cN(1-r^n)$, "
                f"$\\sigma_0^2$ = {var0[dim]:.3g}",
            )
        ax_var.set_yscale("log")
        ax_var.set_xlabel("generation $n$")
        ax_var.set_ylabel("per-dimension variance of the fit")
        ax_var.set_title("variance of the fitted mixture (chain 0)")
        with np.errstate(invalid="ignore"):
            stds = run.component_std[:, 0]
            ordered = (np.nanmin(stds, axis=-1), np.nanmax(stds, axis=-1))
        for which, values, color in zip(
            ("smaller", "larger"), ordered, (COLORS[2], COLORS[3]), strict=True
        ):
            ax_std.plot(gens, values, color=color, lw=0.9, label=f"{which} component")
        ax_std.set_yscale("log")
        ax_std.set_xlabel("generation $n$")
        ax_std.set_ylabel(r"$\sqrt{\mathrm{tr}\,C_k / 2}$")
        ax_std.set_title("per-component standard deviation (chain 0)")
        for ax in (ax_var, ax_std):
            for g in shots:
                ax.axvline(g, color="0.5", lw=0.6, alpha=0.5)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, borderaxespad=0.0)
    caption(
        fig,
        f"{_protocol_text(run)}.\n1000 draws of each fit of chain 0, 2σ ellipses, + = "
        "component means; top row on one scale, middle row each zoomed to its data; bottom: "
        "r = (N−1)/N, c = reg_covar, grey lines at the snapshot generations.",
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
    r"""The paper's GMM experiment over generations: squared L2 distances, per-dimension variance
    and per-component standard deviation (docs/theory.md §4.1–§4.2).

    Panel (a), log y: the squared L2 distance :math:`\int (f_n - f_1)^2` to the fit of the
    original sample (the paper's "L2"; closed form) of every chain (thin) and its median (thick),
    and the median of :math:`\int (f_n - f_0)^2` to the true law; the paper's printed run (536 at
    fit 2050) is marked. Panel (b), log y: the per-dimension variance of the fitted mixture, every
    chain (thin) and, per dimension (never pooled: their starting variances differ for the
    two-Gaussian start), the median over chains against the exact mean
    :math:`\sigma_{0,j}^2 r^n + cN(1 - r^n)`, r = (N−1)/N, c = reg_covar (docs/theory.md §4.2).
    Panel (c), log y: the per-component standard deviation :math:`\sqrt{\operatorname{tr}
    C_k/2}`, sorted within each chain into the smaller and the larger component: median and
    interquartile band over chains, with the paper's printed .0100/.0112 at fit 2050. Drawn by
    ``collapse-theory gmm-paper``; not (yet) in :data:`FIGURES`.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        4 chains of 350 generations instead of 8 chains of 2050.
    experiment : PaperExperiment, optional
        Draw this run instead of running one.
    start : "blob" or "two-gaussians"
        Model 0 when the run is made here.

    Returns
    -------
    matplotlib.figure.Figure
    """
    run = _gmm_experiment(experiment, seed, quick, start, 4 if quick else 8)
    gens = run.generations
    fig, (ax_l2, ax_var, ax_std) = new_figure(16.0, 5.6, 3)
    reps = run.num_replicates
    last = int(gens[-1])
    paper_setting = run.start == "blob" and run.num_samples == 1000
    n = gens[1:]
    for r in range(reps):
        ax_l2.plot(n, run.l2_squared_to_first_fit[1:, r], color=COLORS[0], lw=0.6, alpha=0.4)
    ax_l2.plot(
        n,
        np.median(run.l2_squared_to_first_fit[1:], axis=1),
        color=COLORS[0],
        lw=2.0,
        label=f"to the fit of the original sample (the paper's 'L2'): median of {reps}, "
        "thin: each chain",
    )
    ax_l2.plot(
        gens[1:],
        np.median(run.l2_squared_to_truth[1:], axis=1),
        color="0.2",
        lw=1.4,
        ls="--",
        label="to the true law (model 0): median",
    )
    if paper_setting and last >= 2050:
        ax_l2.plot(
            [2050],
            [PRINTED_L2_SQUARED],
            marker="*",
            ms=12,
            color=COLORS[1],
            ls="none",
            label=f"the paper's printed run: {PRINTED_L2_SQUARED:g} at fit 2050",
        )
    ax_l2.set_yscale("log")
    ax_l2.set_xlabel("generation $n$ (fit)")
    ax_l2.set_ylabel(r"squared L2 distance $\int (f_n - g)^2$")
    ax_l2.set_title("(a) squared L2 distance")
    var0 = run.variance[0, 0]
    for dim in range(run.variance.shape[-1]):
        color = _DIM_COLORS[dim % len(_DIM_COLORS)]
        for r in range(reps):
            ax_var.plot(gens, run.variance[:, r, dim], color=color, lw=0.5, alpha=0.3)
        ax_var.plot(
            gens,
            np.median(run.variance[:, :, dim], axis=1),
            color=color,
            lw=2.0,
            label=f"$x_{dim + 1}$: median of {reps} chains (thin: each)",
        )
        ax_var.plot(
            gens,
            expected_mixture_variance(var0[dim], run.num_samples, gens, run.reg_covar),
            color=color,
            lw=1.2,
            ls="--",
            label=f"$x_{dim + 1}$: exact mean, $\\sigma_0^2$ = {var0[dim]:.3g}",
        )
    ax_var.set_yscale("log")
    ax_var.set_xlabel("generation $n$")
    ax_var.set_ylabel("per-dimension variance of the fitted mixture")
    ax_var.set_title("(b) variance per dimension")
    with np.errstate(invalid="ignore"):
        stds = run.component_std
        ordered = [np.nanmin(stds, axis=-1), np.nanmax(stds, axis=-1)]
    for which, values, color in zip(
        ("smaller", "larger"), ordered, (COLORS[2], COLORS[3]), strict=True
    ):
        q25, q50, q75 = np.nanpercentile(values, [25, 50, 75], axis=1)
        ax_std.fill_between(gens, q25, q75, color=color, alpha=0.25, lw=0)
        ax_std.plot(gens, q50, color=color, lw=1.8, label=f"{which} component: median, quartiles")
    if paper_setting and last >= 2050:
        ax_std.plot(
            [2050, 2050],
            PRINTED_STDS,
            marker="*",
            ms=10,
            color=COLORS[1],
            ls="none",
            label="the paper's printed run: .0100, .0112 at fit 2050",
        )
    ax_std.set_yscale("log")
    ax_std.set_xlabel("generation $n$")
    ax_std.set_ylabel(r"$\sqrt{\mathrm{tr}\,C_k / 2}$")
    ax_std.set_title("(c) per-component standard deviation")
    for ax in (ax_l2, ax_var, ax_std):
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), borderaxespad=0.0)
    caption(
        fig,
        f"{_protocol_text(run)}; {reps} independent chains; r = (N−1)/N, c = reg_covar. "
        + run.degeneracy_summary().capitalize()
        + ".",
    )
    return fig


@register("verify_gmm", kind="report", family="gmm", checks=("gmm.",))
def figure_verify_gmm(seed: SeedLike = 0, quick: bool = True) -> Figure:
    """Recursive EM against its closed-form limits (§2.6 and §1.3)."""
    import collapse_theory as ct
    from collapse_theory.gmm.checks import EM_SETTINGS, SEPARATED

    reps = 2000 if quick else 20_000
    one_seed, two_seed = spawn(seed, 2)
    fig, (ax_var, ax_w) = new_figure(8.4, 3.3, 2)
    m, n = 50, 40
    one = ct.gmm.Mixture([1.0], [[0.0]], [[[1.0]]])
    run = ct.gmm.simulate(one, m, n, num_replicates=reps, seed=one_seed, **EM_SETTINGS)
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
    run = ct.gmm.simulate(
        ct.gmm.Mixture(**SEPARATED), m, n, num_replicates=reps, seed=two_seed, **EM_SETTINGS
    )
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


@register("gmm_separation", family="gmm")
def figure_gmm_separation(
    *, seed: SeedLike = 0, quick: bool = False, scan: SeparationScan | None = None
) -> Figure:
    r"""Domain of validity of the exact component-wise law of well-separated mixtures
    (docs/theory.md §4.3).

    Two 1-D unit-variance components (weights 0.3, 0.7) s standard deviations apart, refitted by
    EM (warm starts, ``reg_covar`` 0) to M draws for n = M generations. Panels (a) and (b):
    Monte Carlo :math:`E[\ln\sigma^2_{0,n}\mid S]` and :math:`P(S)` (S: no component lost), ±2
    standard errors, against the law (dashed; it does not depend on s). Panel (c): the largest
    |z| of the four compared statistics (also :math:`E[w_{0,n}\mid S]` and
    :math:`\operatorname{Var}[\ln\sigma^2_{0,n}\mid S]`) against the scan's Bonferroni
    threshold; the law holds within Monte Carlo error from the dotted separation on.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        A small scan (M = :data:`~collapse_theory.gmm.separation.QUICK_SIZE`, :data:`~collapse_theory.gmm.separation.QUICK_REPLICATES` chains,
        :data:`~collapse_theory.gmm.separation.QUICK_SEPARATIONS`; about a second) instead of the full one (M = 50 and 200,
        :data:`~collapse_theory.gmm.separation.REPLICATES` chains, :data:`~collapse_theory.gmm.separation.SEPARATIONS`; minutes).
    scan : SeparationScan, optional
        Draw this scan (e.g. the benchmark's) instead of running one.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if scan is None:
        if quick:
            scan = separation_scan(
                separations=QUICK_SEPARATIONS,
                sizes=(QUICK_SIZE,),
                replicates=QUICK_REPLICATES,
                seed=seed,
            )
        else:
            scan = separation_scan(seed=seed)
    elif not isinstance(scan, SeparationScan):
        raise InputTypeError(
            f"scan must be a SeparationScan (from separation_scan); got {type(scan).__name__}"
        )
    fig, (ax_log, ax_surv, ax_z) = new_figure(12.0, 4.0, 3)
    sizes = sorted({row["M"] for row in scan.rows})
    for index, m in enumerate(sizes):
        color = COLORS[index % len(COLORS)]
        rows = [row for row in scan.rows if row["M"] == m]
        s = np.array([row["separation"] for row in rows])
        offset = 0.08 * (index - (len(sizes) - 1) / 2)  # keep the error bars apart
        for ax, name in ((ax_log, "log_variance"), (ax_surv, "survival")):
            mc_points(
                ax,
                s + offset,
                [row[f"{name}_mc"] for row in rows],
                [row[f"{name}_se"] for row in rows],
                color,
                label=f"EM, M = {m} (R = {rows[0]['replicates']})",
            )
            ax.axhline(rows[0][f"{name}_law"], color=color, ls="--", lw=1.1, label=f"law, M = {m}")
        ax_z.plot(
            s,
            [row["max_abs_z"] for row in rows],
            "o-",
            color=color,
            ms=3.5,
            lw=1.0,
            label=f"M = {m}",
        )
        threshold = scan.thresholds.get(m)
        if threshold is not None:
            ax_z.axvline(threshold, color=color, ls=":", lw=1.2)
    ax_z.axhline(scan.z_star, color="k", lw=0.9, ls="--", label=f"$z^*$ = {scan.z_star:.2f}")
    ax_z.set_ylim(bottom=0.0)
    ax_log.set(
        xlabel="separation (component sd)",
        ylabel=r"$E[\ln\sigma^2_{0,n} \mid S]$",
        title="(a) log-variance of component 0",
    )
    ax_surv.set(
        xlabel="separation (component sd)",
        ylabel="$P(S)$: no component lost",
        title="(b) survival",
    )
    ax_z.set(
        xlabel="separation (component sd)",
        ylabel="max |z| over 4 statistics",
        title="(c) z-scores of EM against the law",
    )
    for ax in (ax_log, ax_surv, ax_z):
        ax.legend(loc="best")
    limits = ", ".join(
        f"M = {m}: s ≥ {t:g}" if t is not None else f"M = {m}: none on the grid"
        for m, t in scan.thresholds.items()
    )
    caption(
        fig,
        f"Two 1-D unit-variance components, weights {WEIGHTS[0]}/{WEIGHTS[1]}, means s sd "
        "apart; EM with warm starts, reg_covar 0, tol 1e-5; n = M generations; S = no component "
        "lost; bars ±2 SE.\nThe law holds within Monte Carlo error (all four |z| ≤ z*, "
        f"Bonferroni over the scan at {FALSE_ALARM_RATE:g}) for {limits}.",
    )
    return fig
