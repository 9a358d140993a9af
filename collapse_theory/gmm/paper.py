r"""The paper's Gaussian-mixture experiment as one call, with the authors' protocol by default
(docs/theory.md §4.1).

The authors' notebook (``Normals_GMM_experiments.ipynb``) draws N = 1000 points of a 2-D standard
Gaussian blob and fits scikit-learn's ``GaussianMixture(2, covariance_type="full", tol=1e-5,
max_iter=2000)`` with its defaults ``reg_covar=1e-6`` and ``init_params="kmeans"``; then, 2050
times in all, it samples N points from the last fit and refits from a fresh k-means start.
:func:`paper_experiment` runs that loop (every setting is an argument) and derives what the
paper printed and plotted: the per-component standard deviation :math:`\sqrt{\operatorname{tr}
C_k / d}`, the squared L2 distance to the fit of the original sample (the paper's "L2", 536 in
its printed run) and its square root, the same two to the true law N(0, I), and the per-dimension
variance of the fitted mixture.

Generation g of the library is the notebook's g-th fit: generation 0 is the true law (model 0,
:func:`paper_start`), generation 1 the fit to the original sample (the notebook's ``X_0_gmm``;
the notebook fits that sample once more, with another k-means start, as the first fit of its
loop), generation 2050 the last fit.

The per-dimension variance of the fitted mixture has an exact mean (docs/theory.md §4.2, §4.3):
after every M step of EM with full covariances the mixture's overall covariance
:math:`\sum_k w_k (C_k + m_k m_k^\top) - \bar m \bar m^\top` equals the maximum-likelihood
(ddof 0) sample covariance of the data plus ``reg_covar`` times the identity, so per dimension
:math:`E\sigma_n^2 = \sigma_0^2 r^n + c N (1 - r^n)`, :math:`r = (N-1)/N`, c = ``reg_covar``.
(Only a lost component, whose weight is set to 0, breaks the identity, by its negligible
weight.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import InputError, check_choice, check_int, check_real
from collapse_theory.gmm.em import DEGENERATE_FLOOR, DEGENERATE_RATIO
from collapse_theory.gmm.mixture import Mixture, l2_squared_batched
from collapse_theory.gmm.simulate import simulate
from collapse_theory.results import SimulationResult
from collapse_theory.rng import SeedLike

__all__ = [
    "PAPER_PROTOCOL",
    "PAPER_SNAPSHOTS",
    "STARTS",
    "PaperExperiment",
    "component_std",
    "expected_mixture_variance",
    "mixture_variance",
    "paper_experiment",
    "paper_start",
]

#: Generations the paper shows as scatter plots (docs/theory.md §4.1).
PAPER_SNAPSHOTS = (0, 50, 100, 150, 200, 350, 2000)
#: The authors' settings (docs/theory.md §4.1), the defaults of :func:`paper_experiment`.
PAPER_PROTOCOL = {
    "num_samples": 1000,
    "num_generations": 2050,
    "init": "kmeans++",
    "reg_covar": 1e-6,
    "tol": 1e-5,
    "max_iter": 2000,
}
#: Starting data of :func:`paper_experiment`.
STARTS = ("blob", "two-gaussians")
#: Generations of squared-L2 work per batch (bounds the temporaries of the closed form).
_L2_BATCH = 256


def paper_start(start: str = "blob") -> Mixture:
    r"""Model 0 of the paper's experiment, a 2-component mixture in 2-D.

    Parameters
    ----------
    start : "blob" or "two-gaussians"
        ``"blob"``: the released notebook's data, one 2-D standard Gaussian, written as a
        2-component mixture with equal weights, zero means and identity covariances. This
        mixture *is* :math:`N(0, I)` exactly, so generation 1 is the fit to an N-point sample of
        the notebook's law. ``"two-gaussians"``: two separated Gaussians, weights (0.5, 0.5),
        means (∓2.5, 0), identity covariances (per-dimension variances 7.25 and 1).

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


