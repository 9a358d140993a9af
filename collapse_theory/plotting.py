r"""Figures for a paper: exact curves from the closed forms against Monte Carlo bands.

Every figure is a function ``figure_<name>(*, seed=0, quick=False) -> matplotlib.figure.Figure``
registered in :data:`FIGURES`; :func:`save_figure` writes it as PNG and PDF. Figures are built on
:class:`matplotlib.figure.Figure` with the Agg canvas directly, so importing this module never
changes the user's pyplot backend or any global matplotlib state, and no global random seed is
touched: each figure spawns its own streams from ``seed``.

Each figure states what its Monte Carlo band is (in its docstring and in a caption line at the
bottom). Where a mean is heavy-tailed (theory.md §2.5's caveat), the Monte Carlo mean is drawn
only where its *exact* relative standard error is small, so that no band is dishonest.

``quick=True`` uses fewer replicates and generations (each figure builds in a few seconds);
``quick=False`` is what ``docs/figures/`` holds.

Examples
--------
>>> import collapse_theory.plotting as ctp
>>> sorted(ctp.FIGURES)
['absorption_time', 'categorical_survivors', 'gmm_l2', 'gmm_snapshots', 'tail_mass', 'variance_law', 'w2_schedules']
>>> fig = ctp.figure_w2_schedules(quick=True)  # doctest: +SKIP
>>> ctp.save_figure(fig, "figures", "w2_schedules")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.special import gammaln, ndtr

from collapse_theory import categorical, gaussian, metrics, schedules

__all__ = [
    "FIGURES",
    "figure_absorption_time",
    "figure_categorical_survivors",
    "figure_gmm_l2",
    "figure_gmm_snapshots",
    "figure_tail_mass",
    "figure_variance_law",
    "figure_w2_schedules",
    "save_figure",
    "w2_squared_moments",
]

#: Resolution of saved PNGs (dots per inch); PDFs are vector.
PNG_DPI = 130
#: A Monte Carlo mean is drawn only where its exact relative standard error is below this.
MAX_RELATIVE_SE = 0.05
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
_STYLE = {
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.framealpha": 0.9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
}


# ---------------------------------------------------------------------------------------------
# Helpers


def _new_figure(width: float, height: float, ncols: int) -> tuple[Figure, list[Any]]:
    """A figure with ``ncols`` axes side by side, on the Agg canvas (no pyplot state)."""
    with mpl.rc_context(_STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(fig)
        axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _caption(fig: Figure, text: str) -> None:
    """A caption line under the axes stating parameters and what the bands are."""
    fig.get_layout_engine().set(h_pad=0.06)
    fig.supxlabel(text, fontsize=8, color="0.25")


def _log_grid(n_max: int, points: int, *, start: int = 1) -> np.ndarray:
    """About ``points`` distinct integers from ``start`` to ``n_max``, log-spaced."""
    grid = np.unique(np.geomspace(start, n_max, points).round().astype(np.int64))
    return grid[(grid >= start) & (grid <= n_max)]


def _streams(seed: Any, count: int) -> list[np.random.SeedSequence]:
    """``count`` independent seed sequences spawned from ``seed`` (int or SeedSequence)."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return root.spawn(count)


