r"""The paper's language-model protocol at laptop scale (docs/theory.md §7, §11).

:func:`simulate` runs ``num_replicates`` independent chains. In each:

1. the real training set is the first S consecutive ``block_length``-token blocks of the
   corpus's training split (all of them by default); the prompt of block i is its first
   ``prompt_length`` tokens (P = L, the whole block, as the paper does);
2. model 0 = ``trainer.fit(real blocks)``;
3. model n writes ``block_length`` new tokens after each of the S prompts (the prompts are
   always the *original* blocks, as in the paper); these S continuations are model n's samples
   and the next generation's synthetic training set (the paper: "for each token sequence in the
   training set, we ask the model to predict the next 64 tokens");
4. the regime decides what model n + 1 is fitted on (every block has L tokens, so every
   generation trains on S·L tokens unless it accumulates):

   - :class:`~collapse_theory.regimes.Replace`: the S continuations only;
   - :class:`~collapse_theory.regimes.FreshData` (fraction f, the paper keeps 10 %):
     ``"split"``: exactly round(f S) of the S training blocks, drawn at random without
     replacement each generation, are the *original* blocks (from the fixed real training set),
     the rest the model's continuations; ``"mix"``: each block is original with probability f;
   - :class:`~collapse_theory.regimes.Accumulate`: the real blocks and every synthetic set so
     far, pooled;

5. model n + 1 is fitted, starting (transformer) from the previous model (``start="previous"``,
   the paper: "we use the best-performing model on the original task ... as the base model for
   the subsequent generations") or from the pretrained base (``start="base"``); an n-gram
   trainer ignores ``start``.

Decoding: any ``collapse_theory.policies`` policy (``policy``, sampling) or beam search with the
CTRL repetition penalty (``beam``, ``repetition_penalty``). The paper decodes by 5-way beam
search with repetition penalty 3.0 (:data:`PAPER_DECODING`); the default here is plain
ancestral sampling (``policy=None, beam=1, repetition_penalty=1``), under which the unigram
maximum-likelihood chain is the exact categorical chain of docs/theory.md §1.

Per generation n = 0..G the run records (definitions in :mod:`collapse_theory.lm.metrics`):
the per-sequence perplexity of every test block under model n; the perplexity of model n's
samples (given their prompts) under model 0; the surviving word types, heterozygosity and
model-0 tail share of model n's training tokens; and of its samples the model-0 tail share,
the Zipf exponent, distinct-1, distinct-2 and seq-rep-4.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from collapse_theory._json import dumps, jsonable
from collapse_theory._validate import (
    InputError,
    InputTypeError,
    check_allocation,
    check_choice,
    check_int,
    check_output_file,
)
from collapse_theory.lm import metrics as lm_metrics
from collapse_theory.lm.corpus import Corpus, Tokenizer
from collapse_theory.lm.ngram import NGramTrainer
from collapse_theory.lm.protocol import (
    LanguageModel,
    Trainer,
    check_decoding,
    sequence_perplexity,
)
from collapse_theory.lm.tails import lm_tail_types
from collapse_theory.policies import Policy
from collapse_theory.progress import progress_bar
from collapse_theory.regimes import (
    Accumulate,
    FreshData,
    Regime,
    Replace,
    check_regime,
)
from collapse_theory.rng import SeedLike, as_seed_sequence, seed_metadata

__all__ = [
    "DEFAULT_BLOCK_LENGTH",
    "PAPER_DECODING",
    "SCALARS",
    "STARTS",
    "LMRun",
    "regime_label",
    "simulate",
]

#: The paper's block length (tokens per training block).
DEFAULT_BLOCK_LENGTH = 64
#: The paper's decoding: 5-way beam search, repetition penalty 3.0.
PAPER_DECODING = {"beam": 5, "repetition_penalty": 3.0}
#: Where a transformer's fit starts from each generation n >= 1.
STARTS = ("previous", "base")
#: Per-generation scalar metrics of :class:`LMRun` (arrays of shape (R, G + 1)).
SCALARS = (
    "training_tokens",
    "surviving_types",
    "heterozygosity",
    "tail_mass_train",
    "tail_mass",
    "zipf_exponent",
    "distinct_1",
    "distinct_2",
    "repetition_rate",
)
_META = "metadata.json"


def regime_label(regime: Regime) -> str:
    """A short name of a regime for tables and file names.

    Parameters
    ----------
    regime : Replace, FreshData or Accumulate
        The regime.

    Returns
    -------
    str
        ``"replace"``, ``"accumulate"`` or ``"fresh:F:VARIANT"`` (e.g. ``"fresh:0.1:split"``).
    """
    regime = check_regime(regime, where="the language-model protocol")
    if isinstance(regime, Replace):
        return "replace"
    if isinstance(regime, Accumulate):
        return "accumulate"
    return f"fresh:{regime.fraction:g}:{regime.variant}"


def _regime_from_label(label: str) -> Regime:
    if label == "replace":
        return Replace()
    if label == "accumulate":
        return Accumulate()
    _, fraction, variant = label.split(":")
    return FreshData(float(fraction), variant)  # type: ignore[arg-type]


@dataclass(frozen=True)
class LMRun:
    """Result of :func:`simulate`: per-generation metrics of every chain (docs/theory.md §11).

    Parameters
    ----------
    config : dict
        The protocol: trainer, regime label, decoding, sizes, start, corpus name (JSON-ready).
    tokenizer : Tokenizer
        The corpus's tokenizer (saved with the run).
    generations : numpy.ndarray of int, shape (G + 1,)
        0 .. G.
    test_perplexity : numpy.ndarray of float64, shape (R, G + 1, S_test)
        Per-sequence perplexity of each test block under model n.
    sample_perplexity : numpy.ndarray of float64, shape (R, G + 1, S)
        Per-sequence perplexity of model n's samples (given their prompts) under model 0.
    scalars : dict of str to numpy.ndarray, shape (R, G + 1)
        The metrics named in :data:`SCALARS`.
    tail_types : numpy.ndarray of int
        The model-0 tail: the rarest word types holding at most 10 % of the test tokens.
    train_counts : numpy.ndarray of float64, shape (V,)
        Token counts of the real training blocks (``<unk>`` included), model 0's data.
    examples : tuple of str
        The first sample of chain 0 at each generation, decoded.
    seed : dict
        Seed metadata (:func:`collapse_theory.rng.seed_metadata`).
    """

    config: dict[str, Any]
    tokenizer: Tokenizer
    generations: np.ndarray
    test_perplexity: np.ndarray
    sample_perplexity: np.ndarray
    scalars: dict[str, np.ndarray]
    tail_types: np.ndarray
    train_counts: np.ndarray
    examples: tuple[str, ...] = ()
    seed: dict[str, Any] = field(default_factory=dict)

    @property
    def num_replicates(self) -> int:
        """R, the number of chains."""
        return int(self.test_perplexity.shape[0])

    @property
    def regime(self) -> Regime:
        """The regime object of the run."""
        return _regime_from_label(self.config["regime"])

    def summary(self) -> list[dict[str, Any]]:
        """One row per generation: perplexity summaries pooled over chains and sequences
        (:func:`~collapse_theory.lm.metrics.perplexity_summary`), scalar means over chains.

        Returns
        -------
        list of dict
            Keys: ``generation``, ``test_perplexity_mean``, ``test_perplexity_median``,
            ``test_perplexity_q10`` .. ``_q99``, ``sample_perplexity_gen0_mean`` and the same
            suffixes, then each name of :data:`SCALARS`.
        """
        rows = []
        for g, generation in enumerate(self.generations):
            row: dict[str, Any] = {"generation": int(generation)}
            test = lm_metrics.perplexity_summary(self.test_perplexity[:, g])
            row.update({f"test_perplexity_{k}": v for k, v in test.items()})
            sample = lm_metrics.perplexity_summary(self.sample_perplexity[:, g])
            row.update({f"sample_perplexity_gen0_{k}": v for k, v in sample.items()})
            for name in SCALARS:
                row[name] = float(np.mean(self.scalars[name][:, g]))
            rows.append(row)
        return rows

    def unigram_p0(self) -> np.ndarray:
        """Model 0's training-token distribution (``<unk>`` included), the start of the exact
        unigram chain (:func:`collapse_theory.lm.theory.unigram_laws` removes ``<unk>``).

        Returns
        -------
        numpy.ndarray of float64, shape (V,)
            ``train_counts / train_counts.sum()``.
        """
        return self.train_counts / self.train_counts.sum()

    def save(self, path: str | Path) -> Path:
        """Write the run as an ``.npz`` archive (arrays) with a ``metadata.json`` member
        (config, tokenizer, examples, seed), or as one JSON file if ``path`` ends in ``.json``.

        Parameters
        ----------
        path : str or pathlib.Path
            Target file; its directory must exist. Without a ``.json`` suffix, ``.npz`` is used.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        path = Path(path)
        if path.suffix != ".json" and path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        path = check_output_file("path", path)
        meta = {
            "config": self.config,
            "tokenizer": self.tokenizer.to_dict(),
            "examples": list(self.examples),
            "seed": self.seed,
        }
        arrays = self._arrays()
        if path.suffix == ".json":
            path.write_text(dumps({**meta, "arrays": arrays}) + "\n", encoding="utf-8")
            return path
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w") as member:
                    np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
            archive.writestr(_META, dumps(meta, indent=2))
        return path

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "generations": self.generations,
            "test_perplexity": self.test_perplexity,
            "sample_perplexity": self.sample_perplexity,
            "tail_types": self.tail_types,
            "train_counts": self.train_counts,
        }
        arrays.update({f"scalar__{k}": v for k, v in self.scalars.items()})
        return arrays

    @classmethod
    def load(cls, path: str | Path) -> LMRun:
        """Read a run written by :meth:`save` (``.npz`` or ``.json``).

        Parameters
        ----------
        path : str or pathlib.Path
            The file.

        Returns
        -------
        LMRun
            An equal run (infinite perplexities survive ``.npz``; JSON stores them as null,
            read back as ``inf``).
        """
        path = Path(path)
        if not path.exists() and path.with_name(path.name + ".npz").exists():
            path = path.with_name(path.name + ".npz")
        try:
            if path.suffix == ".json":
                data = json.loads(path.read_text(encoding="utf-8"))
                meta = data
                arrays = {k: _from_json(k, v) for k, v in data["arrays"].items()}
            else:
                with zipfile.ZipFile(path) as archive:
                    meta = json.loads(archive.read(_META))
                    arrays = {}
                    for name in archive.namelist():
                        if name.endswith(".npy"):
                            with archive.open(name) as member:
                                arrays[name[:-4]] = np.lib.format.read_array(member)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
            raise InputError(f"{str(path)!r} is not a saved LMRun: {error}") from error
        scalars = {k[8:]: v for k, v in arrays.items() if k.startswith("scalar__")}
        return cls(
            config=meta["config"],
            tokenizer=Tokenizer.from_dict(meta["tokenizer"]),
            generations=arrays["generations"].astype(np.int64),
            test_perplexity=arrays["test_perplexity"],
            sample_perplexity=arrays["sample_perplexity"],
            scalars=scalars,
            tail_types=arrays["tail_types"].astype(np.int64),
            train_counts=arrays["train_counts"],
            examples=tuple(meta.get("examples", ())),
            seed=meta.get("seed", {}),
        )


