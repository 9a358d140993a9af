"""Same seed, same numbers: outputs recorded before a refactoring, compared bit for bit after it.

``python -m tests.layout_fixture --record`` writes ``tests/data/layout_fixture.npz`` from the
current code; ``tests/test_layout_fixture.py`` recomputes every case and asserts that every
array is identical (``np.array_equal`` with ``equal_nan``), so a move of code that changes any
number, any stream or any seed fails loudly. The cases cover every family's simulator on both
backends, the theory functions, the tail laws, the verify quick table and the tail-loss quick
table.

When the code is refactored, the calls below change spelling (e.g. ``sigma0=2.0`` becomes
``var0=4.0``) but never their meaning; the recorded file is not rewritten. When a change of
*meaning* is made on purpose, ``--record-case NAME`` rewrites that case alone (keeping every
other recorded array) and :data:`RERECORDED` says which case, when and why.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

FIXTURE = Path(__file__).parent / "data" / "layout_fixture.npz"

Case = Callable[[], Any]

#: Cases re-recorded after a change of meaning made on purpose, with the reason.
RERECORDED = {
    "gmm_kmeans": "issue 14: k-means++ is now scikit-learn's greedy variant followed by Lloyd "
    "iterations (the authors' protocol), not one-draw-per-centre seeding",
    "gmm_paper": "issue 14: paper_experiment defaults to the authors' protocol (reg_covar 1e-6, "
    "k-means++ refits) and reports squared and unsquared L2 under new names",
    "verify_quick": "issues 13-14: fewer generations in the fresh-data stationary checks (cold "
    "start) and four new checks of the component-wise mixture law (§4.3); issues 15-17: 47 new "
    "checks (policies, weighted fresh data, estimators, poisson, kde, regression), the 100 "
    "recorded rows unchanged; issue 18: two lm checks, the 147 recorded rows unchanged; issue "
    "13 again: quick sizes of the categorical, gaussian and gmm checks halved (full unchanged) "
    "and the tail checks' theory paths 400k -> 200k, so their Monte Carlo rows changed",
    "cat_absorption": "issue 17: AbsorptionTime gained a standard_error field (0 when exact); "
    "the recorded fields unchanged",
    "gauss_1d_jax": "issue 21: the jax chi-square sampler (_jax_samplers.chisquare): new draws "
    "of the same law (tests/test_jax_samplers.py)",
    "gauss_nd_jax": "issue 21: the jax chi-square sampler, as gauss_1d_jax",
    "tail_loss_quick": "issues 15-17: policy, poisson and kde rows inserted; every later row's "
    "seed moved with its index",
}


def _mixture() -> Any:
    import collapse_theory as ct

    return ct.gmm.Mixture(
        [0.4, 0.6], [[-2.0, 0.0], [2.0, 1.0]], [[[1.0, 0.2], [0.2, 1.0]], [[0.5, 0.0], [0.0, 2.0]]]
    )


def simulator_cases() -> dict[str, Case]:
    """A dozen simulator calls across families, regimes, methods and backends."""
    import collapse_theory as ct

    p0 = ct.categorical.zipf(30, 1.2)
    cov2 = np.array([[2.0, 0.5], [0.5, 1.0]])
    return {
        "cat_replace": lambda: ct.categorical.simulate(p0, 50, 20, num_replicates=600, seed=0),
        "cat_fresh_record": lambda: ct.categorical.simulate(
            p0, 40, 12, num_replicates=300, regime=ct.FreshData(0.1), record=[0, 5, 12], seed=1
        ),
        "cat_accumulate_smooth": lambda: ct.categorical.simulate(
            p0[:8] / p0[:8].sum(),
            20,
            10,
            num_replicates=300,
            regime=ct.Accumulate(),
            pseudo_count=0.5,
            seed=2,
        ),
        "cat_jax": lambda: ct.categorical.simulate(
            p0, 50, 8, num_replicates=300, seed=3, backend="jax"
        ),
        "gauss_1d": lambda: ct.gaussian.simulate(0.5, 2.0, 20, 15, num_replicates=1000, seed=4),
        "gauss_1d_mle_samples_fresh": lambda: ct.gaussian.simulate(
            0.0,
            4.0,
            12,
            10,
            num_replicates=400,
            estimator="mle",
            method="samples",
            regime=ct.FreshData(0.25, "split"),
            seed=5,
        ),
        "gauss_nd_accumulate": lambda: ct.gaussian.simulate(
            np.array([0.0, 1.0]), cov2, 10, 8, num_replicates=300, regime=ct.Accumulate(), seed=6
        ),
        "gauss_schedule": lambda: ct.gaussian.simulate(
            0.0, 1.0, ct.schedules.Linear(10, 5), 10, num_replicates=500, seed=7
        ),
        "gauss_1d_jax": lambda: ct.gaussian.simulate(
            0.0, 2.0, 20, 10, num_replicates=300, seed=8, backend="jax"
        ),
        "gauss_nd_jax": lambda: ct.gaussian.simulate(
            np.zeros(2), cov2, 10, 6, num_replicates=300, seed=9, backend="jax"
        ),
        "gmm_warm": lambda: ct.gmm.simulate(_mixture(), 200, 6, num_replicates=4, seed=10),
        "gmm_kmeans": lambda: ct.gmm.simulate(
            _mixture(), 200, 4, num_replicates=3, init="kmeans++", seed=11
        ),
        "gmm_jax": lambda: ct.gmm.simulate(
            _mixture(), 100, 3, num_replicates=2, seed=12, backend="jax"
        ),
        "gmm_paper": lambda: ct.gmm.paper_experiment(
            num_samples=200, num_generations=12, snapshots=[0, 5, 12], num_replicates=2, seed=13
        ),
    }


def theory_cases() -> dict[str, Case]:
    """Closed forms and exact laws of each family (the 1-D scale spelled as it is now)."""
    import collapse_theory as ct

    p0 = ct.categorical.zipf(30, 1.2)
    gens = np.array([0, 1, 5, 20])
    cov2 = np.array([[2.0, 0.5], [0.5, 1.0]])
    g = ct.gaussian
    return {
        "cat_heterozygosity": lambda: ct.categorical.expected_heterozygosity(p0, 50, gens),
        "cat_moments_fresh": lambda: ct.categorical.moments(
            p0[:5] / p0[:5].sum(), 30, gens, regime=ct.FreshData(0.1)
        ),
        "cat_loss": lambda: ct.categorical.loss_probability(p0[-1], 50, gens),
        "cat_survivors": lambda: ct.categorical.expected_survivors(p0, 50, gens),
        "cat_tail_loss": lambda: ct.categorical.tail_loss(p0, 50, gens, 0.02),
        "cat_absorption": lambda: ct.categorical.absorption_time([0.3, 0.7], 20),
        "g_variance": lambda: g.expected_variance(20, gens, var0=4.0),
        "g_variance_mle_acc": lambda: g.expected_variance(
            20, gens, var0=4.0, estimator="mle", regime=ct.Accumulate()
        ),
        "g_std": lambda: g.expected_std(20, gens, var0=4.0),
        "g_var_of_var": lambda: g.variance_of_variance(20, gens, var0=0.25),
        "g_cumulants": lambda: g.log_variance_cumulants(20, gens),
        "g_prob_below": lambda: g.prob_variance_below(0.1, 20, gens),
        "g_drift": lambda: g.mean_squared_drift(20, gens, var0=4.0, regime=ct.FreshData(0.1)),
        "g_w2": lambda: g.expected_w2_squared(20, gens, var0=4.0),
        "g_w2_lower": lambda: g.w2_lower_bound(20, gens, var0=4.0),
        "g_w2_first_order": lambda: g.w2_first_order(20, gens, var0=4.0),
        "g_stationary": lambda: g.stationary_moments(20, ct.FreshData(0.2), var0=4.0),
        "g_tail_mass": lambda: g.expected_tail_mass(3.0, 20, gens, seed=0),
        "g_log_det": lambda: g.expected_log_det(cov2, 10, gens),
        "g_trace": lambda: g.trace_moments(cov2, 10, gens),
        "g_lyapunov": lambda: g.lyapunov_exponents(3, 10),
        "g_w2_bounds": lambda: g.w2_squared_bounds(cov2, 10, gens),
        "g_w2_moments": lambda: g.w2_squared_moments(ct.schedules.Linear(10, 5), 30),
        "tails_categorical": lambda: ct.tails.categorical_exact(
            p0, ct.tails.CategoricalTail(lightest_mass=0.1), 20, np.arange(0, 41, 5)
        ),
        "tails_gaussian": lambda: ct.tails.gaussian_rao_blackwell(
            ct.tails.GaussianTail(quantile=0.1), 20, np.arange(0, 41, 5), num_paths=500, seed=1
        ),
    }


def table_cases() -> dict[str, Case]:
    """The verify quick table and the tail-loss quick table."""

    def verify_quick() -> Any:
        import collapse_theory as ct

        return verify_rows(ct.verify.run(quick=True, seed=0))

    def tail_loss_quick() -> Any:
        from collapse_theory.tails.table import tail_loss_table

        table = tail_loss_table(quick=True, seed=0)
        return {"rows": table.rows, "agreement": table.agreement}

    return {"verify_quick": verify_quick, "tail_loss_quick": tail_loss_quick}


def verify_rows(report: Any) -> dict[str, tuple[float, float, float, float, bool]]:
    """What the fixture keeps of a verify report: each check's numbers and verdict."""
    return {r.name: (r.theory, r.estimate, r.stderr, r.z, r.passed) for r in report.rows}


