"""A Gaussian mixture with validated parameters: sampling and log-density (docs/theory.md §4)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    InputError,
    InputTypeError,
    as_float_array,
    check_covariance,
    check_int,
    check_probability_vector,
)

__all__ = ["Mixture", "check_mixture", "l2_squared_batched"]

_LOG_2PI = float(np.log(2.0 * np.pi))


class Mixture:
    r"""A mixture of K Gaussians in d dimensions,

    .. math::

        f(x) = \sum_{k=1}^{K} w_k \, N(x; m_k, C_k),

    the model family of docs/theory.md §4.

    Parameters
    ----------
    weights : array_like, shape (K,)
        Non-negative, summing to 1 (within 1e-9; renormalised). A weight of 0 is a *lost*
        component: it is kept (with its mean and covariance) but never sampled.
    means : array_like, shape (K, d)
    covs : array_like, shape (K, d, d)
        Symmetric positive semi-definite covariances. :meth:`logpdf` needs the covariances of the
        components with positive weight to be positive definite.

    Raises
    ------
    InputError, InputTypeError
        Weights off the simplex, covariances not symmetric PSD, inconsistent shapes, NaN/inf.

    Examples
    --------
    >>> import numpy as np
    >>> import collapse_theory as ct
    >>> mix = ct.gmm.Mixture([0.5, 0.5], [[-2.0, 0.0], [2.0, 0.0]], [np.eye(2), np.eye(2)])
    >>> mix.sample(1000, np.random.default_rng(0)).shape
    (1000, 2)
    """

    __slots__ = ("_covs", "_means", "_weights")

    def __init__(self, weights: ArrayLike, means: ArrayLike, covs: ArrayLike) -> None:
        w = check_probability_vector("weights", weights)
        m = as_float_array("means", means)
        if m.ndim != 2:
            raise InputError(
                f"means must have shape (K, d) = (number of components, dimension); got shape "
                f"{m.shape}"
            )
        if m.shape[0] != w.size:
            raise InputError(
                f"means must have one row per weight: weights has {w.size} entries, means has "
                f"shape {m.shape}"
            )
        if m.shape[1] == 0:
            raise InputError("means must have at least one coordinate (d >= 1); got d = 0")
        c = as_float_array("covs", covs)
        k, d = m.shape
        if c.shape != (k, d, d):
            raise InputError(
                f"covs must have shape (K, d, d) = ({k}, {d}, {d}) to match means; got {c.shape}"
            )
        c = np.stack([check_covariance(f"covs[{i}]", c[i]) for i in range(k)])
        for array in (w, m, c):
            array.setflags(write=False)
        self._weights, self._means, self._covs = w, m, c

    @property
    def weights(self) -> np.ndarray:
        """Component weights, shape (K,) (read-only)."""
        return self._weights

    @property
    def means(self) -> np.ndarray:
        """Component means, shape (K, d) (read-only)."""
        return self._means

    @property
    def covs(self) -> np.ndarray:
        """Component covariances, shape (K, d, d) (read-only)."""
        return self._covs

    @property
    def num_components(self) -> int:
        return int(self._weights.size)

    @property
    def dim(self) -> int:
        return int(self._means.shape[1])

    def __repr__(self) -> str:
        return (
            f"Mixture(weights={self._weights.tolist()}, means={self._means.tolist()}, "
            f"covs={self._covs.tolist()})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mixture):
            return NotImplemented
        return bool(
            np.array_equal(self._weights, other._weights)
            and np.array_equal(self._means, other._means)
            and np.array_equal(self._covs, other._covs)
        )

    __hash__ = None  # type: ignore[assignment]

    def sample(self, num_samples: int, rng: np.random.Generator) -> np.ndarray:
        """``num_samples`` iid draws, shape (num_samples, d).

        Component counts are Multinomial(num_samples, weights); the draws are returned grouped
        by component (order does not matter for a fit), from ``N(m_k, C_k)`` via a PSD factor.
        """
        num_samples = check_int("num_samples", num_samples, minimum=0)
        if not isinstance(rng, np.random.Generator):
            raise InputTypeError(
                f"rng must be a numpy Generator (np.random.default_rng(seed)); got {rng!r}"
            )
        counts = rng.multinomial(num_samples, self._weights)
        parts = []
        for k, count in enumerate(counts):
            if count == 0:
                continue
            factor = _psd_factor(self._covs[k])
            parts.append(self._means[k] + rng.standard_normal((count, self.dim)) @ factor.T)
        if not parts:
            return np.empty((0, self.dim))
        return np.concatenate(parts)

    def component_logpdf(self, x: ArrayLike) -> np.ndarray:
        """``log N(x; m_k, C_k)`` for every component, shape (..., K); x has shape (..., d).

        Components of weight 0 give -inf.
        """
        points = as_float_array("x", x)
        if points.ndim == 0 or points.shape[-1] != self.dim:
            raise InputError(f"x must have shape (..., d) with d = {self.dim}; got {points.shape}")
        out = np.full((*points.shape[:-1], self.num_components), -np.inf)
        for k in range(self.num_components):
            if self._weights[k] == 0.0:
                continue
            try:
                chol = np.linalg.cholesky(self._covs[k])
            except np.linalg.LinAlgError:
                chol = None
            if chol is None or np.min(np.diag(chol)) <= 0.0:
                raise InputError(
                    f"covs[{k}] is singular, so the density of this mixture does not exist; "
                    "logpdf needs positive definite covariances for components of positive weight"
                )
            diff = (points - self._means[k]).reshape(-1, self.dim)
            sol = np.linalg.solve(chol, diff.T)
            quad = np.sum(sol * sol, axis=0).reshape(points.shape[:-1])
            out[..., k] = -0.5 * (quad + self.dim * _LOG_2PI) - np.sum(np.log(np.diag(chol)))
        return out

    def logpdf(self, x: ArrayLike) -> np.ndarray:
        r"""Log-density :math:`\log \sum_k w_k N(x; m_k, C_k)` (log-sum-exp), shape (...,)."""
        comp = self.component_logpdf(x)
        with np.errstate(divide="ignore"):
            log_w = np.log(self._weights)
        values = comp + log_w
        top = np.max(values, axis=-1, keepdims=True)
        return (top + np.log(np.sum(np.exp(values - top), axis=-1, keepdims=True)))[..., 0]

    def pdf(self, x: ArrayLike) -> np.ndarray:
        """Density, shape (...,)."""
        return np.exp(self.logpdf(x))


def _psd_factor(cov: np.ndarray) -> np.ndarray:
    """A matrix F with F F^T = cov (Cholesky, or eigen-factor for singular PSD matrices)."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(cov)
        return vectors * np.sqrt(np.clip(values, 0.0, None))


