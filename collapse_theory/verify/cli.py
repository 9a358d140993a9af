"""``collapse-theory verify``: run the theorem checks, or calibrate them over many seeds."""

from __future__ import annotations

import argparse
import os
import sys

from collapse_theory._cli import Commands, bound, integer

#: Worker processes of a verify run unless --workers says otherwise: one per CPU, at most two
#: (each starts on a family of its own, so two families' kernels compile at once).
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))

__all__ = ["add_commands"]


def add_commands(commands: Commands) -> None:
    """Add ``verify`` to the top-level commands."""
    sub = commands.top
    verify = sub.add_parser(
        "verify",
        help="check every closed form against Monte Carlo or brute force",
        description=(
            "Run the theorem checks. Monte Carlo checks pass on a z-score calibrated to a "
            "family-wise false-alarm rate (Bonferroni); exact checks on their stated tolerance; "
            "bound checks when the estimate lies on the stated side of the bound. Prints a row "
            "per check as it finishes, then 'N passed, M failed' (and how many standard errors "
            "the heavy-tail diagnostic does not trust); exit status 1 if any check fails."
        ),
    )
    size = verify.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        dest="quick",
        action="store_true",
        default=True,
        help="quick sizes (default; about 20 s on 2 CPUs, 50 s on the first run, which "
        "compiles the numba kernels: benchmarks/results/cold_start.md)",
    )
    size.add_argument(
        "--full",
        dest="quick",
        action="store_false",
        help="full sizes (10-20x larger Monte Carlo samples, sharper)",
    )
    verify.add_argument(
        "--seed",
        type=integer("--seed", minimum=0),
        default=0,
        help=f"root seed ({bound(0)}; default 0)",
    )
    verify.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these checks (names or prefixes, e.g. categorical.loss)",
    )
    verify.add_argument(
        "--out",
        metavar="DIR",
        help="also write report.md, report.json, report.html and figures into DIR (created if "
        "needed; its parent must exist)",
    )
    verify.add_argument(
        "--workers",
        type=integer("--workers", minimum=1),
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"processes running the checks ({bound(1)}; default {DEFAULT_WORKERS}: one per CPU, "
        "at most 2); the numbers are those of a serial run",
    )
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
        type=integer("--seeds", minimum=1),
        default=200,
        metavar="N",
        help=f"number of seeds of --calibrate ({bound(1)}; default 200; seeds SEED .. SEED+N-1)",
    )
    verify.set_defaults(handler=_cmd_verify)


def _cmd_verify(args: argparse.Namespace) -> int:
    from collapse_theory import backends, verify
    from collapse_theory._validate import output_directory

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
    out = output_directory("--out", args.out) if args.out else None
    with backends.use(args.backend or "numba"):
        if args.calibrate:
            return _calibrate(args, kwargs)
        report = verify.run(
            quick=args.quick,
            seed=args.seed,
            only=args.only,
            progress=sys.stderr.isatty(),
            workers=args.workers,
            stream=sys.stdout,
            **kwargs,
        )
    if out is not None:
        for path in report.save(out):
            print(f"wrote {path}", file=sys.stderr)
    return 0 if report.passed else 1


def _calibrate(args: argparse.Namespace, kwargs: dict[str, float]) -> int:
    from collapse_theory.verify.calibration import calibrate

    result = calibrate(
        args.seeds,
        quick=args.quick,
        first_seed=args.seed,
        only=args.only,
        out=args.out,
        progress=sys.stderr.isatty(),
        workers=args.workers,
        **kwargs,
    )
    print(result.format())
    if args.out:
        for path in result.save(args.out):
            print(f"wrote {path}", file=sys.stderr)
    return 0 if result.consistent else 1
