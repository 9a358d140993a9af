"""``collapse-theory simulate bernoulli``: the toy family's command."""

from __future__ import annotations

import argparse

import numpy as np

from collapse_theory._cli import (
    Commands,
    add_output_options,
    finish_simulation,
    format_table,
    number,
    parse_record,
    pick_rows,
    positive_int,
)
from collapse_theory.results import SimulationResult

__all__ = ["add_commands", "format_bernoulli_summary"]


def add_commands(commands: Commands) -> None:
    """Add ``simulate bernoulli``."""
    parser = commands.simulate.add_parser(
        "bernoulli",
        help="Bernoulli(p0) refitted on M draws (toy family of the tests)",
        description="Simulate a Bernoulli(p0) refitted each generation on M draws of the last fit.",
    )
    parser.add_argument("--p0", required=True, metavar="P", help="P(1) of the original model")
    parser.add_argument("--num-samples", required=True, type=positive_int, metavar="M")
    parser.add_argument("--generations", required=True, type=positive_int, metavar="N")
    parser.add_argument("--replicates", type=positive_int, default=1000, metavar="R")
    add_output_options(parser)
    parser.set_defaults(handler=_cmd_simulate_bernoulli)


def _cmd_simulate_bernoulli(args: argparse.Namespace) -> int:
    from .simulate import simulate

    p0 = number(args.p0, float, "--p0")
    result = simulate(
        p0,
        args.num_samples,
        args.generations,
        num_replicates=args.replicates,
        record=parse_record(args.record),
        seed=args.seed,
        progress=args.progress,
    )
    header = (
        f"bernoulli: p0={p0:g}, M={args.num_samples}, n={args.generations}, R={args.replicates}"
    )
    table = format_bernoulli_summary(result, max_rows=args.max_rows)
    return finish_simulation(result, header, table, args.out)


def format_bernoulli_summary(result: SimulationResult, max_rows: int = 0) -> str:
    """Per recorded generation: mean of p_n, mean of p_n(1-p_n), P(p_n = 0), P(p_n = 1)."""
    p = result["p"]
    gens = np.asarray(result.generations)
    picks = pick_rows(gens.size, max_rows)
    header = ["generation", "p mean", "p(1-p) mean", "P(p=0)", "P(p=1)"]
    rows = [
        [
            str(int(gens[i])),
            f"{p[i].mean():.6g}",
            f"{np.mean(p[i] * (1.0 - p[i])):.6g}",
            f"{np.mean(p[i] == 0.0):.4g}",
            f"{np.mean(p[i] == 1.0):.4g}",
        ]
        for i in picks
    ]
    return format_table(header, rows, picks.size, gens.size)
