"""``collapse-theory simulate categorical``: simulate the categorical chain and summarise it."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from collapse_theory._cli import (
    Commands,
    UsageError,
    add_output_options,
    add_run_options,
    check_out,
    finish_simulation,
    format_table,
    number,
    parse_record,
    parse_regime,
    parse_vector,
    pick_rows,
)
from collapse_theory.categorical.theory import zipf
from collapse_theory.policies import parse_policy
from collapse_theory.results import SimulationResult, summarize

__all__ = ["add_commands", "decode_p0", "format_categorical_summary", "parse_p0"]


def add_commands(commands: Commands) -> None:
    """Add ``simulate categorical``."""
    models = commands.simulate
    cat = models.add_parser(
        "categorical",
        help="categorical distribution (neutral Wright-Fisher, docs/theory.md section 1)",
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
        help=(
            "the probabilities inline (e.g. 0.001,0.999), zipf:EXPONENT:K, uniform:K, or a "
            ".npy/text file of probabilities"
        ),
    )
    add_run_options(cat)
    cat.add_argument(
        "--pseudo-count",
        type=float,
        default=0.0,
        metavar="L",
        help="add-L smoothing of every fit (default 0)",
    )
    cat.add_argument(
        "--policy",
        default=None,
        metavar="POLICY",
        help=(
            "sampling policy of every fitted model (docs/theory.md section 8): 'temperature T', 'top-k K', 'top-p P', 'min-p P', stages joined by '+' (e.g. 'temperature 0.7 + top-p 0.9')"
        ),
    )
    add_output_options(cat)
    cat.set_defaults(handler=_cmd_simulate_categorical)


def parse_p0(spec: str) -> np.ndarray:
    """Initial distribution from ``zipf:EXPONENT:K``, ``uniform:K``, a file of probabilities, or
    the probabilities themselves, comma-separated (``0.001,0.999``).

    A file is ``.npy`` (numpy array) or text (numbers separated by white space, commas or new
    lines); an existing file takes precedence over reading ``spec`` as numbers. The result is
    checked to be a probability vector by the simulator.

    Examples
    --------
    >>> parse_p0("uniform:4").tolist()
    [0.25, 0.25, 0.25, 0.25]
    >>> parse_p0("0.001,0.999").tolist()
    [0.001, 0.999]
    """
    kind, _, rest = spec.partition(":")
    if kind == "zipf" and rest:
        parts = rest.split(":")
        if len(parts) != 2:
            raise UsageError(f"--p0 {spec!r}: expected zipf:EXPONENT:K, e.g. zipf:1.1:1000")
        exponent = number(parts[0], float, "--p0 zipf EXPONENT")
        if not np.isfinite(exponent) or exponent < 0:
            raise UsageError(f"--p0 {spec!r}: EXPONENT must be a finite number >= 0")
        k = number(parts[1], int, "--p0 zipf K")
        if k < 1:
            raise UsageError(f"--p0 {spec!r}: K must be an integer >= 1")
        return zipf(k, exponent)
    if kind == "uniform" and rest:
        k = number(rest, int, "--p0 uniform K")
        if k < 1:
            raise UsageError(f"--p0 {spec!r}: K must be an integer >= 1")
        return np.full(k, 1.0 / k)
    path = Path(spec)
    if not path.is_file():
        if _looks_numeric(spec):
            return parse_vector(spec, "--p0")
        raise UsageError(
            f"--p0 {spec!r}: not comma-separated probabilities (e.g. 0.001,0.999), "
            "zipf:EXPONENT:K, uniform:K or an existing file of probabilities"
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


def _looks_numeric(spec: str) -> bool:
    """Whether every comma-separated part of ``spec`` parses as a number."""
    try:
        [float(part) for part in spec.split(",")]
    except ValueError:
        return False
    return True


def _cmd_simulate_categorical(args: argparse.Namespace) -> int:
    import collapse_theory as ct

    check_out(args.out)  # before the run: a bad --out must not cost a simulation
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
        policy=parse_policy(args.policy),
        seed=args.seed,
        progress=args.progress,
    )
    header = (
        f"categorical: K={p0.size}, M={args.num_samples}, n={args.generations}, "
        f"R={args.replicates}, regime={args.regime}, pseudo_count={args.pseudo_count:g}"
        + ("" if args.policy is None else f", policy={args.policy}")
    )
    return finish_simulation(
        result, header, format_categorical_summary(result, max_rows=args.max_rows), args.out
    )


def format_categorical_summary(result: SimulationResult, max_rows: int = 0) -> str:
    """Per recorded generation: heterozygosity and surviving states (mean, its standard error or
    ``untrusted`` where the heavy-tail diagnostic flags it, median), fraction absorbed."""
    import collapse_theory as ct

    p = result["p"]
    absorbed_at = result["absorbed_at"]
    gens = np.asarray(result.generations)
    picks = pick_rows(gens.size, max_rows)
    h = summarize("H", ct.categorical.heterozygosity(p[picks]), gens[picks], quantiles=())
    s = summarize("surviving", ct.categorical.num_surviving(p[picks]), gens[picks], quantiles=())
    header = [
        "generation",
        "H mean",
        "H SE",
        "H median",
        "surviving mean",
        "surviving SE",
        "surviving median",
        "absorbed",
    ]
    rows = []
    for row, i in enumerate(picks):
        absorbed = np.mean((absorbed_at >= 0) & (absorbed_at <= gens[i]))
        rows.append(
            [
                str(int(gens[i])),
                f"{h.mean[row]:.6g}",
                h.se_text(row),
                f"{h.median[row]:.6g}",
                f"{s.mean[row]:.6g}",
                s.se_text(row),
                f"{s.median[row]:.6g}",
                f"{absorbed:.4g}",
            ]
        )
    return format_table(header, rows, picks.size, gens.size)


def decode_p0(value: str | list[float] | np.ndarray) -> np.ndarray:
    """A sweep spec's ``p0``: text as for ``--p0`` (:func:`parse_p0`) or a list of numbers."""
    if isinstance(value, str):
        return parse_p0(value)
    return np.asarray(value, dtype=np.float64) if isinstance(value, list) else value
