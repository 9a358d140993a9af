"""Issue 14: the library's default ``paper_experiment`` against the authors' scikit-learn loop.

The authors' loop (``Normals_GMM_experiments.ipynb``, docs/theory.md §4.1), run with scikit-learn
for ``--sklearn-seeds`` seeds: ``make_blobs(n_samples=1000, centers=[[0, 0]], cluster_std=1)``,
a first fit ``GaussianMixture(2, covariance_type="full", tol=1e-5, max_iter=2000)`` (defaults
``reg_covar=1e-6``, ``init_params="kmeans"``) to that sample (the reference of the squared L2
distance), then 2050 times: fit, sample N = 1000 points from the fit. The notebook's fit m
(m = 0 is the loop's fit to the original sample) is the library's generation g = m + 1.

The library: ``ct.gmm.paper_experiment(num_replicates=--chains, seed=...)`` with its defaults,
the same protocol, and the same run with ``reg_covar=0`` (not the protocol: it shows what the
test detects).

At fits 2000 and 2050 the distributions of the per-component standard deviation
sqrt(tr C_k / 2), sorted within each run into the smaller and the larger component, and of the
squared L2 distance to the fit of the original sample are compared with the two-sided
Mann-Whitney U test (scipy); the table gives medians, quartiles, p-values and the percentile of
the paper's printed single run (stds .0100 / .0112, squared L2 536.28 at the last fit) within
each sample.

Also recorded (issue 14, must-show 2): ``paper_experiment(num_generations=2050,
num_replicates=16, seed=0)`` with ``reg_covar=0`` and with the default 1e-6: which chains have
degenerate components (docs/theory.md §4.2), and the smallest covariance eigenvalue each chain
reached.

scikit-learn runs on one thread (``threadpool_limits(1)``). Run from the repository root (the
scikit-learn side takes one to two minutes per seed on one core)::

    python -m benchmarks.bench_gmm_protocol              # full: 48 seeds, 64 chains
    python -m benchmarks.bench_gmm_protocol --quick      # a tiny check, writes nothing
    python benchmarks/bench_gmm_protocol.py --table      # the tables docs/gmm.md quotes
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a file (docs/gmm.md quotes `--table`): find `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import scipy.stats
import sklearn
from scipy.stats import mannwhitneyu

import collapse_theory as ct
from benchmarks.common import RESULTS, write_report
from collapse_theory._json import write_json

N, FITS, COMPARE_AT = 1000, 2050, (2000, 2050)
PARAMS = {"n_components": 2, "tol": 1e-5, "covariance_type": "full", "max_iter": 2000}
PRINTED = {"std_smaller": 0.0100, "std_larger": 0.0112, "l2_squared": 536.28}
LIBRARY_SEED = 14


def notebook_l2_squared(gmm1, gmm2) -> float:
    """The notebook's ``L2_of_gmms``: the closed form of the squared L2 distance, term by term
    with scipy's multivariate normal density (independent of the library's implementation)."""

    def term(a, b) -> float:
        return float(
            np.sum(
                [
                    ai * aj * scipy.stats.multivariate_normal.pdf(mi - mj, cov=ci + cj)
                    for (ai, mi, ci), (aj, mj, cj) in itertools.product(
                        zip(a.weights_, a.means_, a.covariances_, strict=True),
                        zip(b.weights_, b.means_, b.covariances_, strict=True),
                    )
                ]
            )
        )

    return term(gmm1, gmm1) + term(gmm2, gmm2) - 2.0 * term(gmm1, gmm2)


def sklearn_run(seed: int, fits: int, compare_at: tuple[int, ...]) -> dict:
    """The authors' loop for one seed; per generation in ``compare_at``: sorted per-component
    stds and the squared L2 distance to the fit of the original sample."""
    from sklearn.datasets import make_blobs
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    # One thread: scikit-learn's k-means OpenMP pool, oversubscribed on a loaded machine, is
    # 20x slower per fit than one thread.
    threadpool_limits(1)
    state = np.random.RandomState(seed)  # one stream, as the notebook's global state
    x, _ = make_blobs(
        n_samples=N, n_features=2, centers=[[0, 0]], cluster_std=1, random_state=state
    )
    first = GaussianMixture(**PARAMS, random_state=state).fit(x)
    out: dict = {"seed": seed, "stds": {}, "l2_squared": {}}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for m in range(fits):
            gmm = GaussianMixture(**PARAMS, random_state=state).fit(x)
            x = gmm.sample(N)[0]
            generation = m + 1
            if generation in compare_at:
                stds = np.sqrt(np.trace(gmm.covariances_, axis1=1, axis2=2) / 2.0)
                out["stds"][generation] = sorted(stds.tolist())
                out["l2_squared"][generation] = notebook_l2_squared(first, gmm)
    out["seconds"] = time.perf_counter() - start
    out["warnings"] = sorted({type(w.message).__name__ for w in caught})
    return out


def _cache_key(seed: int, fits: int, compare_at: tuple[int, ...]) -> str:
    return (
        f"seed={seed} fits={fits} at={','.join(map(str, compare_at))} sklearn={sklearn.__version__}"
    )


def sklearn_side(
    num_seeds: int, fits: int, compare_at: tuple[int, ...], workers: int, quick: bool
) -> list[dict]:
    """The authors' loop for seeds 0..num_seeds-1. Each seed's values are kept in
    results/gmm_protocol_sklearn.json (the slow half of the benchmark: a rerun that changes only
    the library side reuses them; scikit-learn's own results do not depend on this library)."""
    cache_path = RESULTS / "gmm_protocol_sklearn.json"
    cache = {} if quick or not cache_path.exists() else json.loads(cache_path.read_text())
    todo = [s for s in range(num_seeds) if _cache_key(s, fits, compare_at) not in cache]
    if todo:
        print(f"scikit-learn: {len(todo)} seed(s) to run", flush=True)
    if workers > 1 and todo:
        with ProcessPoolExecutor(workers) as pool:
            done = pool.map(sklearn_run, todo, [fits] * len(todo), [compare_at] * len(todo))
            for seed, run in zip(todo, done, strict=True):
                cache[_cache_key(seed, fits, compare_at)] = run
    else:
        for seed in todo:
            cache[_cache_key(seed, fits, compare_at)] = sklearn_run(seed, fits, compare_at)
            print(
                f"sklearn seed {seed}: {cache[_cache_key(seed, fits, compare_at)]['seconds']:.1f} s",
                flush=True,
            )
            if not quick:
                write_json(cache_path, cache)
    if not quick:
        write_json(cache_path, cache)
    runs = [cache[_cache_key(s, fits, compare_at)] for s in range(num_seeds)]
    # JSON keys are strings: index the values by generation again
    return [
        {
            **run,
            "stds": {int(g): v for g, v in run["stds"].items()},
            "l2_squared": {int(g): v for g, v in run["l2_squared"].items()},
        }
        for run in runs
    ]


def library_runs(
    chains: int, fits: int, compare_at: tuple[int, ...], **kwargs
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], ct.gmm.PaperExperiment, float]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ct.gmm.DegenerateFitWarning)
        exp = ct.gmm.paper_experiment(
            num_generations=fits, num_replicates=chains, seed=LIBRARY_SEED, **kwargs
        )
    seconds = time.perf_counter() - start
    with np.errstate(invalid="ignore"):
        stds = {
            g: np.sort(np.where(np.isnan(exp.component_std[g]), np.inf, exp.component_std[g]))
            for g in compare_at
        }
    l2 = {g: exp.l2_squared_to_first_fit[g] for g in compare_at}
    return stds, l2, exp, seconds


