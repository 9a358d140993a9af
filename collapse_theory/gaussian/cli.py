"""``collapse-theory simulate gaussian``: simulate the 1-D or d-D Gaussian chain and summarise it."""

from __future__ import annotations

import argparse

import numpy as np

from collapse_theory._cli import (
    Commands,
    UsageError,
    add_output_options,
    add_run_options,
    check_out,
    finish_simulation,
    format_table,
    parse_matrix,
    parse_record,
    parse_regime,
    parse_vector,
    pick_rows,
)
from collapse_theory.gaussian.theory import ESTIMATORS
from collapse_theory.policies import parse_policy
from collapse_theory.results import SimulationResult, summarize

__all__ = [
    "add_commands",
    "decode_array",
    "decode_estimator",
    "decode_var0",
    "format_gaussian_summary",
]


def add_commands(commands: Commands) -> None:
    """Add ``simulate gaussian``."""
    models = commands.simulate
    gauss = models.add_parser(
        "gaussian",
        help="Gaussian, 1-D or d-dimensional (docs/theory.md sections 2 and 3)",
        description=(
            "Simulate a Gaussian refitted each generation (sample mean and unbiased or maximum-"
            "likelihood (co)variance) on M samples of the previous fit. 1-D: --mean0 X --var0 V; "
            "d-D: --mean0 'x,y' --cov0 'a,b;c,d'. Prints per recorded generation: 1-D the mean "
            "of mu, the median and mean of sigma^2 and P(sigma^2 < 0.1 var0); d-D the mean "
            "squared drift of mu, the mean log det and the mean and median trace of Sigma. "
            "Each mean comes with its standard error, or 'untrusted' where the largest 1% of "
            "replicates carry most of the spread (heavy tails: then read the median)."
        ),
    )
    gauss.add_argument(
        "--mean0",
        default=None,
        metavar="X",
        help="mean of model 0: a number (1-D) or comma-separated numbers (d-D); default 0",
    )
    start = gauss.add_mutually_exclusive_group(required=True)
    start.add_argument(
        "--var0", type=float, default=None, metavar="V", help="variance of model 0 (1-D, > 0)"
    )
    start.add_argument(
        "--cov0",
        default=None,
        metavar="'a,b;c,d'",
        help="covariance of model 0 (d-D), rows separated by ';'",
    )
    add_run_options(gauss)
    gauss.add_argument(
        "--estimator",
        choices=ESTIMATORS,
        default="unbiased",
        help="unbiased (ddof=1, default) or mle (ddof=0) (co)variance",
    )
    gauss.add_argument(
        "--method",
        choices=("sufficient", "samples"),
        default="sufficient",
        help="sufficient: exact sufficient-statistics sampler (default); samples: M explicit draws",
    )
    gauss.add_argument(
        "--policy",
        default=None,
        metavar="POLICY",
        help=(
            "sampling policy of every fitted model, 1-D (docs/theory.md section 8): 'temperature T', 'truncation K' (+K sigma), stages joined by '+'"
        ),
    )
    gauss.add_argument(
        "--location",
        default="mean",
        metavar="EST",
        help=(
            "estimator of the location, 1-D with --method samples (docs/theory.md section 10): "
            "mean (default), median or trimmed:A (A in [0, 0.5))"
        ),
    )
    gauss.add_argument(
        "--known-scale",
        action="store_true",
        help="keep the variance at --var0 and refit only the location (section 10)",
    )
    add_output_options(gauss)
    gauss.set_defaults(handler=_cmd_simulate_gaussian)