def expected_mixture_variance(
    var0: ArrayLike, num_samples: int, generations: ArrayLike, reg_covar: float = 0.0
) -> np.ndarray:
    r"""Exact mean per-dimension variance of the fitted mixture after n generations of EM with
    full covariances (docs/theory.md §4.2):

    .. math::

        E\sigma_n^2 = \sigma_0^2 r^n + c N (1 - r^n), \qquad r = \frac{N-1}{N},

    c = ``reg_covar``: every M step makes the mixture's overall covariance the ddof-0 sample
    covariance of its N points (expectation r times the law's) plus c I, whatever EM does to the
    components, so :math:`E\sigma_{n+1}^2 = r E\sigma_n^2 + c`. With c = 0 this is the
    single-Gaussian MLE law of §2.6.

    Parameters
    ----------
    var0 : array_like
        :math:`\sigma_0^2` per dimension (broadcast against ``generations``).
    num_samples : int
        N >= 1.
    generations : array_like of int
    reg_covar : float
        c >= 0.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> round(float(expected_mixture_variance(1.0, 1000, 2000)), 4)
    0.1352
    >>> round(float(expected_mixture_variance(1.0, 1000, 2000, reg_covar=1e-6)), 4)
    0.1361
    """
    num_samples = check_int("num_samples", num_samples, minimum=1)
    reg_covar = check_real("reg_covar", reg_covar, minimum=0.0)
    n = np.asarray(generations)
    if n.dtype.kind not in "iu" or np.any(n < 0):
        raise InputError(f"generations must be integers >= 0; got {generations!r}")
    decay = ((num_samples - 1) / num_samples) ** n.astype(np.float64)
    return np.asarray(var0, dtype=np.float64) * decay + reg_covar * num_samples * (1.0 - decay)


def component_std(covs: ArrayLike, lost: ArrayLike | None = None) -> np.ndarray:
    r"""Per-component standard deviation :math:`\sqrt{\operatorname{tr} C_k / d}`, the paper's
    printed spread of each component (its notebook divides by the number of components, 2,
    which equals d = 2 there); NaN for lost components (docs/theory.md §4.1).

    Parameters
    ----------
    covs : array_like, shape (..., K, d, d)
    lost : array_like of bool, shape (..., K), optional

    Returns
    -------
    numpy.ndarray, shape (..., K)

    Examples
    --------
    >>> component_std([[[4.0, 0.0], [0.0, 0.0]]]).tolist()
    [1.4142135623730951]
    """
    c = np.asarray(covs, dtype=np.float64)
    std = np.sqrt(np.trace(c, axis1=-2, axis2=-1) / c.shape[-1])
    if lost is not None:
        std = np.where(np.asarray(lost, dtype=bool), np.nan, std)
    return std


class SnapshotRow(TypedDict):
    """A row of :meth:`PaperExperiment.snapshot_table`."""

    generation: int
    variance: list[float]
    component_std: list[float]
    l2_to_truth: float
    l2_squared_to_first_fit: float
    weights: list[float]
    degenerate: list[bool]


