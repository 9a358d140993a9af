"""The verification engine: registry, runner mechanics, calibration, reproducibility and power."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os

import numba
import numpy as np
import pytest

import collapse_theory as ct
from collapse_theory._stats import covariance_se, mean_se, variance_se
from collapse_theory._validate import InputError
from collapse_theory.verify import Check, bonferroni_threshold

# Cheap checks (well under a second each) used for runs inside the tests.
FAST_MC = ["categorical.heterozygosity", "categorical.covariance", "categorical.variance_first"]
FAST_EXACT = [
    "categorical.eigenvalues",
    "categorical.eigenvalues_two_state",
    "categorical.loss_one_generation",
    "categorical.loss_dense_chain",
    "categorical.loss_galton_watson",
    "categorical.loss_feller",
]

REQUIRED = {
    "§1.1": ["categorical.absorption_bound"],
    "§1.2": ["categorical.martingale_mean", "categorical.fixation_first"],
    "§1.3": ["categorical.heterozygosity", "categorical.variance_first", "categorical.covariance"],
    "§1.4": ["categorical.loss_rarest", "categorical.survivors_n20"],
    "§1.5": ["categorical.eigenvalues"],
    "§1.6": ["categorical.absorption_time", "categorical.absorption_time_exact"],
    "§1.7": [
        "categorical.fresh_mix_stationary_variance",
        "categorical.fresh_split_stationary_variance",
    ],
    "§1.8": ["categorical.accumulate"],
    "§1.9": ["categorical.tail_all_lost", "categorical.tail_mass"],
}


@pytest.fixture
def plugin():
    """Register temporary checks of a fake family; removed afterwards."""
    added: list[str] = []

    def add(name: str, **kwargs) -> Check:
        defaults = dict(
            family="fake",
            section="§9.9",
            description="a fake check",
            parameters={},
            theory=lambda: 0.0,
            estimate=lambda ss, quick: (0.0, 1.0),
        )
        defaults.update(kwargs)
        check = ct.verify.register(Check(name=name, **defaults))
        added.append(name)
        return check

    yield add
    for name in added:
        ct.verify.unregister(name)


# ---------------------------------------------------------------------------------------------
# registry


def test_registry_covers_theory_section_1():
    checks = ct.verify.checks()
    names = [c.name for c in checks]
    assert len(names) == len(set(names))
    assert names == sorted(names)
    by_name = {c.name: c for c in checks}
    for section, required in REQUIRED.items():
        for name in required:
            assert by_name[name].section == section, name
    categorical = ct.verify.checks("categorical")
    assert {c.section for c in categorical} >= set(REQUIRED)
    assert len(categorical) >= 20
    for check in categorical:
        assert check.family == "categorical"
        assert check.description and check.section.startswith(("§1.", "§8.", "§9."))
        if check.is_monte_carlo:
            assert check.quick_size["num_replicates"] < check.full_size["num_replicates"]
        else:
            assert check.tolerance >= 0


def test_registry_refuses_duplicates_and_bad_checks(plugin):
    plugin("fake.one")
    with pytest.raises(ValueError, match="registered already"):
        plugin("fake.one")
    with pytest.raises(ValueError, match="kind"):
        Check("x", "f", "§1", "d", {}, lambda: 0.0, lambda s, q: (0.0, 0.0), kind="guess")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tolerance"):
        Check(
            "x",
            "f",
            "§1",
            "d",
            {},
            lambda: 0.0,
            lambda s, q: (0.0, 0.0),
            kind="exact",
            tolerance=math.nan,
        )
    with pytest.raises(ValueError, match="section"):
        Check("x", "f", "1.3", "d", {}, lambda: 0.0, lambda s, q: (0.0, 0.0))
    with pytest.raises(ValueError, match="no check named"):
        ct.verify.run(only=["categorical.no_such_check"])
    with pytest.raises(ValueError, match="family_wise_rate"):
        ct.verify.run(only=["categorical.eigenvalues"], family_wise_rate=0.0)


# ---------------------------------------------------------------------------------------------
# runner mechanics on fake checks (no simulation)


def test_seed_streams_are_keyed_by_check_name(plugin):
    def first_word(ss, quick):
        return float(ss.generate_state(1)[0]), 1.0

    for name in ("fake.a", "fake.b", "fake.c"):
        plugin(name, estimate=first_word, theory=lambda: 0.0)
    report = ct.verify.run(seed=7, only=["fake.c", "fake.a"])
    assert [r.name for r in report.rows] == ["fake.a", "fake.c"]
    for row in report.rows:
        key = int.from_bytes(hashlib.sha256(row.name.encode()).digest()[:8], "little")
        expected = float(np.random.SeedSequence(7, spawn_key=(key,)).generate_state(1)[0])
        assert row.estimate == expected


def test_calibration_and_kinds(plugin):
    plugin("fake.mc_pass", theory=lambda: 1.0, estimate=lambda ss, q: (1.3, 0.1))  # z = 3
    plugin("fake.mc_fail", theory=lambda: 1.0, estimate=lambda ss, q: (1.5, 0.1))  # z = 5
    plugin(
        "fake.exact_pass",
        kind="exact",
        tolerance=1e-9,
        theory=lambda: 1.0,
        estimate=lambda ss, q: (1.0 + 1e-10, 0.0),
    )
    plugin(
        "fake.exact_fail",
        kind="exact",
        tolerance=1e-9,
        theory=lambda: 1.0,
        estimate=lambda ss, q: (1.0 + 1e-6, 0.0),
    )
    plugin(
        "fake.bound_pass",
        kind="upper-bound",
        theory=lambda: 0.04,
        estimate=lambda ss, q: (0.01, 0.0),
    )
    plugin(
        "fake.bound_fail",
        kind="upper-bound",
        theory=lambda: 0.04,
        estimate=lambda ss, q: (0.05, 0.0),
    )

    def broken(ss, quick):
        raise RuntimeError("kaput")

    plugin("fake.broken", estimate=broken)
    report = ct.verify.run(only=["fake."], family_wise_rate=1e-3)
    assert report.num_monte_carlo == 3
    z_star = bonferroni_threshold(1e-3, 3)
    assert report.z_threshold == pytest.approx(z_star)
    assert 3.0 < z_star < 5.0
    passed = {row.name: row.passed for row in report.rows}
    assert passed == {
        "fake.bound_fail": False,
        "fake.bound_pass": True,
        "fake.broken": False,
        "fake.exact_fail": False,
        "fake.exact_pass": True,
        "fake.mc_fail": False,
        "fake.mc_pass": True,
    }
    row = report["fake.mc_pass"]
    assert row.z == pytest.approx(3.0)
    assert row.p_value == pytest.approx(math.erfc(3 / math.sqrt(2)))
    assert "kaput" in report["fake.broken"].error
    assert not report.passed
    text = report.format()
    assert text.splitlines()[-1] == "3 passed, 4 failed"
    assert "family-wise false-alarm rate 0.001" in text and "Bonferroni" in text
    assert "| fake.mc_fail |" in report.to_markdown()
    json.dumps(report.to_dict())  # serialisable (non-finite numbers become None)


def test_bonferroni_threshold():
    assert bonferroni_threshold(0.05, 1) == pytest.approx(1.959964, abs=1e-6)
    assert bonferroni_threshold(1e-3, 20) == pytest.approx(4.0556, abs=1e-3)
    assert bonferroni_threshold(1e-3, 0) == math.inf


def test_standard_errors_are_calibrated():
    """The SEs of mean, sample variance and covariance match their spread over repetitions."""
    rng = np.random.default_rng(3)
    draws = rng.exponential(size=(400, 2000))
    other = draws + rng.normal(size=draws.shape)
    for estimator, args in (
        (mean_se, (draws,)),
        (variance_se, (draws,)),
        (covariance_se, (draws, other)),
    ):
        pairs = np.array([estimator(*(a[i] for a in args)) for i in range(draws.shape[0])])
        spread = pairs[:, 0].std(ddof=1)
        assert pairs[:, 1].mean() == pytest.approx(spread, rel=0.1), estimator.__name__


# ---------------------------------------------------------------------------------------------
# the categorical checks


def test_subset_passes_and_is_reproducible(tmp_path):
    only = FAST_MC + FAST_EXACT
    first = ct.verify.run(quick=True, seed=0, only=only)
    assert first.passed, first.format()
    second = ct.verify.run(quick=True, seed=0, only=only)
    for a, b in zip(first.rows, second.rows, strict=True):
        assert (a.theory, a.estimate, a.stderr) == (b.theory, b.estimate, b.stderr)
    # a smaller subset reproduces the numbers of the larger run exactly
    alone = ct.verify.run(quick=True, seed=0, only=[FAST_MC[1]])
    assert alone.rows[0].estimate == first[FAST_MC[1]].estimate
    assert alone.rows[0].stderr == first[FAST_MC[1]].stderr
    # another seed gives other numbers
    other = ct.verify.run(quick=True, seed=1, only=[FAST_MC[1]])
    assert other.rows[0].estimate != alone.rows[0].estimate
    md, js, page, *figures = first.save(tmp_path)
    assert [f.name for f in figures] == ["verify_categorical.png"]  # the run's only family
    assert page.read_text().count("data:image/png;base64,") == 1
    assert md.read_text().startswith("# collapse_theory verification report")
    data = json.loads(js.read_text())
    assert data["passed"] and len(data["rows"]) == len(only)
    assert set(data["versions"]) >= {"python", "numpy", "numba", "collapse_theory"}


@pytest.fixture(scope="module")
def full_quick_report(quick_report_seed0):
    """The whole quick suite at seed 0 (shared with the family test files)."""
    return quick_report_seed0


def test_quick_suite_passes_and_subsets_reproduce_it(full_quick_report):
    report = full_quick_report
    assert report.passed, report.format()
    assert len(report.rows) == len(ct.verify.checks())
    assert report.num_failed == 0
    assert report.format().splitlines()[-1] == report.summary_line()
    assert report.summary_line().startswith(f"{len(report.rows)} passed, 0 failed")
    subset = ct.verify.run(quick=True, seed=0, only=["categorical.tail_mass", FAST_MC[0]])
    for row in subset.rows:
        full = report[row.name]
        assert (row.theory, row.estimate, row.stderr, row.z) == (
            full.theory,
            full.estimate,
            full.stderr,
            full.z,
        )


def test_power_wrong_heterozygosity_is_caught(monkeypatch):
    original = ct.categorical.expected_heterozygosity
    monkeypatch.setattr(
        ct.categorical,
        "expected_heterozygosity",
        lambda *args, **kwargs: 1.05 * np.asarray(original(*args, **kwargs)),
    )
    report = ct.verify.run(seed=0, only=["categorical.heterozygosity"])
    row = report.rows[0]
    assert not row.passed and row.error is None
    # the simulation estimates the true value, theory / 1.05: z is the 5 % shift in standard
    # errors up to a N(0, 1) error (within 5 of it: a false alarm rate below 1e-6)
    shift = abs(row.theory - row.theory / 1.05) / row.stderr
    assert shift > 5 * report.z_threshold and abs(abs(row.z) - shift) < 5


def test_power_wrong_moments_are_caught(monkeypatch):
    original = ct.categorical.moments

    def wrong(*args, **kwargs):
        mean, cov = original(*args, **kwargs)
        return mean, 1.05 * np.asarray(cov)

    monkeypatch.setattr(ct.categorical, "moments", wrong)
    report = ct.verify.run(seed=0, only=["categorical.variance_first", "categorical.covariance"])
    assert [row.passed for row in report.rows] == [False, False]


@pytest.mark.parametrize(
    ("function", "check"),
    [
        ("loss_probability", "categorical.loss_dense_chain"),
        ("loss_probability", "categorical.loss_one_generation"),
        ("absorption_bound", "categorical.absorption_bound"),
    ],
)
def test_exact_checks_fail_on_wrong_formula(monkeypatch, function, check):
    original = getattr(ct.categorical, function)
    factor = 0.2 if function == "absorption_bound" else 1.05  # a bound that is too small
    monkeypatch.setattr(
        ct.categorical, function, lambda *a, **k: factor * np.asarray(original(*a, **k))
    )
    report = ct.verify.run(seed=0, only=[check])
    assert not report.passed and report.rows[0].error is None


def test_eigenvalue_check_fails_on_wrong_spectrum(monkeypatch):
    original = ct.categorical.eigenvalues

    def wrong(num_samples, num_states=2):
        values, multiplicities = original(num_samples, num_states)
        values = np.asarray(values, dtype=float).copy()
        values[-1] *= 1.05
        return values, multiplicities

    monkeypatch.setattr(ct.categorical, "eigenvalues", wrong)
    report = ct.verify.run(only=["categorical.eigenvalues", "categorical.eigenvalues_two_state"])
    assert [row.passed for row in report.rows] == [False, False]


# ---------------------------------------------------------------------------------------------
# estimator notes, streaming, worker processes, bound rows


def test_estimators_may_return_notes_and_two_tuples_still_work(plugin):
    plugin("fake.plain", theory=lambda: 1.0, estimate=lambda ss, q: (1.1, 0.1))
    plugin(
        "fake.noted",
        theory=lambda: 1.0,
        estimate=lambda ss, q: (1.1, 0.1, {"top_share": 0.9}),
    )
    plugin("fake.bad_notes", estimate=lambda ss, q: (1.0, 0.1, [0.9]))
    plugin("fake.four", estimate=lambda ss, q: (1.0, 0.1, {}, 0))
    report = ct.verify.run(only=["fake."])
    plain, noted = report["fake.plain"], report["fake.noted"]
    assert plain.passed and plain.notes == {} and plain.se_trusted
    assert math.isnan(plain.top_share)
    assert noted.passed and noted.z == pytest.approx(plain.z)  # the verdict is the z-test's
    assert noted.top_share == 0.9 and not noted.se_trusted
    assert "notes must be a mapping" in report["fake.bad_notes"].error
    assert "(estimate, stderr)" in report["fake.four"].error
    assert report.num_untrusted == 1
    assert report.summary_line() == "2 passed, 2 failed; 1 with an untrusted standard error"
    text = report.format()
    assert text.splitlines()[-1] == report.summary_line()
    assert "0.9 untrusted" in text and "  fake.noted: top share 0.900" in text
    data = report.to_dict()
    row = next(r for r in data["rows"] if r["name"] == "fake.noted")
    assert row["notes"] == {"top_share": 0.9} and row["se_trusted"] is False
    assert data["num_untrusted"] == 1
    json.dumps(data)


def test_bound_and_exact_rows_say_what_they_check(plugin, tmp_path):
    plugin(
        "fake.bound",
        kind="upper-bound",
        theory=lambda: -1.4,
        estimate=lambda ss, q: (-2.42, 0.0),
    )
    plugin("fake.exact", kind="exact", tolerance=1e-9, estimate=lambda ss, q: (0.0, 0.0))
    report = ct.verify.run(only=["fake."])
    header, body = report.table()
    cells = dict(zip(header, body[0], strict=True))
    assert cells["theory/bound"] == "-1.4" and cells["estimate"] == "-2.42"
    assert cells["criterion"] == "estimate <= bound" and cells["pass"] == "PASS"
    assert dict(zip(header, body[1], strict=True))["criterion"] == "|estimate - theory| <= 1e-09"
    assert ct.verify.runner.criterion("upper-bound", 1e-6) == "estimate <= bound + 1e-06"
    assert "estimate <= bound" in report.to_markdown()
    md, _, page = report.save(tmp_path / "report", figures=False)
    assert "estimate &lt;= bound" in page.read_text() and ct.verify.runner.LEGEND in md.read_text()


def test_save_creates_the_directory_asked_for_never_its_parents(plugin, tmp_path):
    plugin("fake.one")
    report = ct.verify.run(only=["fake.one"])
    with pytest.raises(InputError, match="does not exist"):
        report.save(tmp_path / "missing" / "report", figures=False)
    assert not (tmp_path / "missing").exists()
    paths = report.save(tmp_path / "report", figures=False)
    assert all(path.parent == tmp_path / "report" for path in paths)


def test_stream_prints_header_first_rows_as_they_finish_and_the_summary_last(plugin):
    printed: list[str] = []

    class Stream(io.StringIO):
        def write(self, text: str) -> int:
            printed.append(text)
            return super().write(text)

    def estimate(ss, quick):
        # the rows of the checks before this one are out already
        assert any("fake.a" in chunk for chunk in printed)
        return 0.0, 1.0

    plugin("fake.a")
    plugin("fake.b", estimate=estimate)
    stream = Stream()
    report = ct.verify.run(only=["fake."], stream=stream)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("collapse_theory verify (quick), seed 0")
    assert lines[2].startswith("calibration: ") and lines[4].split()[:2] == ["name", "section"]
    assert [line.split()[0] for line in lines[5:7]] == ["fake.a", "fake.b"]
    assert lines[-1] == report.summary_line() == "2 passed, 0 failed"
    assert lines[-2].startswith("2 checks in ")
    assert lines[5].index("PASS") == lines[6].index("PASS") == lines[4].index("pass")


def test_compilation_is_announced_once():
    calls = []
    with ct.verify.runner._watch_compilation(lambda: calls.append(1)):
        for offset in (1, 2):  # two functions never compiled before: two compile events
            numba.njit(cache=False)(lambda x, k=offset: x + k)(1.0)
    assert calls == [1]
    with ct.verify.runner._watch_compilation(lambda: calls.append(2)):
        pass  # nothing compiled: no notice
    assert calls == [1]


def test_workers_give_the_numbers_of_a_serial_run(plugin):
    only = ["categorical.heterozygosity", "categorical.loss_feller", "gaussian.std", "fake."]
    plugin("fake.seeded", estimate=lambda ss, q: (float(ss.generate_state(1)[0]), 1.0))
    serial = ct.verify.run(seed=5, only=only)
    parallel = ct.verify.run(seed=5, only=only, workers=2)
    assert [r.name for r in parallel.rows] == [r.name for r in serial.rows]
    for a, b in zip(serial.rows, parallel.rows, strict=True):
        numbers = np.array([[r.theory, r.estimate, r.stderr, r.z] for r in (a, b)])
        np.testing.assert_array_equal(numbers[0], numbers[1])  # NaN z of exact rows included
        assert a.notes == b.notes and a.passed == b.passed
    with pytest.raises(InputError, match="workers"):
        ct.verify.run(only=only, workers=0)


def test_a_dead_worker_fails_its_checks_and_not_the_run(plugin):
    """A worker that dies (here at its first fake check) costs the rows it had not sent; the
    run still returns, with the other checks' rows."""
    plugin("fake.dies", estimate=lambda ss, q: os._exit(3))
    plugin("fake.after")
    report = ct.verify.run(only=["fake.", "categorical.loss_feller"], workers=2)
    assert report["categorical.loss_feller"].passed  # the other worker starts on it
    dead = report["fake.dies"]
    assert not dead.passed and "exited with code [3]" in dead.error
    after = report["fake.after"]  # run by a surviving worker, or lost with a dead one
    assert after.passed or "exited with code" in after.error


