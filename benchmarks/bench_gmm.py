"""P4 of design.md: recursive EM fitting of a Gaussian mixture against scikit-learn.

Workload: 2 components, full covariances, d=2, N=1000 points a generation, n=200 generations,
R=64 replicates, EM tol 1e-5 (on the mean log-likelihood), at most 2000 iterations, reg_covar=0 on
both sides.

- ``identical data``: one generation, R datasets, identical initialisation: ``ct.gmm.fit_em``
  (one batched kernel call) against ``GaussianMixture(...).fit`` per dataset; the log-likelihoods,
  parameters and iteration counts are compared.
- ``chains, warm``: ``ct.gmm.simulate(init="warm")`` against the same recursion written with
  scikit-learn (sample N points from the previous fit with numpy, refit starting from it); the
  scikit-learn loop is timed on a subset of the chains (its cost per fit is the same for every
  chain), and the work per fit is shown as mean EM iterations on each side.
- ``chains, k-means`` (the paper's code): every generation refits from scratch with k-means
  initialisation; ours with ``init="kmeans++"``.

R=64 is one replicate block, so ours runs on one core; scikit-learn runs on one thread too
(``threadpoolctl.threadpool_limits(1)``: its k-means OpenMP pool, oversubscribed on a loaded
machine, is otherwise many times slower per fit, which would flatter the ratio).

The jax backend runs both chain workloads too (``--no-jax`` skips it), timed after a first call
at the same shapes (its compile time is reported in the row); it is not the same random stream
as numba, so its iteration counts are its own.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.bench_gmm
    python benchmarks/bench_gmm.py --table     # the table docs/gmm.md quotes
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a file (docs/gmm.md quotes `--table`): find `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from benchmarks.common import RESULTS, best_time, write_report
from collapse_theory.gmm import DegenerateFitWarning, Mixture, fit_em, simulate

K, D, N, GENERATIONS, R, TOL, MAX_ITER = 2, 2, 1000, 200, 64, 1e-5, 2000
MIXTURE0 = Mixture([0.5, 0.5], [[-1.5, 0.0], [1.5, 0.0]], [np.eye(2), np.eye(2)])


def sklearn_fit(x: np.ndarray, weights, means, covs, init_params: str = "kmeans", seed: int = 0):
    kwargs = {}
    if weights is not None:
        kwargs = dict(weights_init=weights, means_init=means, precisions_init=np.linalg.inv(covs))
    return GaussianMixture(
        K,
        covariance_type="full",
        tol=TOL,
        max_iter=MAX_ITER,
        reg_covar=0.0,
        init_params=init_params,
        random_state=seed,
        **kwargs,
    ).fit(x)


def sklearn_chains(num_chains: int, warm: bool, seed: int) -> tuple[float, float]:
    """The recursion with scikit-learn; returns (seconds, mean EM iterations per fit)."""
    rng = np.random.default_rng(seed)
    iterations = []
    start = time.perf_counter()
    for _ in range(num_chains):
        mix = MIXTURE0
        for _g in range(GENERATIONS):
            x = mix.sample(N, rng)
            if warm:
                gm = sklearn_fit(x, mix.weights, mix.means, mix.covs)
            else:
                gm = sklearn_fit(x, None, None, None, seed=int(rng.integers(2**31)))
            iterations.append(gm.n_iter_)
            mix = Mixture(gm.weights_ / gm.weights_.sum(), gm.means_, gm.covariances_)
    return time.perf_counter() - start, float(np.mean(iterations))


def jax_rows(cases: list[tuple[str, str, int, float, float]]) -> list[dict]:
    """The chain workloads on the jax backend: (label, init, seed, numba seconds, scikit-learn
    seconds per fit) per case."""
    from collapse_theory.backends import jax_devices

    fits_total = R * GENERATIONS
    rows = []
    for label, init, seed, numba_seconds, per_fit_sk in cases:

        def work(init: str = init, seed: int = seed):
            return simulate(
                MIXTURE0,
                N,
                GENERATIONS,
                num_replicates=R,
                seed=seed,
                tol=TOL,
                max_iter=MAX_ITER,
                init=init,
                backend="jax",
            )

        first, _ = best_time(work, 1)
        seconds, run = best_time(work, 1)
        rows.append(
            {
                "workload": f"P4 chains, {label}, jax on {','.join(jax_devices())}",
                "ours_us_per_fit": 1e6 * seconds / fits_total,
                "sklearn_us_per_fit": 1e6 * per_fit_sk,
                "speedup": per_fit_sk / (seconds / fits_total),
                "iterations_ours": float(run["iterations"][1:].mean()),
                "iterations_sklearn": "see row above",
                "max_rel_loglik_diff": (
                    f"n/a; jax/numba time {seconds / numba_seconds:.2f}x; "
                    f"compile {first - seconds:.1f} s"
                ),
            }
        )
    return rows


def print_table() -> None:
    """The P4 table of results/gmm_em.json as Markdown (docs/gmm.md quotes it)."""
    data = json.loads((RESULTS / "gmm_em.json").read_text())
    print(
        "| workload | ours µs/fit | scikit-learn µs/fit | speed-up | EM iterations (ours / sklearn) |"
    )
    print("|---|---:|---:|---:|---|")
    for row in data["rows"]:
        sklearn_iterations = row["iterations_sklearn"]
        if isinstance(sklearn_iterations, float):
            sklearn_iterations = f"{sklearn_iterations:.2f}"
        print(
            f"| {row['workload'].removeprefix('P4 ')} | {row['ours_us_per_fit']:.4g} | "
            f"{row['sklearn_us_per_fit']:.4g} | {row['speedup']:.0f}× | "
            f"{row['iterations_ours']:.2f} / {sklearn_iterations} |"
        )
    print()
    print(
        f"Identical data: largest relative log-likelihood difference "
        f"{data['rows'][0]['max_rel_loglik_diff']:.1e}, largest parameter difference "
        f"{data['identical_data_max_abs_param_diff']:.1e}, same iteration count in "
        f"{100 * data['identical_data_fraction_same_iterations']:.0f} % of the fits; load "
        "average at the end "
        + ", ".join(f"{v:.1f}" for v in data["load average (1, 5, 15 min) at the end"])
        + "."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sklearn-chains", type=int, default=4)
    parser.add_argument("--no-jax", action="store_true", help="skip the jax backend rows")
    parser.add_argument(
        "--table", action="store_true", help="print the committed results' table; run nothing"
    )
    args = parser.parse_args()
    if args.table:
        print_table()
        return
    threadpool_limits(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DegenerateFitWarning)
    rows = []

    # --- compile (reported separately)
    start = time.perf_counter()
    simulate(MIXTURE0, 50, 2, num_replicates=2, seed=0)
    simulate(MIXTURE0, 50, 2, num_replicates=2, seed=0, init="kmeans++")
    fit_em(MIXTURE0.sample(50, np.random.default_rng(0)), MIXTURE0)
    compile_s = time.perf_counter() - start

    # --- identical data, identical initialisation, one generation
    rng = np.random.default_rng(1)
    start_mix = Mixture([0.4, 0.6], [[-1.0, 0.5], [1.0, -0.5]], [np.eye(2), 1.5 * np.eye(2)])
    data = np.stack([MIXTURE0.sample(N, rng) for _ in range(R)])
    t_ours, fit = best_time(lambda: fit_em(data, start_mix, tol=TOL, max_iter=MAX_ITER), 5)
    t_sk, fits = best_time(
        lambda: [sklearn_fit(x, start_mix.weights, start_mix.means, start_mix.covs) for x in data],
        2,
    )
    rel_ll = max(
        abs(fit.log_likelihood[r] - gm.lower_bound_) / abs(gm.lower_bound_)
        for r, gm in enumerate(fits)
    )
    max_param = max(
        max(
            np.max(np.abs(fit.means[r] - gm.means_)),
            np.max(np.abs(fit.covs[r] - gm.covariances_)),
            np.max(np.abs(fit.weights[r] - gm.weights_)),
        )
        for r, gm in enumerate(fits)
    )
    same_iter = float(np.mean([fit.iterations[r] == gm.n_iter_ for r, gm in enumerate(fits)]))
    it_ours = float(fit.iterations.mean())
    it_sk = float(np.mean([gm.n_iter_ for gm in fits]))
    rows.append(
        {
            "workload": "P4 identical data (1 generation, R=64 fits)",
            "ours_us_per_fit": 1e6 * t_ours / R,
            "sklearn_us_per_fit": 1e6 * t_sk / R,
            "speedup": t_sk / t_ours,
            "iterations_ours": it_ours,
            "iterations_sklearn": it_sk,
            "max_rel_loglik_diff": rel_ll,
        }
    )

    # --- chains, warm start
    fits_total = R * GENERATIONS
    t_chain, run = best_time(
        lambda: simulate(
            MIXTURE0, N, GENERATIONS, num_replicates=R, seed=2, tol=TOL, max_iter=MAX_ITER
        ),
        3,
    )
    t_sk_chain, it_sk_chain = sklearn_chains(args.sklearn_chains, warm=True, seed=3)
    per_fit_sk = t_sk_chain / (args.sklearn_chains * GENERATIONS)
    per_fit_ours = t_chain / fits_total
    rows.append(
        {
            "workload": "P4 chains, warm start (N=1000, n=200, R=64)",
            "ours_us_per_fit": 1e6 * per_fit_ours,
            "sklearn_us_per_fit": 1e6 * per_fit_sk,
            "speedup": per_fit_sk / per_fit_ours,
            "iterations_ours": float(run["iterations"][1:].mean()),
            "iterations_sklearn": it_sk_chain,
            "max_rel_loglik_diff": "n/a (independent chains)",
        }
    )

    # --- chains, k-means init every generation (the paper's code)
    t_km, run_km = best_time(
        lambda: simulate(
            MIXTURE0,
            N,
            GENERATIONS,
            num_replicates=R,
            seed=4,
            tol=TOL,
            max_iter=MAX_ITER,
            init="kmeans++",
        ),
        2,
    )
    t_sk_km, it_sk_km = sklearn_chains(args.sklearn_chains, warm=False, seed=5)
    per_fit_sk_km = t_sk_km / (args.sklearn_chains * GENERATIONS)
    rows.append(
        {
            "workload": "P4 chains, k-means init each generation (paper's code)",
            "ours_us_per_fit": 1e6 * t_km / fits_total,
            "sklearn_us_per_fit": 1e6 * per_fit_sk_km,
            "speedup": per_fit_sk_km / (t_km / fits_total),
            "iterations_ours": float(run_km["iterations"][1:].mean()),
            "iterations_sklearn": it_sk_km,
            "max_rel_loglik_diff": "n/a (independent chains)",
        }
    )
    if not args.no_jax:
        rows += jax_rows(
            [
                ("warm start", "warm", 2, t_chain, per_fit_sk),
                ("k-means++ init", "kmeans++", 4, t_km, per_fit_sk_km),
            ],
        )
    for row in rows:
        print(row)
    path = write_report(
        "gmm_em",
        "P4: recursive EM for a 2-component mixture (d=2, N=1000, n=200, R=64) vs scikit-learn",
        rows,
        {
            "target": ">= 20x scikit-learn per replicate and generation",
            "load average (1, 5, 15 min) at the end": os.getloadavg(),
            "first_call_compile_s": compile_s,
            "identical_data_max_abs_param_diff": max_param,
            "identical_data_fraction_same_iterations": same_iter,
            "sklearn_chains_timed": args.sklearn_chains,
            "settings": dict(tol=TOL, max_iter=MAX_ITER, reg_covar=0.0, mixture0=repr(MIXTURE0)),
            "threads": "one for both (scikit-learn under threadpool_limits(1))",
        },
    )
    print(path)


if __name__ == "__main__":
    main()
