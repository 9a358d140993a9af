"""The exact component-wise law of well-separated mixtures (docs/theory.md §4.3).

- Against brute force: every path of component counts enumerated on the composition chain
  (tiny M and n), with the maximum-likelihood factors written out from scipy's digamma; and the
  one-component case against the single-Gaussian closed forms (§2.3, §2.6, §3.3).
- Against Monte Carlo of ``ct.gmm.simulate`` (warm starts, no covariance floor, components 100
  standard deviations apart): z-tests with |z| < Z_CRIT = 4.0 at fixed seeds (two-sided false
  alarm 6.3e-5 each; 9 such tests here).
- Input validation and a hypothesis fuzz of the invariants of :func:`component_law`.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy.special import digamma, polygamma
from scipy.stats import multinomial

import collapse_theory as ct
from collapse_theory._stats import mean_se, proportion_se, two_sample_z, variance_se, z_threshold
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.gmm import Mixture
from collapse_theory.gmm.theory import ComponentLaw, component_law

#: The 8 Monte Carlo z-scores below, at family-wise false-alarm rate 1e-3 (docs/theory.md §6).
Z_CRIT = z_threshold(1e-3, 8)
#: Exact-vs-exact comparisons: sums of a few thousand rounded terms.
RTOL = 1e-10


def separated(weights, dim: int = 1, separation: float = 100.0, covs=None) -> Mixture:
    """Components on the first axis, ``separation`` apart, unit covariances unless given."""
    k = len(weights)
    means = np.zeros((k, dim))
    means[:, 0] = separation * (np.arange(k) - (k - 1) / 2)
    return Mixture(weights, means, np.stack([np.eye(dim)] * k) if covs is None else covs)


# ------------------------------------------------------------------------------------------------
# 1. brute force: enumerate the count paths


def enumerated_law(weights, m: int, n: int, dim: int, k: int) -> dict[str, float]:
    """Conditional moments of component k at generation n >= 1 by summing over every path
    (c_0, ..., c_{n-1}) of compositions: P(path) = Mult(c_0; M, w) prod_t P[c_{t-1}, c_t]."""
    weights = np.asarray(weights, dtype=float)
    comps, matrix = ct.categorical.composition_chain(weights.size, m)
    start = multinomial.pmf(comps, m, weights)
    paths = np.array(list(itertools.product(range(len(comps)), repeat=n)))
    prob = start[paths[:, 0]]
    for t in range(1, n):
        prob = prob * matrix[paths[:, t - 1], paths[:, t]]
    counts = comps[paths]  # (paths, n, K)
    positive = weights > 0
    alive_k = np.all(counts[:, :, k] > dim, axis=1)
    alive_all = np.all(counts[:, :, positive] > dim, axis=(1, 2))
    event = alive_all if positive.sum() <= 2 else alive_k
    own = counts[:, :, k].astype(float)
    fit = np.maximum(own, dim + 1.0)  # paths off the event never count: keep their terms finite
    j = np.arange(1, dim + 1)[None, None, :]
    g_lv = digamma((fit - 1) / 2) + np.log(2 / fit)
    h_lv = polygamma(1, (fit - 1) / 2)
    g_ld = np.sum(digamma((fit[..., None] - j) / 2), axis=-1) + dim * np.log(2 / fit)
    h_ld = np.sum(polygamma(1, (fit[..., None] - j) / 2), axis=-1)
    f_var = (fit - 1) / fit
    f_det = np.prod((fit[..., None] - j) / fit[..., None], axis=-1)
    p = prob[event]
    survival = p.sum()

    def mean(values: np.ndarray) -> float:
        return float(p @ values[event] / survival)

    lv, ld = g_lv.sum(axis=1), g_ld.sum(axis=1)
    return {
        "survival": float(survival),
        "weight": mean(own[:, -1] / m),
        "var_ratio": mean(f_var.prod(axis=1)),
        "det_ratio": mean(f_det.prod(axis=1)),
        "log_var": mean(lv),
        "log_var_var": mean(h_lv.sum(axis=1)) + mean(lv**2) - mean(lv) ** 2,
        "log_det": mean(ld),
        "log_det_var": mean(h_ld.sum(axis=1)) + mean(ld**2) - mean(ld) ** 2,
        "others_lost": float(prob[alive_k & ~alive_all].sum() / survival),
    }


def law_values(law: ComponentLaw, mixture: Mixture, index: int) -> dict[str, float]:
    """The law's moments at ``law.generations[index]`` as dimensionless ratios."""
    cov0 = mixture.covs[law.component]
    return {
        "survival": float(law.survival[index]),
        "weight": float(law.weight[index]),
        "var_ratio": float(law.covariance[index, 0, 0] / cov0[0, 0]),
        "det_ratio": float(law.det[index] / np.linalg.det(cov0)),
        "log_var": float(law.log_variance[index, 0] - np.log(cov0[0, 0])),
        "log_var_var": float(law.log_variance_var[index]),
        "log_det": float(law.log_det[index] - np.linalg.slogdet(cov0)[1]),
        "log_det_var": float(law.log_det_var[index]),
    }


