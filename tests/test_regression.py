"""The regression family (docs/theory.md §5.2): closed forms and their check values, the exact
law given the design against brute force and simulation, the kernel against tests/naive.py,
Kazdan's / Gerstgrasser's claims, bad input, fuzzing.

Statistical comparisons are two-sided z-tests at a family-wise false-alarm rate of 1e-3 over the
comparisons of this file (Bonferroni, ``Z_CRIT``), with fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import collapse_theory as ct
from collapse_theory._stats import mean_se, mean_z, z_threshold
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.kde import AccumulateSubsample
from collapse_theory.regimes import Accumulate, FreshData, Replace
from collapse_theory.rng import block_generators
from tests.naive import regression_chain

reg = ct.regression
Z_CRIT = z_threshold(1e-3, 60)
REGIMES = {
    "replace": Replace(),
    "mix": FreshData(0.3),
    "split": FreshData(0.3, "split"),
    "accumulate": Accumulate(),
    "subsample": AccumulateSubsample(),
}


def test_check_values_of_the_specification():
    assert reg.expected_excess_risk(5, 20, 10) == pytest.approx(3.5714, abs=5e-5)
    assert reg.expected_excess_risk(5, 20, 10, regime=Accumulate()) == pytest.approx(
        0.55349, abs=5e-6
    )


def test_replace_is_linear_and_accumulate_below_pi2_over_6():
    gens = np.arange(0, 200)
    replace = reg.expected_excess_risk(4, 12, gens, noise_var=2.0)
    assert np.diff(replace) == pytest.approx(np.full(199, 2.0 * 4 / 7), rel=1e-12)
    accumulate = reg.expected_excess_risk(4, 12, gens, noise_var=2.0, regime=Accumulate())
    bound = reg.accumulate_bound(4, 12, noise_var=2.0)
    assert bound == pytest.approx(math.pi**2 / 6 * 2.0 * 4 / 7)
    assert np.all(accumulate < bound) and np.all(np.diff(accumulate) > 0)
    assert bound - accumulate[-1] == pytest.approx(2.0 * 4 / 7 / 199.5, rel=1e-3)


def _brute_force_given_design(x, w_star, n, sigma2, lam, cov, regime):
    """E[risk | X] by propagating mean and covariance of the stacked (w_0..w_n) as one linear
    map of all the noise vectors (no recursion shortcut): w_n = c_n + sum_i K_{n,i} eps_i."""
    t, d = x.shape
    mean = [w_star]
    gains = [np.zeros((d, t * n))]  # w_k = mean_k + gains_k @ (eps_1, ..., eps_n)
    for k in range(1, n + 1):
        if regime == "replace":
            inverse = np.linalg.inv(x.T @ x + lam * np.eye(d))
            mean.append(inverse @ x.T @ x @ mean[-1])
            gains.append(inverse @ x.T @ (x @ gains[-1] + _noise_block(t, n, k, sigma2)))
        else:  # accumulate: fit all k label sets at once
            stacked_x = np.vstack([x] * k)
            inverse = np.linalg.inv(stacked_x.T @ stacked_x + lam * np.eye(d))
            labels_mean = np.concatenate([x @ mean[i] for i in range(k)])
            labels_gain = np.vstack(
                [x @ gains[i] + _noise_block(t, n, i + 1, sigma2) for i in range(k)]
            )
            mean.append(inverse @ stacked_x.T @ labels_mean)
            gains.append(inverse @ stacked_x.T @ labels_gain)
    bias = mean[n] - w_star
    return bias @ cov @ bias + np.trace(cov @ gains[n] @ gains[n].T)


def _noise_block(t, n, k, sigma2):
    """The map (eps_1, ..., eps_n) -> sigma eps_k."""
    block = np.zeros((t, t * n))
    block[:, (k - 1) * t : k * t] = np.sqrt(sigma2) * np.eye(t)
    return block


@pytest.mark.parametrize("regime", ["replace", "accumulate"])
@pytest.mark.parametrize("lam", [0.0, 2.5])
def test_given_design_against_brute_force(regime, lam):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((9, 3)), np.array([1.0, -2.0, 0.5])
    cov = np.array([[1.0, 0.2, 0.0], [0.2, 2.0, 0.3], [0.0, 0.3, 0.7]])
    exact = reg.excess_risk_given_design(
        x, [1, 2, 5], w_star=w, noise_var=1.7, ridge=lam, cov=cov, regime=REGIMES[regime]
    )
    brute = [_brute_force_given_design(x, w, n, 1.7, lam, cov, regime) for n in (1, 2, 5)]
    assert exact == pytest.approx(brute, rel=1e-10)


def test_given_design_ols_averages_to_the_closed_form():
    """tr(Sigma G^{-1}) times the noise factor: the conditional law at λ = 0."""
    x = np.random.default_rng(0).standard_normal((20, 5))
    trace = np.trace(np.linalg.inv(x.T @ x))
    got = reg.excess_risk_given_design(x, [1, 10], w_star=np.ones(5), regime=Accumulate())
    assert got == pytest.approx(trace * np.array([1.0, np.sum(1 / np.arange(1, 11) ** 2)]))


@pytest.mark.parametrize("name", ["replace", "split", "accumulate"])
@pytest.mark.parametrize("lam", [0.0, 3.0])
def test_given_design_agrees_with_simulation(name, lam):
    x = np.random.default_rng(0).standard_normal((12, 4))
    w = np.array([1.0, -1.0, 0.5, 2.0])
    gens = [1, 3, 8]
    run = reg.simulate(
        w,
        12,
        8,
        regime=REGIMES[name],
        design=x,
        ridge=lam,
        num_replicates=4000,
        record=gens,
        seed=4,
    )
    exact = reg.excess_risk_given_design(x, gens, w_star=w, regime=REGIMES[name], ridge=lam)
    for i in range(len(gens)):
        assert abs(mean_z(run["risk"][i], exact[i])) < Z_CRIT


@pytest.mark.parametrize("name", ["replace", "accumulate"])
def test_expected_risk_agrees_with_simulation(name):
    gens = [1, 4, 10]
    run = reg.simulate(
        np.ones(5), 20, 10, regime=REGIMES[name], num_replicates=6000, record=gens, seed=2024
    )
    exact = reg.expected_excess_risk(5, 20, gens, regime=REGIMES[name])
    for i in range(len(gens)):
        assert abs(mean_z(run["risk"][i], exact[i])) < Z_CRIT


def test_replace_with_a_redrawn_design_has_the_same_mean():
    run = reg.simulate(
        np.zeros(3),
        10,
        6,
        design="redrawn",
        num_replicates=6000,
        record=[2, 6],
        seed=8,
        cov=np.diag([1.0, 4.0, 0.25]),
    )
    exact = reg.expected_excess_risk(3, 10, [2, 6])
    for i in range(2):
        assert abs(mean_z(run["risk"][i], exact[i])) < Z_CRIT


def test_median_risk_after_one_ols_fit():
    """A probability, not a mean: for Σ = I and one fit, risk = ε^T X G^{-2} X^T ε; given X it
    is a weighted chi-square. Check the simulator's median against the same law sampled
    independently in numpy."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((30000, 8, 3))
    eps = rng.standard_normal((30000, 8))
    fits = np.linalg.solve(np.swapaxes(x, 1, 2) @ x, np.einsum("rti,rt->ri", x, eps)[..., None])[
        ..., 0
    ]
    direct = np.sum(fits**2, axis=1)
    run = reg.simulate(np.ones(3), 8, 1, num_replicates=30000, record="last", seed=13)
    median = np.median(direct)
    below = (run["risk"][0] < median).astype(float)
    z = (below.mean() - 0.5) / math.sqrt(0.25 / below.size + 0.25 / direct.size)
    assert abs(z) < Z_CRIT


