r"""Figures of the Gaussian family (registered with :mod:`collapse_theory._figures`).

Paper figures: ``w2_schedules`` (exact E W2^2 under sample-size schedules against Monte Carlo,
docs/theory.md §2.5), ``variance_law`` (median, band and P(sigma_n^2 < eps) of the variance,
§2.2-2.3) and ``tail_mass`` (mean against median tail mass, §2.9). Report figures:
``verify_gaussian`` (E ln sigma_n^2, unbiased and MLE, §2.3, §2.6) and ``verify_multivariate``
(E ln det Sigma_n in d = 3, §3.3).

Where a mean is heavy-tailed (docs/theory.md §2.5's caveat), the Monte Carlo mean is drawn only
where its *exact* relative standard error is small, so that no band is dishonest.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from scipy.special import ndtr

from collapse_theory import gaussian, metrics, schedules
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
from collapse_theory._stats import mean_se
from collapse_theory.rng import SeedLike, spawn
from collapse_theory.schedules import ScheduleLike

MAX_RELATIVE_SE = 0.05


def _simulate_1d(
    num_samples: ScheduleLike,
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


_W2_SCHEDULES = (
    ("constant $M=20$", schedules.Constant(20)),
    ("linear $M_i=20(i+1)$", schedules.Linear(20, 20.0)),
    ("quadratic $M_i=20(i+1)^2$", schedules.Power(20, 2.0)),
)


@register("w2_schedules", family="gaussian")
def figure_w2_schedules(*, seed: SeedLike = 0, quick: bool = False) -> Figure:
    r"""The schedule criterion: :math:`E\,W_2^2(N(\mu_n,\sigma_n^2), N(0,1))` against n
    (docs/theory.md §2.5; issue 3, must-show 4).

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
    fig, (ax_log, ax_lin) = new_figure(10.0, 4.3, 2)
    children = spawn(seed, len(_W2_SCHEDULES))
    schedule_handles = []
    for idx, (label, schedule) in enumerate(_W2_SCHEDULES):
        color = COLORS[idx]
        exact = gaussian.expected_w2_squared(schedule, gens)
        bound = gaussian.w2_lower_bound(schedule, gens)
        mean, var = gaussian.w2_squared_moments(schedule, n_mc_max)
        rel_se = np.sqrt(var[1:] / reps[idx]) / mean[1:]
        # Monte Carlo on the initial segment of n where the exact relative SE is small
        n_mc = int(np.cumprod(rel_se <= MAX_RELATIVE_SE).sum())
        record = log_grid(n_mc, 16) if n_mc else np.zeros(0, np.int64)
        axes = (ax_log,) if idx == 0 else (ax_log, ax_lin)
        for ax in axes:
            ax.plot(gens, exact, color=color, lw=1.8)
            ax.plot(gens, bound, color=color, lw=1.1, ls="--")
        schedule_handles.append(
            mpl.lines.Line2D([], [], color=color, lw=1.8, label=f"{label}  (R = {reps[idx]:,})")
        )
        if record.size:
            mu, v = _simulate_1d(schedule, record, reps[idx], children[idx])
            w2 = metrics.w2_gaussian(mu, v, 0.0, 1.0, squared=True)  # to N(0, 1), §2.5
            exact_se = np.sqrt(var[record] / reps[idx])  # from the exact variance of W2^2
            for ax in axes:
                mc_points(ax, record, w2.mean(axis=1), exact_se, color)
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
    caption(
        fig,
        "Recursive fit of $N(\\mu,\\sigma^2)$ (unbiased), $\\sigma_0=1$; exact curves (docs/theory.md "
        "§2.5) and sufficient-statistics Monte Carlo.\n Error bars: ± 2 SE with SE from the exact "
        "Var $W_2^2$; MC shown only where that relative SE < 5 % (heavy tails beyond).",
    )
    return fig