@pytest.mark.parametrize(
    "weights,m,dim,k",
    [
        ([0.35, 0.65], 7, 1, 0),
        ([0.35, 0.65], 7, 1, 1),
        ([0.5, 0.5], 9, 2, 0),
        ([0.25, 0.3, 0.45], 7, 1, 0),
        ([0.4, 0.35, 0.25], 9, 2, 2),
    ],
)
def test_law_equals_enumeration_of_count_paths(weights, m, dim, k):
    """Survival, weight and every moment equal the sum over all count paths (n = 1..3)."""
    cov = np.array([[1.5, 0.4], [0.4, 0.8]])[:dim, :dim]
    mixture = separated(weights, dim, covs=np.stack([cov] * len(weights)))
    law = component_law(mixture, m, [1, 2, 3], component=k)
    for index, n in enumerate(law.generations):
        expected = enumerated_law(weights, m, int(n), dim, k)
        others_lost = expected.pop("others_lost")
        got = law_values(law, mixture, index)
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, rel=RTOL, abs=1e-14), (n, name)
        if len(weights) == 2:  # S is both counts above d: nothing left to bound
            assert law.others_lost_bound[index] == 0.0
        else:
            assert law.others_lost_bound[index] >= others_lost - 1e-14


def test_one_component_is_the_single_gaussian_mle_law():
    """K = 1: the count is always M, so the law is §2.6, §2.3 and §3.3 with the MLE."""
    cov0 = np.array([[2.0, 0.5], [0.5, 1.0]])
    gens = [0, 1, 7, 30]
    law = component_law(Mixture([1.0], [[0.0, 0.0]], [cov0]), 12, gens)
    g = ct.gaussian
    np.testing.assert_allclose(law.survival, 1.0, rtol=0, atol=0)
    np.testing.assert_allclose(law.weight, 1.0, rtol=RTOL)
    np.testing.assert_allclose(
        law.covariance,
        g.expected_variance(12, gens, estimator="mle")[:, None, None] * cov0,
        rtol=RTOL,
    )
    kappa = g.log_variance_cumulants(12, gens, 2, estimator="mle")
    np.testing.assert_allclose(
        law.log_variance, np.log(np.diag(cov0)) + kappa[0][:, None], rtol=RTOL
    )
    np.testing.assert_allclose(law.log_variance_var, kappa[1], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(
        law.log_det, g.expected_log_det(cov0, 12, gens, estimator="mle"), rtol=RTOL
    )
    np.testing.assert_allclose(
        law.log_det_var, g.variance_log_det(cov0, 12, gens), rtol=RTOL, atol=1e-12
    )
    np.testing.assert_allclose(law.det, g.expected_det(cov0, 12, gens, estimator="mle"), rtol=RTOL)


def test_two_components_share_one_survival_event():
    """K = 2: S = both counts above d, so both components have the same P(S), and their
    conditional weights add to 1."""
    mixture = separated([0.3, 0.7])
    first = component_law(mixture, 40, [5, 40, 80], component=0)
    second = component_law(mixture, 40, [5, 40, 80], component=1)
    np.testing.assert_allclose(first.survival, second.survival, rtol=1e-12)
    np.testing.assert_allclose(first.weight + second.weight, 1.0, rtol=1e-12)


def test_a_component_of_weight_zero_plays_no_part():
    """A lost component at generation 0 is ignored: three components, one of weight 0, is the
    two-component law."""
    three = Mixture([0.4, 0.0, 0.6], [[0.0], [50.0], [100.0]], [[[1.0]], [[1.0]], [[1.0]]])
    two = Mixture([0.4, 0.6], [[0.0], [100.0]], [[[1.0]], [[1.0]]])
    a, b = component_law(three, 30, [3, 30]), component_law(two, 30, [3, 30])
    for name in ("survival", "weight", "covariance", "log_variance", "log_det_var"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_underflowing_survival_keeps_the_conditional_moments():
    """Far beyond the absorption time P(S) underflows; ln P(S) and the conditional moments stay
    finite (the pass renormalises every generation)."""
    law = component_law(separated([0.5, 0.5]), 20, [20_000])
    assert law.survival[0] == 0.0 and -1e5 < law.log_survival[0] < -746
    assert np.all(np.isfinite(law.log_variance)) and 0.0 < law.weight[0] < 1.0


# ------------------------------------------------------------------------------------------------
# 2. against Monte Carlo of recursive EM


def simulated(mixture: Mixture, m: int, n: int, reps: int, seed: int) -> dict[str, np.ndarray]:
    """Generation n of recursive EM as the theory assumes it: warm starts, no covariance floor."""
    run = ct.gmm.simulate(
        mixture,
        m,
        n,
        num_replicates=reps,
        init="warm",
        reg_covar=0.0,
        tol=1e-5,
        max_iter=2000,
        record="last",
        seed=seed,
        degenerate_floor=0.0,  # the flag's floor also catches the law's own collapse
        degenerate_ratio=0.0,
    )
    return {name: values[-1] for name, values in run.trajectories.items()}


def z_score(estimate: tuple[float, float], truth: float) -> float:
    return two_sample_z(*estimate, truth, 0.0)


def test_two_components_at_twice_m_generations_agree_with_monte_carlo():
    """K = 2, M = 30, n = 2M = 60: P(S), E[ln sigma^2 | S], Var[ln sigma^2 | S] and E[w | S]."""
    mixture = separated([0.4, 0.6])
    law = component_law(mixture, 30, 60)
    last = simulated(mixture, 30, 60, 3000, seed=11)
    alive = ~last["lost"].any(axis=-1)
    log_var = np.log(last["covs"][alive, 0, 0, 0])
    zs = {
        "survival": z_score(proportion_se(alive), law.survival[()]),
        "log variance": z_score(mean_se(log_var), law.log_variance[()][0]),
        "variance of log variance": z_score(variance_se(log_var), law.log_variance_var[()]),
        "weight": z_score(mean_se(last["weights"][alive, 0]), law.weight[()]),
    }
    assert all(abs(z) < Z_CRIT for z in zs.values()), zs


def test_two_components_variance_agrees_with_monte_carlo():
    """E[sigma^2 | S] itself, at n below the component's count (the mean is not heavy-tailed)."""
    mixture = separated([0.3, 0.7], covs=[[[2.0]], [[1.0]]])
    law = component_law(mixture, 60, 15)
    last = simulated(mixture, 60, 15, 3000, seed=12)
    alive = ~last["lost"].any(axis=-1)
    z = z_score(mean_se(last["covs"][alive, 0, 0, 0]), law.variance[()][0])
    assert abs(z) < Z_CRIT, z


def test_three_components_in_two_dimensions_agree_with_monte_carlo():
    """K = 3, d = 2: E[ln det C | S], E[ln C_11 | S] and P(S) (the other components' loss is
    below others_lost_bound ~ 1e-4, far below the standard errors)."""
    cov = np.array([[1.0, 0.3], [0.3, 0.5]])
    mixture = separated([0.2, 0.4, 0.4], dim=2, covs=np.stack([cov] * 3))
    law = component_law(mixture, 120, 8)
    assert law.others_lost_bound[()] < 1e-3
    last = simulated(mixture, 120, 8, 2000, seed=13)
    alive = ~last["lost"].any(axis=-1)
    covs = last["covs"][alive, 0]
    zs = {
        "log det": z_score(mean_se(np.linalg.slogdet(covs)[1]), law.log_det[()]),
        "log variance": z_score(mean_se(np.log(covs[:, 0, 0])), law.log_variance[()][0]),
        "survival": z_score(proportion_se(~last["lost"][:, 0]), law.survival[()]),
    }
    assert all(abs(z) < Z_CRIT for z in zs.values()), zs


# ------------------------------------------------------------------------------------------------
# 3. input validation


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: component_law("mix", 10, 1), InputTypeError, "mixture0"),
        (lambda: component_law(separated([0.5, 0.5]), 10.0, 1), InputTypeError, "num_samples"),
        (lambda: component_law(separated([0.5, 0.5]), True, 1), InputTypeError, "num_samples"),
        (lambda: component_law(separated([0.5, 0.5]), 3, 1), InputError, "K \\(d \\+ 1\\) = 4"),
        (lambda: component_law(separated([0.5, 0.5]), 5001, 1), InputError, "<= 5000"),
        (lambda: component_law(separated([0.5, 0.5]), 10, 1, component=2), InputError, "<= 1"),
        (
            lambda: component_law(separated([0.5, 0.5]), 10, 1, component=0.0),
            InputTypeError,
            "component",
        ),
        (lambda: component_law(separated([0.5, 0.5]), 10, -1), InputError, "generations"),
        (lambda: component_law(separated([0.5, 0.5]), 10, 1.5), InputTypeError, "generations"),
        (lambda: component_law(separated([0.5, 0.5]), 5000, 10**6), InputError, "multiply-adds"),
    ],
)
def test_bad_input_is_refused_with_its_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_memory_is_checked_before_the_pass(monkeypatch):
    monkeypatch.setenv("COLLAPSE_THEORY_MEMORY_LIMIT_GIB", "0.001")  # 1 MiB
    with pytest.raises(InputError, match="num_samples=500"):
        component_law(separated([0.5, 0.5]), 500, 3)
    assert component_law(separated([0.5, 0.5]), 50, 3).survival > 0  # 50: about 45 KiB


