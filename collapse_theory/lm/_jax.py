"""The small decoder-only transformer in equinox + optax (docs/theory.md §11.3).

Imported only inside functions of :mod:`collapse_theory.lm.transformer` (``collapse_theory.lm``
imports no jax). Every compiled function is module level and takes the model as an argument, so
it is traced once per shape and reused by every model, fine-tune and generation of a run:
training at (batch size, block length), scoring at (:data:`SCORE_ROWS`, context + 1), decoding at
(rows, context + 1). :data:`TRACES` counts the traces (the tests check that a second generation
traces nothing).

The network, in float32 (``x`` the input ids, ``BOS = vocab_size`` a start token, ``T <=
context + 1`` positions)::

    h = E[x] + P[:T]
    for each layer:  h = h + Attn(LN1(h));  h = h + W2 gelu(W1 LN2(h) + b1) + b2
    logits = LNf(h) E[:V]^T + c          (tied; untied: LNf(h) H^T + c)

with causal multi-head self-attention, ``gelu`` the tanh approximation, LayerNorm eps 1e-5,
no dropout.
"""

from __future__ import annotations

import collections
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

#: Number of traces of each compiled function (incremented only while jax traces).
TRACES: collections.Counter[str] = collections.Counter()

#: LayerNorm epsilon.
EPS = 1e-5

#: Standard deviation of the initial weights (GPT-2).
INIT_SCALE = 0.02

#: Global gradient-norm clip and AdamW weight decay of every fit.
CLIP_NORM = 1.0
WEIGHT_DECAY = 0.01


class Transformer(eqx.Module):
    """Parameters of the decoder-only transformer; the layers are stacked along axis 0."""

    token_embedding: jax.Array  # (V + 1, d): row V is the start token
    position_embedding: jax.Array  # (context + 1, d)
    ln1_w: jax.Array  # (layers, d)
    ln1_b: jax.Array
    qkv_w: jax.Array  # (layers, 3d, d)
    qkv_b: jax.Array  # (layers, 3d)
    out_w: jax.Array  # (layers, d, d)
    out_b: jax.Array  # (layers, d)
    ln2_w: jax.Array
    ln2_b: jax.Array
    up_w: jax.Array  # (layers, d_ff, d)
    up_b: jax.Array  # (layers, d_ff)
    down_w: jax.Array  # (layers, d, d_ff)
    down_b: jax.Array  # (layers, d)
    lnf_w: jax.Array  # (d,)
    lnf_b: jax.Array
    head_w: jax.Array | None  # (V, d) when untied, else None
    head_b: jax.Array  # (V,)
    num_heads: int = eqx.field(static=True)


def init_model(
    vocab_size: int,
    num_layers: int,
    d_model: int,
    num_heads: int,
    d_ff: int,
    context: int,
    tied: bool,
    rng: np.random.Generator,
) -> Transformer:
    """Weights N(0, 0.02^2) (residual projections / sqrt(2 layers)), biases 0, LayerNorm 1,
    drawn in numpy from ``rng`` (no compilation) and stored as float32."""
    nl, d = num_layers, d_model
    residual = INIT_SCALE / math.sqrt(2 * nl)

    def normal(shape: tuple[int, ...], scale: float = INIT_SCALE) -> jax.Array:
        return jnp.asarray(scale * rng.standard_normal(shape), dtype=jnp.float32)

    def const(value: float, shape: tuple[int, ...]) -> jax.Array:
        return jnp.full(shape, value, dtype=jnp.float32)

    return Transformer(
        token_embedding=normal((vocab_size + 1, d)),
        position_embedding=normal((context + 1, d)),
        ln1_w=const(1.0, (nl, d)),
        ln1_b=const(0.0, (nl, d)),
        qkv_w=normal((nl, 3 * d, d)),
        qkv_b=const(0.0, (nl, 3 * d)),
        out_w=normal((nl, d, d), residual),
        out_b=const(0.0, (nl, d)),
        ln2_w=const(1.0, (nl, d)),
        ln2_b=const(0.0, (nl, d)),
        up_w=normal((nl, d_ff, d)),
        up_b=const(0.0, (nl, d_ff)),
        down_w=normal((nl, d, d_ff), residual),
        down_b=const(0.0, (nl, d)),
        lnf_w=const(1.0, (d,)),
        lnf_b=const(0.0, (d,)),
        head_w=None if tied else normal((vocab_size, d)),
        head_b=const(0.0, (vocab_size,)),
        num_heads=num_heads,
    )


def num_parameters(model: Transformer) -> int:
    """Number of trainable scalars."""
    return sum(int(leaf.size) for leaf in jax.tree_util.tree_leaves(model))


def _layer_norm(x: jax.Array, w: jax.Array, b: jax.Array) -> jax.Array:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + EPS) * w + b


