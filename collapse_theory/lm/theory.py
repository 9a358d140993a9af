r"""Exact and approximate laws for n-gram language models trained on their own text
(docs/theory.md §1, §11.1).

**Order 1, maximum likelihood, prompt length 0 (exact).** Model n is the unigram distribution
:math:`p_n`; model n + 1 is the empirical distribution of M tokens drawn i.i.d. from
:math:`p_n` with ``<unk>`` removed (it is never generated). From model 1 on this is exactly the
categorical (Wright–Fisher) chain of docs/theory.md §1 started at :math:`p_0` = model 0's
unigram distribution restricted to the tokens other than ``<unk>`` and renormalised, with M =
tokens per generation: surviving word types :math:`E N_n = \sum_i (1 - P(p_{n,i} = 0))`, the
loss probability of each type (the lumped two-state chain, exact) and the heterozygosity
:math:`E H_n = H_0 (1 - 1/M)^n` come from :mod:`collapse_theory.categorical`
(:func:`unigram_laws`). Replace regime only.

**Order n >= 2, maximum likelihood (approximate).** Write :math:`q_k(h, w)` for model k's n-gram
frequencies (the count of the n-gram over the number of targets). Exact: each occurrence of a
context h in generated text is followed by a fresh draw from :math:`p_k(\cdot \mid h)`, so,
*given* the context counts :math:`C_h`, the followers of h would be
:math:`\mathrm{Mult}(C_h, p_k(\cdot\mid h))` if :math:`C_h` did not depend on those draws.
Approximation (the per-context law with a random context count): :math:`C_h \sim
\mathrm{Bin}(M, q_k(h))` independent of the follower draws, i.e. the M n-grams of a generation
are i.i.d. draws from :math:`q_k`. Then the n-gram types follow the categorical chain on the
joint distribution :math:`q_0` (with n-grams holding ``<unk>`` removed), the surviving n-gram
types are :math:`\sum_{(h,w)} (1 - P(q_{n,(h,w)} = 0))` and a context h survives with the
lumped probability of its row, :math:`1 - P(q_{n,h} = 0)` (:func:`ngram_laws`). What it
ignores: (a) the dependence of :math:`C_h` on the draws (a follower that leads back to h
changes how often h is visited); (b) the overlap of consecutive n-grams; (c) the difference
between the sampled context frequencies and :math:`q_k` (block starts, back-off into contexts
seen only at block ends). tests/test_lm_theory.py measures the error by simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    InputError,
    InputTypeError,
    check_generations,
    check_int,
    check_probability_vector,
)

__all__ = [
    "NGramLaws",
    "UnigramLaws",
    "ngram_frequencies",
    "ngram_laws",
    "ngram_types",
    "surviving_types",
    "unigram_laws",
    "unigram_start",
]


def unigram_start(p0: ArrayLike, *, exclude_unk: bool = True) -> np.ndarray:
    """The categorical chain's start: ``p0`` with ``<unk>`` (id 0) removed and renormalised.

    docs/theory.md §1, §11.1: ``<unk>`` is never generated, so from model 1 on it has mass 0.

    Parameters
    ----------
    p0 : array_like, shape (V,)
        Model 0's unigram distribution (e.g. ``NGramModel.unigram()``).
    exclude_unk : bool
        Remove id 0 (True) or keep ``p0`` as is.

    Returns
    -------
    numpy.ndarray of float64, shape (V,)
        The start distribution.
    """
    p = check_probability_vector("p0", p0, min_states=2).copy()
    if exclude_unk:
        p[0] = 0.0
        if p.sum() <= 0:
            raise InputError("p0 has all its mass on <unk> (id 0): nothing can be generated")
        p /= p.sum()
    return p


@dataclass(frozen=True)
class UnigramLaws:
    """Exact laws of the unigram MLE chain (docs/theory.md §1.3, §1.4, §11.1).

    Parameters
    ----------
    generations : numpy.ndarray of int, shape (G,)
        Generations n.
    num_tokens : int
        M, tokens per generation.
    p0 : numpy.ndarray, shape (V,)
        The chain's start (``<unk>`` removed).
    expected_survivors : numpy.ndarray, shape (G,)
        :math:`E N_n`, the expected number of word types with positive probability in model n.
    expected_heterozygosity : numpy.ndarray, shape (G,)
        :math:`E H_n = H_0 (1 - 1/M)^n`.
    types : numpy.ndarray of int, shape (T,)
        Token ids whose loss probability is given.
    loss_probability : numpy.ndarray, shape (G, T)
        :math:`P(p_{n,i} = 0)` for each type i in ``types``.
    """

    generations: np.ndarray
    num_tokens: int
    p0: np.ndarray
    expected_survivors: np.ndarray
    expected_heterozygosity: np.ndarray
    types: np.ndarray
    loss_probability: np.ndarray


def unigram_laws(
    p0: ArrayLike,
    num_tokens: int,
    generations: ArrayLike,
    *,
    types: ArrayLike | None = None,
    exclude_unk: bool = True,
) -> UnigramLaws:
    r"""Exact surviving types, loss probabilities and heterozygosity of a unigram MLE model
    refitted on M of its own tokens per generation (docs/theory.md §1.3, §1.4, §11.1).

    .. math:: E N_n = \sum_i \big(1 - P(p_{n,i} = 0)\big), \qquad
              E H_n = H_0 \Big(1 - \frac{1}{M}\Big)^n

    with :math:`p_0` = model 0's unigram distribution without ``<unk>`` (:func:`unigram_start`)
    and :math:`P(p_{n,i} = 0)` the exact lumped two-state chain
    (:func:`collapse_theory.categorical.loss_probability`).

    Parameters
    ----------
    p0 : array_like, shape (V,)
        Model 0's unigram distribution.
    num_tokens : int
        M >= 1, tokens per generation (prompt length 0: blocks x block length).
    generations : int or array_like of int
        Generations n >= 0 (model n).
    types : array_like of int, optional
        Token ids whose loss probability is wanted; default: every id.
    exclude_unk : bool
        Remove ``<unk>`` from ``p0`` first (it is never generated).

    Returns
    -------
    UnigramLaws
        The laws per generation.
    """
    from collapse_theory.categorical import theory as cat

    start = unigram_start(p0, exclude_unk=exclude_unk)
    m = check_int("num_tokens", num_tokens, minimum=1)
    gens = np.atleast_1d(check_generations("generations", generations))
    ids = np.arange(start.size) if types is None else np.atleast_1d(np.asarray(types))
    if ids.dtype.kind not in "iu" or ids.ndim != 1:
        raise InputTypeError(f"types must be a 1-D array of token ids; got {types!r}")
    if ids.size and (ids.min() < 0 or ids.max() >= start.size):
        raise InputError(f"types must be ids in [0, {start.size}); got {types!r}")
    survivors = np.atleast_1d(cat.expected_survivors(start, m, gens))
    heterozygosity = np.atleast_1d(cat.expected_heterozygosity(start, m, gens))
    loss = cat.loss_probability(start[ids][None, :], m, gens[:, None]) if ids.size else None
    loss = np.zeros((gens.size, 0)) if loss is None else np.asarray(loss, dtype=float)
    return UnigramLaws(gens, m, start, survivors, heterozygosity, ids, loss)


@dataclass(frozen=True)
class NGramLaws:
    """Approximate type laws of an order-n MLE model refitted on its own text (docs/theory.md §11.1).

    Parameters
    ----------
    generations : numpy.ndarray of int, shape (G,)
        Generations n.
    num_tokens : int
        M, n-gram targets per generation.
    q0 : numpy.ndarray, shape (K,)
        Model 0's n-gram frequencies (n-grams holding ``<unk>`` removed), one per n-gram type.
    context_index : numpy.ndarray of int, shape (K,)
        The context of each n-gram type (0 .. number of contexts - 1).
    expected_types : numpy.ndarray, shape (G,)
        Expected surviving n-gram types (categorical chain on ``q0``).
    expected_contexts : numpy.ndarray, shape (G,)
        Expected surviving contexts (each context's row lumped).
    """

    generations: np.ndarray
    num_tokens: int
    q0: np.ndarray
    context_index: np.ndarray
    expected_types: np.ndarray
    expected_contexts: np.ndarray


def ngram_frequencies(model: object) -> tuple[np.ndarray, np.ndarray]:
    """Top-level n-gram frequencies of an MLE n-gram model, without n-grams holding ``<unk>``.

    Parameters
    ----------
    model : NGramModel
        A maximum-likelihood model (``smoothing="mle"``).

    Returns
    -------
    q : numpy.ndarray of float64, shape (K,)
        Frequency of each n-gram type (sums to 1).
    context : numpy.ndarray of int64, shape (K,)
        Index of its context, 0 .. number of contexts - 1.
    """
    from collapse_theory.lm.ngram import NGramModel

    if not isinstance(model, NGramModel) or model.smoothing != "mle":
        raise InputTypeError(f"model must be an NGramModel with smoothing='mle'; got {model!r}")
    t, order, vocab = model.tables, model.order, model.vocab_size
    lo, hi = int(t.ctx_base[order - 1]), int(t.ctx_base[order])
    per_row = np.diff(t.row_ptr[lo : hi + 1])
    context = np.repeat(np.arange(hi - lo), per_row)
    entries = slice(int(t.row_ptr[lo]), int(t.row_ptr[hi]))
    counts, tokens = t.cnt[entries].copy(), t.tok[entries]
    unk_context = np.zeros(hi - lo, bool)  # contexts holding <unk> (never generated)
    local = np.arange(hi - lo)
    for h in range(order - 1, 0, -1):  # walk each context's symbols, newest first
        key = t.keys[t.ctx_base[h] + local]
        unk_context |= key % (vocab + 1) == 0
        local = key // (vocab + 1)
    row_total = np.bincount(context, weights=counts, minlength=hi - lo)
    row_known = np.bincount(context, weights=np.where(tokens != 0, counts, 0.0), minlength=hi - lo)
    keep = (tokens != 0) & ~unk_context[context]
    if not keep.any():
        raise InputError("the model has no n-gram without <unk>")
    # each row's followers renormalised without <unk> (never generated), rows at their frequency
    q = counts[keep] * (row_total / np.maximum(row_known, 1.0))[context[keep]]
    q /= q.sum()
    _, context = np.unique(context[keep], return_inverse=True)
    return q, context.ravel().astype(np.int64)


def ngram_types(model: object) -> np.ndarray:
    """The n-gram types of an n-gram model's top level as token tuples (docs/theory.md §11.1).

    Parameters
    ----------
    model : NGramModel
        A fitted model.

    Returns
    -------
    numpy.ndarray of int64, shape (K, order)
        One row per n-gram type seen in training: the context symbols, oldest first (BOS =
        V), then the token; n-grams holding ``<unk>`` are left out.
    """
    from collapse_theory.lm.ngram import NGramModel

    if not isinstance(model, NGramModel):
        raise InputTypeError(f"model must be an NGramModel; got {type(model).__name__}")
    t, order, base = model.tables, model.order, model.vocab_size + 1
    lo, hi = int(t.ctx_base[order - 1]), int(t.ctx_base[order])
    per_row = np.diff(t.row_ptr[lo : hi + 1])
    grams = np.empty((hi - lo, order), np.int64)
    local = np.arange(hi - lo)
    for h in range(order - 1, 0, -1):  # newest context symbol first
        key = t.keys[t.ctx_base[h] + local]
        grams[:, order - 1 - h] = key % base
        local = key // base
    entries = slice(int(t.row_ptr[lo]), int(t.row_ptr[hi]))
    out = np.repeat(grams, per_row, axis=0)
    out[:, -1] = t.tok[entries]
    return out[~np.any(out == 0, axis=1)]


def surviving_types(model: object, reference: np.ndarray) -> int:
    """How many of the n-gram types ``reference`` (from :func:`ngram_types`) ``model`` still has.

    docs/theory.md §11.1: the count the categorical chain on the joint n-gram frequencies predicts
    (:func:`ngram_laws`); n-gram types created later by back-off are not counted.

    Parameters
    ----------
    model : NGramModel
        A fitted model of the same order.
    reference : numpy.ndarray of int, shape (K, order)
        N-gram types of model 0.

    Returns
    -------
    int
        Number of rows of ``reference`` among ``model``'s n-gram types.
    """
    current = ngram_types(model)
    if current.shape[1] != reference.shape[1]:
        raise InputError(f"model has order {current.shape[1]}, reference {reference.shape[1]}")
    row = np.dtype((np.void, 8 * current.shape[1]))
    a = np.ascontiguousarray(reference, dtype=np.int64).view(row).ravel()
    b = np.ascontiguousarray(current, dtype=np.int64).view(row).ravel()
    return int(np.isin(a, b).sum())


def ngram_laws(model: object, num_tokens: int, generations: ArrayLike) -> NGramLaws:
    r"""Approximate surviving n-gram types and contexts of an order-n MLE model refitted on M of
    its own n-grams per generation: the categorical chain on the joint n-gram frequencies
    (docs/theory.md §1.4, §11.1; what is exact and what approximates: the module docstring).

    .. math:: E K_n \approx \sum_{(h,w)} \big(1 - P(q_{n,(h,w)} = 0)\big), \qquad
              E C_n \approx \sum_h \big(1 - P(q_{n,h} = 0)\big)

    Parameters
    ----------
    model : NGramModel
        Model 0, maximum likelihood.
    num_tokens : int
        M >= 1, targets per generation (blocks x block length at prompt length 0).
    generations : int or array_like of int
        Generations n >= 0.

    Returns
    -------
    NGramLaws
        The laws per generation (exact for order 1).
    """
    from collapse_theory.categorical import theory as cat

    q, context = ngram_frequencies(model)
    m = check_int("num_tokens", num_tokens, minimum=1)
    gens = np.atleast_1d(check_generations("generations", generations))
    types = np.atleast_1d(cat.expected_survivors(q, m, gens))
    rows = np.bincount(context, weights=q)
    lost = np.asarray(cat.loss_probability(rows[None, :], m, gens[:, None]), dtype=float)
    contexts = rows.size - lost.sum(axis=1)
    return NGramLaws(gens, m, q, context, types, contexts)
