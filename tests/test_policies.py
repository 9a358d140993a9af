"""Sampling policies (docs/theory.md §8): the maps, their tie and support rules, composition,
the Gaussian laws, the numba and jax maps against numpy, and the errors for bad policies.

No statistics here: every assertion is an identity, checked to rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from hypothesis.extra import numpy as hnp

import collapse_theory as ct
from collapse_theory.categorical import _numba as kernels
from collapse_theory.policies import (
    Compose,
    MinP,
    Temperature,
    TopK,
    TopP,
    Truncation,
    kernel_stages,
    truncated_normal_moments,
)
from tests import naive

P0 = np.array([0.5, 0.3, 0.15, 0.05])


def _naive_stages(policy):
    names = {Temperature: "temperature", TopK: "top_k", TopP: "top_p", MinP: "min_p"}
    stages = policy.stages if isinstance(policy, Compose) else (policy,)
    return [(names[type(s)], next(iter(vars(s).values()))) for s in stages]


# ---------------------------------------------------------------------------------------------
# check values of docs/theory.md §8


def test_skeleton_check_values():
    low = ct.categorical.skeleton(P0, 6, Temperature(0.8))
    high = ct.categorical.skeleton(P0, 6, Temperature(1.25))
    np.testing.assert_allclose(low, [0.808656, 0.170112, 0.020515, 0.000718], atol=5e-7)
    np.testing.assert_allclose(high, [0.334435, 0.282889, 0.225411, 0.157265], atol=5e-7)


def test_skeleton_temperature_closed_form_and_rows():
    """model n ∝ p0^(tau^-(n-1)); models 0 and 1 are p0; one row per requested generation."""
    rows = ct.categorical.skeleton(P0, [0, 1, 2, 9], Temperature(0.7))
    assert rows.shape == (4, 4)
    np.testing.assert_array_equal(rows[0], P0)
    np.testing.assert_array_equal(rows[1], P0)
    for n, row in zip((2, 9), rows[2:], strict=True):
        expected = P0 ** (0.7 ** -(n - 1))
        np.testing.assert_allclose(row, expected / expected.sum(), rtol=1e-12, atol=1e-300)


def test_heat_death_limits():
    """tau < 1: point mass on the mode; tau > 1: uniform on the support (§8.1)."""
    p0 = np.array([0.4, 0.3, 0.3, 0.0])
    cold = ct.categorical.skeleton([0.5, 0.3, 0.2], 200, Temperature(0.9))
    np.testing.assert_allclose(cold, [1.0, 0.0, 0.0], atol=1e-12)
    tied = ct.categorical.skeleton([0.4, 0.4, 0.2], 200, Temperature(0.9))
    np.testing.assert_allclose(tied, [0.5, 0.5, 0.0], atol=1e-12)
    hot = ct.categorical.skeleton(p0, 400, Temperature(1.1))
    np.testing.assert_allclose(hot, [1 / 3, 1 / 3, 1 / 3, 0.0], atol=1e-12)


def test_c2_check_value():
    second, fourth = truncated_normal_moments(2.0)
    assert round(second, 6) == 0.773741
    # E X^4 by quadrature of the truncated density
    from scipy import integrate
    from scipy.stats import norm

    mass = norm.cdf(2) - norm.cdf(-2)
    quad = integrate.quad(lambda x: x**4 * norm.pdf(x), -2, 2)[0] / mass
    assert math.isclose(fourth, quad, rel_tol=1e-10)
    assert truncated_normal_moments(math.inf) == (1.0, 3.0)


# ---------------------------------------------------------------------------------------------
# tie rules and examples


def test_tie_rules():
    flat = np.full(4, 0.25)
    np.testing.assert_array_equal(TopK(2)(flat), [0.5, 0.5, 0.0, 0.0])
    np.testing.assert_array_equal(TopP(0.5)(flat), [0.5, 0.5, 0.0, 0.0])
    np.testing.assert_array_equal(TopP(0.51)(flat), [1 / 3, 1 / 3, 1 / 3, 0.0])
    np.testing.assert_array_equal(MinP(1.0)(flat), flat)  # min-p keeps every tied state
    # ties broken by index even when they are not adjacent
    np.testing.assert_array_equal(TopK(1)([0.2, 0.4, 0.4]), [0.0, 1.0, 0.0])
    np.testing.assert_allclose(TopP(1.0)(P0), P0)  # p = 1 keeps the whole support


def test_composition_order_matters_and_matches_sequential_maps():
    policy = Temperature(3.0).then(TopP(0.9))
    assert policy == Compose(Temperature(3.0), TopP(0.9))
    np.testing.assert_allclose(policy(P0), TopP(0.9)(Temperature(3.0)(P0)), rtol=1e-15)
    # a hot temperature first spreads the mass: the nucleus then keeps all four states
    assert np.count_nonzero(policy(P0)) == 4
    assert np.count_nonzero(Temperature(3.0)(TopP(0.9)(P0))) == 3
    nested = Compose(policy, MinP(0.1))
    assert nested.stages == (Temperature(3.0), TopP(0.9), MinP(0.1))


def test_gaussian_laws():
    assert Temperature(0.5).gaussian_law() == (0.5, math.inf)
    assert Truncation(2.0).gaussian_law() == (1.0, 2.0)
    # tempering a truncated normal keeps the cut in x; truncating a tempered one cuts at k tau
    assert Truncation(2.0).then(Temperature(0.5)).gaussian_law() == (0.5, 4.0)
    assert Temperature(0.5).then(Truncation(2.0)).gaussian_law() == (0.5, 2.0)
    assert math.isclose(Truncation(2.0).variance_factor(), truncated_normal_moments(2.0)[0])
    assert Temperature(1.0).is_identity and not Temperature(0.9).is_identity


# ---------------------------------------------------------------------------------------------
# hypothesis: probability vectors in, probability vectors out, support rules


def _vectors():
    weights = hnp.arrays(
        np.float64,
        hs.integers(1, 12),
        elements=hs.one_of(hs.just(0.0), hs.floats(1e-6, 1.0), hs.sampled_from([0.25, 0.5])),
    )
    return weights.filter(lambda w: w.sum() > 0).map(lambda w: w / w.sum())


def _policies():
    single = hs.one_of(
        hs.floats(0.05, 20.0).map(Temperature),
        hs.integers(1, 15).map(TopK),
        hs.floats(0.01, 1.0).map(TopP),
        hs.floats(0.01, 1.0).map(MinP),
    )
    return hs.lists(single, min_size=1, max_size=3).map(lambda s: Compose(*s))


@settings(max_examples=120, deadline=None)
@given(_vectors(), _policies())
def test_maps_give_probability_vectors_on_the_support(p, policy):
    q = policy(p)
    assert q.shape == p.shape
    assert np.all(q >= 0) and math.isclose(q.sum(), 1.0, rel_tol=0, abs_tol=1e-12)
    assert np.all(q[p == 0] == 0)  # no mass is created
    assert np.count_nonzero(q) >= 1
    # the mode (first by the tie rule) always survives
    assert q[int(np.argmax(p))] > 0
    np.testing.assert_allclose(q, naive.policy_map(p, _naive_stages(policy)), atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(_vectors(), hs.integers(1, 15), hs.floats(0.01, 1.0), hs.floats(0.01, 1.0))
def test_support_rules(p, k, top_p, min_p):
    support = np.count_nonzero(p)
    assert np.count_nonzero(TopK(k)(p)) == min(k, support)
    nucleus = TopP(top_p)(p)
    kept = nucleus > 0
    assert p[kept].sum() >= top_p - 1e-12  # the kept mass reaches p ...
    smallest = p[kept].min()
    assert p[kept].sum() - smallest < top_p - 1e-12 or kept.sum() == 1  # ... and no fewer do
    minimal = MinP(min_p)(p)
    np.testing.assert_array_equal(minimal > 0, p >= min_p * p.max())
    # kept states keep their ratios (renormalisation only)
    for q in (TopK(k)(p), nucleus, minimal):
        mask = q > 0
        np.testing.assert_allclose(q[mask] / q[mask].sum(), p[mask] / p[mask].sum(), rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(_vectors(), _policies())
def test_numba_map_matches_numpy(p, policy):
    codes, params = kernel_stages(policy)
    states = np.argsort(-p, kind="mergesort")  # the simulator's order: not by index
    out = np.zeros(p.size)
    kernels.apply_policy(p, states, p.size, codes, params, out, np.empty(p.size, dtype=np.int64))
    np.testing.assert_allclose(out, policy(p), atol=1e-13)


def test_jax_map_matches_numpy():
    jax = pytest.importorskip("jax")
    from collapse_theory.categorical._jax import apply_policy

    rng = np.random.default_rng(0)
    policies = [
        Temperature(0.6),
        TopK(3),
        TopP(0.8),
        MinP(0.2),
        Compose(Temperature(1.4), TopP(0.9)),
    ]
    with jax.enable_x64(True):
        for policy in policies:
            stages = tuple(zip(*(a.tolist() for a in kernel_stages(policy)), strict=True))
            for p in (rng.dirichlet(np.ones(7)), np.array([0.25, 0.25, 0.25, 0.25, 0.0])):
                out = np.asarray(apply_policy(jax.numpy.asarray(p), stages))
                np.testing.assert_allclose(out, policy(p), atol=1e-13)


def test_identity_stages_are_dropped():
    assert kernel_stages(None)[0].size == 0
    assert kernel_stages(Temperature(1.0))[0].size == 0
    assert kernel_stages(Compose(Temperature(1.0), TopK(2)))[0].tolist() == [2]


# ---------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Temperature(0.0), "tau must be > 0"),
        (lambda: Temperature(-1), "tau must be > 0"),
        (lambda: Temperature(math.inf), "tau must be finite"),
        (lambda: TopK(0), "k must be an integer >= 1"),
        (lambda: TopP(0.0), r"p must be > 0"),
        (lambda: TopP(1.5), r"p must be <= 1"),
        (lambda: MinP(0.0), r"p must be > 0"),
        (lambda: Truncation(0.0), "k must be > 0"),
        (lambda: Compose(), "at least one policy"),
        (lambda: Compose(TopK(2), Truncation(1.0)), "mixes policies"),
    ],
)
def test_bad_policies_are_refused(make, match):
    with pytest.raises(ct._validate.InputError, match=match):
        make()


def test_bad_policy_types_are_refused():
    with pytest.raises(ct._validate.InputTypeError, match="k must be an integer"):
        TopK(2.0)
    with pytest.raises(ct._validate.InputTypeError, match="Compose stage 1"):
        Compose(TopK(2), "top-p")
    with pytest.raises(ct._validate.InputTypeError, match="policy for the Gaussian"):
        ct.categorical.simulate(P0, 10, 2, policy=Truncation(2.0))
    with pytest.raises(ct._validate.InputTypeError, match="policy for the Gaussian"):
        ct.categorical.skeleton(P0, 2, Truncation(2.0))
    with pytest.raises(ct._validate.InputTypeError, match="distributions over states"):
        ct.gaussian.simulate(0.0, 1.0, 10, 2, policy=TopK(2))
    with pytest.raises(ct._validate.InputTypeError, match="policy must be None or"):
        ct.categorical.simulate(P0, 10, 2, policy=0.7)
    with pytest.raises(ct._validate.InputTypeError, match="no map on distributions"):
        Truncation(1.0)(P0)
    with pytest.raises(ct._validate.InputError, match="1-D Gaussian only"):
        ct.gaussian.simulate(np.zeros(2), np.eye(2), 10, 2, policy=Temperature(0.9))
    with pytest.raises(ct._validate.InputError, match="regime=Replace"):
        ct.categorical.moments(P0, 10, 2, ct.Accumulate(), policy=TopK(2))
    with pytest.raises(ct._validate.InputError, match="no closed form"):
        ct.gaussian.expected_std(10, 3, policy=Truncation(2.0))
    with pytest.raises(ct._validate.InputError, match="method='exact'"):
        ct.categorical.loss_probability(0.2, 30, 5, method="feller", policy=TopK(1))


# ---------------------------------------------------------------------------------------------
# text form (command line, sweeps), tail cut


def test_parse_policy():
    from collapse_theory.policies import parse_policy

    assert parse_policy("temperature 0.7 + top-p 0.9") == Compose(Temperature(0.7), TopP(0.9))
    assert parse_policy("top-k 50") == TopK(50)
    assert parse_policy("truncation 2") == Truncation(2.0)
    assert parse_policy("none") is None and parse_policy(None) is None
    with pytest.raises(ct._validate.InputError, match="NAME VALUE"):
        parse_policy("temp 0.7")
    with pytest.raises(ct._validate.InputError, match="not a number"):
        parse_policy("top-k many")
    with pytest.raises(ct._validate.InputError, match="k must be an integer >= 1"):
        parse_policy("top-k 0")


def test_tail_cut_of_zipf():
    k_states, exponent = 1000, 1.1
    zipf = ct.categorical.zipf(k_states, exponent)
    harmonic = np.cumsum(np.arange(1, k_states + 1.0) ** -exponent)
    for k in (1, 10, 100, 1000):
        cut = ct.categorical.tail_cut(zipf, TopK(k))
        assert cut.num_kept == k
        assert math.isclose(cut.missing_mass, 1 - harmonic[k - 1] / harmonic[-1], abs_tol=1e-14)
    for p in (0.5, 0.9, 0.95):
        cut = ct.categorical.tail_cut(zipf, TopP(p))
        kept_mass = harmonic[cut.num_kept - 1] / harmonic[-1]
        assert kept_mass >= p - 1e-12 > harmonic[cut.num_kept - 2] / harmonic[-1]
        assert 1 - p - zipf[cut.num_kept - 1] < cut.missing_mass <= 1 - p + 1e-12
    assert ct.categorical.tail_cut(zipf, Temperature(0.5)).missing_mass == 0.0


def test_sweep_over_policies(tmp_path):
    spec = {
        "function": "categorical.simulate",
        "seed": 7,
        "replicates": 256,
        "block_replicates": 256,
        "fixed": {"p0": [0.5, 0.3, 0.2], "num_samples": 20, "num_generations": 4},
        "grid": {"policy": ["none", "temperature 0.7 + top-p 0.9", "top-k 1"]},
    }
    result, _ = ct.sweep.run_sweep(spec, tmp_path / "sweep")
    for point, policy in enumerate((None, Compose(Temperature(0.7), TopP(0.9)), TopK(1))):
        direct = ct.categorical.simulate([0.5, 0.3, 0.2], 20, 4, num_replicates=256,
                                         seed=ct.sweep.point_seed(7, point), policy=policy)  # fmt: skip
        np.testing.assert_array_equal(result.arrays["p"][point], direct["p"])


def test_cli_policy_option(capsys):
    from collapse_theory.cli import main

    args = ["simulate", "categorical", "--p0", "0.2,0.8", "--num-samples", "30",
            "--generations", "5", "--replicates", "200", "--policy", "temperature 0.9"]  # fmt: skip
    assert main(args) == 0
    assert "policy=temperature 0.9" in capsys.readouterr().out
    assert main([*args[:-1], "truncation 2"]) == 2  # a Gaussian policy: a usage error
    assert "policy for the Gaussian" in capsys.readouterr().err
