r"""The exact component-wise law of recursive EM for well-separated mixtures (docs/theory.md §4.3).

When the components of a mixture never overlap, every EM responsibility is 0 or 1: the fit of
generation :math:`t+1` gives component k the weight :math:`N_{k,t}/M` and the maximum-likelihood
Gaussian of the :math:`N_{k,t}` points drawn from it. The count is the lumped Wright–Fisher chain
of docs/theory.md §1.4, :math:`N_{k,t} \mid N_{k,t-1} \sim \mathrm{Bin}(M, N_{k,t-1}/M)`, and,
given the counts, the covariance follows the Gaussian MLE laws of §2.6, §2.3 and §3.3 with M
replaced by :math:`N_{k,t}`. Averaging over the counts is a Feynman–Kac product on that chain,
computed here by one forward pass over the count distribution (:func:`component_law`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import polygamma
from scipy.stats import binom

from collapse_theory._validate import (
    InputError,
    InputTypeError,
    check_allocation,
    check_generations,
    check_int,
    scalar_or_array,
)
from collapse_theory.categorical.theory import MAX_DENSE_SAMPLES, transition_matrix
from collapse_theory.gaussian.theory import _log_det_terms
from collapse_theory.gmm.em import min_samples
from collapse_theory.gmm.mixture import Mixture
from collapse_theory.schedules import Constant

__all__ = ["LAW_EM_SETTINGS", "MAX_WORK", "ComponentLaw", "component_law"]

#: The EM settings of ``gmm.simulate`` under which the law holds (docs/theory.md §4.3): warm
#: starts, no covariance floor. The degeneracy flag is off: its absolute floor (1e-10) also flags
#: the statistical collapse the law describes (a component refitted on a few points for n ~ M
#: generations), and it does not change the simulation.
LAW_EM_SETTINGS: dict[str, Any] = {
    "init": "warm",
    "reg_covar": 0.0,
    "tol": 1e-5,
    "max_iter": 2000,
    "degenerate_floor": 0.0,
    "degenerate_ratio": 0.0,
}

#: Refuse forward passes estimated to need more multiply-adds than this (a few seconds).
MAX_WORK = 1e10
#: Python overhead of one generation of the forward pass, in multiply-add equivalents.
_STEP_COST = 1e4


@dataclass(frozen=True)
class ComponentLaw:
    r"""The law of one component of a well-separated mixture under recursive EM (§4.3).

    Every field but ``survival``, ``log_survival`` and ``others_lost_bound`` is conditional on
    the survival event S: the component's count :math:`N_{k,t}` stays above d at every fit
    :math:`t < n` (for two components, both counts do). Leading axes: ``generations.shape`` (a
    scalar generation gives ``numpy.float64`` scalars).

    Attributes
    ----------
    generations : ndarray of int
        The generations n asked for.
    component : int
        k, the index of the component in ``mixture0``.
    num_samples : int
        M.
    survival : ndarray
        :math:`P(S)`: the component (for K = 2: each component) has more than d points at every
        fit t < n, i.e. is not lost by generation n.
    log_survival : ndarray
        :math:`\ln P(S)`, finite where ``survival`` underflows to 0.
    weight : ndarray
        :math:`E[w_{k,n} \mid S]`, with :math:`w_{k,n} = N_{k,n-1}/M`.
    covariance : ndarray, shape (..., d, d)
        :math:`E[C_{k,n} \mid S] = C_{k,0}\,E[\prod_{t<n} (N_{k,t}-1)/N_{k,t} \mid S]`.
    log_variance : ndarray, shape (..., d)
        :math:`E[\ln (C_{k,n})_{jj} \mid S]` per coordinate j.
    log_variance_var : ndarray
        :math:`\operatorname{Var}[\ln (C_{k,n})_{jj} \mid S]` (the same for every j).
    log_det : ndarray
        :math:`E[\ln\det C_{k,n} \mid S]`.
    log_det_var : ndarray
        :math:`\operatorname{Var}[\ln\det C_{k,n} \mid S]`.
    det : ndarray
        :math:`E[\det C_{k,n} \mid S]`.
    others_lost_bound : ndarray
        With three or more components: an upper bound on :math:`P(\text{another component is
        lost by } n \mid S)`, :math:`\min(1, \sum_{j\ne k} P(N_j \text{ falls to} \le d)/P(S))`,
        by the same chain for each other component. The law is that of component k on S; on the
        paths where another component is lost, EM hands that component's few points to a
        neighbour, and the law no longer describes the neighbour. 0 for one and two components
        (for two, S already requires both to survive).
    """

    generations: np.ndarray
    component: int
    num_samples: int
    survival: np.ndarray
    log_survival: np.ndarray
    weight: np.ndarray
    covariance: np.ndarray
    log_variance: np.ndarray
    log_variance_var: np.ndarray
    log_det: np.ndarray
    log_det_var: np.ndarray
    det: np.ndarray
    others_lost_bound: np.ndarray

    @property
    def variance(self) -> np.ndarray:
        r""":math:`E[(C_{k,n})_{jj} \mid S]`, the per-coordinate variance, shape (..., d)."""
        return np.diagonal(self.covariance, axis1=-2, axis2=-1)


# Columns of the forward pass (vectors over the alive counts; see _step_factors).
_S, _Y_VAR, _Y_DET, _A_LV, _B_LV, _C_LV, _A_LD, _B_LD, _C_LD = range(9)
_NUM_COLUMNS = 9


@dataclass(frozen=True)
class _StepFactors:
    """Per-count factors of one fit on ``count`` points (d dimensions), docs/theory.md §2.6/§3.3.

    ``f_var`` = E[C_{t+1} | C_t]/C_t = (N-1)/N; ``f_det`` = prod_j (N-j)/N (E det ratio);
    ``g_lv``, ``h_lv``: mean and variance of ln(chi^2_{N-1}/N) (one diagonal entry);
    ``g_ld``, ``h_ld``: mean and variance of the log-determinant ratio.
    """

    f_var: np.ndarray
    f_det: np.ndarray
    g_lv: np.ndarray
    h_lv: np.ndarray
    g_ld: np.ndarray
    h_ld: np.ndarray


def _step_factors(count: np.ndarray, dim: int) -> _StepFactors:
    n = count.astype(np.float64)
    f_det = np.ones_like(n)
    h_ld = np.zeros_like(n)
    for j in range(1, dim + 1):
        f_det *= (n - j) / n
        h_ld += polygamma(1, 0.5 * (n - j))
    return _StepFactors(
        f_var=(n - 1.0) / n,
        f_det=f_det,
        g_lv=_log_det_terms(n, 1, "mle"),
        h_lv=polygamma(1, 0.5 * (n - 1.0)),
        g_ld=_log_det_terms(n, dim, "mle"),
        h_ld=h_ld,
    )


def _check_inputs(
    mixture0: object, num_samples: object, component: object
) -> tuple[Mixture, int, int, int]:
    """(mixture0, M, k, number of components of positive weight), validated."""
    if not isinstance(mixture0, Mixture):
        raise InputTypeError(
            "mixture0 must be a collapse_theory.gmm.Mixture(weights, means, covs); got "
            f"{type(mixture0).__name__}"
        )
    if isinstance(num_samples, Constant):
        num_samples = num_samples.m
    m = check_int("num_samples (a constant sample size M)", num_samples)
    k = check_int("component", component, minimum=0, maximum=mixture0.num_components - 1)
    if mixture0.weights[k] <= 0.0:
        raise InputError(
            f"component {k} has weight 0 in mixture0 (lost from the start): it has no law; "
            "choose a component of positive weight"
        )
    try:
        np.linalg.cholesky(mixture0.covs[k])
    except np.linalg.LinAlgError:
        raise InputError(
            f"mixture0.covs[{k}] must be positive definite (ln det C_k,0 is finite)"
        ) from None
    active = int(np.count_nonzero(mixture0.weights > 0.0))
    needed = min_samples(active, mixture0.dim)
    if m < needed:
        raise InputError(
            f"num_samples must be >= K (d + 1) = {needed} for {active} components of positive "
            f"weight in {mixture0.dim} dimensions; got {m}"
        )
    if m > MAX_DENSE_SAMPLES:
        raise InputError(
            f"num_samples must be <= {MAX_DENSE_SAMPLES} (the dense (M+1) x (M+1) Wright–Fisher "
            f"matrix of docs/theory.md §1.4); got {m}"
        )
    return mixture0, m, k, active


def _work(m: int, n_max: int, columns: int) -> float:
    return n_max * ((m + 1.0) ** 2 * columns + _STEP_COST)


def _bytes(m: int, num_generations: int, dim: int, columns: int) -> float:
    """Memory of the pass: the dense matrix and its restriction, three column blocks, and the
    outputs with their temporaries (about three copies of (d^2 + d + 10) values a generation)."""
    return 8.0 * (2.0 * (m + 1) ** 2 + 3.0 * (m + 1) * columns) + 24.0 * num_generations * (
        dim * dim + dim + 10
    )


def component_law(
    mixture0: Mixture, num_samples: int, generations: ArrayLike, *, component: int = 0
) -> ComponentLaw:
    r"""Exact law of component k of a well-separated mixture under recursive EM
    (docs/theory.md §4.3).

    Model i+1 is the mixture fitted by EM (warm-started, no covariance floor) to M draws of model
    i, as in :func:`~collapse_theory.gmm.simulate` with ``init="warm"`` and ``reg_covar=0``.
    For infinitely separated components every responsibility is 0 or 1, so the component counts
    are :math:`N_{k,t} \sim \mathrm{Bin}(M, w_{k,t})` with :math:`w_{k,t+1} = N_{k,t}/M`: the
    lumped Wright–Fisher chain of §1.4 with matrix P, started from
    :math:`\pi_0 = \mathrm{Bin}(M, w_{k,0})`. Given the counts, :math:`C_{k,t+1}` is the
    maximum-likelihood covariance of :math:`N_{k,t}` Gaussian points (§2.6, §3.3):

    .. math::

        E[C_{k,n} \mid \text{counts}] = C_{k,0} \prod_{t<n} \frac{N_{k,t}-1}{N_{k,t}},\qquad
        E[\ln (C_{k,n})_{jj} \mid \text{counts}] = \ln (C_{k,0})_{jj}
            + \sum_{t<n} \Big[\psi\Big(\frac{N_{k,t}-1}{2}\Big) + \ln\frac{2}{N_{k,t}}\Big],

    .. math::

        E[\ln\det C_{k,n} \mid \text{counts}] = \ln\det C_{k,0} + \sum_{t<n}\sum_{j=1}^{d}
            \Big[\psi\Big(\frac{N_{k,t}-j}{2}\Big) + \ln\frac{2}{N_{k,t}}\Big],\qquad
        E[\det C_{k,n} \mid \text{counts}] = \det C_{k,0}\prod_{t<n}\prod_{j=1}^{d}
            \frac{N_{k,t}-j}{N_{k,t}},

    with conditional variances :math:`\sum_t \psi'((N_{k,t}-1)/2)` and
    :math:`\sum_t\sum_j \psi'((N_{k,t}-j)/2)` (the diagonal entry of a Wishart matrix is a
    scaled :math:`\chi^2_{N-1}`, so each coordinate follows the one-dimensional law). A component
    with :math:`N_{k,t} \le d` points cannot be refitted: EM loses it (weight 0), which kills
    the path. Averaging over the counts on the survival event S is the Feynman–Kac product

    .. math::

        E\big[\textstyle\prod_{t<n} f(N_{k,t});\,S\big]
        = \mathbf 1^{\top}\big(D_f P_A^{\top}\big)^{n-1} D_f\,\pi_{0,A},
        \qquad D_f = \operatorname{diag} f,

    on the alive counts A (:math:`d < j`; for two components also :math:`M - j > d`, the other
    component's count), and additive functionals :math:`\sum_t g(N_{k,t})` and their squares
    are carried along the same pass. Every moment is returned conditional on S, and
    :math:`P(S)` with it.

    Exact for infinitely separated components (responsibilities exactly 0 or 1, as in floating
    point at about 40 or more component standard deviations); docs/theory.md §4.3 maps the
    separation from which it holds within Monte Carlo error.

    Parameters
    ----------
    mixture0 : Mixture
        Model 0 (weights, means and covariances; the means only matter for the separation).
    num_samples : int
        M, constant, with :math:`K(d+1) \le M \le 5000` (K: the components of positive weight).
    generations : int or array_like of int
        n >= 0.
    component : int, default 0
        k, a component of positive weight with a positive definite covariance.

    Returns
    -------
    ComponentLaw
        Survival probability and the conditional moments at every generation asked for.

    Raises
    ------
    InputError, InputTypeError
        mixture0 not a Mixture; M not an int, below K(d+1) or above 5000; component out of
        range, of weight 0 or with a singular covariance; generations negative or not
        integers; a pass estimated above :data:`MAX_WORK` multiply-adds or above the memory
        limit (``_validate.check_allocation``), both checked before anything is allocated.

    Notes
    -----
    Cost: :math:`n_{\max}(M+1)^2(9 + K)` multiply-adds (dense products on the alive counts),
    e.g. about 1 s for M = 500 and n = 1000 on one core. The pass renormalises by the survival
    mass at every generation, so the conditional moments stay exact when :math:`P(S)`
    underflows.

    Examples
    --------
    >>> import numpy as np
    >>> import collapse_theory as ct
    >>> mix = ct.gmm.Mixture([0.3, 0.7], [[-50.0], [50.0]], [[[1.0]], [[1.0]]])
    >>> from collapse_theory.gmm.theory import component_law
    >>> law = component_law(mix, 100, [0, 1, 20])
    >>> law.survival.round(4).tolist()  # P(both components keep more than d = 1 point)
    [1.0, 1.0, 0.9416]
    >>> law.variance[:, 0].round(4).tolist()  # E[sigma^2_{0,n} | S]
    [1.0, 0.9658, 0.457]
    """
    mixture0, m, k, active = _check_inputs(mixture0, num_samples, component)
    gens = check_generations("generations", generations)
    dim = mixture0.dim
    others = [j for j in range(mixture0.num_components) if j != k and mixture0.weights[j] > 0]
    extra = len(others) if active >= 3 else 0
    n_max = int(gens.max()) if gens.size else 0
    work = _work(m, n_max, _NUM_COLUMNS + extra)
    if work > MAX_WORK:
        raise InputError(
            f"component_law(num_samples={m}, generations up to {n_max}) would need about "
            f"{work:.2g} multiply-adds (limit {MAX_WORK:.0g}): ask for fewer generations or a "
            "smaller num_samples"
        )
    check_allocation(
        f"component_law(num_samples={m}, {gens.size} generations, d={dim})",
        _bytes(m, gens.size, dim, _NUM_COLUMNS + extra),
        advice="ask for fewer generations at once",
    )
    wanted = np.unique(gens)
    moments = _forward_pass(mixture0.weights, k, others if extra else [], m, dim, active, wanted)
    index = np.searchsorted(wanted, gens)
    cov0 = mixture0.covs[k]
    _sign, logdet0 = np.linalg.slogdet(cov0)
    log_survival = moments["log_survival"][index]
    fields = {
        "survival": np.exp(log_survival),
        "log_survival": log_survival,
        "weight": moments["weight"][index],
        "covariance": moments["var_ratio"][index][..., None, None] * cov0,
        "log_variance": np.log(np.diagonal(cov0)) + moments["log_var"][index][..., None],
        "log_variance_var": moments["log_var_var"][index],
        "log_det": logdet0 + moments["log_det"][index],
        "log_det_var": moments["log_det_var"][index],
        "det": np.exp(logdet0) * moments["det_ratio"][index],
        "others_lost_bound": moments["others_lost_bound"][index],
    }
    return ComponentLaw(
        generations=gens,
        component=k,
        num_samples=m,
        **{name: scalar_or_array(value) for name, value in fields.items()},
    )


def _alive_counts(m: int, dim: int, active: int) -> np.ndarray:
    """The counts j on which the component can be refitted and the path goes on: j > d, and
    for two components also M - j > d (the other component's count)."""
    counts = np.arange(m + 1)
    alive = counts > dim
    if active == 2:
        alive &= m - counts > dim
    return counts[alive]


def _forward_pass(
    weights: np.ndarray,
    k: int,
    others: list[int],
    m: int,
    dim: int,
    active: int,
    wanted: np.ndarray,
) -> dict[str, np.ndarray]:
    """Conditional moments at the sorted generations ``wanted`` (dimensionless ratios).

    Columns of X (vectors over the alive counts, after fit t): survival mass s; multiplicative
    functionals y = E[prod f; N_t = j, S]; additive a = E[sum g; ...], b = E[(sum g)^2; ...]
    and c = E[sum h; ...] (h the conditional variance). One fit maps the pushed-forward columns
    Z = P_A^T X as s' = Z_s, y' = f Z_y, a' = Z_a + g s', b' = Z_b + 2 g Z_a + g^2 s',
    c' = Z_c + h s'. Before the first fit Z_s = Z_y = pi_0 and Z_a = Z_b = Z_c = 0. X is divided
    by its survival mass after every fit (the log of the divisors is ln P(S)); the columns of
    the other components (survival only, their own pi_0) are divided by the same numbers.
    """
    counts = _alive_counts(m, dim, active)
    factors = _step_factors(counts, dim)
    num = _NUM_COLUMNS + len(others)
    out = {
        name: np.empty(wanted.size)
        for name in (
            "log_survival",
            "weight",
            "var_ratio",
            "log_var",
            "log_var_var",
            "log_det",
            "log_det_var",
            "det_ratio",
            "others_lost_bound",
        )
    }
    at_zero = {"log_survival": 0.0, "weight": weights[k], "var_ratio": 1.0, "det_ratio": 1.0}
    slot = 0
    while slot < wanted.size and wanted[slot] == 0:  # generation 0: model 0 itself
        for name, values in out.items():
            values[slot] = at_zero.get(name, 0.0)
        slot += 1
    if slot == wanted.size:
        return out
    transition = transition_matrix(m)[np.ix_(counts, counts)]
    z = np.zeros((counts.size, num))
    pi0 = binom.pmf(counts, m, weights[k])
    z[:, _S] = z[:, _Y_VAR] = z[:, _Y_DET] = pi0
    for column, j in enumerate(others, start=_NUM_COLUMNS):
        z[:, column] = binom.pmf(counts, m, weights[j])
    log_survival = 0.0
    x = np.empty_like(z)
    n_max = int(wanted[-1])
    for fit in range(n_max):
        _one_fit(z, x, factors)
        mass = float(x[:, _S].sum())
        if not mass > 0.0:  # nothing survives: every later conditional moment is undefined
            for name in out:
                out[name][slot:] = np.nan
            out["log_survival"][slot:] = -np.inf
            return out
        x /= mass
        log_survival += math.log(mass)
        generation = fit + 1
        while slot < wanted.size and wanted[slot] == generation:
            _record(out, slot, x, counts, m, log_survival, len(others))
            slot += 1
        if generation < n_max:
            z = transition.T @ x
    return out


def _one_fit(z: np.ndarray, x: np.ndarray, factors: _StepFactors) -> None:
    """X = the columns after one fit, from the pushed-forward columns Z (see _forward_pass)."""
    s = z[:, _S]
    x[:, _S] = s
    x[:, _Y_VAR] = factors.f_var * z[:, _Y_VAR]
    x[:, _Y_DET] = factors.f_det * z[:, _Y_DET]
    for a, b, c, g, h in (
        (_A_LV, _B_LV, _C_LV, factors.g_lv, factors.h_lv),
        (_A_LD, _B_LD, _C_LD, factors.g_ld, factors.h_ld),
    ):
        x[:, a] = z[:, a] + g * s
        x[:, b] = z[:, b] + 2.0 * g * z[:, a] + g * g * s
        x[:, c] = z[:, c] + h * s
    x[:, _NUM_COLUMNS:] = z[:, _NUM_COLUMNS:]


def _record(
    out: dict[str, np.ndarray],
    slot: int,
    x: np.ndarray,
    counts: np.ndarray,
    m: int,
    log_survival: float,
    num_others: int,
) -> None:
    """Write the conditional moments of X (already divided by its survival mass) at ``slot``."""
    sums = x.sum(axis=0)
    out["log_survival"][slot] = log_survival
    out["weight"][slot] = float(x[:, _S] @ counts) / m
    out["var_ratio"][slot] = sums[_Y_VAR]
    out["det_ratio"][slot] = sums[_Y_DET]
    out["log_var"][slot] = sums[_A_LV]
    out["log_var_var"][slot] = max(sums[_C_LV] + sums[_B_LV] - sums[_A_LV] ** 2, 0.0)
    out["log_det"][slot] = sums[_A_LD]
    out["log_det_var"][slot] = max(sums[_C_LD] + sums[_B_LD] - sums[_A_LD] ** 2, 0.0)
    bound = 0.0
    if num_others:
        # Column j holds (survival mass of j) / P(S), so P(j lost) / P(S) = 1 / P(S) - column.
        inv_survival = math.exp(-log_survival) if log_survival > -700.0 else math.inf
        lost = np.maximum(inv_survival - sums[_NUM_COLUMNS:], 0.0)
        bound = min(1.0, float(lost.sum()))
    out["others_lost_bound"][slot] = bound
