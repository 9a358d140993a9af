"""The ``collapse-theory`` command line (also ``python -m collapse_theory``): a thin dispatcher.

Every subcommand registers itself: the machinery's commands (``verify``, ``tail-loss``,
``sweep``) and each registered family's ``cli.py`` (``simulate MODEL``, ``gmm-paper``, ...)
define ``add_commands(commands)`` (:class:`collapse_theory._cli.Commands`); this module builds
the parser and the ``simulate MODEL`` group the families fill, dispatches and applies the error
policy:

- bad input, i.e. an :class:`~collapse_theory._validate.InputError` (argument checks, parse
  errors, :class:`~collapse_theory._cli.UsageError`, a file given by the user that cannot be
  read or written), gives a one-line ``collapse-theory: error: ...`` on stderr and exit status 2;
- anything else is a bug: its traceback is shown (exit status 1);
- ``collapse-theory --debug ...`` shows the full traceback of a bad-input error too.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from collapse_theory._cli import PROG, Commands, Parser
from collapse_theory._validate import InputError

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
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of every error, also of a usage error",
    )
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


def _debug_requested(argv: Sequence[str]) -> bool:
    """Whether ``--debug`` is among the top-level options (before the command name)."""
    for token in argv:
        if token == "--debug":
            return True
        if not token.startswith("-"):
            return False
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``collapse-theory`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    An :class:`~collapse_theory._validate.InputError` (bad input: unknown options, invalid values,
    unreadable or unwritable files given by the user) prints one line
    ``collapse-theory: error: ...`` on stderr and returns 2 (with ``--debug``, after its full
    traceback). Any other exception propagates with its traceback (exit status 1).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.handler(args))
    except InputError as error:
        if _debug_requested(argv):
            traceback.print_exc()
        return _fail(str(error))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
