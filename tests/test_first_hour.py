"""The first hour of a new user (issue 13): memory guards before allocation, files written only
where asked (and read back by the same name), one integer policy, no silent overflow, one return
type per kind of input, the command line's error policy, and the heavy-tail diagnostic of every
Monte Carlo summary."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import collapse_theory as ct
from collapse_theory import _stats, _validate, results
from collapse_theory._cli import UsageError, integer
from collapse_theory._validate import (
    InputError,
    InputTypeError,
    as_float_array,
    check_generations,
    check_int,
)
from collapse_theory.categorical import markov
from collapse_theory.categorical import theory as ctheory
from collapse_theory.cli import build_parser, main
from collapse_theory.gaussian import theory as gtheory

# --------------------------------------------------------------------------------------------
# memory: refused before anything large is allocated

#: Calls whose arrays would need far more than the memory limit (4 GiB by default).
HUGE_CALLS = {
    "gaussian.simulate": "ct.gaussian.simulate(0.0, 1.0, 10, 10**9, seed=0)",
    "gaussian.simulate record last": (
        "ct.gaussian.simulate(0.0, 1.0, 10, 10**9, num_replicates=1, record='last')"
    ),
    "categorical.simulate": "ct.categorical.simulate([0.5, 0.5], 10, 10**9)",
    "categorical.simulate record last": (
        "ct.categorical.simulate([0.5, 0.5], 10, 10**9, num_replicates=1, record='last')"
    ),
    "categorical.simulate states": (
        "ct.categorical.simulate(np.full(10**6, 1e-6), 10, 10, num_replicates=10**4)"
    ),
    "gaussian samples buffer": (
        "ct.gaussian.simulate(0.0, 1.0, 10**12, 2, num_replicates=1, method='samples')"
    ),
    "gaussian.expected_std": "ct.gaussian.expected_std(ct.schedules.Linear(10, 0.5), 10**9)",
    "gaussian.w2_squared_moments": "ct.gaussian.w2_squared_moments(10, 10**9)",
    "categorical.moments accumulate": (
        "ct.categorical.moments([0.5, 0.5], 10, 10**9, regime=ct.Accumulate())"
    ),
    "categorical.loss_probability gw": (
        "ct.categorical.loss_probability(0.1, 10, 10**10, method='galton-watson')"
    ),
    "categorical.loss_probability feller": (
        "ct.categorical.loss_probability(0.1, ct.schedules.Linear(10, 1.0), 10**9, 'feller')"
    ),
    "categorical.absorption_time_survival diffusion": (
        "ct.categorical.absorption_time_survival(0.5, 10**6, np.ones(10**6), 'diffusion')"
    ),
    "schedules.sizes": "ct.schedules.Constant(10).sizes(10**10)",
}

_MEMORY_SCRIPT = """
import json, resource, sys
import numpy as np
import collapse_theory as ct
from collapse_theory._validate import InputError

ct.categorical.simulate([0.5, 0.5], 10, 3, num_replicates=4, seed=0)  # compile, warm up
ct.gaussian.simulate(0.0, 1.0, 10, 3, num_replicates=4, seed=0)
ct.gaussian.simulate(0.0, 1.0, 10, 3, num_replicates=4, seed=0, method="samples")
with open("/proc/self/status") as status:
    size_kib = int(next(line for line in status if line.startswith("VmSize:")).split()[1])
# Address space: what the process has now plus 512 MiB. Any array of a GiB fails with a
# MemoryError instead of an InputError; an RSS limit (RLIMIT_RSS) is not enforced by Linux.
limit = size_kib * 1024 + 512 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcomes = {}
for label, call in json.loads(sys.argv[1]).items():
    try:
        eval(call)
        outcomes[label] = "returned"
    except InputError as error:
        outcomes[label] = "InputError: " + str(error)
    except BaseException as error:
        outcomes[label] = type(error).__name__ + ": " + str(error)
growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"outcomes": outcomes, "peak_rss_growth_kib": growth}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resource limits, /proc")
def test_huge_requests_are_refused_under_a_memory_limit():
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, json.dumps(HUGE_CALLS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for label, outcome in report["outcomes"].items():
        assert outcome.startswith("InputError: "), (label, outcome)
        assert "would allocate about" in outcome and "above the limit of 4 GiB" in outcome, outcome
    assert report["peak_rss_growth_kib"] < 200 * 1024


def test_refusals_name_the_arguments_and_the_size():
    with pytest.raises(InputError, match=r"num_generations=1000000000, num_replicates=1000") as e:
        ct.gaussian.simulate(0.0, 1.0, 10, 10**9, seed=0)
    assert "14.6 TiB" in str(e.value) and "record 'last'" in str(e.value)
    with pytest.raises(InputError, match=r"generations up to 1000000000 \(96 bytes"):
        ct.gaussian.expected_variance(ct.schedules.Linear(10, 0.5), 10**9)
    with pytest.raises(InputError, match=r"method='samples' on 1 thread"):
        ct.gaussian.simulate(0.0, 1.0, 10**12, 2, method="samples", num_threads=1)


def test_the_memory_limit_is_one_setting(monkeypatch):
    small = dict(num_replicates=100, record="all", seed=0)  # 21 x 100 x 4 values: 67 KiB
    monkeypatch.setenv(_validate.MEMORY_LIMIT_VARIABLE, str(1 / 1024))  # 1 MiB
    assert ct.categorical.simulate([0.25] * 4, 10, 20, **small)["p"].shape == (21, 100, 4)
    monkeypatch.setenv(_validate.MEMORY_LIMIT_VARIABLE, str(32 / 2**20))  # 32 KiB
    with pytest.raises(InputError, match=r"above the limit of 32 KiB"):
        ct.categorical.simulate([0.25] * 4, 10, 20, **small)
    with pytest.raises(InputError, match="above the limit of 32 KiB"):
        ct.gaussian.expected_std(ct.schedules.Linear(10, 0.5), 1000)
    monkeypatch.setenv(_validate.MEMORY_LIMIT_VARIABLE, "lots")
    with pytest.raises(InputError, match="COLLAPSE_THEORY_MEMORY_LIMIT_GIB must be a number"):
        _validate.memory_limit()
    monkeypatch.delenv(_validate.MEMORY_LIMIT_VARIABLE)
    assert _validate.memory_limit() == 4 * 2**30


# --------------------------------------------------------------------------------------------
# files


def _small_run() -> ct.SimulationResult:
    return ct.categorical.simulate([0.5, 0.3, 0.2], 10, 5, num_replicates=50, seed=1)


def test_save_and_load_accept_the_same_name(tmp_path, monkeypatch):
    run = _small_run()
    assert run.save(tmp_path / "x") == tmp_path / "x.npz"
    assert run.save(tmp_path / "y.v2") == tmp_path / "y.v2.npz"
    monkeypatch.chdir(tmp_path)
    for name in ("x", "x.npz", tmp_path / "x", "y.v2"):
        np.testing.assert_array_equal(ct.SimulationResult.load(name)["p"], run["p"])
    with pytest.raises(FileNotFoundError):
        ct.SimulationResult.load("z")
    (tmp_path / "plain.txt").write_text("not an archive")
    with pytest.raises(InputError, match="not a collapse_theory result"):
        ct.SimulationResult.load("plain.txt")


def test_save_never_creates_a_directory(tmp_path):
    target = tmp_path / "missing" / "run.npz"
    with pytest.raises(InputError, match=r"path: the directory .*missing.* does not exist"):
        _small_run().save(target)
    assert not (tmp_path / "missing").exists()


def test_equal_results_give_equal_files(tmp_path):
    a, b = _small_run().save(tmp_path / "a"), _small_run().save(tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


def test_compression_where_it_pays(tmp_path):
    """Categorical frequencies compress (many zeros and repeated k/M), Gaussian doubles do not:
    the default compresses the first and stores the second (the measured sizes and times are
    in the docstring of collapse_theory.results)."""
    cat = ct.categorical.simulate(ct.categorical.zipf(200), 20, 30, num_replicates=200, seed=0)
    gauss = ct.gaussian.simulate(0.0, 1.0, 10, 30, num_replicates=2000, seed=0)
    for run, array, compressed in ((cat, "p", True), (gauss, "var", False)):
        path = run.save(tmp_path / array)
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(f"trajectory__{array}.npy")
        expected = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
        assert info.compress_type == expected
        assert (info.compress_size < info.file_size / 2) is compressed
        np.testing.assert_array_equal(ct.SimulationResult.load(path)[array], run[array])
    forced = gauss.save(tmp_path / "forced", compress=True)
    with zipfile.ZipFile(forced) as archive:
        assert archive.getinfo("trajectory__var.npy").compress_type == zipfile.ZIP_DEFLATED


def test_large_files_are_announced(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "LARGE_FILE_BYTES", 1000)
    with pytest.warns(UserWarning, match=r"wrote .* KiB to .*big\.npz.*record fewer"):
        _small_run().save(tmp_path / "big")


SIM = ["simulate", "categorical", "--p0", "uniform:3", "--num-samples", "10"]


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code: int, err: str, needle: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("collapse-theory: error: "), err
    assert needle in lines[0], lines[0]


def test_cli_outputs_never_create_missing_parents(capsys, tmp_path):
    missing = tmp_path / "nonexistent_dir"
    code, out, err = _cli(capsys, *SIM, "--generations", "3", "--out", f"{missing}/run.npz")
    _one_line_error(code, err, "--out: the directory")
    assert out == ""  # refused before the simulation, not after it
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'function = "categorical.theory.expected_heterozygosity"\nseed = 0\n'
        "[fixed]\np0 = [0.5, 0.5]\ngenerations = 3\n[grid]\nnum_samples = [5, 10]\n"
    )
    code, _, err = _cli(capsys, "sweep", str(spec), "--out", str(missing / "sweep"))
    _one_line_error(code, err, "does not exist")
    code, _, err = _cli(capsys, "figures", "variance_law", "--out", str(missing / "figs"))
    _one_line_error(code, err, "does not exist")
    assert not missing.exists()
    code, _, _ = _cli(capsys, "sweep", str(spec), "--out", str(tmp_path / "sweep"))
    assert code == 0 and (tmp_path / "sweep" / "index.json").is_file()  # asked for: created


def test_cli_files_that_cannot_be_read_or_written_are_usage_errors(capsys, tmp_path):
    (tmp_path / "taken.npz").mkdir()  # --out names a directory: open() fails with an OSError
    code, _, err = _cli(capsys, *SIM, "--generations", "3", "--out", str(tmp_path / "taken"))
    _one_line_error(code, err, "--out: cannot write")
    code, _, err = _cli(capsys, "sweep", str(tmp_path / "no-spec.toml"), "--out", str(tmp_path))
    _one_line_error(code, err, "cannot read the sweep spec")


# --------------------------------------------------------------------------------------------
# numbers: one integer policy, reals are numbers, no silent overflow


def _integer_arguments() -> list[tuple[str, object]]:
    """(label, call taking the integer under test) for every integer argument of the shared
    machinery and the categorical and Gaussian families."""
    M = ct.schedules
    return [
        ("categorical.simulate num_samples", lambda v: ct.categorical.simulate([0.5, 0.5], v, 2)),
        ("categorical.simulate num_generations", lambda v: ct.categorical.simulate([1.0], 5, v)),
        (
            "categorical.simulate num_replicates",
            lambda v: ct.categorical.simulate([1.0], 5, 2, num_replicates=v),
        ),
        ("categorical.simulate record", lambda v: ct.categorical.simulate([1.0], 5, 5, record=[v])),
        ("categorical.simulate seed", lambda v: ct.categorical.simulate([1.0], 5, 2, seed=v)),
        (
            "categorical.simulate num_threads",
            lambda v: ct.categorical.simulate([1.0], 5, 2, num_threads=v),
        ),
        (
            "categorical.simulate chunk_size",
            lambda v: ct.categorical.simulate([1.0], 5, 2, chunk_size=v),
        ),
        ("gaussian.simulate num_samples", lambda v: ct.gaussian.simulate(0.0, 1.0, v, 2)),
        ("gaussian.simulate num_generations", lambda v: ct.gaussian.simulate(0.0, 1.0, 5, v)),
        (
            "gaussian.simulate num_replicates",
            lambda v: ct.gaussian.simulate(0.0, 1.0, 5, 2, num_replicates=v),
        ),
        ("gaussian.simulate record", lambda v: ct.gaussian.simulate(0.0, 1.0, 5, 5, record=[v])),
        ("gaussian.simulate seed", lambda v: ct.gaussian.simulate(0.0, 1.0, 5, 2, seed=v)),
        ("expected_variance generations", lambda v: ct.gaussian.expected_variance(10, v)),
        ("expected_variance num_samples", lambda v: ct.gaussian.expected_variance(v, 3)),
        ("log_variance_cumulants order", lambda v: ct.gaussian.log_variance_cumulants(10, 3, v)),
        ("w2_squared_moments num_generations", lambda v: ct.gaussian.w2_squared_moments(10, v)),
        ("lyapunov_exponents dim", lambda v: ct.gaussian.lyapunov_exponents(v, 10)),
        ("expected_det generations", lambda v: ct.gaussian.expected_det(np.eye(2), 10, v)),
        ("loss_probability generations", lambda v: ct.categorical.loss_probability(0.1, 10, v)),
        ("loss_probability num_samples", lambda v: ct.categorical.loss_probability(0.1, v, 3)),
        (
            "expected_heterozygosity generations",
            lambda v: ct.categorical.expected_heterozygosity([0.5, 0.5], 10, v),
        ),
        ("eigenvalues num_states", lambda v: ct.categorical.eigenvalues(10, v)),
        ("eigenvalues max_index", lambda v: ct.categorical.eigenvalues(10, 2, max_index=v)),
        ("zipf num_states", lambda v: ct.categorical.zipf(v)),
        ("lumped_distribution generation", lambda v: markov.lumped_distribution(0.3, 10, v)),
        ("composition_chain num_states", lambda v: markov.composition_chain(v, 3)),
        ("Constant m", lambda v: M.Constant(v)),
        ("Linear m0", lambda v: M.Linear(v, 1.0)),
        ("Explicit values", lambda v: M.Explicit([10, v])),
        ("sizes num_generations", lambda v: M.Constant(10).sizes(v)),
        ("as_seed_sequence seed", lambda v: ct.rng.as_seed_sequence(v)),
        ("spawn count", lambda v: ct.rng.spawn(0, v)),
        ("SimulationResult.at generation", lambda v: _small_run().at("p", v)),
    ]


INTEGER_ARGUMENTS = _integer_arguments()


@pytest.mark.parametrize(
    ("label", "call"), INTEGER_ARGUMENTS, ids=[a for a, _ in INTEGER_ARGUMENTS]
)
def test_one_integer_policy(label, call):
    """Every integer argument takes 3, np.int64(3) and a 0-d integer array, and refuses the
    integral float 3.0 and 1e3 (with the policy in the message), the string "3" and True."""
    for good in (3, np.int64(3), np.array(3)):
        call(good)
    for bad in (3.0, 1e3, np.float64(3.0)):
        with pytest.raises(InputTypeError, match="floats are refused even when integral"):
            call(bad)
    for bad in ("3", True):
        with pytest.raises(InputTypeError):
            call(bad)


def test_strings_are_not_numbers():
    for call in (
        lambda: ct.categorical.loss_probability("0.001", 10, 5),
        lambda: ct.categorical.loss_probability([0.1, "0.2"], 10, 5),
        lambda: ct.categorical.simulate(["0.5", "0.5"], 10, 2),
        lambda: ct.categorical.expected_heterozygosity([True, False], 10, 2),
        lambda: ct.gaussian.expected_variance(10, 3, var0="1"),
        lambda: ct.gaussian.simulate("0", 1.0, 10, 2),
        lambda: ct.gaussian.prob_variance_below("0.1", 10, 3),
        lambda: ct.metrics.kl_categorical(["0.5", "0.5"], [0.5, 0.5]),
    ):
        with pytest.raises(InputTypeError, match="must be a real number"):
            call()


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=5),
        st.booleans(),
        st.none(),
        st.complex_numbers(),
    )
)
def test_fuzz_integer_and_real_policies_agree(value):
    is_int = isinstance(value, int) and not isinstance(value, bool)
    try:
        assert check_int("x", value) == value and is_int
    except InputTypeError:
        assert not is_int
    if is_int and abs(value) < 2**63:
        assert check_generations("x", [abs(value)]).tolist() == [abs(value)]
    elif not is_int:
        with pytest.raises(InputTypeError):
            check_generations("x", [value])
    real = isinstance(value, (int, float)) and not isinstance(value, bool)
    try:
        array = as_float_array("x", value)
        assert real and math.isfinite(value) and float(array) == float(value)
    except InputTypeError:
        assert not real
    except InputError:
        assert real and not math.isfinite(float(value))