def quartiles(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.percentile(values, [25, 50, 75])]


def percentile_of(value: float, sample: np.ndarray) -> float:
    """Percent of the sample at or below ``value``."""
    return float(100.0 * np.mean(np.asarray(sample) <= value))


def comparison_rows(sk: list[dict], ours: tuple, floorless: tuple, fits: int, compare_at) -> list:
    rows = []
    for g in compare_at:
        samples = {
            "std_smaller": (
                np.array([r["stds"][g][0] for r in sk]),
                ours[0][g][:, 0],
                floorless[0][g][:, 0],
            ),
            "std_larger": (
                np.array([r["stds"][g][1] for r in sk]),
                ours[0][g][:, 1],
                floorless[0][g][:, 1],
            ),
            "l2_squared": (np.array([r["l2_squared"][g] for r in sk]), ours[1][g], floorless[1][g]),
        }
        for name, (a, b, c) in samples.items():
            row = {
                "quantity": name,
                "fit": g,
                "sklearn_q25_median_q75": quartiles(a),
                "library_q25_median_q75": quartiles(b),
                "mann_whitney_p": float(mannwhitneyu(a, b, alternative="two-sided").pvalue),
                "library_reg0_median": float(np.median(c)),
                "reg0_vs_sklearn_p": float(mannwhitneyu(a, c, alternative="two-sided").pvalue),
            }
            if g == fits:
                row["printed_run"] = PRINTED[name]
                row["printed_percentile_sklearn_library"] = [
                    percentile_of(PRINTED[name], a),
                    percentile_of(PRINTED[name], b),
                ]
            else:
                row["printed_run"] = ""
                row["printed_percentile_sklearn_library"] = ""
            rows.append(row)
    return rows