def test_gerstgrasser_claims_in_simulation():
    """Replace grows linearly (risk at n = 20 about twice n = 10); accumulate stays below the
    π²/6 bound at n = 30 by many standard errors."""
    run = reg.simulate(np.ones(5), 20, 30, num_replicates=4000, record=[10, 20], seed=1)
    ratio = run["risk"][1].mean() / run["risk"][0].mean()
    assert 1.8 < ratio < 2.2
    # E risk_20 = 2 E risk_10 exactly (linear growth): a z-test of the paired contrast.
    assert abs(mean_z(run["risk"][1] - 2.0 * run["risk"][0], 0.0)) < Z_CRIT
    run = reg.simulate(
        np.ones(5), 20, 30, regime=Accumulate(), num_replicates=4000, record="last", seed=1
    )
    mean, se = mean_se(run["risk"][0])
    assert (reg.accumulate_bound(5, 20) - mean) / se > 3.0


@pytest.mark.parametrize("name", REGIMES)
@pytest.mark.parametrize("design", ["fixed", "redrawn"])
def test_kernel_matches_naive(name, design):
    cov = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])
    w = np.array([1.0, -0.5, 2.0])
    run = reg.simulate(
        w,
        7,
        4,
        regime=REGIMES[name],
        design=design,
        ridge=0.5,
        cov=cov,
        noise_var=2.0,
        num_replicates=3,
        seed=11,
    )
    generator = block_generators(np.random.SeedSequence(11), 3)[0]
    for r in range(3):
        path = regression_chain(
            w,
            np.linalg.cholesky(cov),
            7,
            4,
            noise_sd=math.sqrt(2.0),
            ridge=0.5,
            design=design,
            regime=name,
            fraction=0.3,
            rng=generator,
        )
        assert run["w"][:, r] == pytest.approx(path, abs=1e-10)
        risk = np.einsum("ni,ij,nj->n", path - w, cov, path - w)
        assert run["risk"][:, r] == pytest.approx(risk, abs=1e-10)