def test_a_worker_leaves_a_compiling_family_to_its_owner_until_nothing_else_is_left():
    """Two workers compiling the same kernels at once would each pay for it: a worker starts an
    unstarted family, goes on with its own, joins another's whose checks have compiled nothing
    (after its first check: the one with the most checks left), waits for a first check, and
    only then joins a family that compiles, if its worker is not compiling now; it stops when
    every check is claimed."""
    wait = ct.verify.runner._WAIT
    owners = [0, 1, 1]  # worker 0 started family 0, worker 1 families 1 and 2

    def claim(sizes, claimed, finished, compiled, me, owner=owners, running=(-1, -1), **kw):
        compiling = kw.pop("compiling", (0, 0))
        return ct.verify.runner._claim(
            sizes, claimed, finished, compiled, owner, running, compiling, me, **kw
        )

    sizes = [3, 2, 1]
    assert claim(sizes, [0, 0, 0], [0, 0, 0], [0, 0, 0], 0, owner=[-1, -1, -1]) == (0, 0)
    assert claim(sizes, [1, 0, 0], [0, 0, 0], [5, 0, 0], 1, owner=[0, -1, -1]) == (1, 0)
    assert claim(sizes, [1, 1, 1], [0, 0, 0], [0, 0, 0], 0) == (0, 1)  # its own
    assert claim(sizes, [1, 1, 1], [0, 0, 0], [0, 0, 0], 2) == wait  # first checks running
    assert claim(sizes, [1, 1, 1], [0, 1, 1], [0, 0, 0], 2) == (1, 1)
    assert claim(sizes, [1, 1, 1], [0, 1, 1], [0, 0, 0], 1) == (1, 1)  # its own
    assert claim(sizes, [3, 1, 1], [1, 1, 1], [0, 0, 0], 0) == (1, 1)  # joins
    assert claim(sizes, [3, 1, 1], [1, 0, 1], [0, 0, 0], 0) == wait
    # a worker has exited, perhaps dead in that first check: nobody waits for it
    assert claim(sizes, [3, 1, 1], [1, 0, 1], [0, 0, 0], 0, anywhere=True) == (1, 1)
    assert claim(sizes, [3, 1, 1], [3, 1, 1], [0, 4, 0], 0) == (1, 1)  # nothing else
    assert claim(sizes, [1, 2, 1], [1, 2, 1], [4, 0, 0], 1, owner=[-1, 1, 1]) == (0, 1)  # dead
    assert claim(sizes, [3, 2, 1], [2, 1, 1], [0, 0, 0], 0) is None
    # nothing else left: a family no other worker runs now before one another worker runs
    two = [3, 2, 2]
    assert claim(two, [3, 1, 1], [3, 1, 1], [0, 1, 1], 0, running=[-1, 1]) == (2, 1)
    assert claim(two, [3, 1, 1], [3, 1, 1], [0, 1, 1], 0, running=[-1, 2]) == (1, 1)
    assert claim(two, [3, 1, 1], [3, 1, 1], [0, 1, 1], 0) == (1, 1)
    # ... and waits while another worker compiles the only family left, unless one has exited
    last = ([3, 2, 1], [3, 1, 1], [0, 1, 1], 0)
    assert claim(two, *last, running=[-1, 2], compiling=[0, 1]) == wait
    assert claim(two, *last, running=[-1, 2], compiling=[0, 0]) == (2, 1)
    assert claim(two, *last, running=[-1, 2], compiling=[0, 1], anywhere=True) == (2, 1)
