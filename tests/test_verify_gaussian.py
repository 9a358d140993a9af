"""The Gaussian checks of ``collapse-theory verify`` (docs/theory.md §2-3)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import collapse_theory as ct
from collapse_theory._stats import proportion_se
from collapse_theory.gaussian.checks import COV3, bures_w2_squared

SECTIONS = (
    {f"§2.{i}" for i in range(2, 10)} | {f"§3.{i}" for i in range(2, 7)} | {"§8.2", "§9.1", "§10"}
)


def gaussian_checks() -> list[ct.verify.Check]:
    return ct.verify.checks("gaussian")


def test_registered_unique_and_covering_sections():
    checks = gaussian_checks()
    names = [check.name for check in checks]
    assert len(names) == len(set(names)) >= 40
    assert all(name.startswith("gaussian.") for name in names)
    assert {check.section for check in checks} == SECTIONS
    kinds = {check.kind for check in checks}
    assert kinds == {"monte-carlo", "exact", "upper-bound"}
    for check in checks:
        if check.is_monte_carlo:
            quick, full = check.size(True), check.size(False)
            assert full["num_replicates"] == 20 * quick["num_replicates"]


@pytest.fixture(scope="module")
def quick_report(quick_report_seed0) -> ct.verify.Report:
    """The whole quick suite at seed 0 (run once per session, see conftest.py)."""
    return quick_report_seed0


def test_all_pass_quick_seed0(quick_report):
    rows = [r for r in quick_report.rows if r.name.startswith("gaussian.")]
    failed = [(r.name, r.z, r.error) for r in rows if not r.passed]
    assert not failed, failed
    assert len(rows) == len(gaussian_checks())


# docs/theory.md's check values, reproduced by the checks' closed forms
SPEC_VALUES = {
    "gaussian.std": (0.5744, 4),
    "gaussian.variance_of_variance": (0.2214, 4),
    "gaussian.log_variance_mean": (-2.3041, 4),
    "gaussian.log_variance_var": (4.975, 3),
    "gaussian.prob_below_m10_n20": (0.4929, 4),
    "gaussian.prob_below_m50_n100": (0.10607, 5),
    "gaussian.prob_below_normal": (0.10573, 5),
    "gaussian.prob_below_edgeworth": (0.10608, 5),
    "gaussian.mean_drift": (2.0, 6),
    "gaussian.w2_m100_n50": (0.7372, 4),
    "gaussian.w2_schedule_linear": (0.4881, 4),
    "gaussian.w2_schedule_square": (0.1241, 4),
    "gaussian.mle_variance_m10_n20": (0.1216, 4),
    "gaussian.mle_mean_drift": (0.8784, 4),
    "gaussian.mle_w2": (1.5994, 4),
    "gaussian.fresh_split_stationary_variance": (1.1290, 4),
    "gaussian.fresh_split_stationary_drift": (0.1532, 4),
    "gaussian.accumulate_variance": (0.9356, 4),
    "gaussian.accumulate_drift": (0.16231, 5),
    "gaussian.mv_mean_drift_samples": (4.375, 3),
    "gaussian.mv_log_det_mean": (-9.486, 3),
    "gaussian.mv_det": (0.5134, 4),
    "gaussian.mv_trace_var": (1.3755, 4),
    "gaussian.tail_mean_m100_n50": (0.0270, 4),
}


@pytest.mark.parametrize("name", sorted(SPEC_VALUES))
def test_theory_reproduces_spec_values(name):
    value, digits = SPEC_VALUES[name]
    assert round(ct.verify.get(name).theory(), digits) == pytest.approx(value, abs=10.0**-digits)


def test_monte_carlo_rows_have_standard_errors(quick_report):
    assert quick_report["gaussian.mle_conservation"].theory == pytest.approx(1.0, abs=1e-12)
    assert quick_report["gaussian.fresh_draw_variance"].theory == pytest.approx(3.0, abs=1e-12)
    for row in (r for r in quick_report.rows if r.name.startswith("gaussian.")):
        if row.kind == "monte-carlo":
            assert row.stderr > 0 and np.isfinite(row.z)


@pytest.mark.parametrize(
    ("function", "check"),
    [
        ("expected_w2_squared", "gaussian.w2_m100_n50"),
        ("expected_variance", "gaussian.mle_variance_m100_n50"),
        ("expected_std", "gaussian.std"),
        ("expected_det", "gaussian.mv_det"),
        ("trace_moments", "gaussian.mv_trace_var_mle"),
    ],
)
def test_power_against_five_percent_error(monkeypatch, function, check):
    """A closed form off by 5% makes its check fail (z far beyond the threshold)."""
    original = getattr(ct.gaussian, function)

    def patched(*args, **kwargs):
        value = original(*args, **kwargs)
        if isinstance(value, tuple):
            return tuple(1.05 * np.asarray(v) for v in value)
        return 1.05 * np.asarray(value)

    monkeypatch.setattr(ct.gaussian, function, patched)
    report = ct.verify.run(quick=True, seed=0, only=[check])
    row = report[check]
    assert not row.passed
    # it would fail in the full suite too (Bonferroni over every Monte Carlo check registered)
    num_mc = sum(c.is_monte_carlo for c in ct.verify.checks())
    assert abs(row.z) > ct.verify.bonferroni_threshold(1e-3, num_mc)


def test_bound_and_exact_checks_fail_when_broken(monkeypatch):
    monkeypatch.setattr(
        ct.gaussian, "w2_squared_bounds", lambda *a, **k: (np.asarray(0.1), np.asarray(1.0))
    )
    monkeypatch.setattr(
        ct.gaussian, "lyapunov_exponents", lambda *a, **k: np.array([-0.1, -0.25, -0.4])
    )
    report = ct.verify.run(only=["gaussian.mv_w2_upper_bound", "gaussian.lyapunov_formula"], seed=0)
    assert len(report.rows) == 3 and report.num_failed == 3  # lyapunov_formula{,_mle}


def test_check_reproducible_from_seed():
    one = ct.verify.run(seed=4, only=["gaussian.std_samples"])["gaussian.std_samples"]
    two = ct.verify.run(seed=4, only=["gaussian.std_samples"])["gaussian.std_samples"]
    assert one.estimate == two.estimate and one.stderr == two.stderr


def test_bures_helper_matches_metrics():
    """The §3.6 checks' one-sided Bures helper agrees with metrics.w2_gaussian (broadcast over
    the stack, and replicate by replicate) to rounding; it is kept only for the bits of the
    recorded verify estimates (see its docstring)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 3, 3))
    covs = a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(3)
    means = rng.standard_normal((6, 3))
    mean0 = np.array([0.5, 0.0, -1.0])
    fast = bures_w2_squared(means, covs, mean0, COV3)
    broadcast = ct.metrics.w2_gaussian(means, covs, mean0, COV3, squared=True)
    slow = [
        ct.metrics.w2_gaussian(m, c, mean0, COV3, squared=True)
        for m, c in zip(means, covs, strict=True)
    ]
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(broadcast, slow, rtol=1e-14, atol=1e-15)


