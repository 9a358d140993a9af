"""``collapse-theory sweep SPEC.toml --out DIR [--scheduler ...] [--workers N]``."""

from __future__ import annotations

import argparse
import sys

from collapse_theory._cli import Commands, bound, integer
from collapse_theory._validate import InputError, check_output_file

__all__ = ["add_commands"]

_DESCRIPTION = """\
Run the parameter sweep described by SPEC (a TOML file, see docs/sweep.md) into DIR: one
result file per task, written as each task finishes, plus index.json and log.txt. Rerunning
the same command resumes: finished tasks are kept, corrupt ones recomputed. The merged result
loads with collapse_theory.sweep.load(DIR) (.to_xarray() for an xarray Dataset).

Schedulers: inprocess (default; one task at a time in this process), processes[:N] (a pool of
N processes), local[:N] (a dask.distributed LocalCluster of N workers), tcp://HOST:PORT (an
existing Dask scheduler). Dask needs: pip install 'collapse_theory[sweep]'.
"""


def add_commands(commands: Commands) -> None:
    """Add ``sweep`` to the ``collapse-theory`` command's subparsers."""
    parser = commands.top.add_parser(
        "sweep",
        help="run a parameter sweep (resumable; in-process, process pool or Dask)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", metavar="SPEC", help="the sweep spec, a TOML file")
    parser.add_argument(
        "--out",
        metavar="DIR",
        required=True,
        help="output directory (created if missing; its parent must exist)",
    )
    parser.add_argument(
        "--scheduler",
        default="inprocess",
        help="inprocess (default), processes[:N], local[:N] or tcp://HOST:PORT",
    )
    parser.add_argument(
        "--workers",
        type=integer("--workers", minimum=1),
        metavar="N",
        help=f"workers for processes/local ({bound(1)}; default: CPUs)",
    )
    parser.add_argument(
        "--threads-per-task",
        type=integer("--threads-per-task", minimum=1),
        default=1,
        metavar="T",
        help=f"threads of each simulator call ({bound(1)}; default 1); never changes the results",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from collapse_theory.sweep import load_spec, run_sweep

    spec = load_spec(args.spec)
    check_output_file("--out", args.out)  # the directory is created, its parents are not
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        result, stats = run_sweep(
            spec,
            args.out,
            scheduler=args.scheduler,
            workers=args.workers,
            threads_per_task=args.threads_per_task,
            progress=progress,
        )
    except ImportError as error:  # the Dask extra is missing: a usage error, one line
        raise InputError(str(error)) from None
    except KeyboardInterrupt:
        print(
            f"sweep interrupted; finished tasks are kept in {args.out}: rerun to resume",
            file=sys.stderr,
        )
        raise
    axes = " x ".join(f"{name} ({len(values)})" for name, values in spec.grid.items())
    print(f"sweep {spec.function}: {spec.num_points} points [{axes}], {stats.total} tasks")
    print(
        f"computed {stats.computed}, already done {stats.skipped}, discarded (corrupt) "
        f"{stats.discarded}, in {stats.seconds:.2f} s"
    )
    shapes = {name: list(array.shape) for name, array in result.arrays.items()}
    print(f"arrays {shapes}; load with collapse_theory.sweep.load({str(args.out)!r})")
    return 0