def _split_heads(x: jax.Array, num_heads: int) -> jax.Array:
    """(..., d) -> (..., heads, d / heads)."""
    return x.reshape(*x.shape[:-1], num_heads, x.shape[-1] // num_heads)


def _mlp(model: Transformer, i: int, h: jax.Array) -> jax.Array:
    a = _layer_norm(h, model.ln2_w[i], model.ln2_b[i])
    a = jax.nn.gelu(a @ model.up_w[i].T + model.up_b[i], approximate=True)
    return a @ model.down_w[i].T + model.down_b[i]


def _logits(model: Transformer, h: jax.Array) -> jax.Array:
    vocab_size = model.head_b.shape[0]
    h = _layer_norm(h, model.lnf_w, model.lnf_b)
    head = model.token_embedding[:vocab_size] if model.head_w is None else model.head_w
    return h @ head.T + model.head_b


def hidden(model: Transformer, inputs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Full causal pass over (B, T) ids: hidden states (B, T, d) and keys / values
    (layers, B, heads, T, d / heads) of every position."""
    num_layers, t = model.ln1_w.shape[0], inputs.shape[1]
    h = model.token_embedding[inputs] + model.position_embedding[:t]
    causal = jnp.tril(jnp.ones((t, t), dtype=bool))
    keys, values = [], []
    for i in range(num_layers):
        a = _layer_norm(h, model.ln1_w[i], model.ln1_b[i])
        q, k, v = jnp.split(a @ model.qkv_w[i].T + model.qkv_b[i], 3, axis=-1)
        q, k, v = (_split_heads(z, model.num_heads).transpose(0, 2, 1, 3) for z in (q, k, v))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
        weights = jax.nn.softmax(jnp.where(causal, scores, -jnp.inf), axis=-1)
        o = (weights @ v).transpose(0, 2, 1, 3).reshape(h.shape)
        h = h + o @ model.out_w[i].T + model.out_b[i]
        h = h + _mlp(model, i, h)
        keys.append(k)
        values.append(v)
    return h, jnp.stack(keys), jnp.stack(values)


def _target_log_probs(model: Transformer, inputs: jax.Array, targets: jax.Array) -> jax.Array:
    h, _, _ = hidden(model, inputs)
    log_p = jax.nn.log_softmax(_logits(model, h), axis=-1)
    return jnp.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]


@eqx.filter_jit
def target_log_probs(model: Transformer, inputs: jax.Array, targets: jax.Array) -> jax.Array:
    """(B, T) ln p(targets[:, t] | inputs[:, :t+1]) in float32."""
    TRACES["target_log_probs"] += 1
    return _target_log_probs(model, inputs, targets)


@eqx.filter_jit
def prefill(
    model: Transformer, inputs: jax.Array, last: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Logits (B, V) at position ``last`` of (B, T) inputs, and the keys / values of all T
    positions (the decoding cache; positions after ``last`` are overwritten before use)."""
    TRACES["prefill"] += 1
    h, keys, values = hidden(model, inputs)
    return _logits(model, h[:, last]), keys, values


@eqx.filter_jit(donate="all-except-first")
def step(
    model: Transformer,
    keys: jax.Array,
    values: jax.Array,
    tokens: jax.Array,
    position: jax.Array,
    parents: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One cached decoding step: rows take the cache of ``parents`` (beam search; identity when
    sampling), ``tokens`` (B,) enter at ``position``; returns the next logits (B, V) and the
    cache."""
    TRACES["step"] += 1
    keys, values = keys[:, parents], values[:, parents]
    num_layers, size = model.ln1_w.shape[0], keys.shape[3]
    h = model.token_embedding[tokens] + model.position_embedding[position]
    visible = jnp.arange(size) <= position
    for i in range(num_layers):
        a = _layer_norm(h, model.ln1_w[i], model.ln1_b[i])
        q, k, v = jnp.split(a @ model.qkv_w[i].T + model.qkv_b[i], 3, axis=-1)
        q, k, v = (_split_heads(z, model.num_heads) for z in (q, k, v))  # (B, heads, dh)
        keys = keys.at[i, :, :, position].set(k)
        values = values.at[i, :, :, position].set(v)
        scores = jnp.einsum("bhd,bhtd->bht", q, keys[i]) / math.sqrt(q.shape[-1])
        weights = jax.nn.softmax(jnp.where(visible, scores, -jnp.inf), axis=-1)
        o = jnp.einsum("bht,bhtd->bhd", weights, values[i]).reshape(h.shape)
        h = h + o @ model.out_w[i].T + model.out_b[i]
        h = h + _mlp(model, i, h)
    return _logits(model, h), keys, values


def _optimizer(learning_rate: float) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(CLIP_NORM),
        optax.adamw(learning_rate, weight_decay=WEIGHT_DECAY),
    )


#: AdamW with the learning rate a traced hyperparameter (one compiled step for every rate).
OPTIMIZER = optax.inject_hyperparams(_optimizer)(learning_rate=1e-3)


def init_optimizer(model: Transformer, learning_rate: float) -> optax.OptState:
    """A fresh AdamW state for ``model`` at ``learning_rate``."""
    state = OPTIMIZER.init(eqx.filter(model, eqx.is_array))
    state.hyperparams["learning_rate"] = jnp.asarray(learning_rate, dtype=jnp.float32)
    return state


@eqx.filter_jit
def train_step(
    model: Transformer,
    state: optax.OptState,
    inputs: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
) -> tuple[Transformer, optax.OptState, jax.Array]:
    """One AdamW step on the weighted mean cross-entropy of a (B, T) batch (weights (B,): 1 for
    a real row, 0 for padding); returns the model, the state and the loss before the step."""
    TRACES["train_step"] += 1

    def loss_fn(m: Transformer) -> jax.Array:
        nll = -_target_log_probs(m, inputs, targets)
        return (nll * weights[:, None]).sum() / (weights.sum() * inputs.shape[1])

    loss, grads = eqx.filter_value_and_grad(loss_fn)(model)
    updates, state = OPTIMIZER.update(grads, state, eqx.filter(model, eqx.is_array))
    return eqx.apply_updates(model, updates), state, loss
