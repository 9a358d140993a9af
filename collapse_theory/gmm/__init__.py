"""Gaussian mixtures (docs/theory.md §4): validated mixtures, batched EM and recursive fitting.

There is no closed form for recursive EM in general; this family lives on fast simulation, checked
against scikit-learn's EM, the single-Gaussian (§2.6) and Wright–Fisher (§1) theory, and the exact
component-wise law of well-separated mixtures (§4.3, :func:`component_law`).
"""

from collapse_theory.families import Family
from collapse_theory.gmm import cli, tails, theory
from collapse_theory.gmm.em import (
    DEGENERATE_FLOOR,
    DEGENERATE_RATIO,
    DegenerateFitWarning,
    EMResult,
    degenerate_components,
    fit_em,
    min_samples,
)
from collapse_theory.gmm.mixture import Mixture
from collapse_theory.gmm.paper import (
    PAPER_PROTOCOL,
    PAPER_SNAPSHOTS,
    PaperExperiment,
    component_std,
    expected_mixture_variance,
    mixture_variance,
    paper_experiment,
    paper_start,
)
from collapse_theory.gmm.simulate import simulate
from collapse_theory.gmm.theory import ComponentLaw, component_law

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
        "degenerate",
    ),
    sweep_arguments={"mixture0": cli.decode_mixture},
)

__all__ = [
    "DEGENERATE_FLOOR",
    "DEGENERATE_RATIO",
    "FAMILY",
    "PAPER_PROTOCOL",
    "PAPER_SNAPSHOTS",
    "ComponentLaw",
    "DegenerateFitWarning",
    "EMResult",
    "Mixture",
    "PaperExperiment",
    "component_law",
    "component_std",
    "degenerate_components",
    "expected_mixture_variance",
    "fit_em",
    "min_samples",
    "mixture_variance",
    "paper_experiment",
    "paper_start",
    "simulate",
    "tails",
    "theory",
]
