"""The jax backend: agreement in distribution with the numba kernels and the naive numpy
references, reproducibility for any batching, no recompilation on repeated calls, and the same
errors as numba for bad input.

Two-sample comparisons are z-tests with |z| < Z_CRIT = 4.0 (false alarm 6.3e-5 each; about 150
comparisons here, a family-wise rate near 1e-2) and Kolmogorov–Smirnov tests with p > 1e-4, all
at fixed seeds. Shapes are shared between tests so that jax compiles each kernel few times.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

import collapse_theory as ct
from collapse_theory import backends
from collapse_theory._stats import mean_difference_z, pooled_proportion_z
from collapse_theory.categorical import _jax as categorical_jax
from collapse_theory.categorical.simulate import heterozygosity
from collapse_theory.gaussian import _jax as gaussian_jax
from collapse_theory.gmm import _jax as gmm_jax
from tests import naive

Z_CRIT = 4.0
P_MIN = 1e-4
R_JAX = 4096  # 16 blocks: one device call
R_NUMBA = 8000
R_NAIVE = 500

REGIMES = {
    "replace": (ct.Replace(), {"regime": "replace"}),
    "mix": (ct.FreshData(0.25, "mix"), {"regime": "mix", "fraction": 0.25}),
    "split": (ct.FreshData(0.25, "split"), {"regime": "split", "fraction": 0.25}),
    "accumulate": (ct.Accumulate(), {"regime": "accumulate"}),
}
SCHEDULE = ct.schedules.Linear(8, 2.0)
N_GAUSS = 10
P0 = np.array([0.5, 0.3, 0.15, 0.05])
N_CAT = 15
MIX = ct.gmm.Mixture(
    [0.4, 0.6], [[-3.0, 0.0], [3.0, 0.0]], [np.eye(2), np.array([[1.0, 0.3], [0.3, 0.5]])]
)


def assert_same_distribution(samples: list[np.ndarray], *, ks: bool = True) -> None:
    """Pairwise z-tests of the means (and KS for the first two: jax and numba)."""
    for a in range(len(samples)):
        for b in range(a + 1, len(samples)):
            z = mean_difference_z(samples[a], samples[b])
            assert abs(z) < Z_CRIT, (a, b, z)
    if ks:
        assert st.ks_2samp(samples[0], samples[1]).pvalue > P_MIN


# ---------------------------------------------------------------------------------------------
# The backends module


def test_available_lists_both_backends_and_jax_devices():
    report = backends.available()
    assert set(report) == {"numba", "jax"}
    assert report["numba"]["available"] is True
    assert report["jax"]["available"] is True
    assert report["jax"]["version"] == __import__("jax").__version__
    assert report["jax"]["devices"] == backends.jax_devices()
    assert all(":" in device for device in report["jax"]["devices"])


def test_resolve_jax_without_jax_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"backend='jax' needs jax.*pip install"):
        backends.resolve("jax")
    with pytest.raises(ImportError, match="backend='jax'"):
        ct.gaussian.simulate(0.0, 1.0, 10, 3, num_replicates=4, seed=0, backend="jax")
    assert backends.resolve("numba") == "numba"


def test_use_sets_the_default_backend_and_dtype():
    assert backends.resolve(None) == "numba"
    with backends.use("jax", dtype="float32") as name:
        assert name == "jax"
        assert backends.resolve(None) == "jax"
        assert backends.jax_dtype() == "float32"
    assert backends.resolve(None) == "numba"
    assert backends.jax_dtype() == "float64"
    with pytest.raises(ValueError, match="dtype"):
        with backends.use("jax", dtype="float16"):
            pass
    assert backends.resolve(None) == "numba"  # a refused call leaves the default alone
    with pytest.raises(ValueError, match="backend"):
        backends.resolve("cuda")


def test_block_keys_depend_on_the_block_only():
    keys_a = backends.jax_block_keys(np.random.SeedSequence(7).spawn(3))
    keys_b = backends.jax_block_keys(np.random.SeedSequence(7).spawn(5))
    assert keys_a.shape == (3, 2) and keys_a.dtype == np.uint32
    np.testing.assert_array_equal(keys_a, keys_b[:3])
    assert len({tuple(row) for row in keys_b}) == 5


# ---------------------------------------------------------------------------------------------
# Gaussian


def _gaussian_1d(backend, seed, num_replicates, **kwargs):
    return ct.gaussian.simulate(
        0.5,
        2.0,
        SCHEDULE,
        N_GAUSS,
        num_replicates=num_replicates,
        seed=seed,
        backend=backend,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("replace", "sufficient"),
        ("mix", "sufficient"),
        ("split", "sufficient"),
        ("accumulate", "sufficient"),
        ("mix", "samples"),
    ],
)
def test_gaussian_1d_agrees_with_numba_and_naive(name, method):
    regime, kwargs = REGIMES[name]
    runs = [
        _gaussian_1d("jax", 1, R_JAX, regime=regime, method=method),
        _gaussian_1d("numba", 2, R_NUMBA, regime=regime, method=method),
    ]
    slow_mean, slow_var = naive.gaussian_replicates(
        0.5, 2.0, SCHEDULE.sizes(N_GAUSS), R_NAIVE, seed=3, **kwargs
    )
    assert runs[0].metadata["backend"] == "jax"
    assert runs[0]["var"].dtype == np.float64
    for generation in (1, 4, N_GAUSS):
        means = [run["mean"][generation] for run in runs] + [slow_mean[generation]]
        log_vars = [np.log(run["var"][generation]) for run in runs] + [np.log(slow_var[generation])]
        assert_same_distribution(means)
        assert_same_distribution(log_vars)
        # The median of the variance, through the proportion below numba's median.
        median = np.median(runs[1]["var"][generation])
        below = [run["var"][generation] < median for run in runs]
        assert abs(pooled_proportion_z(*below)) < Z_CRIT


COV3 = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])


@pytest.mark.parametrize(("name", "method"), [("replace", "sufficient"), ("mix", "samples")])
def test_gaussian_nd_agrees_with_numba_and_naive(name, method):
    regime, kwargs = REGIMES[name]
    mean0 = np.array([1.0, -1.0, 0.0])
    runs = [
        ct.gaussian.simulate(
            mean0,
            COV3,
            6,
            8,
            num_replicates=n,
            regime=regime,
            method=method,
            seed=s,
            backend=b,
        )
        for b, n, s in [("jax", R_JAX, 4), ("numba", R_NUMBA, 5)]
    ]
    slow_mean, slow_cov = naive.gaussian_replicates(
        mean0, COV3, np.full(8, 6), R_NAIVE, seed=6, **kwargs
    )
    covs = [runs[0]["cov"], runs[1]["cov"], slow_cov]
    means = [runs[0]["mean"], runs[1]["mean"], slow_mean]
    for generation in (1, 8):
        assert_same_distribution([np.linalg.slogdet(c[generation])[1] for c in covs])
        assert_same_distribution([c[generation][:, 0, 1] for c in covs])
        assert_same_distribution([m[generation][:, 2] for m in means])
    # The jax covariances stay symmetric positive definite.
    assert np.all(np.linalg.eigvalsh(runs[0]["cov"][-1]) > 0)


def test_gaussian_data0_agrees_with_numba():
    runs = [
        ct.gaussian.simulate(
            None, None, 10, 5, num_replicates=n, data0=st.expon(), seed=s, backend=b
        )
        for b, n, s in [("jax", R_JAX, 7), ("numba", R_NUMBA, 8)]
    ]
    for generation in (1, 5):
        assert_same_distribution([np.log(run["var"][generation]) for run in runs])
        assert_same_distribution([run["mean"][generation] for run in runs])


def test_gaussian_float32_is_opt_in_and_agrees_in_distribution():
    with backends.use("jax", dtype="float32"):
        run32 = _gaussian_1d(None, 1, R_JAX)
    run64 = _gaussian_1d("jax", 9, R_JAX)
    assert run32["var"].dtype == np.float32
    assert run32.metadata["parameters"]["jax_dtype"] == "float32"
    assert_same_distribution(
        [np.log(run32["var"][-1]).astype(float), np.log(run64["var"][-1])], ks=True
    )


def test_float32_mixtures_run_in_float32():
    with backends.use("jax", dtype="float32"):
        fit = ct.gmm.simulate(MIX, 40, 2, num_replicates=64, seed=2, record="last")
    assert fit["covs"].dtype == np.float32
    np.testing.assert_allclose(fit["weights"].sum(axis=-1), 1.0, rtol=1e-6)
    assert np.all(fit["converged"]) and np.all(np.linalg.eigvalsh(fit["covs"][0]) > 0)


def test_gaussian_same_seed_same_result_for_any_batching():
    reference = _gaussian_1d("jax", 11, R_JAX)
    for chunk_size in (5,):
        again = _gaussian_1d("jax", 11, R_JAX, chunk_size=chunk_size, num_threads=1)
        np.testing.assert_array_equal(again["var"], reference["var"])
        np.testing.assert_array_equal(again["mean"], reference["mean"])
    other = _gaussian_1d("jax", 12, R_JAX)
    assert not np.array_equal(other["var"], reference["var"])


def test_gaussian_nd_samples_same_result_for_any_batching():
    def run(**kwargs):
        return ct.gaussian.simulate(
            np.zeros(3),
            COV3,
            6,
            8,
            regime=REGIMES["mix"][0],
            method="samples",
            seed=14,
            backend="jax",
            **kwargs,
        )

    reference = run(num_replicates=R_JAX)
    np.testing.assert_array_equal(run(num_replicates=R_JAX, chunk_size=5)["cov"], reference["cov"])


def test_gaussian_record_keeps_only_the_recorded_generations():
    full = _gaussian_1d("jax", 13, R_JAX)
    last = _gaussian_1d("jax", 13, R_JAX, record=[0, 3, N_GAUSS])
    np.testing.assert_array_equal(last["var"], full["var"][[0, 3, N_GAUSS]])
    assert last["var"].shape == (3, R_JAX)


def test_repeated_calls_do_not_retrace():
    # The shapes of the agreement tests, so that inside this file nothing new compiles.
    kwargs = dict(num_replicates=R_JAX, regime=ct.Accumulate(), backend="jax")
    ct.gaussian.simulate(0.0, 1.0, SCHEDULE, N_GAUSS, seed=0, **kwargs)
    traces = dict(gaussian_jax.TRACES)
    cache = gaussian_jax._batch_jit._cache_size()
    # Other seed, other model 0, other sample sizes: same shapes, no new compilation.
    ct.gaussian.simulate(3.0, 0.5, ct.schedules.Linear(5, 1.0), N_GAUSS, seed=1, **kwargs)
    ct.gaussian.simulate(-1.0, 4.0, 50, N_GAUSS, seed=2, **kwargs)
    assert gaussian_jax.TRACES == traces
    assert gaussian_jax._batch_jit._cache_size() == cache
    kwargs = dict(num_replicates=R_JAX, backend="jax")
    ct.categorical.simulate(P0, 20, N_CAT, seed=0, **kwargs)
    traces = dict(categorical_jax.TRACES)
    ct.categorical.simulate([0.1, 0.2, 0.3, 0.4], 40, N_CAT, seed=3, pseudo_count=0.5, **kwargs)
    assert categorical_jax.TRACES == traces


# ---------------------------------------------------------------------------------------------
# Categorical


@pytest.mark.parametrize("name", list(REGIMES))
def test_categorical_agrees_with_numba_and_naive(name):
    regime, kwargs = REGIMES[name]
    runs = [
        ct.categorical.simulate(P0, 20, N_CAT, num_replicates=n, regime=regime, seed=s, backend=b)
        for b, n, s in [("jax", R_JAX, 1), ("numba", R_NUMBA, 2)]
    ]
    paths = naive.categorical_replicates(P0, np.full(N_CAT, 20), R_NAIVE, seed=3, **kwargs)
    p = [runs[0]["p"], runs[1]["p"], paths]
    absorbed = [runs[0]["absorbed_at"], runs[1]["absorbed_at"], naive.first_absorption(paths)]
    np.testing.assert_allclose(runs[0]["p"].sum(axis=-1), 1.0, rtol=1e-12)
    for generation in (1, 5, N_CAT):
        assert_same_distribution([heterozygosity(x[generation]) for x in p], ks=False)
        lost = [x[generation][:, 3] == 0 for x in p]
        for a, b in [(0, 1), (0, 2)]:
            assert abs(pooled_proportion_z(lost[a], lost[b])) < Z_CRIT
    for a, b in [(0, 1), (0, 2)]:
        assert abs(pooled_proportion_z(absorbed[a] >= 0, absorbed[b] >= 0)) < Z_CRIT
        early = [x[x >= 0] <= 8 for x in (absorbed[a], absorbed[b])]
        if min(len(e) for e in early) > 50:
            assert abs(pooled_proportion_z(*early)) < Z_CRIT
    # Absorption is recorded at the first generation with a single state.
    np.testing.assert_array_equal(runs[0]["absorbed_at"], naive.first_absorption(runs[0]["p"]))


def test_categorical_large_samples_take_the_search_path_and_agree():
    # M K = 300 * 64 > COMPARISON_BUDGET: each draw is located by binary search. Many states and
    # a moderate M reach that path at a tenth of the cost of M = 5000 over 4 states.
    p0 = ct.categorical.zipf(64, 1.1)
    assert 300 * p0.size > categorical_jax.COMPARISON_BUDGET
    runs = [
        ct.categorical.simulate(
            p0,
            300,
            30,
            num_replicates=n,
            regime=ct.FreshData(0.25, "split"),
            seed=s,
            backend=b,
            record="last",
        )
        for b, n, s in [("jax", R_JAX, 15), ("numba", R_NUMBA, 16)]
    ]
    np.testing.assert_allclose(runs[0]["p"].sum(axis=-1), 1.0, rtol=1e-12)
    assert_same_distribution([heterozygosity(run["p"][-1]) for run in runs])
    assert_same_distribution([run["p"][-1][:, 3] for run in runs])


def test_categorical_smoothing_agrees_with_numba():
    runs = [
        ct.categorical.simulate(
            P0, 20, N_CAT, num_replicates=n, pseudo_count=0.5, seed=s, backend=b
        )
        for b, n, s in [("jax", R_JAX, 4), ("numba", R_NUMBA, 5)]
    ]
    assert_same_distribution([heterozygosity(run["p"][-1]) for run in runs], ks=False)
    assert np.all(runs[0]["p"] > 0)


def test_categorical_same_seed_same_result_for_any_batching():
    reference = ct.categorical.simulate(P0, 20, N_CAT, num_replicates=R_JAX, seed=6, backend="jax")
    again = ct.categorical.simulate(
        P0, 20, N_CAT, num_replicates=R_JAX, seed=6, backend="jax", chunk_size=5
    )
    np.testing.assert_array_equal(again["p"], reference["p"])
    np.testing.assert_array_equal(again["absorbed_at"], reference["absorbed_at"])


# ---------------------------------------------------------------------------------------------
# Gaussian mixtures

R_GMM = 512


def _mixture_statistics(weights, covs):
    """Per replicate: the weight of component 0 and the log-variance of its first coordinate."""
    return weights[:, 0], np.log(covs[:, 0, 0, 0])


@pytest.mark.parametrize("init", ["warm", "kmeans++"])
def test_gmm_agrees_with_numba(init):
    runs = [
        ct.gmm.simulate(MIX, 40, 6, num_replicates=R_GMM, init=init, seed=s, backend=b)
        for b, s in [("jax", 1), ("numba", 2)]
    ]
    assert runs[0]["weights"].shape == runs[1]["weights"].shape
    for generation in (1, 6):
        stats = [
            _mixture_statistics(run["weights"][generation], run["covs"][generation]) for run in runs
        ]
        if init == "kmeans++":  # components come out in any order: compare the smaller weight
            stats = [(np.minimum(w, 1 - w), v) for w, v in stats]
        assert_same_distribution([s[0] for s in stats])
        assert_same_distribution([s[1] for s in stats])
        ll = [run["log_likelihood"][generation] for run in runs]
        assert_same_distribution(ll)
        assert np.all(runs[0]["converged"][generation])
    np.testing.assert_allclose(runs[0]["weights"].sum(axis=-1), 1.0, rtol=1e-12)


def test_gmm_accumulate_agrees_with_numba():
    runs = [
        ct.gmm.simulate(
            MIX,
            40,
            4,
            num_replicates=R_GMM,
            regime=ct.Accumulate(),
            seed=s,
            backend=b,
            record="last",
        )
        for b, s in [("jax", 6), ("numba", 7)]
    ]
    stats = [_mixture_statistics(run["weights"][0], run["covs"][0]) for run in runs]
    assert_same_distribution([s[0] for s in stats])
    assert_same_distribution([s[1] for s in stats])


def test_gmm_warm_agrees_with_naive_em():
    rng = np.random.default_rng(3)
    chains = [naive.gmm_chain(MIX, np.full(3, 40), rng=rng) for _ in range(150)]
    run = ct.gmm.simulate(MIX, 40, 6, num_replicates=R_GMM, seed=4, backend="jax")
    for generation in (1, 3):
        jax_w, jax_v = _mixture_statistics(run["weights"][generation], run["covs"][generation])
        slow_w = np.array([c[0][generation][0] for c in chains])
        slow_v = np.log(np.array([c[2][generation][0, 0, 0] for c in chains]))
        assert abs(mean_difference_z(jax_w, slow_w)) < Z_CRIT
        assert abs(mean_difference_z(jax_v, slow_v)) < Z_CRIT


def test_gmm_same_seed_same_result_for_any_batching():
    reference = ct.gmm.simulate(MIX, 40, 6, num_replicates=R_GMM, seed=5, backend="jax")
    traces = dict(gmm_jax.TRACES)
    again = ct.gmm.simulate(MIX, 40, 6, num_replicates=R_GMM, seed=5, backend="jax")
    assert gmm_jax.TRACES == traces  # compiled once
    np.testing.assert_array_equal(again["covs"], reference["covs"])
    fewer = ct.gmm.simulate(MIX, 40, 6, num_replicates=100, seed=5, backend="jax")
    np.testing.assert_array_equal(fewer["weights"], reference["weights"][:, :100])


# ---------------------------------------------------------------------------------------------
# Bad input: the same error for both backends (validation runs before dispatch)

BAD_CALLS = [
    ("gaussian", (0.0, -1.0, 10, 3), {}),
    ("gaussian", (0.0, 1.0, 1, 3), {}),
    ("gaussian", (np.zeros(2), np.eye(3), 10, 3), {}),
    ("gaussian", (0.0, 1.0, 10, -1), {}),
    ("gaussian", (0.0, 1.0, 10, 3), {"method": "exact"}),
    ("gaussian", (0.0, 1.0, 10, 3), {"record": [7]}),
    ("gaussian", (0.0, 1.0, 10, 3), {"regime": "replace"}),
    ("gaussian", (0.0, 1.0, 10, 3), {"chunk_size": 0}),
    ("gaussian", (0.0, 1.0, 10, 3), {"num_threads": 0}),
    ("gaussian", (0.0, 1.0, 10, 3), {"seed": -1}),
    ("categorical", ([0.5, 0.6], 10, 3), {}),
    ("categorical", ([0.5, 0.5], 0, 3), {}),
    ("categorical", ([0.5, 0.5], 10, 3), {"pseudo_count": -1.0}),
    ("categorical", ([0.5, 0.5], 10, 3), {"num_replicates": 0}),
    ("categorical", ([0.5, 0.5], 10, 3), {"chunk_size": 0}),
    ("gmm", (MIX, 5, 3), {}),
    ("gmm", (MIX, 40, 3), {"init": "random"}),
    ("gmm", (MIX, 40, 3), {"tol": 0.0}),
    ("gmm", (MIX, 40, 3), {"num_threads": 0}),
]


def _error(family, args, kwargs, backend):
    simulate = {
        "gaussian": ct.gaussian.simulate,
        "categorical": ct.categorical.simulate,
        "gmm": ct.gmm.simulate,
    }[family]
    with pytest.raises((ValueError, TypeError)) as info:
        simulate(*args, num_replicates=kwargs.pop("num_replicates", 4), backend=backend, **kwargs)
    return type(info.value), str(info.value)


@pytest.mark.parametrize("backend", ["numba", "jax"])
@pytest.mark.parametrize(("family", "args", "kwargs"), BAD_CALLS)
def test_bad_input_same_error_for_both_backends(family, args, kwargs, backend):
    error = _error(family, args, dict(kwargs), backend)
    assert error == _error(family, args, dict(kwargs), "numba")


@settings(max_examples=25, deadline=None)
@given(
    num_generations=hs.integers(-5, 5),
    num_samples=hs.integers(-3, 3),
    num_replicates=hs.integers(-3, 0),
    estimator=hs.sampled_from(["unbiased", "mle", "MLE"]),
)
def test_fuzzed_bad_input_same_error_for_both_backends(
    num_generations, num_samples, num_replicates, estimator
):
    kwargs = {"num_replicates": num_replicates, "estimator": estimator}
    args = (0.0, 1.0, num_samples, num_generations)
    assert _error("gaussian", args, dict(kwargs), "jax") == _error(
        "gaussian", args, dict(kwargs), "numba"
    )
    cat_args = ([0.5, 0.5], num_samples, num_generations)
    assert _error("categorical", cat_args, {"num_replicates": num_replicates}, "jax") == _error(
        "categorical", cat_args, {"num_replicates": num_replicates}, "numba"
    )