@register("variance_law", family="gaussian")
def figure_variance_law(*, seed: SeedLike = 0, quick: bool = False) -> Figure:
    r"""The law of :math:`\sigma_n^2/\sigma_0^2` for M = 10 (docs/theory.md §2.2–2.3).

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
    (child,) = spawn(seed, 1)
    record = np.concatenate([[0], log_grid(n_max, 22)])
    _, var = _simulate_1d(m, record, reps, child)
    gens = np.arange(0, n_max + 1)
    k1, k2 = gaussian.log_variance_cumulants(m, gens, order=2)
    fig, (ax_q, ax_p) = new_figure(10.0, 4.3, 2)

    lo, med, hi = np.quantile(var, [0.05, 0.5, 0.95], axis=1)
    ax_q.fill_between(record, lo, hi, color=COLORS[0], alpha=0.18, lw=0, label="MC 5–95 % band")
    ax_q.plot(gens, np.exp(k1), color=COLORS[0], lw=1.8, label="$e^{\\kappa_1}$ (≈ median)")
    ax_q.plot(record, med, "o", ms=3.5, mfc="white", color=COLORS[0], label="MC median")
    sd = np.sqrt(k2)
    ax_q.plot(gens, np.exp(k1 - 1.645 * sd), ":", color=COLORS[0], lw=1.2)
    ax_q.plot(
        gens,
        np.exp(k1 + 1.645 * sd),
        ":",
        color=COLORS[0],
        lw=1.2,
        label="$e^{\\kappa_1 \\pm 1.645\\sqrt{\\kappa_2}}$ (log-normal 5/95 %)",
    )
    ax_q.plot(gens, np.ones_like(gens, float), color=COLORS[1], lw=1.8, label="mean $=1$ (exact)")
    growth = np.expm1(record * np.log1p(2.0 / (m - 1)))
    honest = np.sqrt(growth / reps) <= MAX_RELATIVE_SE
    mean, se = mean_se(var, axis=1)
    mc_points(
        ax_q,
        record[honest],
        mean[honest],
        se[honest],
        COLORS[1],
        marker="s",
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
        color = (COLORS[0], COLORS[3], COLORS[4])[j]
        ax_p.plot(gens[1:], exact[j], color=color, lw=1.8)
        prob = np.mean(var[1:] < eps, axis=1)
        se_p = np.sqrt(prob * (1.0 - prob) / reps)
        mc_points(ax_p, record[1:], prob, se_p, color)
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
    caption(
        fig,
        f"Recursive unbiased fit of $N(\\mu,\\sigma^2)$ from $M={m}$ draws (docs/theory.md §2.2–2.3): "
        "the mean stays $\\sigma_0^2$ while the median falls like $e^{\\kappa_1}$, "
        "$\\kappa_1 \\approx -n/(M-1)$.\nMC: sufficient-statistics simulator; MC means shown only "
        "where their exact relative SE < 5 %.",
    )
    return fig


@register("tail_mass", family="gaussian")
def figure_tail_mass(*, seed: SeedLike = 0, quick: bool = False) -> Figure:
    r"""Tail mass of model n beyond :math:`3\sigma_0`, mean against median (docs/theory.md §2.9).

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
    sim_seed, rb_seed, med_seed = spawn(seed, 3)
    record = np.arange(0, n_max + 1, 5)
    mu, var = _simulate_1d(m, record, reps, sim_seed)
    gens = np.arange(0, n_max + 1, 2)
    original = 2.0 * ndtr(-k)
    fig, (ax_a, ax_b) = new_figure(10.0, 4.3, 2)

    panels = (
        (ax_a, metrics.tail_mass_gaussian(mu, var, k), False),
        (ax_b, metrics.tail_mass_gaussian(mu, var, k, center=mu), True),
    )
    for ax, mass, centered in panels:
        q05, q25, med, q75, q95 = np.quantile(mass, [0.05, 0.25, 0.5, 0.75, 0.95], axis=1)
        ax.fill_between(record, q05, q95, color=COLORS[0], alpha=0.13, lw=0, label="MC 5–95 %")
        ax.fill_between(record, q25, q75, color=COLORS[0], alpha=0.25, lw=0, label="MC 25–75 %")
        if centered:
            mean_curve = gaussian.expected_tail_mass(k, m, gens, centered=True)
            median_curve = gaussian.expected_tail_mass(
                k, m, gens, centered=True, statistic="median"
            )
            k1 = gaussian.log_variance_cumulants(m, gens, order=1)[0]
            ax.plot(gens, mean_curve, color=COLORS[1], lw=1.8, label="mean, exact (Gil–Pelaez)")
            ax.plot(gens, median_curve, color=COLORS[0], lw=1.8, label="median, exact")
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
            ax.plot(gens, mean_curve, color=COLORS[1], lw=1.8, label="mean (Rao–Blackwellised)")
            ax.plot(
                gens,
                median_curve,
                "--",
                color=COLORS[0],
                lw=1.5,
                label="median (expected_tail_mass)",
            )
        mc_points(
            ax,
            record,
            *mean_se(mass, axis=1),
            COLORS[1],
            marker="s",
            label="MC mean ± 2 SE",
        )
        ax.plot(record, med, "o", ms=3.5, mfc="white", color=COLORS[0], label="MC median")
        ax.axhline(original, color="0.4", lw=0.9, ls="-.", label="model 0: $2\\bar\\Phi(3)$")
        ax.set_yscale("log")
        ax.set_ylim(1e-16, 1.0)
        ax.set_xlim(0, n_max)
        ax.set_xlabel("generation $n$")
        legend_below(ax, ncols=2, fontsize=7.5)  # the bands fill the panel down to 1e-16
    ax_a.set_ylabel("tail mass $P_n(|X-\\mu_0| > 3\\sigma_0)$")
    ax_a.set_title(f"(a) about the original mean $\\mu_0$, $M={m}$, $R={reps:,}$")
    ax_b.set_ylabel("tail mass $P_n(|X-\\mu_n| > 3\\sigma_0)$")
    ax_b.set_title("(b) about the model's own mean $\\mu_n$")
    caption(
        fig,
        "Mass of model $n$ beyond $3\\sigma_0$ (docs/theory.md §2.9), unbiased fits from $M=50$ draws: "
        "the mean grows (drift, heavy tails) while the typical model loses its tails.\nShaded: "
        "Monte Carlo quantile bands; markers: simulator mean ± 2 SE and median.",
    )
    return fig


