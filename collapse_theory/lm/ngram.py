r"""N-gram language models of order 1-5: maximum likelihood, add-λ and interpolated Kneser-Ney
(docs/theory.md §11.1).

Counting. Each training block is read on its own (n-grams never cross a block boundary), preceded
by ``order - 1`` copies of a begin-of-block symbol BOS (id V, never predicted or generated), so
every token of a block, the first included, is a target with a context of exactly ``order - 1``
symbols. Context ids are built one level at a time with ``np.unique`` on packed
``(shorter-context id) * (V + 1) + (older token)``; pair counts with ``np.unique`` on
``context id * V + token``.

With :math:`c(h, w)` the count of token w after context h (length ``order - 1``),
:math:`c(h) = \sum_w c(h, w)` and :math:`h'` the context without its oldest symbol:

- ``"mle"``: :math:`p(w \mid h) = c(h, w) / c(h)`. A context never seen has no distribution: it
  **backs off** to :math:`h'` (and so on down to the unigram :math:`c(w)/N`). Tokens never seen
  after a seen context get probability 0 (log-probability ``-inf``, infinite perplexity). When
  generating, a context followed only by ``<unk>`` (which is never generated) also backs off.
- ``"add"`` (add-λ, λ = ``alpha``): :math:`p(w \mid h) = (c(h, w) + λ) / (c(h) + λV)`; a context
  never seen gets the uniform :math:`1/V` (the same formula with zero counts, no back-off).
- ``"kneser-ney"`` (interpolated, one discount D in (0, 1]; Chen & Goodman 1999):
  :math:`p(w \mid h) = \frac{\max(c(h, w) - D, 0)}{c(h)} + \frac{D\,N_{1+}(h\,\cdot)}{c(h)}\,
  p(w \mid h')`, with the raw counts at the top level and continuation counts
  :math:`N_{1+}(\cdot\, h' w)` (the number of distinct symbols seen before :math:`h' w`) at every
  lower level, down to the uniform :math:`1/V`; an unseen context is skipped
  (:math:`p(w \mid h) = p(w \mid h')`). It sums to 1 over the V tokens for every context.

Generation follows :mod:`collapse_theory.lm.protocol` (``<unk>`` never generated, repetition
penalty on ln p, then the policy; or beam search), in numba (:mod:`collapse_theory.lm._numba`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    InputError,
    InputTypeError,
    check_allocation,
    check_choice,
    check_int,
    check_real,
)
from collapse_theory.lm import _numba
from collapse_theory.lm.protocol import LanguageModel, check_blocks, check_decoding
from collapse_theory.policies import Policy, kernel_stages
from collapse_theory.rng import SeedLike, as_generator

__all__ = ["MAX_ORDER", "SMOOTHINGS", "NGramModel", "NGramTables", "NGramTrainer"]

#: Highest supported order.
MAX_ORDER = 5
#: Smoothing names and their kernel codes.
SMOOTHINGS = {"mle": _numba.MLE, "add": _numba.ADD, "kneser-ney": _numba.KN}
_PACK_LIMIT = 2**62


@dataclass(frozen=True)
class NGramTables:
    """Count tables of an n-gram model: one CSR over the contexts of all levels.

    Parameters
    ----------
    keys : numpy.ndarray of int64, shape (C,)
        Packed key of each context (``parent local id * (V + 1) + older symbol``; 0 for the
        empty context).
    ctx_base : numpy.ndarray of int64, shape (order + 1,)
        Level h (context length h) holds contexts ``ctx_base[h] .. ctx_base[h + 1] - 1``.
    row_ptr : numpy.ndarray of int64, shape (C + 1,)
        Followers of context g: entries ``row_ptr[g] .. row_ptr[g + 1] - 1``.
    tok : numpy.ndarray of int32, shape (E,)
        Follower token of each entry (sorted within a row).
    cnt : numpy.ndarray of float64, shape (E,)
        Count of each entry (Kneser-Ney: continuation counts below the top level).
    cum : numpy.ndarray of float64, shape (E,)
        Within-row cumulative sum of ``cnt`` (Kneser-Ney: of ``cnt - D``).
    total : numpy.ndarray of float64, shape (C,)
        Row sums of ``cnt``.
    """

    keys: np.ndarray
    ctx_base: np.ndarray
    row_ptr: np.ndarray
    tok: np.ndarray
    cnt: np.ndarray
    cum: np.ndarray
    total: np.ndarray
    pair_keys: np.ndarray = field(repr=False)

    @property
    def num_contexts(self) -> np.ndarray:
        """Number of distinct contexts of each length 0 .. order - 1."""
        return np.diff(self.ctx_base)


def _level_ids(padded: np.ndarray, order: int, base: int) -> tuple[list[np.ndarray], list]:
    """Local context ids of every target position, per level, and each level's sorted keys."""
    num_seq, width = padded.shape
    cols = np.arange(order - 1, width)
    local = np.zeros(num_seq * cols.size, np.int64)
    ids, keys = [local], [np.zeros(1, np.int64)]
    for h in range(1, order):
        packed = local * base + padded[:, cols - h].ravel()
        level_keys, local = np.unique(packed, return_inverse=True)
        ids.append(local.ravel().astype(np.int64))
        keys.append(level_keys)
        local = ids[-1]
    return ids, keys


