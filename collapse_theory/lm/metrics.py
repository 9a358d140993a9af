r"""What the language-model protocol measures each generation (docs/theory.md §11).

Every function takes token ids (numpy int arrays) and returns plain numbers; the unknown token
(id 0, ``<unk>``) is never counted as a word type. Definitions:

- per-sequence perplexity (:func:`continuation_perplexity`):
  :math:`\exp\big(-\frac{1}{|T|}\sum_{t \in T} \ln p(x_t \mid x_{<t})\big)` over the scored
  positions T of each sequence (:func:`~collapse_theory.lm.protocol.sequence_perplexity` when T
  is every position after the first);
- :func:`perplexity_summary`: mean, median and quantiles of the per-sequence perplexities;
- :func:`surviving_types`: the number of distinct word types in a token array;
- :func:`heterozygosity`: :math:`1 - \sum_i \hat p_i^2` of the word-type frequencies;
- :func:`tail_mass`: the share of tokens that belong to a given set of types (the model-0 tail,
  :func:`~collapse_theory.lm.tails.lm_tail_types`);
- :func:`zipf_exponent`: s of :math:`f_r \propto r^{-s}`, by least squares of
  :math:`\ln f_r` on :math:`\ln r` over every observed type (rank r = 1 for the most frequent);
- :func:`distinct_n`: distinct n-grams / all n-grams (Li et al. 2016), n-grams within rows;
- :func:`repetition_rate`: seq-rep-n (Welleck et al. 2019), the mean over rows of
  :math:`1 - |\text{distinct n-grams of the row}| / |\text{n-grams of the row}|`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    InputError,
    InputTypeError,
    check_int,
    check_real,
)
from collapse_theory.lm.protocol import LanguageModel, check_blocks

__all__ = [
    "QUANTILES",
    "continuation_perplexity",
    "distinct_n",
    "heterozygosity",
    "perplexity_summary",
    "repetition_rate",
    "surviving_types",
    "tail_mass",
    "type_counts",
    "zipf_exponent",
]

#: Quantiles of the per-sequence perplexity reported by :func:`perplexity_summary`.
QUANTILES = (0.1, 0.25, 0.75, 0.9, 0.99)


def _tokens(name: str, tokens: object) -> np.ndarray:
    array = np.asarray(tokens)
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise InputTypeError(f"{name} must be an integer array of token ids; got {array.dtype}")
    if array.size and array.min() < 0:
        raise InputError(f"{name} must hold token ids >= 0; got a minimum of {array.min()}")
    return array.astype(np.int64, copy=False)


def type_counts(tokens: ArrayLike, vocab_size: int) -> np.ndarray:
    """Count of each token id, with the count of ``<unk>`` (id 0) set to 0.

    Parameters
    ----------
    tokens : array_like of int
        Token ids in ``[0, vocab_size)``, any shape.
    vocab_size : int
        V >= 2.

    Returns
    -------
    numpy.ndarray of float64, shape (V,)
        Counts; entry 0 is 0.
    """
    vocab_size = check_int("vocab_size", vocab_size, minimum=2)
    ids = _tokens("tokens", tokens).ravel()
    if ids.size and ids.max() >= vocab_size:
        raise InputError(f"tokens must be ids in [0, {vocab_size}); got a maximum of {ids.max()}")
    counts = np.bincount(ids, minlength=vocab_size).astype(np.float64)
    counts[0] = 0.0
    return counts


def surviving_types(tokens: ArrayLike) -> int:
    """Number of distinct word types (ids other than ``<unk>`` = 0) in ``tokens``.

    For a unigram maximum-likelihood model refitted on its own tokens this is the number of
    types of positive probability, :math:`N_n` of docs/theory.md §1.3.

    Parameters
    ----------
    tokens : array_like of int
        Token ids, any shape.

    Returns
    -------
    int
        The number of distinct ids > 0.
    """
    ids = np.unique(_tokens("tokens", tokens))
    return int(np.count_nonzero(ids))


def heterozygosity(tokens: ArrayLike) -> float:
    r"""Heterozygosity :math:`H = 1 - \sum_i \hat p_i^2` of the word-type frequencies
    :math:`\hat p` of ``tokens`` (``<unk>`` left out; docs/theory.md §1.3).

    Parameters
    ----------
    tokens : array_like of int
        Token ids, any shape, at least one id > 0.

    Returns
    -------
    float
        H in [0, 1).
    """
    ids = _tokens("tokens", tokens).ravel()
    ids = ids[ids > 0]
    if ids.size == 0:
        raise InputError("tokens hold no word type other than <unk>")
    from collapse_theory.categorical import heterozygosity as of_frequencies

    return float(of_frequencies(np.bincount(ids) / ids.size))


def tail_mass(tokens: ArrayLike, tail_types: ArrayLike) -> float:
    """Share of the tokens (``<unk>`` left out) whose type is in ``tail_types``.

    With ``tail_types`` the model-0 tail (:func:`~collapse_theory.lm.tails.lm_tail_types`) and
    ``tokens`` a model's samples this estimates the mass the model gives the tail; for a unigram
    MLE model's training tokens it is :math:`T_n` of docs/theory.md §1.4 exactly.

    Parameters
    ----------
    tokens : array_like of int
        Token ids, any shape, at least one id > 0.
    tail_types : array_like of int
        Token ids of the tail.

    Returns
    -------
    float
        The share in [0, 1].
    """
    ids = _tokens("tokens", tokens).ravel()
    ids = ids[ids > 0]
    if ids.size == 0:
        raise InputError("tokens hold no word type other than <unk>")
    tail = _tokens("tail_types", tail_types).ravel()
    return float(np.isin(ids, tail).mean())


def zipf_exponent(tokens: ArrayLike) -> float:
    r"""Zipf exponent s of the rank-frequency curve :math:`f_r \propto r^{-s}`.

    Least squares of :math:`\ln c_r` on :math:`\ln r` over every type observed (``<unk>`` left
    out), :math:`c_1 \ge c_2 \ge \dots` the sorted counts; s is minus the slope. Ties keep
    consecutive ranks. (The flat tail of types seen once pulls s below the exponent of the
    head; compare values across generations, not with other estimators.)

    Parameters
    ----------
    tokens : array_like of int
        Token ids, any shape, with at least two distinct types other than ``<unk>``.

    Returns
    -------
    float
        s (positive for a decreasing curve).
    """
    ids = _tokens("tokens", tokens).ravel()
    counts = np.bincount(ids[ids > 0])
    counts = np.sort(counts[counts > 0])[::-1].astype(np.float64)
    if counts.size < 2:
        raise InputError(
            f"the Zipf exponent needs at least 2 distinct word types; got {counts.size}"
        )
    log_rank = np.log(np.arange(1, counts.size + 1, dtype=np.float64))
    slope = np.polyfit(log_rank, np.log(counts), 1)[0]
    return float(-slope)


def _ngram_keys(rows: np.ndarray, n: int) -> np.ndarray:
    """(S, L - n + 1) hashable keys of the n-grams of each row (one void scalar each)."""
    windows = np.lib.stride_tricks.sliding_window_view(rows, n, axis=1)
    flat = np.ascontiguousarray(windows.reshape(-1, n))
    return flat.view(np.dtype((np.void, 8 * n))).ravel().reshape(rows.shape[0], -1)


def _check_rows(name: str, rows: object, n: object) -> tuple[np.ndarray, int]:
    n = check_int("n", n, minimum=1)
    array = _tokens(name, rows)
    if array.ndim != 2:
        raise InputError(f"{name} must be 2-D (sequences, tokens); got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] < n:
        raise InputError(
            f"{name} must have at least one row of at least n={n} tokens; got shape {array.shape}"
        )
    return np.ascontiguousarray(array, dtype=np.int64), n


def distinct_n(rows: ArrayLike, n: int = 2) -> float:
    """distinct-n (Li et al. 2016): distinct n-grams over all n-grams, pooled over rows.

    N-grams are taken within rows (never across a row boundary) and may hold ``<unk>``.

    Parameters
    ----------
    rows : array_like of int, shape (S, L)
        Token sequences, L >= n.
    n : int
        N-gram length, >= 1.

    Returns
    -------
    float
        The ratio in (0, 1].
    """
    rows, n = _check_rows("rows", rows, n)
    keys = _ngram_keys(rows, n).ravel()
    return float(np.unique(keys).size / keys.size)


def repetition_rate(rows: ArrayLike, n: int = 4) -> float:
    """seq-rep-n (Welleck et al. 2019): the mean over rows of the share of a row's n-grams that
    repeat an n-gram earlier in the same row, ``1 - distinct / all``.

    Parameters
    ----------
    rows : array_like of int, shape (S, L)
        Token sequences, L >= n.
    n : int
        N-gram length, >= 1.

    Returns
    -------
    float
        The rate in [0, 1): 0 when no row repeats an n-gram.
    """
    rows, n = _check_rows("rows", rows, n)
    keys = _ngram_keys(rows, n)
    per_row = keys.shape[1]
    distinct = np.array([np.unique(row).size for row in keys], dtype=np.float64)
    return float(np.mean(1.0 - distinct / per_row))


def continuation_perplexity(
    model: LanguageModel, prompts: ArrayLike, continuations: ArrayLike
) -> np.ndarray:
    r"""Per-sequence perplexity of ``continuations`` given their ``prompts`` under ``model``:
    :math:`\exp\big(-\frac{1}{|T|}\sum_{t \in T} \ln p(x_t \mid x_{<t})\big)` on the joined
    sequence x = prompt + continuation, T the continuation's positions (docs/theory.md §11).

    With an empty prompt the continuation's first token (which has no left context in
    ``token_log_probs``) is not scored: T = positions 1 .. L - 1, i.e.
    :func:`~collapse_theory.lm.protocol.sequence_perplexity`.

    Parameters
    ----------
    model : LanguageModel
        The scoring model (model 0 in the protocol).
    prompts : array_like of int, shape (S, P)
        Prompts, P >= 0.
    continuations : array_like of int, shape (S, L)
        Continuations; L >= 1 (L >= 2 when P = 0).

    Returns
    -------
    numpy.ndarray of float64, shape (S,)
        Perplexity of each continuation (``inf`` where a token has probability 0).
    """
    if not isinstance(model, LanguageModel):
        raise InputTypeError(f"model must be a LanguageModel; got {type(model).__name__}")
    prompts = check_blocks("prompts", prompts, model.vocab_size, min_length=0)
    continuations = check_blocks("continuations", continuations, model.vocab_size, min_length=1)
    if prompts.shape[0] != continuations.shape[0]:
        raise InputError(
            f"prompts and continuations must have the same number of rows; got "
            f"{prompts.shape[0]} and {continuations.shape[0]}"
        )
    width = prompts.shape[1]
    if width == 0 and continuations.shape[1] < 2:
        raise InputError("without a prompt a continuation needs at least 2 tokens to be scored")
    joined = np.concatenate([prompts, continuations], axis=1)
    log_probs = np.asarray(model.token_log_probs(joined), dtype=np.float64)
    scored = log_probs[:, max(width, 1) - 1 :]
    with np.errstate(over="ignore"):
        return np.exp(-scored.mean(axis=1))


def perplexity_summary(
    perplexities: ArrayLike, quantiles: tuple[float, ...] = QUANTILES
) -> dict[str, float]:
    """Mean, median and quantiles of per-sequence perplexities (``numpy.quantile``, linear).

    Parameters
    ----------
    perplexities : array_like of float
        Per-sequence perplexities (> 0; ``inf`` allowed: it makes the mean infinite).
    quantiles : tuple of float
        Levels in (0, 1).

    Returns
    -------
    dict
        ``{"mean", "median", "q10", "q25", ...}`` (key ``q`` + the level in percent).
    """
    values = np.asarray(perplexities, dtype=np.float64).ravel()
    if values.size == 0 or np.any(np.isnan(values)) or np.any(values <= 0):
        raise InputError("perplexities must be a non-empty array of positive numbers")
    out = {"mean": float(values.mean()), "median": float(np.median(values))}
    for q in quantiles:
        q = check_real("quantile", q, minimum=0.0, maximum=1.0)
        with np.errstate(invalid="ignore"):  # inf - inf between two infinite order statistics
            value = float(np.quantile(values, q))
        out[f"q{round(100 * q):d}"] = np.inf if np.isnan(value) else value
    return out
