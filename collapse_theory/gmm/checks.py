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
- Components 100 standard deviations apart, component by component: the exact law of §4.3
  (:func:`collapse_theory.gmm.theory.component_law`, the Feynman–Kac pass over the lumped
  Wright–Fisher count chain, paths killed when a count falls to d or fewer points): the
  probability that no component is lost, and the conditional log-variance, variance and
  log-determinant of one component, for two components up to n = 2M and three components in
  two dimensions.

Every simulation states its EM settings: warm starts (a component keeps its identity and a lost
component stays lost, as in the theory; a k-means++ refit relabels the components and refits
lost ones) and ``reg_covar=0`` (a covariance floor c turns the recursion into
:math:`v_{n+1} = r v_n + c`, §4.2, which none of these laws describe), ``tol=1e-5``,
``max_iter=2000``. At 100 standard deviations EM converges in two or three iterations, so the
tolerance does not matter.

The closed-form L2 distance between mixtures (§4) is checked against numerical integration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, TypedDict

import numpy as np
from scipy import integrate

from collapse_theory._stats import mean_se, proportion_se, variance_se
from collapse_theory.gmm.theory import LAW_EM_SETTINGS
from collapse_theory.verify.registry import add_check

FAMILY = "gmm"
R_GMM = 10_000
_FULL = 20
Estimate = Callable[[np.random.SeedSequence, bool], tuple[float, float]]
#: The EM settings of every simulation here, passed explicitly: those the §4.3 law assumes (the
#: degeneracy flag off; at n = 2M, M = 50-200 it would flag 11-20 % of the surviving chains).
EM_SETTINGS = LAW_EM_SETTINGS

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
    num_replicates: int = R_GMM,
) -> Estimate:
    """Simulate recursive EM from ``mixture`` (``EM_SETTINGS``; ``num_replicates`` chains when
    quick, ``_FULL`` times more otherwise) and apply ``statistic`` to the last generation."""

    def estimate(ss: np.random.SeedSequence, quick: bool) -> tuple[float, float]:
        ct = _ct()
        run = ct.gmm.simulate(
            ct.gmm.Mixture(**mixture),
            num_samples,
            generations,
            num_replicates=num_replicates if quick else _FULL * num_replicates,
            record="last",
            seed=ss,
            **EM_SETTINGS,
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
# well-separated components, one by one: the exact law of §4.3 (Feynman–Kac on the count chain)

HALVES: MixtureSpec = {
    "weights": [0.5, 0.5],
    "means": [[-50.0], [50.0]],
    "covs": [[[1.0]], [[1.0]]],
}
COV_A = [[1.0, 0.3], [0.3, 0.5]]
THREE_2D: MixtureSpec = {
    "weights": [0.2, 0.4, 0.4],
    "means": [[-100.0, 0.0], [0.0, 0.0], [100.0, 0.0]],
    "covs": [COV_A, COV_A, COV_A],
}


def _law(mixture: Mapping[str, object], num_samples: int, generations: int) -> Any:
    """The §4.3 law of component 0 (a :class:`~collapse_theory.gmm.theory.ComponentLaw`)."""
    from collapse_theory.gmm.theory import component_law

    return component_law(_ct().gmm.Mixture(**mixture), num_samples, generations)


def _survivors(t: Mapping[str, np.ndarray]) -> np.ndarray:
    """Replicates in which no component is lost (the event S of §4.3)."""
    return ~t["lost"].any(axis=-1)


def _component0(t: Mapping[str, np.ndarray]) -> np.ndarray:
    """Covariances of component 0 in the replicates where no component is lost, (R_S, d, d)."""
    return t["covs"][_survivors(t), 0]


def _register_law(
    name: str,
    description: str,
    parameters: Mapping[str, object],
    theory: Callable[[], float],
    statistic: Callable[[dict[str, np.ndarray]], tuple[float, float]],
    mixture: Mapping[str, object],
    num_samples: int,
    generations: int,
    num_replicates: int,
) -> None:
    """A §4.3 check: ``statistic`` of generation n of ``num_replicates`` chains (quick) vs
    ``theory``."""
    estimate = _mc(statistic, mixture, num_samples, generations, num_replicates)
    _register(name, "§4.3", description, parameters, theory, estimate, quick=num_replicates)


_register_law(
    "separated_survival",
    "two components 100 sd apart, n = 2M: P(no component lost) = P(both counts stay > d) by the "
    "Feynman-Kac pass vs recursive EM",
    {"K": 2, "d": 1, "w0": [0.5, 0.5], "means": "-50, 50", "var": 1.0, "M": 50, "n": 100},
    lambda: float(_law(HALVES, 50, 100).survival),
    lambda t: proportion_se(_survivors(t)),
    HALVES,
    50,
    100,
    500,
)

_register_law(
    "separated_log_variance",
    "two components 100 sd apart, n = M: E[ln sigma^2 of component 0 | no component lost] "
    "(Feynman-Kac, MLE log factors) vs recursive EM",
    {"K": 2, "d": 1, "w0": [0.3, 0.7], "means": "-50, 50", "var": 1.0, "M": 50, "n": 50},
    lambda: float(_law(SEPARATED, 50, 50).log_variance[0]),
    lambda t: mean_se(np.log(_component0(t)[:, 0, 0])),
    SEPARATED,
    50,
    50,
    750,
)

_register_law(
    "separated_variance",
    "two components 100 sd apart: E[sigma^2 of component 0 | no component lost] = E[prod "
    "(N_t - 1)/N_t | S] vs recursive EM (n below the component's count: no heavy tail)",
    {"K": 2, "d": 1, "w0": [0.3, 0.7], "means": "-50, 50", "var": 1.0, "M": 100, "n": 20},
    lambda: float(_law(SEPARATED, 100, 20).variance[0]),
    lambda t: mean_se(_component0(t)[:, 0, 0]),
    SEPARATED,
    100,
    20,
    1000,
)

_register_law(
    "separated_log_det_three",
    "three components 100 sd apart in 2-D: E[ln det C of component 0 | not lost] (Feynman-Kac, "
    "the §3.3 factors with N_t points) vs recursive EM given no component lost (the other "
    "components' loss, bounded by others_lost_bound < 1e-4, moves it by < 3e-3)",
    {
        "K": 3,
        "d": 2,
        "w0": [0.2, 0.4, 0.4],
        "means": "(-100,0), (0,0), (100,0)",
        "cov": COV_A,
        "M": 120,
        "n": 8,
    },
    lambda: float(_law(THREE_2D, 120, 8).log_det),
    lambda t: mean_se(np.linalg.slogdet(_component0(t))[1]),
    THREE_2D,
    120,
    8,
    1000,
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