def _unbiased_against_mle(
    simulate: Callable[[str, np.random.SeedSequence], tuple[np.ndarray, np.ndarray]],
    theory: Callable[[str, np.ndarray], np.ndarray],
    ylabel: str,
    title: str,
    seed: SeedLike,
) -> Figure:
    """Two panels for both estimators: theory line and MC band, then MC mean − theory."""
    fig, (ax, ax_res) = new_figure(8.4, 3.3, 2)
    for color, estimator, child in zip(
        ("C0", "C3"), ("unbiased", "mle"), spawn(seed, 2), strict=True
    ):
        gens, samples = simulate(estimator, child)
        exact = theory(estimator, gens)
        line_color = "k" if estimator == "unbiased" else "0.4"
        ax.plot(gens, exact, "-", color=line_color, lw=1.2, label=f"theory ({estimator})")
        band(ax, gens, samples, color, f"{estimator}: MC mean ± 2 SE")
        band(ax_res, gens, samples, color, estimator, theory=exact)
    ax.set(xlabel="generation n", ylabel=ylabel, title="(a) theory and simulation")
    ax.legend()
    ax_res.set(
        xlabel="generation n", ylabel="MC mean − theory", title="(b) difference, ± 2 SE band"
    )
    ax_res.legend()
    fig.suptitle(title, fontsize=10)
    return fig


