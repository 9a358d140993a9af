"""Gaussian mixtures (theory.md §4): validated mixtures, batched EM and recursive fitting.

There is no closed form for recursive EM; this family lives on fast simulation, checked against
scikit-learn's EM and against the single-Gaussian (§2.6) and Wright–Fisher (§1) theory.
"""

from collapse_theory.gmm.em import EMResult, fit_em, min_samples
from collapse_theory.gmm.mixture import Mixture
from collapse_theory.gmm.paper import (
    PAPER_SNAPSHOTS,
    PaperExperiment,
    mixture_variance,
    paper_experiment,
    paper_start,
)
from collapse_theory.gmm.simulate import simulate

__all__ = [
    "PAPER_SNAPSHOTS",
    "EMResult",
    "Mixture",
    "PaperExperiment",
    "fit_em",
    "min_samples",
    "mixture_variance",
    "paper_experiment",
    "paper_start",
    "simulate",
]
