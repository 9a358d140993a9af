"""Shared pieces of the command line: the parser class, the error type and the argument parsers
and table formatting that several subcommands use. Nothing here names a model family.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import numpy as np

from collapse_theory._validate import InputError, check_int, check_output_file, check_real
from collapse_theory.regimes import Accumulate, FreshData, Regime, Replace, WeightedFresh
from collapse_theory.results import UNTRUSTED, UNTRUSTED_NOTE, SimulationResult, npz_path

__all__ = [
    "Commands",
    "Parser",
    "UsageError",
    "add_output_options",
    "add_run_options",
    "check_out",
    "finish_simulation",
    "format_table",
    "integer",
    "number",
    "parse_matrix",
    "parse_record",
    "parse_regime",
    "parse_vector",
    "pick_rows",
    "positive_int",
    "real",
]

PROG = "collapse-theory"

T = TypeVar("T")


class UsageError(InputError):
    """Bad command-line input (an :class:`~collapse_theory._validate.InputError`: reported in
    one line, exit status 2)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, ``collapse-theory: error: ...``."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


@dataclass(frozen=True)
class Commands:
    """Where a module adds its subcommands: ``top`` holds the top-level commands
    (``collapse-theory NAME``) and ``simulate`` the models of ``collapse-theory simulate MODEL``
    (both argparse subparser actions; their parsers are :class:`Parser`)."""

    top: argparse._SubParsersAction[Parser]
    simulate: argparse._SubParsersAction[Parser]


def number(text: str, kind: Callable[[str], T], what: str) -> T:
    try:
        return kind(text)
    except ValueError:
        raise UsageError(
            f"{what} must be {'an integer' if kind is int else 'a number'}; got {text!r}"
        ) from None


def parse_regime(spec: str) -> Regime:
    """``replace``, ``accumulate``, ``fresh:FRACTION[:mix|split]`` or ``weighted:WEIGHT:NUM_REAL``
    as a regime object."""
    if spec == "replace":
        return Replace()
    if spec == "accumulate":
        return Accumulate()
    parts = spec.split(":")
    if parts[0] == "fresh" and len(parts) in (2, 3):
        fraction = number(parts[1], float, "--regime fresh FRACTION")
        variant = parts[2] if len(parts) == 3 else "mix"
        if variant not in ("mix", "split"):
            raise UsageError(f"--regime {spec!r}: the variant must be 'mix' or 'split'")
        return FreshData(fraction, variant)  # type: ignore[arg-type]
    if parts[0] == "weighted" and len(parts) == 3:
        weight = number(parts[1], float, "--regime weighted WEIGHT")
        return WeightedFresh(weight, number(parts[2], int, "--regime weighted NUM_REAL"))
    raise UsageError(
        f"--regime {spec!r}: expected replace, accumulate, fresh:FRACTION[:mix|split] or "
        "weighted:WEIGHT:NUM_REAL"
    )


