"""Verify checks of the KDE family (docs/theory.md §5.1), registered with ``add_check`` on import.

Monte Carlo checks compare the moment recursions and the tail law with
:func:`collapse_theory.kde.simulate` (standard errors of means with their heavy-tail diagnostic,
:func:`collapse_theory._stats.mean_estimate`; proportions ``sqrt(p(1-p)/R)``); exact checks
compare the specification's check values, and the recursion's marginal variance with the
independent ancestry-mixture law.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from scipy.stats import chi2

from collapse_theory._stats import mean_estimate, proportion_se
from collapse_theory.kde import tails, theory
from collapse_theory.kde.options import AccumulateSubsample, Proportional
from collapse_theory.kde.simulate import simulate
from collapse_theory.regimes import Accumulate, FreshData, Replace
from collapse_theory.verify.registry import add_check

_register = functools.partial(add_check, "kde")

QUICK, FULL = 4000, 40_000
#: The specification's check of §5.1.
SPEC = {"M": 50, "h": 0.3, "var0": 1.0}
#: The Monte Carlo checks' set-up: M = 20, h = 0.3, n = 10.
MC = {"M": 20, "h": 0.3, "n": 10}
#: The proportional bandwidth of the checks.
PROPORTIONAL = Proportional(0.5)
REGIMES = {
    "replace": Replace(),
    "fresh_split": FreshData(0.2, "split"),
    "accumulate": Accumulate(),
    "subsample": AccumulateSubsample(),
}


def _run(regime: Any, seed: np.random.SeedSequence, quick: bool, **kwargs: Any):
    return simulate(
        1.0,
        MC["M"],
        MC["n"],
        bandwidth=kwargs.pop("bandwidth", MC["h"]),
        regime=regime,
        num_replicates=QUICK if quick else FULL,
        record="last",
        seed=seed,
        **kwargs,
    )


for _n, _value in ((10, 1.64025), (100, 4.03583)):
    _register(
        f"spec_value_{_n}",
        "§5.1",
        f"E Var(model {_n}) = M h^2 + (1 - M h^2) r^n against the specification's {_value}",
        SPEC | {"n": _n},
        functools.partial(
            lambda n: float(theory.expected_variance(SPEC["M"], n, bandwidth=SPEC["h"])), _n
        ),
        functools.partial(lambda value, seed, quick: (value, 0.0), _value),
        kind="exact",
        tolerance=5e-6,
    )


def _variance_check(name: str, regime: Any) -> None:
    _register(
        f"variance_{name}",
        "§5.1",
        f"E Var(model n) from the {name} moment recursion against simulation",
        MC | {"regime": name},
        lambda: float(theory.expected_variance(MC["M"], MC["n"], bandwidth=MC["h"], regime=regime)),
        lambda seed, quick: mean_estimate(_run(regime, seed, quick)["var"][0]),
        quick=QUICK,
        full=FULL,
    )
    _register(
        f"drift_{name}",
        "§5.1",
        f"E(mu_n - mu_0)^2 from the {name} moment recursion against simulation",
        MC | {"regime": name},
        lambda: float(
            theory.expected_mean_drift(MC["M"], MC["n"], bandwidth=MC["h"], regime=regime)
        ),
        lambda seed, quick: mean_estimate(_run(regime, seed, quick)["mean"][0] ** 2),
        quick=QUICK,
        full=FULL,
    )


for _name, _regime in REGIMES.items():
    _variance_check(_name, _regime)

_register(
    "variance_proportional",
    "§5.1",
    "E Var(model n) = sigma0^2 (r(1 + c^2))^n, c = 0.5, against simulation",
    MC | {"c": 0.5},
    lambda: float(theory.expected_variance(MC["M"], MC["n"], bandwidth=PROPORTIONAL)),
    lambda seed, quick: mean_estimate(
        _run(Replace(), seed, quick, bandwidth=PROPORTIONAL)["var"][0]
    ),
    quick=QUICK,
    full=FULL,
)


def _first_fit_probability(seed: np.random.SeedSequence, quick: bool) -> tuple[float, float]:
    run = simulate(
        1.0, 8, 1, bandwidth=0.3, num_replicates=QUICK if quick else FULL, record="last", seed=seed
    )
    return proportion_se(run["var"][0] < chi2.ppf(0.5, 7) / 8 + 0.09)


_register(
    "first_fit_median",
    "§5.1",
    "P(Var(model 1) < its exact median) = 1/2 (M s^2 ~ chi2(M-1), plus h^2) against simulation",
    {"M": 8, "h": 0.3},
    lambda: 0.5,
    _first_fit_probability,
    quick=QUICK,
    full=FULL,
)


def _tail_estimate(seed: np.random.SeedSequence, quick: bool):
    run = _run(Accumulate(), seed, quick, tail_threshold=tails.kde_tail_width(0.1))
    return mean_estimate(run["tail"][0])


_register(
    "tail_mass_accumulate",
    "§5.1",
    "E T_n, the mass of the original 10% tail, from the ancestry mixture against simulation",
    MC | {"regime": "accumulate", "quantile": 0.1},
    lambda: float(
        tails.kde_expected_tail_mass(MC["M"], MC["n"], bandwidth=MC["h"], regime=Accumulate())
    ),
    _tail_estimate,
    quick=QUICK,
    full=FULL,
)


def _mixture_marginal() -> tuple[float, float]:
    weights = tails.kde_ancestry_weights(MC["M"], MC["n"], AccumulateSubsample())[-1]
    return float(weights @ (1.0 + np.arange(MC["n"] + 1) * MC["h"] ** 2)), 0.0


_register(
    "marginal_subsample",
    "§5.1",
    "Var of a draw from model n: moment recursion V_n + D_n against the ancestry mixture law",
    MC | {"regime": "subsample"},
    lambda: float(
        theory.marginal_variance(MC["M"], MC["n"], bandwidth=MC["h"], regime=AccumulateSubsample())
    ),
    lambda seed, quick: _mixture_marginal(),
    kind="exact",
    tolerance=1e-12,
)