def test_one_dimensional_w2_estimate_is_metrics_w2_gaussian_to_the_bit():
    """The §2.5-2.6 checks average metrics.w2_gaussian against N(0, 1): the same numbers as the
    formula mu^2 + (sigma - 1)^2 they were recorded with."""
    from collapse_theory.gaussian.checks import _w2_1d

    rng = np.random.default_rng(1)
    mu, var = 0.3 * rng.standard_normal(5000), rng.chisquare(9, 5000) / 9
    w2 = mu * mu + (np.sqrt(var) - 1.0) ** 2
    mean, se, notes = _w2_1d(mu, var)
    assert (mean, se) == ct._stats.mean_se(w2)
    assert notes == {"top_share": ct._stats.top_share(w2)}


def test_proportion_se():
    p, se = proportion_se(np.array([True, False, False, True]))
    assert p == 0.5 and se == pytest.approx(0.25)


# ---------------------------------------------------------------------------------------------
# the heavy-tail diagnostic of a Monte Carlo mean's standard error (docs/theory.md §6)


@pytest.fixture
def variance_checks():
    """Two temporary checks of the Gaussian chain at M = 10, n = 100, R = 10^4: the mean of
    sigma_n^2 (relative SD about 2.3e4: heavy-tailed) and of ln sigma_n^2 (light-tailed)."""
    from collapse_theory._stats import mean_estimate

    def simulated(ss):
        run = ct.gaussian.simulate(0.0, 1.0, 10, 100, num_replicates=10_000, seed=ss, record="last")
        return run["var"][-1]

    checks = {
        "heavy.variance": (
            lambda: float(ct.gaussian.expected_variance(10, 100)),
            lambda ss, quick: mean_estimate(simulated(ss)),
        ),
        "heavy.log_variance": (
            lambda: float(ct.gaussian.log_variance_cumulants(10, 100, 1)[0]),
            lambda ss, quick: mean_estimate(np.log(simulated(ss))),
        ),
    }
    for name, (theory, estimate) in checks.items():
        ct.verify.register(
            ct.verify.Check(name, "heavy", "§2.5", name, {"M": 10, "n": 100}, theory, estimate)
        )
    yield list(checks)
    for name in checks:
        ct.verify.unregister(name)


def test_heavy_tail_flag_on_the_variance_at_n100_m10(variance_checks, tmp_path):
    """E sigma_n^2 = 1 at M = 10, n = 100, but 1 % of the replicates carry nearly all of the
    spread: the naive SE is about 240x too small, and the row must say so; the log-variance of
    the same runs is light-tailed and is not flagged."""
    report = ct.verify.run(seed=0, only=["heavy."])
    heavy, light = report["heavy.variance"], report["heavy.log_variance"]
    assert heavy.top_share > 0.9 and not heavy.se_trusted
    exact_se = np.sqrt(float(ct.gaussian.variance_of_variance(10, 100)) / 10_000)
    assert heavy.stderr < exact_se / 10  # the naive SE is far too small indeed
    assert light.top_share < 0.2 and light.se_trusted
    assert report.num_untrusted == 1
    assert report.summary_line().endswith("; 1 with an untrusted standard error")
    assert f"{heavy.top_share:.3g} untrusted" in report.format()
    assert "heavy.variance: top share" in report.to_markdown()
    _, js, page = report.save(tmp_path, figures=False)
    assert "Untrusted standard errors" in page.read_text()
    rows = {row["name"]: row for row in json.loads(js.read_text())["rows"]}
    assert rows["heavy.variance"]["se_trusted"] is False
    assert rows["heavy.log_variance"]["se_trusted"] is True
