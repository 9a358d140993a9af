"""Linear regression refitted on its own labels (docs/theory.md §5.2).

Closed forms live in :mod:`.theory`, the simulator in :mod:`.simulate`. The family has no tail
law (a coefficient vector has no tail of its own).
"""

from collapse_theory.families import Family
from collapse_theory.kde.cli import decode_regime
from collapse_theory.kde.options import AccumulateSubsample
from collapse_theory.regression import cli
from collapse_theory.regression.simulate import simulate
from collapse_theory.regression.theory import (
    accumulate_bound,
    excess_risk_given_design,
    expected_excess_risk,
)

FAMILY = Family(
    "regression",
    simulator_arrays=("risk", "w"),
    theory=True,
    sweep_arguments={"w_star": cli.decode_array, "cov": cli.decode_array, "regime": decode_regime},
)

__all__ = [
    "FAMILY",
    "AccumulateSubsample",
    "accumulate_bound",
    "excess_risk_given_design",
    "expected_excess_risk",
    "simulate",
]
