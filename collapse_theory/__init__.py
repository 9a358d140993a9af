"""collapse_theory: theory and simulation of model collapse.

Closed forms, exact Markov-chain computations and fast simulators for generative models trained,
generation after generation, on samples of their predecessor (Shumailov et al., Nature 2024).
"""

__version__ = "0.1.0"

from collapse_theory import backends, categorical, gaussian, gmm, metrics, schedules, tails, verify
from collapse_theory.regimes import Accumulate, FreshData, Replace
from collapse_theory.results import SimulationResult, Summary

__all__ = [
    "Accumulate",
    "FreshData",
    "Replace",
    "SimulationResult",
    "Summary",
    "__version__",
    "backends",
    "categorical",
    "gaussian",
    "gmm",
    "metrics",
    "schedules",
    "tails",
    "verify",
]
