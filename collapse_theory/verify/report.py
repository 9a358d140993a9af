"""Figures and the self-contained HTML page of a verification report.

One figure per model family puts a closed form against the library's simulator over generations:
the theory curve, the Monte Carlo mean with a band of ± 2 standard errors, so a reader sees at a
glance that theory and simulation agree everywhere along the trajectory, not only at the one
generation a check tests. ``collapse-theory verify --out DIR`` writes them next to
``report.md`` / ``report.json`` and embeds them in ``report.html`` (no external files: the PNGs
are inlined as base64, the style sheet is inline).

Families and what their figure shows (the sections of theory.md):

- ``categorical``: expected heterozygosity :math:`E H_n = H_0 (1-1/M)^n` (§1.3) and the
  probability that the rarest state is lost (§1.4, exact lumped chain), K = 3, M = 50.
- ``gaussian``: :math:`E\\ln\\sigma_n^2` for the unbiased estimator and the MLE (§2.3, §2.6),
  M = 20; the mean of :math:`\\sigma_n^2` is a martingale and not what the typical chain does.
- ``multivariate``: :math:`E\\ln\\det\\Sigma_n` in d = 3 (§3.3), unbiased and MLE, M = 12.
- ``gmm``: recursive EM of a one-component mixture against the MLE law
  :math:`E\\sigma_n^2 = r^n` (§2.6), and the weight variance of two well-separated components
  against the Wright–Fisher law (§1.3).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FAMILY_FIGURES", "family_figures", "figure_families", "write_html"]

_BAND = 0.25  # alpha of the MC bands


def _new(ncols: int) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * ncols, 3.3), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig, list(axes)


def _band(ax: Any, x: np.ndarray, samples: np.ndarray, color: str, label: str) -> None:
    """MC mean of ``samples`` (generations × replicates) with ± 2 SE band."""
    mean = samples.mean(axis=1)
    se = samples.std(axis=1, ddof=1) / math.sqrt(samples.shape[1])
    ax.fill_between(x, mean - 2 * se, mean + 2 * se, color=color, alpha=_BAND, lw=0)
    ax.plot(x, mean, ".", color=color, ms=3, label=f"{label}: MC mean ± 2 SE")


def _residual(
    ax: Any, x: np.ndarray, samples: np.ndarray, theory: np.ndarray, color: str, label: str
) -> None:
    """MC mean minus theory with its ± 2 SE band: agreement is the band covering zero."""
    mean = samples.mean(axis=1)
    se = samples.std(axis=1, ddof=1) / math.sqrt(samples.shape[1])
    ax.fill_between(
        x, mean - theory - 2 * se, mean - theory + 2 * se, color=color, alpha=_BAND, lw=0
    )
    ax.plot(x, mean - theory, ".", color=color, ms=3, label=label)
    ax.axhline(0.0, color="k", lw=0.8)


def _seeds(seed: Any, count: int) -> list[np.random.SeedSequence]:
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return root.spawn(count)


def figure_categorical(seed: Any = 0, quick: bool = True) -> Any:
    """Heterozygosity and loss of the rarest state against generations (§1.3, §1.4)."""
    import collapse_theory as ct

    p0, m, n = np.array([0.2, 0.3, 0.5]), 50, 100
    reps = 4000 if quick else 40_000
    (child,) = _seeds(seed, 1)
    run = ct.categorical.simulate(p0, m, n, num_replicates=reps, seed=child)
    gens = run.generations
    fig, (ax_h, ax_loss) = _new(2)
    het = ct.categorical.expected_heterozygosity(p0, m, gens)
    ax_h.plot(gens, het, "k-", lw=1.2, label="theory $H_0(1-1/M)^n$")
    _band(ax_h, gens, 1.0 - np.sum(run["p"] ** 2, axis=-1), "C0", "simulation")
    ax_h.set(xlabel="generation n", ylabel="heterozygosity $H_n$", title="(a) $E H_n$ (§1.3)")
    ax_h.legend()
    lost = (run["p"][:, :, 0] == 0).astype(float)
    exact = ct.categorical.loss_probability(p0[0], m, gens)
    ax_loss.plot(gens, exact, "k-", lw=1.2, label="exact (lumped chain)")
    _band(ax_loss, gens, lost, "C3", "simulation")
    ax_loss.set(
        xlabel="generation n", ylabel="P(state lost)", title="(b) rarest state ($p_0$=0.2) lost"
    )
    ax_loss.legend()
    fig.suptitle(f"Categorical, K = 3, M = {m}, R = {reps}", fontsize=10)
    return fig


def _unbiased_against_mle(
    simulate: Callable[[str, np.random.SeedSequence], tuple[np.ndarray, np.ndarray]],
    theory: Callable[[str, np.ndarray], np.ndarray],
    ylabel: str,
    title: str,
    seed: Any,
) -> Any:
    """Two panels for both estimators: theory line and MC band, then MC mean − theory."""
    fig, (ax, ax_res) = _new(2)
    for color, estimator, child in zip(
        ("C0", "C3"), ("unbiased", "mle"), _seeds(seed, 2), strict=True
    ):
        gens, samples = simulate(estimator, child)
        exact = theory(estimator, gens)
        line_color = "k" if estimator == "unbiased" else "0.4"
        ax.plot(gens, exact, "-", color=line_color, lw=1.2, label=f"theory ({estimator})")
        _band(ax, gens, samples, color, estimator)
        _residual(ax_res, gens, samples, exact, color, estimator)
    ax.set(xlabel="generation n", ylabel=ylabel, title="(a) theory and simulation")
    ax.legend()
    ax_res.set(
        xlabel="generation n", ylabel="MC mean − theory", title="(b) difference, ± 2 SE band"
    )
    ax_res.legend()
    fig.suptitle(title, fontsize=10)
    return fig


def figure_gaussian(seed: Any = 0, quick: bool = True) -> Any:
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


def figure_multivariate(seed: Any = 0, quick: bool = True) -> Any:
    """:math:`E\\ln\\det\\Sigma_n` against generations in d = 3 (§3.3)."""
    import collapse_theory as ct
    from collapse_theory.verify.gaussian import COV3

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


def figure_gmm(seed: Any = 0, quick: bool = True) -> Any:
    """Recursive EM against its closed-form limits (§2.6 and §1.3)."""
    import collapse_theory as ct
    from collapse_theory.verify.gmm import SEPARATED

    reps = 2000 if quick else 20_000
    one_seed, two_seed = _seeds(seed, 2)
    fig, (ax_var, ax_w) = _new(2)
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
    _band(ax_var, gens, run["covs"][:, :, 0, 0, 0], "C0", "EM, K = 1")
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
    _band(ax_w, gens, centred, "C3", "EM weights")
    ax_w.set(
        xlabel="generation n",
        ylabel=r"Var $w_n$",
        title=f"(b) two components 100 sd apart, M = {m}",
    )
    ax_w.legend(loc="upper left")
    fig.suptitle(f"Gaussian mixtures by recursive EM, R = {reps}", fontsize=10)
    return fig


#: The report figure of each family.
FAMILY_FIGURES: dict[str, Callable[..., Any]] = {
    "categorical": figure_categorical,
    "gaussian": figure_gaussian,
    "multivariate": figure_multivariate,
    "gmm": figure_gmm,
}


def family_figures(
    directory: str | Path,
    families: Sequence[str] | None = None,
    *,
    seed: Any = 0,
    quick: bool = True,
) -> dict[str, Path]:
    """Draw the figure of each family into ``directory/figures/verify_<family>.png`` (and PDF)."""
    from collapse_theory.plotting import save_figure

    out = Path(directory) / "figures"
    paths = {}
    for family in families or list(FAMILY_FIGURES):
        png, _ = save_figure(
            FAMILY_FIGURES[family](seed=seed, quick=quick), out, f"verify_{family}"
        )
        paths[family] = png
    return paths


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; font-family: monospace; }
tr.fail td { background: #fde2e2; } .pass { color: #17702b; } .fail { color: #b00020; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
code { background: #f6f6f6; padding: 0 0.2em; }
"""