def test_overflowing_models_are_refused_up_front():
    for call, needle in (
        (lambda: ct.gaussian.simulate(0.0, 1e308, 10, 50), "cov0 \\(largest variance 1e\\+308"),
        (lambda: ct.gaussian.simulate(0.0, var0=1e308, num_samples=10, num_generations=5), "var0"),
        (lambda: ct.gaussian.simulate(1e306, 1.0, 1000, 5), "largest \\|mean\\| 1e\\+306"),
        (lambda: ct.gaussian.simulate(np.zeros(2), np.eye(2) * 1e307, 10, 5), "cov0"),
    ):
        with pytest.raises(InputError, match=needle + ".*overflow float64.*scale-equivariant"):
            call()


def test_an_overflow_during_the_run_is_refused_at_the_end():
    # M = 2: sigma^2 is multiplied by chi2_1 every generation; from 5e305 some chains leave the
    # float range within 30 generations (about 5 % of them).
    with pytest.raises(InputError, match=r"overflows float64: \d+ of 31000 values"):
        ct.gaussian.simulate(0.0, 5e305, 2, 30, num_replicates=1000, seed=0)


def test_closed_forms_refuse_a_scale_that_overflows():
    for call in (
        lambda: ct.gaussian.variance_of_variance(10, 5, var0=1e200),
        lambda: ct.gaussian.mean_squared_drift(10, 10**6, var0=1e305),
        lambda: ct.gaussian.w2_squared_moments(10, 3, var0=1e200),
        lambda: ct.gaussian.expected_det(np.eye(2) * 1e200, 10, 1),
        lambda: ct.gaussian.trace_moments(np.eye(2) * 1e200, 10, 5),
    ):
        with pytest.raises(InputError, match="makes the result overflow float64"):
            call()
    # beyond the float range for var0 = 1 itself: inf (3^1000), as documented
    with np.errstate(over="ignore"):
        assert math.isinf(ct.gaussian.variance_of_variance(2, 1000))