def check_mixture(name: str, value: object, *, positive_definite: bool = False) -> Mixture:
    """Return ``value`` if it is a :class:`Mixture`, else an InputTypeError naming ``name``.

    With ``positive_definite``, the covariances of components of positive weight must be
    positive definite (a density exists and EM can start from it).
    """
    if not isinstance(value, Mixture):
        raise InputTypeError(
            f"{name} must be a collapse_theory.gmm.Mixture(weights, means, covs); got "
            f"{type(value).__name__}"
        )
    if positive_definite:
        check_positive_definite(name, value.weights, value.covs)
    return value


def check_positive_definite(name: str, weights: np.ndarray, covs: np.ndarray) -> None:
    """InputError naming ``name`` if a component of positive weight has a singular covariance."""
    for index in np.ndindex(weights.shape):
        if weights[index] > 0:
            try:
                np.linalg.cholesky(covs[index])
            except np.linalg.LinAlgError:
                raise InputError(
                    f"{name}: the covariance of component {index} (weight {weights[index]:.3g}) "
                    "must be positive definite for a density and an EM start; give it weight 0 "
                    "or a positive definite covariance"
                ) from None


def l2_squared_batched(
    weights_a: ArrayLike,
    means_a: ArrayLike,
    covs_a: ArrayLike,
    weights_b: ArrayLike,
    means_b: ArrayLike,
    covs_b: ArrayLike,
) -> np.ndarray:
    r"""Squared L2 distance :math:`\int (f - g)^2` between mixtures given as arrays, in closed
    form, for many pairs at once (docs/theory.md §4.1):

    .. math::

        \int (f-g)^2 = \sum_{ij} a_i a_j N(m_i; m_j, C_i + C_j)
        + \sum_{ij} b_i b_j N(m'_i; m'_j, C'_i + C'_j)
        - 2 \sum_{ij} a_i b_j N(m_i; m'_j, C_i + C'_j).

    The same quantity as :func:`collapse_theory.metrics.l2_gmm` with ``squared=True`` (one
    pair of :class:`Mixture`), vectorised over leading axes, and never raising on a singular
    Gaussian: a pair of components of positive weight whose summed covariance has a
    non-positive eigenvalue has no finite L2 norm, and the result is ``inf`` there. Components
    of weight 0 (lost) are ignored. Inputs are not validated (internal use on fitted mixtures).

    Parameters
    ----------
    weights_a, means_a, covs_a : array_like, shapes (..., K, ), (..., K, d), (..., K, d, d)
    weights_b, means_b, covs_b : array_like, shapes (..., J), (..., J, d), (..., J, d, d)
        Leading axes broadcast against each other.

    Returns
    -------
    numpy.ndarray, shape (...)
    """
    a = [np.asarray(v, dtype=np.float64) for v in (weights_a, means_a, covs_a)]
    b = [np.asarray(v, dtype=np.float64) for v in (weights_b, means_b, covs_b)]
    self_a, self_b, cross = _overlap_sum(*a, *a), _overlap_sum(*b, *b), _overlap_sum(*a, *b)
    with np.errstate(invalid="ignore"):
        value = np.maximum(self_a + self_b - 2.0 * cross, 0.0)
    infinite = np.isinf(self_a) | np.isinf(self_b) | np.isinf(cross)
    return np.where(infinite, np.inf, value)


def _overlap_sum(
    wa: np.ndarray, ma: np.ndarray, ca: np.ndarray, wb: np.ndarray, mb: np.ndarray, cb: np.ndarray
) -> np.ndarray:
    r""":math:`\sum_{ij} a_i b_j N(m_i; m'_j, C_i + C'_j)` over leading axes, by the
    eigendecomposition of each :math:`C_i + C'_j` (inf where a pair of positive weight is
    singular)."""
    d = ma.shape[-1]
    pair_weight = wa[..., :, None] * wb[..., None, :]
    total = ca[..., :, None, :, :] + cb[..., None, :, :, :]
    diff = ma[..., :, None, :] - mb[..., None, :, :]
    values, vectors = np.linalg.eigh(total)
    singular = values[..., 0] <= 0.0
    safe = np.where(singular[..., None], 1.0, values)
    projected = np.einsum("...ji,...j->...i", vectors, diff)
    quad = np.sum(projected**2 / safe, axis=-1)
    log_density = -0.5 * (quad + np.sum(np.log(safe), axis=-1) + d * _LOG_2PI)
    terms = np.where(pair_weight > 0, pair_weight * np.exp(log_density), 0.0)
    terms = np.where((pair_weight > 0) & singular, np.inf, terms)
    return np.sum(terms, axis=(-2, -1))