def parse_record(spec: str) -> str | list[int]:
    """``all``, ``last`` or a comma-separated list of generations."""
    if spec in ("all", "last"):
        return spec
    try:
        generations = [int(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        raise UsageError(
            f"--record {spec!r}: expected all, last or comma-separated generations such as 0,5,10"
        ) from None
    if not generations:
        raise UsageError(f"--record {spec!r}: no generations given")
    return generations


def parse_vector(spec: str, what: str) -> np.ndarray:
    """Comma-separated numbers (``"0.5"`` or ``"1,2,3"``) as a 1-D float array.

    Examples
    --------
    >>> parse_vector("1, 2.5", "--mean0").tolist()
    [1.0, 2.5]
    """
    parts = [part.strip() for part in spec.split(",")]
    if not parts or any(not part for part in parts):
        raise UsageError(f"{what} {spec!r}: expected comma-separated numbers such as 0,1.5")
    values = np.array([number(part, float, what) for part in parts])
    if not np.all(np.isfinite(values)):
        raise UsageError(f"{what} {spec!r}: every value must be finite")
    return values


def parse_matrix(spec: str, what: str) -> np.ndarray:
    """A matrix written row by row, ``"a,b;c,d"`` (rows separated by ``;``), as a 2-D array.

    Examples
    --------
    >>> parse_matrix("2,0.5;0.5,1", "--cov0").tolist()
    [[2.0, 0.5], [0.5, 1.0]]
    """
    rows = [parse_vector(row, what) for row in spec.split(";")]
    if len({row.size for row in rows}) != 1:
        raise UsageError(f"{what} {spec!r}: every row must have the same number of entries")
    matrix = np.array(rows)
    if matrix.shape[0] != matrix.shape[1]:
        raise UsageError(
            f"{what} {spec!r}: expected a square matrix, rows separated by ';' such as "
            f"'1,0;0,1'; got shape {matrix.shape}"
        )
    return matrix


def integer(
    option: str, minimum: int | None = None, maximum: int | None = None
) -> Callable[[str], int]:
    """The argparse ``type`` of an integer option: the library's integer policy and bound
    (:func:`collapse_theory._validate.check_int`), stated in the same words.

    Examples
    --------
    >>> integer("--replicates", minimum=1)("20")
    20
    """

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = text  # check_int refuses it with the policy's message
        try:
            return check_int(option, value, minimum=minimum, maximum=maximum)
        except InputError as error:
            message = str(error).removeprefix(f"{option} ")
            raise argparse.ArgumentTypeError(message) from None

    parse.__name__ = "integer"
    return parse


def real(option: str, *, minimum: float, strict: bool = False) -> Callable[[str], float]:
    """The argparse ``type`` of a real option: the library's bound
    (:func:`collapse_theory._validate.check_real`), stated in the same words.

    Examples
    --------
    >>> real("--tol", minimum=0.0, strict=True)("1e-5")
    1e-05
    """

    def parse(text: str) -> float:
        try:
            value: object = float(text)
        except ValueError:
            value = text  # check_real refuses it with the policy's message
        try:
            return check_real(option, value, minimum=minimum, strict_minimum=strict)
        except InputError as error:
            raise argparse.ArgumentTypeError(str(error).removeprefix(f"{option} ")) from None

    parse.__name__ = "number"
    return parse


def bound(minimum: int | None = None, maximum: int | None = None) -> str:
    """``"an integer >= 1"``-style text of an :func:`integer` option's bound, for its help."""
    text = "an integer"
    if minimum is not None:
        text += f" >= {minimum}"
    if maximum is not None:
        text += f" <= {maximum}"
    return text


#: The argparse type of a non-negative integer (e.g. a seed). Prefer ``integer(option,
#: minimum=...)``, which names the option and states the option's own bound.
positive_int = integer("value", minimum=0)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options every ``simulate MODEL`` shares: sizes and data regime."""
    parser.add_argument(
        "--num-samples",
        required=True,
        type=integer("--num-samples", minimum=1),
        metavar="M",
        help=f"samples per generation ({bound(1)})",
    )
    parser.add_argument(
        "--generations",
        required=True,
        type=integer("--generations", minimum=0),
        metavar="N",
        help=f"number of generations, i.e. fits ({bound(0)})",
    )
    parser.add_argument(
        "--replicates",
        type=integer("--replicates", minimum=1),
        default=1000,
        metavar="R",
        help=f"independent chains ({bound(1)}; default 1000)",
    )
    parser.add_argument(
        "--regime",
        default="replace",
        help="replace (default), accumulate, or fresh:FRACTION[:mix|split]",
    )


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """Options every ``simulate MODEL`` shares: recording, seed, output file, display."""
    parser.add_argument(
        "--record", default="all", help="generations to keep: all (default), last, or e.g. 0,5,10"
    )
    parser.add_argument(
        "--seed",
        type=integer("--seed", minimum=0),
        default=None,
        metavar="S",
        help=f"root seed ({bound(0)}; default: fresh entropy, stored with the run)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE.npz",
        help="save the run (SimulationResult .npz; its directory must exist)",
    )
    parser.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    parser.add_argument(
        "--max-rows",
        type=integer("--max-rows", minimum=0),
        default=50,
        metavar="N",
        help=f"print at most N generations, evenly spaced ({bound(0)}; default 50; 0: all)",
    )


def check_out(out: str | None) -> Path | None:
    """The file ``--out`` names (``.npz`` appended as :meth:`SimulationResult.save` does), checked
    before a run starts: its directory must exist (nothing is created)."""
    return None if out is None else check_output_file("--out", npz_path(out))


def finish_simulation(result: SimulationResult, header: str, table: str, out: str | None) -> int:
    """Print the run's header line and summary table; save it if ``out`` is given (an
    unwritable ``--out`` is an :class:`InputError` naming it)."""
    print(f"{header}, seed entropy={result.metadata['seed']['entropy']}")
    print(table)
    if out:
        path = check_out(out)
        try:
            path = result.save(path)
        except OSError as error:
            raise InputError(f"--out: cannot write {str(path)!r}: {error.strerror}") from error
        print(f"saved {path}")
    return 0


def pick_rows(num_generations: int, max_rows: int) -> np.ndarray:
    """Indices of at most ``max_rows`` recorded generations, evenly spaced (0: all)."""
    picks = np.arange(num_generations)
    if max_rows and num_generations > max_rows:
        picks = np.unique(np.linspace(0, num_generations - 1, max_rows).round().astype(int))
    return picks


def format_table(header: list[str], rows: list[list[str]], shown: int, total: int) -> str:
    """Right-aligned columns, plus a note when only ``shown`` of ``total`` generations are shown
    and one when a standard error is flagged :data:`~collapse_theory.results.UNTRUSTED` (the
    heavy-tail diagnostic, docs/theory.md §6)."""
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    if shown < total:
        lines.append(f"({shown} of {total} recorded generations shown; --max-rows 0 for all)")
    if any(UNTRUSTED in row for row in rows):
        lines.append(UNTRUSTED_NOTE)
    return "\n".join(lines)