# --------------------------------------------------------------------------------------------
# return types of the closed forms: a float for scalars, an ndarray for arrays

P3 = [0.5, 0.3, 0.2]
#: Closed forms whose result is one value per generation: call(generations) for a scalar and
#: for an array of generations.
_PER_GENERATION = {
    "categorical": {
        "expected_heterozygosity": lambda g: ctheory.expected_heterozygosity(P3, 10, g),
        "loss_probability": lambda g: ctheory.loss_probability(0.2, 10, g),
        "loss_probability galton-watson": lambda g: ctheory.loss_probability(
            0.2, 10, g, "galton-watson"
        ),
        "loss_probability feller": lambda g: ctheory.loss_probability(0.2, 10, g, "feller"),
        "expected_survivors": lambda g: ctheory.expected_survivors(P3, 10, g),
        "expected_survivors feller": lambda g: ctheory.expected_survivors(P3, 10, g, "feller"),
        "absorption_time_survival": lambda g: ctheory.absorption_time_survival(0.3, 10, g),
        "absorption_time_survival diffusion": lambda g: ctheory.absorption_time_survival(
            0.3, 10, g, "diffusion"
        ),
        "absorption_bound": lambda g: ctheory.absorption_bound(P3, 10, g),
        "tail_loss": None,  # the tail law (tails.py, not part of this sweep)
    },
    "gaussian": {
        "expected_variance": lambda g: gtheory.expected_variance(10, g),
        "expected_variance accumulate": lambda g: gtheory.expected_variance(
            10, g, regime=ct.Accumulate()
        ),
        "expected_variance fresh": lambda g: gtheory.expected_variance(
            10, g, regime=ct.FreshData(0.2)
        ),
        "mean_squared_drift": lambda g: gtheory.mean_squared_drift(10, g, estimator="mle"),
        "fresh_draw_variance": lambda g: gtheory.fresh_draw_variance(10, g),
        "expected_std": lambda g: gtheory.expected_std(10, g),
        "variance_of_variance": lambda g: gtheory.variance_of_variance(10, g),
        "prob_variance_below": lambda g: gtheory.prob_variance_below(0.1, 10, g),
        "prob_variance_below normal": lambda g: gtheory.prob_variance_below(
            0.1, 10, g, method="normal"
        ),
        "expected_w2_squared": lambda g: gtheory.expected_w2_squared(10, g),
        "w2_lower_bound": lambda g: gtheory.w2_lower_bound(10, g),
        "w2_first_order": lambda g: gtheory.w2_first_order(10, g),
        "w2_first_order_isotropic": lambda g: gtheory.w2_first_order_isotropic(1.0, 2, 10, g),
        "expected_log_det": lambda g: gtheory.expected_log_det(np.eye(2), 10, g),
        "variance_log_det": lambda g: gtheory.variance_log_det(np.eye(2), 10, g),
        "expected_det": lambda g: gtheory.expected_det(np.eye(2), 10, g),
        "expected_mean_drift": lambda g: gtheory.expected_mean_drift(np.eye(2), 10, g),
        "trace_moments": lambda g: gtheory.trace_moments(np.eye(2), 10, g),
        "w2_squared_bounds": lambda g: gtheory.w2_squared_bounds(np.eye(2), 10, g),
        "expected_tail_mass": None,  # the tail law (tails.py)
    },
}
#: Closed forms with extra axes or a structured result: always ndarrays (or a dataclass); and
#: optimal_fresh_weight, which has no generation argument (a float).
_STRUCTURED = {
    "categorical": {
        "AbsorptionTime",
        "TailLoss",
        "absorption_time",
        "eigenvalues",
        "fixation_probabilities",
        "moments",
        "optimal_fresh_weight",
        "stationary_moments",
        "transition_matrix",
        "zipf",
    },
    "gaussian": {
        "log_variance_cumulants",
        "lyapunov_exponents",
        "optimal_fresh_weight",
        "stationary_moments",
        "w2_squared_moments",
    },
}