@dataclass(frozen=True)
class PaperExperiment:
    r"""The paper's GMM experiment: the run, its protocol and what the paper shows from it.

    Every array has leading axes (G, R): generations 0..n, chains.

    Attributes
    ----------
    start : str
        ``"blob"`` or ``"two-gaussians"``.
    mixture0 : Mixture
        Model 0, the true law (:func:`paper_start`).
    result : SimulationResult
        The recursive EM run, every generation recorded: ``"weights"`` (G, R, K), ``"means"``,
        ``"covs"``, ``"lost"``, ``"degenerate"``, ``"log_likelihood"``, ...
    generations : numpy.ndarray, shape (G,)
        0, 1, ..., num_generations.
    snapshots : tuple of int
        Generations to show as scatter plots (those <= num_generations).
    num_samples, init, reg_covar, tol, max_iter
        The protocol of the run (defaults: :data:`PAPER_PROTOCOL`).
    component_std : numpy.ndarray, shape (G, R, K)
        :math:`\sqrt{\operatorname{tr} C_k / d}` (:func:`component_std`); NaN where lost.
    l2_squared_to_first_fit, l2_to_first_fit : numpy.ndarray, shape (G, R)
        :math:`\int (f_g - f_1)^2` and its square root: to generation 1, the fit of the original
        sample (the paper's "L2" is the squared one); 0 at generation 1, NaN throughout when
        there is no generation 1.
    l2_squared_to_truth, l2_to_truth : numpy.ndarray, shape (G, R)
        The same to model 0, the true law (0 at generation 0).
        The four are ``inf`` where a component of positive weight is singular to machine
        precision (no finite L2 norm; only without a covariance floor).
    variance : numpy.ndarray, shape (G, R, d)
        Per-dimension variance of the fitted mixture (:func:`mixture_variance`).
    """

    start: str
    mixture0: Mixture
    result: SimulationResult
    generations: np.ndarray
    snapshots: tuple[int, ...]
    num_samples: int
    init: str
    reg_covar: float
    tol: float
    max_iter: int
    component_std: np.ndarray
    l2_squared_to_first_fit: np.ndarray
    l2_to_first_fit: np.ndarray
    l2_squared_to_truth: np.ndarray
    l2_to_truth: np.ndarray
    variance: np.ndarray

    @property
    def num_replicates(self) -> int:
        return int(self.variance.shape[1])

    @property
    def lost(self) -> np.ndarray:
        """(G, R, K) bool: components of weight 0."""
        return self.result["lost"]

    @property
    def degenerate(self) -> np.ndarray:
        """(G, R, K) bool: components with a practically singular covariance
        (:func:`~collapse_theory.gmm.degenerate_components`, docs/theory.md §4.2)."""
        return self.result["degenerate"]

    def degenerate_chains(self) -> np.ndarray:
        """(R,) bool: chains with a degenerate component at some generation."""
        return self.degenerate.any(axis=(0, 2))

    def mixture(self, generation: int, replicate: int = 0) -> Mixture:
        """The fitted :class:`Mixture` at ``generation`` of chain ``replicate``."""
        g = check_int("generation", generation, minimum=0, maximum=int(self.generations[-1]))
        r = check_int("replicate", replicate, minimum=0, maximum=self.num_replicates - 1)
        return Mixture(
            self.result["weights"][g, r], self.result["means"][g, r], self.result["covs"][g, r]
        )

    def protocol(self) -> str:
        """The run's settings in one line."""
        return (
            f"start={self.start}, N={self.num_samples}, fits={int(self.generations[-1])}, "
            f"init={self.init}, reg_covar={self.reg_covar:g}, tol={self.tol:g}, "
            f"max_iter={self.max_iter}, chains={self.num_replicates}"
        )

    def degeneracy_summary(self) -> str:
        """One line counting the chains and generations with degenerate components."""
        chains = self.degenerate_chains()
        if not chains.any():
            return f"degenerate components: none in {self.num_replicates} chain(s)"
        per_generation = self.degenerate.any(axis=2)
        first = int(self.generations[np.argmax(per_generation.any(axis=1))])
        return (
            f"degenerate components: {int(chains.sum())} of {self.num_replicates} chain(s), "
            f"first at generation {first}, in {int(per_generation.sum())} chain-generations; "
            f"{int(per_generation[-1].sum())} chain(s) at the last generation (docs/theory.md "
            "§4.2: EM's singular solutions, absent with a covariance floor reg_covar > 0)"
        )

    def snapshot_table(self, replicate: int = 0) -> list[SnapshotRow]:
        """One row per snapshot generation of chain ``replicate``: ``generation``,
        ``variance`` (per dimension), ``component_std``, ``l2_to_truth``,
        ``l2_squared_to_first_fit``, ``weights`` and ``degenerate``."""
        r = check_int("replicate", replicate, minimum=0, maximum=self.num_replicates - 1)
        return [
            {
                "generation": int(g),
                "variance": self.variance[g, r].tolist(),
                "component_std": self.component_std[g, r].tolist(),
                "l2_to_truth": float(self.l2_to_truth[g, r]),
                "l2_squared_to_first_fit": float(self.l2_squared_to_first_fit[g, r]),
                "weights": self.result["weights"][g, r].tolist(),
                "degenerate": self.degenerate[g, r].tolist(),
            }
            for g in self.snapshots
        ]

    def format_table(self, replicate: int = 0) -> str:
        """:meth:`snapshot_table` as a Markdown table (degenerate components marked ``*``)."""
        lines = [
            "| generation | variance (x) | variance (y) | component std | L2 to truth | "
            "squared L2 to first fit | weights |",
            "|---:|---:|---:|---|---:|---:|---|",
        ]
        for row in self.snapshot_table(replicate):
            var = row["variance"]
            stds = ", ".join(
                f"{s:.4g}" + ("*" if bad else "")
                for s, bad in zip(row["component_std"], row["degenerate"], strict=True)
            )
            weights = ", ".join(f"{w:.3f}" for w in row["weights"])
            lines.append(
                f"| {row['generation']} | {var[0]:.4g} | {var[-1]:.4g} | {stds} | "
                f"{row['l2_to_truth']:.4g} | {row['l2_squared_to_first_fit']:.4g} | {weights} |"
            )
        return "\n".join(lines)


