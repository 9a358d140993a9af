"""``collapse-theory simulate poisson``: simulate the fitted Poisson rate and summarise it."""

from __future__ import annotations

import argparse

import numpy as np

from collapse_theory._cli import (
    Commands,
    add_output_options,
    add_run_options,
    check_out,
    finish_simulation,
    format_table,
    number,
    parse_record,
    parse_regime,
    pick_rows,
)
from collapse_theory.results import SimulationResult, summarize

__all__ = ["add_commands", "format_poisson_summary"]


def add_commands(commands: Commands) -> None:
    """Add ``simulate poisson``."""
    parser = commands.simulate.add_parser(
        "poisson",
        help="Poisson rate refitted by its sample mean (docs/theory.md section 5.3)",
        description=(
            "Simulate a Poisson rate refitted each generation on M draws of the previous fit; "
            "print the rate's mean (with its standard error), median, and the fraction of "
            "chains whose rate is still positive, beside the exact law under replace."
        ),
    )
    parser.add_argument(
        "--rate0", required=True, metavar="RATE", help="rate of the original model (> 0)"
    )
    add_run_options(parser)
    add_output_options(parser)
    parser.set_defaults(handler=_cmd_simulate_poisson)


def _cmd_simulate_poisson(args: argparse.Namespace) -> int:
    from collapse_theory.poisson.simulate import simulate

    check_out(args.out)  # before the run: a bad --out must not cost a simulation
    rate0 = number(args.rate0, float, "--rate0")
    regime = parse_regime(args.regime)
    result = simulate(
        rate0,
        args.num_samples,
        args.generations,
        num_replicates=args.replicates,
        regime=regime,
        record=parse_record(args.record),
        seed=args.seed,
        progress=args.progress,
    )
    header = (
        f"poisson: rate0={rate0:g}, M={args.num_samples}, n={args.generations}, "
        f"R={args.replicates}, regime={args.regime}"
    )
    table = format_poisson_summary(result, max_rows=args.max_rows)
    return finish_simulation(result, header, table, args.out)


def format_poisson_summary(result: SimulationResult, max_rows: int = 0) -> str:
    """Per recorded generation: the rate's mean, its standard error (or ``untrusted``), median,
    and P(rate > 0), simulated and (under replace) exact (docs/theory.md §5.3)."""
    from collapse_theory.poisson.theory import nonzero_probability

    parameters = result.metadata["parameters"]
    gens = np.asarray(result.generations)
    picks = pick_rows(gens.size, max_rows)
    rate = result["rate"][picks]
    summary = summarize("rate", rate, gens[picks], quantiles=())
    sizes = parameters["sample_sizes"]
    constant = isinstance(sizes, np.ndarray) and sizes.size > 0 and np.all(sizes == sizes[0])
    exact = None
    if parameters["regime"] == "Replace()" and constant:
        exact = nonzero_probability(parameters["rate0"], int(sizes[0]), gens[picks])
    header = ["generation", "rate mean", "rate SE", "rate median", "P(rate>0)", "exact"]
    rows = [
        [
            str(int(gens[i])),
            f"{summary.mean[row]:.6g}",
            summary.se_text(row),
            f"{summary.median[row]:.6g}",
            f"{np.mean(rate[row] > 0):.4g}",
            f"{exact[row]:.4g}" if exact is not None else "-",
        ]
        for row, i in enumerate(picks)
    ]
    return format_table(header, rows, picks.size, gens.size)
