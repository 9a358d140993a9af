r"""The ``lm-paper`` experiment: the paper's Figure 1 protocol for replace and 10 % kept, the exact
unigram chain beside it, and its tables (docs/theory.md §1, §7, §11).

:func:`paper_experiment` runs :func:`~collapse_theory.lm.simulate.simulate` once per regime
with one model (n-gram or transformer) and, for the theory overlay, the unigram
maximum-likelihood chain (order 1, plain sampling, Replace), for which docs/theory.md §1 is
exact. :func:`metrics_rows` flattens the runs into one row per model, regime and generation
(the ``metrics.csv`` of ``collapse-theory lm-paper``); :func:`markdown_report` writes the
report.

Defaults for the n-gram (chosen so that the paper's effects are measurable on the ~49 000
training tokens of the pydoc corpus in a few minutes): order 2, interpolated Kneser-Ney, 64-token
blocks with the whole block as prompt (the paper's shape), every training block, nucleus
sampling ``top-p 0.9`` (the paper decodes by 5-way beam search with repetition penalty 3.0,
:data:`~collapse_theory.lm.simulate.PAPER_DECODING`, available with ``beam=5,
repetition_penalty=3.0``; plain sampling makes a smoothed model drift toward noise, under which
model 0 finds the samples *less* probable: see docs/lm.md).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from collapse_theory._validate import InputError, check_choice, check_int
from collapse_theory.lm.corpus import Corpus, load_corpus
from collapse_theory.lm.ngram import NGramTrainer
from collapse_theory.lm.simulate import LMRun, regime_label, simulate
from collapse_theory.policies import Policy, parse_policy
from collapse_theory.regimes import FreshData, Regime, Replace
from collapse_theory.rng import SeedLike, as_seed_sequence

__all__ = [
    "DEFAULT_POLICY",
    "MODELS",
    "PaperExperiment",
    "QuickSizes",
    "markdown_report",
    "metrics_rows",
    "paper_experiment",
    "write_metrics_csv",
]

#: Decoding of the n-gram default run (nucleus sampling).
DEFAULT_POLICY = "top-p 0.9"
#: Model kinds of :func:`paper_experiment`.
MODELS = ("ngram", "transformer")
#: Columns of ``metrics.csv`` after model, regime, generation (mean over chains for scalars).
COLUMNS = (
    "test_perplexity_mean",
    "test_perplexity_median",
    "test_perplexity_q10",
    "test_perplexity_q90",
    "test_perplexity_q99",
    "sample_perplexity_gen0_mean",
    "sample_perplexity_gen0_median",
    "sample_perplexity_gen0_q10",
    "sample_perplexity_gen0_q90",
    "surviving_types",
    "heterozygosity",
    "tail_mass",
    "tail_mass_train",
    "zipf_exponent",
    "distinct_1",
    "distinct_2",
    "repetition_rate",
    "training_tokens",
)


@dataclass(frozen=True)
class QuickSizes:
    """Sizes of a ``quick`` run where not given (seconds on 2 cores for the n-gram; the
    transformer is then pretrained for 3 epochs instead of 15).

    Parameters
    ----------
    num_sequences : int
        Training blocks.
    unigram_replicates : int
        At most this many chains of the unigram overlay.
    """

    num_sequences: int = 96
    unigram_replicates: int = 10


@dataclass(frozen=True)
class PaperExperiment:
    """The runs of :func:`paper_experiment`.

    Parameters
    ----------
    model : str
        "ngram" or "transformer".
    runs : dict of str to LMRun
        One run per regime, keyed by :func:`~collapse_theory.lm.simulate.regime_label`.
    unigram : LMRun or None
        The unigram MLE chain for the theory overlay (None if not run).
    settings : dict
        The arguments, for the report.
    """

    model: str
    runs: dict[str, LMRun]
    unigram: LMRun | None
    settings: dict[str, Any] = field(default_factory=dict)


def _trainer(
    model: str,
    corpus: Corpus,
    order: int,
    smoothing: str,
    block_length: int,
    seed: np.random.SeedSequence,
    quick: bool,
    transformer: dict[str, Any],
) -> Any:
    if model == "ngram":
        return NGramTrainer(order, smoothing, vocab_size=corpus.tokenizer.size)
    from collapse_theory.lm import transformer as tf

    options = dict(transformer)
    config = options.pop("config", None) or tf.TransformerConfig(context=block_length)
    pretrain_epochs = options.pop("pretrain_epochs", 3 if quick else 15)
    base = tf.pretrain(
        corpus.blocks("pretrain", block_length),
        corpus.tokenizer.size,
        config,
        seed=seed,
        epochs=pretrain_epochs,
    )
    options.setdefault("epochs", 3)
    return tf.TransformerTrainer(base, **options)


def paper_experiment(
    corpus: Corpus | None = None,
    *,
    model: str = "ngram",
    order: int = 2,
    smoothing: str = "kneser-ney",
    generations: int = 10,
    regimes: Sequence[Regime] = (Replace(), FreshData(0.1, "split")),
    policy: Policy | str | None = DEFAULT_POLICY,
    beam: int = 1,
    repetition_penalty: float = 1.0,
    block_length: int = 64,
    prompt_length: int | None = None,
    num_sequences: int | None = None,
    num_replicates: int = 1,
    unigram_replicates: int = 20,
    start: str = "previous",
    transformer: dict[str, Any] | None = None,
    seed: SeedLike = 0,
    quick: bool = False,
    progress: bool = False,
) -> PaperExperiment:
    """Run the paper's protocol for each regime, and the exact unigram chain (docs/theory.md
    §1, §7, §11).

    Parameters
    ----------
    corpus : Corpus, optional
        Default: ``load_corpus("pydoc")`` (offline).
    model : {"ngram", "transformer"}
        The model; the transformer needs the ``[neural]`` extra.
    order, smoothing : int, str
        N-gram order (1-5) and smoothing (:class:`~collapse_theory.lm.ngram.NGramTrainer`).
    generations : int
        G >= 0.
    regimes : sequence of Regime
        Default: Replace and FreshData(0.1, "split") (the paper's 10 % of the original blocks).
    policy : Policy, str or None
        Sampling policy (text as in :func:`collapse_theory.policies.parse_policy`); must be
        None with ``beam > 1``.
    beam, repetition_penalty : int, float
        Beam width and CTRL penalty (the paper: 5 and 3.0).
    block_length, prompt_length, num_sequences : int, int or None, int or None
        Shape of the protocol (:func:`~collapse_theory.lm.simulate.simulate`).
    num_replicates : int
        Chains per regime.
    unigram_replicates : int
        Chains of the unigram overlay (0: none).
    start : {"previous", "base"}
        Transformer fine-tuning start for n >= 1.
    transformer : dict, optional
        Transformer options: ``config`` (TransformerConfig), ``pretrain_epochs``, and
        TransformerTrainer's ``epochs``, ``batch_size``, ``learning_rate``.
    seed : SeedLike
        Root seed.
    quick : bool
        Small sizes (:class:`QuickSizes`) where not given; the transformer's base is
        pretrained for 3 epochs (default 15).
    progress : bool
        Progress bars.

    Returns
    -------
    PaperExperiment
        The runs.
    """
    model = check_choice("model", model, MODELS)
    policy = parse_policy(policy) if isinstance(policy, str) else policy
    if beam > 1 and policy is not None:
        raise InputError(
            f"beam search (beam={beam}) takes no sampling policy; got policy={policy!r} "
            "(pass policy=None with beam > 1)"
        )
    unigram_replicates = check_int("unigram_replicates", unigram_replicates, minimum=0)
    sizes = QuickSizes()
    if quick:
        num_sequences = sizes.num_sequences if num_sequences is None else num_sequences
        unigram_replicates = min(unigram_replicates, sizes.unigram_replicates)
    corpus = load_corpus("pydoc") if corpus is None else corpus
    root = as_seed_sequence(seed)
    trainer_seed, unigram_seed, *run_seeds = root.spawn(2 + len(regimes))
    trainer = _trainer(
        model, corpus, order, smoothing, block_length, trainer_seed, quick, transformer or {}
    )
    common = {
        "block_length": block_length,
        "prompt_length": prompt_length,
        "num_sequences": num_sequences,
        "progress": progress,
    }
    runs = {}
    for regime, run_seed in zip(regimes, run_seeds, strict=True):
        label = regime_label(regime)
        if label in runs:
            raise InputError(f"regimes must be distinct; got {label!r} twice")
        runs[label] = simulate(
            corpus,
            trainer,
            generations,
            regime=regime,
            policy=policy,
            beam=beam,
            repetition_penalty=repetition_penalty,
            num_replicates=num_replicates,
            start=start,
            seed=run_seed,
            **common,
        )
    unigram = None
    if unigram_replicates:
        unigram = simulate(
            corpus,
            NGramTrainer(1, "mle", vocab_size=corpus.tokenizer.size),
            generations,
            num_replicates=unigram_replicates,
            seed=unigram_seed,
            **common,
        )
    settings = {
        "model": model,
        "order": order if model == "ngram" else None,
        "smoothing": smoothing if model == "ngram" else None,
        "generations": generations,
        "policy": None if policy is None else repr(policy),
        "beam": beam,
        "repetition_penalty": repetition_penalty,
        "block_length": block_length,
        "prompt_length": block_length if prompt_length is None else prompt_length,
        "num_sequences": next(iter(runs.values())).config["num_sequences"] if runs else None,
        "num_replicates": num_replicates,
        "unigram_replicates": unigram_replicates,
        "start": start,
        "corpus": corpus.name,
        "quick": quick,
    }
    return PaperExperiment(model, runs, unigram, settings)


def metrics_rows(experiment: PaperExperiment) -> list[dict[str, Any]]:
    """One row per model, regime and generation (the unigram overlay's rows have model
    ``"unigram-mle"``).

    Parameters
    ----------
    experiment : PaperExperiment
        From :func:`paper_experiment`.

    Returns
    -------
    list of dict
        Keys ``model``, ``regime``, ``generation``, ``replicates`` and :data:`COLUMNS`.
    """
    named = [(experiment.model, label, run) for label, run in experiment.runs.items()]
    if experiment.unigram is not None:
        named.append(("unigram-mle", "replace", experiment.unigram))
    rows = []
    for name, label, run in named:
        for summary in run.summary():
            row = {"model": name, "regime": label, "generation": summary["generation"]}
            row["replicates"] = run.num_replicates
            row.update({column: summary[column] for column in COLUMNS})
            rows.append(row)
    return rows


def _format(value: Any) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.6g}"
    return str(value)


def write_metrics_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write :func:`metrics_rows` as CSV (floats with 6 significant digits).

    Parameters
    ----------
    rows : list of dict
        Rows with the same keys.
    path : str or pathlib.Path
        Target file (its directory must exist).

    Returns
    -------
    pathlib.Path
        The file.
    """
    path = Path(path)
    if not rows:
        raise InputError("rows is empty: nothing to write")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(rows[0]))
        for row in rows:
            writer.writerow([_format(v) for v in row.values()])
    return path


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_format(row[c]) for c in columns) + " |" for row in rows]
    return lines