def test_a_lost_or_singular_component_has_no_law():
    lost = Mixture([1.0, 0.0], [[0.0], [9.0]], [[[1.0]], [[1.0]]])
    with pytest.raises(InputError, match="weight 0"):
        component_law(lost, 10, 1, component=1)
    flat = Mixture([0.5, 0.5], [[0.0, 0.0], [9.0, 0.0]], [np.eye(2), [[1.0, 1.0], [1.0, 1.0]]])
    with pytest.raises(InputError, match="positive definite"):
        component_law(flat, 10, 1, component=1)


# ------------------------------------------------------------------------------------------------
# 4. fuzz: invariants of the law


@hs.composite
def law_inputs(draw):
    k = draw(hs.integers(1, 3))
    dim = draw(hs.integers(1, 2))
    raw = np.array(draw(hs.lists(hs.integers(1, 20), min_size=k, max_size=k)), dtype=float)
    m = draw(hs.integers(k * (dim + 1), 30))
    gens = draw(hs.lists(hs.integers(0, 40), min_size=1, max_size=4))
    component = draw(hs.integers(0, k - 1))
    return separated(raw / raw.sum(), dim), m, gens, component


@settings(max_examples=40, deadline=None)
@given(law_inputs())
def test_fuzz_law_invariants(inputs):
    mixture, m, gens, component = inputs
    law = component_law(mixture, m, gens, component=component)
    assert law.generations.tolist() == gens
    order = np.argsort(gens, kind="stable")
    survival = law.survival[order]
    assert np.all((survival >= 0) & (survival <= 1)) and np.all(np.diff(survival) <= 1e-15)
    finite = law.survival > 0
    cov0 = mixture.covs[component]
    ratio = law.covariance[finite, 0, 0] / cov0[0, 0]
    assert np.all((ratio > 0) & (ratio <= 1 + 1e-12))
    assert np.all((law.weight[finite] > 0) & (law.weight[finite] < 1 + 1e-12))
    assert np.all(law.log_variance_var >= 0) and np.all(law.log_det_var >= 0)
    assert np.all((law.others_lost_bound >= 0) & (law.others_lost_bound <= 1))
    # Jensen, with both sides conditional on the same event: E ln X <= ln E X
    assert np.all(law.log_variance[finite] <= np.log(law.variance[finite]) + 1e-12)
    assert np.all(law.log_det[finite] <= np.log(law.det[finite]) + 1e-12)
    # each generation alone gives bit-identical numbers
    alone = component_law(mixture, m, gens[-1], component=component)
    assert alone.log_variance[()].tolist() == law.log_variance[-1].tolist()


