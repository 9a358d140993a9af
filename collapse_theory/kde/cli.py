"""``collapse-theory simulate kde``, and the decoders of the KDE family's sweep parameters."""

from __future__ import annotations

import argparse

import numpy as np

from collapse_theory._cli import (
    Commands,
    UsageError,
    add_output_options,
    add_run_options,
    finish_simulation,
    format_table,
    number,
    parse_record,
    parse_regime,
    pick_rows,
)
from collapse_theory.kde.options import AccumulateSubsample, Proportional, Regime
from collapse_theory.results import SimulationResult

__all__ = ["add_commands", "decode_bandwidth", "decode_regime", "format_kde_summary"]

#: The command line's and the sweep's name of AccumulateSubsample.
SUBSAMPLE_NAME = "accumulate-subsample"


def decode_regime(value: object) -> Regime:
    """``replace``, ``accumulate``, ``accumulate-subsample`` or ``fresh:FRACTION[:mix|split]``.

    Examples
    --------
    >>> decode_regime("accumulate-subsample")
    AccumulateSubsample()
    """
    if value == SUBSAMPLE_NAME:
        return AccumulateSubsample()
    if not isinstance(value, str):
        raise UsageError(
            f"a regime is replace, accumulate, {SUBSAMPLE_NAME} or fresh:FRACTION[:mix|split]; "
            f"got {value!r}"
        )
    return parse_regime(value)


def decode_bandwidth(value: object) -> float | Proportional | str:
    """A number h, ``scott``, ``silverman`` or ``proportional:C``.

    Examples
    --------
    >>> decode_bandwidth("proportional:0.5"), decode_bandwidth("0.3")
    (Proportional(c=0.5), 0.3)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise UsageError(f"a bandwidth is h, scott, silverman or proportional:C; got {value!r}")
    if value in ("scott", "silverman"):
        return value
    if value.startswith("proportional:"):
        return Proportional(number(value.partition(":")[2], float, "the proportional factor C"))
    return number(value, float, "the bandwidth h")


def add_commands(commands: Commands) -> None:
    """Add ``simulate kde``."""
    parser = commands.simulate.add_parser(
        "kde",
        help="Gaussian KDE refitted on its own samples (docs/theory.md §5.1)",
        description="Simulate a Gaussian KDE of N(0, var0) refitted each generation on M of its "
        "own samples, and print the mean of its variance per generation.",
    )
    parser.add_argument("--var0", default="1.0", metavar="V", help="variance of model 0 (1.0)")
    parser.add_argument(
        "--bandwidth", required=True, help="h (fixed), scott, silverman or proportional:C"
    )
    add_run_options(parser)
    parser._option_string_actions[
        "--regime"
    ].help = f"replace (default), accumulate, {SUBSAMPLE_NAME}, or fresh:FRACTION[:mix|split]"
    add_output_options(parser)
    parser.set_defaults(handler=_cmd_simulate_kde)


def _cmd_simulate_kde(args: argparse.Namespace) -> int:
    from collapse_theory.kde.simulate import simulate
    from collapse_theory.kde.theory import expected_variance

    var0 = number(args.var0, float, "--var0")
    bandwidth = decode_bandwidth(args.bandwidth)
    regime = decode_regime(args.regime)
    result = simulate(
        var0,
        args.num_samples,
        args.generations,
        bandwidth=bandwidth,
        regime=regime,
        num_replicates=args.replicates,
        record=parse_record(args.record),
        seed=args.seed,
        progress=args.progress,
    )
    theory = expected_variance(
        args.num_samples, result.generations, bandwidth=bandwidth, var0=var0, regime=regime
    )
    header = (
        f"kde: var0={var0:g}, bandwidth={args.bandwidth}, M={args.num_samples}, "
        f"n={args.generations}, R={args.replicates}, regime={args.regime}"
    )
    return finish_simulation(
        result, header, format_kde_summary(result, theory, args.max_rows), args.out
    )


def format_kde_summary(result: SimulationResult, theory: np.ndarray, max_rows: int = 0) -> str:
    """Per recorded generation: mean of Var(model n) ± SE, its exact expectation, median."""
    var = result["var"]
    gens = np.asarray(result.generations)
    picks = pick_rows(gens.size, max_rows)
    header = ["generation", "Var mean", "SE", "exact E Var", "Var median"]
    rows = [
        [
            str(int(gens[i])),
            f"{var[i].mean():.6g}",
            f"{var[i].std(ddof=1) / np.sqrt(var.shape[1]) if var.shape[1] > 1 else 0.0:.3g}",
            f"{float(theory[i]):.6g}",
            f"{np.median(var[i]):.6g}",
        ]
        for i in picks
    ]
    return format_table(header, rows, picks.size, gens.size)