def degeneracy_check(fits: int, chains: int) -> dict:
    """Issue 14, must-show 2: degenerate chains of paper_experiment(seed=0) with and without
    the covariance floor, and the smallest eigenvalue (and eigenvalue ratio) each chain reached
    over its run (lost components excluded)."""
    out = {}
    for reg in (0.0, 1e-6):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exp = ct.gmm.paper_experiment(
                num_generations=fits, num_replicates=chains, seed=0, reg_covar=reg
            )
        eig = np.linalg.eigvalsh(exp.result["covs"])
        smallest = np.where(exp.lost, np.inf, eig[..., 0])
        ratio = np.where(exp.lost, np.inf, eig[..., 0] / eig[..., -1])
        flagged = exp.degenerate_chains()
        first = [
            int(np.argmax(exp.degenerate[:, r].any(axis=1))) if flagged[r] else None
            for r in range(chains)
        ]
        out[f"reg_covar={reg:g}"] = {
            "flagged_chains": np.flatnonzero(flagged).tolist(),
            "flagged_at_last_fit": np.flatnonzero(exp.degenerate[-1].any(axis=1)).tolist(),
            "first_flagged_generation": first,
            "smallest_eigenvalue_per_chain": [float(v) for v in smallest.min(axis=(0, 2))],
            "smallest_eigenvalue_ratio_per_chain": [float(v) for v in ratio.min(axis=(0, 2))],
            "summary": exp.degeneracy_summary(),
            "warnings": [str(w.message)[:160] for w in caught],
            "nan_or_crash": bool(
                np.isnan(exp.result["covs"]).any() or np.isnan(exp.result["weights"]).any()
            ),
        }
    return out


LABELS = {
    "std_smaller": "std, smaller component",
    "std_larger": "std, larger component",
    "l2_squared": "squared L2 to the first fit",
}


def _g3(value: float) -> str:
    return f"{value:.3g}"


def print_tables() -> None:
    """The comparison and the degeneracy check as Markdown, from results/gmm_protocol.json."""
    print(tables_markdown())


def tables_markdown() -> str:
    """:func:`print_tables`' text (also results/gmm_protocol.md, with the environment)."""
    lines: list[str] = []

    def out(text: str = "") -> None:
        lines.append(text)

    data = json.loads((RESULTS / "gmm_protocol.json").read_text())
    out(f"{data['title']}; scikit-learn {data['sklearn_version']}.")
    out()
    out(
        "| quantity | fit | scikit-learn: median [q25, q75] | library: median [q25, q75] | "
        "Mann–Whitney p | library, reg_covar=0: median (p) |"
    )
    out("|---|---:|---|---|---:|---|")
    for row in data["rows"]:
        sk, lib = row["sklearn_q25_median_q75"], row["library_q25_median_q75"]
        out(
            f"| {LABELS[row['quantity']]} | {row['fit']} | {_g3(sk[1])} [{_g3(sk[0])}, "
            f"{_g3(sk[2])}] | {_g3(lib[1])} [{_g3(lib[0])}, {_g3(lib[2])}] | "
            f"{row['mann_whitney_p']:.2f} | {_g3(row['library_reg0_median'])} "
            f"({row['reg0_vs_sklearn_p']:.2g}) |"
        )
    out()
    out("The paper's printed run at the last fit, as a percentile of each sample:")
    out()
    for row in data["rows"]:
        if row["printed_run"] == "":
            continue
        sk, lib = row["printed_percentile_sklearn_library"]
        out(
            f"- {LABELS[row['quantity']]} {row['printed_run']:g}: {sk:.0f} % of the scikit-learn "
            f"runs and {lib:.0f} % of the library's chains are at or below it"
        )
    out()
    out(
        "Degenerate components, `paper_experiment(num_generations=2050, num_replicates=16, seed=0)`:"
    )
    out()
    for key, check in data["degeneracy_seed0_16_chains"].items():
        smallest = min(check["smallest_eigenvalue_per_chain"])
        out(
            f"- {key}: chains flagged {check['flagged_chains'] or 'none'} "
            f"({len(check['flagged_chains'])} of 16; at the last fit: "
            f"{check['flagged_at_last_fit'] or 'none'}); smallest eigenvalue reached "
            f"{smallest:.2g}; NaN: {'yes' if check['nan_or_crash'] else 'no'}"
        )
    return "\n".join(lines)


