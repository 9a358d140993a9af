"""Gaussian kernel density estimation refitted on its own samples (docs/theory.md §5.1).

Closed forms live in :mod:`.theory`, the simulator in :mod:`.simulate`, the tail law in
:mod:`.tails` and Kazdan et al.'s 2-D starts in :mod:`.starts`.
"""

from collapse_theory.families import Family
from collapse_theory.kde import cli, tails
from collapse_theory.kde.options import AccumulateSubsample, Proportional
from collapse_theory.kde.simulate import simulate
from collapse_theory.kde.starts import (
    STARTS,
    distance_to_start,
    energy_distance,
    named_start,
    w2_points,
)
from collapse_theory.kde.tails import kde_expected_tail_mass as expected_tail_mass
from collapse_theory.kde.theory import (
    expected_mean_drift,
    expected_variance,
    inflation_threshold,
    marginal_variance,
    moment_recursion,
)

FAMILY = Family(
    "kde",
    simulator_arrays=("mean", "var", "cov", "tail", "dataset"),
    theory=True,
    sweep_arguments={"bandwidth": cli.decode_bandwidth, "regime": cli.decode_regime},
)

__all__ = [
    "FAMILY",
    "STARTS",
    "AccumulateSubsample",
    "Proportional",
    "distance_to_start",
    "energy_distance",
    "expected_mean_drift",
    "expected_tail_mass",
    "expected_variance",
    "inflation_threshold",
    "marginal_variance",
    "moment_recursion",
    "named_start",
    "simulate",
    "tails",
    "w2_points",
]
