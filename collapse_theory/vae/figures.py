"""Figures of the VAE experiment (docs/theory.md §7.1, §11.2), drawn from finished runs.

They are not in the figure registry: a registered figure is rebuilt by ``collapse-theory
figures`` and the plotting tests without jax, and these need trained VAEs; ``collapse-theory
vae-paper`` draws them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from collapse_theory._figures import COLORS, figure_legend, new_figure
from collapse_theory._stats import mean_se
from collapse_theory.vae.paper import PAPER_LATENT_STD
from collapse_theory.vae.simulate import VAEResult
from collapse_theory.vae.theory import ClassChainPrediction

__all__ = ["figure_vae_grids", "figure_vae_metrics", "mosaic"]


def _mean_band(ax, x, values, color, label) -> None:
    mean, se = mean_se(values, axis=0)
    ax.plot(x, mean, "o-", color=color, ms=3.5, lw=1.2, label=label)
    if values.shape[0] > 1:
        ax.fill_between(x, mean - 2 * se, mean + 2 * se, color=color, alpha=0.2, lw=0)


def figure_vae_metrics(
    results: Mapping[str, VAEResult], prediction: ClassChainPrediction | None = None
) -> Figure:
    """Latent std, class entropy (with the Wright–Fisher band), Fréchet distance and test ELBO
    against generation, one curve per run (mean of its chains +- 2 standard errors).

    Parameters
    ----------
    results : mapping of str to VAEResult
        Label -> run (e.g. one per regime).
    prediction : ClassChainPrediction, optional
        Wright–Fisher prediction of the first run's class histogram (generations 0..G).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = new_figure(9.0, 6.4, 2, nrows=2)
    first = next(iter(results.values()))
    for color, (label, run) in zip(COLORS, results.items(), strict=False):
        x = run.generations
        _mean_band(axes[0], x, run.latent_std, color, f"{label} (R={run.num_replicates})")
        _mean_band(axes[1], x, run.class_entropy, color, f"{label} (R={run.num_replicates})")
        _mean_band(axes[2], x, run.frechet_pca, color, f"{label} (R={run.num_replicates})")
        _mean_band(
            axes[3], x, run.test_elbo.mean(axis=-1), color, f"{label} (R={run.num_replicates})"
        )
    paper_x = np.arange(len(PAPER_LATENT_STD))
    axes[0].plot(paper_x, PAPER_LATENT_STD, "ks--", ms=4, lw=0.8, label="paper (MNIST, conv)")
    if prediction is not None:
        gens = prediction.generations
        axes[1].fill_between(
            gens,
            *prediction.entropy_band.T,
            color="0.5",
            alpha=0.3,
            lw=0,
            label="Wright–Fisher 5-95% (K=10, M=N)",
        )
    axes[1].axhline(np.log(10), color="0.3", lw=0.7, ls=":", label="ln 10")
    titles = (
        "latent std of samples under model-0 encoder",
        "class entropy of samples (fixed classifier)",
        "Fréchet (Gaussian W2) in fixed PCA space",
        "mean ELBO of real test images",
    )
    ylabels = ("std of encoder means", "entropy (nats)", "W2 to real test images", "ELBO (nats)")
    for ax, title, ylabel in zip(axes, titles, ylabels, strict=True):
        ax.set_title(title)
        ax.set_xlabel("generation")
        ax.set_ylabel(ylabel)
        ax.set_xticks(first.generations)
    figure_legend(fig, axes, ncols=3)
    fig.suptitle(
        f"{first.metadata.get('data', '')}: N = {first.num_samples} samples per generation, "
        f"{first.config.architecture} VAE, d = {first.config.latent_dim}, "
        f"{first.config.decoder} decoder, {first.config.epochs} epochs, init {first.config.init}",
        fontsize=8,
        color="0.25",
    )
    return fig


def mosaic(images: np.ndarray, columns: int) -> np.ndarray:
    """Tile images (n, side, side) into one array, ``columns`` per row, 1-pixel gaps of 1.0.

    Parameters
    ----------
    images : numpy.ndarray, shape (n, side, side)
    columns : int

    Returns
    -------
    numpy.ndarray, 2-D
    """
    n, side = len(images), images.shape[1]
    rows = -(-n // columns)
    out = np.ones((rows * (side + 1) - 1, columns * (side + 1) - 1))
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        out[r * (side + 1) : r * (side + 1) + side, c * (side + 1) : c * (side + 1) + side] = image
    return out


def figure_vae_grids(result: VAEResult, replicate: int = 0, max_images: int = 16) -> Figure:
    """The same latents decoded by every generation's model: one row per generation.

    Parameters
    ----------
    result : VAEResult
    replicate : int
        Which chain (default 0).
    max_images : int
        Images per row (at most the run's grid size).

    Returns
    -------
    matplotlib.figure.Figure
    """
    grids = result.grids[replicate][:, :max_images]
    g = grids.shape[1]
    side = grids.shape[-1]
    rows = np.concatenate([mosaic(gen, g)[None] for gen in grids])
    stacked = np.concatenate([np.vstack([row, np.ones((1, row.shape[1]))]) for row in rows])[:-1]
    fig, axes = new_figure(min(9.0, 0.45 * g + 1.2), 0.5 * len(grids) + 1.0, 1)
    ax = axes[0]
    ax.imshow(stacked, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.grid(False)
    ax.set_yticks([(side + 1) * k + side / 2 for k in range(len(grids))])
    ax.set_yticklabels([str(k) for k in result.generations])
    ax.set_xticks([])
    ax.set_ylabel("generation")
    ax.set_xlabel(f"{g} fixed latents z ~ N(0, I), decoded by each generation's model")
    ax.set_title(f"samples, {result.metadata.get('regime', '')}, chain {replicate}")
    return fig
