"""Verify checks of the Poisson family (docs/theory.md §5.3; the Bernoulli case, §1.1, §1.8).

Monte Carlo checks compare a closed form of :mod:`collapse_theory.poisson` with the family's
simulator (or, for the exponential model, with Gamma draws); exact checks compare a closed form
with an independent computation: the count chain :math:`S_k = n\\hat\\lambda_k` propagated as a
dense matrix, the Bernoulli chain's exact law against the bounds it must respect.

Standard errors: proportions ``sqrt(p(1-p)/R)``, sample variances from the fourth central
moment (:func:`collapse_theory._stats.variance_se`), means ``sd/sqrt(R)`` with the heavy-tail
diagnostic (:func:`collapse_theory._stats.mean_estimate`, docs/theory.md §6).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.stats import poisson

from collapse_theory import poisson as family
from collapse_theory._stats import mean_estimate, proportion_se, variance_se
from collapse_theory.poisson import bernoulli
from collapse_theory.regimes import Accumulate, FreshData, Regime, Replace
from collapse_theory.rng import as_generator
from collapse_theory.verify.registry import EstimateResult, add_check

__all__ = ["dense_count_law"]

_register = functools.partial(add_check, "poisson")
QUICK, FULL = 40_000, 400_000


def dense_count_law(
    rate0: float, num_samples: int, generations: int, max_count: int
) -> tuple[np.ndarray, float]:
    """Law of :math:`S_k = n\\hat\\lambda_k` on {0, ..., max_count} for k = 1..generations by
    brute force: the dense transition matrix :math:`P[s, j] = \\mathrm{Poi}(s)(j)` applied to
    :math:`S_1 \\sim \\mathrm{Poi}(n\\lambda_0)`; with the mass lost beyond ``max_count`` on the
    way (an upper bound on the truncation error of every entry).

    Returns
    -------
    laws : ndarray, shape (generations, max_count + 1)
    lost : float
    """
    states = np.arange(max_count + 1)
    matrix = poisson.pmf(states[None, :], states[:, None])  # row 0 is the point mass at 0
    law = poisson.pmf(states, num_samples * rate0)
    lost = 1.0 - law.sum()
    laws = [law]
    for _ in range(generations - 1):
        law = law @ matrix
        lost += laws[-1].sum() - law.sum()
        laws.append(law)
    return np.array(laws), float(lost)


# --------------------------------------------------------------------------------------------
# §5.3 the exact survival law

_EXACT = {"rate0": 2.0, "n": 5, "k": 50, "max_count": 600}


def _dense_nonzero(seed: np.random.SeedSequence, quick: bool) -> tuple[float, float]:
    laws, _ = dense_count_law(_EXACT["rate0"], _EXACT["n"], _EXACT["k"], _EXACT["max_count"])
    return float(1.0 - laws[-1, 0]), 0.0


_register(
    "nonzero_probability_exact",
    "§5.3",
    "P(rate_50 > 0) = 1 - exp(-n rate0 g_50) against the dense count chain (truncation < 1e-9)",
    _EXACT,
    lambda: float(family.nonzero_probability(2.0, 5, 50)),
    _dense_nonzero,
    kind="exact",
    tolerance=1e-9,
)

_SURVIVAL = {"rate0": 0.5, "n": 10, "k": 20}


def _simulated(rate0: float, n: int, k: int, seed, quick: bool, regime: Regime) -> np.ndarray:
    run = family.simulate(
        rate0,
        n,
        k,
        num_replicates=QUICK if quick else FULL,
        regime=regime,
        record="last",
        seed=seed,
    )
    return run["rate"][0]


def _survival(seed: np.random.SeedSequence, quick: bool) -> EstimateResult:
    rate = _simulated(_SURVIVAL["rate0"], _SURVIVAL["n"], _SURVIVAL["k"], seed, quick, Replace())
    return proportion_se(rate > 0)


_register(
    "nonzero_probability",
    "§5.3",
    "P(rate_k > 0), the Galton-Watson law (exact for Poisson), against the simulator",
    _SURVIVAL,
    lambda: float(family.nonzero_probability(0.5, 10, 20)),
    _survival,
    quick=QUICK,
    full=FULL,
)

# --------------------------------------------------------------------------------------------
# §5.3 moments in each regime

_VARIANCES: dict[str, tuple[Regime, dict[str, object]]] = {
    "variance_replace": (Replace(), {"rate0": 2.0, "n": 10, "k": 5, "regime": "replace"}),
    "variance_accumulate": (
        Accumulate(),
        {"rate0": 2.0, "n": 5, "k": 30, "regime": "accumulate"},
    ),
    "variance_fresh_mix": (
        FreshData(0.2),
        {"rate0": 2.0, "n": 5, "k": 30, "regime": "fresh 0.2 mix"},
    ),
}


def _variance_check(name: str, regime: Regime, parameters: dict[str, object]) -> None:
    rate0, n, k = float(parameters["rate0"]), int(parameters["n"]), int(parameters["k"])

    def theory() -> float:
        return float(family.moments(rate0, n, k, regime)[1])

    def estimate(seed: np.random.SeedSequence, quick: bool) -> EstimateResult:
        return variance_se(_simulated(rate0, n, k, seed, quick, regime))

    _register(
        name,
        "§5.3",
        f"Var rate_k = v_k rate0/n ({parameters['regime']}) against the simulator",
        parameters,
        theory,
        estimate,
        quick=QUICK,
        full=FULL,
    )


for _name, (_regime, _parameters) in _VARIANCES.items():
    _variance_check(_name, _regime, _parameters)

# --------------------------------------------------------------------------------------------
# §5.3 the exponential model

_EXPONENTIAL = {"n": 10, "k": 20}


def _log_scale(seed: np.random.SeedSequence, quick: bool) -> EstimateResult:
    n, k = _EXPONENTIAL["n"], _EXPONENTIAL["k"]
    rng = as_generator(seed)
    draws = rng.gamma(n, 1.0, size=(QUICK if quick else FULL, k)) / n
    return mean_estimate(np.log(draws).sum(axis=1))


_register(
    "exponential_log_drift",
    "§5.3",
    "E ln(theta_k/theta_0) = k(psi(n) - ln n) against products of Gamma(n,1)/n draws",
    _EXPONENTIAL,
    lambda: float(family.exponential_log_moments(10, 20)[0]),
    _log_scale,
    quick=QUICK,
    full=FULL,
)

# --------------------------------------------------------------------------------------------
# the Bernoulli case: accumulate limit, bounds beside the exact law

_LIMIT_K = 10**6


_register(
    "bernoulli_accumulate_limit",
    "§1.8",
    "R_50 = 50[1 - sin(pi/sqrt 50)/(pi/sqrt 50)] against the product at k = 1e6 (tail < 1/k)",
    {"M": 50, "k": _LIMIT_K},
    lambda: bernoulli.accumulate_limit(50),
    lambda seed, quick: (float(bernoulli.accumulate_ratio(50, _LIMIT_K)), 0.0),
    kind="exact",
    tolerance=1.0 / _LIMIT_K,
)

_BOUNDS = {"p0": 0.1, "M": 20, "k": 50}

_register(
    "bernoulli_suresh_bound",
    "§5.3",
    "exact P(p_k = 0) of the 2-state chain <= exp(-M p0/k) (Suresh et al.)",
    _BOUNDS,
    lambda: 1.0 - float(bernoulli.suresh_lower_bound(0.1, 20, 50)),
    lambda seed, quick: (float(bernoulli.zero_probability(0.1, 20, 50)), 0.0),
    kind="upper-bound",
)

_register(
    "bernoulli_martingale_bound",
    "§1.1",
    "exact P(p_k not in {0,1}) <= M^2 p0(1-p0)(1-1/M)^k/(M-1) (Markov's inequality)",
    _BOUNDS,
    lambda: float(bernoulli.martingale_upper_bound(0.1, 20, 50)),
    lambda seed, quick: (1.0 - float(bernoulli.collapse_probability(0.1, 20, 50)), 0.0),
    kind="upper-bound",
)
