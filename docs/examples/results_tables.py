"""The numbers the documentation quotes from committed benchmark results, printed from them.

    python docs/examples/results_tables.py NAME      (from the repository root)

NAME is one of the functions below. Each reads ``benchmarks/results/`` (written by the
benchmark named in its docstring) and prints Markdown that a page of docs/ shows between
``<!-- output of: python docs/examples/results_tables.py NAME -->`` and
``<!-- end of output -->``; ``tests/test_docs.py`` checks that the page shows exactly what this
prints, and ``python tests/test_docs.py --update docs/PAGE.md`` rewrites the page after a
benchmark rerun.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from collapse_theory.tails.table import _fmt, _interval

RESULTS = Path(__file__).resolve().parent.parent.parent / "benchmarks" / "results"


def _load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def _num(value: float | None) -> float:
    """A JSON number (null: a non-finite one) as a float."""
    return float("nan") if value is None else float(value)


def _g2(value: float) -> str:
    """Two significant digits: 87, 370, 6.8, 1.1e8."""
    if abs(value) >= 1e4:
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{float(f'{value:.2g}'):g}"


# ---------------------------------------------------------------------------------------------
# docs/tails.md: benchmarks/bench_tail_loss.py


def tail_loss() -> None:
    """The Replace table, the fresh-data / accumulate table at M = 1000 and the summary of
    docs/tails.md, from benchmarks/results/tail_loss.json (benchmarks/bench_tail_loss.py)."""
    data = _load("tail_loss.json")
    rows = [{k: (_num(v) if v is None else v) for k, v in r.items()} for r in data["rows"]]
    print(
        "| family | model | est. | M | method | median T_n/T₀ | P(T_n<0.01T₀) | half-life | "
        "rate [95% CI] | rate·M | drift·M |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["regime"] != "replace":
            continue
        drift = _fmt(r["drift*M"]) + (
            "" if r["drift_se*M"] == 0 else f" ± {_fmt(r['drift_se*M'], 2)}"
        )
        print(
            f"| {r['family']} | {r['model']} | {r['estimator']} | {r['M']} | {r['method']} | "
            f"{_fmt(r['median_Tn/T0'])} | {_fmt(r['P(Tn<0.01T0)'])} | "
            f"{_interval(r['half_life'], r['half_life_lo'], r['half_life_hi'])} | "
            f"{_interval(r['rate'], r['rate_lo'], r['rate_hi'])} | {_fmt(r['rate*M'])} | {drift} |"
        )
    print()
    print("Fresh data and accumulation (Monte Carlo), M = 1000:")
    print()
    print(
        "| family | model | est. | regime | median T_n/T₀ [q10, q90] | P(T_n<0.01T₀) | "
        "rate [95% CI] | rate·M | drift·M |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["regime"] == "replace" or r["M"] != 1000:
            continue
        drift = _fmt(r["drift*M"]) + f" ± {_fmt(r['drift_se*M'], 2)}"
        print(
            f"| {r['family']} | {r['model']} | {r['estimator']} | {r['regime']} (n={r['n']}) | "
            f"{_fmt(r['median_Tn/T0'])} [{_fmt(r['q10_Tn/T0'], 2)}, {_fmt(r['q90_Tn/T0'], 2)}] | "
            f"{_fmt(r['P(Tn<0.01T0)'])} | {_interval(r['rate'], r['rate_lo'], r['rate_hi'])} | "
            f"{_fmt(r['rate*M'])} | {drift} |"
        )
    print()
    _tail_loss_summary(rows, data["agreement"], data["seconds"])


def _span(values: list[float], digits: int = 2) -> str:
    if not values:  # e.g. no half-life: the tail never halved within the horizon
        return "none"
    low, high = min(values), max(values)
    low_text, high_text = _fmt(low, digits), _fmt(high, digits)
    return low_text if low_text == high_text else f"{low_text}–{high_text}"


def _tail_loss_summary(rows: list[dict], agreement: list[dict], seconds: float) -> None:
    """The numbers the discussion of docs/tails.md rests on, as a list."""
    replace_mc = [r for r in rows if r["regime"] == "replace" and r["method"] == "monte-carlo"]
    print(f"Summary (computed from the same file; the run took {seconds:.0f} s):")
    print()
    zs = [(abs(a["max_abs_z_mean"]), abs(a["max_abs_z_prob_below"])) for a in agreement]
    rate_z = [a["z_rate"] for a in agreement if a["M"] > 10 and a["z_rate"] is not None]
    print(
        f"- Agreement under Replace ({len(agreement)} settings with a reference law): largest "
        f"|z| of E T_n {max(z[0] for z in zs):.2f}, of P(T_n < 0.01 T₀) "
        f"{max(z[1] for z in zs):.2f}; z of the rates at M ≥ 100 between "
        f"{min(rate_z):.2f} and {max(rate_z):.2f}."
    )
    for family, model, estimator in dict.fromkeys(
        (r["family"], r["model"], r["estimator"]) for r in replace_mc
    ):
        mine = [
            r
            for r in replace_mc
            if (r["family"], r["model"], r["estimator"]) == (family, model, estimator)
            and r["M"] >= 100
        ]
        halves = [r["half_life"] / r["M"] for r in mine if not math.isnan(r["half_life"])]
        rates = [r["rate*M"] for r in mine]
        print(
            f"- Replace, {family} {model} {estimator}, Monte Carlo at M = 100 and 1000: "
            f"half-life/M {_span(halves)}, rate·M {_span(rates)}."
        )
    plain_gaussian = [r for r in replace_mc if r["family"] == "gaussian" and r["model"] == "N(0,1)"]
    by_key = {(r["family"], r["estimator"], r["M"]): r for r in plain_gaussian}
    sizes = [m for m in (100, 1000) if ("gaussian", "mle", m) in by_key]
    if sizes:
        rate_ratio = [
            by_key["gaussian", "mle", m]["rate"] / by_key["gaussian", "unbiased", m]["rate"]
            for m in sizes
        ]
        half_ratio = [
            by_key["gaussian", "unbiased", m]["half_life"]
            / by_key["gaussian", "mle", m]["half_life"]
            for m in sizes
        ]
        print(
            f"- Gaussian MLE against unbiased, Monte Carlo at M = 100 and 1000: rate ratio "
            f"{_span(rate_ratio)}, half-life ratio (unbiased / MLE) {_span(half_ratio)}."
        )
    kept = [r for r in rows if r["regime"] != "replace" and r["M"] >= 100]
    drift_z = [abs(r["drift*M"]) / r["drift_se*M"] for r in kept if r["drift_se*M"] > 0]
    print(
        f"- Fresh 10% and accumulate at M ≥ 100 ({len(kept)} rows): median T_n/T₀ at n "
        f"{_span([r['median_Tn/T0'] for r in kept])}, P(T_n < 0.01 T₀) ≤ "
        f"{_fmt(max(r['P(Tn<0.01T0)'] for r in kept), 2)}, |rate·M| ≤ "
        f"{_fmt(max(abs(r['rate*M']) for r in kept), 2)}, |drift·M| within "
        f"{max(drift_z):.1f} standard errors of 0."
    )
    judged = [r for r in rows if not math.isnan(_num(r["mean_top_share"]))]
    untrusted = [
        f"{r['model']} M={r['M']} {r['regime']}" for r in judged if r["mean_top_share"] > 0.6
    ]
    print(
        f"- Heavy-tail diagnostic of the Monte Carlo means E T_n: top 1% share "
        f"{_span([r['mean_top_share'] for r in judged])}; above 0.6 (standard error untrusted) "
        f"in {len(untrusted)} of {len(judged)} rows"
        + (f": {'; '.join(untrusted)}." if untrusted else ".")
    )


# ---------------------------------------------------------------------------------------------
# docs/backends.md: bench_gaussian_simulate, bench_categorical_simulate, bench_gmm


def backends() -> None:
    """numba against jax on the CPU, from the P1-P4 results files."""
    gauss = {r["implementation"]: r for r in _load("gaussian_simulate.json")["rows"]}
    cat = _load("categorical_simulate.json")["rows"]
    gmm = _load("gmm_em.json")["rows"]

    def row(workload: str, numba: float, jax: float, unit: str, faster_is_higher: bool) -> None:
        ratio = numba / jax if faster_is_higher else jax / numba
        print(f"| {workload} | {_g2(numba)} {unit} | {_g2(jax)} {unit} | {_g2(ratio)} |")

    print("| workload | numba (all threads) | jax on cpu:0 | numba speed / jax speed |")
    print("|---|---|---|---|")
    row(
        "P1: 1-D Gaussian, sufficient statistics, M=100, n=1000",
        gauss["collapse_theory numba, 2 threads"]["rate"],
        gauss["collapse_theory jax on cpu:0"]["rate"],
        "chain-generations/s",
        True,
    )
    row(
        "P2: 1-D Gaussian, explicit samples, M=100, n=1000",
        gauss["collapse_theory numba samples, 2 threads"]["rate"],
        gauss["collapse_theory jax samples on cpu:0"]["rate"],
        "samples/s",
        True,
    )
    numba_p3 = next(r for r in cat if r["implementation"] == "collapse_theory numba, all threads")
    jax_p3 = next(r for r in cat if "jax" in r["implementation"])
    row(
        "P3: categorical, K=1000 Zipf(1.1), M=10^4, R=1000 (jax: n=50 timed)",
        numba_p3["chain-generations/s"],
        jax_p3["chain-generations/s"],
        "chain-generations/s",
        True,
    )
    by_name = {r["workload"]: r for r in gmm}
    for label, numba_key, jax_key in (
        (
            "P4: mixture EM chains, warm start, N=1000, n=200, R=64",
            "P4 chains, warm start (N=1000, n=200, R=64)",
            "P4 chains, warm start, jax on cpu:0",
        ),
        (
            "P4: mixture EM chains, k-means++ every generation",
            "P4 chains, k-means init each generation (paper's code)",
            "P4 chains, k-means++ init, jax on cpu:0",
        ),
    ):
        row(
            label,
            by_name[numba_key]["ours_us_per_fit"],
            by_name[jax_key]["ours_us_per_fit"],
            "µs per fit",
            False,
        )


# ---------------------------------------------------------------------------------------------
# docs/categorical.md: bench_categorical_exact


def categorical_exact() -> None:
    """The exact loss probabilities at M = 10^4, n = 1000 (P5)."""
    data = _load("categorical_exact.json")
    rows = data["rows"]
    one = next(r for r in rows if r["p"] != "all six")
    six = next(r for r in rows if r["p"] == "all six")
    print(
        f"At M = {data['M']}, n = {data['n']} one call took {one['ours s']:.2g} s for one initial "
        f"probability and {six['ours s']:.2g} s for six at once (the dense matrix-vector "
        f"iteration: {one['baseline s']:.3g} s and {six['baseline s']:.3g} s); the largest "
        f"reported error bound was {data['reported error bound (max)']:.1e} and the largest "
        f"difference from the dense chain {data['max |ours - dense|']:.1e} "
        "(`benchmarks/results/categorical_exact.md`)."
    )


# ---------------------------------------------------------------------------------------------
# docs/verify.md: collapse-theory verify --calibrate


def verify_calibration() -> None:
    """The calibration table of docs/verify.md, from benchmarks/results/verify_calibration/."""
    data = _load("verify_calibration/calibration.json")
    n, checks = data["num_seeds"], len(data["per_check"])
    low, high = data["rate_interval"]
    print(f"| quantity | stated | observed over {n} seeds × {checks} checks |")
    print("|---|---|---|")
    print(
        f"| runs with a failed Monte Carlo check | {data['family_wise_rate']:g} | "
        f"{data['failed_runs']} of {n} (95 % CI {low:.2g}–{high:.2g}; "
        f"P(≥ {data['failed_runs']} \\| {data['family_wise_rate']:g}) = "
        f"{data['excess_p_value']:.2g}: {'consistent' if data['consistent'] else 'INCONSISTENT'}) |"
    )
    for level in data["pooled_levels"]:
        print(
            f"| pooled \\|z\\| > {level['threshold']:.3f} | {100 * level['level']:g} % | "
            f"{100 * level['observed']:.3g} % ({100 * level['low']:.2g}–"
            f"{100 * level['high']:.3g} %) |"
        )
    print(
        f"| KS distance of the pooled z from N(0, 1) | – | {data['ks']['statistic']:.3g} "
        f"(p = {data['ks']['p_value']:.2g}) |"
    )
    print()
    print(
        f"Each check is judged at |z| ≤ {data['z_threshold']:.2f} there "
        f"({checks} Monte Carlo checks, family-wise rate {data['family_wise_rate']:g})."
    )
    biased = sorted(data["per_check"], key=lambda c: -abs(c["z_of_mean"]))[:3]
    print(
        "The most biased checks (mean z over seeds, standard errors from 0, SD of z): "
        + "; ".join(
            f"`{c['name']}` {c['mean_z']:+.2f} ({c['z_of_mean']:+.1f}), {c['sd_z']:.2f}"
            for c in biased
        )
        + "."
    )


def verify_checks() -> None:
    """How many checks each family registers (the registry itself, not a results file)."""
    from collapse_theory import verify

    checks = verify.checks()
    groups: dict[str, list] = {}
    for check in checks:
        label = check.family
        if check.family == "gaussian":
            d_dimensional = check.section.lstrip("§").startswith("3")
            label = "gaussian d-D (§3)" if d_dimensional else "gaussian 1-D (§2)"
        groups.setdefault(label, []).append(check)
    monte_carlo = sum(c.is_monte_carlo for c in checks)
    parts = ", ".join(f"{label} {len(group)}" for label, group in groups.items())
    print(
        f"This version registers {len(checks)} checks ({parts}); {monte_carlo} of them are "
        "Monte Carlo checks, the others exact or bound checks."
    )


if __name__ == "__main__":
    names = ("tail_loss", "backends", "categorical_exact", "verify_calibration", "verify_checks")
    if len(sys.argv) != 2 or sys.argv[1] not in names:
        sys.exit(f"usage: python {sys.argv[0]} {{{'|'.join(names)}}}")
    globals()[sys.argv[1]]()
