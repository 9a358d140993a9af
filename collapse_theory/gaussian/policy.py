r"""Exact moments of the 1-D Gaussian chain under a sampling policy (docs/theory.md §8.2).

Under a policy every fitted model :math:`n \ge 1` generates :math:`\hat\mu_n + \hat\sigma_n s X`
with X a standard normal restricted to :math:`[-c, c]` (:meth:`Policy.gaussian_law`; a
temperature gives :math:`s = \tau`, :math:`c = \infty`); dataset 0 comes from model 0 as is.
The sampled law is a location-scale family, so the fitted variance is a product of independent
factors,

.. math:: \sigma_n^2 = \sigma_0^2\, S_0 \prod_{i=1}^{n-1} s^2 W_i,

:math:`S_0` the usual :math:`\chi^2_{M_0-1}/(M_0-\delta)` and :math:`W_i` the sample variance
(divisor :math:`M_i - \delta`) of :math:`M_i` iid copies of X. With :math:`E X^2 = c_c`,
:math:`E X^4 = m_4` (:func:`collapse_theory.policies.truncated_normal_moments`) and
:math:`\kappa = m_4/c_c^2`, the standard moments of a sample variance give

.. math::

    E W = c_c \frac{M-1}{M-\delta}, \qquad
    E W^2 = c_c^2 \Big(\frac{M-1}{M-\delta}\Big)^2
    \Big(1 + \frac{\kappa}{M} - \frac{M-3}{M(M-1)}\Big),

hence :math:`E\sigma_n^2` and :math:`E\sigma_n^4` exactly; :math:`\kappa = 3` gives back the
chi-square values. The mean moves by :math:`\hat\sigma_i s \bar X`, so
:math:`E(\mu_n-\mu_0)^2 = \sum_{i<n} v_i E\sigma_i^2 / M_i`, :math:`v_0 = 1`,
:math:`v_i = s^2 c_c`. The law of :math:`W` is not a chi-square when :math:`c < \infty`: its
log-moments and :math:`P(\sigma_n^2 < \varepsilon)` are left to Monte Carlo
(``simulate(..., policy=...)``); for a temperature they are those of the plain chain shifted by
:math:`(n-1)\ln\tau^2`.
"""

from __future__ import annotations

import math

import numpy as np

from collapse_theory.policies import Policy, truncated_normal_moments

__all__ = ["policy_moments"]


def _log_first_two(sizes: np.ndarray, ddof: int, second: float, kurtosis: float):
    """ln E W and ln E W^2 per generation for a sampled law with E X^2 = second, kurtosis."""
    ratio = (sizes - 1.0) / (sizes - ddof)
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(
            sizes > 1.0, kurtosis / sizes - (sizes - 3.0) / (sizes * (sizes - 1.0)), 0.0
        )
        log_first = np.log(second * ratio)
        log_second = np.log((second * ratio) ** 2 * (1.0 + excess))
    return log_first, log_second


def policy_moments(
    sizes: np.ndarray, gens: np.ndarray, ddof: int, policy: Policy
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""(:math:`E\sigma_n^2`, :math:`E(\mu_n - \mu_0)^2`, :math:`E\sigma_n^4`) for var0 = 1.

    ``sizes`` are M_0..M_{N-1} (float), ``gens`` the generations (<= N), ``ddof`` 1 (unbiased)
    or 0 (MLE); see the module docstring (docs/theory.md §8.2).
    """
    scale, cut = policy.gaussian_law()
    second, fourth = truncated_normal_moments(cut)
    plain_first, plain_second = _log_first_two(sizes, ddof, 1.0, 3.0)
    law_first, law_second = _log_first_two(sizes, ddof, second, fourth / second**2)
    log_s2 = 2.0 * math.log(scale)
    fitted = np.arange(sizes.size) >= 1
    first = np.where(fitted, law_first + log_s2, plain_first)
    second_terms = np.where(fitted, law_second + 2.0 * log_s2, plain_second)
    with np.errstate(over="ignore", under="ignore"):
        log_v = np.concatenate(([0.0], np.cumsum(first)))
        v = np.exp(log_v)
        q = np.exp(np.concatenate(([0.0], np.cumsum(second_terms))))
    drift_factor = np.where(fitted, scale**2 * second, 1.0)
    d = np.concatenate(([0.0], np.cumsum(drift_factor * v[:-1] / sizes)))
    return v[gens], d[gens], q[gens]
