"""P1-P4 of design.md at accelerator scale on whatever jax device is present, numba beside them.

Each workload runs through the public simulators (``backend="jax"`` and ``backend="numba"``) and
is checked against its closed form with z-scores from standard errors (family-wise false-alarm
rate 1e-3 over all checks of the run), so a fast but wrong kernel cannot pass (from 1000 replicates on a check also needs a trusted
standard error: the largest 1 % of replicates carry at most 0.6 of the spread, docs/theory.md §6):

- P1 1-D Gaussian, sufficient statistics (M=100, n=1000): mean and variance of
  ``ln sigma_n^2`` against the cumulants kappa_1, kappa_2 of docs/theory.md §2.3, and
  ``P(mu_n > 0) = 1/2``;
- P2 1-D Gaussian, explicit samples (M=100, n=1000): the same law, the same checks;
- P3 categorical, K=1000 Zipf(1.1), M=10^4: ``E H_n = H_0 (1 - 1/M)^n`` (docs/theory.md §1.3);
- P4 mixture EM chains, K=2, d=2, N=1000, n=200, warm start: ``E w_n = 1/2`` (the model is
  symmetric under the reflection that swaps its components), and jax against numba (two-sample
  z) on ``P(mean_k ln det Sigma_n < -3)`` and ``E (w_n - 1/2)^2``.

Sizes: every workload is first run at a probe size (twice: the first call compiles), and then at
the largest size up to its target that fits its share of ``--budget-s`` by the probe's rate.
Targets on a GPU: R = 10^7 chains for P1, 10^5 for P2, 16384 for P3 (n = 100 generations timed:
its multinomials of M = 10^4 points over K = 1000 states are the slowest jax kernel), 10^4 for P4;
on a CPU the same script runs CPU-scale targets (P3: n = 50). ``--cpu-smoke`` runs tiny sizes in
seconds (the test suite runs it). Results are written after every workload (``"complete": false`` until the end), so a run
stopped by a timeout still leaves what it measured. The exit status is 1 when a check fails.

Run from the repository root::

    python -m benchmarks.gpu          # benchmarks/results/gpu.{json,md} (gpu_cpu.* on a CPU)
    python -m benchmarks.gpu --cpu-smoke --out /tmp/smoke
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: find `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

import collapse_theory as ct
from benchmarks.common import RESULTS, environment
from collapse_theory._json import write_json
from collapse_theory._stats import (
    mean_se,
    mean_z,
    se_trusted,
    top_share,
    two_sample_z,
    z_threshold,
)
from collapse_theory._validate import output_directory

#: Family-wise false-alarm rate of all the statistical checks of one run.
FALSE_ALARM_RATE = 1e-3
#: Checks per run (P1: 3 x 2 backends, P2: 3 x 2, P3: 1 x 2, P4: 1 x 2 + 2), the Bonferroni m.
NUM_CHECKS = 18
#: Replicates from which a check also needs a trusted standard error (docs/theory.md §6).
TRUST_FROM = 1000


@dataclass
class Sizes:
    """Replicates: the probe (one device call), the target, and the numba probe and target."""

    jax_probe: int
    jax_target: int
    numba_probe: int
    numba_target: int
    generations: int
    jax_options: dict[str, Any] = field(default_factory=dict)


#: Per mode: P1..P4 sizes. GPU: wide device calls (chunk_size blocks of 256) and a large memory
#: budget for the mixture; CPU: the default calls.
SIZES = {
    "gpu": {
        "P1": Sizes(2**19, 10**7, 2**14, 10**6, 1000, {"chunk_size": 2048, "jax_memory_gib": 40.0}),
        "P2": Sizes(2**14, 10**5, 256, 4096, 1000, {"chunk_size": 64, "jax_memory_gib": 40.0}),
        "P3": Sizes(2**12, 2**14, 64, 1024, 100, {"chunk_size": 64, "jax_memory_gib": 40.0}),
        "P4": Sizes(2**12, 10**4, 64, 1024, 200, {"chunk_size": 64, "jax_memory_gib": 40.0}),
    },
    "cpu": {
        "P1": Sizes(2**14, 2**17, 2**14, 10**6, 1000),
        "P2": Sizes(256, 2048, 256, 4096, 1000),
        "P3": Sizes(64, 256, 64, 1024, 50),
        "P4": Sizes(16, 64, 64, 256, 200),
    },
    "smoke": {
        "P1": Sizes(256, 256, 256, 256, 20),
        "P2": Sizes(64, 64, 64, 64, 10),
        "P3": Sizes(32, 32, 32, 32, 3),
        "P4": Sizes(8, 8, 8, 8, 3),
    },
}

P1_M, P2_M, P3_K, P3_M, P4_N = 100, 100, 1000, 10_000, 1000
P4_MIXTURE = ct.gmm.Mixture([0.5, 0.5], [[-1.5, 0.0], [1.5, 0.0]], [np.eye(2), np.eye(2)])
P3_P0 = ct.categorical.zipf(P3_K, 1.1)


# ---------------------------------------------------------------------------------------------
# Workloads: run(backend, R, n, seed, options) -> result; statistics(result) -> named samples


def run_p1(backend: str, r: int, n: int, seed: int, options: dict[str, Any]):
    return ct.gaussian.simulate(
        0.0, 1.0, P1_M, n, num_replicates=r, record="last", seed=seed, backend=backend, **options
    )


def run_p2(backend: str, r: int, n: int, seed: int, options: dict[str, Any]):
    return ct.gaussian.simulate(
        0.0, 1.0, P2_M, n, num_replicates=r, record="last", method="samples", seed=seed,
        backend=backend, **options,
    )  # fmt: skip


def run_p3(backend: str, r: int, n: int, seed: int, options: dict[str, Any]):
    return ct.categorical.simulate(
        P3_P0, P3_M, n, num_replicates=r, record="last", seed=seed, backend=backend, **options
    )


def run_p4(backend: str, r: int, n: int, seed: int, options: dict[str, Any]):
    """The floor-free process (reg_covar = 0, as design.md's P4): a few chains reach
    degenerate fits; their warning is silenced here, the checks use probabilities."""
    if backend == "numba":
        options = {k: v for k, v in options.items() if k != "jax_memory_gib"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ct.gmm.DegenerateFitWarning)
        return ct.gmm.simulate(
            P4_MIXTURE, P4_N, n, num_replicates=r, record="last", seed=seed, backend=backend,
            **options,
        )  # fmt: skip


def gaussian_checks(run: Any, m: int, n: int) -> list[tuple[str, np.ndarray, float, str]]:
    """``ln sigma_n^2`` against kappa_1 (mean) and kappa_2 (variance, as the mean of the squared
    deviation from kappa_1), and the sign of ``mu_n`` (a probability: ``mu_n`` itself is a
    heavy-tailed scale mixture whose mean has an SE that cannot be trusted)."""
    kappa1, kappa2 = ct.gaussian.log_variance_cumulants(m, [n], order=2)[:, 0]
    log_var = np.log(run["var"][-1])
    return [
        ("E ln var_n = kappa_1", log_var, float(kappa1), "docs/theory.md §2.3"),
        ("E (ln var_n - kappa_1)^2 = kappa_2", (log_var - kappa1) ** 2, float(kappa2), "§2.3"),
        ("P(mu_n > 0) = 1/2 (symmetry)", (run["mean"][-1] > 0).astype(float), 0.5, "§2.1"),
    ]


def categorical_checks(run: Any, n: int) -> list[tuple[str, np.ndarray, float, str]]:
    h = 1.0 - np.sum(run["p"][-1] ** 2, axis=-1)
    truth = float(ct.categorical.expected_heterozygosity(P3_P0, P3_M, [n])[0])
    return [("E H_n = H_0 (1 - 1/M)^n", h, truth, "docs/theory.md §1.3")]


def mixture_checks(run: Any) -> list[tuple[str, np.ndarray, float, str]]:
    return [("E w_n = 1/2 (symmetry)", run["weights"][-1][:, 0], 0.5, "docs/theory.md §4")]


#: Threshold of the log-determinant probability of P4 (about its median at n = 200): a
#: probability, since without a covariance floor a few chains collapse to ln det ~ -50.
LOG_DET_CUT = -3.0


def mixture_statistics(run: Any) -> dict[str, np.ndarray]:
    """Symmetric statistics compared between jax and numba."""
    log_det = np.log(np.linalg.det(run["covs"][-1])).mean(axis=-1)
    return {
        f"P(mean_k ln det Sigma_n < {LOG_DET_CUT})": (log_det < LOG_DET_CUT).astype(float),
        "E (w_n - 1/2)^2": (run["weights"][-1][:, 0] - 0.5) ** 2,
    }


WORKLOADS: dict[str, dict[str, Any]] = {
    "P1": {
        "title": f"1-D Gaussian, sufficient statistics, M={P1_M}",
        "unit": "chain-generations/s",
        "run": run_p1,
        "units": lambda r, n: r * n,
        "checks": lambda run, n: gaussian_checks(run, P1_M, n),
    },
    "P2": {
        "title": f"1-D Gaussian, explicit samples, M={P2_M}",
        "unit": "samples/s",
        "run": run_p2,
        "units": lambda r, n: r * n * P2_M,
        "checks": lambda run, n: gaussian_checks(run, P2_M, n),
    },
    "P3": {
        "title": f"categorical, K={P3_K} Zipf(1.1), M={P3_M}",
        "unit": "chain-generations/s",
        "run": run_p3,
        "units": lambda r, n: r * n,
        "checks": lambda run, n: categorical_checks(run, n),
    },
    "P4": {
        "title": f"mixture EM chains, K=2, d=2, N={P4_N}, warm start",
        "unit": "fits/s",
        "run": run_p4,
        "units": lambda r, n: r * n,
        "checks": lambda run, n: mixture_checks(run),
    },
}


# ---------------------------------------------------------------------------------------------
# Timing at the largest size that fits


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = work()
    return time.perf_counter() - start, value


def run_at_scale(
    run: Callable[..., Any],
    backend: str,
    probe: int,
    target: int,
    n: int,
    seconds: float,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Probe twice (the first call compiles), then the largest multiple of the probe up to
    ``target`` that the probe's rate fits in ``seconds``; returns sizes, times and the run."""
    first, _ = timed(lambda: run(backend, probe, n, 1, options))
    probe_seconds, result = timed(lambda: run(backend, probe, n, 2, options))
    fits = int(seconds / max(probe_seconds, 1e-9))
    r = max(probe, min(target, probe * fits))
    r -= r % probe if r < target else 0
    if r > probe:
        wall, result = timed(lambda: run(backend, r, n, 3, options))
    else:
        r, wall = probe, probe_seconds
    return {
        "replicates": r,
        "seconds": wall,
        "first_call_seconds": first,
        "probe": {"replicates": probe, "seconds": probe_seconds},
        "result": result,
    }


def check_rows(
    workload: str, backend: str, samples: list[tuple[str, np.ndarray, float, str]], z_star: float
) -> list[dict[str, Any]]:
    rows = []
    for label, x, truth, ref in samples:
        estimate, se = mean_se(x)
        share = float(top_share(x))
        z = mean_z(x, truth)
        rows.append(
            {
                "workload": workload,
                "backend": backend,
                "check": label,
                "reference": ref,
                "estimate": estimate,
                "se": se,
                "closed_form": truth,
                "z": z,
                "top_share": share,
                "passed": passes(z, z_star, share, x.size),
            }
        )
    return rows


def passes(z: float, z_star: float, share: float, num_replicates: int) -> bool:
    """|z| below the threshold, and the SE trusted (top 1 % share <= 0.6, docs/theory.md §6)
    from :data:`TRUST_FROM` replicates on (below, the top 1 % is one replicate)."""
    trusted = se_trusted(share) or num_replicates < TRUST_FROM
    return bool(abs(z) < z_star and trusted)


def two_sample_rows(
    workload: str, jax_stats: dict[str, np.ndarray], numba_stats: dict[str, np.ndarray], z_star
) -> list[dict[str, Any]]:
    rows = []
    for label in jax_stats:
        a_size, b_size = jax_stats[label].size, numba_stats[label].size
        a, se_a = mean_se(jax_stats[label])
        b, se_b = mean_se(numba_stats[label])
        z = two_sample_z(a, se_a, b, se_b)
        share = max(float(top_share(jax_stats[label])), float(top_share(numba_stats[label])))
        rows.append(
            {
                "workload": workload,
                "backend": "jax vs numba",
                "check": label,
                "reference": "two-sample z",
                "estimate": a,
                "se": se_a,
                "closed_form": f"numba {b:.6g} +- {se_b:.3g}",
                "z": z,
                "top_share": share,
                "passed": passes(z, z_star, share, min(a_size, b_size)),
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Output


def device_description() -> dict[str, Any]:
    import jax

    device = jax.devices()[0]
    return {
        "platform": device.platform,
        "device_kind": getattr(device, "device_kind", ""),
        "devices": [f"{d.platform}:{d.id}" for d in jax.devices()],
        "jax": jax.__version__,
    }


def results_stem(mode: str) -> str:
    """The results files' name: ``gpu`` for a GPU run (and the smoke mode), ``gpu_cpu`` for the
    CPU-scale run, so neither overwrites the other."""
    return "gpu_cpu" if mode == "cpu" else "gpu"


def write(out: Path, payload: dict[str, Any]) -> None:
    """``<stem>.json`` and ``<stem>.md`` under ``out`` (:func:`results_stem`; rewritten after
    every workload)."""
    stem = results_stem(payload["mode"])
    write_json(out / f"{stem}.json", payload)
    lines = [
        "# P1-P4 at accelerator scale (benchmarks/gpu.py)",
        "",
        f"Mode: {payload['mode']}; device: {payload['device']['platform']} "
        f"({payload['device']['device_kind']}), jax {payload['device']['jax']}; dtype "
        f"{payload['dtype']}; complete: {payload['complete']}; all checks passed: "
        f"{payload['all_passed']}.",
        "",
        "| workload | backend | replicates | generations | seconds | first call (s) | rate |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in payload["throughput"]:
        lines.append(
            f"| {row['workload']} {row['title']} | {row['backend']} | {row['replicates']} | "
            f"{row['generations']} | {row['seconds']:.3g} | {row['first_call_seconds']:.3g} | "
            f"{row['rate']:.3g} {row['unit']} |"
        )
    lines += [
        "",
        f"Statistical checks (|z| < {payload['z_threshold']:.3f}: family-wise false-alarm rate "
        f"{FALSE_ALARM_RATE} over {NUM_CHECKS} checks; standard errors trusted when the top 1 % "
        f"of replicates carry at most 0.6 of the spread, required from {TRUST_FROM} replicates "
        "on):",
        "",
        "| workload | backend | check | estimate | SE | closed form | z | top share | passed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in payload["checks"]:
        truth = row["closed_form"]
        truth = f"{truth:.6g}" if isinstance(truth, float) else truth
        lines.append(
            f"| {row['workload']} | {row['backend']} | {row['check']} | {row['estimate']:.6g} | "
            f"{row['se']:.3g} | {truth} | {row['z']:.2f} | {row['top_share']:.3f} | "
            f"{row['passed']} |"
        )
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# --profile: where the jax kernels' time goes, per draw, on this device (jax_<platform>.md)

PROFILE_WIDTH = 2**14  # lanes, the default replicates per device call


def _lane_rate(draw: Callable[[Any], Any], width: int, repeats: int = 5) -> float:
    """Lanes per second of ``jit(vmap(draw))`` over ``width`` keys (best of ``repeats``, after a
    compiling call), ``draw(key)`` returning one lane's value."""
    import jax

    keys = jax.random.split(jax.random.key(0), width)
    batch = jax.jit(jax.vmap(draw))
    jax.block_until_ready(batch(keys))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(batch(keys))
        best = min(best, time.perf_counter() - start)
    return width / best


def profile_samplers(width: int) -> list[dict[str, Any]]:
    """Per-lane rates of the draws the P1 and P3 jax kernels make, and the candidate fixes."""
    import jax
    import jax.numpy as jnp

    from collapse_theory import _jax_samplers

    f64 = jnp.float64
    shape = 0.5 * (P1_M - 1)
    p0 = jnp.asarray(P3_P0)

    def p1_step_before(key):  # gaussian._jax per chain-generation before issue 21
        k_mean, k_var = p1_step_keys(key)
        return jax.random.normal(k_mean, dtype=f64) + 2 * jax.random.gamma(k_var, shape, dtype=f64)

    def p1_step(key):  # what gaussian._jax does per chain-generation (Replace, sufficient)
        k_mean, k_var = p1_step_keys(key)
        return jax.random.normal(k_mean, dtype=f64) + _jax_samplers.chisquare(k_var, 2 * shape)

    cases = [
        ("key: fold_in + split(3) + split(2)", lambda k: jax.random.key_data(p1_step_keys(k)[1])),
        ("threefry: 64 random bits", lambda k: jax.random.bits(k, dtype=jnp.uint64)),
        ("normal", lambda k: jax.random.normal(k, dtype=f64)),
        ("uniform", lambda k: jax.random.uniform(k, dtype=f64)),
        (f"gamma({shape}) jax.random.gamma", lambda k: jax.random.gamma(k, shape, dtype=f64)),
        (f"gamma({shape}) _jax_samplers.gamma", lambda k: _jax_samplers.gamma(k, shape, f64)),
        ("P1 step with jax.random.gamma (before)", p1_step_before),
        ("P1 step, as gaussian._jax draws it (_jax_samplers.chisquare)", p1_step),
        ("binomial(10^4, 0.1)", lambda k: jax.random.binomial(k, 10_000.0, 0.1, dtype=f64)),
        ("binomial(10^4, 5e-4)", lambda k: jax.random.binomial(k, 10_000.0, 5e-4, dtype=f64)),
        (
            f"P3 step: jax.random.multinomial(10^4, Zipf K={P3_K}) (before)",
            lambda k: jax.random.multinomial(k, 10_000.0, p0, dtype=f64)[0],
        ),
        (
            f"P3 step: 10^4 uniforms, searchsorted in the K={P3_K} cumulative, bincount "
            "(categorical._jax now)",
            lambda k: multinomial_by_search(k, P3_M, p0)[0],
        ),
    ]
    rows = simulator_with_and_without_fix(width)
    with jax.enable_x64(True):
        for label, draw in cases:
            lanes = width if "P3" not in label else max(1, width // 64)
            rate = _lane_rate(draw, lanes)
            rows.append({"draw": label, "lanes": lanes, "lanes_per_s": rate})
            print(f"{label}: {rate:.3g} lanes/s", flush=True)
    return rows


def multinomial_by_search(key: Any, total: int, p: Any) -> Any:
    """Multinomial(total, p) counts by inverse CDF: ``total`` uniforms located in the cumulative
    probabilities (O(total log K), exact as the comparison path of ``categorical._jax``)."""
    import jax
    import jax.numpy as jnp

    cumulative = jnp.cumsum(p)
    u = jax.random.uniform(key, (total,), p.dtype) * cumulative[-1]
    states = jnp.minimum(jnp.searchsorted(cumulative, u, side="right"), p.shape[0] - 1)
    return jnp.zeros(p.shape[0], p.dtype).at[states].add(1)


def simulator_with_and_without_fix(width: int, n: int = 100) -> list[dict[str, Any]]:
    """P1 through ``ct.gaussian.simulate(backend="jax")``, whose chi-square is
    :func:`collapse_theory._jax_samplers.chisquare` (it was ``jax.random.gamma`` before issue 21:
    the "before" rate is the committed row of ``benchmarks/results/jax_cpu.md``'s history)."""

    def rate() -> float:
        run_p1("jax", width, n, 0, {})
        seconds = min(timed(lambda s=s: run_p1("jax", width, n, s, {}))[0] for s in (1, 2, 3))
        return width * n / seconds

    rows = [
        {
            "draw": "P1 via ct.gaussian.simulate (_jax_samplers.chisquare)",
            "lanes": width,
            "lanes_per_s": rate(),
        }
    ]
    for row in rows:
        print(f"{row['draw']}: {row['lanes_per_s']:.3g} chain-generations/s", flush=True)
    return rows


def p1_step_keys(key: Any) -> Any:
    """The keys of P1's two draws in a generation: fold_in, split(3), split(2) of the third."""
    import jax

    return jax.random.split(jax.random.split(jax.random.fold_in(key, 7), 3)[2])


def numba_rates() -> dict[str, float]:
    """The same draws on numba, one thread (benchmarks/bench_rng_limit.py's kernels)."""
    from benchmarks import bench_rng_limit as limit

    shape = 0.5 * (P1_M - 1)
    return {
        "normal": limit.fill_rate(limit.fill_normal, 1, 50),
        f"gamma({shape})": limit.fill_rate(limit.fill_gamma, 1, 50, shape),
        "P1 variates (normal + gamma)": limit.fill_rate(limit.fill_p1_variates, 1, 50, shape),
        "binomial(10^4, 0.1)": limit.fill_rate(limit.fill_binomial, 1, 50, 10_000, 0.1),
        "binomial(10^4, 5e-4)": limit.fill_rate(limit.fill_binomial, 1, 50, 10_000, 5e-4),
    }


#: The written findings of ``--profile`` per platform, appended to ``jax_<platform>.md``.
PROFILE_NOTES = {
    "cpu": """
## Findings

Committed run (after issue 21: the Gaussian kernels draw their chi-squares with
`_jax_samplers.chisquare`, the categorical kernel its large multinomials by binary search); the
2-core machine was shared (load average 2-3), and wall-clock rates of jax on a CPU move by up
to 2x between runs. The "(before)" rows time the draws the kernels made before.

**P1 (1-D Gaussian, sufficient statistics) is about 25x slower on jax than on numba on a CPU
because of the counter-based generator.** `jax.random.gamma` is a `while_loop` that draws one
Marsaglia–Tsang candidate per iteration and splits its key in every iteration; under `vmap` the
16384 lanes of a call repeat an iteration whenever any lane rejected, so every call paid
several iterations of threefry hashes. `collapse_theory._jax_samplers.gamma` (same law, tested
in `tests/test_jax_samplers.py`) draws two candidates at once and loops only when a lane
rejected both: 1.7x faster alone here, the P1 step 1.4x (1.3x-2.2x over earlier runs), P1
through `ct.gaussian.simulate` 3.7e6 chain-generations/s (2.8e6 in the run recorded
before the change; the CPU-scale `gpu_cpu.md` run, under load, gave 2.2e6; `benchmarks/bench_jax_memory.py`'s P1 at R = 10^7 took 14 s against 30 s).
What remains is the generator: one 64-bit threefry draw costs about 16 ns on this CPU against
about 2 ns for PCG64, and a chain-generation hashes about eight times (fold_in, three splits, the
normal, the gamma's candidates and its shape-boost uniform). The `rbg` and `unsafe_rbg` key
implementations were not faster on the CPU. Closing that is not cheap on a CPU and is not the
jax backend's purpose (GPUs, where threefry is cheap: `jax_gpu.md`).

**P3 (categorical, K=1000, M=10^4) was 680x slower because each generation drew K = 1000
conditional binomials one after another** (`jax.random.multinomial`: a `lax.scan` over the K
states, each a `jax.random.binomial` rejection loop run until the slowest lane of the batch
accepts; about 0.7 ms per lane whatever the probabilities). The kernel now draws the M points by
inverse CDF (M uniforms located in the K cumulative probabilities by `searchsorted`, a
scatter-add into K counts: exact, O(M log K) per lane, no rejection loop), 2.8x faster here per
multinomial; its memory is M floats per lane, bounded by the `jax_memory_gib` chunks. numba's
kernel still visits only the states alive and stops when the sample is used up, which no
vectorised draw matches on a CPU.
""",
    "gpu": """
## Findings

One run on an NVIDIA H200 (jax 0.11.2, float64), 16384 lanes per call (the simulators use far
wider calls on a GPU: `gpu.md`). Threefry is cheap here (1.7e8 64-bit draws per second at this
width, against 6e7 on the 2-core CPU), and the rejection loops cost what they cost under `vmap`:
`_jax_samplers.gamma` is 2.7x `jax.random.gamma` (1.3e8 against 4.9e7 lanes/s) and the P1 step
2.6x (1.2e8 against 4.7e7). The multinomial by binary search is 380x
`jax.random.multinomial`'s K conditional binomials (3.0e5 against 790 lanes/s): the scan runs K
dependent steps, each a rejection loop; the search has no loop.
""",
}


def write_profile(out: Path, rows: list[dict[str, Any]], numba: dict[str, float]) -> Path:
    """``jax_<platform>.{json,md}``: the per-lane rates, numba's beside them, the findings."""
    device = device_description()
    name = f"jax_{device['platform']}"
    payload = {
        "device": device,
        "rows": rows,
        "numba_one_thread": numba,
        "environment": environment(),
    }
    write_json(out / f"{name}.json", payload)
    return render_profile(out, payload)


def render_profile(out: Path, payload: dict[str, Any]) -> Path:
    """``jax_<platform>.md`` from the profile's payload and :data:`PROFILE_NOTES`."""
    device, rows, numba = payload["device"], payload["rows"], payload["numba_one_thread"]
    name = f"jax_{device['platform']}"
    lines = [
        f"# Where the jax kernels' time goes on {device['platform']} ({device['device_kind']})",
        "",
        f"Command: `python -m benchmarks.gpu --profile` (jax {device['jax']}, float64, "
        f"{PROFILE_WIDTH} lanes per call as the simulators' default device call; the multinomial "
        "on 1/64 of them).",
        "",
        "| draw (one per lane, jit(vmap)) | lanes/s |",
        "|---|---|",
        *(f"| {row['draw']} | {row['lanes_per_s']:.3g} |" for row in rows),
        "",
        "numba, one thread, the kernels' own samplers (draws/s): "
        + ", ".join(f"{k} {v:.3g}" for k, v in numba.items()),
        "",
        PROFILE_NOTES.get(device["platform"], "").strip(),
    ]
    path = out / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny sizes, seconds on a CPU")
    parser.add_argument(
        "--budget-s", type=float, default=240.0, help="seconds for all timed runs (default 240)"
    )
    parser.add_argument("--workloads", default="P1,P2,P3,P4", help="comma-separated subset")
    parser.add_argument("--float32", action="store_true", help="jax in float32")
    parser.add_argument("--out", type=Path, default=None, help="results directory")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="per-draw rates of the jax samplers (jax_<platform>.md)",
    )
    parser.add_argument("--render", action="store_true", help="with --profile: rewrite the md only")
    args = parser.parse_args(argv)
    if args.profile:
        out = output_directory("--out", args.out if args.out is not None else RESULTS)
        if args.render:  # every recorded profile (a GPU's too, rendered on any machine)
            for recorded in sorted(out.glob("jax_*.json")):
                payload = json.loads(recorded.read_text())
                if "rows" in payload:
                    path = render_profile(out, payload)
                    print(path.read_text())
            return 0
        else:
            path = write_profile(out, profile_samplers(PROFILE_WIDTH), numba_rates())
        print(path.read_text())
        return 0

    import jax

    platform = jax.devices()[0].platform
    mode = "smoke" if args.cpu_smoke else ("cpu" if platform == "cpu" else "gpu")
    out = args.out if args.out is not None else (None if args.cpu_smoke else RESULTS)
    if out is not None:
        out = output_directory("--out", out)
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    z_star = z_threshold(FALSE_ALARM_RATE, NUM_CHECKS)
    payload: dict[str, Any] = {
        "mode": mode,
        "device": device_description(),
        "dtype": "float32" if args.float32 else "float64",
        "budget_s": args.budget_s,
        "z_threshold": z_star,
        "complete": False,
        "all_passed": True,
        "throughput": [],
        "checks": [],
        "environment": environment(),
    }
    share = args.budget_s / max(len(names), 1)
    dtype = "float32" if args.float32 else "float64"
    for name in names:
        spec, sizes = WORKLOADS[name], SIZES[mode][name]
        n = sizes.generations
        runs = {}
        for backend, probe, target, seconds, options in (
            ("jax", sizes.jax_probe, sizes.jax_target, 0.7 * share, sizes.jax_options),
            ("numba", sizes.numba_probe, sizes.numba_target, 0.2 * share, {}),
        ):
            with ct.backends.use(backend, **({"dtype": dtype} if backend == "jax" else {})):
                runs[backend] = measured = run_at_scale(
                    spec["run"], backend, probe, target, n, seconds, options
                )
            payload["throughput"].append(
                {
                    "workload": name,
                    "title": spec["title"],
                    "backend": backend if backend == "numba" else f"jax on {platform}",
                    "replicates": measured["replicates"],
                    "generations": n,
                    "seconds": measured["seconds"],
                    "first_call_seconds": measured["first_call_seconds"],
                    "rate": spec["units"](measured["replicates"], n) / measured["seconds"],
                    "unit": spec["unit"],
                    "probe": measured["probe"],
                }
            )
            payload["checks"] += check_rows(
                name, backend, spec["checks"](measured["result"], n), z_star
            )
        if name == "P4":
            payload["checks"] += two_sample_rows(
                name,
                mixture_statistics(runs["jax"]["result"]),
                mixture_statistics(runs["numba"]["result"]),
                z_star,
            )
        payload["all_passed"] = all(row["passed"] for row in payload["checks"])
        if out is not None:
            write(out, payload)
        print(f"{name} done: " + ", ".join(f"{r['backend']} {r['rate']:.3g} {r['unit']}"
              for r in payload["throughput"] if r["workload"] == name), flush=True)  # fmt: skip
    payload["complete"] = True
    if out is not None:
        write(out, payload)
    failed = [row for row in payload["checks"] if not row["passed"]]
    for row in failed:
        print(f"FAILED {row['workload']} {row['backend']}: {row['check']} z={row['z']:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