def test_same_seed_same_run_for_any_threads_and_chunks():
    kwargs = dict(regime=AccumulateSubsample(), num_replicates=600, seed=9)
    one = reg.simulate(np.ones(2), 6, 5, num_threads=1, **kwargs)
    two = reg.simulate(np.ones(2), 6, 5, num_threads=2, chunk_size=2, **kwargs)
    assert np.array_equal(one["risk"], two["risk"])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: reg.expected_excess_risk(5, 6, 3), InputError, "num_points must be >= dim \\+ 2"),
        (lambda: reg.expected_excess_risk(5, 20, 3, ridge=-1.0), InputError, "ridge must be >= 0"),
        (lambda: reg.expected_excess_risk(5, 20, 3, ridge=1.0), InputError, "exact for OLS"),
        (lambda: reg.expected_excess_risk(5, 20, 3, noise_var=math.nan), InputError, "finite"),
        (lambda: reg.expected_excess_risk(5, 20, 3, regime="replace"), InputTypeError, "regime"),
        (lambda: reg.simulate([1.0, math.nan], 10, 2), InputError, "w_star"),
        (lambda: reg.simulate(np.ones(3), 4, 2), InputError, "num_points must be >= dim \\+ 2"),
        (lambda: reg.simulate(np.ones(3), 10, 2, design="random"), InputError, "design"),
        (lambda: reg.simulate(np.ones(3), 10, 2, design=np.ones((4, 3))), InputError, "shape"),
        (
            lambda: reg.excess_risk_given_design(np.ones((5, 2)), 2, w_star=[1.0, 1.0]),
            InputError,
            "rank 2",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@settings(max_examples=40, deadline=None)
@given(
    d=st.integers(1, 10),
    extra=st.integers(2, 40),
    n=st.integers(0, 100),
    sigma2=st.floats(1e-3, 1e3),
    accumulate=st.booleans(),
)
def test_fuzz_closed_forms(d, extra, n, sigma2, accumulate):
    regime = Accumulate() if accumulate else Replace()
    value = reg.expected_excess_risk(d, d + extra, n, noise_var=sigma2, regime=regime)
    assert np.isfinite(value) and value >= 0
    if accumulate:
        assert value < reg.accumulate_bound(d, d + extra, noise_var=sigma2)


@settings(max_examples=15, deadline=None)
@given(
    d=st.integers(1, 4),
    extra=st.integers(0, 6),
    n=st.integers(0, 4),
    lam=st.sampled_from([0.0, 0.5]),
    regime=st.sampled_from(list(REGIMES.values())),
    design=st.sampled_from(["fixed", "redrawn"]),
    seed=st.integers(0, 2**32),
)
def test_fuzz_simulator(d, extra, n, lam, regime, design, seed):
    run = reg.simulate(
        np.ones(d),
        d + 2 + extra,
        n,
        ridge=lam,
        regime=regime,
        design=design,
        num_replicates=3,
        seed=seed,
    )
    assert run["risk"].shape == (n + 1, 3) and np.all(np.isfinite(run["risk"]))


@pytest.mark.slow  # each regime compiles its own jax chain (5-10 s on 2 CPUs)
@pytest.mark.parametrize("name", ["replace", "accumulate", "mix"])
def test_jax_agrees_with_numba_and_the_closed_forms(name):
    pytest.importorskip("jax")
    gens = [1, 10]
    jax_run = reg.simulate(
        np.ones(5),
        20,
        10,
        regime=REGIMES[name],
        num_replicates=3000,
        record=gens,
        seed=5,
        backend="jax",
    )
    assert jax_run.metadata["backend"] == "jax"
    numba_run = reg.simulate(
        np.ones(5), 20, 10, regime=REGIMES[name], num_replicates=3000, record=gens, seed=5
    )
    for i in range(2):
        a, b = jax_run["risk"][i], numba_run["risk"][i]
        z = (a.mean() - b.mean()) / math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        assert abs(z) < Z_CRIT
    if name != "mix":
        exact = reg.expected_excess_risk(5, 20, gens, regime=REGIMES[name])
        for i in range(2):
            assert abs(mean_z(jax_run["risk"][i], exact[i])) < Z_CRIT


def test_jax_refuses_the_subsample_regime():
    with pytest.raises(InputError, match="numba' only"):
        reg.simulate(np.ones(2), 6, 2, regime=AccumulateSubsample(), backend="jax")


def test_simulate_regression_command(capsys):
    from collapse_theory.cli import main

    argv = [
        "simulate",
        "regression",
        "--dim",
        "3",
        "--num-points",
        "8",
        "--generations",
        "2",
        "--replicates",
        "200",
        "--seed",
        "1",
        "--ridge",
        "0.5",
        "--regime",
        "fresh:0.25:split",
    ]
    assert main(argv) == 0
    assert "risk mean" in capsys.readouterr().out
    assert (
        main(["simulate", "regression", "--dim", "5", "--num-points", "6", "--generations", "2"])
        == 2
    )
    assert "num_points must be >= dim + 2 = 7" in capsys.readouterr().err


def test_jax_as_the_default_leaves_the_subsample_regime_on_numba():
    with ct.backends.use("jax"):
        run = reg.simulate(np.ones(2), 6, 2, regime=AccumulateSubsample(), num_replicates=4)
    assert run.metadata["backend"] == "numba"


@settings(max_examples=30, deadline=None)
@given(
    d=st.integers(1, 4),
    extra=st.integers(0, 8),
    n=st.integers(0, 30),
    lam=st.floats(0.0, 10.0),
    name=st.sampled_from(["replace", "split", "accumulate"]),
    seed=st.integers(0, 2**32),
)
def test_fuzz_given_design(d, extra, n, lam, name, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((d + 1 + extra, d)), rng.standard_normal(d)
    risk = reg.excess_risk_given_design(x, n, w_star=w, ridge=lam, regime=REGIMES[name])
    assert np.isfinite(risk) and risk >= 0
    if lam == 0.0 and name != "split":
        trace = np.trace(np.linalg.inv(x.T @ x))
        factor = n if name == "replace" else np.sum(1.0 / np.arange(1, n + 1) ** 2)
        assert risk == pytest.approx(factor * trace, rel=1e-8, abs=1e-12)
