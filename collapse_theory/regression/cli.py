"""``collapse-theory simulate regression``, and the decoders of its sweep parameters."""

from __future__ import annotations

import argparse

import numpy as np

from collapse_theory._cli import (
    Commands,
    add_output_options,
    bound,
    finish_simulation,
    format_table,
    integer,
    number,
    parse_record,
    pick_rows,
)
from collapse_theory.kde.cli import SUBSAMPLE_NAME, decode_regime
from collapse_theory.results import SimulationResult

__all__ = ["add_commands", "decode_array", "format_regression_summary"]


def decode_array(value: object) -> object:
    """A sweep spec's ``w_star`` / ``cov``: (nested) lists as a float array."""
    return np.asarray(value, dtype=np.float64) if isinstance(value, list) else value


def add_commands(commands: Commands) -> None:
    """Add ``simulate regression``."""
    parser = commands.simulate.add_parser(
        "regression",
        help="linear regression refitted on its own labels (docs/theory.md §5.2)",
        description="Simulate OLS / ridge regression in d dimensions on T Gaussian rows, "
        "labelled each generation by the previous fit plus N(0, noise_var) noise, and print "
        "the mean excess risk per generation.",
    )
    parser.add_argument(
        "--dim",
        required=True,
        type=integer("--dim", minimum=1),
        metavar="D",
        help=f"dimension d ({bound(1)}); w* = (1, ..., 1)",
    )
    parser.add_argument(
        "--num-points",
        required=True,
        type=integer("--num-points", minimum=1),
        metavar="T",
        help="rows per generation (>= d + 2 for OLS)",
    )
    parser.add_argument(
        "--generations",
        required=True,
        type=integer("--generations", minimum=0),
        metavar="N",
        help=f"number of fits ({bound(0)})",
    )
    parser.add_argument(
        "--replicates",
        type=integer("--replicates", minimum=1),
        default=1000,
        metavar="R",
        help=f"independent chains ({bound(1)}; default 1000)",
    )
    parser.add_argument("--noise-var", default="1.0", metavar="S2", help="label noise variance")
    parser.add_argument("--ridge", default="0.0", metavar="L", help="ridge penalty (0: OLS)")
    parser.add_argument("--design", default="fixed", choices=("fixed", "redrawn"))
    parser.add_argument(
        "--regime",
        default="replace",
        help=f"replace (default), accumulate, {SUBSAMPLE_NAME}, or fresh:FRACTION[:mix|split]",
    )
    add_output_options(parser)
    parser.set_defaults(handler=_cmd_simulate_regression)


def _cmd_simulate_regression(args: argparse.Namespace) -> int:
    from collapse_theory.regression.simulate import simulate

    noise_var = number(args.noise_var, float, "--noise-var")
    ridge = number(args.ridge, float, "--ridge")
    result = simulate(
        np.ones(args.dim),
        args.num_points,
        args.generations,
        noise_var=noise_var,
        ridge=ridge,
        design=args.design,
        regime=decode_regime(args.regime),
        num_replicates=args.replicates,
        record=parse_record(args.record),
        seed=args.seed,
        progress=args.progress,
    )
    header = (
        f"regression: d={args.dim}, T={args.num_points}, n={args.generations}, "
        f"R={args.replicates}, noise_var={noise_var:g}, ridge={ridge:g}, design={args.design}, "
        f"regime={args.regime}"
    )
    return finish_simulation(
        result, header, format_regression_summary(result, args.max_rows), args.out
    )


def format_regression_summary(result: SimulationResult, max_rows: int = 0) -> str:
    """Per recorded generation: mean excess risk ± SE and its median."""
    risk = result["risk"]
    gens = np.asarray(result.generations)
    picks = pick_rows(gens.size, max_rows)
    count = risk.shape[1]
    rows = [
        [
            str(int(gens[i])),
            f"{risk[i].mean():.6g}",
            f"{risk[i].std(ddof=1) / np.sqrt(count) if count > 1 else 0.0:.3g}",
            f"{np.median(risk[i]):.6g}",
        ]
        for i in picks
    ]
    return format_table(
        ["generation", "risk mean", "SE", "risk median"], rows, picks.size, gens.size
    )