@register("verify_gaussian", kind="report", family="gaussian", checks=("gaussian.",))
def figure_verify_gaussian(seed: SeedLike = 0, quick: bool = True) -> Figure:
    """:math:`E\\ln\\sigma_n^2` against generations, unbiased and MLE (§2.3, §2.6)."""
    import collapse_theory as ct

    m, n = 20, 100
    reps = 4000 if quick else 40_000

    def simulate(estimator: str, child: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
        run = ct.gaussian.simulate(
            0.0, 1.0, m, n, num_replicates=reps, estimator=estimator, seed=child
        )
        return run.generations, np.log(run["var"])

    def theory(estimator: str, gens: np.ndarray) -> np.ndarray:
        return ct.gaussian.log_variance_cumulants(m, gens, 1, estimator=estimator)[0]

    return _unbiased_against_mle(
        simulate,
        theory,
        r"$E\,\ln\sigma_n^2$",
        f"1-D Gaussian, M = {m}, R = {reps} (§2.3, §2.6)",
        seed,
    )


@register("verify_multivariate", kind="report", family="gaussian", checks=("gaussian.mv_",))
def figure_verify_multivariate(seed: SeedLike = 0, quick: bool = True) -> Figure:
    """:math:`E\\ln\\det\\Sigma_n` against generations in d = 3 (§3.3)."""
    import collapse_theory as ct
    from collapse_theory.gaussian.checks import COV3

    m, n = 12, 30
    reps = 2000 if quick else 20_000

    def simulate(estimator: str, child: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
        run = ct.gaussian.simulate(
            np.zeros(3), COV3, m, n, num_replicates=reps, estimator=estimator, seed=child
        )
        return run.generations, np.linalg.slogdet(run["cov"])[1]

    def theory(estimator: str, gens: np.ndarray) -> np.ndarray:
        return ct.gaussian.expected_log_det(COV3, m, gens, estimator=estimator)

    return _unbiased_against_mle(
        simulate,
        theory,
        r"$E\,\ln\det\Sigma_n$",
        f"Gaussian in d = 3, M = {m}, R = {reps} (§3.3)",
        seed,
    )


@register("weighted_fresh", family="gaussian", checks=("gaussian.weighted_drift",))
def figure_weighted_fresh(*, seed: SeedLike = 0, quick: bool = False) -> Figure:
    r"""Mitigation by weighted fresh data (docs/theory.md §9.1): the stationary drift against
    the weight w.

    Panel (a), Gaussian: :math:`D = E(\mu - \mu_0)^2` with :math:`\sigma_0 = 1`,
    :math:`D(w) = [(1-w)^2/M + w^2/n]/[1 - (1-w)^2]`, for n = 20 fresh draws and
    M/n = 1/4, 1, 4, with Monte Carlo means ± 2 SE at generation 60 and the optimum
    :math:`w^* = 2/(1 + \sqrt{1 + 4M/n})` marked (the golden ratio for M = n). Panel (b),
    categorical: the stationary :math:`\mathrm{Var}\,p/(p(1-p))` for the same M and n, with its
    optimum (:func:`collapse_theory.categorical.optimal_fresh_weight`) and Monte Carlo sample
    variances ± 2 SE (p = 0.2).

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence, default 0
    quick : bool, default False
        R = 4000 instead of 20000 chains per point.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from collapse_theory import categorical
    from collapse_theory._stats import variance_se
    from collapse_theory.regimes import WeightedFresh

    num_real, generations = 20, 60
    reps = 4000 if quick else 20_000
    weights = np.linspace(0.02, 1.0, 200)
    points = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    children = iter(spawn(seed, 6 * points.size))
    fig, (ax_g, ax_c) = new_figure(10.0, 4.3, 2)
    for color, m in zip(COLORS, (5, 20, 80), strict=False):
        label = f"$M = {m}$"
        drift = [
            float(gaussian.stationary_moments(m, WeightedFresh(w, num_real))[1]) for w in weights
        ]
        ax_g.plot(weights, drift, color=color, lw=1.6, label=label)
        best = gaussian.optimal_fresh_weight(m, num_real)
        ax_g.plot(
            [best], [float(gaussian.stationary_moments(m, WeightedFresh(best, num_real))[1])],
            "*", color=color, ms=11,
        )  # fmt: skip
        stats = [
            mean_se(
                gaussian.simulate(
                    0.0, 1.0, m, generations, num_replicates=reps, record="last",
                    regime=WeightedFresh(float(w), num_real), seed=next(children),
                )["mean"][-1] ** 2
            )
            for w in points
        ]  # fmt: skip
        mc_points(ax_g, points, [s[0] for s in stats], [s[1] for s in stats], color)
        scale = [
            float(
                categorical.stationary_moments([0.2, 0.8], m, WeightedFresh(w, num_real))[1][0, 0]
            )
            / 0.16
            for w in weights
        ]
        ax_c.plot(weights, scale, color=color, lw=1.6, label=label)
        best = categorical.optimal_fresh_weight(m, num_real)
        value = categorical.stationary_moments([0.2, 0.8], m, WeightedFresh(best, num_real))[1]
        ax_c.plot([best], [float(value[0, 0]) / 0.16], "*", color=color, ms=11)
        stats = [
            variance_se(
                categorical.simulate(
                    [0.2, 0.8], m, generations, num_replicates=reps, record="last",
                    regime=WeightedFresh(float(w), num_real), seed=next(children),
                )["p"][-1, :, 0]
            )
            for w in points
        ]  # fmt: skip
        mc_points(ax_c, points, [s[0] / 0.16 for s in stats], [s[1] / 0.16 for s in stats], color)
    for ax, what in (
        (ax_g, r"stationary drift $E(\mu - \mu_0)^2$"),
        (ax_c, r"$\mathrm{Var}\,p / p(1-p)$"),
    ):
        ax.set_yscale("log")
        ax.set_xlabel("weight $w$ of the fresh estimate")
        ax.set_ylabel(what)
        ax.axvline((5**0.5 - 1) / 2, color="0.6", lw=0.8, ls=":")
    ax_g.set_title("(a) Gaussian, $\\sigma_0 = 1$", fontsize=10)
    ax_c.set_title("(b) categorical, $p = 0.2$", fontsize=10)
    for ax in (ax_g, ax_c):
        ax.legend(fontsize=8)
    caption(
        fig,
        f"n = {num_real} fresh draws per generation; lines: closed forms; stars: optimal weight; "
        f"dotted: golden ratio; points: MC at generation {generations} ± 2 SE (R = {reps:,})",
    )
    return fig