def cases() -> dict[str, Case]:
    return {**simulator_cases(), **theory_cases(), **table_cases()}


def flatten(value: Any, prefix: str) -> dict[str, np.ndarray]:
    """Every number in ``value`` (results, dataclasses, dicts, tuples, arrays) as named arrays."""
    out: dict[str, np.ndarray] = {}
    if hasattr(value, "trajectories") and hasattr(value, "generations"):
        out[f"{prefix}/generations"] = np.asarray(value.generations)
        for name in sorted(value.trajectories):
            out[f"{prefix}/{name}"] = np.asarray(value.trajectories[name])
        for name in sorted(getattr(value, "per_replicate", {}) or {}):
            out[f"{prefix}/replicate_{name}"] = np.asarray(value.per_replicate[name])
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            out.update(flatten(value[key], f"{prefix}/{key}"))
        return out
    if isinstance(value, (list, tuple)) and any(
        isinstance(v, (dict, list, tuple)) or dataclasses.is_dataclass(v) or np.ndim(v) > 0
        for v in value
    ):
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}/{i}"))
        return out
    if callable(value):
        return out  # e.g. a curve's bootstrap function: behaviour, not a number
    if isinstance(value, str) or value is None:
        out[prefix] = np.asarray(str(value))
        return out
    try:
        out[prefix] = np.asarray(value)
    except (TypeError, ValueError):
        out[prefix] = np.asarray(repr(value))
    if out[prefix].dtype == object:
        out[prefix] = np.asarray(repr(value))
    return out


