"""``collapse-theory gmm-paper``: the paper's Gaussian-mixture experiment, figures and table."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from collapse_theory._cli import Commands, UsageError, positive_int

__all__ = ["add_commands", "decode_mixture"]

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from collapse_theory.gmm.mixture import Mixture


def add_commands(commands: Commands) -> None:
    """Add ``gmm-paper`` to the top-level commands."""
    sub = commands.top
    paper = sub.add_parser(
        "gmm-paper",
        help="the paper's Gaussian-mixture experiment: figures and snapshot table",
        description=(
            "Refit a 2-component, full-covariance Gaussian mixture by EM (tol 1e-5, at most 2000 "
            "iterations, no covariance regulariser) to N samples of the previous fit, generation "
            "after generation (docs/theory.md section 4). Writes gmm_snapshots.png/.pdf, "
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
        "--num-samples", type=positive_int, default=1000, metavar="N", help="default 1000"
    )
    paper.add_argument(
        "--generations", type=positive_int, default=2000, metavar="N", help="default 2000"
    )
    paper.add_argument(
        "--replicates",
        type=positive_int,
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
    paper.add_argument("--seed", type=positive_int, default=0, help="root seed (default 0)")
    paper.add_argument("--out", metavar="DIR", default="gmm_paper", help="output folder")
    paper.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    paper.set_defaults(handler=_cmd_gmm_paper)


def _cmd_gmm_paper(args: argparse.Namespace) -> int:
    from collapse_theory import _figures, gmm
    from collapse_theory.gmm import figures as gmm_figures

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
        "gmm_snapshots": gmm_figures.figure_gmm_snapshots(seed=args.seed, experiment=experiment),
        "gmm_l2": gmm_figures.figure_gmm_l2(seed=args.seed, experiment=experiment),
    }
    written = []
    for name, figure in figures.items():
        written += _figures.save(figure, out, name)
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


def decode_mixture(value: str | Mapping[str, ArrayLike] | Mixture) -> Mixture:
    """A sweep spec's ``mixture0``: ``"paper[:blob|two-gaussians]"`` or a table with exactly the
    keys weights, means and covs."""
    from collapse_theory.gmm import Mixture, paper_start

    if isinstance(value, str):
        kind, _, start = value.partition(":")
        if kind != "paper":
            raise ValueError(
                f"a mixture is 'paper[:blob|two-gaussians]' or a table with weights, means and "
                f"covs; got {value!r}"
            )
        return paper_start(start or "blob")
    if isinstance(value, Mapping):
        missing = {"weights", "means", "covs"} - set(value)
        if missing or len(value) != 3:
            raise ValueError(
                f"a mixture table has exactly the keys weights, means, covs; got {sorted(value)}"
            )
        return Mixture(value["weights"], value["means"], value["covs"])
    return value
