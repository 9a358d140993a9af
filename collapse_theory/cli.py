"""The ``collapse-theory`` command line (also ``python -m collapse_theory``): a thin dispatcher.

Every subcommand registers itself: the machinery's commands (``verify``, ``tail-loss``,
``sweep``) and each registered family's ``cli.py`` (``simulate MODEL``, ``gmm-paper``, ...)
define ``add_commands(commands)`` (:class:`collapse_theory._cli.Commands`); this module builds
the parser and the ``simulate MODEL`` group the families fill, dispatches and applies the error policy: bad
input gives a one-line ``collapse-theory: error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from collapse_theory._cli import PROG, Commands, Parser, UsageError

__all__ = ["build_parser", "main"]

#: The machinery's command modules (families add theirs through collapse_theory.families).
_COMMAND_MODULES = (
    "collapse_theory.verify.cli",
    "collapse_theory._figures_cli",
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
