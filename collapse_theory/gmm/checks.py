"""Checks of the Gaussian-mixture simulator (docs/theory.md §4) against the closed forms it must reduce to.

A Gaussian mixture under recursive EM fitting has no closed form (§4), but two limits do, and
they test the EM simulator end to end (sampling, E step, M step, warm starts, bookkeeping):

- One component: EM returns the maximum-likelihood Gaussian, so the fitted variance follows
  §2.6 (1-D, :math:`E\\sigma_n^2 = \\sigma_0^2 r^n`, :math:`E\\ln\\sigma_n^2` from the MLE
  cumulants of §2.3) and the covariance follows §3.3 (:math:`E\\ln\\det\\Sigma_n`, MLE).
- Two components 100 standard deviations apart: every responsibility is exactly 0 or 1, so the
  fitted weight of a component is its sample count over M and the weights follow the two-state
  Wright–Fisher chain of §1: :math:`E w_n = w_0` (§1.2) and
  :math:`\\operatorname{Var} w_n = w_0 (1 - w_0)(1 - (1 - 1/M)^n)` (§1.3).

The closed-form L2 distance between mixtures (§4) is checked against numerical integration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, TypedDict

import numpy as np
from scipy import integrate

from collapse_theory._stats import mean_se, variance_se
from collapse_theory.verify.registry import add_check

FAMILY = "gmm"
R_GMM = 20_000
_FULL = 10
Estimate = Callable[[np.random.SeedSequence, bool], tuple[float, float]]

COV2 = [[1.0, 0.6], [0.6, 2.0]]


class MixtureSpec(TypedDict):
    """The keyword arguments of :class:`~collapse_theory.gmm.Mixture`, as plain lists."""

    weights: list[float]
    means: list[list[float]]
    covs: list[list[list[float]]]


SEPARATED: MixtureSpec = {
    "weights": [0.3, 0.7],
    "means": [[-50.0], [50.0]],
    "covs": [[[1.0]], [[1.0]]],
}


def _ct() -> ModuleType:
    import collapse_theory as ct

    return ct


def _register(*args: Any, quick: int | None = None, **kwargs: Any) -> None:
    # args and kwargs are add_check's, whatever their types
    add_check(FAMILY, *args, quick=quick, full=_FULL * quick if quick else None, **kwargs)


def _mc(
    statistic: Callable[[dict[str, np.ndarray]], tuple[float, float]],
    mixture: Mapping[str, object],
    num_samples: int,
    generations: int,
) -> Estimate:
    """Simulate recursive EM from ``mixture`` and apply ``statistic`` to the last generation."""

    def estimate(ss: np.random.SeedSequence, quick: bool) -> tuple[float, float]:
        ct = _ct()
        run = ct.gmm.simulate(
            ct.gmm.Mixture(**mixture),
            num_samples,
            generations,
            num_replicates=R_GMM if quick else _FULL * R_GMM,
            record="last",
            seed=ss,
        )
        return statistic({name: array[-1] for name, array in run.trajectories.items()})

    return estimate


def _one_component(mean: list[float], cov: list[list[float]]) -> dict[str, object]:
    return {"weights": [1.0], "means": [mean], "covs": [cov]}


# --------------------------------------------------------------------------------------------
# one component: the maximum-likelihood Gaussian (§2.6, §2.3, §3.3)

_register(
    "one_component_variance",
    "§2.6",
    "K=1 mixture in 1-D: E sigma_n^2 = var0 ((M-1)/M)^n (Gaussian MLE) vs recursive EM",
    {"K": 1, "d": 1, "var0": 1.0, "M": 50, "n": 10},
    lambda: float(_ct().gaussian.expected_variance(50, 10, estimator="mle")),
    _mc(lambda t: mean_se(t["covs"][:, 0, 0, 0]), _one_component([0.0], [[1.0]]), 50, 10),
    quick=R_GMM,
)

_register(
    "one_component_log_variance",
    "§2.3",
    "K=1 mixture in 1-D: E ln sigma_n^2 = kappa_1 (MLE cumulants) vs recursive EM",
    {"K": 1, "d": 1, "var0": 1.0, "M": 20, "n": 20},
    lambda: float(_ct().gaussian.log_variance_cumulants(20, 20, 1, estimator="mle")[0]),
    _mc(lambda t: mean_se(np.log(t["covs"][:, 0, 0, 0])), _one_component([0.0], [[1.0]]), 20, 20),
    quick=R_GMM,
)

_register(
    "one_component_log_det",
    "§3.3",
    "K=1 mixture in 2-D: E ln det Sigma_n (expected_log_det, MLE) vs recursive EM",
    {"K": 1, "d": 2, "cov0": COV2, "M": 30, "n": 10},
    lambda: float(_ct().gaussian.expected_log_det(COV2, 30, 10, estimator="mle")),
    _mc(
        lambda t: mean_se(np.log(np.linalg.det(t["covs"][:, 0]))),
        _one_component([0.0, 0.0], COV2),
        30,
        10,
    ),
    quick=R_GMM,
)

# --------------------------------------------------------------------------------------------
# two well-separated components: the weights are a Wright–Fisher chain (§1.2, §1.3)

_register(
    "separated_weight_martingale",
    "§1.2",
    "two components 100 sd apart: E w_n = w_0 (Wright-Fisher martingale) vs recursive EM",
    {"K": 2, "w0": 0.3, "means": "-50, 50", "var": 1.0, "M": 100, "n": 5},
    lambda: 0.3,
    _mc(lambda t: mean_se(t["weights"][:, 0]), SEPARATED, 100, 5),
    quick=R_GMM,
)

_register(
    "separated_weight_variance",
    "§1.3",
    "two components 100 sd apart: Var w_n = w0 (1-w0)(1-(1-1/M)^n) vs recursive EM",
    {"K": 2, "w0": 0.3, "means": "-50, 50", "var": 1.0, "M": 100, "n": 5},
    lambda: 0.3 * 0.7 * (1.0 - (1.0 - 1.0 / 100) ** 5),
    _mc(lambda t: variance_se(t["weights"][:, 0]), SEPARATED, 100, 5),
    quick=R_GMM,
)

# --------------------------------------------------------------------------------------------
# the closed-form L2 distance (§4) against numerical integration

_L2_A = {"weights": [0.4, 0.6], "means": [[-1.0], [1.5]], "covs": [[[0.5]], [[1.2]]]}
_L2_B = {"weights": [0.7, 0.3], "means": [[0.0], [2.0]], "covs": [[[1.0]], [[0.3]]]}
_L2_A2 = {
    "weights": [0.5, 0.5],
    "means": [[-1.0, 0.0], [1.0, 0.5]],
    "covs": [[[1.0, 0.3], [0.3, 0.5]], [[0.6, 0.0], [0.0, 0.6]]],
}
_L2_B2 = {"weights": [1.0], "means": [[0.0, 0.0]], "covs": [np.eye(2).tolist()]}


def _l2_closed_form(a: Mapping[str, object], b: Mapping[str, object]) -> Callable[[], float]:
    def value() -> float:
        ct = _ct()
        return float(ct.metrics.l2_gmm(ct.gmm.Mixture(**a), ct.gmm.Mixture(**b), squared=True))

    return value


def _l2_quadrature(a: Mapping[str, object], b: Mapping[str, object]) -> Estimate:
    """∫ (f - g)² by adaptive cubature over a box holding all but ~1e-20 of both masses."""

    def estimate(ss: np.random.SeedSequence, quick: bool) -> tuple[float, float]:
        ct = _ct()
        f, g = ct.gmm.Mixture(**a), ct.gmm.Mixture(**b)
        dim = f.means.shape[1]

        def squared_difference(points: np.ndarray) -> np.ndarray:
            return (f.pdf(points) - g.pdf(points)) ** 2

        result = integrate.cubature(
            squared_difference, [-12.0] * dim, [14.0] * dim, rtol=1e-11, atol=1e-13
        )
        if result.status != "converged":
            raise RuntimeError(f"cubature did not converge: error estimate {result.error:.3g}")
        return float(result.estimate), 0.0

    return estimate


for _name, _a, _b in (("l2_closed_form_1d", _L2_A, _L2_B), ("l2_closed_form_2d", _L2_A2, _L2_B2)):
    _register(
        _name,
        "§4",
        "closed-form squared L2 distance between two mixtures vs adaptive cubature",
        {"a": _a, "b": _b},
        _l2_closed_form(_a, _b),
        _l2_quadrature(_a, _b),
        kind="exact",
        tolerance=1e-11,  # cubature: rtol 1e-11 of a value ~0.02, atol 1e-13
    )
