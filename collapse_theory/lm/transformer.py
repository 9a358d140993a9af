r"""A small decoder-only transformer language model, trainable on 2 CPU cores (docs/theory.md
§11.3).

The ``[neural]`` extra (jax, equinox, optax) is imported inside the functions that need it, so
importing this module is cheap and works without it; training or decoding without it raises an
ImportError naming ``pip install "collapse_theory[neural]"``.

- :class:`TransformerConfig`: layers, width, heads, MLP width, context, tied output.
- :func:`pretrain`: the base model, trained once on a corpus's pretraining split.
- :class:`TransformerTrainer`: a ``Trainer`` whose :meth:`~TransformerTrainer.fit` fine-tunes
  from ``start`` (default: the base) on the training blocks, as the paper fine-tunes OPT-125m.
- :class:`TransformerLM`: a ``LanguageModel``: :meth:`~TransformerLM.token_log_probs` and
  :meth:`~TransformerLM.generate` (sampling under a ``collapse_theory.policies`` policy, or beam
  search, with the CTRL repetition penalty).

The model sees a start token ``BOS`` (id ``vocab_size``, never an output) before every block:
the prediction of :math:`x_t` conditions on :math:`[\mathrm{BOS}, x_a, \dots, x_{t-1}]` with
:math:`t - a \le` ``context`` tokens. A block longer than ``context + 1`` tokens is scored in
windows of ``context`` tokens advancing by ``ceil(context / 2)``: every prediction then
conditions on between ``floor(context / 2) + 1`` and ``context`` previous tokens. Decoding
uses the very same windows (so the law sampled is the law scored): the prompt's window is
computed once, each new token enters its keys / values cache, and a new window is computed
when the next prediction would exceed ``context`` tokens (every ``ceil(context / 2)`` steps).

Decoding a next token (docs/theory.md §8.1): the float32 logits :math:`z` become float64;
with repetition penalty :math:`r \ge 1` (Keskar et al. 2019), every token already in the
prompt or continuation gets :math:`z/r` if :math:`z > 0`, else :math:`z r`; the unknown token
(id 0) gets :math:`z = -\infty`; :math:`p = \mathrm{softmax}(z)`. Sampling applies the policy
to :math:`p` and takes the first token whose cumulative mass reaches :math:`u \sum_i q_i`,
:math:`u = 1 - U`, :math:`U \sim \mathrm{Uniform}[0, 1)` from the seed's numpy stream (drawn as
one (S, length) array, so a result does not depend on how rows are chunked). Beam search keeps
the ``beam`` continuations of largest :math:`\sum \ln p` (ties: lower beam, then lower token
id; the first step expands the prompt once) and returns the best one.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import InputError, InputTypeError, check_int, check_real
from collapse_theory.lm.protocol import check_blocks, check_decoding
from collapse_theory.policies import Policy
from collapse_theory.rng import SeedLike, as_generator, as_seed_sequence

__all__ = ["TransformerConfig", "TransformerLM", "TransformerTrainer", "pretrain"]

NEURAL_HINT = 'the transformer needs jax, equinox and optax: pip install "collapse_theory[neural]"'

#: Rows per compiled decoding call (sequences x beams; padded, so one shape per beam width).
DECODE_ROWS = 256

#: Rows per compiled scoring call.
SCORE_ROWS = 64


def _backend() -> Any:
    """The jax module :mod:`collapse_theory.lm._jax`, or a clear ImportError."""
    for name in ("jax", "equinox", "optax"):
        if importlib.util.find_spec(name) is None:
            raise ImportError(f"{name} is not installed; {NEURAL_HINT}")
    from collapse_theory.lm import _jax

    return _jax


@dataclass(frozen=True)
class TransformerConfig:
    """Shape of the decoder-only transformer (docs/theory.md §11.3).

    Parameters
    ----------
    num_layers : int
        Pre-LayerNorm blocks (causal self-attention + MLP), >= 1. Default 2.
    d_model : int
        Width of the residual stream, >= 1 and a multiple of ``num_heads``. Default 128.
    num_heads : int
        Attention heads, >= 1. Default 4.
    d_ff : int
        Width of the MLP's hidden layer, >= 1. Default 512.
    context : int
        Most previous tokens a prediction conditions on, >= 1 (learned positions for the
        start token and ``context`` tokens). Default 64, the paper's block length.
    tied : bool
        Output projection tied to the token embedding (default True) or a separate matrix.

    Notes
    -----
    Parameters: :math:`(V + 1 + c + 1) d + n (4d^2 + 2 d f + f + 9d) + 2d + V`, plus :math:`Vd`
    untied (:meth:`num_parameters`).
    """

    num_layers: int = 2
    d_model: int = 128
    num_heads: int = 4
    d_ff: int = 512
    context: int = 64
    tied: bool = True

    def __post_init__(self) -> None:
        for name in ("num_layers", "d_model", "num_heads", "d_ff", "context"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum=1))
        if self.d_model % self.num_heads:
            raise InputError(
                f"d_model must be a multiple of num_heads; got d_model={self.d_model}, "
                f"num_heads={self.num_heads}"
            )
        if not isinstance(self.tied, (bool, np.bool_)):
            raise InputTypeError(f"tied must be True or False; got {self.tied!r}")

    def num_parameters(self, vocab_size: int) -> int:
        """Number of trainable parameters for a vocabulary of ``vocab_size`` tokens.

        Parameters
        ----------
        vocab_size : int
            V >= 2 (the unknown token and at least one other).

        Returns
        -------
        int
            Embeddings (V + 1 with the start token), positions, the blocks, the final
            LayerNorm and the output bias (and the untied output matrix).
        """
        v = check_int("vocab_size", vocab_size, minimum=2)
        d, f, n = self.d_model, self.d_ff, self.num_layers
        per_layer = 4 * d * d + 2 * d * f + f + 9 * d
        head = 0 if self.tied else v * d
        return (v + 1 + self.context + 1) * d + n * per_layer + 2 * d + v + head


def _check_training(blocks: ArrayLike, vocab_size: int, context: int, epochs: int) -> np.ndarray:
    blocks = check_blocks("blocks", blocks, vocab_size, min_length=2)
    if blocks.shape[1] > context + 1:
        raise InputError(
            f"blocks of {blocks.shape[1]} tokens are longer than the model's context "
            f"({context}) + 1; use a config with context >= {blocks.shape[1] - 1} or "
            "shorter blocks"
        )
    if epochs > 0 and blocks.shape[0] == 0:
        raise InputError("blocks has no rows: nothing to train on (use epochs=0 for none)")
    return blocks


def _check_hyper(epochs: int, batch_size: int, learning_rate: float) -> tuple[int, int, float]:
    return (
        check_int("epochs", epochs, minimum=0),
        check_int("batch_size", batch_size, minimum=1),
        check_real("learning_rate", learning_rate, minimum=0.0, strict_minimum=True),
    )


@dataclass(frozen=True, eq=False)
class TransformerLM:
    """A trained transformer language model (a ``LanguageModel``; docs/theory.md §11.3).

    Made by :func:`pretrain` or :meth:`TransformerTrainer.fit`, not directly.

    Parameters
    ----------
    config : TransformerConfig
        The architecture.
    vocab_size : int
        V: token ids 0..V-1, id 0 the unknown token.
    network : equinox.Module
        The parameters (``collapse_theory.lm._jax.Transformer``).
    history : tuple of float
        Mean training cross-entropy (nats per token) of each epoch of the last training.
    """

    config: TransformerConfig
    vocab_size: int
    network: Any = field(repr=False)
    history: tuple[float, ...] = ()

    @property
    def num_parameters(self) -> int:
        """Number of trainable parameters (see :meth:`TransformerConfig.num_parameters`)."""
        return self.config.num_parameters(self.vocab_size)

    def token_log_probs(self, blocks: ArrayLike) -> np.ndarray:
        r"""Per-token log-probabilities :math:`\ln p(x_t \mid x_{<t})`, t = 1..L-1
        (docs/theory.md §11.3).

        Each prediction conditions on at most ``context`` previous tokens (windows, see the
        module docstring).

        Parameters
        ----------
        blocks : array_like of int, shape (S, L)
            Token ids in [0, vocab_size).

        Returns
        -------
        numpy.ndarray of float64, shape (S, L - 1)
            Natural logarithms (L = 1 or S = 0 gives an empty array).
        """
        blocks = check_blocks("blocks", blocks, self.vocab_size, min_length=0)
        num, length = blocks.shape
        out = np.zeros((num, max(length - 1, 0)), dtype=np.float64)
        if num == 0 or length <= 1:
            return out
        jx = _backend()
        ctx, stride = self.config.context, math.ceil(self.config.context / 2)
        start, done = 0, 0  # window start a; targets 1..done are scored
        while done < length - 1:
            end = min(start + ctx, length - 1)  # last target of this window
            inputs = np.zeros((num, ctx + 1), dtype=np.int32)
            targets = np.zeros((num, ctx + 1), dtype=np.int32)
            inputs[:, 0] = self.vocab_size
            inputs[:, 1 : end - start + 1] = blocks[:, start:end]
            targets[:, : end - start + 1] = blocks[:, start : end + 1]
            log_p = _score_rows(jx, self.network, inputs, targets)
            out[:, done:end] = log_p[:, done + 1 - start : end + 1 - start]
            done, start = end, start + stride
        return out

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
        r"""Continuations of ``prompts`` (docs/theory.md §8.1, §11.3).

        Parameters
        ----------
        prompts : array_like of int, shape (S, P)
            Token ids in [0, vocab_size); P >= 0 (P = 0: from the start token alone).
        length : int
            Tokens to generate per row, >= 0.
        seed : SeedLike
            Seed of the sampling stream (same seed, same tokens). Unused by beam search.
        policy : Policy, optional
            A categorical ``collapse_theory.policies`` policy applied to every next-token
            distribution (after the penalty and the removal of the unknown token).
        beam : int
            1 (default): sampling. Beam width >= 2: deterministic beam search (then ``policy``
            must be None or the identity); at most vocab_size - 1.
        repetition_penalty : float
            r >= 1 (CTRL): the logit z of a token already in the prompt or continuation becomes
            z / r if z > 0, z r otherwise. 1 (default) changes nothing.

        Returns
        -------
        numpy.ndarray of int32, shape (S, length)
            The tokens after each prompt; never the unknown token 0.
        """
        prompts = check_blocks("prompts", prompts, self.vocab_size, min_length=0)
        length = check_int("length", length, minimum=0)
        policy, beam, penalty = check_decoding(policy, beam, repetition_penalty)
        check_int("beam", beam, maximum=self.vocab_size - 1)  # tokens other than <unk>
        num = prompts.shape[0]
        uniforms = 1.0 - as_generator(seed).random((num, length)) if beam == 1 else None
        out = np.zeros((num, length), dtype=np.int32)
        if num == 0 or length == 0:
            return out
        jx = _backend()
        per_chunk = DECODE_ROWS // beam
        for lo in range(0, num, per_chunk):
            hi = min(lo + per_chunk, num)
            rows = _pad_rows(prompts[lo:hi], per_chunk)
            u = None if uniforms is None else _pad_rows(uniforms[lo:hi], per_chunk)
            decoder = _Decoder(jx, self, policy, beam, penalty)
            out[lo:hi] = decoder.run(rows, length, u)[: hi - lo]
        return out


def _window_start(t: int, context: int) -> int:
    """First token the prediction of x_t conditions on: 0 while t <= context, then windows
    advancing by ceil(context / 2) (the same rule for scoring and decoding)."""
    if t <= context:
        return 0
    stride = math.ceil(context / 2)
    return stride * math.ceil((t - context) / stride)


def _pad_rows(array: np.ndarray, rows: int) -> np.ndarray:
    """``array`` with its first row repeated to ``rows`` rows."""
    if array.shape[0] == rows:
        return array
    pad = np.repeat(array[:1], rows - array.shape[0], axis=0)
    return np.concatenate([array, pad])


def _score_rows(jx: Any, network: Any, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """float64 target log-probabilities of (S, T) windows, in padded chunks of SCORE_ROWS."""
    num = inputs.shape[0]
    out = np.empty(inputs.shape, dtype=np.float64)
    for lo in range(0, num, SCORE_ROWS):
        hi = min(lo + SCORE_ROWS, num)
        chunk_in = _pad_rows(inputs[lo:hi], SCORE_ROWS)
        chunk_t = _pad_rows(targets[lo:hi], SCORE_ROWS)
        out[lo:hi] = np.asarray(jx.target_log_probs(network, chunk_in, chunk_t))[: hi - lo]
    return out


def _next_token_logits(
    logits: np.ndarray, history: np.ndarray, repetition_penalty: float
) -> np.ndarray:
    """float64 logits after the CTRL penalty, with the unknown token (id 0) at -inf."""
    z = np.asarray(logits, dtype=np.float64).copy()
    if repetition_penalty != 1.0 and history.shape[1]:
        rows = np.arange(z.shape[0])[:, None]
        seen = z[rows, history]  # a repeated token writes the same value twice
        z[rows, history] = np.where(seen > 0, seen / repetition_penalty, seen * repetition_penalty)
    z[:, 0] = -np.inf
    return z


def _softmax(z: np.ndarray) -> np.ndarray:
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    top = z.max(axis=1, keepdims=True)
    return z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))


def _inverse_cdf(q: np.ndarray, u: np.ndarray) -> np.ndarray:
    """First index whose cumulative mass reaches u * total (u in (0, 1]): never a zero-mass id."""
    cdf = np.cumsum(q, axis=1)
    return np.count_nonzero(cdf < u[:, None] * cdf[:, -1:], axis=1).astype(np.int32)


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the k largest values, largest first, ties by lower index: the
    first k of a stable argsort of ``-values``, in O(n) per row (argpartition + the ties)."""
    if k >= values.shape[1]:
        return np.argsort(-values, axis=1, kind="stable")[:, :k]
    part = np.argpartition(-values, k - 1, axis=1)[:, :k]
    threshold = np.take_along_axis(values, part, axis=1).min(axis=1, keepdims=True)
    above = values > threshold
    tied = values == threshold
    room = k - above.sum(axis=1, keepdims=True)
    keep = above | (tied & (np.cumsum(tied, axis=1) <= room))
    index = np.nonzero(keep)[1].reshape(values.shape[0], k)  # increasing index per row
    chosen = np.take_along_axis(values, index, axis=1)
    return np.take_along_axis(index, np.argsort(-chosen, axis=1, kind="stable"), axis=1)


