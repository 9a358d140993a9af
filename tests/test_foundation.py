"""Schedules, regimes, seeds, results and shared validation."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import collapse_theory as ct
from collapse_theory import rng as ct_rng
from collapse_theory._validate import check_generations, check_record
from collapse_theory.results import SimulationResult, summarize
from collapse_theory.schedules import sample_sizes


def test_schedule_sizes_follow_their_formulas():
    np.testing.assert_array_equal(ct.schedules.Constant(7).sizes(3), [7, 7, 7])
    np.testing.assert_array_equal(ct.schedules.Linear(20, 20).sizes(4), [20, 40, 60, 80])
    np.testing.assert_array_equal(ct.schedules.Power(20, 2.0).sizes(3), [20, 80, 180])
    np.testing.assert_array_equal(ct.schedules.Geometric(10, 2.0).sizes(4), [10, 20, 40, 80])
    np.testing.assert_array_equal(ct.schedules.Geometric(10, 0.5).sizes(6), [10, 5, 2, 1, 1, 1])
    np.testing.assert_array_equal(ct.schedules.Explicit([3, 4, 5]).sizes(2), [3, 4])
    np.testing.assert_array_equal(sample_sizes(5, 2), [5, 5])
    assert sample_sizes(5, 0).size == 0


@pytest.mark.parametrize(
    ("schedule", "diverges"),
    [
        (ct.schedules.Constant(10), True),
        (ct.schedules.Linear(10, 3.0), True),
        (ct.schedules.Power(10, 1.0), True),
        (ct.schedules.Power(10, 1.01), False),
        (ct.schedules.Power(10, 2.0), False),
        (ct.schedules.Geometric(10, 1.0), True),
        (ct.schedules.Geometric(10, 1.1), False),
        (ct.schedules.Explicit([1, 2]), False),
    ],
)
def test_harmonic_sum_criterion(schedule, diverges):
    assert schedule.harmonic_sum_diverges is diverges
    if diverges and not isinstance(schedule, ct.schedules.Explicit):
        # Partial sums keep growing: the sum over the second half of 10^5 generations is not small.
        sizes = schedule.sizes(100_000)
        assert np.sum(1.0 / sizes[50_000:]) > 1e-4 * np.sum(1.0 / sizes[:50_000])


@pytest.mark.parametrize(
    ("make", "error", "needle"),
    [
        (lambda: ct.schedules.Constant(0), ValueError, "m"),
        (lambda: ct.schedules.Constant(2.5), TypeError, "m"),
        (lambda: ct.schedules.Linear(10, -1.0), ValueError, "slope"),
        (lambda: ct.schedules.Power(10, float("inf")), ValueError, "exponent"),
        (lambda: ct.schedules.Geometric(10, 0.0), ValueError, "ratio"),
        (lambda: ct.schedules.Explicit([]), ValueError, "values"),
        (lambda: ct.schedules.Explicit([3, 0]), ValueError, r"values\[1\]"),
        (lambda: ct.schedules.Explicit(5), TypeError, "values"),
        (lambda: ct.schedules.Explicit([1, 2]).sizes(3), ValueError, "num_generations"),
        (lambda: ct.schedules.Geometric(10, 10.0).sizes(100), ValueError, "largest"),
        (lambda: ct.schedules.Constant(3).sizes(-1), ValueError, "num_generations"),
        (lambda: sample_sizes(3.0, 2), TypeError, "num_samples"),
    ],
)
def test_bad_schedules_are_refused(make, error, needle):
    with pytest.raises(error, match=needle):
        make()


def test_regimes_are_frozen_values():
    assert ct.FreshData(0.1) == ct.FreshData(0.1, "mix")
    with pytest.raises(AttributeError):
        ct.FreshData(0.1).fraction = 0.2  # type: ignore[misc]


def test_seed_sequences_and_blocks():
    assert ct_rng.block_bounds(600, 256) == [(0, 256), (256, 512), (512, 600)]
    a = ct_rng.block_generators(5, 600)
    b = ct_rng.block_generators(5, 600)
    assert len(a) == 3
    for x, y in zip(a, b, strict=True):
        assert x.random() == y.random()
    draws = [g.random() for g in ct_rng.block_generators(5, 600)]
    assert len(set(draws)) == 3
    meta = ct_rng.seed_metadata(ct_rng.as_seed_sequence(5))
    assert meta == {"entropy": 5, "spawn_key": []}
    json.dumps(ct_rng.seed_metadata(ct_rng.as_seed_sequence(None)))
    with pytest.raises(TypeError, match="seed"):
        ct_rng.as_seed_sequence(1.5)


def test_run_blocks_returns_in_block_order():
    seen = []
    out = ct_rng.run_blocks(lambda b: b * b, 7, num_threads=3, chunk_size=2, on_done=seen.append)
    assert out == [b * b for b in range(7)]
    assert sum(seen) == 7


def test_result_save_load_round_trip(tmp_path):
    run = ct.categorical.simulate(
        [0.5, 0.3, 0.2], 10, 6, num_replicates=40, seed=1, record=[0, 3, 6]
    )
    path = run.save(tmp_path / "run")
    assert path.suffix == ".npz"
    back = SimulationResult.load(path)
    np.testing.assert_array_equal(back.generations, run.generations)
    np.testing.assert_array_equal(back["p"], run["p"])
    np.testing.assert_array_equal(back["absorbed_at"], run["absorbed_at"])
    assert back.metadata["parameters"]["p0"] == [0.5, 0.3, 0.2]
    assert back.metadata["backend"] == "numba"
    with zipfile.ZipFile(path) as archive:  # readable without the library
        meta = json.loads(archive.read("metadata.json"))
    assert meta["model"] == "categorical"
    assert meta["collapse_theory_version"] == ct.__version__
    with np.load(path) as raw:
        assert "trajectory__p" in raw.files


def test_load_refuses_foreign_files(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, x=np.arange(3))
    with pytest.raises(ValueError, match="metadata"):
        SimulationResult.load(path)


def test_summary_matches_numpy():
    values = np.random.default_rng(0).normal(size=(3, 101))
    s = summarize("x", values, np.array([0, 1, 2]), quantiles=(0.1, 0.9))
    np.testing.assert_allclose(s.mean, values.mean(axis=1))
    np.testing.assert_allclose(s.median, np.median(values, axis=1))
    np.testing.assert_allclose(s.stderr, values.std(axis=1, ddof=1) / np.sqrt(101))
    np.testing.assert_allclose(s.quantile_values, np.quantile(values, [0.1, 0.9], axis=1))
    assert "generation" in s.format()
    run = ct.categorical.simulate([0.5, 0.5], 10, 4, num_replicates=30, seed=0)
    assert run.summary("p").mean.shape == (5, 2)
    with pytest.raises(KeyError, match="p"):
        run.summary("q")
    with pytest.raises(ValueError, match="not recorded"):
        run.at("p", 99)


def test_record_and_generation_checks():
    np.testing.assert_array_equal(check_record("all", 3), [0, 1, 2, 3])
    np.testing.assert_array_equal(check_record((3, 1, 1), 3), [1, 3])
    np.testing.assert_array_equal(check_generations("generations", np.array([1, 2])), [1, 2])
    with pytest.raises(TypeError, match="floats are refused even when integral"):
        check_generations("generations", np.array([1.0, 2.0]))  # the one integer policy
    with pytest.raises(TypeError, match="generations"):
        check_generations("generations", 1.5)
    with pytest.raises(TypeError, match="generations"):
        check_generations("generations", True)
    with pytest.raises(ValueError, match="generations"):
        check_generations("generations", [-1])


@settings(max_examples=50, deadline=None)
@given(
    kind=hs.sampled_from(["constant", "linear", "power", "geometric"]),
    m0=hs.integers(1, 10**6),
    rate=hs.floats(0.0, 3.0),
    num_generations=hs.integers(0, 200),
)
def test_fuzz_schedules_give_positive_integer_sizes(kind, m0, rate, num_generations):
    schedule = {
        "constant": lambda: ct.schedules.Constant(m0),
        "linear": lambda: ct.schedules.Linear(m0, rate),
        "power": lambda: ct.schedules.Power(m0, rate),
        "geometric": lambda: ct.schedules.Geometric(m0, max(rate, 1e-3)),
    }[kind]()
    try:
        sizes = schedule.sizes(num_generations)
    except ValueError as error:
        assert "largest supported sample size" in str(error)
        return
    assert sizes.dtype == np.int64 and sizes.shape == (num_generations,)
    assert np.all(sizes >= 1)
