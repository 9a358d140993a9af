"""Gaussian mixtures (docs/theory.md §4): validated mixtures, batched EM and recursive fitting.

There is no closed form for recursive EM; this family lives on fast simulation, checked against
scikit-learn's EM and against the single-Gaussian (§2.6) and Wright–Fisher (§1) theory.
"""

from collapse_theory.families import Family
from collapse_theory.gmm import cli, tails
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

FAMILY = Family(
    "gmm",
    simulator_arrays=(
        "weights",
        "means",
        "covs",
        "log_likelihood",
        "iterations",
        "converged",
        "lost",
    ),
    sweep_arguments={"mixture0": cli.decode_mixture},
)

__all__ = [
    "FAMILY",
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
    "tails",
]
