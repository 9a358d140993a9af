r"""Distances, divergences and tail masses between fitted models (docs/theory.md §1, §2.5, §2.9, §3.6).

Gaussian metrics take a mean and a variance (1-D: scalars) or a mean vector and a covariance
matrix (d-D). Categorical metrics take probability vectors.

- :func:`w2_gaussian`: the 2-Wasserstein distance between two Gaussians (Bures formula).
- :func:`w2_empirical`: the 2-Wasserstein distance between two 1-D samples (quantile coupling).
- :func:`kl_gaussian`, :func:`kl_categorical`, :func:`total_variation`, :func:`entropy`.
- :func:`tail_mass_gaussian`: :math:`P(|X - c| > k\,s)` for :math:`X \sim N(m, v)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr

from collapse_theory._validate import (
    COV_RTOL,
    _show,
    as_float_array,
    check_covariance,
    check_probability_vector,
    check_real,
)
from collapse_theory.rng import as_generator

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
    """Symmetric square root by eigendecomposition, tiny negative eigenvalues clipped to 0."""
    values, vectors = np.linalg.eigh(cov)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    return 0.5 * (root + root.T)


def _gaussian_pair(m1: Any, c1: Any, m2: Any, c2: Any) -> tuple[np.ndarray, ...]:
    """Validate two Gaussians given as (mean, variance) scalars or (vector, matrix)."""
    m1a = as_float_array("m1", m1)
    m2a = as_float_array("m2", m2)
    if m1a.ndim == 0 and m2a.ndim == 0:
        v1 = check_real("c1", c1, minimum=0.0) if np.ndim(c1) == 0 else None
        v2 = check_real("c2", c2, minimum=0.0) if np.ndim(c2) == 0 else None
        if v1 is None or v2 is None:
            raise ValueError(
                "for scalar means m1, m2 the variances c1, c2 must be scalars; got shapes "
                f"{np.shape(c1)} and {np.shape(c2)}"
            )
        return m1a.reshape(1), np.array([[v1]]), m2a.reshape(1), np.array([[v2]])
    if m1a.ndim != 1 or m2a.ndim != 1 or m1a.shape != m2a.shape:
        raise ValueError(
            "m1 and m2 must be two scalars or two 1-D vectors of the same length; got shapes "
            f"{m1a.shape} and {m2a.shape}"
        )
    d = m1a.size
    c1a = check_covariance("c1", c1)
    c2a = check_covariance("c2", c2)
    for name, c in (("c1", c1a), ("c2", c2a)):
        if c.shape != (d, d):
            raise ValueError(f"{name} must be {d} x {d} to match the means; got shape {c.shape}")
    return m1a, c1a, m2a, c2a


def w2_gaussian(m1: Any, c1: Any, m2: Any, c2: Any, *, squared: bool = False) -> float:
    r"""2-Wasserstein distance between :math:`N(m_1, C_1)` and :math:`N(m_2, C_2)` (docs/theory.md §3.6).

    .. math::

        W_2^2 = \lVert m_1 - m_2 \rVert^2
              + \operatorname{tr}\bigl(C_1 + C_2 - 2 (C_2^{1/2} C_1 C_2^{1/2})^{1/2}\bigr).

    The cross term is computed as the sum of the singular values of :math:`C_1^{1/2} C_2^{1/2}`
    (the nuclear norm), which equals :math:`\operatorname{tr}(C_2^{1/2} C_1 C_2^{1/2})^{1/2}`,
    averaged with that of :math:`C_2^{1/2} C_1^{1/2}` so that the rounded value is symmetric; square roots are symmetric, by eigendecomposition, with rounding
    negatives clipped to zero. The result is therefore exactly symmetric, finite for singular
    covariances, never negative, and zero (up to rounding) for equal inputs. In 1-D it reduces to
    :math:`(m_1-m_2)^2 + (\sigma_1 - \sigma_2)^2` (docs/theory.md §2.5), computed directly.

    Parameters
    ----------
    m1, m2 : float or array_like, shape (d,)
        Means: two scalars (1-D) or two vectors of the same length.
    c1, c2 : float or array_like, shape (d, d)
        Variances (scalars >= 0 in 1-D) or symmetric positive semi-definite covariance matrices.
    squared : bool, default False
        Return :math:`W_2^2` instead of :math:`W_2`.

    Returns
    -------
    float
        :math:`W_2` (or :math:`W_2^2`).

    Raises
    ------
    ValueError
        Mismatched shapes, NaN/inf, negative variance, non-symmetric or non-PSD covariance.
    TypeError
        Non-numeric input.

    Examples
    --------
    >>> w2_gaussian(0.0, 1.0, 1.0, 4.0, squared=True)
    2.0
    """
    m1a, c1a, m2a, c2a = _gaussian_pair(m1, c1, m2, c2)
    mean_term = float(np.sum((m1a - m2a) ** 2))
    if m1a.size == 1:
        bures = (np.sqrt(c1a[0, 0]) - np.sqrt(c2a[0, 0])) ** 2
    else:
        root1, root2 = _psd_sqrt(c1a), _psd_sqrt(c2a)
        # ||C1^{1/2} C2^{1/2}||_* = ||C2^{1/2} C1^{1/2}||_* (transposes: same singular values).
        # Averaging both orders makes the rounded result exactly symmetric (a + b == b + a).
        cross = 0.5 * (
            float(np.sum(np.linalg.svd(root1 @ root2, compute_uv=False)))
            + float(np.sum(np.linalg.svd(root2 @ root1, compute_uv=False)))
        )
        bures = np.trace(c1a) + np.trace(c2a) - 2.0 * cross
        # Equal inputs: all three terms agree up to rounding; never report a negative value.
        bures = max(float(bures), 0.0)
    value = mean_term + float(bures)
    return value if squared else float(np.sqrt(value))


def w2_empirical(x: Any, y: Any, *, squared: bool = False) -> float:
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
        raise ValueError(f"x and y must be non-empty; got sizes {xa.size} and {ya.size}")
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


def kl_gaussian(m1: Any, c1: Any, m2: Any, c2: Any) -> float:
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
            raise ValueError(
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
    mean: Any, var: Any, k: Any, center: Any = 0.0, scale: Any = 1.0
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
        raise ValueError(f"var must be >= 0; got {_show(var)}")
    if np.any(ka < 0):
        raise ValueError(f"k must be >= 0; got {_show(k)}")
    if np.any(s <= 0):
        raise ValueError(f"scale must be > 0; got {_show(scale)}")
    try:
        m, v, ka, c, s = np.broadcast_arrays(m, v, ka, c, s)
    except ValueError as error:
        raise ValueError(f"mean, var, k, center and scale do not broadcast: {error}") from None
    sd = np.sqrt(v)
    upper = c + ka * s - m
    lower = c - ka * s - m
    with np.errstate(divide="ignore", invalid="ignore"):
        result = ndtr(-upper / sd) + ndtr(lower / sd)
    degenerate = (upper < 0).astype(float) + (lower > 0).astype(float)
    result = np.where(sd > 0, result, degenerate)
    return float(result) if result.ndim == 0 else result


def kl_categorical(p: Any, q: Any) -> float:
    r"""Kullback–Leibler divergence :math:`\sum_i p_i \ln(p_i / q_i)` in nats.

    Terms with :math:`p_i = 0` contribute 0; if :math:`q_i = 0 < p_i` the divergence is ``+inf``.

    Examples
    --------
    >>> kl_categorical([0.5, 0.5], [0.5, 0.5])
    0.0
    """
    pa = check_probability_vector("p", p)
    qa = check_probability_vector("q", q)
    if pa.shape != qa.shape:
        raise ValueError(f"p and q must have the same length; got {pa.size} and {qa.size}")
    support = pa > 0
    if np.any(qa[support] == 0):
        return float("inf")
    value = float(np.sum(pa[support] * (np.log(pa[support]) - np.log(qa[support]))))
    return max(value, 0.0)


def total_variation(p: Any, q: Any) -> float:
    r"""Total-variation distance :math:`\tfrac12 \sum_i |p_i - q_i|` (in [0, 1]).

    Examples
    --------
    >>> total_variation([1.0, 0.0], [0.0, 1.0])
    1.0
    """
    pa = check_probability_vector("p", p)
    qa = check_probability_vector("q", q)
    if pa.shape != qa.shape:
        raise ValueError(f"p and q must have the same length; got {pa.size} and {qa.size}")
    return float(min(0.5 * np.sum(np.abs(pa - qa)), 1.0))


def entropy(p: Any) -> float:
    r"""Shannon entropy :math:`-\sum_i p_i \ln p_i` in nats (0 ln 0 = 0).

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