def write_markdown() -> Path:
    """results/gmm_protocol.md: the tables, the settings and the environment (the raw values
    stay in the JSON)."""
    data = json.loads((RESULTS / "gmm_protocol.json").read_text())
    keep = (
        "test",
        "protocol",
        "library_call",
        "numbering",
        "sklearn_version",
        "sklearn_seconds_per_fit",
        "library_seconds_per_fit",
        "sklearn_warnings",
        "wall_seconds",
        "load average (1, 5, 15 min) at the end",
    )
    lines = [f"# {data['title']}", "", tables_markdown(), ""]
    lines += [f"{key}: {data[key]}" for key in keep if key in data]
    lines += ["", f"Environment: {json.dumps(data['environment'])}"]
    path = RESULTS / "gmm_protocol.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sklearn-seeds", type=int, default=48)
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="processes for the sklearn side")
    parser.add_argument("--quick", action="store_true", help="tiny sizes; writes nothing")
    parser.add_argument(
        "--table",
        action="store_true",
        help="print the tables of the committed results; run nothing",
    )
    args = parser.parse_args()
    if args.table:
        print_tables()
        return
    fits, compare_at = FITS, COMPARE_AT
    if args.quick:
        fits, compare_at = 30, (20, 30)
        args.sklearn_seeds, args.chains = min(args.sklearn_seeds, 3), min(args.chains, 6)
    start = time.perf_counter()
    ours = library_runs(args.chains, fits, compare_at)
    floorless = library_runs(args.chains, fits, compare_at, reg_covar=0.0)
    print(f"library: {args.chains} chains in {ours[3]:.1f} s (+{floorless[3]:.1f} s without floor)")
    degeneracy = degeneracy_check(fits, 16 if not args.quick else 4)
    for key, value in degeneracy.items():
        print(key, value["summary"])
    sk = sklearn_side(args.sklearn_seeds, fits, compare_at, args.workers, args.quick)
    rows = comparison_rows(sk, ours, floorless, fits, compare_at)
    for row in rows:
        print(row)
    if args.quick:
        return
    sk_seconds = sum(r["seconds"] for r in sk)
    path = write_report(
        "gmm_protocol",
        "Issue 14: library default paper_experiment vs the authors' scikit-learn loop "
        f"({args.sklearn_seeds} seeds vs {args.chains} chains, N = {N}, {fits} fits)",
        rows,
        {
            "test": "two-sided Mann-Whitney U (scipy.stats.mannwhitneyu); must-show p > 0.01",
            "protocol": dict(PARAMS, reg_covar=1e-6, init_params="kmeans", N=N, fits=fits),
            "library_call": (
                f"ct.gmm.paper_experiment(num_replicates={args.chains}, seed={LIBRARY_SEED}) "
                "(defaults: the protocol); reg0 rows: the same with reg_covar=0"
            ),
            "numbering": "fit g = the library's generation g = the notebook's loop index m + 1",
            "printed_run": PRINTED,
            "sklearn_version": sklearn.__version__,
            "sklearn_seconds_per_fit": sk_seconds / (args.sklearn_seeds * fits),
            "library_seconds_per_fit": ours[3] / (args.chains * fits),
            "sklearn_warnings": sorted({w for r in sk for w in r["warnings"]}),
            "library_degenerate_chains (protocol, reg0)": [
                int(ours[2].degenerate_chains().sum()),
                int(floorless[2].degenerate_chains().sum()),
            ],
            "degeneracy_seed0_16_chains": degeneracy,
            "values": {
                "sklearn": [{"stds": r["stds"], "l2_squared": r["l2_squared"]} for r in sk],
                "library": {
                    "stds": {g: ours[0][g] for g in compare_at},
                    "l2_squared": {g: ours[1][g] for g in compare_at},
                },
            },
            "wall_seconds": time.perf_counter() - start,
            "load average (1, 5, 15 min) at the end": os.getloadavg(),
        },
    )
    print(path, write_markdown())


if __name__ == "__main__":
    main()
