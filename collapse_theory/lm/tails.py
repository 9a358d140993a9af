r"""The language-model family's tail law: the loss of the rarest word types (docs/theory.md §1.4,
§1.9, §11.1).

The tail A is the set of the rarest word types (``<unk>`` excluded) holding at most ``quantile``
(10 %) of a reference token count (:func:`lm_tail_types`: by default model 0's training tokens;
the protocol's metrics use the test tokens). For a unigram maximum-likelihood model refitted on M
of its own tokens (prompt length 0, Replace), the tail mass :math:`T_n = p_{n,A}` is a two-state
Wright–Fisher chain, :math:`M T_{n+1} \mid T_n \sim \mathrm{Bin}(M, T_n)`, started at the mass
model 0 gives A once ``<unk>`` is removed (docs/theory.md §1.4); :func:`lm_tail_exact` returns
its exact law as a :class:`~collapse_theory.tails.TailCurve` (mean, median, quantiles,
:math:`P(T_n < \varepsilon T_0)`, the whole tail lost, surviving tail types), from the
categorical family's lumped chain.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import InputError, as_float_array, check_int, check_real
from collapse_theory.categorical.tails import CategoricalTail, categorical_exact
from collapse_theory.lm.theory import unigram_start
from collapse_theory.tails.curves import TailCurve

__all__ = ["lm_tail_exact", "lm_tail_types"]


def lm_tail_types(reference: ArrayLike, quantile: float = 0.1) -> np.ndarray:
    """The rarest word types holding at most ``quantile`` of the reference tokens (docs/theory.md
    §1.9, §11.1).

    Types of equal count are all in or all out; ``<unk>`` (id 0) and types of count 0 never are.

    Parameters
    ----------
    reference : array_like, shape (V,)
        Token counts (or a distribution) by id, e.g. ``np.bincount(corpus.test, minlength=V)``.
    quantile : float
        Largest reference mass of the tail, in (0, 1).

    Returns
    -------
    numpy.ndarray of int
        Sorted token ids of the tail.
    """
    counts = as_float_array("reference", reference, ndim=1).copy()
    if counts.size < 3 or np.any(counts < 0):
        raise InputError("reference must be non-negative counts of at least 3 token ids")
    quantile = check_real("quantile", quantile, minimum=0.0, maximum=1.0, strict_minimum=True)
    counts[0] = 0.0
    if counts.sum() <= 0:
        raise InputError("reference has no token other than <unk>")
    return CategoricalTail(lightest_mass=quantile).states(counts / counts.sum())


def lm_tail_exact(
    p0: ArrayLike,
    num_tokens: int,
    generations: ArrayLike,
    *,
    tail_types: ArrayLike | None = None,
    quantile: float = 0.1,
    eps: float = 0.01,
) -> TailCurve:
    r"""Exact law of the mass a unigram MLE model n gives the rarest word types (docs/theory.md
    §1.4, §1.9, §11.1).

    :math:`T_0 = \sum_{i \in A} p_{0,i}` with :math:`p_0` model 0's unigram distribution without
    ``<unk>``; :math:`M T_{n+1} \mid T_n \sim \mathrm{Bin}(M, T_n)` (Replace, prompt length 0).

    Parameters
    ----------
    p0 : array_like, shape (V,)
        Model 0's unigram distribution (``NGramModel.unigram()``).
    num_tokens : int
        M, tokens per generation.
    generations : array_like of int
        Recorded generations, starting at 0.
    tail_types : array_like of int, optional
        The tail's token ids; default ``lm_tail_types(p0, quantile)``.
    quantile : float
        Tail mass used when ``tail_types`` is None.
    eps : float
        Relative level of ``prob_below``.

    Returns
    -------
    TailCurve
        ``method="exact"``; standard errors 0.
    """
    start = unigram_start(p0)
    if tail_types is None:
        types = lm_tail_types(start, quantile)
    else:
        types = np.unique(np.asarray(tail_types))
        if (
            types.dtype.kind not in "iu"
            or types.size == 0
            or types.min() < 1
            or types.max() >= start.size
        ):
            raise InputError(
                f"tail_types must be token ids in [1, {start.size}); got {tail_types!r}"
            )
    m = check_int("num_tokens", num_tokens, minimum=1)
    return categorical_exact(start, CategoricalTail(indices=tuple(types)), m, generations, eps=eps)
