"""``collapse-theory tail-loss``: the tail-loss benchmark table and figures."""

from __future__ import annotations

import argparse
import sys

from collapse_theory._cli import Commands, bound, integer

__all__ = ["add_commands"]

_DESCRIPTION = (
    "Tail-loss rates over the grid family x estimator x M in {10, 100, 1000} x regime "
    "(replace, fresh 10%, accumulate): median, quantiles and mean of the original tail's mass, "
    "P(mass < 0.01 T0), surviving tail states, half-life, crossing of 0.1 T0 and the average "
    "exponential rate with 95% bootstrap intervals; each family's reference law (exact or "
    "Rao-Blackwellised) next to Monte Carlo under replace, where the family has one. Prints "
    "the Markdown table; --out DIR also writes tail_loss.md, tail_loss.csv, tail_loss.json and "
    "the figures (PNG and PDF) into DIR (created if missing; its parent must exist)."
)


def add_commands(commands: Commands) -> None:
    """Register ``tail-loss`` on the top-level subparsers."""
    p = commands.top.add_parser(
        "tail-loss",
        help="tail-loss rates: table (Markdown, CSV) and figures",
        description=_DESCRIPTION,
    )
    p.add_argument("--quick", action="store_true", help="tiny grid (M=10, K=100; seconds)")
    p.add_argument("--out", metavar="DIR", help="write tail_loss.md/.csv/.json and figures here")
    p.add_argument(
        "--seed",
        type=integer("--seed", minimum=0),
        default=0,
        help=f"root seed ({bound(0)}, default 0)",
    )
    p.add_argument(
        "--replicates",
        type=integer("--replicates", minimum=1),
        help=f"replicates per setting ({bound(1)}; default: per family)",
    )
    p.add_argument(
        "--generations",
        type=integer("--generations", minimum=1),
        help=f"horizon for every setting ({bound(1)}; default 2M)",
    )
    p.add_argument("--progress", action="store_true", help="one line per setting on stderr")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from collapse_theory._validate import InputError, output_directory
    from collapse_theory.tails.table import markdown, tail_loss_table, write_outputs

    if args.seed < 0:
        raise InputError(f"--seed must be >= 0; got {args.seed}")
    for name, minimum in (("replicates", 10), ("generations", 2)):
        value = getattr(args, name)
        if value is not None and value < minimum:
            raise InputError(f"--{name} must be >= {minimum}; got {value}")
    if args.out:  # before the run: a bad --out must not cost minutes of computing first
        output_directory("--out", args.out)
    report = (lambda line: print(line, file=sys.stderr)) if args.progress else None
    table = tail_loss_table(
        quick=args.quick,
        seed=args.seed,
        replicates=args.replicates,
        generations=args.generations,
        progress=report,
    )
    print(markdown(table), end="")
    if args.out:
        command = (
            "collapse-theory tail-loss"
            + "".join(
                f" --{k} {getattr(args, k)}"
                for k in ("seed", "replicates", "generations")
                if getattr(args, k) is not None and (k != "seed" or args.seed != 0)
            )
            + (" --quick" if args.quick else "")
            + f" --out {args.out}"
        )
        for path in write_outputs(table, args.out, command=command):
            print(f"wrote {path}", file=sys.stderr)
    return 0
