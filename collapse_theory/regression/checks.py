"""Verify checks of the regression family (docs/theory.md §5.2), registered on import.

Monte Carlo checks compare the OLS closed forms and the exact law given the design (ridge) with
:func:`collapse_theory.regression.simulate` (means with standard errors and their heavy-tail
diagnostic, :func:`collapse_theory._stats.mean_estimate`); exact checks compare the
specification's check values and the accumulate law given the design with its closed form.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from collapse_theory._stats import mean_estimate
from collapse_theory.regimes import Accumulate, Replace
from collapse_theory.regression import theory
from collapse_theory.regression.simulate import simulate
from collapse_theory.verify.registry import add_check

_register = functools.partial(add_check, "regression")

QUICK, FULL = 4000, 40_000
#: The specification's set-up of §5.2.
SPEC = {"d": 5, "T": 20, "n": 10}
REGIMES = {"replace": Replace(), "accumulate": Accumulate()}
#: The ridge check's fixed design (drawn with seed 0), coefficients and penalty.
RIDGE = {"d": 4, "T": 12, "n": 8, "ridge": 3.0, "w_star": [1.0, -1.0, 0.5, 2.0]}


def _spec_value(regime: Any) -> float:
    return float(theory.expected_excess_risk(SPEC["d"], SPEC["T"], SPEC["n"], regime=regime))


for _name, _value in (("replace", 3.5714), ("accumulate", 0.55349)):
    _register(
        f"spec_value_{_name}",
        "§5.2",
        f"E||w_n - w*||^2 ({_name}) against the specification's {_value}",
        SPEC | {"regime": _name},
        functools.partial(_spec_value, REGIMES[_name]),
        functools.partial(lambda value, seed, quick: (value, 0.0), _value),
        kind="exact",
        tolerance=5e-5 if _name == "replace" else 5e-6,
    )


def _mean_risk(spec: dict, w_star: Any, regime: Any, seed, quick: bool, **options: Any):
    """The simulated E||w_n - w*||^2_Sigma at the last generation of ``spec``."""
    run = simulate(
        w_star,
        spec["T"],
        spec["n"],
        regime=regime,
        num_replicates=QUICK if quick else FULL,
        record="last",
        seed=seed,
        **options,
    )
    return mean_estimate(run["risk"][0])


def _risk_estimate(regime: Any, seed: np.random.SeedSequence, quick: bool):
    return _mean_risk(SPEC, np.ones(SPEC["d"]), regime, seed, quick)


for _name, _regime in REGIMES.items():
    _register(
        f"excess_risk_{_name}",
        "§5.2",
        f"E||w_n - w*||^2_Sigma of OLS ({_name}) against simulation",
        SPEC | {"regime": _name},
        functools.partial(_spec_value, _regime),
        functools.partial(_risk_estimate, _regime),
        quick=QUICK,
        full=FULL,
    )


def _ridge_design() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((RIDGE["T"], RIDGE["d"]))


def _ridge_theory(regime: Any) -> float:
    return float(
        theory.excess_risk_given_design(
            _ridge_design(), RIDGE["n"], w_star=RIDGE["w_star"], ridge=RIDGE["ridge"], regime=regime
        )
    )


def _ridge_estimate(regime: Any, seed: np.random.SeedSequence, quick: bool):
    return _mean_risk(
        RIDGE, RIDGE["w_star"], regime, seed, quick, ridge=RIDGE["ridge"], design=_ridge_design()
    )


for _name, _regime in REGIMES.items():
    _register(
        f"ridge_given_design_{_name}",
        "§5.2",
        f"E[risk | X] of ridge ({_name}) from the exact recursion against simulation",
        RIDGE | {"regime": _name},
        functools.partial(_ridge_theory, _regime),
        functools.partial(_ridge_estimate, _regime),
        quick=QUICK,
        full=FULL,
    )
