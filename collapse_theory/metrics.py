r"""Distances, divergences and tail masses between fitted models (docs/theory.md §1, §2.5, §2.9, §3.6).

Gaussian metrics take a mean and a variance (1-D: scalars) or a mean vector and a covariance
matrix (d-D); :func:`w2_gaussian` also broadcasts over leading axes (arrays of means and
variances, stacks of mean vectors and covariances). Categorical metrics take probability vectors.

- :func:`w2_gaussian`: the 2-Wasserstein distance between two Gaussians (Bures formula), the one
  implementation of it in the package.
- :func:`w2_empirical`: the 2-Wasserstein distance between two 1-D samples (quantile coupling).
- :func:`kl_gaussian`, :func:`kl_categorical`, :func:`total_variation`, :func:`entropy`.
- :func:`tail_mass_gaussian`: :math:`P(|X - c| > k\,s)` for :math:`X \sim N(m, v)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from collapse_theory._stats import mean_se
from collapse_theory._validate import (
    COV_RTOL,
    InputError,
    _show,
    as_float_array,
    check_allocation,
    check_covariance,
    check_int,
    check_probability_vector,
    check_real,
)
from collapse_theory.rng import SeedLike, as_generator

if TYPE_CHECKING:
    from collapse_theory.gmm.mixture import Mixture

__all__ = [
    "entropy",
    "kl_categorical",
    "kl_gaussian",
    "tail_mass_gaussian",
    "total_variation",
    "w2_empirical",
    "w2_gaussian",
]


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    """Symmetric square root by eigendecomposition, tiny negative eigenvalues clipped to 0.

    ``cov`` is one matrix (d, d) or a stack (..., d, d).
    """
    values, vectors = np.linalg.eigh(cov)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]) @ np.swapaxes(
        vectors, -1, -2
    )
    return 0.5 * (root + np.swapaxes(root, -1, -2))


def _gaussian_pair(
    m1: ArrayLike, c1: ArrayLike, m2: ArrayLike, c2: ArrayLike
) -> tuple[np.ndarray, ...]:
    """Validate two Gaussians given as (mean, variance) scalars or (vector, matrix)."""
    m1a = as_float_array("m1", m1)
    m2a = as_float_array("m2", m2)
    if m1a.ndim == 0 and m2a.ndim == 0:
        v1 = check_real("c1", c1, minimum=0.0) if np.ndim(c1) == 0 else None
        v2 = check_real("c2", c2, minimum=0.0) if np.ndim(c2) == 0 else None
        if v1 is None or v2 is None:
            raise InputError(
                "for scalar means m1, m2 the variances c1, c2 must be scalars; got shapes "
                f"{np.shape(c1)} and {np.shape(c2)}"
            )
        return m1a.reshape(1), np.array([[v1]]), m2a.reshape(1), np.array([[v2]])
    if m1a.ndim != 1 or m2a.ndim != 1 or m1a.shape != m2a.shape:
        raise InputError(
            "m1 and m2 must be two scalars or two 1-D vectors of the same length; got shapes "
            f"{m1a.shape} and {m2a.shape}"
        )
    d = m1a.size
    c1a = check_covariance("c1", c1)
    c2a = check_covariance("c2", c2)
    for name, c in (("c1", c1a), ("c2", c2a)):
        if c.shape != (d, d):
            raise InputError(f"{name} must be {d} x {d} to match the means; got shape {c.shape}")
    return m1a, c1a, m2a, c2a


def _is_multivariate_pair(mean: np.ndarray, cov: np.ndarray) -> bool:
    """A mean (..., d) with a covariance (..., d, d): one more axis, ending in a d x d block."""
    return (
        mean.ndim >= 1
        and cov.ndim == mean.ndim + 1
        and cov.shape[-2:] == (mean.shape[-1], mean.shape[-1])
    )


def _check_covariances(name: str, cov: np.ndarray, dim: int) -> np.ndarray:
    """``cov`` as symmetric PSD d x d matrices, one (d, d) or a stack (..., d, d).

    One matrix goes through :func:`collapse_theory._validate.check_covariance`; a stack gets the
    same checks (same tolerance, relative to each matrix's largest entry), its message naming the
    first offending matrix.
    """
    if cov.ndim < 2 or cov.shape[-2:] != (dim, dim):
        raise InputError(
            f"{name} must be a {dim} x {dim} covariance, or a stack of them (..., {dim}, {dim}), "
            f"to match the means (..., {dim}); got shape {cov.shape}"
        )
    if cov.ndim == 2:
        return check_covariance(name, cov)
    if dim == 0:
        raise InputError(f"{name} must hold non-empty square matrices; got shape {cov.shape}")

    def first(bad: np.ndarray) -> str:
        return f"{name}[{', '.join(str(int(i)) for i in np.argwhere(bad)[0])}]"

    scale = np.maximum(np.max(np.abs(cov), axis=(-2, -1)), np.finfo(float).tiny)
    asym = np.max(np.abs(cov - np.swapaxes(cov, -1, -2)), axis=(-2, -1))
    if np.any(asym > COV_RTOL * scale):
        bad = asym > COV_RTOL * scale
        raise InputError(
            f"{first(bad)} must be symmetric; got max |C - C^T| = {float(asym[bad][0]):.3g}"
        )
    cov = 0.5 * (cov + np.swapaxes(cov, -1, -2))
    smallest = np.linalg.eigvalsh(cov)[..., 0]
    if np.any(smallest < -COV_RTOL * scale):
        bad = smallest < -COV_RTOL * scale
        raise InputError(
            f"{first(bad)} must be positive semi-definite; got smallest eigenvalue "
            f"{float(smallest[bad][0]):.3g}"
        )
    return cov


def w2_gaussian(
    m1: ArrayLike, c1: ArrayLike, m2: ArrayLike, c2: ArrayLike, *, squared: bool = False
) -> float | np.ndarray:
    r"""2-Wasserstein distance between :math:`N(m_1, C_1)` and :math:`N(m_2, C_2)` (docs/theory.md §3.6).

    .. math::

        W_2^2 = \lVert m_1 - m_2 \rVert^2
              + \operatorname{tr}\bigl(C_1 + C_2 - 2 (C_2^{1/2} C_1 C_2^{1/2})^{1/2}\bigr).

    **One dimension** (docs/theory.md §2.5): :math:`(m_1-m_2)^2 + (\sqrt{c_1} - \sqrt{c_2})^2`
    for means and variances, computed directly and elementwise: the four arguments may be
    scalars or arrays of any shapes that broadcast together (e.g. the fitted means and variances
    of R replicates, shape (R,), against the scalars of model 0).

    **d dimensions**: means of shape (..., d) and covariances of shape (..., d, d); the leading
    axes of the four arguments broadcast (e.g. a stack of R fitted models, means (R, d) and
    covariances (R, d, d), against one original model, (d,) and (d, d)). The cross term is the
    sum of the singular values of :math:`C_1^{1/2} C_2^{1/2}` (the nuclear norm), which equals
    :math:`\operatorname{tr}(C_2^{1/2} C_1 C_2^{1/2})^{1/2}`, averaged with that of
    :math:`C_2^{1/2} C_1^{1/2}` so that the rounded value is symmetric; square roots are
    symmetric, by eigendecomposition, with rounding negatives clipped to zero. The result is
    therefore exactly symmetric, finite for singular covariances, never negative, and zero (up
    to rounding) for equal inputs.

    Which reading applies: the inputs are d-dimensional when at least one of the pairs
    ``(m1, c1)``, ``(m2, c2)`` has a covariance with exactly one more axis than its mean, ending
    in a (d, d) block where d is the mean's last axis (``m`` (d,) with ``c`` (d, d), or
    ``m`` (R, d) with ``c`` (R, d, d)); both pairs are then read as (..., d) and (..., d, d).
    Otherwise they are 1-D means and variances, broadcast together. (Scalars are always 1-D.)

    Parameters
    ----------
    m1, m2 : float or array_like
        Means: scalars or arrays (1-D), or vectors (..., d) (d-D).
    c1, c2 : float or array_like
        Variances (>= 0, any shape broadcasting with the means) in 1-D; symmetric positive
        semi-definite covariance matrices (..., d, d) in d-D.
    squared : bool, default False
        Return :math:`W_2^2` instead of :math:`W_2`.

    Returns
    -------
    float or numpy.ndarray
        :math:`W_2` (or :math:`W_2^2`): a float when the inputs describe one pair of Gaussians,
        else an array of the broadcast leading shape.

    Raises
    ------
    ValueError
        Shapes that do not broadcast or do not match, NaN/inf, negative variance, non-symmetric
        or non-PSD covariance.
    TypeError
        Non-numeric input.

    Examples
    --------
    >>> w2_gaussian(0.0, 1.0, 1.0, 4.0, squared=True)
    2.0
    >>> w2_gaussian(np.array([0.0, 1.0]), np.array([1.0, 4.0]), 0.0, 1.0, squared=True)
    array([0., 2.])
    """
    m1a = as_float_array("m1", m1)
    c1a = as_float_array("c1", c1)
    m2a = as_float_array("m2", m2)
    c2a = as_float_array("c2", c2)
    if _is_multivariate_pair(m1a, c1a) or _is_multivariate_pair(m2a, c2a):
        value = _w2_squared_multivariate(m1a, c1a, m2a, c2a)
    else:
        for name, c, given in (("c1", c1a, c1), ("c2", c2a, c2)):
            if np.any(c < 0):
                raise InputError(
                    f"{name} must be >= 0 (a variance, or a covariance (..., d, d) with means "
                    f"(..., d)); got {_show(given)}"
                )
        try:
            np.broadcast_shapes(m1a.shape, c1a.shape, m2a.shape, c2a.shape)
        except ValueError:
            raise InputError(
                "m1, c1, m2 and c2 must broadcast together (1-D means and variances); got "
                f"shapes {m1a.shape}, {c1a.shape}, {m2a.shape} and {c2a.shape}. For d-D "
                "Gaussians give means (..., d) with covariances (..., d, d)"
            ) from None
        # In this order (the mean term, then the Bures term) so that, e.g., the Monte Carlo
        # W2^2 of the verify checks, mu * mu + (sqrt(var) - 1)^2 against N(0, 1), is unchanged
        # to the last bit.
        value = (m1a - m2a) ** 2 + (np.sqrt(c1a) - np.sqrt(c2a)) ** 2
    if not squared:
        value = np.sqrt(value)
    return float(value) if np.ndim(value) == 0 else value


def _w2_squared_multivariate(
    m1: np.ndarray, c1: np.ndarray, m2: np.ndarray, c2: np.ndarray
) -> np.ndarray:
    """Bures-Wasserstein W2^2 for means (..., d) and covariances (..., d, d), broadcast."""
    if m1.ndim == 0 or m2.ndim == 0 or m1.shape[-1] != m2.shape[-1]:
        raise InputError(
            "m1 and m2 must both be vectors (..., d) with the same d for d-D Gaussians; got "
            f"shapes {m1.shape} and {m2.shape}"
        )
    d = m1.shape[-1]
    c1 = _check_covariances("c1", c1, d)
    c2 = _check_covariances("c2", c2, d)
    try:
        np.broadcast_shapes(m1.shape[:-1], c1.shape[:-2], m2.shape[:-1], c2.shape[:-2])
    except ValueError:
        raise InputError(
            "the leading axes of m1 (..., d), c1 (..., d, d), m2 and c2 must broadcast; got "
            f"shapes {m1.shape}, {c1.shape}, {m2.shape} and {c2.shape}"
        ) from None
    mean_term = np.sum((m1 - m2) ** 2, axis=-1)
    root1, root2 = _psd_sqrt(c1), _psd_sqrt(c2)
    # ||C1^{1/2} C2^{1/2}||_* = ||C2^{1/2} C1^{1/2}||_* (transposes: same singular values).
    # Averaging both orders makes the rounded result exactly symmetric (a + b == b + a).
    cross = 0.5 * (
        np.sum(np.linalg.svd(root1 @ root2, compute_uv=False), axis=-1)
        + np.sum(np.linalg.svd(root2 @ root1, compute_uv=False), axis=-1)
    )
    bures = np.trace(c1, axis1=-2, axis2=-1) + np.trace(c2, axis1=-2, axis2=-1) - 2.0 * cross
    # Equal inputs: all three terms agree up to rounding; never report a negative value.
    return mean_term + np.maximum(bures, 0.0)


def w2_empirical(x: ArrayLike, y: ArrayLike, *, squared: bool = False) -> float:
    r"""2-Wasserstein distance between the empirical distributions of two 1-D samples.

    In 1-D the optimal coupling is monotone: :math:`W_2^2 = \int_0^1 (F^{-1}(u) - G^{-1}(u))^2\,du`
    with the empirical quantile functions (step functions). For equal sizes this is the mean of
    squared differences of the sorted samples; for unequal sizes the integral is computed exactly
    over the merged breakpoints :math:`\{i/n\} \cup \{j/m\}`.

    Parameters
    ----------
    x, y : array_like, 1-D
        Samples (finite, non-empty; sizes may differ).
    squared : bool, default False
        Return :math:`W_2^2` instead of :math:`W_2`.

    Returns
    -------
    float

    Examples
    --------
    >>> w2_empirical([0.0, 1.0], [1.0, 2.0])
    1.0
    """
    xa = np.sort(as_float_array("x", x, ndim=1))
    ya = np.sort(as_float_array("y", y, ndim=1))
    if xa.size == 0 or ya.size == 0:
        raise InputError(f"x and y must be non-empty; got sizes {xa.size} and {ya.size}")
    if xa.size == ya.size:
        value = float(np.mean((xa - ya) ** 2))
    else:
        n, m = xa.size, ya.size
        # Breakpoints as exact fractions i/n and j/m on the common denominator n*m.
        cuts = np.union1d(np.arange(n + 1) * m, np.arange(m + 1) * n)
        widths = np.diff(cuts) / (n * m)
        mids = cuts[:-1]
        ix = np.minimum(mids // m, n - 1)
        iy = np.minimum(mids // n, m - 1)
        value = float(np.sum(widths * (xa[ix] - ya[iy]) ** 2))
    return value if squared else float(np.sqrt(value))


def kl_gaussian(m1: ArrayLike, c1: ArrayLike, m2: ArrayLike, c2: ArrayLike) -> float:
    r"""Kullback–Leibler divergence :math:`KL(N(m_1,C_1)\,\Vert\,N(m_2,C_2))`.

    .. math::

        \tfrac12\bigl[\operatorname{tr}(C_2^{-1}C_1) + (m_2-m_1)^\top C_2^{-1}(m_2-m_1) - d
        + \ln\det C_2 - \ln\det C_1\bigr].

    Parameters
    ----------
    m1, m2 : float or array_like, shape (d,)
    c1, c2 : float or array_like, shape (d, d)
        Variances (> 0) or symmetric positive definite covariances.

    Returns
    -------
    float
        The divergence in nats (>= 0).

    Examples
    --------
    >>> round(kl_gaussian(0.0, 1.0, 0.0, 1.0), 12)
    0.0
    """
    m1a, c1a, m2a, c2a = _gaussian_pair(m1, c1, m2, c2)
    d = m1a.size
    for name, c in (("c1", c1a), ("c2", c2a)):
        scale = max(float(np.max(np.abs(c))), np.finfo(float).tiny)
        if np.linalg.eigvalsh(c)[0] <= COV_RTOL * scale:
            raise InputError(
                f"{name} must be positive definite (variance > 0) for the KL divergence"
            )
    l2 = np.linalg.cholesky(c2a)
    l1 = np.linalg.cholesky(c1a)
    solved = np.linalg.solve(l2, l1)
    diff = np.linalg.solve(l2, m2a - m1a)
    logdet = 2.0 * (np.sum(np.log(np.diag(l2))) - np.sum(np.log(np.diag(l1))))
    value = 0.5 * (np.sum(solved**2) + np.sum(diff**2) - d + logdet)
    return max(float(value), 0.0)


def tail_mass_gaussian(
    mean: ArrayLike,
    var: ArrayLike,
    k: ArrayLike,
    center: ArrayLike = 0.0,
    scale: ArrayLike = 1.0,
) -> np.ndarray | float:
    r""":math:`P(|X - c| > k\,s)` for :math:`X \sim N(m, v)` (docs/theory.md §2.9).

    .. math::

        \bar\Phi\Bigl(\frac{c + ks - m}{\sqrt v}\Bigr) + \Phi\Bigl(\frac{c - ks - m}{\sqrt v}\Bigr).

    Broadcasts over all arguments. A zero variance gives the indicator of :math:`|m - c| > ks`.

    Parameters
    ----------
    mean, var : float or array_like
        Mean and variance (>= 0) of X.
    k : float or array_like
        Threshold in units of ``scale`` (>= 0).
    center, scale : float or array_like
        Centre c and unit s (> 0) of the two-sided tail.

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> round(float(tail_mass_gaussian(0.0, 1.0, 1.96)), 4)
    0.05
    """
    m = as_float_array("mean", mean)
    v = as_float_array("var", var)
    ka = as_float_array("k", k)
    c = as_float_array("center", center)
    s = as_float_array("scale", scale)
    if np.any(v < 0):
        raise InputError(f"var must be >= 0; got {_show(var)}")
    if np.any(ka < 0):
        raise InputError(f"k must be >= 0; got {_show(k)}")
    if np.any(s <= 0):
        raise InputError(f"scale must be > 0; got {_show(scale)}")
    try:
        m, v, ka, c, s = np.broadcast_arrays(m, v, ka, c, s)
    except ValueError as error:
        raise InputError(f"mean, var, k, center and scale do not broadcast: {error}") from None
    sd = np.sqrt(v)
    upper = c + ka * s - m
    lower = c - ka * s - m
    with np.errstate(divide="ignore", invalid="ignore"):
        result = ndtr(-upper / sd) + ndtr(lower / sd)
    degenerate = (upper < 0).astype(float) + (lower > 0).astype(float)
    result = np.where(sd > 0, result, degenerate)
    return float(result) if result.ndim == 0 else result


def kl_categorical(p: ArrayLike, q: ArrayLike) -> float:
    r"""Kullback–Leibler divergence :math:`\sum_i p_i \ln(p_i / q_i)` in nats.

    Terms with :math:`p_i = 0` contribute 0; if :math:`q_i = 0 < p_i` the divergence is ``+inf``.

    Parameters
    ----------
    p, q : array_like, shape (K,)
        Probability vectors (non-negative, summing to 1).

    Returns
    -------
    float
        KL(p || q) >= 0, possibly ``inf``.

    Examples
    --------
    >>> kl_categorical([0.5, 0.5], [0.5, 0.5])
    0.0
    """
    pa = check_probability_vector("p", p)
    qa = check_probability_vector("q", q)
    if pa.shape != qa.shape:
        raise InputError(f"p and q must have the same length; got {pa.size} and {qa.size}")
    support = pa > 0
    if np.any(qa[support] == 0):
        return float("inf")
    value = float(np.sum(pa[support] * (np.log(pa[support]) - np.log(qa[support]))))
    return max(value, 0.0)


def total_variation(p: ArrayLike, q: ArrayLike) -> float:
    r"""Total-variation distance :math:`\tfrac12 \sum_i |p_i - q_i|` (in [0, 1]).

    Parameters
    ----------
    p, q : array_like, shape (K,)
        Probability vectors (non-negative, summing to 1).

    Returns
    -------
    float
        The distance, in [0, 1].

    Examples
    --------
    >>> total_variation([1.0, 0.0], [0.0, 1.0])
    1.0
    """
    pa = check_probability_vector("p", p)
    qa = check_probability_vector("q", q)
    if pa.shape != qa.shape:
        raise InputError(f"p and q must have the same length; got {pa.size} and {qa.size}")
    return float(min(0.5 * np.sum(np.abs(pa - qa)), 1.0))


def entropy(p: ArrayLike) -> float:
    r"""Shannon entropy :math:`-\sum_i p_i \ln p_i` in nats (0 ln 0 = 0).

    Parameters
    ----------
    p : array_like, shape (K,)
        A probability vector (non-negative, summing to 1).

    Returns
    -------
    float
        The entropy, in [0, ln K].

    Examples
    --------
    >>> round(entropy([0.5, 0.5]), 6)
    0.693147
    """
    pa = check_probability_vector("p", p)
    support = pa[pa > 0]
    return max(float(-np.sum(support * np.log(support))), 0.0)


# ---------------------------------------------------------------------------------------------
# Gaussian mixtures (docs/theory.md §4)

__all__ += ["l2_gmm", "mw2_gmm"]


def _as_mixture(name: str, value: object) -> Mixture:
    from collapse_theory.gmm.mixture import check_mixture

    return check_mixture(name, value)


def _gaussian_overlaps(
    m1: np.ndarray, c1: np.ndarray, m2: np.ndarray, c2: np.ndarray
) -> np.ndarray:
    r"""Matrix of :math:`\int N(x; m_i, C_i) N(x; m'_j, C'_j)\,dx = N(m_i; m'_j, C_i + C'_j)`."""
    dim = m1.shape[1]
    out = np.empty((m1.shape[0], m2.shape[0]))
    for i in range(m1.shape[0]):
        for j in range(m2.shape[0]):
            total = c1[i] + c2[j]
            try:
                chol = np.linalg.cholesky(total)
            except np.linalg.LinAlgError:
                chol = None
            if chol is None or np.min(np.diag(chol)) <= 0.0:
                raise InputError(
                    "l2_gmm needs C_i + C'_j positive definite for every pair of components of "
                    "positive weight (the L2 norm of a singular Gaussian is infinite)"
                )
            sol = np.linalg.solve(chol, m1[i] - m2[j])
            out[i, j] = np.exp(
                -0.5 * (sol @ sol + dim * np.log(2.0 * np.pi)) - np.sum(np.log(np.diag(chol)))
            )
    return out


def l2_gmm(a: Mixture, b: Mixture, *, squared: bool = False) -> float:
    r"""L2 distance between the densities of two Gaussian mixtures, in closed form (docs/theory.md §4).

    .. math::

        \|f - g\|_2^2 = \sum_{ij} a_i a_j N(m_i; m_j, C_i + C_j)
        + \sum_{ij} b_i b_j N(m'_i; m'_j, C'_i + C'_j) - 2 \sum_{ij} a_i b_j N(m_i; m'_j, C_i + C'_j)

    for :math:`f = \sum_i a_i N(m_i, C_i)` and :math:`g = \sum_j b_j N(m'_j, C'_j)`. This is the
    distance to the original model that the paper's GMM experiment tracks over generations.
    Components of weight 0 (lost) are ignored.

    Parameters
    ----------
    a, b : Mixture
        Of the same dimension.
    squared : bool
        Return :math:`\|f - g\|_2^2` instead of the distance.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        ``a`` or ``b`` is not a :class:`~collapse_theory.gmm.Mixture`.
    ValueError
        Different dimensions, or a singular :math:`C_i + C_j` between components of positive weight.

    Examples
    --------
    >>> import numpy as np
    >>> from collapse_theory.gmm import Mixture
    >>> from collapse_theory.metrics import l2_gmm
    >>> f = Mixture([1.0], [[0.0]], [[[1.0]]])
    >>> g = Mixture([1.0], [[1.0]], [[[1.0]]])
    >>> round(l2_gmm(f, g, squared=True), 6)  # 2 (1 - e^{-1/4}) / (2 sqrt(pi))
    0.124798
    """
    fa, fb = _as_mixture("a", a), _as_mixture("b", b)
    if fa.dim != fb.dim:
        raise InputError(f"a and b must have the same dimension; got {fa.dim} and {fb.dim}")
    parts = []
    for x, y in ((fa, fa), (fb, fb), (fa, fb)):
        keep_x, keep_y = x.weights > 0, y.weights > 0
        overlap = _gaussian_overlaps(
            x.means[keep_x], x.covs[keep_x], y.means[keep_y], y.covs[keep_y]
        )
        parts.append(float(x.weights[keep_x] @ overlap @ y.weights[keep_y]))
    value = max(parts[0] + parts[1] - 2.0 * parts[2], 0.0)
    return value if squared else float(np.sqrt(value))


def mw2_gmm(a: Mixture, b: Mixture, *, squared: bool = False) -> float:
    r"""Mixture-Wasserstein distance between two Gaussian mixtures (Delon & Desolneux, 2020).

    .. math::

        MW_2^2(f, g) = \min_{\pi \in \Pi(a, b)} \sum_{ij} \pi_{ij}\,
        W_2^2\big(N(m_i, C_i), N(m'_j, C'_j)\big),

    optimal transport between the component weights with Bures costs
    :math:`W_2^2 = \|m_i - m'_j\|^2 + \operatorname{tr}(C_i + C'_j - 2 (C'^{1/2}_j C_i
    C'^{1/2}_j)^{1/2})` (docs/theory.md §3.6). It upper-bounds :math:`W_2` between the mixtures and
    equals the Bures distance for single Gaussians. The transport problem is solved exactly by
    POT's ``ot.emd2``.

    Parameters
    ----------
    a, b : Mixture
        Of the same dimension (the numbers of components may differ).
    squared : bool
        Return :math:`MW_2^2` instead of :math:`MW_2`.

    Returns
    -------
    float

    Raises
    ------
    ImportError
        POT (``pip install pot``) is not installed.
    TypeError, ValueError
        Not mixtures, or different dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> from collapse_theory.gmm import Mixture
    >>> from collapse_theory.metrics import mw2_gmm
    >>> f = Mixture([0.5, 0.5], [[0.0], [4.0]], [[[1.0]], [[1.0]]])
    >>> g = Mixture([0.5, 0.5], [[4.0], [1.0]], [[[1.0]], [[1.0]]])
    >>> round(mw2_gmm(f, g, squared=True), 12)
    0.5
    """
    fa, fb = _as_mixture("a", a), _as_mixture("b", b)
    if fa.dim != fb.dim:
        raise InputError(f"a and b must have the same dimension; got {fa.dim} and {fb.dim}")
    try:
        import ot
    except ImportError as error:  # pragma: no cover - POT is a dependency of the test extra
        raise ImportError(
            "mw2_gmm needs POT (Python Optimal Transport) for the transport problem between "
            "components: pip install pot"
        ) from error
    # every pair of components at once: (K_a, 1, d) against (1, K_b, d), broadcast
    costs = np.asarray(
        w2_gaussian(
            fa.means[:, None], fa.covs[:, None], fb.means[None], fb.covs[None], squared=True
        )
    )
    value = float(
        ot.emd2(np.ascontiguousarray(fa.weights), np.ascontiguousarray(fb.weights), costs)
    )
    value = max(value, 0.0)
    return value if squared else float(np.sqrt(value))


__all__ += ["kl_gmm"]


def kl_gmm(
    a: Mixture, b: Mixture, *, num_samples: int = 100_000, seed: SeedLike = None
) -> tuple[float, float]:
    r"""Kullback–Leibler divergence :math:`KL(a\,\Vert\,b)` between two Gaussian mixtures, by
    Monte Carlo, with its standard error.

    There is no closed form between mixtures. With :math:`x_1, \dots, x_S` iid from ``a``,

    .. math::

        \widehat{KL} = \frac1S \sum_{s} \bigl[\ln a(x_s) - \ln b(x_s)\bigr], \qquad
        \widehat{SE} = \frac{\operatorname{sd}_s\bigl(\ln a(x_s) - \ln b(x_s)\bigr)}{\sqrt S},

    an unbiased estimate (it can be slightly negative when the divergence is near 0) and the
    standard error of the mean of the log-ratios (sample standard deviation, ddof 1).

    Parameters
    ----------
    a, b : Mixture
        Of the same dimension; ``b`` must have positive definite covariances for its components
        of positive weight (a density), and so must ``a``.
    num_samples : int
        S >= 2 draws from ``a``.
    seed : None, int, SeedSequence or Generator
        Source of the draws (None: fresh entropy).

    Returns
    -------
    (float, float)
        The estimate (nats) and its standard error. Infinite when ``b`` has zero density at a
        draw (cannot happen for Gaussian components of positive weight).

    Examples
    --------
    >>> import numpy as np
    >>> from collapse_theory.gmm import Mixture
    >>> from collapse_theory.metrics import kl_gmm
    >>> f = Mixture([0.5, 0.5], [[-1.0], [1.0]], [[[1.0]], [[1.0]]])
    >>> kl_gmm(f, f, num_samples=1000, seed=0)
    (0.0, 0.0)
    """
    fa, fb = _as_mixture("a", a), _as_mixture("b", b)
    if fa.dim != fb.dim:
        raise InputError(f"a and b must have the same dimension; got {fa.dim} and {fb.dim}")
    num_samples = check_int("num_samples", num_samples, minimum=2)
    # the points (N, d), then per mixture the component log-densities and their temporaries
    width = fa.dim + 3 * max(fa.num_components, fb.num_components) * (fa.dim + 1)
    check_allocation(
        f"num_samples={num_samples} in dimension {fa.dim}",
        8.0 * num_samples * width,
        advice="use fewer samples",
    )
    rng = as_generator(seed)
    x = fa.sample(int(num_samples), rng)
    ratio = fa.logpdf(x) - fb.logpdf(x)
    return mean_se(ratio)