def _unigram_lines(run: LMRun) -> list[str]:
    from collapse_theory.lm.theory import unigram_laws

    laws = unigram_laws(
        run.unigram_p0(), int(run.scalars["training_tokens"][0, 0]), run.generations
    )
    se = run.scalars["surviving_types"].std(axis=0, ddof=1) / math.sqrt(run.num_replicates)
    lines = [
        "| generation | surviving types (simulated, +- 1 SE) | exact E N_n | heterozygosity "
        "(simulated) | exact E H_n |",
        "|---|---|---|---|---|",
    ]
    for g, gen in enumerate(run.generations):
        lines.append(
            f"| {gen} | {run.scalars['surviving_types'][:, g].mean():.1f} +- {se[g]:.1f} | "
            f"{laws.expected_survivors[g]:.1f} | {run.scalars['heterozygosity'][:, g].mean():.5f}"
            f" | {laws.expected_heterozygosity[g]:.5f} |"
        )
    return lines


def markdown_report(
    experiment: PaperExperiment, *, header: str = "", figures: Sequence[str] = ()
) -> str:
    """The Markdown report of ``collapse-theory lm-paper``: settings, the per-generation table
    of each regime, the unigram overlay against its exact laws, sample text.

    Parameters
    ----------
    experiment : PaperExperiment
        From :func:`paper_experiment`.
    header : str
        A first line (e.g. the command).
    figures : sequence of str
        File names of figures to link.

    Returns
    -------
    str
        Markdown.
    """
    rows = metrics_rows(experiment)
    lines = [f"# lm-paper: {experiment.model}", ""]
    if header:
        lines += [header, ""]
    lines += ["Settings: " + ", ".join(f"{k}={v}" for k, v in experiment.settings.items()), ""]
    shown = (
        "generation",
        "test_perplexity_mean",
        "test_perplexity_median",
        "test_perplexity_q90",
        "sample_perplexity_gen0_mean",
        "surviving_types",
        "tail_mass",
        "distinct_2",
        "repetition_rate",
    )
    for label, run in experiment.runs.items():
        lines += [f"## {experiment.model}, regime {label}", ""]
        lines += _table(
            [r for r in rows if r["model"] == experiment.model and r["regime"] == label], shown
        )
        lines += ["", f"Chain 0's first sample at generation {run.generations[-1]}:", ""]
        lines += ["> " + run.examples[-1][:400], ""]
    if experiment.unigram is not None:
        lines += ["## Unigram MLE chain against the exact categorical laws (docs/theory.md §1)", ""]
        lines += [*_unigram_lines(experiment.unigram), ""]
    if figures:
        lines += ["## Figures", ""] + [f"![{name}]({name})" for name in figures] + [""]
    return "\n".join(lines)