def test_the_return_type_sweep_covers_every_closed_form():
    for family, module in (("categorical", ctheory), ("gaussian", gtheory)):
        named = {label.split()[0] for label in _PER_GENERATION[family]}
        assert named | _STRUCTURED[family] == set(module.__all__), family


_CASES = [
    (family, label, call)
    for family, calls in _PER_GENERATION.items()
    for label, call in calls.items()
    if call is not None
]


@pytest.mark.parametrize(("family", "label", "call"), _CASES, ids=[c[1] for c in _CASES])
def test_one_return_type_per_kind_of_input(family, label, call):
    def parts(result: object) -> tuple:
        return result if isinstance(result, tuple) else (result,)

    for value in parts(call(3)) + parts(call(np.int64(3))):
        assert type(value) is np.float64, (label, type(value))
    for generations in ([1, 3], np.array([[1], [3]])):
        for value in parts(call(generations)):
            assert isinstance(value, np.ndarray), (label, type(value))
            assert value.shape == np.shape(generations)


def test_scalar_results_elsewhere_are_floats_too():
    v, d = gtheory.stationary_moments(20, ct.FreshData(0.2))
    assert type(v) is np.float64 and type(d) is np.float64
    prob, bound = markov.lumped_loss_probability(0.2, 10, 3)
    assert type(prob) is np.float64 and type(bound) is np.float64
    assert isinstance(markov.lumped_loss_probability(0.2, 10, [3])[0], np.ndarray)