# ------------------------------------------------------------------------------------------------
# 5. the separation scan and its figure (the domain of validity, §4.3)


def test_validity_threshold_is_where_every_larger_separation_holds():
    from collapse_theory.gmm.separation import _threshold

    holds = [False, True, False, True, True]
    rows = [{"separation": s, "holds": h} for s, h in enumerate(holds, start=1)]
    assert _threshold(rows) == 4
    assert _threshold([{"separation": 9, "holds": False}]) is None


def test_separation_scan_rows_and_figure():
    """A tiny scan: one row per separation with law, MC, SE and z for each statistic; the law
    holds at 40 sd; the figure draws it with labelled, titled panels and legends."""
    from collapse_theory.gmm.figures import figure_gmm_separation
    from collapse_theory.gmm.separation import STATISTICS, separation_scan

    scan = separation_scan(separations=(40.0, 2.0), sizes=(20,), replicates=200, seed=3)
    assert [row["separation"] for row in scan.rows] == [2.0, 40.0]
    assert scan.z_star == pytest.approx(ct._stats.z_threshold(1e-3, 2 * len(STATISTICS)))
    law = component_law(separated([0.3, 0.7]), 20, 20)
    far = scan.rows[1]
    assert far["survival_law"] == pytest.approx(float(law.survival), rel=1e-12)
    for name in STATISTICS:
        z = (far[f"{name}_mc"] - far[f"{name}_law"]) / far[f"{name}_se"]
        assert far[f"{name}_z"] == pytest.approx(z)
    assert far["holds"] and scan.thresholds[20] in (2.0, 40.0)
    fig = figure_gmm_separation(scan=scan)
    axes = fig.get_axes()
    assert len(axes) == 3
    assert all(ax.get_xlabel() and ax.get_ylabel() and ax.get_title() for ax in axes)
    assert all(ax.get_legend() is not None for ax in axes)
    with pytest.raises(InputTypeError, match="scan"):
        figure_gmm_separation(scan=scan.rows)