def _from_json(name: str, value: Any) -> np.ndarray:
    if name in ("generations", "tail_types"):
        return np.asarray(value, dtype=np.int64)
    array = np.asarray(value, dtype=object)
    array[array == None] = np.inf  # noqa: E711 (JSON null stands for a non-finite value)
    return array.astype(np.float64)


def _describe_trainer(trainer: Trainer) -> dict[str, Any]:
    info: dict[str, Any] = {"name": trainer.name}
    for key in ("order", "smoothing", "alpha", "discount", "epochs", "batch_size"):
        if hasattr(trainer, key):
            info[key] = getattr(trainer, key)
    if hasattr(trainer, "learning_rate"):
        info["learning_rate"] = trainer.learning_rate
    return jsonable(info)  # type: ignore[return-value]


@dataclass(frozen=True)
class _Setup:
    real: np.ndarray
    prompts: np.ndarray
    test: np.ndarray
    tail: np.ndarray
    vocab: int


def _setup(
    corpus: Corpus,
    block_length: int,
    prompt_length: int | None,
    num_sequences: int | None,
    num_test: int | None,
) -> _Setup:
    if not isinstance(corpus, Corpus):
        raise InputTypeError(f"corpus must be a Corpus (load_corpus); got {type(corpus).__name__}")
    block_length = check_int("block_length", block_length, minimum=2)
    if prompt_length is None:
        prompt_length = block_length
    prompt_length = check_int("prompt_length", prompt_length, minimum=0, maximum=block_length)
    real = corpus.blocks("train", block_length)
    if num_sequences is not None:
        num_sequences = check_int("num_sequences", num_sequences, minimum=1)
        if num_sequences > real.shape[0]:
            raise InputError(
                f"num_sequences={num_sequences} is more than the {real.shape[0]} training blocks "
                f"of {block_length} tokens in corpus {corpus.name!r}"
            )
        real = real[:num_sequences]
    test = corpus.blocks("test", block_length)
    if num_test is not None:
        test = test[: check_int("num_test", num_test, minimum=1)]
    vocab = corpus.tokenizer.size
    test_counts = np.bincount(corpus.test, minlength=vocab)
    return _Setup(real, real[:, :prompt_length].copy(), test, lm_tail_types(test_counts), vocab)


