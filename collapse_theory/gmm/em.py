"""Batched EM for Gaussian mixtures with full covariances (docs/theory.md §4)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    InputError,
    InputTypeError,
    as_float_array,
    check_allocation,
    check_choice,
    check_int,
    check_real,
)
from collapse_theory.gmm import _numba
from collapse_theory.gmm.mixture import Mixture, check_positive_definite
from collapse_theory.rng import (
    SeedLike,
    block_bounds,
    default_num_threads,
    run_replicate_blocks,
)

__all__ = [
    "DEGENERATE_FLOOR",
    "DEGENERATE_RATIO",
    "DegenerateFitWarning",
    "EMResult",
    "degenerate_components",
    "fit_em",
    "min_samples",
]

INITS = ("kmeans++",)
COVARIANCE_TYPES = ("full", "diag")

#: A component is *degenerate* when the smallest eigenvalue of its covariance is below this
#: absolute floor ... (docs/theory.md §4.2)
DEGENERATE_FLOOR = 1e-10
#: ... or below this fraction of its largest eigenvalue (a condition number above 1e10).
DEGENERATE_RATIO = 1e-10


class DegenerateFitWarning(RuntimeWarning):
    """A fit has degenerate components (:func:`degenerate_components`), issued once per call.

    Mostly EM's singular solutions of the unbounded likelihood (docs/theory.md §4.2); a component
    refitted on a few points for many generations can also collapse that far statistically
    (§4.3). Either way the next fits are ill-conditioned."""


def degenerate_components(
    covs: ArrayLike,
    lost: ArrayLike | None = None,
    *,
    floor: float = DEGENERATE_FLOOR,
    ratio: float = DEGENERATE_RATIO,
) -> np.ndarray:
    r"""Which components of fitted mixtures are *degenerate* (docs/theory.md §4.2).

    A component of positive weight is degenerate when its covariance is singular for practical
    purposes: with eigenvalues :math:`\lambda_{\min} \le \dots \le \lambda_{\max}`,

    .. math::

        \lambda_{\min} < \text{floor} \quad\text{or}\quad
        \lambda_{\min} < \text{ratio} \cdot \lambda_{\max}

    (collapsed onto a few points, or flattened onto a line or plane). These are the singular
    solutions of the unbounded mixture likelihood that EM finds without a covariance floor
    (``reg_covar = 0``); with ``reg_covar = c`` every eigenvalue is at least ``c``, so none is
    flagged while ``c >= floor`` and :math:`\lambda_{\max} \le c / \text{ratio}`. The floor is
    absolute: data on a scale far from 1 need their own.

    Parameters
    ----------
    covs : array_like, shape (..., K, d, d)
        Symmetric covariances.
    lost : array_like of bool, shape (..., K), optional
        Lost components (weight 0) are never degenerate.
    floor, ratio : float
        The thresholds, >= 0 (defaults :data:`DEGENERATE_FLOOR`, :data:`DEGENERATE_RATIO`).

    Returns
    -------
    numpy.ndarray of bool, shape (..., K)

    Examples
    --------
    >>> import numpy as np
    >>> line = np.array([[1.0, 1.0], [1.0, 1.0]])  # all its mass on the diagonal x = y
    >>> degenerate_components([np.eye(2), line]).tolist()
    [False, True]
    """
    floor = check_real("floor", floor, minimum=0.0)
    ratio = check_real("ratio", ratio, minimum=0.0)
    c = np.asarray(covs, dtype=np.float64)
    if c.ndim < 3 or c.shape[-1] != c.shape[-2]:
        raise InputError(f"covs must have shape (..., K, d, d); got shape {c.shape}")
    flat = c.reshape(-1, *c.shape[-2:])
    out = np.empty(flat.shape[0], dtype=bool)
    step = 1 << 16  # eigvalsh in slices: its temporaries stay small for long recordings
    for start in range(0, flat.shape[0], step):
        eig = np.linalg.eigvalsh(flat[start : start + step])
        smallest, largest = eig[:, 0], eig[:, -1]
        out[start : start + step] = (smallest < floor) | (smallest < ratio * largest)
    out = out.reshape(c.shape[:-2])
    if lost is not None:
        out &= ~np.asarray(lost, dtype=bool)
    return out


def warn_if_degenerate(
    where: str,
    degenerate: np.ndarray,
    floor: float,
    ratio: float,
    generations: np.ndarray | None = None,
) -> None:
    """Issue one :class:`DegenerateFitWarning` if any component is degenerate.

    ``degenerate`` has shape (R, K) (one fit per dataset) or (G, R, K) (recorded generations
    ``generations`` of R chains); ``floor`` and ``ratio`` are the thresholds it was made with."""
    if not np.any(degenerate):
        return
    per_replicate = degenerate.any(axis=-1)
    if per_replicate.ndim == 2:
        first = int(generations[np.argmax(per_replicate.any(axis=1))])
        chains = int(per_replicate.any(axis=0).sum())
        what = (
            f"{chains} of {per_replicate.shape[1]} chains have degenerate components at recorded "
            f"generations (first at generation {first})"
        )
    else:
        what = f"{int(per_replicate.sum())} of {per_replicate.size} fits have degenerate components"
    warnings.warn(
        f"{where}: {what}: a covariance with smallest eigenvalue below {floor:g} or below "
        f"{ratio:g} x its largest: EM's singular solutions of the unbounded likelihood, or a "
        "component whose variance collapsed over many refits on a few points (docs/theory.md "
        "§4.2-§4.3). A covariance floor reg_covar > 0 (scikit-learn's 1e-6) prevents them; "
        "degenerate_floor=0, degenerate_ratio=0 turn the flag off. The flags are in "
        "'degenerate'.",
        DegenerateFitWarning,
        stacklevel=3,
    )


def min_samples(num_components: int, dim: int) -> int:
    """Smallest dataset EM accepts: every component needs more than d points, N >= K (d + 1).

    Parameters
    ----------
    num_components : int
        K.
    dim : int
        d.

    Returns
    -------
    int
        K (d + 1).
    """
    return num_components * (dim + 1)


@dataclass(frozen=True)
class EMResult:
    """Fitted mixtures, one per replicate (leading axis R; absent for a single dataset).

    Attributes
    ----------
    weights : (R, K); means : (R, K, d); covs : (R, K, d, d)
    lost : (R, K) bool
        Components whose weight reached 0 (responsibility mass <= d points, too few for a
        covariance, or a covariance that is not numerically positive definite; with a floor
        ``reg_covar > 0`` every mass gives a covariance and only a mass of exactly 0 is lost):
        weight exactly 0, mean and covariance frozen where it was lost. The last active
        component is never lost: data with no spread leave it with a singular covariance and
        EM stops (``converged`` False).
    degenerate : (R, K) bool
        Components of positive weight whose covariance is singular for practical purposes
        (:func:`degenerate_components`: smallest eigenvalue below the floor or below the ratio
        times the largest; docs/theory.md §4.2). Never also ``lost``.
    iterations : (R,) int
    converged : (R,) bool
        The change of the mean log-likelihood fell below ``tol`` within ``max_iter`` iterations.
    log_likelihood : (R,)
        Mean log-likelihood per point at the last E step (scikit-learn's ``lower_bound_``);
        ``+inf`` when no E step could run because every component of the start was singular
        (a k-means++ start on data without spread: the likelihood is unbounded; ``iterations``
        is then 0 and the remaining component ``degenerate``).
    """

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    lost: np.ndarray
    degenerate: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    log_likelihood: np.ndarray

    def mixture(self, replicate: int | None = None) -> Mixture:
        """The fitted :class:`Mixture` (of ``replicate`` for a batched fit)."""
        if self.weights.ndim == 1:
            if replicate not in (None, 0):
                raise InputError(f"this fit has a single dataset; got replicate={replicate}")
            return Mixture(self.weights, self.means, self.covs)
        if replicate is None:
            raise InputError(
                f"this fit has {self.weights.shape[0]} replicates: pass replicate=0..."
                f"{self.weights.shape[0] - 1}"
            )
        replicate = check_int("replicate", replicate, minimum=0, maximum=self.weights.shape[0] - 1)
        return Mixture(self.weights[replicate], self.means[replicate], self.covs[replicate])


def _initial_parameters(
    init: Mixture | EMResult | tuple[ArrayLike, ArrayLike, ArrayLike],
    num_replicates: int,
    dim: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched (R, K, ...) copies of the starting parameters given as a Mixture, an EMResult or
    a (weights, means, covs) tuple (with or without the leading replicate axis)."""
    parts: list[ArrayLike]
    if isinstance(init, (Mixture, EMResult)):
        parts = [init.weights, init.means, init.covs]
    else:  # a (weights, means, covs) tuple, as _init_components checked
        parts = list(init)
    weights = as_float_array("init weights", parts[0])
    if weights.ndim == 1:
        mix = init if isinstance(init, Mixture) else Mixture(*parts)
        weights = np.broadcast_to(mix.weights, (num_replicates, mix.num_components))
        means = np.broadcast_to(mix.means, (num_replicates, *mix.means.shape))
        covs = np.broadcast_to(mix.covs, (num_replicates, *mix.covs.shape))
    elif weights.ndim == 2:
        if weights.shape[0] != num_replicates:
            raise InputError(
                f"init has {weights.shape[0]} replicates but samples has {num_replicates}"
            )
        means = as_float_array("init means", parts[1])
        covs = as_float_array("init covs", parts[2])
        for r in range(num_replicates):
            Mixture(weights[r], means[r], covs[r])  # validates replicate r
    else:
        raise InputError(f"init weights must have shape (K,) or (R, K); got {weights.shape}")
    if means.shape[-1] != dim:
        raise InputError(
            f"init means have dimension {means.shape[-1]} but samples have dimension {dim}"
        )
    check_positive_definite("init", weights, covs)
    return (
        np.array(weights, dtype=np.float64, order="C"),
        np.array(means, dtype=np.float64, order="C"),
        np.array(covs, dtype=np.float64, order="C"),
    )


def fit_em(
    samples: ArrayLike,
    init: str | Mixture | EMResult | tuple[ArrayLike, ArrayLike, ArrayLike],
    *,
    tol: float = 1e-5,
    max_iter: int = 2000,
    reg_covar: float = 0.0,
    covariance_type: str = "full",
    num_components: int | None = None,
    seed: SeedLike = None,
    degenerate_floor: float = DEGENERATE_FLOOR,
    degenerate_ratio: float = DEGENERATE_RATIO,
    num_threads: int | None = None,
    chunk_size: int = 1,
) -> EMResult:
    r"""Fit Gaussian mixtures (full or diagonal covariances) by EM, one per dataset, in one numba
    kernel.

    Each iteration (scikit-learn's ``GaussianMixture`` step for step) computes responsibilities
    in log space, :math:`\log r_{nk} = \log w_k + \log N(x_n; m_k, C_k) - \operatorname{lse}_j
    (\log w_j + \log N(x_n; m_j, C_j))`, the mean log-likelihood :math:`L = \frac1N \sum_n
    \operatorname{lse}_j(\cdot)`, then :math:`N_k = \sum_n r_{nk}`, :math:`w_k = N_k/N`,
    :math:`m_k = \sum_n r_{nk} x_n / N_k`, :math:`C_k = \sum_n r_{nk}(x_n - m_k)(x_n - m_k)^\top
    / N_k + \text{reg\_covar}\, I`; it stops when :math:`|L_t - L_{t-1}| <` ``tol``
    (docs/theory.md §4).

    **Two processes, by** ``reg_covar`` (docs/theory.md §4.2). With ``reg_covar = 0`` (the
    default here) EM is plain maximum likelihood: model collapse is the decay of the fitted
    variance towards 0 (per dimension :math:`E\sigma_n^2 = \sigma_0^2 ((M-1)/M)^n`, §2.6, §4.3),
    but EM can also reach the likelihood's singular solutions (a component on a line or a few
    points), which are flagged in ``degenerate``. A floor ``reg_covar = c > 0`` (scikit-learn's
    default, 1e-6, and the paper's protocol) adds ``c`` to every fitted variance: no singular
    solutions, and a recursion whose variances stop near ``c`` times a number of order M instead
    of collapsing to 0.

    Parameters
    ----------
    samples : array_like, shape (R, N, d) or (N, d)
        R datasets of N points in d dimensions (finite). Needs N >= K (d + 1).
    init : "kmeans++", Mixture, EMResult or tuple
        Starting parameters (a tuple is ``(weights, means, covs)``): one mixture for every dataset, batched arrays with a leading R axis
        (a warm start from a previous fit), or ``"kmeans++"`` (scikit-learn's
        ``init_params="kmeans"``: greedy k-means++ seeding, Lloyd iterations with
        scikit-learn's stopping rule, then the M step of the hard assignment; docs/theory.md
        §4.1; needs ``num_components`` and uses ``seed``).
    tol : float
        Convergence threshold on the change of the *mean* log-likelihood per point, > 0.
    max_iter : int
        At most this many EM iterations, >= 1.
    reg_covar : float
        Added to the diagonal of every fitted covariance, >= 0 (default 0; see above).
    covariance_type : "full" or "diag"
        ``"diag"`` keeps only the diagonal of each :math:`C_k` (scikit-learn's
        ``covariance_type="diag"``); only the diagonal of the initial covariances is then used.
    num_components : int, optional
        K for ``init="kmeans++"``.
    seed : None, int, SeedSequence or Generator
        Randomness of ``"kmeans++"``; the same seed gives the same fits for any ``num_threads``.
    degenerate_floor, degenerate_ratio : float
        Thresholds of ``degenerate`` (:func:`degenerate_components`; defaults 1e-10 and 1e-10).
    num_threads, chunk_size : int
        Parallel execution over fixed replicate blocks; they never change the results.

    Returns
    -------
    EMResult
        Per dataset: weights, means, covs, lost and degenerate components, iterations,
        converged flag and final mean log-likelihood. A component whose weight reaches 0 is
        *lost* (recorded, never a crash or NaN; see :class:`EMResult`).

    Warns
    -----
    DegenerateFitWarning
        Once, when any fit has a degenerate component.

    Raises
    ------
    InputError, InputTypeError
        Bad shapes, NaN/inf samples, N < K (d + 1), init not a valid mixture, unknown init,
        tol <= 0, max_iter < 1, reg_covar < 0, unknown covariance_type, or arrays above the
        memory limit (:func:`collapse_theory._validate.check_allocation`), checked before they
        are allocated.

    Examples
    --------
    >>> import numpy as np
    >>> import collapse_theory as ct
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(-3, 1, (200, 1)), rng.normal(3, 1, (200, 1))])
    >>> init = ct.gmm.Mixture([0.5, 0.5], [[-1.0], [1.0]], [[[1.0]], [[1.0]]])
    >>> fit = ct.gmm.fit_em(x, init)
    >>> bool(fit.converged), np.round(np.sort(fit.means[:, 0]))
    (True, array([-3.,  3.]))
    """
    data = as_float_array("samples", samples)
    if data.ndim not in (2, 3):
        raise InputError(f"samples must have shape (N, d) or (R, N, d); got shape {data.shape}")
    batched = data.ndim == 3
    if not batched:
        data = data[None]
    num_replicates, num_points, dim = data.shape
    if num_replicates == 0 or dim == 0:
        raise InputError(f"samples must have R >= 1 datasets and d >= 1; got shape {data.shape}")
    tol = check_real("tol", tol, minimum=0.0, strict_minimum=True)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    reg_covar = check_real("reg_covar", reg_covar, minimum=0.0)
    diagonal = check_choice("covariance_type", covariance_type, COVARIANCE_TYPES) == "diag"
    degenerate_floor = check_real("degenerate_floor", degenerate_floor, minimum=0.0)
    degenerate_ratio = check_real("degenerate_ratio", degenerate_ratio, minimum=0.0)
    if isinstance(init, str):
        check_choice("init", init, INITS)
        if num_components is None:
            raise InputError("init='kmeans++' needs num_components (K >= 1)")
        k = check_int("num_components", num_components, minimum=1)
    else:
        k = _init_components(init)
        if num_components is not None and check_int("num_components", num_components) != k:
            raise InputError(f"num_components={num_components} but init has {k} components")
    needed = min_samples(k, dim)
    if num_points < needed:
        raise InputError(
            f"samples has N = {num_points} points per dataset; fitting {k} components with full "
            f"{dim}x{dim} covariances needs N >= K (d + 1) = {needed}"
        )
    check_fit_memory(
        f"samples of shape {data.shape} with K = {k}",
        num_replicates,
        num_points,
        k,
        dim,
        num_threads,
        parameter_copies=3,
    )
    if isinstance(init, str):
        weights = np.empty((num_replicates, k))
        means = np.empty((num_replicates, k, dim))
        covs = np.empty((num_replicates, k, dim, dim))
        init_code = _numba.KMEANS
    else:
        weights, means, covs = _initial_parameters(init, num_replicates, dim)
        if diagonal:
            covs = np.ascontiguousarray(covs * np.eye(dim))
        init_code = _numba.WARM
    data = np.ascontiguousarray(data)
    active = np.ascontiguousarray(weights > 0.0)
    iterations = np.zeros(num_replicates, dtype=np.int64)
    converged = np.zeros(num_replicates, dtype=np.bool_)
    log_likelihood = np.zeros(num_replicates)

    def work(generator: np.random.Generator, start: int, stop: int) -> None:
        _numba.fit_block(
            generator,
            data[start:stop],
            init_code,
            tol,
            max_iter,
            reg_covar,
            diagonal,
            weights[start:stop],
            means[start:stop],
            covs[start:stop],
            active[start:stop],
            iterations[start:stop],
            converged[start:stop],
            log_likelihood[start:stop],
        )

    run_replicate_blocks(
        work,
        seed if init_code == _numba.KMEANS else 0,
        num_replicates,
        label="gmm.fit_em",
        num_threads=num_threads,
        chunk_size=chunk_size,
    )
    lost = ~active
    degenerate = degenerate_components(covs, lost, floor=degenerate_floor, ratio=degenerate_ratio)
    warn_if_degenerate("gmm.fit_em", degenerate, degenerate_floor, degenerate_ratio)
    out = (weights, means, covs, lost, degenerate, iterations, converged, log_likelihood)
    if not batched:
        out = tuple(a[0] for a in out)
    return EMResult(*out)


def _init_components(init: object) -> int:
    """K of a warm start (Mixture, EMResult or (weights, means, covs)), read without copying."""
    if isinstance(init, (Mixture, EMResult)):
        return int(init.weights.shape[-1])
    if isinstance(init, tuple) and len(init) == 3:
        shape = np.shape(init[0])
        if len(shape) in (1, 2) and shape[-1] >= 1:
            return int(shape[-1])
        raise InputError(f"init weights must have shape (K,) or (R, K); got shape {shape}")
    raise InputTypeError(
        "init must be 'kmeans++', a Mixture, an EMResult or a (weights, means, covs) tuple "
        f"(optionally with a leading replicate axis); got {type(init).__name__}"
    )


def worker_count(num_threads: int | None, num_replicates: int) -> int:
    """Threads that will run replicate blocks at once (each holds its own work buffers)."""
    threads = default_num_threads() if num_threads is None else num_threads
    threads = check_int("num_threads", threads, minimum=1)
    return min(threads, len(block_bounds(num_replicates)))


def check_fit_memory(
    what: str,
    num_replicates: int,
    max_points: int,
    num_components: int,
    dim: int,
    num_threads: int | None,
    *,
    parameter_copies: int = 1,
) -> None:
    """Refuse EM work above the memory limit before allocating it: ``parameter_copies`` copies
    of the (R, K) weights, (R, K, d) means and (R, K, d, d) covariances, and per running thread
    the kernel's buffers, about ``max_points (K + d + 8)`` floats (the data transposed, the
    responsibilities and the per-point scratch of :func:`_numba.em_buffers`)."""
    per_replicate = num_components * (2 + dim + dim * dim)
    parameters = 8.0 * num_replicates * per_replicate * parameter_copies
    buffers = 8.0 * max_points * (num_components + dim + 8)
    workers = worker_count(num_threads, num_replicates)
    check_allocation(
        f"{what} ({workers} thread(s) with EM buffers for {max_points} points)",
        parameters + workers * buffers,
        advice="use fewer replicates, components or points per dataset, or fewer threads",
    )
