"""Language models trained on their own text (docs/theory.md §7, §11): n-gram models (core) and a
small transformer (the ``[neural]`` extra), the paper's protocol at laptop scale, offline.

Corpora (:mod:`.corpus`), the model and trainer interfaces (:mod:`.protocol`), n-gram models
of order 1-5 (:mod:`.ngram`) and the exact unigram / approximate n-gram laws (:mod:`.theory`)
import with the core dependencies. The transformer (:mod:`.transformer`) and the protocol
(:mod:`.simulate`) load on first use of their names: nothing here imports jax.
"""

from __future__ import annotations

import importlib
from typing import Any

from collapse_theory.families import Family
from collapse_theory.lm.corpus import Corpus, Tokenizer, load_corpus
from collapse_theory.lm.ngram import NGramModel, NGramTrainer
from collapse_theory.lm.protocol import LanguageModel, Trainer, sequence_perplexity
from collapse_theory.lm.theory import ngram_laws, unigram_laws

FAMILY = Family("lm")

#: Names loaded from another module on first use (name -> module).
_LAZY = {
    "TransformerConfig": "collapse_theory.lm.transformer",
    "TransformerLM": "collapse_theory.lm.transformer",
    "TransformerTrainer": "collapse_theory.lm.transformer",
    "pretrain": "collapse_theory.lm.transformer",
    "simulate": "collapse_theory.lm.simulate",
    "LMRun": "collapse_theory.lm.simulate",
    "paper_experiment": "collapse_theory.lm.report",
    "PaperExperiment": "collapse_theory.lm.report",
}

__all__ = [
    "FAMILY",
    "Corpus",
    "LanguageModel",
    "NGramModel",
    "NGramTrainer",
    "Tokenizer",
    "Trainer",
    "load_corpus",
    "ngram_laws",
    "sequence_perplexity",
    "unigram_laws",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
