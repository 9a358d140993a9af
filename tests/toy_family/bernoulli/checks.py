"""Verify checks of the toy Bernoulli family (registered with ``add_check`` on import).

- ``bernoulli.variance`` (Monte Carlo): E[p_n(1-p_n)] against the simulator, standard error
  ``sd / sqrt(R)`` (docs/theory.md §1.3).
- ``bernoulli.loss_probability`` (exact): P(p_n = 0) from the (M+1)-state chain against brute
  force over every sequence of draws (docs/theory.md §1.4).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from collapse_theory._stats import mean_se
from collapse_theory.verify.registry import add_check

from . import theory
from .simulate import simulate

_register = functools.partial(add_check, "bernoulli")

VARIANCE = {"p0": 0.3, "M": 20, "n": 10}
QUICK, FULL = 20_000, 200_000


def _variance_estimate(seed: np.random.SeedSequence, quick: bool) -> tuple[float, float]:
    p0, m, n = VARIANCE["p0"], VARIANCE["M"], VARIANCE["n"]
    run = simulate(p0, m, n, num_replicates=QUICK if quick else FULL, record="last", seed=seed)
    p = run["p"][0]
    return mean_se(p * (1.0 - p))


_register(
    "variance",
    "§1.3",
    "E[p_n(1-p_n)] = p0(1-p0)(1-1/M)^n against simulation",
    VARIANCE,
    lambda: float(theory.expected_variance(VARIANCE["p0"], VARIANCE["M"], VARIANCE["n"])),
    _variance_estimate,
    quick=QUICK,
    full=FULL,
)

LOSS = {"p0": 0.2, "M": 3, "n": 3}


def brute_force_loss(p: float, num_samples: int, generations: int) -> float:
    """P(p_n = 0) summed over all 2^(M n) sequences of draws (no chain, no binomial law)."""
    if generations == 0:
        return float(p == 0.0)
    total = 0.0
    for draws in itertools.product((0, 1), repeat=num_samples):
        ones = sum(draws)
        weight = p**ones * (1.0 - p) ** (num_samples - ones)
        total += weight * brute_force_loss(ones / num_samples, num_samples, generations - 1)
    return total


_register(
    "loss_probability",
    "§1.4",
    "P(p_n = 0) from the binomial chain against brute force over all draws",
    LOSS,
    lambda: float(theory.loss_probability(LOSS["p0"], LOSS["M"], LOSS["n"])),
    lambda seed, quick: (brute_force_loss(LOSS["p0"], LOSS["M"], LOSS["n"]), 0.0),
    kind="exact",
    tolerance=1e-12,
)
