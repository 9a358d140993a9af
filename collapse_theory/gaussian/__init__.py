"""Gaussian model: recursive fitting of a Gaussian (docs/theory.md §2 in 1-D, §3 in d dimensions).

Closed forms live in :mod:`.theory`; the simulator in :mod:`.simulate`.
"""

from collapse_theory.families import Family
from collapse_theory.gaussian import cli, tails
from collapse_theory.gaussian.simulate import simulate
from collapse_theory.gaussian.tails import expected_tail_mass
from collapse_theory.gaussian.theory import (
    expected_det,
    expected_log_det,
    expected_mean_drift,
    expected_std,
    expected_variance,
    expected_w2_squared,
    fresh_draw_variance,
    log_variance_cumulants,
    lyapunov_exponents,
    mean_squared_drift,
    optimal_fresh_weight,
    prob_variance_below,
    stationary_moments,
    trace_moments,
    variance_log_det,
    variance_of_variance,
    w2_first_order,
    w2_first_order_isotropic,
    w2_lower_bound,
    w2_squared_bounds,
    w2_squared_moments,
)
from collapse_theory.policies import parse_policy

FAMILY = Family(
    "gaussian",
    simulator_arrays=("mean", "var", "cov"),
    theory=True,
    sweep_arguments={
        "mean0": cli.decode_array,
        "cov0": cli.decode_array,
        "var0": cli.decode_var0,
        "estimator": cli.decode_estimator,
        "policy": parse_policy,
    },
)

__all__ = [
    "FAMILY",
    "expected_det",
    "expected_log_det",
    "expected_mean_drift",
    "expected_std",
    "expected_tail_mass",
    "expected_variance",
    "expected_w2_squared",
    "fresh_draw_variance",
    "log_variance_cumulants",
    "lyapunov_exponents",
    "mean_squared_drift",
    "optimal_fresh_weight",
    "prob_variance_below",
    "simulate",
    "stationary_moments",
    "tails",
    "trace_moments",
    "variance_log_det",
    "variance_of_variance",
    "w2_first_order",
    "w2_first_order_isotropic",
    "w2_lower_bound",
    "w2_squared_bounds",
    "w2_squared_moments",
]