# --------------------------------------------------------------------------------------------
# the command line: inline p0, integer bounds, usage errors and tracebacks, --debug


def test_inline_p0(capsys, tmp_path):
    argv = ["simulate", "categorical", "--num-samples", "10", "--generations", "4"]
    code, _out, err = _cli(
        capsys, *argv, "--p0", "0.001,0.999", "--replicates", "50", "--seed", "2",
        "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 0, err
    np.testing.assert_array_equal(
        ct.SimulationResult.load(tmp_path / "run")["p"][0, 0], [0.001, 0.999]
    )
    code, _, err = _cli(capsys, *argv, "--p0", "0.5,0.6")
    _one_line_error(code, err, "p0 must sum to 1")
    code, _, err = _cli(capsys, *argv, "--p0", "0.5,x")
    _one_line_error(code, err, "comma-separated probabilities (e.g. 0.001,0.999)")


def _integer_options() -> list[tuple[str, argparse.Action]]:
    """Every integer option of the commands in the shared machinery and the categorical and
    Gaussian families (verify, gmm-paper and tail-loss belong to their own modules)."""
    parser = build_parser()
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    simulate = top.choices["simulate"]
    models = next(a for a in simulate._actions if isinstance(a, argparse._SubParsersAction))
    commands = {
        "simulate categorical": models.choices["categorical"],
        "simulate gaussian": models.choices["gaussian"],
        "figures": top.choices["figures"],
        "sweep": top.choices["sweep"],
    }
    options = []
    for name, command in commands.items():
        for action in command._actions:
            if getattr(action.type, "__name__", None) in ("int", "integer"):
                options.append((f"{name} {action.option_strings[0]}", action))
    return options


INTEGER_OPTIONS = _integer_options()


@pytest.mark.parametrize(("label", "action"), INTEGER_OPTIONS, ids=[a for a, _ in INTEGER_OPTIONS])
def test_integer_options_state_and_enforce_one_bound(label, action):
    assert action.type.__name__ == "integer", label  # the shared helper, not int
    stated = action.help.split("(an integer >= ")[1].split(";")[0].split(")")[0]
    minimum = int(stated)
    assert action.type(str(minimum)) == minimum
    with pytest.raises(argparse.ArgumentTypeError, match=f"must be an integer >= {minimum}; got"):
        action.type(str(minimum - 1))
    with pytest.raises(argparse.ArgumentTypeError, match="floats are refused even when integral"):
        action.type("1e3")


def test_cli_and_library_state_the_same_bound(capsys):
    base = ["simulate", "categorical", "--p0", "uniform:2", "--generations", "3"]
    code, _, err = _cli(capsys, *base, "--num-samples", "-5")
    _one_line_error(code, err, "argument --num-samples: must be an integer >= 1; got -5")
    code, _, err = _cli(capsys, *base, "--num-samples", "0")
    _one_line_error(code, err, "must be an integer >= 1; got 0")
    with pytest.raises(InputError, match="num_samples must be an integer >= 1; got 0"):
        ct.categorical.simulate([0.5, 0.5], 0, 3)
    assert integer("--num-samples", minimum=1)("7") == check_int("num_samples", 7, minimum=1)


def test_only_input_errors_are_usage_errors(capsys, monkeypatch):
    assert issubclass(UsageError, InputError) and issubclass(InputTypeError, TypeError)
    argv = [*SIM, "--generations", "3", "--replicates", "10"]

    def broken(*args, **kwargs):
        raise ValueError("a bug, not bad input")

    monkeypatch.setattr(ct.categorical, "simulate", broken)
    with pytest.raises(ValueError, match="a bug, not bad input"):  # a traceback, exit status 1
        main(argv)
    monkeypatch.undo()
    code, _, err = _cli(capsys, *SIM, "--generations", "3", "--replicates", "0")
    _one_line_error(code, err, "must be an integer >= 1")


def test_debug_shows_the_traceback_of_a_usage_error(capsys):
    code, _, err = _cli(capsys, "--debug", *SIM, "--generations", "3", "--record", "0,99")
    assert code == 2
    assert err.startswith("Traceback (most recent call last):")
    assert "InputError: record must be <= 3" in err
    assert err.strip().splitlines()[-1].startswith("collapse-theory: error: record must be <= 3")


def test_a_bug_exits_1_with_a_traceback():
    script = textwrap.dedent(
        """
        import sys
        import collapse_theory as ct
        from collapse_theory.cli import main
        def broken(*args, **kwargs):
            raise ZeroDivisionError("a bug")
        ct.categorical.simulate = broken
        sys.exit(main(sys.argv[1:]))
        """
    )
    argv = [*SIM, "--generations", "3"]
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "ZeroDivisionError: a bug" in done.stderr


# --------------------------------------------------------------------------------------------
# heavy tails: every Monte Carlo summary carries the diagnostic of its standard error


def test_summary_flags_the_heavy_tailed_gaussian_variance(capsys):
    """n = 100, M = 10: the mean of sigma_n^2 rests on a handful of replicates (relative SD of
    sigma_100^2 about 23 000, docs/theory.md §6); its SE must not read as a plain mean +- SE."""
    run = ct.gaussian.simulate(0.0, 1.0, 10, 100, num_replicates=2000, seed=0, record=[0, 5, 100])
    summary = run.summary("var")
    share = _stats.top_share(run["var"][-1])
    assert summary.top_share[-1] == share and share > _stats.TOP_SHARE_LIMIT
    assert not summary.se_trusted[-1] and summary.se_text(2) == results.UNTRUSTED
    text = summary.format()
    assert results.UNTRUSTED_NOTE in text
    assert text.splitlines()[-2].split()[2] == results.UNTRUSTED  # generation 100's stderr
    code, out, _ = _cli(
        capsys, "simulate", "gaussian", "--var0", "1", "--num-samples", "10",
        "--generations", "100", "--replicates", "2000", "--seed", "0", "--record", "0,5,100",
    )  # fmt: skip
    assert code == 0
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("100 "))
    assert row[5] == results.UNTRUSTED  # var SE
    assert results.UNTRUSTED_NOTE in out


def test_summary_trusts_a_light_tailed_mean():
    run = ct.gaussian.simulate(0.0, 1.0, 100, 5, num_replicates=2000, seed=0)
    summary = run.summary("var")
    assert np.all(summary.se_trusted)
    assert results.UNTRUSTED not in summary.format()
    categorical = ct.categorical.simulate([0.5, 0.3, 0.2], 20, 10, num_replicates=500, seed=0)
    assert np.all(categorical.summary("p").se_trusted)
    assert categorical.summary("p").top_share.shape == (11, 3)