def compute(names: list[str] | None = None) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name, case in cases().items():
        if names is None or name in names:
            arrays.update(flatten(case(), name))
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--record", action="store_true", help="(re)write the fixture file")
    parser.add_argument(
        "--record-case",
        action="append",
        default=[],
        metavar="NAME",
        help="rewrite this case only (repeatable; list it in RERECORDED with the reason)",
    )
    args = parser.parse_args()
    if args.record_case:
        unknown = sorted(set(args.record_case) - set(cases()))
        if unknown:
            parser.error(f"unknown case(s) {unknown}; known: {sorted(cases())}")
        stored = np.load(FIXTURE, allow_pickle=False)
        kept = {k: stored[k] for k in stored.files if k.split("/", 1)[0] not in args.record_case}
        new = compute(args.record_case)
        np.savez_compressed(FIXTURE, **kept, **new)
        print(f"rewrote {sorted(args.record_case)} in {FIXTURE}: {len(new)} arrays")
        return
    arrays = compute()
    if args.record:
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(FIXTURE, **arrays)
        print(f"wrote {FIXTURE}: {len(arrays)} arrays")
        return
    stored = np.load(FIXTURE, allow_pickle=False)
    bad = [k for k in stored.files if k not in arrays or not same(stored[k], arrays[k])]
    missing = [k for k in arrays if k not in stored.files]
    print(f"{len(stored.files)} arrays; differ: {bad}; new: {missing}")


def same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a.shape == b.shape and bool(np.all(a == b))


if __name__ == "__main__":
    main()
