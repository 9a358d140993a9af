r"""The paper's Gaussian-mixture experiment as one call (docs/theory.md §4).

A 2-component, full-covariance mixture is refitted by EM, generation after generation, to
N = 1000 samples of the previous fit (tol 1e-5, at most 2000 iterations, no covariance
regulariser), for 2000 generations. :func:`paper_experiment` runs it and derives what the paper
plots: the L2 distance between the fitted and the original densities (closed form,
:func:`collapse_theory.metrics.l2_gmm`) and the per-dimension variance of the fitted mixture.

Why the per-dimension variance follows the single-Gaussian law exactly in expectation: after
every M step of EM with full covariances and ``reg_covar = 0`` the fitted mixture's overall mean
and covariance, :math:`\bar m = \sum_k w_k m_k` and :math:`\sum_k w_k (C_k + m_k m_k^\top) -
\bar m \bar m^\top`, equal the sample mean and the maximum-likelihood (ddof 0) sample covariance
of the data. The sample covariance of N iid draws has expectation :math:`(N-1)/N` times the
covariance of the law they come from, whatever that law is, so per dimension
:math:`E\sigma_n^2 = \sigma_0^2 ((N-1)/N)^n` and the median falls at the log rate
:math:`E\ln(\chi^2_{N-1}/N)` of docs/theory.md §2.6 (about :math:`e^{-4} \approx 0.018` after 2000
generations at N = 1000) — the ".011–.062" that docs/theory.md §4 reports. (Only a lost component,
whose weight is set to 0, breaks the identity, and then only by its negligible weight.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import check_choice, check_int
from collapse_theory.gmm.mixture import Mixture
from collapse_theory.gmm.simulate import INITS, simulate
from collapse_theory.results import SimulationResult
from collapse_theory.rng import SeedLike

__all__ = [
    "PAPER_SNAPSHOTS",
    "STARTS",
    "PaperExperiment",
    "mixture_variance",
    "paper_experiment",
    "paper_start",
]

#: Generations the paper shows as scatter plots (docs/theory.md §4).
PAPER_SNAPSHOTS = (0, 50, 100, 150, 200, 350, 2000)
#: Starting data of :func:`paper_experiment`.
STARTS = ("blob", "two-gaussians")


def paper_start(start: str = "blob") -> Mixture:
    """Model 0 of the paper's experiment, a 2-component mixture in 2-D.

    Parameters
    ----------
    start : "blob" or "two-gaussians"
        ``"blob"``: the released notebook's data, one 2-D standard Gaussian, written as a
        2-component mixture with equal weights, zero means and identity covariances. This
        mixture *is* :math:`N(0, I)` exactly, so the reference of every distance is the law of
        the notebook's data itself and :math:`\\sigma_0^2 = 1` holds exactly; fitting EM once to
        a 1000-point standard sample instead would make model 0 a random, already-biased
        estimate (that fit is our generation 1). ``"two-gaussians"``: two separated Gaussians,
        weights (0.5, 0.5), means (∓2.5, 0), identity covariances.

    Returns
    -------
    Mixture

    Examples
    --------
    >>> paper_start("blob").weights.tolist()
    [0.5, 0.5]
    """
    check_choice("start", start, STARTS)
    eye = np.eye(2)
    if start == "blob":
        return Mixture([0.5, 0.5], np.zeros((2, 2)), [eye, eye])
    return Mixture([0.5, 0.5], [[-2.5, 0.0], [2.5, 0.0]], [eye, eye])


def mixture_variance(weights: ArrayLike, means: ArrayLike, covs: ArrayLike) -> np.ndarray:
    r"""Per-dimension variance of mixtures: the diagonal of the overall covariance
    :math:`\sum_k w_k (C_k + m_k m_k^\top) - \bar m \bar m^\top`, :math:`\bar m = \sum_k w_k m_k`.

    Parameters
    ----------
    weights : array_like, shape (..., K)
    means : array_like, shape (..., K, d)
    covs : array_like, shape (..., K, d, d)

    Returns
    -------
    numpy.ndarray, shape (..., d)

    Examples
    --------
    >>> import numpy as np
    >>> mixture_variance([0.5, 0.5], [[-1.0], [1.0]], [[[1.0]], [[1.0]]]).tolist()
    [2.0]
    """
    w = np.asarray(weights, dtype=np.float64)
    m = np.asarray(means, dtype=np.float64)
    c = np.asarray(covs, dtype=np.float64)
    diag = np.diagonal(c, axis1=-2, axis2=-1)
    centre = np.einsum("...k,...kd->...d", w, m)
    second = np.einsum("...k,...kd->...d", w, diag + m**2)
    return np.maximum(second - centre**2, 0.0)


class SnapshotRow(TypedDict):
    """A row of :meth:`PaperExperiment.snapshot_table`."""

    generation: int
    variance: list[float]
    l2: float
    weights: list[float]


@dataclass(frozen=True)
class PaperExperiment:
    """The paper's GMM experiment: the run and what the paper plots from it.

    Attributes
    ----------
    start : str
        ``"blob"`` or ``"two-gaussians"``.
    mixture0 : Mixture
        Model 0 (the original), see :func:`paper_start`.
    result : SimulationResult
        The recursive EM run, every generation recorded: ``"weights"`` (G, R, K), ``"means"``,
        ``"covs"``, ``"lost"``, ``"log_likelihood"``, ...
    generations : numpy.ndarray, shape (G,)
        0, 1, ..., num_generations.
    l2 : numpy.ndarray, shape (G, R)
        L2 distance between the fitted and the original densities (0 at generation 0); ``inf``
        where a component of positive weight has a covariance singular to machine precision
        (fitted to a few nearly collinear points late in a chain: no finite L2 norm).
    variance : numpy.ndarray, shape (G, R, d)
        Per-dimension variance of the fitted mixture (:func:`mixture_variance`).
    snapshots : tuple of int
        Generations to show as scatter plots (those <= num_generations).
    num_samples : int
        N, samples per generation.
    """

    start: str
    mixture0: Mixture
    result: SimulationResult
    generations: np.ndarray
    l2: np.ndarray
    variance: np.ndarray
    snapshots: tuple[int, ...]
    num_samples: int

    @property
    def num_replicates(self) -> int:
        return int(self.l2.shape[1])

    def mixture(self, generation: int, replicate: int = 0) -> Mixture:
        """The fitted :class:`Mixture` at ``generation`` of chain ``replicate``."""
        g = check_int("generation", generation, minimum=0, maximum=int(self.generations[-1]))
        r = check_int("replicate", replicate, minimum=0, maximum=self.num_replicates - 1)
        return Mixture(
            self.result["weights"][g, r], self.result["means"][g, r], self.result["covs"][g, r]
        )

    def snapshot_table(self, replicate: int = 0) -> list[SnapshotRow]:
        """One row per snapshot generation of chain ``replicate``: ``generation``,
        ``variance`` (per dimension), ``l2`` (to the original) and ``weights``."""
        return [
            {
                "generation": int(g),
                "variance": self.variance[g, replicate].tolist(),
                "l2": float(self.l2[g, replicate]),
                "weights": self.result["weights"][g, replicate].tolist(),
            }
            for g in self.snapshots
        ]

    def format_table(self, replicate: int = 0) -> str:
        """:meth:`snapshot_table` as a Markdown table."""
        lines = [
            "| generation | variance (x) | variance (y) | L2 to original | weights |",
            "|---:|---:|---:|---:|---|",
        ]
        for row in self.snapshot_table(replicate):
            var = row["variance"]
            weights = ", ".join(f"{w:.3f}" for w in row["weights"])
            lines.append(
                f"| {row['generation']} | {var[0]:.4g} | {var[-1]:.4g} | {row['l2']:.4g} | "
                f"{weights} |"
            )
        return "\n".join(lines)


def paper_experiment(
    *,
    start: str = "blob",
    num_samples: int = 1000,
    num_generations: int = 2000,
    snapshots: Iterable[int] = PAPER_SNAPSHOTS,
    num_replicates: int = 1,
    init: str = "kmeans++",
    seed: SeedLike = 0,
    progress: bool = False,
) -> PaperExperiment:
    """Run the paper's GMM experiment (docs/theory.md §4) and compute its curves.

    2 components, full covariances, ``num_samples`` draws a generation from the previous fit,
    EM with tol 1e-5, at most 2000 iterations and ``reg_covar = 0`` (a regulariser would floor
    the collapsing variance), refitted from k-means++ each generation as the paper's code does
    (``init="warm"`` starts from the previous fit instead). About a second per replicate at the
    default sizes.

    Parameters
    ----------
    start : "blob" or "two-gaussians"
        Model 0, see :func:`paper_start`.
    num_samples : int
        N per generation (>= 6).
    num_generations : int
    snapshots : sequence of int
        Generations for scatter plots; those beyond ``num_generations`` are dropped.
    num_replicates : int
        Independent chains.
    init : "kmeans++" or "warm"
    seed : int, SeedSequence or None
    progress : bool

    Returns
    -------
    PaperExperiment

    Examples
    --------
    >>> exp = paper_experiment(num_generations=20, snapshots=(0, 10, 20), seed=1)
    >>> exp.l2.shape, exp.variance.shape, exp.snapshots
    ((21, 1), (21, 1, 2), (0, 10, 20))
    >>> float(exp.l2[0, 0])
    0.0
    """
    mixture0 = paper_start(start)
    check_choice("init", init, INITS)
    num_generations = check_int("num_generations", num_generations, minimum=0)
    num_samples = check_int("num_samples", num_samples, minimum=1)
    shots = sorted({check_int("snapshot", s, minimum=0) for s in snapshots})
    shots = tuple(s for s in shots if s <= num_generations)
    result = simulate(
        mixture0,
        num_samples,
        num_generations,
        num_replicates=num_replicates,
        init=init,
        tol=1e-5,
        max_iter=2000,
        reg_covar=0.0,
        record="all",
        seed=seed,
        progress=progress,
    )
    from collapse_theory.metrics import l2_gmm

    weights, means, covs = result["weights"], result["means"], result["covs"]
    l2 = np.zeros(weights.shape[:2])
    for g, r in np.ndindex(l2.shape):
        if g == 0:
            continue
        try:
            l2[g, r] = l2_gmm(Mixture(weights[g, r], means[g, r], covs[g, r]), mixture0)
        except ValueError:
            # A component of positive weight fitted to a handful of (nearly collinear) points
            # has a covariance singular to machine precision: its density has no finite L2 norm.
            l2[g, r] = np.inf
    return PaperExperiment(
        start=start,
        mixture0=mixture0,
        result=result,
        generations=np.asarray(result.generations),
        l2=l2,
        variance=mixture_variance(weights, means, covs),
        snapshots=shots,
        num_samples=num_samples,
    )
