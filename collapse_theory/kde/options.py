"""The KDE family's options: bandwidth rules and the accumulate-subsample regime.

- A bandwidth is a fixed ``h > 0`` (kernel covariance :math:`h^2 I`), :class:`Proportional`
  ``(c)`` (kernel covariance :math:`c^2 \\hat\\Sigma`, :math:`\\hat\\Sigma` the maximum-likelihood
  covariance of the fitted points), or ``"scott"`` / ``"silverman"``: the factors of
  ``scipy.stats.gaussian_kde``, whose kernel covariance is factor² times the *unbiased*
  covariance, i.e. :class:`Proportional` with :math:`c^2 = f(K)^2 K/(K-1)` for K fitted points
  (docs/theory.md §5.1).
- :class:`~collapse_theory.regimes.AccumulateSubsample` (defined with the other regimes, re-exported
  here) fits each model on a random subsample (without replacement) of the pool of all datasets so
  far, of the size of one dataset. The regression family uses it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from collapse_theory._validate import InputError, InputTypeError, _show, check_real
from collapse_theory.regimes import (
    BASIC_REGIMES,
    Accumulate,
    AccumulateSubsample,
    FreshData,
    Replace,
    check_regime,
)

__all__ = [
    "RULES",
    "AccumulateSubsample",
    "Bandwidth",
    "Proportional",
    "check_bandwidth",
    "check_family_regime",
    "kernel_factor_squared",
]

#: The named bandwidth rules.
RULES = ("scott", "silverman")


@dataclass(frozen=True)
class Proportional:
    """Bandwidth proportional to the fitted spread: kernel covariance :math:`c^2\\hat\\Sigma`.

    The fitted model's covariance is then :math:`(1 + c^2)\\hat\\Sigma` (docs/theory.md §5.1).

    Parameters
    ----------
    c : float
        The factor c > 0 of the kernel's standard deviation to the fitted one.

    Examples
    --------
    >>> Proportional(0.5).c
    0.5
    """

    c: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "c", check_real("c", self.c, minimum=0.0, strict_minimum=True))


Bandwidth = float | Proportional | str
Regime = Replace | FreshData | Accumulate | AccumulateSubsample


def check_bandwidth(bandwidth: object) -> float | Proportional | str:
    """Return a valid bandwidth: a finite h > 0, a :class:`Proportional`, "scott" or "silverman".

    Examples
    --------
    >>> check_bandwidth(0.3), check_bandwidth("scott")
    (0.3, 'scott')
    """
    if isinstance(bandwidth, Proportional):
        return bandwidth
    if isinstance(bandwidth, str):
        if bandwidth not in RULES:
            raise InputError(
                f"bandwidth must be a number h > 0, Proportional(c) or one of {list(RULES)}; "
                f"got {bandwidth!r}"
            )
        return bandwidth
    try:
        return check_real("bandwidth", bandwidth, minimum=0.0, strict_minimum=True)
    except InputTypeError:
        raise InputTypeError(
            "bandwidth must be a number h > 0, Proportional(c) or one of "
            f"{list(RULES)}; got {_show(bandwidth)} ({type(bandwidth).__name__})"
        ) from None


def check_family_regime(regime: object) -> Regime:
    """Return ``regime`` if it is Replace, FreshData, Accumulate or AccumulateSubsample."""
    return check_regime(regime, (*BASIC_REGIMES, AccumulateSubsample), "ct.kde / ct.regression")


def kernel_factor_squared(bandwidth: Proportional | str, num_points: int, dim: int) -> float:
    """:math:`c^2` of a data-dependent bandwidth fitted on ``num_points`` points in ``dim``
    dimensions: kernel covariance = :math:`c^2 \\hat\\Sigma_{\\mathrm{MLE}}`.

    Scott: :math:`f = K^{-1/(d+4)}`; Silverman: :math:`f = (K(d+2)/4)^{-1/(d+4)}`; both times the
    unbiased covariance, as ``scipy.stats.gaussian_kde`` (docs/theory.md §5.1).

    Examples
    --------
    >>> round(kernel_factor_squared("scott", 100, 1), 6)
    0.16009
    """
    if isinstance(bandwidth, Proportional):
        return bandwidth.c**2
    if num_points < 2:
        raise InputError(
            f"bandwidth={bandwidth!r} needs at least 2 fitted points; got {num_points}"
        )
    k, d = float(num_points), float(dim)
    base = k if bandwidth == "scott" else k * (d + 2.0) / 4.0
    return base ** (-2.0 / (d + 4.0)) * k / (k - 1.0) if math.isfinite(base) else 0.0
