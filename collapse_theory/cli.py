"""The ``collapse-theory`` command line (also ``python -m collapse_theory``).

Subcommands:

- ``verify``: run the theorem checks (:mod:`collapse_theory.verify`) and print the report;
  exit status 1 when a check fails.
- ``figures``: draw the paper figures of :mod:`collapse_theory.plotting` as PNG and PDF.
- ``simulate categorical``: simulate recursive fitting of a categorical distribution, print a
  per-generation summary and optionally save the run.
- ``simulate gaussian``: the same for a Gaussian, 1-D (``--mean0 X --var0 V``) or d-dimensional
  (``--mean0 'x,y' --cov0 'a,b;c,d'``).
- ``gmm-paper``: the paper's Gaussian-mixture experiment (theory.md §4) end to end: writes its
  two figures and a per-snapshot table (generation, per-dimension variance, L2 to the original,
  weights) into ``--out DIR``.

Bad input gives a one-line ``collapse-theory: error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

__all__ = ["main", "parse_matrix", "parse_p0", "parse_record", "parse_regime", "parse_vector"]

PROG = "collapse-theory"

#: Modules that add their own subcommand with ``add_subcommand(subparsers, parser_class)``.
_SUBCOMMAND_MODULES = ("collapse_theory.tails.cli", "collapse_theory.sweep.cli")


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
    values = np.array([_number(part, float, what) for part in parts])
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


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options every ``simulate MODEL`` shares: sizes and data regime."""
    parser.add_argument(
        "--num-samples",
        required=True,
        type=_positive_int,
        metavar="M",
        help="samples per generation",
    )
    parser.add_argument(
        "--generations",
        required=True,
        type=_positive_int,
        metavar="N",
        help="number of generations (fits)",
    )
    parser.add_argument(
        "--replicates",
        type=_positive_int,
        default=1000,
        metavar="R",
        help="independent chains (default 1000)",
    )
    parser.add_argument(
        "--regime",
        default="replace",
        help="replace (default), accumulate, or fresh:FRACTION[:mix|split]",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    """Options every ``simulate MODEL`` shares: recording, seed, output file, display."""
    parser.add_argument(
        "--record", default="all", help="generations to keep: all (default), last, or e.g. 0,5,10"
    )
    parser.add_argument(
        "--seed",
        type=_positive_int,
        default=None,
        metavar="S",
        help="root seed (default: fresh entropy, stored with the run)",
    )
    parser.add_argument("--out", metavar="FILE.npz", help="save the run (SimulationResult .npz)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    parser.add_argument(
        "--max-rows",
        type=_positive_int,
        default=50,
        metavar="N",
        help="print at most N generations, evenly spaced (default 50; 0: all)",
    )


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
    verify.add_argument(
        "--backend",
        choices=("numba", "jax"),
        default=None,
        help="simulation backend of every check (default numba)",
    )
    verify.add_argument(
        "--calibrate",
        action="store_true",
        help="rerun the Monte Carlo checks over --seeds seeds and compare the observed "
        "family-wise failure rate with the stated one",
    )
    verify.add_argument(
        "--seeds",
        type=_positive_int,
        default=200,
        metavar="N",
        help="number of seeds of --calibrate (default 200; seeds SEED .. SEED+N-1)",
    )
    verify.set_defaults(handler=_cmd_verify)

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
    figures.add_argument("--seed", type=_positive_int, default=0, help="root seed (default 0)")
    figures.add_argument("--quick", action="store_true", help="smaller Monte Carlo samples")
    figures.add_argument("--list", action="store_true", help="list the figures and exit")
    figures.set_defaults(handler=_cmd_figures)

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
    _add_run_options(cat)
    cat.add_argument(
        "--pseudo-count",
        type=float,
        default=0.0,
        metavar="L",
        help="add-L smoothing of every fit (default 0)",
    )
    _add_output_options(cat)
    cat.set_defaults(handler=_cmd_simulate_categorical)

    gauss = models.add_parser(
        "gaussian",
        help="Gaussian, 1-D or d-dimensional (theory.md sections 2 and 3)",
        description=(
            "Simulate a Gaussian refitted each generation (sample mean and unbiased or maximum-"
            "likelihood (co)variance) on M samples of the previous fit. 1-D: --mean0 X --var0 V; "
            "d-D: --mean0 'x,y' --cov0 'a,b;c,d'. Prints per recorded generation: 1-D the mean "
            "of mu, the median and mean of sigma^2 and P(sigma^2 < 0.1 sigma0^2); d-D the mean "
            "squared drift of mu, the mean log det and the mean and median trace of Sigma."
        ),
    )
    gauss.add_argument(
        "--mean0",
        default=None,
        metavar="X",
        help="mean of model 0: a number (1-D) or comma-separated numbers (d-D); default 0",
    )
    start = gauss.add_mutually_exclusive_group(required=True)
    start.add_argument(
        "--var0", type=float, default=None, metavar="V", help="variance of model 0 (1-D, > 0)"
    )
    start.add_argument(
        "--cov0",
        default=None,
        metavar="'a,b;c,d'",
        help="covariance of model 0 (d-D), rows separated by ';'",
    )
    _add_run_options(gauss)
    gauss.add_argument(
        "--estimator",
        choices=("unbiased", "mle"),
        default="unbiased",
        help="unbiased (ddof=1, default) or mle (ddof=0) (co)variance",
    )
    gauss.add_argument(
        "--method",
        choices=("sufficient", "samples"),
        default="sufficient",
        help="sufficient: exact sufficient-statistics sampler (default); samples: M explicit draws",
    )
    _add_output_options(gauss)
    gauss.set_defaults(handler=_cmd_simulate_gaussian)

    paper = sub.add_parser(
        "gmm-paper",
        help="the paper's Gaussian-mixture experiment: figures and snapshot table",
        description=(
            "Refit a 2-component, full-covariance Gaussian mixture by EM (tol 1e-5, at most 2000 "
            "iterations, no covariance regulariser) to N samples of the previous fit, generation "
            "after generation (theory.md section 4). Writes gmm_snapshots.png/.pdf, "
            "gmm_l2.png/.pdf, snapshots.md and snapshots.csv (per snapshot generation and chain: "
            "per-dimension variance, L2 distance to the original, weights) into DIR."
        ),
    )
    paper.add_argument(
        "--start",
        choices=("blob", "two-gaussians"),
        default="blob",
        help="model 0: the notebook's 2-D standard Gaussian (default) or two separated Gaussians",
    )
    paper.add_argument(
        "--num-samples", type=_positive_int, default=1000, metavar="N", help="default 1000"
    )
    paper.add_argument(
        "--generations", type=_positive_int, default=2000, metavar="N", help="default 2000"
    )
    paper.add_argument(
        "--replicates",
        type=_positive_int,
        default=3,
        metavar="R",
        help="independent chains (default 3); the scatter plots show chain 0",
    )
    paper.add_argument(
        "--init",
        choices=("kmeans++", "warm"),
        default="kmeans++",
        help="EM start each generation: kmeans++ (default, the paper's code) or warm",
    )
    paper.add_argument("--seed", type=_positive_int, default=0, help="root seed (default 0)")
    paper.add_argument("--out", metavar="DIR", default="gmm_paper", help="output folder")
    paper.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    paper.set_defaults(handler=_cmd_gmm_paper)

    for module_name in _SUBCOMMAND_MODULES:
        importlib.import_module(module_name).add_subcommand(sub, _Parser)
    return parser


# --------------------------------------------------------------------------------------------
# commands


def _cmd_verify(args: argparse.Namespace) -> int:
    from collapse_theory import backends, verify

    if args.list:
        selected = verify.select(args.only)
        width = max(len(c.name) for c in selected)
        for check in selected:
            size = check.size(args.quick).get("num_replicates")
            cost = f"R={size:,}" if size else "-"
            print(
                f"{check.name.ljust(width)}  {check.section:6}  {check.kind:11}  {cost:>11}  "
                f"{check.description}"
            )
        return 0
    kwargs = {}
    if args.family_wise_rate is not None:
        kwargs["family_wise_rate"] = args.family_wise_rate
    with backends.use(args.backend or "numba"):
        if args.calibrate:
            return _calibrate(args, kwargs)
        report = verify.run(
            quick=args.quick, seed=args.seed, only=args.only, progress=sys.stderr.isatty(), **kwargs
        )
    print(report.format())
    if args.out:
        for path in report.save(args.out):
            print(f"wrote {path}", file=sys.stderr)
    return 0 if report.passed else 1


def _calibrate(args: argparse.Namespace, kwargs: dict[str, Any]) -> int:
    from collapse_theory.verify.calibration import calibrate

    result = calibrate(
        args.seeds,
        quick=args.quick,
        first_seed=args.seed,
        only=args.only,
        out=args.out,
        progress=sys.stderr.isatty(),
        **kwargs,
    )
    print(result.format())
    if args.out:
        for path in result.save(args.out):
            print(f"wrote {path}", file=sys.stderr)
    return 0 if result.consistent else 1


def _cmd_figures(args: argparse.Namespace) -> int:
    from collapse_theory import plotting

    if args.list:
        for name, function in plotting.FIGURES.items():
            print(f"{name:24}  {(function.__doc__ or '').strip().splitlines()[0]}")
        return 0
    unknown = [name for name in args.names if name not in plotting.FIGURES]
    if unknown:
        raise UsageError(f"unknown figure(s) {unknown}; choose from {sorted(plotting.FIGURES)}")
    for name in args.names or list(plotting.FIGURES):
        figure = plotting.FIGURES[name](seed=args.seed, quick=args.quick)
        for path in plotting.save_figure(figure, args.out, name):
            print(f"wrote {path}")
    return 0


def _finish_simulation(result: Any, header: str, table: str, out: str | None) -> int:
    """Print the run's header line and summary table; save it if ``out`` is given."""
    print(f"{header}, seed entropy={result.metadata['seed']['entropy']}")
    print(table)
    if out:
        path = result.save(out)
        print(f"saved {path}")
    return 0


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
    header = (
        f"categorical: K={p0.size}, M={args.num_samples}, n={args.generations}, "
        f"R={args.replicates}, regime={args.regime}, pseudo_count={args.pseudo_count:g}"
    )
    return _finish_simulation(
        result, header, format_categorical_summary(result, max_rows=args.max_rows), args.out
    )


def _gaussian_start(args: argparse.Namespace) -> tuple[Any, Any]:
    """(mean0, cov0) from ``--mean0`` and ``--var0`` (1-D) or ``--cov0`` (d-D)."""
    if args.var0 is not None:
        if not np.isfinite(args.var0) or args.var0 <= 0:
            raise UsageError(f"--var0 must be a finite variance > 0; got {args.var0}")
        mean0 = 0.0 if args.mean0 is None else parse_vector(args.mean0, "--mean0")
        if np.ndim(mean0) and mean0.size != 1:
            raise UsageError(
                f"--mean0 {args.mean0!r}: --var0 is the 1-D model, so --mean0 must be one "
                "number; use --cov0 for d dimensions"
            )
        return float(np.ravel(mean0)[0]), float(args.var0)
    cov0 = parse_matrix(args.cov0, "--cov0")
    dim = cov0.shape[0]
    mean0 = np.zeros(dim) if args.mean0 is None else parse_vector(args.mean0, "--mean0")
    if mean0.size != dim:
        raise UsageError(
            f"--mean0 {args.mean0!r} has {mean0.size} entries but --cov0 is {dim} x {dim}"
        )
    return mean0, cov0


def _cmd_simulate_gaussian(args: argparse.Namespace) -> int:
    import collapse_theory as ct

    mean0, cov0 = _gaussian_start(args)
    regime = parse_regime(args.regime)
    record = parse_record(args.record)
    result = ct.gaussian.simulate(
        mean0,
        cov0,
        args.num_samples,
        args.generations,
        num_replicates=args.replicates,
        estimator=args.estimator,
        regime=regime,
        method=args.method,
        record=record,
        seed=args.seed,
        progress=args.progress,
    )
    dim = 1 if np.ndim(mean0) == 0 else int(np.size(mean0))
    start = f"mean0={mean0:g}, var0={cov0:g}" if np.ndim(mean0) == 0 else f"d={dim}"
    header = (
        f"gaussian: {start}, M={args.num_samples}, n={args.generations}, R={args.replicates}, "
        f"estimator={args.estimator}, method={args.method}, regime={args.regime}"
    )
    return _finish_simulation(
        result, header, format_gaussian_summary(result, max_rows=args.max_rows), args.out
    )


def _cmd_gmm_paper(args: argparse.Namespace) -> int:
    from collapse_theory import gmm, plotting

    if args.replicates < 1:
        raise UsageError("--replicates must be >= 1")
    needed = gmm.min_samples(2, 2)
    if args.num_samples < needed:
        raise UsageError(f"--num-samples must be >= {needed} to fit 2 full 2x2 components")
    experiment = gmm.paper_experiment(
        start=args.start,
        num_samples=args.num_samples,
        num_generations=args.generations,
        num_replicates=args.replicates,
        init=args.init,
        seed=args.seed,
        progress=args.progress,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "gmm_snapshots": plotting.figure_gmm_snapshots(seed=args.seed, experiment=experiment),
        "gmm_l2": plotting.figure_gmm_l2(seed=args.seed, experiment=experiment),
    }
    written = []
    for name, figure in figures.items():
        written += plotting.save_figure(figure, out, name)
    header = (
        f"gmm-paper: start={args.start}, N={args.num_samples}, n={args.generations}, "
        f"R={args.replicates}, init={args.init}, seed={args.seed}"
    )
    tables = [f"# {header}", ""]
    csv = ["replicate,generation,variance_x,variance_y,l2_to_original,weight_1,weight_2"]
    for r in range(experiment.num_replicates):
        tables += [f"## chain {r}", "", experiment.format_table(r), ""]
        for row in experiment.snapshot_table(r):
            values = [r, row["generation"], *row["variance"], row["l2"], *row["weights"]]
            csv.append(",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in values))
    (out / "snapshots.md").write_text("\n".join(tables), encoding="utf-8")
    (out / "snapshots.csv").write_text("\n".join(csv) + "\n", encoding="utf-8")
    written += [out / "snapshots.md", out / "snapshots.csv"]
    print(header)
    print(experiment.format_table(0))
    final = experiment.variance[-1]
    print(
        f"per-dimension variance at generation {int(experiment.generations[-1])} over "
        f"{experiment.num_replicates} chain(s): "
        + ", ".join(f"({v[0]:.3g}, {v[1]:.3g})" for v in final)
    )
    for path in written:
        print(f"wrote {path}")
    return 0


def _pick_rows(num_generations: int, max_rows: int) -> np.ndarray:
    """Indices of at most ``max_rows`` recorded generations, evenly spaced (0: all)."""
    picks = np.arange(num_generations)
    if max_rows and num_generations > max_rows:
        picks = np.unique(np.linspace(0, num_generations - 1, max_rows).round().astype(int))
    return picks


def _format_table(header: list[str], rows: list[list[str]], shown: int, total: int) -> str:
    """Right-aligned columns, plus a note when only ``shown`` of ``total`` generations are shown."""
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    if shown < total:
        lines.append(f"({shown} of {total} recorded generations shown; --max-rows 0 for all)")
    return "\n".join(lines)


def format_categorical_summary(result: Any, max_rows: int = 0) -> str:
    """Per recorded generation: heterozygosity and surviving states (mean, median), absorbed."""
    import collapse_theory as ct

    p = result["p"]
    absorbed_at = result["absorbed_at"]
    gens = np.asarray(result.generations)
    picks = _pick_rows(gens.size, max_rows)
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
    return _format_table(header, rows, picks.size, gens.size)


def format_gaussian_summary(result: Any, max_rows: int = 0) -> str:
    """Per recorded generation, over replicates.

    1-D: mean of mu_n, median and mean of sigma_n^2, and P(sigma_n^2 < 0.1 sigma_0^2) (the
    typical model collapses while the mean variance stays put, theory.md §2.2-2.3). d-D: mean
    |mu_n - mu_0|^2, mean ln det Sigma_n, mean and median tr Sigma_n (§3.2-3.4).
    """
    gens = np.asarray(result.generations)
    picks = _pick_rows(gens.size, max_rows)
    mean = np.asarray(result["mean"])
    rows = []
    if "var" in result.trajectories:
        var = np.asarray(result["var"])
        var0 = float(np.asarray(result.metadata["parameters"]["cov0"]))
        header = ["generation", "mu mean", "var median", "var mean", "P(var < 0.1 var0)"]
        for i in picks:
            rows.append(
                [
                    str(int(gens[i])),
                    f"{mean[i].mean():.6g}",
                    f"{np.median(var[i]):.6g}",
                    f"{var[i].mean():.6g}",
                    f"{np.mean(var[i] < 0.1 * var0):.4g}",
                ]
            )
    else:
        cov = np.asarray(result["cov"])
        mean0 = np.asarray(result.metadata["parameters"]["mean0"], dtype=np.float64)
        header = ["generation", "|mu-mu0|^2 mean", "log det mean", "trace mean", "trace median"]
        for i in picks:
            sign, log_det = np.linalg.slogdet(cov[i])
            log_det = np.where(sign > 0, log_det, -np.inf)
            trace = np.trace(cov[i], axis1=-2, axis2=-1)
            rows.append(
                [
                    str(int(gens[i])),
                    f"{np.sum((mean[i] - mean0) ** 2, axis=-1).mean():.6g}",
                    f"{log_det.mean():.6g}",
                    f"{trace.mean():.6g}",
                    f"{np.median(trace):.6g}",
                ]
            )
    return _format_table(header, rows, picks.size, gens.size)


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
    except KeyError as error:  # str() of a KeyError is the repr of its message
        return _fail(str(error.args[0]) if error.args else "missing key")
    except (ValueError, TypeError, OSError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