def _as_mixture(name: str, value: Any) -> Any:
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
                raise ValueError(
                    "l2_gmm needs C_i + C'_j positive definite for every pair of components of "
                    "positive weight (the L2 norm of a singular Gaussian is infinite)"
                )
            sol = np.linalg.solve(chol, m1[i] - m2[j])
            out[i, j] = np.exp(
                -0.5 * (sol @ sol + dim * np.log(2.0 * np.pi)) - np.sum(np.log(np.diag(chol)))
            )
    return out


def l2_gmm(a: Any, b: Any, *, squared: bool = False) -> float:
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
        raise ValueError(f"a and b must have the same dimension; got {fa.dim} and {fb.dim}")
    parts = []
    for x, y in ((fa, fa), (fb, fb), (fa, fb)):
        keep_x, keep_y = x.weights > 0, y.weights > 0
        overlap = _gaussian_overlaps(
            x.means[keep_x], x.covs[keep_x], y.means[keep_y], y.covs[keep_y]
        )
        parts.append(float(x.weights[keep_x] @ overlap @ y.weights[keep_y]))
    value = max(parts[0] + parts[1] - 2.0 * parts[2], 0.0)
    return value if squared else float(np.sqrt(value))


def mw2_gmm(a: Any, b: Any, *, squared: bool = False) -> float:
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
        raise ValueError(f"a and b must have the same dimension; got {fa.dim} and {fb.dim}")
    try:
        import ot
    except ImportError as error:  # pragma: no cover - POT is a dependency of the test extra
        raise ImportError(
            "mw2_gmm needs POT (Python Optimal Transport) for the transport problem between "
            "components: pip install pot"
        ) from error
    costs = np.array(
        [
            [
                w2_gaussian(fa.means[i], fa.covs[i], fb.means[j], fb.covs[j], squared=True)
                for j in range(fb.num_components)
            ]
            for i in range(fa.num_components)
        ]
    )
    value = float(
        ot.emd2(np.ascontiguousarray(fa.weights), np.ascontiguousarray(fb.weights), costs)
    )
    value = max(value, 0.0)
    return value if squared else float(np.sqrt(value))


__all__ += ["kl_gmm"]


def kl_gmm(a: Any, b: Any, *, num_samples: int = 100_000, seed: Any = None) -> tuple[float, float]:
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
        raise ValueError(f"a and b must have the same dimension; got {fa.dim} and {fb.dim}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError(f"num_samples must be an integer >= 2; got {num_samples!r}")
    if num_samples < 2:
        raise ValueError(f"num_samples must be an integer >= 2; got {num_samples}")
    rng = as_generator(seed)
    x = fa.sample(int(num_samples), rng)
    ratio = fa.logpdf(x) - fb.logpdf(x)
    estimate = float(np.mean(ratio))
    se = float(np.std(ratio, ddof=1) / np.sqrt(ratio.size))
    return estimate, se
