"""``collapse-theory gmm-paper``: the paper's Gaussian-mixture experiment, figures and table."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from collapse_theory._cli import Commands, UsageError, bound, integer, real
from collapse_theory._validate import InputError, InputTypeError, output_directory

__all__ = ["add_commands", "decode_mixture"]

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from collapse_theory.gmm.mixture import Mixture


def _snapshots(text: str) -> list[int]:
    """Comma-separated generations, e.g. ``0,50,2000``."""
    parse = integer("--snapshots", minimum=0)
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected comma-separated generations such as 0,50,2000")
    return [parse(part) for part in parts]


def add_commands(commands: Commands) -> None:
    """Add ``gmm-paper`` to the top-level commands."""
    from collapse_theory.gmm.paper import PAPER_PROTOCOL, PAPER_SNAPSHOTS, STARTS

    protocol = PAPER_PROTOCOL
    sub = commands.top
    paper = sub.add_parser(
        "gmm-paper",
        help="the paper's Gaussian-mixture experiment: figures and snapshot table",
        description=(
            "The authors' protocol by default (docs/theory.md section 4.1): a 2-component, "
            "full-covariance Gaussian mixture refitted by EM from a fresh k-means++ start to N = "
            "1000 samples of the previous fit, reg_covar 1e-6 (scikit-learn's default), tol "
            "1e-5, at most 2000 iterations, 2050 fits. Writes gmm_snapshots.png/.pdf, "
            "gmm_l2.png/.pdf, snapshots.md and snapshots.csv (per snapshot generation and "
            "chain: per-dimension variance, per-component std, L2 distances, weights, degenerate "
            "components) into DIR (created if missing; its parent must exist)."
        ),
    )
    paper.add_argument(
        "--start",
        choices=STARTS,
        default="blob",
        help="model 0: the notebook's 2-D standard Gaussian (default) or two separated Gaussians",
    )
    paper.add_argument(
        "--num-samples",
        type=integer("--num-samples", minimum=6),
        default=protocol["num_samples"],
        metavar="N",
        help=f"samples per generation ({bound(6)}; default {protocol['num_samples']})",
    )
    paper.add_argument(
        "--generations",
        type=integer("--generations", minimum=0),
        default=protocol["num_generations"],
        metavar="N",
        help=f"fits ({bound(0)}; default {protocol['num_generations']})",
    )
    paper.add_argument(
        "--replicates",
        type=integer("--replicates", minimum=1),
        default=3,
        metavar="R",
        help=f"independent chains ({bound(1)}; default 3); the scatter plots show chain 0",
    )
    paper.add_argument(
        "--init",
        choices=("kmeans++", "warm"),
        default=protocol["init"],
        help="EM start each generation: kmeans++ (default, the notebook) or warm",
    )
    paper.add_argument(
        "--reg-covar",
        type=real("--reg-covar", minimum=0.0),
        default=protocol["reg_covar"],
        metavar="C",
        help="covariance floor added at every M step (>= 0; default 1e-6, scikit-learn's; 0: "
        "the floor-free process, whose singular fits are flagged as degenerate)",
    )
    paper.add_argument(
        "--tol",
        type=real("--tol", minimum=0.0, strict=True),
        default=protocol["tol"],
        metavar="TOL",
        help="EM stops when the mean log-likelihood changes by less (> 0; default 1e-5)",
    )
    paper.add_argument(
        "--max-iter",
        type=integer("--max-iter", minimum=1),
        default=protocol["max_iter"],
        metavar="N",
        help=f"EM iterations per fit at most ({bound(1)}; default {protocol['max_iter']})",
    )
    paper.add_argument(
        "--snapshots",
        type=_snapshots,
        default=list(PAPER_SNAPSHOTS),
        metavar="G,G,...",
        help="generations of the scatter plots and the table (default "
        + ",".join(map(str, PAPER_SNAPSHOTS))
        + ")",
    )
    paper.add_argument(
        "--seed", type=integer("--seed", minimum=0), default=0, help=f"root seed ({bound(0)})"
    )
    paper.add_argument(
        "--out", metavar="DIR", default="gmm_paper", help="output folder (default gmm_paper)"
    )
    paper.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    paper.set_defaults(handler=_cmd_gmm_paper)


def _cmd_gmm_paper(args: argparse.Namespace) -> int:
    from collapse_theory import _figures, gmm
    from collapse_theory.gmm import figures as gmm_figures

    needed = gmm.min_samples(2, 2)
    if args.num_samples < needed:
        raise UsageError(f"--num-samples must be >= {needed} to fit 2 full 2x2 components")
    # before the run: DIR is created if missing, a missing parent is an error (never created)
    out = output_directory("--out", args.out)
    experiment = gmm.paper_experiment(
        start=args.start,
        num_samples=args.num_samples,
        num_generations=args.generations,
        snapshots=args.snapshots,
        num_replicates=args.replicates,
        init=args.init,
        reg_covar=args.reg_covar,
        tol=args.tol,
        max_iter=args.max_iter,
        seed=args.seed,
        progress=args.progress,
    )
    figures = {
        "gmm_snapshots": gmm_figures.figure_gmm_snapshots(seed=args.seed, experiment=experiment),
        "gmm_l2": gmm_figures.figure_gmm_l2(seed=args.seed, experiment=experiment),
    }
    written = []
    for name, figure in figures.items():
        written += _figures.save(figure, out, name)
    header = f"gmm-paper: {experiment.protocol()}, seed={args.seed}"
    tables = [f"# {header}", "", experiment.degeneracy_summary(), ""]
    csv = [
        "replicate,generation,variance_x,variance_y,std_component_1,std_component_2,"
        "l2_to_truth,l2_squared_to_first_fit,weight_1,weight_2,degenerate_1,degenerate_2"
    ]
    for r in range(experiment.num_replicates):
        tables += [f"## chain {r}", "", experiment.format_table(r), ""]
        for row in experiment.snapshot_table(r):
            values = [
                r,
                row["generation"],
                *row["variance"],
                *row["component_std"],
                row["l2_to_truth"],
                row["l2_squared_to_first_fit"],
                *row["weights"],
                *(int(flag) for flag in row["degenerate"]),
            ]
            csv.append(",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in values))
    (out / "snapshots.md").write_text("\n".join(tables), encoding="utf-8")
    (out / "snapshots.csv").write_text("\n".join(csv) + "\n", encoding="utf-8")
    written += [out / "snapshots.md", out / "snapshots.csv"]
    print(header)
    print(experiment.format_table(0))
    last = int(experiment.generations[-1])
    print(
        f"per-component std at generation {last} over {experiment.num_replicates} chain(s): "
        + ", ".join(
            "(" + ", ".join(f"{s:.3g}" for s in stds) + ")" for stds in experiment.component_std[-1]
        )
    )
    print(experiment.degeneracy_summary())
    for path in written:
        print(f"wrote {path}")
    return 0


def decode_mixture(value: str | Mapping[str, ArrayLike] | Mixture) -> Mixture:
    """A sweep spec's ``mixture0``: ``"paper[:blob|two-gaussians]"`` or a table with exactly the
    keys weights, means and covs."""
    from collapse_theory.gmm import Mixture, paper_start

    if isinstance(value, str):
        kind, _, start = value.partition(":")
        if kind != "paper":
            raise InputError(
                f"a mixture is 'paper[:blob|two-gaussians]' or a table with weights, means and "
                f"covs; got {value!r}"
            )
        return paper_start(start or "blob")
    if isinstance(value, Mapping):
        missing = {"weights", "means", "covs"} - set(value)
        if missing or len(value) != 3:
            raise InputError(
                f"a mixture table has exactly the keys weights, means, covs; got {sorted(value)}"
            )
        return Mixture(value["weights"], value["means"], value["covs"])
    if not isinstance(value, Mixture):
        raise InputTypeError(
            "mixture0 must be 'paper[:blob|two-gaussians]', a table with weights, means and "
            f"covs, or a Mixture; got {type(value).__name__}"
        )
    return value
