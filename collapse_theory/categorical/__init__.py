"""Categorical model: recursive fitting of a discrete distribution (neutral Wright–Fisher).

Closed forms (theory.md §1) live in :mod:`.theory` and :mod:`.markov`; the simulator in
:mod:`.simulate`.
"""

from collapse_theory.categorical import markov
from collapse_theory.categorical.markov import (
    LumpedDistribution,
    composition_chain,
    lumped_distribution,
    lumped_loss_probability,
)
from collapse_theory.categorical.simulate import heterozygosity, num_surviving, simulate
from collapse_theory.categorical.theory import (
    AbsorptionTime,
    TailLoss,
    absorption_bound,
    absorption_time,
    absorption_time_survival,
    eigenvalues,
    expected_heterozygosity,
    expected_survivors,
    fixation_probabilities,
    loss_probability,
    moments,
    stationary_moments,
    tail_loss,
    transition_matrix,
)

__all__ = [
    "AbsorptionTime",
    "LumpedDistribution",
    "TailLoss",
    "absorption_bound",
    "absorption_time",
    "absorption_time_survival",
    "composition_chain",
    "eigenvalues",
    "expected_heterozygosity",
    "expected_survivors",
    "fixation_probabilities",
    "heterozygosity",
    "loss_probability",
    "lumped_distribution",
    "lumped_loss_probability",
    "markov",
    "moments",
    "num_surviving",
    "simulate",
    "stationary_moments",
    "tail_loss",
    "transition_matrix",
]