class _Decoder:
    """Decodes one padded chunk of prompts: prefill, then cached steps (or windows past the
    context)."""

    def __init__(
        self, jx: Any, model: TransformerLM, policy: Policy | None, beam: int, penalty: float
    ) -> None:
        self.jx, self.network = jx, model.network
        self.bos, self.vocab_size = model.vocab_size, model.vocab_size
        self.context = model.config.context
        self.policy, self.beam, self.penalty = policy, beam, penalty

    def window(self, history: np.ndarray, start: int) -> np.ndarray:
        """[BOS] + history[:, start:], right-padded to context + 1 positions."""
        inputs = np.zeros((history.shape[0], self.context + 1), dtype=np.int32)
        inputs[:, 0] = self.bos
        inputs[:, 1 : history.shape[1] - start + 1] = history[:, start:]
        return inputs

    def run(self, prompts: np.ndarray, length: int, uniforms: np.ndarray | None) -> np.ndarray:
        jx, int32 = self.jx, np.int32
        num, beam, size = prompts.shape[0], self.beam, prompts.shape[1]
        history = np.repeat(prompts, beam, axis=0)
        scores = np.tile(np.r_[0.0, np.full(beam - 1, -np.inf)], (num, 1))
        current = -1  # start of the cached window
        tokens, parents = history[:, -1:], np.arange(history.shape[0])  # set before any step
        for k in range(length):
            t = size + k  # index of the token predicted now
            start = _window_start(t, self.context)
            if start != current:  # a new window: recompute it (the prompt, or past the context)
                inputs = self.window(history, start)
                logits, keys, values = jx.prefill(self.network, inputs, int32(t - start))
                current = start
            else:  # the last token enters the cached window at position t - start
                logits, keys, values = jx.step(
                    self.network, keys, values, tokens, int32(t - start), parents.astype(int32)
                )
            z = _next_token_logits(np.asarray(logits), history, self.penalty)
            if beam == 1:
                tokens, parents = self.sample(z, uniforms[:, k]), np.arange(num)
            else:
                tokens, parents, scores = self.beam_step(z, scores)
            history = np.concatenate([history[parents], tokens[:, None]], axis=1)
        best = np.argmax(scores, axis=1)
        return history[np.arange(num) * beam + best, size:]

    def sample(self, z: np.ndarray, u: np.ndarray) -> np.ndarray:
        p = _softmax(z)
        q = p if self.policy is None else self.policy(p)
        return _inverse_cdf(q, u)

    def beam_step(
        self, z: np.ndarray, scores: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        num, beam, v = scores.shape[0], self.beam, z.shape[1]
        candidates = (scores[:, :, None] + _log_softmax(z).reshape(num, beam, v)).reshape(num, -1)
        order = _top(candidates, beam)
        scores = np.take_along_axis(candidates, order, axis=1)
        parents = (np.arange(num)[:, None] * beam + order // v).ravel()
        return (order % v).ravel().astype(np.int32), parents, scores


def _train(
    network: Any,
    blocks: np.ndarray,
    *,
    vocab_size: int,
    rng: np.random.Generator,
    epochs: int,
    batch_size: int,
    learning_rate: float,
) -> tuple[Any, tuple[float, ...]]:
    """AdamW epochs over shuffled blocks (the last batch padded with zero-weight rows)."""
    if epochs == 0:
        return network, ()
    jx = _backend()
    num = blocks.shape[0]
    inputs = np.concatenate([np.full((num, 1), vocab_size, np.int32), blocks[:, :-1]], axis=1)
    size = min(batch_size, num)
    state = jx.init_optimizer(network, learning_rate)
    history = []
    for _ in range(epochs):
        order = rng.permutation(num)
        batches = -(-num // size)
        padded = np.concatenate([order, np.zeros(batches * size - num, dtype=order.dtype)])
        weights = (np.arange(batches * size) < num).astype(np.float32)
        total = 0.0
        for b in range(batches):
            rows = padded[b * size : (b + 1) * size]
            w = weights[b * size : (b + 1) * size]
            network, state, loss = jx.train_step(network, state, inputs[rows], blocks[rows], w)
            total += float(loss) * float(w.sum())
        history.append(total / num)
    return network, tuple(history)


def pretrain(
    blocks: ArrayLike,
    vocab_size: int,
    config: TransformerConfig | None = None,
    *,
    seed: SeedLike,
    epochs: int = 15,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
) -> TransformerLM:
    r"""Train the base model from random weights (once per corpus, on its pretraining split).

    Minimises the mean cross-entropy :math:`-\frac{1}{SL}\sum_{s,t} \ln p(x_{s,t} \mid
    \mathrm{BOS}, x_{s,<t})` with AdamW (weight decay 0.01, gradients clipped to norm 1) over
    shuffled mini-batches (docs/theory.md §11.3).

    Parameters
    ----------
    blocks : array_like of int, shape (S, L)
        Training blocks, token ids in [0, vocab_size), 2 <= L <= context + 1.
    vocab_size : int
        V >= 2, the tokenizer's size.
    config : TransformerConfig, optional
        The architecture (default ``TransformerConfig()``).
    seed : SeedLike
        Seeds the initial weights and the shuffling.
    epochs : int
        Passes over ``blocks``, >= 0 (0: the untrained initial model). Default 15 (on the
        pydoc corpus's pretraining split, 15 gave a better fine-tuned model than 5, 10 or 25).
    batch_size : int
        Blocks per step, >= 1. Default 32.
    learning_rate : float
        AdamW step size > 0. Default 1e-3.

    Returns
    -------
    TransformerLM
        The base model, with the per-epoch mean losses in ``history``.
    """
    config = TransformerConfig() if config is None else config
    if not isinstance(config, TransformerConfig):
        raise InputTypeError(f"config must be a TransformerConfig; got {config!r}")
    vocab_size = check_int("vocab_size", vocab_size, minimum=2)
    epochs, batch_size, learning_rate = _check_hyper(epochs, batch_size, learning_rate)
    blocks = _check_training(blocks, vocab_size, config.context, epochs)
    init_seed, shuffle_seed = as_seed_sequence(seed).spawn(2)
    jx = _backend()
    network = jx.init_model(
        vocab_size,
        config.num_layers,
        config.d_model,
        config.num_heads,
        config.d_ff,
        config.context,
        bool(config.tied),
        np.random.default_rng(init_seed),
    )
    network, history = _train(
        network,
        blocks,
        vocab_size=vocab_size,
        rng=np.random.default_rng(shuffle_seed),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
    )
    return TransformerLM(config, vocab_size, network, history)


@dataclass(frozen=True, eq=False)
class TransformerTrainer:
    """Fine-tunes a transformer on training blocks (a ``Trainer``; docs/theory.md §11.3).

    Parameters
    ----------
    base : TransformerLM
        The pretrained base (:func:`pretrain`), the default start of every fit.
    epochs : int
        Passes over the training blocks per fit, >= 1. Default 3.
    batch_size : int
        Blocks per step, >= 1. Default 32.
    learning_rate : float
        AdamW step size > 0 (a fresh optimizer state per fit). Default 1e-3.
    """

    base: TransformerLM
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-3
    name: str = field(default="transformer", init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.base, TransformerLM):
            raise InputTypeError(f"base must be a TransformerLM (from pretrain); got {self.base!r}")
        check_int("epochs", self.epochs, minimum=1)
        _check_hyper(self.epochs, self.batch_size, self.learning_rate)

    def fit(
        self, blocks: ArrayLike, *, seed: SeedLike, start: TransformerLM | None = None
    ) -> TransformerLM:
        """Fine-tune ``start`` (default: the base) on ``blocks``.

        Parameters
        ----------
        blocks : array_like of int, shape (S, L)
            Training blocks, S >= 1, 2 <= L <= context + 1, ids in [0, vocab_size).
        seed : SeedLike
            Seeds the shuffling.
        start : TransformerLM, optional
            The model to continue from (the same config and vocabulary as the base); None:
            the base.

        Returns
        -------
        TransformerLM
            The fine-tuned model (``start`` is unchanged).
        """
        start = self.base if start is None else start
        if not isinstance(start, TransformerLM):
            raise InputTypeError(f"start must be None or a TransformerLM; got {start!r}")
        if start.config != self.base.config or start.vocab_size != self.base.vocab_size:
            raise InputError(
                "start must have the base's config and vocabulary; got "
                f"{start.config}, V={start.vocab_size} vs {self.base.config}, "
                f"V={self.base.vocab_size}"
            )
        blocks = _check_training(blocks, start.vocab_size, start.config.context, self.epochs)
        network, history = _train(
            start.network,
            blocks,
            vocab_size=start.vocab_size,
            rng=as_generator(seed),
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
        )
        return TransformerLM(start.config, start.vocab_size, network, history)
