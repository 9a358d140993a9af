"""The simulators under sampling policies (docs/theory.md §8): ``policy=None`` and
``Temperature(1.0)`` bit-identical in every regime and backend, the numba kernel against the
naive numpy chain, jax against numba, and the same arrays for any threads and chunking.

Two-sample comparisons are z-tests at a family-wise false-alarm rate of 1e-3 over the
NUM_TESTS comparisons of this file (Bonferroni), fixed seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

import collapse_theory as ct
from collapse_theory._stats import mean_difference_z, pooled_proportion_z, z_threshold
from collapse_theory.policies import Compose, MinP, Temperature, TopK, TopP, Truncation
from tests import naive

NUM_TESTS = 80
Z = z_threshold(1e-3, NUM_TESTS)
P0 = np.array([0.45, 0.25, 0.15, 0.1, 0.05])
REGIMES = (ct.Replace(), ct.FreshData(0.25, "mix"), ct.FreshData(0.25, "split"), ct.Accumulate())
#: Each jax regime costs a compilation (seconds): Replace runs on every change, the rest with
#: the slow tests.
JAX_CASES = [("jax", ct.Replace())] + [
    pytest.param("jax", regime, marks=pytest.mark.slow) for regime in REGIMES[1:]
]


@pytest.mark.parametrize(
    ("backend", "regime"), [("numba", regime) for regime in REGIMES] + JAX_CASES, ids=str
)
def test_identity_policy_is_bit_identical(backend, regime):
    if backend == "jax":
        pytest.importorskip("jax")
    kw = dict(num_replicates=300, regime=regime, seed=4, backend=backend)
    plain = ct.categorical.simulate(P0, 12, 5, **kw)
    tempered = ct.categorical.simulate(P0, 12, 5, policy=Temperature(1.0), **kw)
    np.testing.assert_array_equal(plain["p"], tempered["p"])
    np.testing.assert_array_equal(plain["absorbed_at"], tempered["absorbed_at"])
    for method in ("sufficient", "samples"):
        if backend == "jax" and method == "samples":
            continue  # one more compilation: the same static arguments give the same kernel
        plain = ct.gaussian.simulate(0.0, 1.0, 12, 5, method=method, **kw)
        tempered = ct.gaussian.simulate(0.0, 1.0, 12, 5, method=method,
                                        policy=Temperature(1.0), **kw)  # fmt: skip
        np.testing.assert_array_equal(plain["var"], tempered["var"])
        np.testing.assert_array_equal(plain["mean"], tempered["mean"])


CATEGORICAL_POLICIES = {
    "temperature 0.7": (Temperature(0.7), [("temperature", 0.7)]),
    "top-k 2": (TopK(2), [("top_k", 2)]),
    "top-p 0.8": (TopP(0.8), [("top_p", 0.8)]),
    "min-p 0.3": (MinP(0.3), [("min_p", 0.3)]),
    "temperature 1.5 then top-p 0.9": (
        Compose(Temperature(1.5), TopP(0.9)),
        [("temperature", 1.5), ("top_p", 0.9)],
    ),
}


@pytest.mark.parametrize("name", list(CATEGORICAL_POLICIES))
def test_categorical_kernel_matches_naive_chain(name):
    policy, stages = CATEGORICAL_POLICIES[name]
    fast = ct.categorical.simulate(P0, 15, 6, num_replicates=20_000, policy=policy, seed=1)["p"]
    slow = naive.categorical_policy_replicates(P0, 15, 6, 2_000, stages, seed=2)
    for g in (1, 3, 6):
        for state in (0, 2, 4):
            assert abs(mean_difference_z(fast[g][:, state], slow[g][:, state])) < Z
        assert abs(pooled_proportion_z(fast[g][:, 4] == 0, slow[g][:, 4] == 0)) < Z


@pytest.mark.parametrize(
    "regime",
    [ct.Replace()]
    + [
        pytest.param(r, marks=pytest.mark.slow)
        for r in (ct.FreshData(0.25, "split"), ct.FreshData(0.25, "mix"), ct.Accumulate())
    ],
    ids=repr,
)
def test_categorical_jax_matches_numba(regime):
    pytest.importorskip("jax")
    policy = Compose(Temperature(1.5), TopP(0.9))
    kw = dict(num_replicates=4096, regime=regime, policy=policy, record=[2, 6])
    numba_run = ct.categorical.simulate(P0, 15, 6, seed=1, **kw)["p"]
    jax_run = ct.categorical.simulate(P0, 15, 6, seed=2, backend="jax", **kw)["p"]
    for i in range(2):
        for state in (0, 4):
            assert abs(mean_difference_z(numba_run[i][:, state], jax_run[i][:, state])) < Z


@pytest.mark.parametrize(
    ("policy", "regime"),
    [
        (Compose(Truncation(1.0), Temperature(1.3)), ct.FreshData(0.25, "split")),
        pytest.param(Temperature(0.8), ct.Replace(), marks=pytest.mark.slow),
        pytest.param(Truncation(1.5), ct.Replace(), marks=pytest.mark.slow),
    ],
    ids=str,
)
def test_gaussian_jax_matches_numba(policy, regime):
    pytest.importorskip("jax")
    kw = dict(num_replicates=4096, regime=regime, policy=policy, record=[1, 5])
    numba_run = ct.gaussian.simulate(0.0, 1.0, 10, 5, seed=1, **kw)
    jax_run = ct.gaussian.simulate(0.0, 1.0, 10, 5, seed=2, backend="jax", **kw)
    for i in range(2):
        a, b = np.log(numba_run["var"][i]), np.log(jax_run["var"][i])
        assert abs(mean_difference_z(a, b)) < Z
        assert abs(mean_difference_z(numba_run["mean"][i], jax_run["mean"][i])) < Z


def test_same_arrays_for_any_threads_and_chunks():
    policy = Compose(Temperature(0.8), TopK(3))
    kw = dict(num_replicates=2_000, policy=policy, seed=12)
    one = ct.categorical.simulate(P0, 20, 8, num_threads=1, **kw)["p"]
    many = ct.categorical.simulate(P0, 20, 8, num_threads=2, chunk_size=3, **kw)["p"]
    np.testing.assert_array_equal(one, many)
    kw = dict(num_replicates=2_000, policy=Truncation(1.5), seed=12)
    one = ct.gaussian.simulate(0.0, 1.0, 10, 4, num_threads=1, **kw)["var"]
    many = ct.gaussian.simulate(0.0, 1.0, 10, 4, num_threads=2, chunk_size=3, **kw)["var"]
    np.testing.assert_array_equal(one, many)


def test_policy_is_recorded_and_dataset_zero_has_none():
    run = ct.categorical.simulate(P0, 10, 1, num_replicates=5_000, policy=TopK(1), seed=0)
    assert run.metadata["parameters"]["policy"] == "TopK(k=1)"
    # dataset 0 from p0 as is: generation 1 still has several states
    assert np.mean(np.count_nonzero(run["p"][1] > 0, axis=-1)) > 2
    run = ct.categorical.simulate(P0, 10, 2, num_replicates=500, policy=TopK(1), seed=0)
    assert np.all(np.count_nonzero(run["p"][2] > 0, axis=-1) == 1)  # model 1 samples its mode
