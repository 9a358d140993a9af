"""The ``collapse-theory`` command line (also ``python -m collapse_theory``).

Subcommands:

- ``verify``: run the theorem checks (:mod:`collapse_theory.verify`) and print the report;
  exit status 1 when a check fails.
- ``simulate categorical``: simulate recursive fitting of a categorical distribution, print a
  per-generation summary and optionally save the run.

Bad input gives a one-line ``collapse-theory: error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

__all__ = ["main", "parse_p0", "parse_record", "parse_regime"]

PROG = "collapse-theory"


class UsageError(ValueError):
    """Bad command-line input (reported in one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, ``collapse-theory: error: ...``."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --------------------------------------------------------------------------------------------
# argument parsing helpers


def parse_p0(spec: str) -> np.ndarray:
    """Initial distribution from ``zipf:EXPONENT:K``, ``uniform:K`` or a file of probabilities.

    A file is ``.npy`` (numpy array) or text (numbers separated by white space, commas or new
    lines). The result is checked to be a probability vector by the simulator.

    Examples
    --------
    >>> parse_p0("uniform:4").tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    kind, _, rest = spec.partition(":")
    if kind == "zipf" and rest:
        parts = rest.split(":")
        if len(parts) != 2:
            raise UsageError(f"--p0 {spec!r}: expected zipf:EXPONENT:K, e.g. zipf:1.1:1000")
        exponent = _number(parts[0], float, "--p0 zipf EXPONENT")
        if not np.isfinite(exponent) or exponent < 0:
            raise UsageError(f"--p0 {spec!r}: EXPONENT must be a finite number >= 0")
        k = _number(parts[1], int, "--p0 zipf K")
        if k < 1:
            raise UsageError(f"--p0 {spec!r}: K must be an integer >= 1")
        weights = np.arange(1, k + 1, dtype=np.float64) ** -exponent
        return weights / weights.sum()
    if kind == "uniform" and rest:
        k = _number(rest, int, "--p0 uniform K")
        if k < 1:
            raise UsageError(f"--p0 {spec!r}: K must be an integer >= 1")
        return np.full(k, 1.0 / k)
    path = Path(spec)
    if not path.is_file():
        raise UsageError(
            f"--p0 {spec!r}: not zipf:EXPONENT:K, uniform:K or an existing file of probabilities"
        )
    try:
        if path.suffix == ".npy":
            values = np.load(path, allow_pickle=False)
        else:
            text = path.read_text(encoding="utf-8").replace(",", " ")
            values = np.array([float(token) for token in text.split()])
    except (ValueError, OSError) as error:
        raise UsageError(f"--p0 {spec!r}: could not read probabilities: {error}") from None
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2 and 1 in values.shape:
        values = values.ravel()  # a single row or column
    if values.ndim != 1 or values.size == 0:
        raise UsageError(f"--p0 {spec!r}: the file must hold a 1-D list of probabilities")
    total = values.sum()
    if np.isfinite(total) and abs(total - 1.0) < 1e-6 and np.all(values >= 0):
        values = values / total  # absorb rounding of a text file
    return values


def _number(text: str, kind: type, what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise UsageError(
            f"{what} must be {'an integer' if kind is int else 'a number'}; got {text!r}"
        ) from None


def parse_regime(spec: str) -> Any:
    """``replace``, ``accumulate`` or ``fresh:FRACTION[:mix|split]`` as a regime object."""
    from collapse_theory.regimes import Accumulate, FreshData, Replace

    if spec == "replace":
        return Replace()
    if spec == "accumulate":
        return Accumulate()
    parts = spec.split(":")
    if parts[0] == "fresh" and len(parts) in (2, 3):
        fraction = _number(parts[1], float, "--regime fresh FRACTION")
        variant = parts[2] if len(parts) == 3 else "mix"
        if variant not in ("mix", "split"):
            raise UsageError(f"--regime {spec!r}: the variant must be 'mix' or 'split'")
        return FreshData(fraction, variant)  # type: ignore[arg-type]
    raise UsageError(
        f"--regime {spec!r}: expected replace, accumulate or fresh:FRACTION[:mix|split]"
    )


def parse_record(spec: str) -> Any:
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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


# --------------------------------------------------------------------------------------------
# the parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``collapse-theory``."""
    parser = _Parser(
        prog=PROG,
        description="Theory and simulation of model collapse: verify closed forms, simulate.",
    )
    from collapse_theory import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    verify = sub.add_parser(
        "verify",
        help="check every closed form against Monte Carlo or brute force",
        description=(
            "Run the theorem checks. Monte Carlo checks pass on a z-score calibrated to a "
            "family-wise false-alarm rate (Bonferroni); exact checks on their stated tolerance. "
            "Prints one row per check and 'N passed, M failed'; exit status 1 if any check fails."
        ),
    )
    size = verify.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        dest="quick",
        action="store_true",
        default=True,
        help="quick sizes (default; about a minute)",
    )
    size.add_argument(
        "--full",
        dest="quick",
        action="store_false",
        help="full sizes (10x larger Monte Carlo samples, sharper)",
    )
    verify.add_argument("--seed", type=_positive_int, default=0, help="root seed (default 0)")
    verify.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these checks (names or prefixes, e.g. categorical.loss)",
    )
    verify.add_argument("--out", metavar="DIR", help="write report.md and report.json into DIR")
    verify.add_argument("--list", action="store_true", help="list the checks and exit")
    verify.add_argument(
        "--family-wise-rate",
        type=float,
        default=None,
        metavar="RATE",
        help="family-wise false-alarm rate of the run (default 1e-3)",
    )
    verify.set_defaults(handler=_cmd_verify)

    simulate = sub.add_parser(
        "simulate",
        help="simulate a model and summarise the run",
        description="Simulate recursive fitting of a model family.",
    )
    models = simulate.add_subparsers(dest="model", metavar="MODEL", parser_class=_Parser)
    models.required = True
    cat = models.add_parser(
        "categorical",
        help="categorical distribution (neutral Wright-Fisher, theory.md section 1)",
        description=(
            "Simulate a categorical distribution refitted each generation on M samples of the "
            "previous fit; print heterozygosity, surviving states and the fraction absorbed per "
            "recorded generation."
        ),
    )
    cat.add_argument(
        "--p0",
        required=True,
        metavar="SPEC",
        help="zipf:EXPONENT:K, uniform:K, or a .npy/text file of probabilities",
    )
    cat.add_argument(
        "--num-samples",
        required=True,
        type=_positive_int,
        metavar="M",
        help="samples per generation",
    )
    cat.add_argument(
        "--generations",
        required=True,
        type=_positive_int,
        metavar="N",
        help="number of generations (fits)",
    )
    cat.add_argument(
        "--replicates",
        type=_positive_int,
        default=1000,
        metavar="R",
        help="independent chains (default 1000)",
    )
    cat.add_argument(
        "--regime",
        default="replace",
        help="replace (default), accumulate, or fresh:FRACTION[:mix|split]",
    )
    cat.add_argument(
        "--pseudo-count",
        type=float,
        default=0.0,
        metavar="L",
        help="add-L smoothing of every fit (default 0)",
    )
    cat.add_argument(
        "--record", default="all", help="generations to keep: all (default), last, or e.g. 0,5,10"
    )
    cat.add_argument(
        "--seed",
        type=_positive_int,
        default=None,
        metavar="S",
        help="root seed (default: fresh entropy, stored with the run)",
    )
    cat.add_argument("--out", metavar="FILE.npz", help="save the run (SimulationResult .npz)")
    cat.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    cat.add_argument(
        "--max-rows",
        type=_positive_int,
        default=50,
        metavar="N",
        help="print at most N generations, evenly spaced (default 50; 0: all)",
    )
    cat.set_defaults(handler=_cmd_simulate_categorical)
    return parser