def paper_experiment(
    *,
    start: str = "blob",
    num_samples: int = PAPER_PROTOCOL["num_samples"],
    num_generations: int = PAPER_PROTOCOL["num_generations"],
    snapshots: Iterable[int] = PAPER_SNAPSHOTS,
    num_replicates: int = 1,
    init: str = PAPER_PROTOCOL["init"],
    reg_covar: float = PAPER_PROTOCOL["reg_covar"],
    tol: float = PAPER_PROTOCOL["tol"],
    max_iter: int = PAPER_PROTOCOL["max_iter"],
    seed: SeedLike = 0,
    degenerate_floor: float = DEGENERATE_FLOOR,
    degenerate_ratio: float = DEGENERATE_RATIO,
    progress: bool = False,
    num_threads: int | None = None,
) -> PaperExperiment:
    r"""Run the paper's GMM experiment with the authors' protocol (docs/theory.md §4.1) and
    compute what the paper shows.

    2 components, full covariances, ``num_samples`` draws a generation from the previous fit,
    EM refitted every generation from k-means++ with ``reg_covar`` 1e-6 (scikit-learn's
    default), ``tol`` 1e-5 and at most ``max_iter`` 2000 iterations, for 2050 fits; every
    setting can be changed (``reg_covar=0`` runs the floor-free process of §4.2, whose singular
    fits are flagged in ``degenerate``). About 1.5 s per chain at the default sizes on one
    core; chains run in parallel threads.

    Parameters
    ----------
    start : "blob" or "two-gaussians"
        Model 0, see :func:`paper_start`.
    num_samples : int
        N per generation (>= 6).
    num_generations : int
        Fits (generation g is the g-th fit; 2050 as in the notebook).
    snapshots : sequence of int
        Generations for scatter plots; those beyond ``num_generations`` are dropped.
    num_replicates : int
        Independent chains.
    init : "kmeans++" or "warm"
        A fresh k-means++ start every generation (the notebook) or a warm start from the
        previous fit.
    reg_covar : float
        Covariance floor added at every M step, >= 0 (scikit-learn's default 1e-6).
    tol, max_iter
        EM stopping rule: change of the mean log-likelihood below ``tol``, at most ``max_iter``
        iterations.
    seed : int, SeedSequence or None
    degenerate_floor, degenerate_ratio : float
        Thresholds of ``degenerate`` (:func:`~collapse_theory.gmm.degenerate_components`).
    progress : bool
    num_threads : int, optional
        Threads over replicate blocks (results do not depend on it).

    Returns
    -------
    PaperExperiment

    Examples
    --------
    >>> exp = paper_experiment(num_generations=20, snapshots=(0, 10, 20), seed=1)
    >>> exp.l2_squared_to_first_fit.shape, exp.component_std.shape, exp.snapshots
    ((21, 1), (21, 1, 2), (0, 10, 20))
    >>> float(exp.l2_to_truth[0, 0]), float(exp.l2_squared_to_first_fit[1, 0])
    (0.0, 0.0)
    """
    mixture0 = paper_start(start)
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
        tol=tol,
        max_iter=max_iter,
        reg_covar=reg_covar,
        record="all",
        seed=seed,
        degenerate_floor=degenerate_floor,
        degenerate_ratio=degenerate_ratio,
        progress=progress,
        num_threads=num_threads,
    )
    parameters = result.metadata["parameters"]
    weights, means, covs = result["weights"], result["means"], result["covs"]
    to_truth = _l2_squared_to(
        weights, means, covs, (mixture0.weights, mixture0.means, mixture0.covs)
    )
    to_truth[0] = 0.0  # the same mixture (the closed form leaves a rounding residue)
    if num_generations >= 1:
        to_first = _l2_squared_to(weights, means, covs, (weights[1], means[1], covs[1]))
        to_first[1] = 0.0
    else:
        to_first = np.full(to_truth.shape, np.nan)
    return PaperExperiment(
        start=start,
        mixture0=mixture0,
        result=result,
        generations=np.asarray(result.generations),
        snapshots=shots,
        num_samples=num_samples,
        init=init,
        reg_covar=float(parameters["reg_covar"]),
        tol=float(parameters["tol"]),
        max_iter=int(parameters["max_iter"]),
        component_std=component_std(covs, result["lost"]),
        l2_squared_to_first_fit=to_first,
        l2_to_first_fit=np.sqrt(to_first),
        l2_squared_to_truth=to_truth,
        l2_to_truth=np.sqrt(to_truth),
        variance=mixture_variance(weights, means, covs),
    )


def _l2_squared_to(
    weights: np.ndarray,
    means: np.ndarray,
    covs: np.ndarray,
    reference: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Squared L2 distance of every fit (G, R, ...) to ``reference`` (broadcast against (R, ...)
    or without the R axis), in batches of generations."""
    out = np.empty(weights.shape[:2])
    for start in range(0, weights.shape[0], _L2_BATCH):
        rows = slice(start, start + _L2_BATCH)
        out[rows] = l2_squared_batched(weights[rows], means[rows], covs[rows], *reference)
    return out
