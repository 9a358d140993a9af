"""Batched EM for Gaussian mixtures with full covariances (docs/theory.md §4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import as_float_array, check_choice, check_int, check_real
from collapse_theory.gmm import _numba
from collapse_theory.gmm.mixture import Mixture, check_positive_definite
from collapse_theory.rng import SeedLike, run_replicate_blocks

__all__ = ["EMResult", "fit_em", "min_samples"]

INITS = ("kmeans++",)
COVARIANCE_TYPES = ("full", "diag")


def min_samples(num_components: int, dim: int) -> int:
    """Smallest dataset EM accepts: every component needs more than d points, N >= K (d + 1)."""
    return num_components * (dim + 1)


@dataclass(frozen=True)
class EMResult:
    """Fitted mixtures, one per replicate (leading axis R; absent for a single dataset).

    Attributes
    ----------
    weights : (R, K); means : (R, K, d); covs : (R, K, d, d)
    lost : (R, K) bool
        Components whose weight reached 0 (responsibility mass <= d points, or a singular
        covariance): weight exactly 0, mean and covariance frozen where it was lost.
        The last active component is never lost: data with no spread leave it with a singular
        covariance and EM stops (``converged`` False).
    iterations : (R,) int
    converged : (R,) bool
        The change of the mean log-likelihood fell below ``tol`` within ``max_iter`` iterations.
    log_likelihood : (R,)
        Mean log-likelihood per point at the last E step (scikit-learn's ``lower_bound_``).
    """

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    lost: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    log_likelihood: np.ndarray

    def mixture(self, replicate: int | None = None) -> Mixture:
        """The fitted :class:`Mixture` (of ``replicate`` for a batched fit)."""
        if self.weights.ndim == 1:
            if replicate not in (None, 0):
                raise ValueError(f"this fit has a single dataset; got replicate={replicate}")
            return Mixture(self.weights, self.means, self.covs)
        if replicate is None:
            raise ValueError(
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
    if isinstance(init, Mixture):
        parts = [init.weights, init.means, init.covs]
    elif isinstance(init, EMResult):
        parts = [init.weights, init.means, init.covs]
    elif isinstance(init, tuple) and len(init) == 3:
        parts = list(init)
    else:
        raise TypeError(
            "init must be 'kmeans++', a Mixture, an EMResult or a (weights, means, covs) tuple "
            f"(optionally with a leading replicate axis); got {type(init).__name__}"
        )
    weights = as_float_array("init weights", parts[0])
    if weights.ndim == 1:
        mix = init if isinstance(init, Mixture) else Mixture(*parts)
        weights = np.broadcast_to(mix.weights, (num_replicates, mix.num_components))
        means = np.broadcast_to(mix.means, (num_replicates, *mix.means.shape))
        covs = np.broadcast_to(mix.covs, (num_replicates, *mix.covs.shape))
    elif weights.ndim == 2:
        if weights.shape[0] != num_replicates:
            raise ValueError(
                f"init has {weights.shape[0]} replicates but samples has {num_replicates}"
            )
        means = as_float_array("init means", parts[1])
        covs = as_float_array("init covs", parts[2])
        for r in range(num_replicates):
            Mixture(weights[r], means[r], covs[r])  # validates replicate r
    else:
        raise ValueError(f"init weights must have shape (K,) or (R, K); got {weights.shape}")
    if means.shape[-1] != dim:
        raise ValueError(
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
    / N_k + \text{reg\_covar}\, I`; it stops when :math:`|L_t - L_{t-1}| <` ``tol``.

    **Why** ``reg_covar`` **defaults to 0.** Model collapse (docs/theory.md §2.6, §4) is the decay of
    the fitted variance, generation after generation, towards 0 (per dimension
    :math:`E\sigma_n^2 = \sigma_0^2 ((M-1)/M)^n` for the maximum-likelihood fit). A regulariser
    adds ``reg_covar`` to every fitted variance, so the recursion floors the variance near
    ``reg_covar * M`` instead of letting it collapse: it silently changes the phenomenon under
    study (scikit-learn's default, 1e-6, is such a floor). Set it only to study that floor.

    Parameters
    ----------
    samples : array_like, shape (R, N, d) or (N, d)
        R datasets of N points in d dimensions (finite). Needs N >= K (d + 1).
    init : "kmeans++", Mixture, EMResult or (weights, means, covs)
        Starting parameters: one mixture for every dataset, batched arrays with a leading R axis
        (a warm start from a previous fit), or ``"kmeans++"`` (k-means++ seeding, Lloyd
        iterations, then the M step of the hard assignment, as scikit-learn's default; needs
        ``num_components`` and uses ``seed``).
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
    num_threads, chunk_size : int
        Parallel execution over fixed replicate blocks; they never change the results.

    Returns
    -------
    EMResult
        Per dataset: weights, means, covs, lost components, iterations, converged flag and final
        mean log-likelihood. A component whose weight reaches 0 is *lost* (recorded, never a
        crash or NaN; see :class:`EMResult`).

    Raises
    ------
    ValueError, TypeError
        Bad shapes, NaN/inf samples, N < K (d + 1), init not a valid mixture, unknown init,
        tol <= 0, max_iter < 1, reg_covar < 0, unknown covariance_type.

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
        raise ValueError(f"samples must have shape (N, d) or (R, N, d); got shape {data.shape}")
    batched = data.ndim == 3
    if not batched:
        data = data[None]
    num_replicates, num_points, dim = data.shape
    if num_replicates == 0 or dim == 0:
        raise ValueError(f"samples must have R >= 1 datasets and d >= 1; got shape {data.shape}")
    tol = check_real("tol", tol, minimum=0.0, strict_minimum=True)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    reg_covar = check_real("reg_covar", reg_covar, minimum=0.0)
    diagonal = check_choice("covariance_type", covariance_type, COVARIANCE_TYPES) == "diag"
    if isinstance(init, str):
        check_choice("init", init, INITS)
        if num_components is None:
            raise ValueError("init='kmeans++' needs num_components (K >= 1)")
        k = check_int("num_components", num_components, minimum=1)
        weights = np.empty((num_replicates, k))
        means = np.empty((num_replicates, k, dim))
        covs = np.empty((num_replicates, k, dim, dim))
        init_code = _numba.KMEANS
    else:
        weights, means, covs = _initial_parameters(init, num_replicates, dim)
        if diagonal:
            covs = np.ascontiguousarray(covs * np.eye(dim))
        k = weights.shape[1]
        if num_components is not None and check_int("num_components", num_components) != k:
            raise ValueError(f"num_components={num_components} but init has {k} components")
        init_code = _numba.WARM
    needed = min_samples(k, dim)
    if num_points < needed:
        raise ValueError(
            f"samples has N = {num_points} points per dataset; fitting {k} components with full "
            f"{dim}x{dim} covariances needs N >= K (d + 1) = {needed}"
        )
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
    out = (weights, means, covs, ~active, iterations, converged, log_likelihood)
    if not batched:
        out = tuple(a[0] for a in out)
    return EMResult(*out)