# --------------------------------------------------------------------------------------------
# commands


def _cmd_verify(args: argparse.Namespace) -> int:
    from collapse_theory import verify

    if args.list:
        selected = verify.select(args.only)
        width = max(len(c.name) for c in selected)
        for check in selected:
            print(
                f"{check.name.ljust(width)}  {check.section:6}  {check.kind:11}  {check.description}"
            )
        return 0
    kwargs = {}
    if args.family_wise_rate is not None:
        kwargs["family_wise_rate"] = args.family_wise_rate
    report = verify.run(
        quick=args.quick, seed=args.seed, only=args.only, progress=sys.stderr.isatty(), **kwargs
    )
    print(report.format())
    if args.out:
        md, js = report.save(args.out)
        print(f"wrote {md} and {js}", file=sys.stderr)
    return 0 if report.passed else 1


def _cmd_simulate_categorical(args: argparse.Namespace) -> int:
    import collapse_theory as ct

    p0 = parse_p0(args.p0)
    regime = parse_regime(args.regime)
    record = parse_record(args.record)
    result = ct.categorical.simulate(
        p0,
        args.num_samples,
        args.generations,
        num_replicates=args.replicates,
        regime=regime,
        pseudo_count=args.pseudo_count,
        record=record,
        seed=args.seed,
        progress=args.progress,
    )
    print(
        f"categorical: K={p0.size}, M={args.num_samples}, n={args.generations}, "
        f"R={args.replicates}, regime={args.regime}, pseudo_count={args.pseudo_count:g}, "
        f"seed entropy={result.metadata['seed']['entropy']}"
    )
    print(format_categorical_summary(result, max_rows=args.max_rows))
    if args.out:
        path = result.save(args.out)
        print(f"saved {path}")
    return 0


def format_categorical_summary(result: Any, max_rows: int = 0) -> str:
    """Per recorded generation: heterozygosity and surviving states (mean, median), absorbed."""
    import collapse_theory as ct

    p = result["p"]
    absorbed_at = result["absorbed_at"]
    gens = np.asarray(result.generations)
    picks = np.arange(gens.size)
    if max_rows and gens.size > max_rows:
        picks = np.unique(np.linspace(0, gens.size - 1, max_rows).round().astype(int))
    header = ["generation", "H mean", "H median", "surviving mean", "surviving median", "absorbed"]
    rows = []
    for i in picks:
        h = ct.categorical.heterozygosity(p[i])
        s = ct.categorical.num_surviving(p[i])
        absorbed = np.mean((absorbed_at >= 0) & (absorbed_at <= gens[i]))
        rows.append(
            [
                str(int(gens[i])),
                f"{h.mean():.6g}",
                f"{np.median(h):.6g}",
                f"{s.mean():.6g}",
                f"{np.median(s):.6g}",
                f"{absorbed:.4g}",
            ]
        )
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    if picks.size < gens.size:
        lines.append(
            f"({picks.size} of {gens.size} recorded generations shown; --max-rows 0 for all)"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# entry point


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
    except (ValueError, TypeError, OSError, KeyError) as error:
        return _fail(str(error).strip("'\""))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
