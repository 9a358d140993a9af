r"""Figures of the language-model family (registered with :mod:`collapse_theory._figures`).

Paper figures: ``lm_perplexity`` (the paper's Figure 1 analogue: per-sequence perplexity of the
original test blocks under model n, and of model n's samples under model 0, histograms by
generation, replace beside 10 % of the original blocks kept; docs/theory.md §7, §11) and
``lm_unigram`` (the unigram maximum-likelihood chain's surviving word types, heterozygosity and
model-0 tail share against their exact laws, docs/theory.md §1.3, §1.4).

Nothing here imports jax: the registered figures run the n-gram model.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from collapse_theory._figures import (
    COLORS,
    STYLE,
    caption,
    mc_points,
    new_figure,
    register,
)
from collapse_theory._stats import mean_se
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.lm.simulate import LMRun
from collapse_theory.rng import SeedLike

__all__ = [
    "figure_lm_perplexity",
    "figure_lm_unigram",
    "plot_perplexity_histograms",
    "plot_unigram_theory",
]

#: At most this many generations are drawn per histogram panel.
MAX_SHOWN = 6
_BINS = 28


def _shown(generations: np.ndarray, limit: int = MAX_SHOWN) -> np.ndarray:
    if generations.size <= limit:
        return generations
    picks = np.unique(np.linspace(0, generations.size - 1, limit).round().astype(int))
    return generations[picks]


def _bins(values: list[np.ndarray]) -> np.ndarray:
    finite = np.concatenate([v[np.isfinite(v)] for v in values])
    if finite.size == 0:
        raise InputError("no finite perplexity to draw")
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        high = low * 1.01 + 1e-9
    return np.geomspace(low, high, _BINS + 1)


def _histogram_panel(ax, run: LMRun, values: np.ndarray, bins, shown, title: str) -> int:
    """Step histograms (share of sequences per log bin) of ``values[:, g]`` pooled over chains."""
    cmap = mpl.colormaps["viridis"]
    infinite = 0
    for i, gen in enumerate(shown):
        g = int(np.flatnonzero(run.generations == gen)[0])
        data = values[:, g].ravel()
        infinite += int(np.count_nonzero(~np.isfinite(data)))
        counts, _ = np.histogram(data[np.isfinite(data)], bins=bins)
        share = counts / max(data.size, 1)
        color = cmap(i / max(len(shown) - 1, 1) * 0.92)
        steps = np.append(share, share[-1])
        ax.plot(bins, steps, drawstyle="steps-post", color=color, lw=1.4, label=f"generation {gen}")
    ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel("per-sequence perplexity")
    ax.set_ylabel("share of sequences")
    return infinite


def plot_perplexity_histograms(runs: Mapping[str, LMRun], *, note: str = "") -> Figure:
    r"""The paper's Figure 1 analogue (docs/theory.md §7, §11): one column per run (regime);
    top row the per-sequence perplexity of the original test blocks under model n, bottom row
    the perplexity of model n's samples under model 0; histograms (share of sequences per
    log-spaced bin, pooled over chains) for up to six generations.

    Parameters
    ----------
    runs : mapping of str to LMRun
        Column title -> run (e.g. ``{"replace": ..., "10 % original kept": ...}``).
    note : str
        Appended to the caption (e.g. the model and decoding).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (2 rows x len(runs) panels).
    """
    if not runs or not all(isinstance(r, LMRun) for r in runs.values()):
        raise InputTypeError("runs must be a non-empty mapping of titles to LMRun")
    items = list(runs.items())
    fig, axes = new_figure(5.0 * len(items) + 1.0, 7.2, len(items), nrows=2)
    test_bins = _bins([run.test_perplexity for _, run in items])
    sample_bins = _bins([run.sample_perplexity for _, run in items])
    infinite = 0
    with mpl.rc_context(STYLE):
        for col, (title, run) in enumerate(items):
            shown = _shown(run.generations)
            infinite += _histogram_panel(
                axes[col], run, run.test_perplexity, test_bins, shown,
                f"{title}: test data under model n",
            )  # fmt: skip
            infinite += _histogram_panel(
                axes[len(items) + col], run, run.sample_perplexity, sample_bins, shown,
                f"{title}: model n's samples under model 0",
            )  # fmt: skip
        for row in range(2):
            top = max(ax.get_ylim()[1] for ax in axes[row * len(items) : (row + 1) * len(items)])
            for ax in axes[row * len(items) : (row + 1) * len(items)]:
                ax.set_ylim(0.0, top)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 6))
        first = items[0][1]
        text = (
            f"{first.num_replicates} chain(s) per regime pooled; {first.test_perplexity.shape[2]} "
            f"test blocks, {first.sample_perplexity.shape[2]} samples of "
            f"{first.config['block_length']} tokens per model"
        )
        if infinite:
            text += f"; {infinite} infinite perplexities not drawn"
        caption(fig, text + (f"; {note}" if note else ""))
    return fig


def plot_unigram_theory(run: LMRun) -> Figure:
    r"""The unigram MLE chain against its exact laws (docs/theory.md §1.3, §1.4, §11): surviving
    word types :math:`E N_n`, heterozygosity :math:`E H_n = H_0 (1 - 1/M)^n` and the model-0
    tail share :math:`E T_n = T_0` of the training tokens (a martingale), simulated means with
    +- 2 standard errors over the chains.

    Parameters
    ----------
    run : LMRun
        A run of ``NGramTrainer(1, "mle")`` under Replace with plain sampling (the case where
        the laws are exact), at least 2 chains.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels.
    """
    from collapse_theory.lm.tails import lm_tail_exact
    from collapse_theory.lm.theory import unigram_laws

    if not isinstance(run, LMRun):
        raise InputTypeError(f"run must be an LMRun; got {type(run).__name__}")
    trainer = run.config["trainer"]
    exact = (
        trainer.get("order") == 1
        and trainer.get("smoothing") == "mle"
        and run.config["regime"] == "replace"
        and run.config["policy"] is None
        and run.config["beam"] == 1
        and run.config["repetition_penalty"] == 1.0
    )
    if not exact or run.num_replicates < 2:
        raise InputError(
            "the unigram laws are exact for NGramTrainer(1, 'mle'), Replace, plain sampling "
            f"(no policy, beam 1, no penalty) and need >= 2 chains; got {run.config}"
        )
    m = int(run.scalars["training_tokens"][0, 0])
    gens = run.generations
    laws = unigram_laws(run.unigram_p0(), m, gens)
    tail = lm_tail_exact(run.unigram_p0(), m, gens, tail_types=run.tail_types)
    panels = (
        ("surviving_types", laws.expected_survivors, "surviving word types", "word types"),
        ("heterozygosity", laws.expected_heterozygosity, "heterozygosity", r"$1 - \sum_i p_i^2$"),
        ("tail_mass_train", tail.mean, "model-0 tail share of the tokens", "tail share"),
    )
    fig, axes = new_figure(13.0, 4.2, 3)
    with mpl.rc_context(STYLE):
        for ax, (name, theory, title, ylabel) in zip(axes, panels, strict=True):
            mean, se = mean_se(run.scalars[name].T, axis=1)
            ax.plot(gens, theory, "-", color=COLORS[0], lw=1.6, label="exact law (§1)")
            mc_points(ax, gens, mean, se, COLORS[1], label="simulated mean +- 2 SE")
            ax.set_title(title)
            ax.set_xlabel("generation n")
            ax.set_ylabel(ylabel)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=len(labels))
        caption(
            fig,
            f"unigram MLE refitted on M = {m} of its own tokens per generation, "
            f"{run.num_replicates} chains, V = {run.tokenizer.size}; tail = the rarest types "
            "holding 10 % of the test tokens",
        )
    return fig


@register("lm_perplexity", family="lm")
def figure_lm_perplexity(*, seed: SeedLike = 0, quick: bool = False) -> Figure:
    """The paper's Figure 1 with a bigram Kneser-Ney model on the pydoc corpus: perplexity
    histograms by generation, replace vs 10 % of the original blocks kept (docs/theory.md §11).

    Parameters
    ----------
    seed : SeedLike
        Root seed.
    quick : bool
        48 training blocks and 3 generations instead of every block and 10.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from collapse_theory.lm.report import paper_experiment

    experiment = paper_experiment(
        seed=seed,
        quick=quick,
        generations=3 if quick else 10,
        num_sequences=48 if quick else None,
        unigram_replicates=0,
    )
    runs = dict(zip(("replace", "10 % original kept"), experiment.runs.values(), strict=True))
    return plot_perplexity_histograms(runs, note="bigram Kneser-Ney, top-p 0.9")


@register("lm_unigram", family="lm")
def figure_lm_unigram(*, seed: SeedLike = 0, quick: bool = False) -> Figure:
    """The unigram MLE chain on the pydoc corpus against the exact categorical laws: surviving
    word types, heterozygosity, tail share (docs/theory.md §1.3, §1.4, §11).

    Parameters
    ----------
    seed : SeedLike
        Root seed.
    quick : bool
        48 training blocks, 3 generations and 10 chains instead of every block, 10 and 20.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from collapse_theory.lm.report import paper_experiment

    experiment = paper_experiment(
        seed=seed,
        quick=quick,
        generations=3 if quick else 10,
        num_sequences=48 if quick else None,
        regimes=(),
    )
    return plot_unigram_theory(experiment.unigram)
