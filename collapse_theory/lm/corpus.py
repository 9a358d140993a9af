r"""Text corpora for the language-model family, never downloaded (docs/theory.md §11.1).

Three sources, all read from disk:

- ``"pydoc"``: the English documentation that ships with CPython (``pydoc_data.topics``, about
  114 000 word tokens; it differs slightly between Python versions). The topics, in sorted
  order, are dealt to the splits greedily (each topic goes to the split furthest below its
  target share of the tokens so far): by default 40 % pretrain (held apart for pretraining the
  transformer) and the rest as train / validation / test in the proportions 8 : 1 : 1 (48 %, 6 %,
  6 %).
- a text file: its token stream is cut into consecutive pieces: pretrain (``pretrain_fraction``,
  default 0), then train / validation / test in the proportions 8 : 1 : 1 of the rest.
- a directory in the wikitext-2 raw layout (``wiki.train.raw``, ``wiki.valid.raw``,
  ``wiki.test.raw``): the three files are the three splits; a pretrain part, if asked for, is the
  head of the training file.

Tokenisation: word level splits the (optionally lowercased) text into ``<unk>`` (wikitext's
unknown-word marker, id 0), runs of word characters and runs of one repeated punctuation character (``"-----"`` is one token); character level
keeps every character, whitespace runs collapsed to one space. The vocabulary is built from the
pretrain and train splits: id 0 is ``"<unk>"``, then the tokens by decreasing count (ties in
string order), at most ``max_vocab`` ids in all; any other token encodes to 0.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    InputError,
    InputTypeError,
    check_choice,
    check_int,
    check_real,
)

__all__ = ["SPLITS", "UNK", "WIKITEXT_FILES", "Corpus", "Tokenizer", "load_corpus", "tokenize"]

#: The unknown token (id 0).
UNK = "<unk>"
#: Names of a corpus's token streams.
SPLITS = ("pretrain", "train", "validation", "test")
#: The files of a wikitext-2 raw directory, by split.
WIKITEXT_FILES = {
    "train": "wiki.train.raw",
    "validation": "wiki.valid.raw",
    "test": "wiki.test.raw",
}
LEVELS = ("word", "char")
#: Default pretrain share of the pydoc corpus (other sources: 0).
PYDOC_PRETRAIN = 0.4
_WORD = re.compile(r"<unk>|\w+|([^\w\s])\1*")
_SPACE = re.compile(r"\s+")


def tokenize(text: str, level: str = "word", lowercase: bool = True) -> list[str]:
    """Split ``text`` into tokens (docs/theory.md §11.1).

    Parameters
    ----------
    text : str
        The text.
    level : {"word", "char"}
        Word level: runs of word characters and runs of one repeated punctuation character.
        Character level: every character, whitespace runs collapsed to one space.
    lowercase : bool
        Lowercase the text first.

    Returns
    -------
    list of str
        The tokens in order.
    """
    if not isinstance(text, str):
        raise InputTypeError(f"text must be a string; got {type(text).__name__}")
    check_choice("level", level, LEVELS)
    if lowercase:
        text = text.lower()
    if level == "char":
        return list(_SPACE.sub(" ", text).strip())
    return [m.group(0) for m in _WORD.finditer(text)]


@dataclass(frozen=True)
class Tokenizer:
    """A fixed vocabulary: id -> token, id 0 the unknown token ``"<unk>"`` (docs/theory.md §11.1).

    Parameters
    ----------
    level : {"word", "char"}
        Tokenisation level (see :func:`tokenize`).
    vocabulary : tuple of str
        Token of each id; ``vocabulary[0]`` must be ``"<unk>"``; no duplicates.
    lowercase : bool
        Whether text is lowercased before tokenising.
    """

    level: str
    vocabulary: tuple[str, ...]
    lowercase: bool = True
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_choice("level", self.level, LEVELS)
        vocabulary = tuple(self.vocabulary)
        if not all(isinstance(t, str) for t in vocabulary):
            raise InputTypeError("vocabulary must hold strings")
        if len(vocabulary) < 2 or vocabulary[0] != UNK:
            raise InputError(
                f"vocabulary must start with {UNK!r} and hold at least 2 tokens; got "
                f"{vocabulary[:3]!r} ({len(vocabulary)} tokens)"
            )
        index = {t: i for i, t in enumerate(vocabulary)}
        if len(index) != len(vocabulary):
            raise InputError("vocabulary has duplicate tokens")
        object.__setattr__(self, "vocabulary", vocabulary)
        object.__setattr__(self, "lowercase", bool(self.lowercase))
        object.__setattr__(self, "_index", index)

    @property
    def size(self) -> int:
        """Number of ids (the vocabulary size, ``<unk>`` included)."""
        return len(self.vocabulary)

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text``.

        Parameters
        ----------
        text : str
            The text.

        Returns
        -------
        numpy.ndarray of int32
            One id per token; tokens outside the vocabulary are 0 (``<unk>``).
        """
        index = self._index
        tokens = tokenize(text, self.level, self.lowercase)
        return np.fromiter((index.get(t, 0) for t in tokens), dtype=np.int32, count=len(tokens))

    def decode(self, ids: ArrayLike) -> str:
        """Text of token ids (words joined by spaces, characters concatenated).

        Parameters
        ----------
        ids : array_like of int
            Token ids in ``[0, size)``.

        Returns
        -------
        str
            The text.
        """
        ids = np.asarray(ids)
        if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= self.size):
            raise InputError(f"ids must be integers in [0, {self.size}); got {ids!r}")
        sep = " " if self.level == "word" else ""
        return sep.join(self.vocabulary[int(i)] for i in ids.ravel())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (saved with results).

        Returns
        -------
        dict
            ``{"level", "lowercase", "vocabulary"}``.
        """
        return {
            "level": self.level,
            "lowercase": self.lowercase,
            "vocabulary": list(self.vocabulary),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokenizer:
        """The tokenizer :meth:`to_dict` described.

        Parameters
        ----------
        d : dict
            Output of :meth:`to_dict`.

        Returns
        -------
        Tokenizer
            An equal tokenizer.
        """
        if not isinstance(d, dict) or not {"level", "vocabulary"} <= set(d):
            raise InputError("d must be a dict with the keys 'level' and 'vocabulary'")
        return cls(d["level"], tuple(d["vocabulary"]), bool(d.get("lowercase", True)))

    @classmethod
    def build(
        cls, tokens: list[str], level: str, max_vocab: int | None, lowercase: bool
    ) -> Tokenizer:
        """The vocabulary of ``tokens``: ``<unk>``, then by decreasing count (ties by string).

        Parameters
        ----------
        tokens : list of str
            Training tokens.
        level : {"word", "char"}
            Tokenisation level.
        max_vocab : int or None
            At most this many ids, ``<unk>`` included (>= 2); None keeps every token.
        lowercase : bool
            Whether text is lowercased before tokenising.

        Returns
        -------
        Tokenizer
            The tokenizer.
        """
        counts = Counter(tokens)
        counts.pop(UNK, None)
        if not counts:
            raise InputError("the corpus has no tokens to build a vocabulary from (empty text?)")
        ranked = sorted(counts, key=lambda t: (-counts[t], t))
        if max_vocab is not None:
            ranked = ranked[: max_vocab - 1]
        return cls(level, (UNK, *ranked), lowercase)


@dataclass(frozen=True)
class Corpus:
    """A tokenised corpus: its tokenizer and four int32 token streams (docs/theory.md §11.1).

    Parameters
    ----------
    name : str
        Where it came from ("pydoc", a file or directory path).
    tokenizer : Tokenizer
        Its tokenizer.
    train, validation, test, pretrain : numpy.ndarray of int32
        Token streams (``pretrain`` may be empty).
    """

    name: str
    tokenizer: Tokenizer
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    pretrain: np.ndarray

    def split(self, split: str) -> np.ndarray:
        """The token stream ``split`` ("pretrain", "train", "validation" or "test").

        Parameters
        ----------
        split : str
            Name of the split.

        Returns
        -------
        numpy.ndarray of int32
            The stream.
        """
        return getattr(self, check_choice("split", split, SPLITS))

    def blocks(self, split: str, length: int) -> np.ndarray:
        """Consecutive non-overlapping blocks of ``length`` tokens of a split (remainder dropped).

        Parameters
        ----------
        split : str
            "pretrain", "train", "validation" or "test".
        length : int
            Block length, >= 1 and at most the split's length.

        Returns
        -------
        numpy.ndarray of int32, shape (S, length)
            ``S = len(split) // length`` blocks.
        """
        stream = self.split(split)
        length = check_int("length", length, minimum=1)
        if length > stream.size:
            raise InputError(
                f"block length {length} is longer than the {split} split of corpus {self.name!r} "
                f"({stream.size} tokens); use a shorter block length or a larger corpus"
            )
        count = stream.size // length
        return stream[: count * length].reshape(count, length).copy()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: name, tokenizer and split sizes (not the streams).

        Returns
        -------
        dict
            ``{"name", "tokenizer", "sizes"}``.
        """
        sizes = {s: int(self.split(s).size) for s in SPLITS}
        return {"name": self.name, "tokenizer": self.tokenizer.to_dict(), "sizes": sizes}


