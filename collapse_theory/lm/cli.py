"""``collapse-theory lm-paper``: the paper's language-model experiment (Figure 1), offline."""

from __future__ import annotations

import argparse
import re
import time

from collapse_theory._cli import Commands, UsageError, bound, integer, parse_regime, real
from collapse_theory._validate import InputError, output_directory

__all__ = ["add_commands", "parse_regimes"]

SMOOTHINGS = ("kneser-ney", "mle", "add")


def parse_regimes(spec: str, keep_original: float) -> list:
    """Comma-separated regimes: ``replace``, ``accumulate``, ``fresh`` (``--keep-original``
    of the original blocks, split variant) or ``fresh:F[:mix|split]``.

    Parameters
    ----------
    spec : str
        E.g. ``"replace,fresh"``.
    keep_original : float
        Fraction of a bare ``fresh``.

    Returns
    -------
    list
        Regime objects, in order.
    """
    from collapse_theory.regimes import FreshData

    parts = [part.strip() for part in spec.split(",") if part.strip()]
    if not parts:
        raise UsageError(f"--regime {spec!r}: give at least one of replace, fresh, accumulate")
    regimes = []
    for part in parts:
        if part == "fresh":
            regimes.append(FreshData(keep_original, "split"))
        elif part.startswith("weighted"):
            raise UsageError("--regime: the language-model protocol supports replace, fresh, "
                             f"accumulate; got {part!r}")  # fmt: skip
        else:
            regimes.append(parse_regime(part))
    return regimes


def add_commands(commands: Commands) -> None:
    """Add ``lm-paper`` to the top-level commands.

    Parameters
    ----------
    commands : Commands
        Where the command line's subcommands are registered.
    """
    paper = commands.top.add_parser(
        "lm-paper",
        help="the paper's language-model experiment (Figure 1) with an n-gram or transformer",
        description=(
            "Model 0 is fitted on the 64-token blocks of the pydoc corpus's training split "
            "(CPython's own documentation: nothing is downloaded); model n continues every "
            "original block by 64 tokens and model n+1 is fitted on those continuations "
            "(replace) or on them with 10 %% of the blocks swapped for original ones (fresh). "
            "Writes metrics.csv (one row per model, regime and generation), report.md, "
            "lm_perplexity.png/.pdf (the paper's Figure 1 analogue), lm_unigram.png/.pdf (the "
            "unigram chain against its exact laws) and each run as run_REGIME.npz into DIR. "
            "Decoding: nucleus sampling top-p 0.9 by default; the paper's 5-way beam search "
            "with repetition penalty 3.0 with --paper-decoding."
        ),
    )
    paper.add_argument("--model", choices=("ngram", "transformer"), default="ngram",
                       help="n-gram (default; core only) or the small transformer ([neural])")  # fmt: skip
    paper.add_argument("--order", type=integer("--order", minimum=1, maximum=5), default=2,
                       help=f"n-gram order ({bound(1, 5)}; default 2)")  # fmt: skip
    paper.add_argument("--smoothing", choices=SMOOTHINGS, default="kneser-ney",
                       help="n-gram estimator (default kneser-ney)")  # fmt: skip
    paper.add_argument("--generations", type=integer("--generations", minimum=0), default=None,
                       metavar="N", help=f"models after model 0 ({bound(0)}; default 10, quick 4)")  # fmt: skip
    paper.add_argument("--regime", default="replace,fresh",
                       help="comma-separated: replace, fresh (--keep-original of the original "
                       "blocks), fresh:F[:mix|split], accumulate (default replace,fresh)")  # fmt: skip
    paper.add_argument("--keep-original", type=real("--keep-original", minimum=0.0), default=0.1,
                       metavar="F", help="fraction of original blocks under fresh (default 0.1)")  # fmt: skip
    paper.add_argument("--policy", default=None,
                       help="sampling policy, e.g. 'top-p 0.9' (default), 'min-p 0.05', "
                       "'temperature 0.7 + top-k 50', or 'none' (plain sampling)")  # fmt: skip
    paper.add_argument("--beam", type=integer("--beam", minimum=1), default=1,
                       help=f"beam width ({bound(1)}; default 1: sampling)")  # fmt: skip
    paper.add_argument("--repetition-penalty", type=real("--repetition-penalty", minimum=1.0),
                       default=1.0, metavar="R", help="CTRL repetition penalty (>= 1; default 1)")  # fmt: skip
    paper.add_argument("--paper-decoding", action="store_true",
                       help="the paper's decoding: --beam 5 --repetition-penalty 3.0, no policy")  # fmt: skip
    paper.add_argument("--block-length", type=integer("--block-length", minimum=2), default=64,
                       metavar="L", help=f"tokens per block ({bound(2)}; default 64)")  # fmt: skip
    paper.add_argument("--prompt-length", type=integer("--prompt-length", minimum=0),
                       default=None, metavar="P",
                       help="tokens of each original block given as prompt (0..L; default L)")  # fmt: skip
    paper.add_argument("--num-sequences", type=integer("--num-sequences", minimum=1),
                       default=None, metavar="S",
                       help="training blocks used (default all; quick 96)")  # fmt: skip
    paper.add_argument("--replicates", type=integer("--replicates", minimum=1), default=1,
                       metavar="R", help=f"chains per regime ({bound(1)}; default 1)")  # fmt: skip
    paper.add_argument("--unigram-replicates", type=integer("--unigram-replicates", minimum=0),
                       default=20, metavar="R",
                       help="chains of the unigram theory overlay (default 20, quick 10; 0: none)")  # fmt: skip
    paper.add_argument("--start", choices=("previous", "base"), default="previous",
                       help="transformer: fine-tune generation n from model n-1 (default, the "
                       "paper) or from the pretrained base")  # fmt: skip
    paper.add_argument("--seed", type=integer("--seed", minimum=0), default=0,
                       help=f"root seed ({bound(0)}; default 0)")  # fmt: skip
    paper.add_argument("--quick", action="store_true",
                       help="small sizes: 96 blocks, 4 generations (seconds for the n-gram)")  # fmt: skip
    paper.add_argument("--out", metavar="DIR", default="lm_paper",
                       help="output folder (default lm_paper; created, its parent must exist)")  # fmt: skip
    paper.add_argument("--progress", action="store_true", help="show progress bars on stderr")
    paper.set_defaults(handler=_cmd_lm_paper)


