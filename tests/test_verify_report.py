"""Issue 5: calibration over seeds, the HTML report with family figures, coverage of the four
families, power of the GMM checks, and the absorption-time law behind the §1.6 figure."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

import collapse_theory as ct
from collapse_theory.cli import main
from collapse_theory.verify import Check
from collapse_theory.verify.calibration import Calibration, calibrate, clopper_pearson

FAST = ["categorical.heterozygosity", "categorical.covariance"]


@pytest.fixture
def fake_checks():
    """Register fake Monte Carlo checks drawing z ~ N(0, spread²); removed afterwards."""
    names: list[str] = []

    def add(name: str, spread: float) -> str:
        def estimate(ss: np.random.SeedSequence, quick: bool) -> tuple[float, float]:
            return float(np.random.default_rng(ss).normal(0.0, spread)), 1.0

        ct.verify.register(
            Check(
                name=name,
                family="fake",
                section="§9.9",
                description="fake",
                parameters={},
                theory=lambda: 0.0,
                estimate=estimate,
            )
        )
        names.append(name)
        return name

    yield add
    for name in names:
        ct.verify.unregister(name)


def _calibration(z: np.ndarray, rate: float = 1e-3) -> Calibration:
    return Calibration(
        names=tuple(f"c{j}" for j in range(z.shape[1])),
        seeds=np.arange(z.shape[0]),
        z=z,
        z_threshold=ct.verify.bonferroni_threshold(rate, z.shape[1]),
        family_wise_rate=rate,
        quick=True,
        seconds=0.0,
    )


# ---------------------------------------------------------------------------------------------
# calibration statistics


def test_clopper_pearson_matches_beta_quantiles():
    low, high = clopper_pearson(3, 50)
    assert low == pytest.approx(stats.beta.ppf(0.025, 3, 48))
    assert high == pytest.approx(stats.beta.ppf(0.975, 4, 47))
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0


def test_calibration_counts_failed_runs_and_errors():
    z = np.zeros((10, 3))
    z[2, 1] = 10.0  # one failure
    z[5, :] = 9.0  # a run failing three times counts once
    z[7, 0] = np.nan  # an error counts as a failure
    cal = _calibration(z)
    assert cal.failed_runs == 3
    assert cal.observed_rate == pytest.approx(0.3)
    assert cal.excess_p_value == pytest.approx(stats.binom.sf(2, 10, 1e-3))
    assert not cal.consistent
    per_check = {row["name"]: row for row in cal.per_check()}
    assert per_check["c0"]["errors"] == 1 and per_check["c1"]["failures"] == 2


def test_calibration_of_standard_normal_z_is_consistent():
    z = np.random.default_rng(1).standard_normal((400, 20))
    cal = _calibration(z)
    assert cal.consistent
    levels = cal.pooled_levels()
    for row in levels:  # each pooled rate inside a 99.9 % binomial interval of its level
        assert stats.binom.cdf(row["count"], row["total"], row["level"]) > 5e-4
        assert stats.binom.sf(row["count"] - 1, row["total"], row["level"]) > 5e-4
    assert cal.ks()[1] > 1e-3


def test_calibrate_detects_an_understated_standard_error(fake_checks):
    """A check whose SE is 3x too small fails often: the calibration says so (the converse of
    the consistent case above, run through the real runner)."""
    good = fake_checks("fake.good", 1.0)
    bad = fake_checks("fake.bad", 3.0)
    honest = calibrate(40, only=[good])
    assert honest.consistent  # (a test at the 1 % level, fixed seeds)
    wrong = calibrate(40, only=[good, bad])
    assert wrong.failed_runs >= 5 and not wrong.consistent
    worst = max(wrong.per_check(), key=lambda row: row["sd_z"])
    assert worst["name"] == bad and worst["sd_z"] > 2.0
    assert "TOO MANY FAILURES" in wrong.format()


@pytest.mark.slow  # eight verify runs: the calibration's bookkeeping, not its statistics
def test_calibrate_replays_verify_and_resumes(tmp_path):
    first = calibrate(3, first_seed=5, only=FAST, out=tmp_path)
    for i, seed in enumerate(first.seeds):
        report = ct.verify.run(seed=int(seed), only=FAST)
        assert [report[name].z for name in first.names] == first.z[i].tolist()
    lines = (tmp_path / "calibration_runs.jsonl").read_text().splitlines()
    assert len(lines) == 3
    # a longer calibration reuses the three finished seeds and runs only the new ones
    again = calibrate(5, first_seed=5, only=FAST, out=tmp_path)
    assert len((tmp_path / "calibration_runs.jsonl").read_text().splitlines()) == 5
    np.testing.assert_array_equal(again.z[:3], first.z)
    files = again.save(tmp_path)
    assert {f.name for f in files} >= {"calibration.md", "calibration.json", "calibration.png"}
    data = json.loads((tmp_path / "calibration.json").read_text())
    assert data["num_seeds"] == 5 and data["family_wise_rate"] == 1e-3


def test_calibrate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_seeds"):
        calibrate(0, only=FAST)
    with pytest.raises(ValueError, match="selects no Monte Carlo check"):
        calibrate(2, only=["categorical.eigenvalues"])
    with pytest.raises(ValueError, match="family_wise_rate"):
        calibrate(2, only=FAST, family_wise_rate=1.5)


def test_cli_calibrate(tmp_path, capsys):
    code = main(["verify", "--calibrate", "--seeds", "2", "--only", *FAST, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "stated family-wise false-alarm rate: 0.001" in out
    assert "observed: 0 of 2 runs failed" in out
    assert (tmp_path / "calibration.md").exists()


# ---------------------------------------------------------------------------------------------
# the report: families, figures, HTML, backend


def test_checks_cover_the_four_families():
    names = [check.name for check in ct.verify.checks()]
    groups = {
        "categorical": [n for n in names if n.startswith("categorical.")],
        "gaussian 1-D": [
            n for n in names if n.startswith("gaussian.") and not n.startswith("gaussian.mv_")
        ],
        "multivariate": [n for n in names if n.startswith("gaussian.mv_")],
        "gmm": [n for n in names if n.startswith("gmm.")],
    }
    assert len(names) >= 30
    assert all(len(group) >= 5 for group in groups.values()), {k: len(v) for k, v in groups.items()}


def test_full_report_html_embeds_every_family_figure(quick_report_seed0, tmp_path):
    report = quick_report_seed0
    assert report.passed, report.format()
    assert report.backend == "numba"
    md, js, page, *figures = report.save(tmp_path)
    assert [f.stem for f in figures] == [
        "verify_categorical",
        "verify_gaussian",
        "verify_multivariate",
        "verify_gmm",
        "verify_poisson",
        "verify_kde",
        "verify_regression",
    ]
    assert all(f.with_suffix(".pdf").exists() for f in figures)
    html = page.read_text()
    assert html.count("data:image/png;base64,") == len(figures)
    assert "src='figures/" not in html  # self-contained
    assert all(row.name in html for row in report.rows)
    assert "figures/verify_gmm.png" in md.read_text()
    assert json.loads(js.read_text())["backend"] == "numba"


def test_power_gmm_checks_catch_a_five_percent_error(monkeypatch):
    original = ct.gaussian.expected_variance
    monkeypatch.setattr(
        ct.gaussian, "expected_variance", lambda *a, **k: 1.05 * np.asarray(original(*a, **k))
    )
    report = ct.verify.run(only=["gmm.one_component_variance"])
    assert not report.passed and abs(report.rows[0].z) > 5


def test_adding_a_check_changes_no_other_stream(fake_checks):
    before = ct.verify.run(seed=3, only=FAST)
    fake_checks("categorical.aaa_fake", 1.0)  # sorts before every categorical check
    after = ct.verify.run(seed=3, only=FAST)
    assert [r.estimate for r in before.rows] == [r.estimate for r in after.rows]


# ---------------------------------------------------------------------------------------------
# absorption-time law (§1.6)


@pytest.mark.parametrize("p", [0.5, 0.3, 0.05])
def test_absorption_survival_exact_approaches_diffusion(p):
    """The diffusion is the M -> infinity limit with an O(1/M) error: at fixed scaled times t/M
    the largest gap between the two laws halves (within 25 %) each time M doubles."""
    scaled = np.array([0.1, 0.5, 1.0, 2.0, 4.0])
    gaps = []
    for m in (200, 400, 800):
        t = np.rint(scaled * m)
        exact = ct.categorical.absorption_time_survival(p, m, t.astype(int))
        diffusion = ct.categorical.absorption_time_survival(p, m, t, method="diffusion")
        gaps.append(np.max(np.abs(exact - diffusion)))
    ratios = np.array(gaps[:-1]) / np.array(gaps[1:])
    assert np.all((ratios > 1.5) & (ratios < 2.5)), (gaps, ratios)


def test_absorption_survival_matches_the_dense_chain():
    """Exact law vs brute force: powers of the dense (M+1)x(M+1) binomial chain."""
    from collapse_theory.categorical.checks import binomial_chain

    m, p = 30, 0.3
    matrix = binomial_chain(m)
    start = stats.binom.pmf(np.arange(m + 1), m, p)  # the first generation
    brute = []
    law = start
    for _ in range(1, 61):
        brute.append(1.0 - law[0] - law[-1])
        law = law @ matrix
    exact = ct.categorical.absorption_time_survival(p, m, np.arange(1, 61))
    np.testing.assert_allclose(exact, brute, atol=1e-12)


def test_absorption_survival_diffusion_mean_is_kimura():
    t = np.linspace(0.0, 40.0, 40_001)[1:] * 50
    survival = ct.categorical.absorption_time_survival(0.2, 50, t, method="diffusion")
    mean = integrate.trapezoid(survival, t) + t[0] * 1.0  # P(T > t) = 1 on (0, t[0])
    kimura = -2 * 50 * (0.2 * math.log(0.2) + 0.8 * math.log(0.8))
    assert mean == pytest.approx(kimura, rel=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p": 0.0}, "p"),
        ({"p": 1.0}, "p must be in"),
        ({"p": float("nan")}, "p"),
        ({"num_samples": 0}, "num_samples"),
        ({"generations": -1}, "generations"),
        ({"method": "kimura"}, "method"),
        ({"generations": -1.0, "method": "diffusion"}, "generations"),
    ],
)
def test_absorption_survival_bad_input(kwargs, match):
    arguments = {"p": 0.5, "num_samples": 20, "generations": 10, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        ct.categorical.absorption_time_survival(**arguments)


@settings(max_examples=40, deadline=None)
@given(
    p=st.floats(1e-6, 1 - 1e-6),
    m=st.integers(1, 300),
    method=st.sampled_from(["exact", "diffusion"]),
)
def test_absorption_survival_is_a_survival_function(p, m, method):
    t = np.array([1, 2, 5, 20, 100, 1000])
    survival = ct.categorical.absorption_time_survival(p, m, t, method=method)
    assert np.all(np.isfinite(survival)) and np.all((survival >= 0) & (survival <= 1))
    assert np.all(np.diff(survival) <= 1e-9)  # non-increasing in t
