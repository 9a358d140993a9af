"""The ``collapse-theory`` command line (also ``python -m collapse_theory``): a thin dispatcher.

Every subcommand registers itself: the machinery's commands (``verify``, ``tail-loss``,
``sweep``) and each registered family's ``cli.py`` (``simulate MODEL``, ``gmm-paper``, ...)
define ``add_commands(commands)`` (:class:`collapse_theory._cli.Commands`); this module builds
the parser, adds ``figures`` (the figure registry), dispatches and applies the error policy: bad
input gives a one-line ``collapse-theory: error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from collapse_theory._cli import PROG, Commands, Parser, UsageError, positive_int

__all__ = ["build_parser", "main"]

#: The machinery's command modules (families add theirs through collapse_theory.families).
_COMMAND_MODULES = (
    "collapse_theory.verify.cli",
    "collapse_theory.tails.cli",
    "collapse_theory.sweep.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``collapse-theory``."""
    from collapse_theory import __version__, families

    parser = Parser(
        prog=PROG,
        description="Theory and simulation of model collapse: verify closed forms, simulate.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    figures = sub.add_parser(
        "figures",
        help="draw the paper figures (exact curves against Monte Carlo bands)",
        description=(
            "Draw figures from collapse_theory.plotting into DIR as PNG and PDF. "
            "Without NAME, draws all of them."
        ),
    )
    figures.add_argument("names", nargs="*", metavar="NAME", help="figure names (see --list)")
    figures.add_argument("--out", metavar="DIR", default="figures", help="output folder")
    figures.add_argument("--seed", type=positive_int, default=0, help="root seed (default 0)")
    figures.add_argument("--quick", action="store_true", help="smaller Monte Carlo samples")
    figures.add_argument("--list", action="store_true", help="list the figures and exit")
    figures.set_defaults(handler=_cmd_figures)

    simulate = sub.add_parser(
        "simulate",
        help="simulate a model and summarise the run",
        description="Simulate recursive fitting of a model family.",
    )
    models = simulate.add_subparsers(dest="model", metavar="MODEL", parser_class=Parser)
    models.required = True
    commands = Commands(top=sub, simulate=models)
    modules = [importlib.import_module(name) for name in _COMMAND_MODULES]
    modules += [module for _, module in families.modules("cli")]
    for module in modules:
        module.add_commands(commands)
    return parser


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
    for name in args.names or list(paper):
        figure = paper[name].draw(seed=args.seed, quick=args.quick)
        for path in _figures.save(figure, args.out, name):
            print(f"wrote {path}")
    return 0


def _fail(message: str) -> int:
    text = " ".join(str(message).split())  # one line
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``collapse-theory`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Bad input (unknown options, invalid values, unreadable files) prints one line
    ``collapse-theory: error: ...`` on stderr and returns 2.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
        return int(args.handler(args))
    except UsageError as error:
        return _fail(str(error))
    except KeyError as error:  # str() of a KeyError is the repr of its message
        return _fail(str(error.args[0]) if error.args else "missing key")
    except (ValueError, TypeError, OSError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