def _with_vocabulary(trainer: Trainer, corpus: object) -> Trainer:
    """An n-gram trainer without a vocabulary size gets the corpus's (so that every test id
    can be scored)."""
    if (
        isinstance(trainer, NGramTrainer)
        and trainer.vocab_size is None
        and isinstance(corpus, Corpus)
    ):
        return NGramTrainer(
            trainer.order,
            trainer.smoothing,
            trainer.alpha,
            trainer.discount,
            vocab_size=corpus.tokenizer.size,
        )
    return trainer


def _next_training_set(
    regime: Regime, real: np.ndarray, samples: np.ndarray, pool: list[np.ndarray], rng: Any
) -> np.ndarray:
    if isinstance(regime, Replace):
        return samples
    if isinstance(regime, Accumulate):
        pool.append(samples)
        return np.concatenate(pool, axis=0)
    count = real.shape[0]
    if regime.variant == "split":
        keep = np.zeros(count, dtype=bool)
        keep[rng.choice(count, size=round(regime.fraction * count), replace=False)] = True
    else:
        keep = rng.random(count) < regime.fraction
    out = samples.copy()
    out[keep] = real[keep]
    return out


def _record(
    scalars: dict[str, np.ndarray], r: int, g: int, train: np.ndarray, samples: np.ndarray, tail
) -> None:
    values = {
        "training_tokens": train.size,
        "surviving_types": lm_metrics.surviving_types(train),
        "heterozygosity": lm_metrics.heterozygosity(train),
        "tail_mass_train": lm_metrics.tail_mass(train, tail),
        "tail_mass": lm_metrics.tail_mass(samples, tail),
        "zipf_exponent": lm_metrics.zipf_exponent(samples),
        "distinct_1": lm_metrics.distinct_n(samples, 1),
        "distinct_2": lm_metrics.distinct_n(samples, 2),
        "repetition_rate": lm_metrics.repetition_rate(samples, min(4, samples.shape[1])),
    }
    for name, value in values.items():
        scalars[name][r, g] = value


