"""Poisson model: recursive fitting of a Poisson rate, a Galton–Watson process in disguise
(docs/theory.md §5.3), with the exponential (scale) model's log-moments and the Bernoulli case
named (:mod:`.bernoulli`, thin wrappers over the two-state categorical chain).

Closed forms live in :mod:`.theory`, the simulator in :mod:`.simulate`.
"""

from collapse_theory.families import Family
from collapse_theory.poisson import bernoulli
from collapse_theory.poisson.simulate import simulate
from collapse_theory.poisson.theory import (
    exponential_log_moments,
    extinction_weights,
    moments,
    nonzero_probability,
)

FAMILY = Family(
    "poisson",
    simulator_arrays=("rate",),
    theory=True,
    sweep_arguments={"rate0": float},
)

__all__ = [
    "FAMILY",
    "bernoulli",
    "exponential_log_moments",
    "extinction_weights",
    "moments",
    "nonzero_probability",
    "simulate",
]