def figure_families(check_names: Sequence[str]) -> list[str]:
    """The report figures that belong to a run of these checks (``gaussian.mv_*`` are the
    multivariate ones)."""
    families = set()
    for name in check_names:
        family, _, rest = name.partition(".")
        families.add("multivariate" if family == "gaussian" and rest.startswith("mv_") else family)
    return [family for family in FAMILY_FIGURES if family in families]


def write_html(report: Any, path: str | Path, figures: dict[str, Path] | None = None) -> Path:
    """Write ``report`` (a :class:`~collapse_theory.verify.Report`) as one self-contained page."""
    header, body = report.table()
    status = "pass" if report.passed else "fail"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>collapse_theory verification report</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>collapse_theory verification report ({'quick' if report.quick else 'full'})</h1>",
        f"<p class='{status}'><b>{html.escape(report.summary_line())}</b> in "
        f"{report.seconds:.1f} s, backend <code>{html.escape(report.backend)}</code></p>",
        "<ul>",
        f"<li>seed: <code>{html.escape(str(dict(report.seed)))}</code></li>",
        "<li>versions: "
        + html.escape(", ".join(f"{k} {v}" for k, v in report.versions.items()))
        + "</li>",
        f"<li>calibration: {html.escape(report.calibration_text())}</li>",
        "</ul><table><tr>",
    ]
    parts += [
        f"<th class='{'name' if i == 0 else ''}'>{html.escape(h)}</th>"
        for i, h in enumerate(header)
    ]
    parts.append("</tr>")
    for row, cells in zip(report.rows, body, strict=True):
        parts.append(
            f"<tr class='{'' if row.passed else 'fail'}' title='{html.escape(row.description)}'>"
        )
        parts += [
            f"<td class='{'name' if i == 0 else ''}'>{html.escape(c)}</td>"
            for i, c in enumerate(cells)
        ]
        parts.append("</tr>")
    parts.append("</table>")
    for family, png in (figures or {}).items():
        data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        parts.append(
            f"<h2>{html.escape(family)}</h2><img alt='{family}' src='data:image/png;base64,{data}'>"
        )
    parts.append("</body></html>")
    path = Path(path)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