def simulate(
    corpus: Corpus,
    trainer: Trainer,
    generations: int,
    *,
    regime: Regime = Replace(),  # noqa: B008 (frozen dataclass)
    policy: Policy | None = None,
    beam: int = 1,
    repetition_penalty: float = 1.0,
    block_length: int = DEFAULT_BLOCK_LENGTH,
    prompt_length: int | None = None,
    num_sequences: int | None = None,
    num_test: int | None = None,
    num_replicates: int = 1,
    start: str = "previous",
    seed: SeedLike = 0,
    progress: bool = False,
) -> LMRun:
    r"""Run the paper's protocol: fit, generate, refit, for ``generations`` generations
    (module docstring; docs/theory.md §7, §11).

    Parameters
    ----------
    corpus : Corpus
        From :func:`~collapse_theory.lm.corpus.load_corpus`.
    trainer : Trainer
        An :class:`~collapse_theory.lm.ngram.NGramTrainer` or a
        :class:`~collapse_theory.lm.transformer.TransformerTrainer`.
    generations : int
        G >= 0: models 0..G are fitted.
    regime : Replace, FreshData or Accumulate
        What each model is fitted on (module docstring).
    policy : Policy or None
        Sampling policy (``collapse_theory.policies``); None samples the model as fitted.
    beam : int
        Beam width >= 1; > 1 is beam search (then ``policy`` must be None). The paper: 5.
    repetition_penalty : float
        CTRL penalty r >= 1 (1: none). The paper: 3.0.
    block_length : int
        L >= 2, tokens per training block and per continuation (the paper: 64).
    prompt_length : int or None
        P in [0, L], the tokens of each original block the model continues; None: P = L (the
        paper). P = 0 makes every sample start from the beginning-of-block symbol.
    num_sequences : int or None
        S, the first S training blocks; None: all.
    num_test : int or None
        Score only the first ``num_test`` test blocks; None: all.
    num_replicates : int
        R >= 1 independent chains.
    start : {"previous", "base"}
        Where a transformer's fit starts for n >= 1: the previous model (the paper, default) or
        the trainer's pretrained base. Model 0 always starts from the base.
    seed : SeedLike
        Root seed; chain r uses child r of :func:`collapse_theory.rng.as_seed_sequence`.
    progress : bool
        Show a progress bar (one step per model).

    Returns
    -------
    LMRun
        Per-generation metrics.
    """
    if not isinstance(trainer, Trainer):
        raise InputTypeError(
            f"trainer must be a Trainer (NGramTrainer, TransformerTrainer); got {trainer!r}"
        )
    generations = check_int("generations", generations, minimum=0)
    trainer = _with_vocabulary(trainer, corpus)
    regime = check_regime(regime, where="the language-model protocol")
    policy, beam, repetition_penalty = check_decoding(policy, beam, repetition_penalty)
    num_replicates = check_int("num_replicates", num_replicates, minimum=1)
    start = check_choice("start", start, STARTS)
    setup = _setup(corpus, block_length, prompt_length, num_sequences, num_test)
    real, prompts, test = setup.real, setup.prompts, setup.test
    pooled = real.size * (generations + 1 if isinstance(regime, Accumulate) else 1)
    check_allocation(
        f"{num_replicates} chains of {generations + 1} models",
        8.0 * num_replicates * (generations + 1) * (test.shape[0] + real.shape[0]) + 16.0 * pooled,
    )
    root = as_seed_sequence(seed)
    shape = (num_replicates, generations + 1)
    test_ppl = np.empty((*shape, test.shape[0]))
    sample_ppl = np.empty((*shape, real.shape[0]))
    scalars = {name: np.empty(shape) for name in SCALARS}
    examples: list[str] = []
    decoding = {"policy": policy, "beam": beam, "repetition_penalty": repetition_penalty}
    with progress_bar(num_replicates * (generations + 1), "lm", enabled=progress, unit="model") as advance:  # fmt: skip
        for r, chain_seed in enumerate(root.spawn(num_replicates)):
            model0: LanguageModel | None = None
            model: LanguageModel | None = None
            train, pool = real, [real]
            for g, gen_seed in enumerate(chain_seed.spawn(generations + 1)):
                fit_seed, sample_seed, regime_seed = gen_seed.spawn(3)
                begin = None if (g == 0 or start == "base") else model
                model = trainer.fit(train, seed=fit_seed, start=begin)
                model0 = model if g == 0 else model0
                samples = np.asarray(
                    model.generate(prompts, block_length, seed=sample_seed, **decoding)
                )
                test_ppl[r, g] = sequence_perplexity(model, test)
                sample_ppl[r, g] = lm_metrics.continuation_perplexity(model0, prompts, samples)
                _record(scalars, r, g, train, samples, setup.tail)
                if r == 0:
                    examples.append(corpus.tokenizer.decode(samples[0]))
                if g < generations:
                    rng = np.random.default_rng(regime_seed)
                    train = _next_training_set(regime, real, samples, pool, rng)
                advance(1)
    config = {
        "trainer": _describe_trainer(trainer),
        "regime": regime_label(regime),
        "policy": None if policy is None else repr(policy),
        "beam": beam,
        "repetition_penalty": repetition_penalty,
        "block_length": int(real.shape[1]),
        "prompt_length": int(prompts.shape[1]),
        "num_sequences": int(real.shape[0]),
        "num_test": int(test.shape[0]),
        "num_replicates": num_replicates,
        "start": start,
        "corpus": corpus.to_dict() | {"tokenizer": None},
    }
    return LMRun(
        config=jsonable(config),  # type: ignore[arg-type]
        tokenizer=corpus.tokenizer,
        generations=np.arange(generations + 1),
        test_perplexity=test_ppl,
        sample_perplexity=sample_ppl,
        scalars=scalars,
        tail_types=np.asarray(setup.tail, dtype=np.int64),
        train_counts=np.bincount(real.ravel(), minlength=setup.vocab).astype(np.float64),
        examples=tuple(examples),
        seed=seed_metadata(root),
    )