def _pydoc_documents() -> list[str]:
    from pydoc_data.topics import topics

    return [topics[k] for k in sorted(topics)]


def _deal(lengths: list[int], shares: dict[str, float]) -> list[str]:
    """Greedy deterministic assignment of documents to splits by token share."""
    assigned = {s: 0 for s in shares}
    names: list[str] = []
    total = 0
    for n in lengths:
        total += n
        best = max(shares, key=lambda s: shares[s] * total - assigned[s])
        assigned[best] += n
        names.append(best)
    return names


def _cut(tokens: list[str], pretrain_fraction: float) -> dict[str, list[str]]:
    """Consecutive pieces: pretrain, then train / validation / test as 8 : 1 : 1."""
    n = len(tokens)
    a = round(pretrain_fraction * n)
    rest = n - a
    b = a + round(0.8 * rest)
    c = b + round(0.1 * rest)
    return {
        "pretrain": tokens[:a],
        "train": tokens[a:b],
        "validation": tokens[b:c],
        "test": tokens[c:],
    }


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise InputError(f"cannot read corpus file {str(path)!r}: {error}") from error


def _split_tokens(
    source: Any, level: str, lowercase: bool, pretrain: float | None
) -> tuple[str, dict]:
    if isinstance(source, str) and source == "pydoc":
        docs = [tokenize(d, level, lowercase) for d in _pydoc_documents()]
        pre = PYDOC_PRETRAIN if pretrain is None else pretrain
        shares = {"pretrain": pre, "train": 0.8 * (1 - pre), "validation": 0.1 * (1 - pre)}
        shares["test"] = 0.1 * (1 - pre)
        shares = {k: v for k, v in shares.items() if v > 0}
        parts: dict[str, list[str]] = {s: [] for s in SPLITS}
        for doc, name in zip(docs, _deal([len(d) for d in docs], shares), strict=False):
            parts[name].extend(doc)
        return "pydoc", parts
    if not isinstance(source, (str, os.PathLike)):
        raise InputTypeError(
            f"source must be 'pydoc' or a path to a text file or wikitext-2 raw directory; got "
            f"{source!r} ({type(source).__name__})"
        )
    path = Path(source)
    pre = 0.0 if pretrain is None else pretrain
    if path.is_dir():
        missing = [f for f in WIKITEXT_FILES.values() if not (path / f).is_file()]
        if missing:
            raise InputError(
                f"directory {str(path)!r} is not in the wikitext-2 raw layout: missing "
                f"{', '.join(missing)} (expected {', '.join(WIKITEXT_FILES.values())})"
            )
        parts = {s: tokenize(_read(path / f), level, lowercase) for s, f in WIKITEXT_FILES.items()}
        head = round(pre * len(parts["train"]))
        parts["pretrain"] = parts["train"][:head]
        parts["train"] = parts["train"][head:]
        return str(path), parts
    if not path.is_file():
        raise InputError(
            f"source {str(source)!r} is neither 'pydoc', an existing text file nor a directory"
        )
    return str(path), _cut(tokenize(_read(path), level, lowercase), pre)