def _pairs(ctx: np.ndarray, targets: np.ndarray, vocab: int) -> tuple[np.ndarray, np.ndarray]:
    unique, counts = np.unique(ctx * vocab + targets, return_counts=True)
    return unique, counts.astype(np.float64)


def build_tables(blocks: np.ndarray, order: int, vocab: int, smoothing: str, discount: float):
    """Count tables of ``blocks`` (see :class:`NGramTables`) and the raw unigram counts."""
    base = vocab + 1
    num_seq, length = blocks.shape
    padded = np.empty((num_seq, order - 1 + length), np.int64)
    padded[:, : order - 1] = vocab
    padded[:, order - 1 :] = blocks
    targets = padded[:, order - 1 :].ravel()
    ids, keys = _level_ids(padded, order, base)
    pairs = [_pairs(ids[h], targets, vocab) for h in range(order)]
    unigram = np.bincount(targets, minlength=vocab).astype(np.float64)
    if smoothing == "kneser-ney":
        for h in range(order - 2, -1, -1):  # continuation counts from the level above
            above = pairs[h + 1][0]
            parent = keys[h + 1][above // vocab] // base
            pairs[h] = _pairs(parent, above % vocab, vocab)
    sizes = np.array([k.size for k in keys], np.int64)
    ctx_base = np.concatenate([[0], np.cumsum(sizes)])
    rows, toks, cnts = [], [], []
    for h in range(order):
        unique, counts = pairs[h]
        ctx = unique // vocab
        rows.append(np.bincount(ctx, minlength=sizes[h]))
        toks.append((unique % vocab).astype(np.int32))
        cnts.append(counts)
    per_row = np.concatenate(rows)
    row_ptr = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
    cnt = np.concatenate(cnts)
    weights = cnt - discount if smoothing == "kneser-ney" else cnt
    running = np.cumsum(weights)
    cum = running - np.repeat(np.concatenate([[0.0], running])[row_ptr[:-1]], per_row)
    total = np.add.reduceat(cnt, row_ptr[:-1]) if cnt.size else np.zeros(0)
    global_ctx = np.repeat(np.arange(per_row.size, dtype=np.int64), per_row)
    tok = np.concatenate(toks)
    tables = NGramTables(
        keys=np.concatenate(keys).astype(np.int64),
        ctx_base=ctx_base.astype(np.int64),
        row_ptr=row_ptr,
        tok=tok,
        cnt=cnt,
        cum=cum,
        total=total.astype(np.float64),
        pair_keys=global_ctx * vocab + tok,
    )
    return tables, unigram


class NGramModel:
    """A fitted n-gram language model (a :class:`~collapse_theory.lm.protocol.LanguageModel`;
    formulas in the module docstring, docs/theory.md §11.1).

    Parameters
    ----------
    order : int
        n, 1 to 5 (the context is the n - 1 previous symbols).
    smoothing : {"mle", "add", "kneser-ney"}
        Estimator.
    vocab_size : int
        V, the number of token ids.
    tables : NGramTables
        Count tables from :meth:`NGramTrainer.fit`.
    token_counts : numpy.ndarray of float64, shape (V,)
        Raw count of each token in the training blocks.
    alpha : float
        λ of add-λ.
    discount : float
        D of Kneser-Ney.
    """

    def __init__(
        self,
        order: int,
        smoothing: str,
        vocab_size: int,
        tables: NGramTables,
        token_counts: np.ndarray,
        alpha: float = 1.0,
        discount: float = 0.75,
    ) -> None:
        self.order = order
        self.smoothing = smoothing
        self.vocab_size = vocab_size
        self.tables = tables
        self.token_counts = token_counts
        self.alpha = alpha
        self.discount = discount

    def __repr__(self) -> str:
        return (
            f"NGramModel(order={self.order}, smoothing={self.smoothing!r}, "
            f"vocab_size={self.vocab_size}, num_tokens={int(self.token_counts.sum())})"
        )

    @property
    def num_tokens(self) -> int:
        """Number of training tokens."""
        return int(self.token_counts.sum())

    def unigram(self) -> np.ndarray:
        """The maximum-likelihood unigram distribution of the training tokens, c(w) / N.

        Returns
        -------
        numpy.ndarray of float64, shape (V,)
            For order 1 with ``"mle"`` this is the model itself (docs/theory.md §11.1).
        """
        return self.token_counts / self.token_counts.sum()

    def _padded(self, blocks: np.ndarray) -> np.ndarray:
        padded = np.empty((blocks.shape[0], self.order - 1 + blocks.shape[1]), np.int64)
        padded[:, : self.order - 1] = self.vocab_size
        padded[:, self.order - 1 :] = blocks
        return padded

    def _log_probs_at(self, padded: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """ln p(padded[:, c] | the order - 1 symbols before it) for each column c in cols."""
        t, _vocab, base = self.tables, self.vocab_size, self.vocab_size + 1
        targets = padded[:, cols].ravel()
        local = np.zeros(targets.size, np.int64)
        seen_ids = []
        for h in range(self.order):
            if h > 0:
                lo, hi = t.ctx_base[h], t.ctx_base[h + 1]
                key = local * base + padded[:, cols - h].ravel()
                j = np.minimum(np.searchsorted(t.keys[lo:hi], key), hi - lo - 1)
                found = (local >= 0) & (t.keys[lo:hi][j] == key)
                local = np.where(found, j, -1)
            seen_ids.append(np.where(local >= 0, t.ctx_base[h] + local, -1))
        prob = self._probabilities(seen_ids, targets)
        with np.errstate(divide="ignore"):
            return np.log(prob).reshape(padded.shape[0], cols.size)

    def _pair_counts(self, g: np.ndarray, targets: np.ndarray) -> np.ndarray:
        t = self.tables
        key = np.where(g >= 0, g, 0) * self.vocab_size + targets
        j = np.minimum(np.searchsorted(t.pair_keys, key), t.pair_keys.size - 1)
        return np.where((g >= 0) & (t.pair_keys[j] == key), t.cnt[j], 0.0)

    def _probabilities(self, ids: list[np.ndarray], targets: np.ndarray) -> np.ndarray:
        t, vocab = self.tables, self.vocab_size
        followers = np.diff(t.row_ptr)
        if self.smoothing == "add":
            g = ids[-1]
            c = np.where(g >= 0, t.total[np.maximum(g, 0)], 0.0)
            return (self._pair_counts(g, targets) + self.alpha) / (c + self.alpha * vocab)
        prob = np.full(targets.size, 1.0 / vocab)
        for g in ids:
            seen = g >= 0
            c = t.total[np.maximum(g, 0)]
            cw = self._pair_counts(g, targets)
            if self.smoothing == "mle":
                new = cw / c
            else:
                n1 = followers[np.maximum(g, 0)]
                new = (np.maximum(cw - self.discount, 0.0) + self.discount * n1 * prob) / c
            prob = np.where(seen, new, prob)
        return prob

    def token_log_probs(self, blocks: ArrayLike) -> np.ndarray:
        """ln p(x_t | x_<t) for t = 1..L-1 of each block (context: the previous order - 1
        tokens, BOS before the block's start).

        Parameters
        ----------
        blocks : array_like of int, shape (S, L)
            Token ids in [0, V), L >= 2.

        Returns
        -------
        numpy.ndarray of float64, shape (S, L - 1)
            Natural-log probabilities (``-inf`` where an MLE model gives probability 0).
        """
        blocks = check_blocks("blocks", blocks, self.vocab_size, min_length=2)
        check_allocation(f"blocks of shape {blocks.shape}", 64.0 * blocks.size * (self.order + 2))
        padded = self._padded(blocks)
        return self._log_probs_at(padded, np.arange(self.order, padded.shape[1]))

    def next_token_probs(self, histories: ArrayLike) -> np.ndarray:
        """The next-token distribution after each history (the model as scored, ``<unk>``
        included, before any decoding rule).

        Parameters
        ----------
        histories : array_like of int, shape (S, P)
            Token ids, P >= 0 (BOS before them).

        Returns
        -------
        numpy.ndarray of float64, shape (S, V)
            p(w | history) for every token w.
        """
        histories = check_blocks("histories", histories, self.vocab_size, min_length=0)
        num, vocab = histories.shape[0], self.vocab_size
        check_allocation(
            f"{num} histories x V={vocab}",
            8.0 * num * vocab * (histories.shape[1] + self.order + 4),
        )
        grid = np.empty((num, vocab, histories.shape[1] + 1), np.int64)
        grid[:, :, :-1] = histories[:, None, :]
        grid[:, :, -1] = np.arange(vocab)
        padded = self._padded(grid.reshape(num * vocab, -1))
        log_p = self._log_probs_at(padded, np.array([padded.shape[1] - 1]))
        return np.exp(log_p).reshape(num, vocab)

    def generate(
        self,
        prompts: ArrayLike,
        length: int,
        *,
        seed: SeedLike,
        policy: Policy | None = None,
        beam: int = 1,
        repetition_penalty: float = 1.0,
    ) -> np.ndarray:
        """Continue each prompt by ``length`` tokens (conventions of
        :mod:`collapse_theory.lm.protocol`; docs/theory.md §8.1, §11.1).

        Parameters
        ----------
        prompts : array_like of int, shape (S, P)
            Prompts, P >= 0.
        length : int
            Tokens to generate per prompt, >= 0.
        seed : SeedLike
            Random seed (beam search uses none).
        policy : Policy or None
            Temperature, TopK, TopP, MinP or a Compose of them.
        beam : int
            Beam width; > 1 is beam search (``policy`` must be None).
        repetition_penalty : float
            r >= 1: a token already in the prompt or continuation has p -> p^r (renormalised).

        Returns
        -------
        numpy.ndarray of int32, shape (S, length)
            The continuations; never 0.
        """
        policy, beam, penalty = check_decoding(policy, beam, repetition_penalty)
        length = check_int("length", length, minimum=0)
        prompts = check_blocks("prompts", prompts, self.vocab_size, min_length=0)
        num_seq, width = prompts.shape[0], self.order - 1 + prompts.shape[1] + length
        check_allocation(f"{num_seq} prompts x {width} tokens", 4.0 * num_seq * width)
        hist = np.empty((num_seq, width), np.int32)
        hist[:, : self.order - 1] = self.vocab_size
        start = self.order - 1 + prompts.shape[1]
        hist[:, self.order - 1 : start] = prompts
        if length == 0 or num_seq == 0:
            return np.zeros((num_seq, length), np.int32)
        t = self.tables
        status = np.zeros(1, np.int64)
        kind = SMOOTHINGS[self.smoothing]
        common = (self.order, self.vocab_size, kind, self.alpha, self.discount, t.keys,
                  t.ctx_base, t.row_ptr, t.tok, t.cnt)  # fmt: skip
        if beam > 1:
            _numba.beam_block(hist, start, beam, *common, t.total, penalty, status)
        else:
            codes, params = kernel_stages(policy)
            rng = as_generator(seed)
            _numba.sample_block(rng, hist, start, *common, t.cum, t.total, codes, params, penalty,
                                status)  # fmt: skip
        if status[0] != _numba.OK:
            raise InputError(
                f"decoding with policy={policy!r}, beam={beam}, repetition_penalty={penalty} left "
                "no token to generate"
            )
        return hist[:, start:].copy()


class NGramTrainer:
    """Fits n-gram models (a :class:`~collapse_theory.lm.protocol.Trainer`; docs/theory.md §11.1).

    Parameters
    ----------
    order : int
        n, 1 to 5.
    smoothing : {"kneser-ney", "mle", "add"}
        Estimator (formulas in the module docstring).
    alpha : float
        λ > 0 of add-λ.
    discount : float
        Kneser-Ney discount D in (0, 1].
    vocab_size : int or None
        V; None takes ``start.vocab_size`` when fitting from a model, else the largest id in the
        training blocks + 1 (give it, e.g. ``corpus.tokenizer.size``, to score text holding
        ids the training blocks lack).
    """

    name = "ngram"

    def __init__(
        self,
        order: int = 2,
        smoothing: str = "kneser-ney",
        alpha: float = 1.0,
        discount: float = 0.75,
        vocab_size: int | None = None,
    ) -> None:
        self.order = check_int("order", order, minimum=1, maximum=MAX_ORDER)
        self.smoothing = check_choice("smoothing", smoothing, tuple(SMOOTHINGS))
        self.alpha = check_real("alpha", alpha, minimum=0.0, strict_minimum=True)
        self.discount = check_real(
            "discount", discount, minimum=0.0, maximum=1.0, strict_minimum=True
        )
        self.vocab_size = (
            None if vocab_size is None else check_int("vocab_size", vocab_size, minimum=2)
        )

    def __repr__(self) -> str:
        return (
            f"NGramTrainer(order={self.order}, smoothing={self.smoothing!r}, alpha={self.alpha}, "
            f"discount={self.discount}, vocab_size={self.vocab_size})"
        )

    def fit(
        self, blocks: ArrayLike, *, seed: SeedLike = None, start: LanguageModel | None = None
    ) -> NGramModel:
        """Count the n-grams of ``blocks`` (deterministic: ``seed`` and ``start`` only fix V).

        Parameters
        ----------
        blocks : array_like of int, shape (S, L)
            Training blocks, S >= 1, L >= 1.
        seed : SeedLike
            Unused (counting is deterministic); accepted for the Trainer protocol.
        start : LanguageModel or None
            Ignored except for its ``vocab_size`` when the trainer has none.

        Returns
        -------
        NGramModel
            The fitted model.
        """
        vocab = self.vocab_size
        if vocab is None and start is not None:
            vocab = int(start.vocab_size)
        array = np.asarray(blocks)
        if array.dtype.kind not in "iu":
            raise InputTypeError(
                f"blocks must be an integer array of token ids; got dtype {array.dtype}"
            )
        if array.ndim != 2 or array.size == 0:
            raise InputError(
                f"blocks must be a non-empty 2-D array (sequences, tokens); got shape {array.shape}"
            )
        if vocab is None:
            vocab = max(int(array.max()) + 1, 2)
        blocks = check_blocks("blocks", array, vocab, min_length=1)
        if not np.any(blocks != 0):
            raise InputError(
                "blocks hold only <unk> (id 0): there is no token to model or generate"
            )
        if blocks.size * (vocab + 1) >= _PACK_LIMIT:
            raise InputError(
                f"blocks of {blocks.size} tokens with V={vocab} overflow the packed ids"
            )
        check_allocation(f"blocks of shape {blocks.shape}", 48.0 * blocks.size * (self.order + 2))
        tables, counts = build_tables(blocks, self.order, vocab, self.smoothing, self.discount)
        return NGramModel(
            self.order, self.smoothing, vocab, tables, counts, self.alpha, self.discount
        )
