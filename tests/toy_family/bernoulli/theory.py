r"""Closed forms of the toy Bernoulli family: a Bernoulli(p0) refitted each generation on M draws.

.. math::

    M p_{n+1} \mid p_n \sim \mathrm{Bin}(M, p_n), \qquad p_0 \text{ given}.

This is the two-state categorical chain (docs/theory.md §1.3, §1.4) written for one probability:
:math:`E p_n = p_0` (a martingale), :math:`E[p_n(1-p_n)] = p_0(1-p_0)(1-1/M)^n`, and the law of
:math:`M p_n` for n >= 1 is :math:`b(p_0)^T P^{n-1}` with :math:`b(p_0)` the Bin(M, p0)
probabilities and P the (M+1)-state binomial chain. The family lives in ``tests/toy_family`` to
show that a family plugs into the machinery with its folder and one ``register`` call.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from collapse_theory._validate import check_generations, check_int, check_real

__all__ = ["expected_p", "expected_variance", "loss_probability", "transition_matrix"]

#: Largest M for which the dense (M+1) x (M+1) chain is built.
MAX_CHAIN_SAMPLES = 2000


def _p0(p0: Any) -> float:
    return check_real("p0", p0, minimum=0.0, maximum=1.0)


def _m(num_samples: Any) -> int:
    return check_int("num_samples", num_samples, minimum=1)


def binomial_pmf(num_samples: int, p: float | np.ndarray) -> np.ndarray:
    """Bin(M, p) probabilities of 0..M (rows for an array of p), in numpy."""
    k = np.arange(num_samples + 1)
    coefficients = np.array([math.comb(num_samples, int(j)) for j in k], dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)[..., None]
    return coefficients * p**k * (1.0 - p) ** (num_samples - k)  # 0.0 ** 0 == 1.0


def transition_matrix(num_samples: int) -> np.ndarray:
    r"""The (M+1)-state binomial chain :math:`P_{jk} = \binom{M}{k}(j/M)^k(1-j/M)^{M-k}`
    of the count :math:`M p_n` (docs/theory.md §1.4)."""
    m = _m(num_samples)
    if m > MAX_CHAIN_SAMPLES:
        raise ValueError(f"num_samples must be <= {MAX_CHAIN_SAMPLES} (dense chain); got {m}")
    return binomial_pmf(m, np.arange(m + 1) / m)


def expected_p(p0: float, num_samples: int, generations: Any) -> np.ndarray:
    """:math:`E p_n = p_0` for every n (a martingale; docs/theory.md §1.2)."""
    p0, _ = _p0(p0), _m(num_samples)
    gens = check_generations("generations", generations)
    return np.full(gens.shape, p0)


def expected_variance(p0: float, num_samples: int, generations: Any) -> np.ndarray:
    r""":math:`E[p_n(1-p_n)] = p_0(1-p_0)(1-1/M)^n` (docs/theory.md §1.3)."""
    p0, m = _p0(p0), _m(num_samples)
    gens = check_generations("generations", generations)
    return p0 * (1.0 - p0) * (1.0 - 1.0 / m) ** gens


def loss_probability(p0: float, num_samples: int, generations: Any) -> np.ndarray:
    r""":math:`P(p_n = 0)`, exact: :math:`[b(p_0)^T P^{n-1}]_0` for n >= 1 and
    :math:`1\{p_0 = 0\}` at n = 0, by vector-matrix products on the (M+1)-state chain
    (docs/theory.md §1.4)."""
    p0, m = _p0(p0), _m(num_samples)
    gens = check_generations("generations", generations)
    matrix = transition_matrix(m)
    vector = binomial_pmf(m, p0)  # the law of M p_1
    step, values = 1, {0: float(p0 == 0.0)}
    for n in sorted(set(gens.ravel().tolist()) - {0}):
        while step < n:
            vector = vector @ matrix
            step += 1
        values[n] = float(vector[0])
    return np.array([values[n] for n in gens.ravel().tolist()]).reshape(gens.shape)