def load_corpus(
    source: str | os.PathLike = "pydoc",
    *,
    level: str = "word",
    max_vocab: int | None = 5000,
    lowercase: bool = True,
    pretrain_fraction: float | None = None,
) -> Corpus:
    """Load and tokenise a corpus from disk; nothing is downloaded (docs/theory.md §11.1).

    Parameters
    ----------
    source : str or path
        ``"pydoc"`` (CPython's ``pydoc_data.topics``), a text file, or a directory holding
        ``wiki.train.raw``, ``wiki.valid.raw`` and ``wiki.test.raw`` (wikitext-2 raw).
    level : {"word", "char"}
        Tokenisation level.
    max_vocab : int or None
        Vocabulary cap, ``<unk>`` included (>= 2); None keeps every token of pretrain + train.
    lowercase : bool
        Lowercase the text.
    pretrain_fraction : float or None
        Share of the tokens held apart as the pretrain split, in [0, 0.9]; None: 0.4 for pydoc,
        0 otherwise.

    Returns
    -------
    Corpus
        The tokenizer and the four int32 streams (train, validation and test non-empty).
    """
    check_choice("level", level, LEVELS)
    if max_vocab is not None:
        max_vocab = check_int("max_vocab", max_vocab, minimum=2)
    if not isinstance(lowercase, (bool, np.bool_)):
        raise InputTypeError(f"lowercase must be a bool; got {lowercase!r}")
    if pretrain_fraction is not None:
        pretrain_fraction = check_real(
            "pretrain_fraction", pretrain_fraction, minimum=0, maximum=0.9
        )
    name, parts = _split_tokens(source, level, bool(lowercase), pretrain_fraction)
    total = sum(len(p) for p in parts.values())
    if total == 0:
        raise InputError(f"corpus {name!r} is empty: it contains no tokens")
    short = [s for s in ("train", "validation", "test") if not parts[s]]
    if short:
        raise InputError(
            f"corpus {name!r} ({total} tokens) is too short: its {', '.join(short)} split(s) "
            "would be empty; give a longer text"
        )
    tokenizer = Tokenizer.build(
        parts["pretrain"] + parts["train"], level, max_vocab, bool(lowercase)
    )
    index = tokenizer._index
    streams = {
        s: np.fromiter((index.get(t, 0) for t in parts[s]), dtype=np.int32, count=len(parts[s]))
        for s in SPLITS
    }
    return Corpus(name, tokenizer, streams["train"], streams["validation"], streams["test"],
                  streams["pretrain"])  # fmt: skip
