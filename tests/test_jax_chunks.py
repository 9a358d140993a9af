"""Memory-bounded jax calls (collapse_theory._chunks): chunk widths from a budget, replicate keys
that do not depend on the chunking, and the mixture, Gaussian and categorical simulators
bit-identical for any budget; the categorical kernel's multinomial by binary search against the
multinomial law."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import collapse_theory as ct  # noqa: E402
from collapse_theory import _chunks  # noqa: E402
from collapse_theory._stats import mean_z, z_threshold  # noqa: E402
from collapse_theory._validate import InputError  # noqa: E402
from collapse_theory.backends import jax_block_keys, jax_replicate_keys  # noqa: E402
from collapse_theory.categorical import _jax as categorical_jax  # noqa: E402
from collapse_theory.gaussian import _jax as gaussian_jax  # noqa: E402
from collapse_theory.gmm import _jax as gmm_jax  # noqa: E402
from collapse_theory.regimes import ACCUMULATE, REPLACE  # noqa: E402
from collapse_theory.rng import BLOCK_SIZE  # noqa: E402

MIX = ct.gmm.Mixture(
    [0.5, 0.5], [[-2.0, 0.0], [2.0, 0.0]], [np.eye(2), np.array([[1.0, 0.3], [0.3, 0.5]])]
)


def test_width_follows_the_budget():
    assert _chunks.replicates_per_call("b", 1000, 100.0, 10**6) == 10
    assert _chunks.replicates_per_call("b", 1000, 100.0, 7) == 7
    assert _chunks.replicates_per_call("b", 10**9, 100.0, 10**6, most=512) == 512
    with pytest.raises(InputError, match=r"b=.*one replicate"):
        _chunks.replicates_per_call("b", 1000, 1001.0, 10)


@pytest.mark.parametrize("gib", [0.0, -1.0, float("inf"), float("nan")])
def test_budget_must_be_positive_and_finite(gib):
    with pytest.raises(InputError, match="jax_memory_gib"):
        _chunks.memory_budget("jax_memory_gib", gib)


def test_default_budget():
    assert _chunks.memory_budget("x", None) == int(_chunks.DEFAULT_JAX_MEMORY_GIB * 2**30)


def test_chunk_keys_are_the_replicate_keys_wherever_the_chunk_starts():
    children = np.random.SeedSequence(3).spawn(3)
    block_keys = jax_block_keys(children)
    with jax.enable_x64(True):
        every = jax.random.key_data(jax_replicate_keys(block_keys, 3 * BLOCK_SIZE))
        width = 100
        per_chunk = _chunks.blocks_per_chunk(width)
        for start in (0, 200, 250, 256, 600):
            first = start // BLOCK_SIZE
            rows = np.minimum(np.arange(first, first + per_chunk), 2)
            keys = _chunks.chunk_replicate_keys(block_keys[rows], start - first * BLOCK_SIZE, width)
            stop = min(start + width, 3 * BLOCK_SIZE)
            got = np.asarray(jax.random.key_data(keys))[: stop - start]
            np.testing.assert_array_equal(got, np.asarray(every)[start:stop])


def test_run_chunks_covers_every_replicate_once():
    block_keys = np.arange(10, dtype=np.uint32).reshape(5, 2)
    seen = []

    def call(keys, offset, start, stop):
        assert keys.shape == (_chunks.blocks_per_chunk(300), 2)
        assert keys[0, 0] == 2 * (start // BLOCK_SIZE)
        assert offset == start % BLOCK_SIZE
        seen.append((start, stop))
        return [np.arange(start, start + 300)]

    (out,) = _chunks.run_chunks(call, block_keys, 1100, 300, label="t", progress=False)
    np.testing.assert_array_equal(out, np.arange(1100))
    assert seen == [(0, 300), (300, 600), (600, 900), (900, 1100)]


def test_mixture_accumulate_same_seed_same_result_for_any_budget():
    """Chunks of 3 replicates (the last one padded) against one call of all 10: bit-identical."""
    kwargs = dict(num_replicates=10, regime=ct.Accumulate(), seed=11, backend="jax")
    per_replicate = gmm_jax.bytes_per_replicate(np.full(3, 30), ACCUMULATE, 2, 2)
    whole = ct.gmm.simulate(MIX, 30, 3, **kwargs)
    gib = 3.5 * per_replicate / 2**30
    budget = _chunks.memory_budget("jax_memory_gib", gib)
    assert _chunks.replicates_per_call("jax_memory_gib", budget, per_replicate, 10) == 3
    chunked = ct.gmm.simulate(MIX, 30, 3, jax_memory_gib=gib, **kwargs)
    for name in ("weights", "means", "covs", "log_likelihood", "iterations"):
        np.testing.assert_array_equal(chunked[name], whole[name])


def test_mixture_budget_too_small_for_one_replicate():
    per_replicate = gmm_jax.bytes_per_replicate(np.full(3, 30), REPLACE, 2, 2)
    with pytest.raises(InputError, match="jax_memory_gib"):
        ct.gmm.simulate(MIX, 30, 3, backend="jax", jax_memory_gib=0.5 * per_replicate / 2**30)


def _gib_for(width: float, per_replicate: float) -> float:
    """A budget (GiB) that holds ``width`` replicates of ``per_replicate`` bytes, not one more."""
    return (width + 0.5) * per_replicate / 2**30


@pytest.mark.parametrize(
    ("mean0", "cov0", "method", "regime"),
    [(0.0, 2.0, "sufficient", ct.Replace()), (np.zeros(2), np.eye(2), "samples", ct.Accumulate())],
)
def test_gaussian_same_seed_same_result_for_any_budget(mean0, cov0, method, regime):
    """Chunks of 100 replicates (crossing block boundaries, the last one padded) against calls
    of up to 64 blocks: bit-identical."""
    kwargs = dict(num_replicates=600, method=method, regime=regime, seed=4, backend="jax")
    whole = ct.gaussian.simulate(mean0, cov0, 20, 4, **kwargs)
    code = gaussian_jax.SUFFICIENT if method == "sufficient" else gaussian_jax.SAMPLES
    gib = _gib_for(100, gaussian_jax.bytes_per_replicate(5, np.size(mean0), code))
    chunked = ct.gaussian.simulate(mean0, cov0, 20, 4, jax_memory_gib=gib, **kwargs)
    for name in whole.trajectories:
        np.testing.assert_array_equal(chunked[name], whole[name])


def test_gaussian_budget_is_checked():
    with pytest.raises(InputError, match="jax_memory_gib"):
        ct.gaussian.simulate(0.0, 1.0, 10, 2, num_replicates=4, jax_memory_gib=-1.0)
    with pytest.raises(InputError, match="jax_memory_gib"):
        ct.gaussian.simulate(0.0, 1.0, 10, 2, backend="jax", jax_memory_gib=1e-9)


#: A distribution with a zero-probability state in the middle and at the end; M K above
#: COMPARISON_BUDGET, so the categorical kernel draws by binary search.
P_SEARCH = np.array([0.3, 0.0, 0.2, 0.15, 0.1] + [0.25 / 14] * 14 + [0.0])
M_SEARCH = 1000


def test_categorical_search_path_is_taken():
    largest = categorical_jax.largest_dataset(np.array([M_SEARCH]), np.array([0]))
    assert largest * P_SEARCH.size > categorical_jax.COMPARISON_BUDGET


def test_categorical_search_same_seed_same_result_for_any_budget():
    kwargs = dict(num_replicates=300, seed=8, backend="jax")
    whole = ct.categorical.simulate(P_SEARCH, M_SEARCH, 3, **kwargs)
    sizes, fresh = np.full(3, M_SEARCH), np.zeros(3, dtype=np.int64)
    per_replicate = categorical_jax.bytes_per_replicate(sizes, fresh, P_SEARCH.size, 4)
    chunked = ct.categorical.simulate(
        P_SEARCH, M_SEARCH, 3, jax_memory_gib=_gib_for(70, per_replicate), **kwargs
    )
    np.testing.assert_array_equal(chunked["p"], whole["p"])
    np.testing.assert_array_equal(chunked["absorbed_at"], whole["absorbed_at"])


def test_categorical_search_follows_the_multinomial_law():
    """One generation from p0: C ~ Multinomial(M, p0). Per state, E[C_k / M] = p_k (z-tests);
    Pearson's X^2 = sum_k (C_k - M p_k)^2 / (M p_k) over the positive states has mean K' - 1
    exactly (the covariance structure); zero-probability states never drawn. False-alarm rate
    1e-3 over all the tests."""
    num_replicates = 4000
    run = ct.categorical.simulate(
        P_SEARCH, M_SEARCH, 1, num_replicates=num_replicates, seed=21, backend="jax"
    )
    freq = run["p"][1]
    positive = P_SEARCH > 0
    assert np.all(freq[:, ~positive] == 0)
    np.testing.assert_allclose(freq.sum(axis=1), 1.0, rtol=1e-12)
    threshold = z_threshold(1e-3, int(positive.sum()) + 1)
    for k in np.flatnonzero(positive):
        assert abs(mean_z(freq[:, k], P_SEARCH[k])) < threshold, k
    expected = M_SEARCH * P_SEARCH[positive]
    pearson = np.sum((M_SEARCH * freq[:, positive] - expected) ** 2 / expected, axis=1)
    assert abs(mean_z(pearson, positive.sum() - 1)) < threshold
