"""``collapse-theory figures``: draw the paper figures of the figure registry as PNG and PDF.

matplotlib is imported only when the command runs, not when the parser is built.
"""

from __future__ import annotations

import argparse

from collapse_theory._cli import Commands, UsageError, bound, integer
from collapse_theory._validate import output_directory

__all__ = ["add_commands"]


def add_commands(commands: Commands) -> None:
    """Add ``figures`` to the top-level commands."""
    sub = commands.top
    figures = sub.add_parser(
        "figures",
        help="draw the paper figures (exact curves against Monte Carlo bands)",
        description=(
            "Draw figures from collapse_theory.plotting into DIR as PNG and PDF. "
            "Without NAME, draws all of them."
        ),
    )
    figures.add_argument("names", nargs="*", metavar="NAME", help="figure names (see --list)")
    figures.add_argument(
        "--out",
        metavar="DIR",
        default="figures",
        help="output folder (created if missing; its parent must exist)",
    )
    figures.add_argument(
        "--seed",
        type=integer("--seed", minimum=0),
        default=0,
        help=f"root seed ({bound(0)}; default 0)",
    )
    figures.add_argument("--quick", action="store_true", help="smaller Monte Carlo samples")
    figures.add_argument("--list", action="store_true", help="list the figures and exit")
    figures.set_defaults(handler=_cmd_figures)


def _cmd_figures(args: argparse.Namespace) -> int:
    from collapse_theory import _figures

    paper = _figures.figures("paper")
    if args.list:
        for name, spec in paper.items():
            print(f"{name:24}  {spec.summary}")
        return 0
    unknown = [name for name in args.names if name not in paper]
    if unknown:
        raise UsageError(f"unknown figure(s) {unknown}; choose from {sorted(paper)}")
    output_directory("--out", args.out)
    for name in args.names or list(paper):
        figure = paper[name].draw(seed=args.seed, quick=args.quick)
        for path in _figures.save(figure, args.out, name):
            print(f"wrote {path}")
    return 0