def _simulate_1d(
    num_samples: Any,
    record: np.ndarray,
    num_replicates: int,
    seed: np.random.SeedSequence,
    *,
    chunk: int = 250_000,
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, var) of shape (len(record), R) from the sufficient-statistics simulator, N(0, 1)
    start, in chunks of at most ``chunk`` replicates (independent spawned streams) to bound
    memory."""
    n = int(record.max())
    parts = []
    remaining = num_replicates
    for child in seed.spawn(-(-num_replicates // chunk)):
        size = min(chunk, remaining)
        remaining -= size
        run = gaussian.simulate(
            0.0,
            1.0,
            num_samples,
            n,
            num_replicates=size,
            estimator="unbiased",
            method="sufficient",
            record=record,
            seed=child,
        )
        parts.append((run["mean"], run["var"]))
    return np.concatenate([p[0] for p in parts], 1), np.concatenate([p[1] for p in parts], 1)


def w2_squared_moments(num_samples: Any, num_generations: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact mean and variance of :math:`W_n = W_2^2(N(\mu_n,\sigma_n^2), N(\mu_0,\sigma_0^2))`
    for the unbiased estimator, :math:`\sigma_0 = 1`, n = 0..num_generations (theory.md §2.4–2.5).

    Used to size honest Monte Carlo bands. With :math:`B_i = \sigma_i^2/\sigma_0^2`,
    :math:`A_n = \sum_{i<n} B_i/M_i` and :math:`g_q(i) = E B_i^q = \prod_{l<i} (2/k_l)^q
    \Gamma(k_l/2+q)/\Gamma(k_l/2)`, given the chi-square path :math:`\mu_n - \mu_0 \sim
    N(0, A_n)`, so :math:`W_n = A_n Z^2 + (\sqrt{B_n} - 1)^2` and

    .. math::

        E W_n^2 = 3\sum_{i,j<n}\frac{g_2(\min(i,j))}{M_iM_j}
        + 2\sum_{i<n}\frac{g_2(i) - 2g_{3/2}(i)\,g_{1/2}(n)/g_{1/2}(i) + 1}{M_i}
        + E(\sqrt{B_n} - 1)^4,

    using :math:`E[B_i^a B_j^b] = g_{a+b}(i)\,g_b(j)/g_b(i)` for :math:`i \le j`. The mean equals
    :func:`collapse_theory.gaussian.expected_w2_squared` (to ~1e-9 relative: this helper sizes
    Monte Carlo bands and is not written for M ~ 10⁹). Cost O(n²).

    Parameters
    ----------
    num_samples : int or schedule
        M_i >= 2.
    num_generations : int
        Largest n.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Mean and variance of :math:`W_n`, each of shape (num_generations + 1,).

    Examples
    --------
    >>> mean, var = w2_squared_moments(20, 10)
    >>> round(float(mean[10]), 4), round(float(var[10]), 3)
    (0.7465, 1.227)
    """
    sizes = schedules.sample_sizes(num_samples, num_generations).astype(np.float64)
    if sizes.size and sizes.min() < 2:
        raise ValueError(f"num_samples must be >= 2 for the unbiased estimator; got {sizes.min()}")
    k = sizes - 1.0

    def log_g(q: float) -> np.ndarray:
        terms = q * np.log(2.0 / k) + gammaln(0.5 * k + q) - gammaln(0.5 * k)
        return np.concatenate([[0.0], np.cumsum(terms)])

    g2, g32, g12 = log_g(2.0), log_g(1.5), log_g(0.5)
    w = 1.0 / sizes
    mean = np.empty(num_generations + 1)
    second = np.empty(num_generations + 1)
    for n in range(num_generations + 1):
        wn, big = w[:n], np.exp(g2[:n])
        tail_sums = np.cumsum(wn[::-1])[::-1]  # sum_{j >= i} w_j
        e_a2 = float(np.sum(wn * big * (2.0 * tail_sums - wn)))
        cross = float(np.sum(wn * (big - 2.0 * np.exp(g32[:n] + g12[n] - g12[:n]) + 1.0)))
        quartic = np.exp(g2[n]) - 4.0 * np.exp(g32[n]) + 6.0 - 4.0 * np.exp(g12[n]) + 1.0
        mean[n] = wn.sum() + 2.0 - 2.0 * np.exp(g12[n])
        second[n] = 3.0 * e_a2 + 2.0 * cross + quartic
    return mean, np.maximum(second - mean**2, 0.0)


# ---------------------------------------------------------------------------------------------
# 1. The schedule criterion (theory.md §2.5)

_W2_SCHEDULES = (
    ("constant $M=20$", schedules.Constant(20)),
    ("linear $M_i=20(i+1)$", schedules.Linear(20, 20.0)),
    ("quadratic $M_i=20(i+1)^2$", schedules.Power(20, 2.0)),
)


