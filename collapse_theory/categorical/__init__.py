"""Categorical model: recursive fitting of a discrete distribution (neutral Wright–Fisher).

Closed forms (docs/theory.md §1) live in :mod:`.theory` and :mod:`.markov`; the simulator in
:mod:`.simulate`.
"""

from collapse_theory.categorical import cli, markov, policy, tails
from collapse_theory.categorical.markov import (
    LumpedDistribution,
    composition_chain,
    lumped_distribution,
    lumped_loss_probability,
)
from collapse_theory.categorical.policy import (
    PolicyEstimate,
    PolicyMoments,
    TailCut,
    skeleton,
    tail_cut,
)
from collapse_theory.categorical.simulate import heterozygosity, num_surviving, simulate
from collapse_theory.categorical.tails import TailLoss, tail_loss
from collapse_theory.categorical.theory import (
    AbsorptionTime,
    absorption_bound,
    absorption_time,
    absorption_time_survival,
    eigenvalues,
    expected_heterozygosity,
    expected_survivors,
    fixation_probabilities,
    loss_probability,
    moments,
    optimal_fresh_weight,
    stationary_moments,
    transition_matrix,
    zipf,
)
from collapse_theory.families import Family
from collapse_theory.policies import parse_policy

FAMILY = Family(
    "categorical",
    simulator_arrays=("p", "absorbed_at"),
    theory=True,
    sweep_arguments={"p0": cli.decode_p0, "policy": parse_policy},
)

__all__ = [
    "FAMILY",
    "AbsorptionTime",
    "LumpedDistribution",
    "PolicyEstimate",
    "PolicyMoments",
    "TailCut",
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
    "optimal_fresh_weight",
    "policy",
    "simulate",
    "skeleton",
    "stationary_moments",
    "tail_cut",
    "tail_loss",
    "tails",
    "transition_matrix",
    "zipf",
]