def _gaussian_start(
    args: argparse.Namespace,
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """(mean0, var0) from ``--mean0`` and ``--var0`` (1-D) or (mean0, cov0) from ``--cov0``."""
    if args.var0 is not None:
        if not np.isfinite(args.var0) or args.var0 <= 0:
            raise UsageError(f"--var0 must be a finite variance > 0; got {args.var0}")
        mean0 = 0.0 if args.mean0 is None else parse_vector(args.mean0, "--mean0")
        if np.ndim(mean0) and mean0.size != 1:
            raise UsageError(
                f"--mean0 {args.mean0!r}: --var0 is the 1-D model, so --mean0 must be one "
                "number; use --cov0 for d dimensions"
            )
        return float(np.ravel(mean0)[0]), float(args.var0)
    cov0 = parse_matrix(args.cov0, "--cov0")
    dim = cov0.shape[0]
    mean0 = np.zeros(dim) if args.mean0 is None else parse_vector(args.mean0, "--mean0")
    if mean0.size != dim:
        raise UsageError(
            f"--mean0 {args.mean0!r} has {mean0.size} entries but --cov0 is {dim} x {dim}"
        )
    return mean0, cov0


def _cmd_simulate_gaussian(args: argparse.Namespace) -> int:
    import collapse_theory as ct

    check_out(args.out)  # before the run: a bad --out must not cost a simulation
    mean0, scale = _gaussian_start(args)
    one_dim = np.ndim(mean0) == 0
    regime = parse_regime(args.regime)
    record = parse_record(args.record)
    result = ct.gaussian.simulate(
        mean0,
        **({"var0": scale} if one_dim else {"cov0": scale}),
        num_samples=args.num_samples,
        num_generations=args.generations,
        num_replicates=args.replicates,
        estimator=args.estimator,
        regime=regime,
        method=args.method,
        record=record,
        policy=parse_policy(args.policy),
        seed=args.seed,
        progress=args.progress,
        location=args.location,
        known_scale=args.known_scale,
    )
    start = f"mean0={mean0:g}, var0={scale:g}" if one_dim else f"d={int(np.size(mean0))}"
    header = (
        f"gaussian: {start}, M={args.num_samples}, n={args.generations}, R={args.replicates}, "
        f"estimator={args.estimator}, method={args.method}, regime={args.regime}"
        + ("" if args.policy is None else f", policy={args.policy}")
        + ("" if args.location == "mean" else f", location={args.location}")
        + (", known scale" if args.known_scale else "")
    )
    return finish_simulation(
        result, header, format_gaussian_summary(result, max_rows=args.max_rows), args.out
    )


def format_gaussian_summary(result: SimulationResult, max_rows: int = 0) -> str:
    """Per recorded generation, over replicates; every mean with its standard error, or
    ``untrusted`` where the heavy-tail diagnostic flags it (docs/theory.md §6).

    1-D: mean of mu_n, median and mean of sigma_n^2, and P(sigma_n^2 < 0.1 sigma_0^2) (the
    typical model collapses while the mean variance stays put, docs/theory.md §2.2-2.3; for
    n >> M the mean of sigma_n^2 rests on a few replicates and its SE is flagged). d-D: mean
    |mu_n - mu_0|^2, mean ln det Sigma_n, mean and median tr Sigma_n (§3.2-3.4).
    """
    gens = np.asarray(result.generations)
    picks = pick_rows(gens.size, max_rows)
    shown = gens[picks]
    mean = np.asarray(result["mean"])[picks]
    rows = []
    if "var" in result.trajectories:
        var = np.asarray(result["var"])[picks]
        parameters = result.metadata["parameters"]
        # "var0" since the 1-D scale is spelled var0; results saved before record it as "cov0"
        var0 = float(np.asarray(parameters["var0"] if "var0" in parameters else parameters["cov0"]))
        mu = summarize("mu", mean, shown, quantiles=())
        sigma2 = summarize("var", var, shown, quantiles=())
        header = [
            "generation",
            "mu mean",
            "mu SE",
            "var median",
            "var mean",
            "var SE",
            "P(var < 0.1 var0)",
        ]
        for row, g in enumerate(shown):
            rows.append(
                [
                    str(int(g)),
                    f"{mu.mean[row]:.6g}",
                    mu.se_text(row),
                    f"{sigma2.median[row]:.6g}",
                    f"{sigma2.mean[row]:.6g}",
                    sigma2.se_text(row),
                    f"{np.mean(var[row] < 0.1 * var0):.4g}",
                ]
            )
    else:
        cov = np.asarray(result["cov"])[picks]
        mean0 = np.asarray(result.metadata["parameters"]["mean0"], dtype=np.float64)
        sign, log_det = np.linalg.slogdet(cov)
        drift = summarize("drift", np.sum((mean - mean0) ** 2, axis=-1), shown, quantiles=())
        logdet = summarize("logdet", np.where(sign > 0, log_det, -np.inf), shown, quantiles=())
        trace = summarize("trace", np.trace(cov, axis1=-2, axis2=-1), shown, quantiles=())
        header = [
            "generation",
            "|mu-mu0|^2 mean",
            "SE",
            "log det mean",
            "SE",
            "trace mean",
            "SE",
            "trace median",
        ]
        for row, g in enumerate(shown):
            rows.append(
                [
                    str(int(g)),
                    f"{drift.mean[row]:.6g}",
                    drift.se_text(row),
                    f"{logdet.mean[row]:.6g}",
                    logdet.se_text(row),
                    f"{trace.mean[row]:.6g}",
                    trace.se_text(row),
                    f"{trace.median[row]:.6g}",
                ]
            )
    return format_table(header, rows, picks.size, gens.size)


def decode_array(value: float | list[float] | np.ndarray) -> float | np.ndarray:
    """A sweep spec's ``mean0`` / ``cov0``: a number, or (nested) lists as a float array."""
    return np.asarray(value, dtype=np.float64) if isinstance(value, list) else value


def decode_var0(value: float) -> float:
    """A sweep spec's ``var0``: the variance of a 1-D model 0, a number > 0."""
    from collapse_theory.gaussian.theory import check_var0

    return check_var0(value)


def decode_estimator(value: str) -> str:
    """A sweep spec's ``estimator``, checked: ``"unbiased"`` or ``"mle"``."""
    from collapse_theory.gaussian.theory import _check_estimator

    return _check_estimator(value)