def _decoding(args: argparse.Namespace):
    from collapse_theory.lm.report import DEFAULT_POLICY
    from collapse_theory.policies import parse_policy

    beam, penalty = args.beam, args.repetition_penalty
    if args.paper_decoding:
        if args.policy not in (None, "none") or beam not in (1, 5):
            raise UsageError("--paper-decoding sets --beam 5, --repetition-penalty 3.0 and no "
                             "policy; do not combine it with --policy or another --beam")  # fmt: skip
        return None, 5, 3.0
    if args.policy is None:
        return (parse_policy(DEFAULT_POLICY) if beam == 1 else None), beam, penalty
    policy = parse_policy(args.policy)
    if beam > 1 and policy is not None:
        raise UsageError(f"--beam {beam} is beam search and takes no --policy; got {args.policy!r}")
    return policy, beam, penalty


def _cmd_lm_paper(args: argparse.Namespace) -> int:
    from collapse_theory import _figures
    from collapse_theory.lm import figures as lm_figures
    from collapse_theory.lm import report

    policy, beam, penalty = _decoding(args)
    regimes = parse_regimes(args.regime, args.keep_original)
    if args.prompt_length is not None and args.prompt_length > args.block_length:
        raise UsageError(f"--prompt-length must be <= --block-length ({args.block_length}); "
                         f"got {args.prompt_length}")  # fmt: skip
    generations = args.generations if args.generations is not None else (4 if args.quick else 10)
    out = output_directory("--out", args.out)
    began = time.perf_counter()
    try:
        experiment = report.paper_experiment(
            model=args.model,
            order=args.order,
            smoothing=args.smoothing,
            generations=generations,
            regimes=regimes,
            policy=policy,
            beam=beam,
            repetition_penalty=penalty,
            block_length=args.block_length,
            prompt_length=args.prompt_length,
            num_sequences=args.num_sequences,
            num_replicates=args.replicates,
            unigram_replicates=args.unigram_replicates,
            start=args.start,
            seed=args.seed,
            quick=args.quick,
            progress=args.progress,
        )
    except ImportError as error:  # the [neural] extra is missing
        raise InputError(f"--model transformer: {error}") from error
    seconds = time.perf_counter() - began
    written = []
    titles = {label: _title(label) for label in experiment.runs}
    decoding = (
        f"beam {beam}, repetition penalty {penalty:g}"
        if beam > 1
        else f"policy {policy!r}, repetition penalty {penalty:g}"
    )
    model = f"{args.order}-gram {args.smoothing}" if args.model == "ngram" else "transformer"
    names = []
    if experiment.runs:
        runs = {titles[label]: run for label, run in experiment.runs.items()}
        fig = lm_figures.plot_perplexity_histograms(runs, note=f"{model}, {decoding}")
        written += _figures.save(fig, out, "lm_perplexity")
        names.append("lm_perplexity.png")
    if experiment.unigram is not None and experiment.unigram.num_replicates >= 2:
        written += _figures.save(
            lm_figures.plot_unigram_theory(experiment.unigram), out, "lm_unigram"
        )
        names.append("lm_unigram.png")
    rows = report.metrics_rows(experiment)
    written.append(report.write_metrics_csv(rows, out / "metrics.csv"))
    for label, run in experiment.runs.items():
        written.append(run.save(out / f"run_{re.sub(r'[^A-Za-z0-9_.-]', '-', label)}.npz"))
    header = f"collapse-theory lm-paper: {model}, {decoding}, seed {args.seed}, {seconds:.1f} s"
    text = report.markdown_report(experiment, header=header, figures=names)
    (out / "report.md").write_text(text, encoding="utf-8")
    written.append(out / "report.md")
    print(header)
    for row in rows:
        if row["model"] == experiment.model and row["generation"] in (0, generations):
            print(
                f"{row['regime']:>16} generation {row['generation']:>3}: test perplexity mean "
                f"{row['test_perplexity_mean']:.4g} (median {row['test_perplexity_median']:.4g}, "
                f"q90 {row['test_perplexity_q90']:.4g}); samples under model 0 "
                f"{row['sample_perplexity_gen0_mean']:.4g}; surviving types "
                f"{row['surviving_types']:.0f}"
            )
    for path in written:
        print(f"wrote {path}")
    return 0


def _title(label: str) -> str:
    if label.startswith("fresh:"):
        fraction = float(label.split(":")[1])
        return f"{100 * fraction:g} % original kept"
    return label