def figure_w2_schedules(*, seed: Any = 0, quick: bool = False) -> Figure:
    r"""The schedule criterion: :math:`E\,W_2^2(N(\mu_n,\sigma_n^2), N(0,1))` against n
    (theory.md §2.5; issue 3, must-show 4).

    Unbiased estimator, :math:`\sigma_0 = 1`, constant :math:`M = 20`, linear
    :math:`M_i = 20(i+1)` and quadratic :math:`M_i = 20(i+1)^2`. Lines: the exact
    :math:`E W_2^2 = \sum_{i<n}1/M_i + 2(1 - \prod_{i<n}c(k_i))`; dashed: the lower bound
    :math:`\sum_{i<n}1/M_i`. Markers: Monte Carlo means (sufficient-statistics simulator) with
    error bars ± 2 SE, where SE = :math:`\sqrt{\operatorname{Var}W_2^2/R}` from the exact second
    moment (:func:`w2_squared_moments`). The mean is heavy-tailed for n >> M at constant M, so
    Monte Carlo points are drawn only where that exact relative SE is below 5 % (n <= ~100 at
    R = 10⁶ for constant M). Panel (a) log–log shows linear growth (slope 1) for constant M;
    panel (b), linear y, shows ~ln n growth for linear M_i (a straight line on a log x-axis) and
    a plateau for M_i ∝ i².

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        Fewer replicates (10⁵ for constant M, 2×10⁴ otherwise, instead of 10⁶ and 2×10⁵) and
        n <= 200 instead of 400 for the growing schedules.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_theory = 1000
    reps = (100_000, 20_000, 20_000) if quick else (1_000_000, 200_000, 200_000)
    n_mc_max = 200 if quick else 400
    gens = np.arange(1, n_theory + 1)
    fig, (ax_log, ax_lin) = _new_figure(10.0, 4.3, 2)
    children = _streams(seed, len(_W2_SCHEDULES))
    schedule_handles = []
    for idx, (label, schedule) in enumerate(_W2_SCHEDULES):
        color = _COLORS[idx]
        exact = gaussian.expected_w2_squared(schedule, gens)
        bound = gaussian.w2_lower_bound(schedule, gens)
        mean, var = w2_squared_moments(schedule, n_mc_max)
        rel_se = np.sqrt(var[1:] / reps[idx]) / mean[1:]
        # Monte Carlo on the initial segment of n where the exact relative SE is small
        n_mc = int(np.cumprod(rel_se <= MAX_RELATIVE_SE).sum())
        record = _log_grid(n_mc, 16) if n_mc else np.zeros(0, np.int64)
        axes = (ax_log,) if idx == 0 else (ax_log, ax_lin)
        for ax in axes:
            ax.plot(gens, exact, color=color, lw=1.8)
            ax.plot(gens, bound, color=color, lw=1.1, ls="--")
        schedule_handles.append(
            mpl.lines.Line2D([], [], color=color, lw=1.8, label=f"{label}  (R = {reps[idx]:,})")
        )
        if record.size:
            mu, v = _simulate_1d(schedule, record, reps[idx], children[idx])
            w2 = mu**2 + (np.sqrt(v) - 1.0) ** 2  # 1-D W2^2 to N(0, 1), theory.md §2.5
            band = 2.0 * np.sqrt(var[record] / reps[idx])
            for ax in axes:
                ax.errorbar(
                    record,
                    w2.mean(axis=1),
                    yerr=band,
                    fmt="o",
                    ms=3.5,
                    mfc="white",
                    color=color,
                    capsize=2,
                    lw=1,
                )
            if idx == 0:
                ax_log.annotate(
                    f"MC stops at n = {n_mc}\n(heavy tails beyond)",
                    xy=(n_mc, float(exact[n_mc - 1])),
                    xytext=(n_mc * 1.4, float(exact[n_mc - 1]) * 0.12),
                    ha="left",
                    fontsize=8,
                    arrowprops={"arrowstyle": "->", "color": "0.3", "lw": 0.8},
                )
    style_handles = [
        mpl.lines.Line2D([], [], color="0.2", lw=1.8, label="exact $E\\,W_2^2$ (§2.5)"),
        mpl.lines.Line2D(
            [], [], color="0.2", lw=1.1, ls="--", label="lower bound $\\Sigma_{i<n}\\,1/M_i$"
        ),
        mpl.lines.Line2D(
            [], [], color="0.2", marker="o", mfc="white", ms=3.5, ls="", label="MC mean ± 2 SE"
        ),
    ]
    for ax, handles in ((ax_log, schedule_handles), (ax_lin, schedule_handles[1:])):
        first = ax.legend(handles=handles, loc="upper left")
        ax.add_artist(first)
        if ax is ax_log:
            ax.legend(handles=style_handles, loc="lower right")
        else:
            ax.legend(handles=style_handles, loc="upper left", bbox_to_anchor=(0.0, 0.8))
        ax.set_xscale("log")
        ax.set_xlabel("generation $n$")
    ax_log.set_yscale("log")
    ax_log.set_ylim(3e-3, 2e2)
    ax_log.set_ylabel("$E\\,W_2^2(N(\\mu_n,\\sigma_n^2), N(\\mu_0,\\sigma_0^2))\\ /\\ \\sigma_0^2$")
    ax_log.set_title("(a) log–log: constant $M$ grows linearly (slope 1)")
    ax_lin.set_ylim(0.0, 0.72)
    ax_lin.set_ylabel("$E\\,W_2^2\\ /\\ \\sigma_0^2$  (linear scale)")
    ax_lin.set_title("(b) linear $M_i$: grows like ln $n$; $M_i \\propto i^2$: bounded")
    _caption(
        fig,
        "Recursive fit of $N(\\mu,\\sigma^2)$ (unbiased), $\\sigma_0=1$; exact curves (theory.md "
        "§2.5) and sufficient-statistics Monte Carlo.\n Error bars: ± 2 SE with SE from the exact "
        "Var $W_2^2$; MC shown only where that relative SE < 5 % (heavy tails beyond).",
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 2. The law of sigma_n^2 (theory.md §2.2-2.3)


def figure_variance_law(*, seed: Any = 0, quick: bool = False) -> Figure:
    r"""The law of :math:`\sigma_n^2/\sigma_0^2` for M = 10 (theory.md §2.2–2.3).

    Panel (a), log y: Monte Carlo median (markers) and 5–95 % quantile band (shaded) against
    :math:`e^{\kappa_1}` (≈ the median, line) and the log-normal 5–95 % quantiles
    :math:`e^{\kappa_1 \pm 1.645\sqrt{\kappa_2}}` (dotted); the mean :math:`E\sigma_n^2 =
    \sigma_0^2` (the martingale, flat) with Monte Carlo means ± 2 SE drawn only where their exact
    relative SE :math:`\sqrt{(\prod(1+2/k_i)-1)/R}` is below 5 %. Panel (b):
    :math:`P(\sigma_n^2 < \varepsilon\sigma_0^2)` for :math:`\varepsilon = 10^{-1}, 10^{-2},
    10^{-4}`, exact (Gil–Pelaez) against Monte Carlo proportions ± 2 binomial SE.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        R = 2×10⁴ instead of 10⁵.

    Returns
    -------
    matplotlib.figure.Figure
    """
    m, n_max = 10, 100
    reps = 20_000 if quick else 100_000
    (child,) = _streams(seed, 1)
    record = np.concatenate([[0], _log_grid(n_max, 22)])
    _, var = _simulate_1d(m, record, reps, child)
    gens = np.arange(0, n_max + 1)
    k1, k2 = gaussian.log_variance_cumulants(m, gens, order=2)
    fig, (ax_q, ax_p) = _new_figure(10.0, 4.3, 2)

    lo, med, hi = np.quantile(var, [0.05, 0.5, 0.95], axis=1)
    ax_q.fill_between(record, lo, hi, color=_COLORS[0], alpha=0.18, lw=0, label="MC 5–95 % band")
    ax_q.plot(gens, np.exp(k1), color=_COLORS[0], lw=1.8, label="$e^{\\kappa_1}$ (≈ median)")
    ax_q.plot(record, med, "o", ms=3.5, mfc="white", color=_COLORS[0], label="MC median")
    sd = np.sqrt(k2)
    ax_q.plot(gens, np.exp(k1 - 1.645 * sd), ":", color=_COLORS[0], lw=1.2)
    ax_q.plot(
        gens,
        np.exp(k1 + 1.645 * sd),
        ":",
        color=_COLORS[0],
        lw=1.2,
        label="$e^{\\kappa_1 \\pm 1.645\\sqrt{\\kappa_2}}$ (log-normal 5/95 %)",
    )
    ax_q.plot(gens, np.ones_like(gens, float), color=_COLORS[1], lw=1.8, label="mean $=1$ (exact)")
    growth = np.expm1(record * np.log1p(2.0 / (m - 1)))
    honest = np.sqrt(growth / reps) <= MAX_RELATIVE_SE
    se = var.std(axis=1, ddof=1) / np.sqrt(reps)
    ax_q.errorbar(
        record[honest],
        var.mean(axis=1)[honest],
        yerr=2.0 * se[honest],
        fmt="s",
        ms=3.5,
        mfc="white",
        color=_COLORS[1],
        capsize=2,
        lw=1,
        label=f"MC mean ± 2 SE (n ≤ {int(record[honest].max())})",
    )
    ax_q.set_yscale("log")
    ax_q.set_ylim(1e-15, 1e2)
    ax_q.set_xlim(0, n_max)
    ax_q.set_xlabel("generation $n$")
    ax_q.set_ylabel("fitted variance $\\sigma_n^2/\\sigma_0^2$")
    ax_q.set_title(f"(a) quantiles and mean of $\\sigma_n^2$, $M={m}$, $R={reps:,}$")
    ax_q.legend(loc="lower left")

    epsilons = (1e-1, 1e-2, 1e-4)
    exact = gaussian.prob_variance_below(np.array(epsilons)[:, None], m, gens[None, 1:])
    handles = []
    for j, eps in enumerate(epsilons):
        color = (_COLORS[0], _COLORS[3], _COLORS[4])[j]
        ax_p.plot(gens[1:], exact[j], color=color, lw=1.8)
        prob = np.mean(var[1:] < eps, axis=1)
        se_p = np.sqrt(prob * (1.0 - prob) / reps)
        ax_p.errorbar(
            record[1:],
            prob,
            yerr=2.0 * se_p,
            fmt="o",
            ms=3.5,
            mfc="white",
            color=color,
            capsize=2,
            lw=1,
        )
        handles.append(
            mpl.patches.Patch(color=color, label=f"$\\varepsilon = 10^{{{np.log10(eps):.0f}}}$")
        )
    handles += [
        mpl.lines.Line2D([], [], color="0.2", lw=1.8, label="exact (Gil–Pelaez)"),
        mpl.lines.Line2D(
            [], [], color="0.2", marker="o", mfc="white", ms=3.5, ls="", label="MC ± 2 SE"
        ),
    ]
    ax_p.set_xscale("log")
    ax_p.set_xlim(1, n_max)
    ax_p.set_ylim(-0.02, 1.02)
    ax_p.set_xlabel("generation $n$")
    ax_p.set_ylabel("$P(\\sigma_n^2 < \\varepsilon\\,\\sigma_0^2)$")
    ax_p.legend(handles=handles, loc="upper left")
    ax_p.set_title("(b) collapse probability: exact (Gil–Pelaez) vs MC")
    _caption(
        fig,
        f"Recursive unbiased fit of $N(\\mu,\\sigma^2)$ from $M={m}$ draws (theory.md §2.2–2.3): "
        "the mean stays $\\sigma_0^2$ while the median falls like $e^{\\kappa_1}$, "
        "$\\kappa_1 \\approx -n/(M-1)$.\nMC: sufficient-statistics simulator; MC means shown only "
        "where their exact relative SE < 5 %.",
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 3. Categorical: surviving states and loss probabilities (theory.md §1.4)


def figure_categorical_survivors(*, seed: Any = 0, quick: bool = False) -> Figure:
    r"""Loss of states of a Zipf distribution, :math:`p_{0,i} \propto i^{-1.2}`, K = 30, M = 50
    (theory.md §1.4; the example of docs/categorical.md).

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
    p0 = np.arange(1, num_states + 1, dtype=np.float64) ** -1.2
    p0 /= p0.sum()
    (child,) = _streams(seed, 1)
    record = _log_grid(n_max, 18)
    run = categorical.simulate(p0, m, n_max, num_replicates=reps, record=record, seed=child)
    p_run = run["p"]
    gens = np.unique(np.concatenate([_log_grid(n_max, 40), record]))
    fig, (ax_n, ax_l) = _new_figure(10.0, 4.3, 2)

    exact = categorical.expected_survivors(p0, m, gens)
    ax_n.plot(gens, exact, color=_COLORS[0], lw=1.8, label="exact")
    for method, style, name in (
        ("galton-watson", "--", "Galton–Watson"),
        ("feller", ":", "Feller"),
    ):
        approx = categorical.expected_survivors(p0, m, gens, method=method)
        ax_n.plot(gens, approx, style, color="0.35", lw=1.2, label=name)
    survivors = categorical.num_surviving(p_run)
    ax_n.errorbar(
        record,
        survivors.mean(axis=1),
        yerr=2.0 * survivors.std(axis=1, ddof=1) / np.sqrt(reps),
        fmt="o",
        ms=3.5,
        mfc="white",
        color=_COLORS[0],
        capsize=2,
        lw=1,
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
        color = _COLORS[j]
        p = p0[rank - 1]
        ax_l.plot(gens, categorical.loss_probability(p, m, gens), color=color, lw=1.8)
        for method, style in (("galton-watson", "--"), ("feller", ":")):
            approx = categorical.loss_probability(p, m, gens, method=method)
            ax_l.plot(gens, approx, style, color=color, lw=1.1)
        lost = np.mean(p_run[:, :, rank - 1] == 0.0, axis=1)
        ax_l.errorbar(
            record,
            lost,
            yerr=2.0 * np.sqrt(lost * (1.0 - lost) / reps),
            fmt="o",
            ms=3.5,
            mfc="white",
            color=color,
            capsize=2,
            lw=1,
        )
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
    _caption(
        fig,
        "Categorical model (neutral Wright–Fisher), $p_{0,i} \\propto i^{-1.2}$, refitted from "
        f"$M={m}$ draws (theory.md §1.4).\nExact: lumped 2-state chain; dashed: Galton–Watson; "
        "dotted: Feller diffusion; markers: Monte Carlo ± 2 SE.",
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 3b. Absorption time of two states (theory.md §1.6)


def figure_absorption_time(*, seed: Any = 0, quick: bool = False) -> Figure:
    r"""Absorption time of two states against the Kimura diffusion (theory.md §1.6).

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
    fig, (ax_sf, ax_mean) = _new_figure(10.0, 4.0, 2)
    for color, m, child in zip(_COLORS, (10, 200), _streams(seed, 2), strict=False):
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
        ax_sf.errorbar(
            marks / m,
            survived,
            yerr=2.0 * np.sqrt(survived * (1.0 - survived) / reps),
            fmt="o",
            ms=3.5,
            mfc="white",
            color=color,
            capsize=2,
            lw=1,
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
    for color, p in zip(_COLORS, (0.5, 0.05), strict=False):
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
    _caption(
        fig,
        "Two states, refitted from $M$ draws (theory.md §1.6). Diffusion: Kimura's eigenfunction "
        "series,\nmean $-2M[p\\ln p + (1-p)\\ln(1-p)]$; exact: lumped chain (a) and "
        "fundamental matrix (b).",
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 4. Tail mass beyond 3 sigma_0 (theory.md §2.9)


def figure_tail_mass(*, seed: Any = 0, quick: bool = False) -> Figure:
    r"""Tail mass of model n beyond :math:`3\sigma_0`, mean against median (theory.md §2.9).

    M = 50, unbiased, n = 0..100. Panel (a), about the original mean:
    :math:`T_n = P_n(|X-\mu_0| > 3\sigma_0)`; line: the mean, Rao–Blackwellised
    (:func:`collapse_theory.gaussian.expected_tail_mass`, its own 10⁵ chi-square paths); dashed:
    its median estimate; markers: the simulator's mean ± 2 SE and median, shaded: its 5–95 % and
    25–75 % quantile bands. Panel (b), about the model's own mean,
    :math:`P_n(|X-\mu_n| > 3\sigma_0) = 2\bar\Phi(3\sigma_0/\sigma_n)`: exact mean and median
    (Gil–Pelaez), the approximation :math:`2\bar\Phi(3e^{-\kappa_1/2})`, and the same Monte
    Carlo statistics. Log y-axis; the original value :math:`2\bar\Phi(3) = 0.0027` is marked.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        R = 2×10⁴ (and 2×10⁴ Rao–Blackwell paths) instead of 10⁵.

    Returns
    -------
    matplotlib.figure.Figure
    """
    m, n_max, k = 50, 100, 3.0
    reps = 20_000 if quick else 100_000
    sim_seed, rb_seed, med_seed = _streams(seed, 3)
    record = np.arange(0, n_max + 1, 5)
    mu, var = _simulate_1d(m, record, reps, sim_seed)
    gens = np.arange(0, n_max + 1, 2)
    original = 2.0 * ndtr(-k)
    fig, (ax_a, ax_b) = _new_figure(10.0, 4.3, 2)

    panels = (
        (ax_a, metrics.tail_mass_gaussian(mu, var, k), False),
        (ax_b, metrics.tail_mass_gaussian(mu, var, k, center=mu), True),
    )
    for ax, mass, centered in panels:
        q05, q25, med, q75, q95 = np.quantile(mass, [0.05, 0.25, 0.5, 0.75, 0.95], axis=1)
        ax.fill_between(record, q05, q95, color=_COLORS[0], alpha=0.13, lw=0, label="MC 5–95 %")
        ax.fill_between(record, q25, q75, color=_COLORS[0], alpha=0.25, lw=0, label="MC 25–75 %")
        if centered:
            mean_curve = gaussian.expected_tail_mass(k, m, gens, centered=True)
            median_curve = gaussian.expected_tail_mass(
                k, m, gens, centered=True, statistic="median"
            )
            k1 = gaussian.log_variance_cumulants(m, gens, order=1)[0]
            ax.plot(gens, mean_curve, color=_COLORS[1], lw=1.8, label="mean, exact (Gil–Pelaez)")
            ax.plot(gens, median_curve, color=_COLORS[0], lw=1.8, label="median, exact")
            ax.plot(
                gens,
                2.0 * ndtr(-k * np.exp(-0.5 * k1)),
                ":",
                color="0.2",
                lw=1.2,
                label="$2\\bar\\Phi(3e^{-\\kappa_1/2})$",
            )
        else:
            paths = 20_000 if quick else 100_000
            mean_curve = gaussian.expected_tail_mass(k, m, gens, num_paths=paths, seed=rb_seed)
            median_curve = gaussian.expected_tail_mass(
                k, m, gens, statistic="median", num_paths=paths, seed=med_seed
            )
            ax.plot(gens, mean_curve, color=_COLORS[1], lw=1.8, label="mean (Rao–Blackwellised)")
            ax.plot(
                gens,
                median_curve,
                "--",
                color=_COLORS[0],
                lw=1.5,
                label="median (expected_tail_mass)",
            )
        ax.errorbar(
            record,
            mass.mean(axis=1),
            yerr=2.0 * mass.std(axis=1, ddof=1) / np.sqrt(reps),
            fmt="s",
            ms=3.5,
            mfc="white",
            color=_COLORS[1],
            capsize=2,
            lw=1,
            label="MC mean ± 2 SE",
        )
        ax.plot(record, med, "o", ms=3.5, mfc="white", color=_COLORS[0], label="MC median")
        ax.axhline(original, color="0.4", lw=0.9, ls="-.", label="model 0: $2\\bar\\Phi(3)$")
        ax.set_yscale("log")
        ax.set_ylim(1e-16, 1.0)
        ax.set_xlim(0, n_max)
        ax.set_xlabel("generation $n$")
        ax.legend(loc="lower left", fontsize=7.5)
    ax_a.set_ylabel("tail mass $P_n(|X-\\mu_0| > 3\\sigma_0)$")
    ax_a.set_title(f"(a) about the original mean $\\mu_0$, $M={m}$, $R={reps:,}$")
    ax_b.set_ylabel("tail mass $P_n(|X-\\mu_n| > 3\\sigma_0)$")
    ax_b.set_title("(b) about the model's own mean $\\mu_n$")
    _caption(
        fig,
        "Mass of model $n$ beyond $3\\sigma_0$ (theory.md §2.9), unbiased fits from $M=50$ draws: "
        "the mean grows (drift, heavy tails) while the typical model loses its tails.\nShaded: "
        "Monte Carlo quantile bands; markers: simulator mean ± 2 SE and median.",
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 5. Gaussian mixtures: the paper's experiment (theory.md §4)


def _gmm_experiment(
    experiment: Any, seed: Any, quick: bool, start: str, num_replicates: int
) -> Any:
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
        seed=_streams(seed, 1)[0],
    )


def _ellipse(ax: Any, mean: np.ndarray, cov: np.ndarray, color: str) -> None:
    """The 2-sigma ellipse of N(mean, cov) (first two coordinates)."""
    values, vectors = np.linalg.eigh(cov[:2, :2])
    values = np.clip(values, 0.0, None)
    angle = float(np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1])))
    ax.add_patch(
        mpl.patches.Ellipse(
            tuple(mean[:2]),
            width=4.0 * np.sqrt(values[1]),
            height=4.0 * np.sqrt(values[0]),
            angle=angle,
            fill=False,
            color=color,
            lw=1.6,
        )
    )


def figure_gmm_snapshots(
    *, seed: Any = 0, quick: bool = False, experiment: Any = None, start: str = "blob"
) -> Figure:
    r"""The paper's GMM experiment: samples of the fitted mixture at the snapshot generations
    (theory.md §4; issue 4).

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
    draw_rng = np.random.default_rng(_streams(seed, 2)[1])
    with mpl.rc_context(_STYLE):
        fig = Figure(figsize=(12.0, 6.4), layout="constrained")
        FigureCanvasAgg(fig)
        axes = [fig.add_subplot(2, 4, i + 1) for i in range(8)]
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
            _ellipse(ax, means[k], covs[k], color)
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
    ax_var.plot(gens, expected, color=_COLORS[1], lw=1.2, ls=":", label="$E\\sigma_n^2 = r^n$")
    for g in shots:
        ax_var.axvline(g, color=_COLORS[0], lw=0.6, alpha=0.5)
    ax_var.set_yscale("log")
    ax_var.set_xlabel("generation $n$")
    ax_var.set_ylabel("per-dimension variance")
    ax_var.set_title("variance of the fit (chain 0)")
    ax_var.legend(loc="lower left")
    _caption(
        fig,
        f"Recursive EM, 2 components, full covariances, N = {run.num_samples} per generation, "
        f"start '{run.start}' (model 0 = N(0, I) for 'blob'); 1000 draws of each fitted mixture, "
        "2σ ellipses, + = component means; $r = (N-1)/N$.\nAt generation 0 of 'blob' both "
        "components are N(0, I) and their ellipses coincide.",
    )
    return fig


def figure_gmm_l2(
    *, seed: Any = 0, quick: bool = False, experiment: Any = None, start: str = "blob"
) -> Figure:
    r"""The paper's GMM experiment over generations: L2 distance to the original density and
    per-dimension variance (theory.md §4; issue 4).

    Panel (a), log y: :math:`\|f_n - f_0\|_2` (closed form, :func:`metrics.l2_gmm`) of every
    chain (thin lines) and their median (thick). Panel (b), log y: the per-dimension variance of
    every chain and dimension (thin) and the median over them (thick), against the exact mean
    :math:`E\sigma_n^2 = \sigma_0^2 r^n`, r = (N−1)/N (EM with full covariances matches the
    sample covariance, so the mixture's variance is the single-Gaussian MLE recursion in
    expectation, module :mod:`collapse_theory.gmm.paper`), and the single-Gaussian median
    :math:`\sigma_0^2 e^{n\kappa_1}`, :math:`\kappa_1 = E\ln(\chi^2_{N-1}/N)` (theory.md §2.6).
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
    fig, (ax_l2, ax_var) = _new_figure(11.0, 4.4, 2)
    n = gens[1:]
    for r in range(run.num_replicates):
        ax_l2.plot(n, run.l2[1:, r], color=_COLORS[0], lw=0.6, alpha=0.45)
    ax_l2.plot(n, np.median(run.l2[1:], axis=1), color=_COLORS[0], lw=2.0)
    ax_l2.set_yscale("log")
    ax_l2.set_xlabel("generation $n$")
    ax_l2.set_ylabel("$\\|f_n - f_0\\|_2$  (L2 distance to the original)")
    ax_l2.set_title("(a) L2 distance between fitted and original densities")
    ax_l2.legend(
        handles=[
            mpl.lines.Line2D([], [], color=_COLORS[0], lw=0.6, label="one chain"),
            mpl.lines.Line2D(
                [], [], color=_COLORS[0], lw=2.0, label=f"median of {run.num_replicates} chains"
            ),
        ],
        loc="lower right",
    )
    var = run.variance.reshape(gens.size, -1)
    for column in var.T:
        ax_var.plot(gens, column, color=_COLORS[2], lw=0.6, alpha=0.4)
    ax_var.plot(gens, np.median(var, axis=1), color=_COLORS[2], lw=2.0)
    m = run.num_samples
    sigma0 = float(np.mean(run.variance[0]))
    ax_var.plot(gens, sigma0 * ((m - 1) / m) ** gens.astype(float), color="0.2", lw=1.3, ls="--")
    kappa1 = float(digamma((m - 1) / 2.0) + np.log(2.0 / m))
    ax_var.plot(gens, sigma0 * np.exp(kappa1 * gens), color="0.2", lw=1.3, ls=":")
    ax_var.set_yscale("log")
    ax_var.set_xlabel("generation $n$")
    ax_var.set_ylabel("per-dimension variance of the fitted mixture")
    ax_var.set_title("(b) per-dimension variance collapses")
    ax_var.legend(
        handles=[
            mpl.lines.Line2D([], [], color=_COLORS[2], lw=0.6, label="one chain, one dimension"),
            mpl.lines.Line2D([], [], color=_COLORS[2], lw=2.0, label="median"),
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
    _caption(
        fig,
        f"Recursive EM, 2 components, full covariances, N = {m} per generation, start "
        f"'{run.start}', k-means++ each generation, tol 1e-5, reg_covar 0; "
        f"{run.num_replicates} independent chains; $r = (N-1)/N$.",
    )
    return fig


# ---------------------------------------------------------------------------------------------
# Registry and saving

#: Every figure by name: ``FIGURES[name](seed=0, quick=False) -> Figure``.
FIGURES: dict[str, Callable[..., Figure]] = {
    "w2_schedules": figure_w2_schedules,
    "variance_law": figure_variance_law,
    "categorical_survivors": figure_categorical_survivors,
    "absorption_time": figure_absorption_time,
    "tail_mass": figure_tail_mass,
    "gmm_snapshots": figure_gmm_snapshots,
    "gmm_l2": figure_gmm_l2,
}


def save_figure(fig: Figure, out_dir: str | Path, name: str) -> tuple[Path, Path]:
    """Write ``fig`` as ``<out_dir>/<name>.png`` (130 dpi) and ``<out_dir>/<name>.pdf``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    out_dir : str or pathlib.Path
        Created if missing.
    name : str
        File stem: letters, digits, ``_`` and ``-`` only.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The PNG and PDF paths.

    Raises
    ------
    TypeError
        If ``fig`` is not a matplotlib Figure.
    ValueError
        If ``name`` is empty or contains other characters.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib.figure.Figure; got {type(fig).__name__}")
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError(
            f"name must be a non-empty file stem of letters, digits, _ or -; got {name!r}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, pdf = out / f"{name}.png", out / f"{name}.pdf"
    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.savefig(png, dpi=PNG_DPI, pil_kwargs={"optimize": True})
    fig.savefig(pdf)
    return png, pdf
