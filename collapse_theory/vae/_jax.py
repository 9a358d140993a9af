"""The VAE in equinox + optax (docs/theory.md §7.1): networks, training, sampling, encoding, ELBO.

Imported only inside functions (``collapse_theory.vae`` imports no jax). Every compiled function
is built once per (settings, image side, sizes) and cached: a run's generations and chains reuse
it (training takes the dataset in a fixed-capacity buffer with the number of valid rows as a
traced value, so the Accumulate pool's growth compiles nothing new).
"""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from collapse_theory.vae.model import VAEConfig

#: Rows per call when encoding or scoring many images (bounded memory, one compiled shape).
CHUNK = 512


class MLPVAE(eqx.Module):
    """Pixels -> hidden -> hidden -> (mu, log var); z -> hidden -> hidden -> pixel logits."""

    encoder: eqx.nn.MLP
    decoder: eqx.nn.MLP
    latent_dim: int = eqx.field(static=True)
    side: int = eqx.field(static=True)

    def __init__(self, config: VAEConfig, side: int, key: jax.Array) -> None:
        k1, k2 = jax.random.split(key)
        pixels = side * side
        self.encoder = eqx.nn.MLP(pixels, 2 * config.latent_dim, config.hidden, 2, key=k1)
        self.decoder = eqx.nn.MLP(config.latent_dim, pixels, config.hidden, 2, key=k2)
        self.latent_dim, self.side = config.latent_dim, side

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = self.encoder(x.reshape(-1))
        return h[: self.latent_dim], h[self.latent_dim :]

    def decode(self, z: jax.Array) -> jax.Array:
        return self.decoder(z).reshape(self.side, self.side)


class ConvVAE(eqx.Module):
    """The paper's shape: conv(1->c, 4, /2), conv(c->2c, 4, /2), linear -> (mu, log var);
    linear, transposed conv(2c->c), transposed conv(c->1) -> pixel logits."""

    conv1: eqx.nn.Conv2d
    conv2: eqx.nn.Conv2d
    to_latent: eqx.nn.Linear
    from_latent: eqx.nn.Linear
    deconv2: eqx.nn.ConvTranspose2d
    deconv1: eqx.nn.ConvTranspose2d
    latent_dim: int = eqx.field(static=True)
    side: int = eqx.field(static=True)
    capacity: int = eqx.field(static=True)

    def __init__(self, config: VAEConfig, side: int, key: jax.Array) -> None:
        keys = jax.random.split(key, 6)
        c, quarter = config.capacity, side // 4
        flat = 2 * c * quarter * quarter
        self.conv1 = eqx.nn.Conv2d(1, c, 4, stride=2, padding=1, key=keys[0])
        self.conv2 = eqx.nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, key=keys[1])
        self.to_latent = eqx.nn.Linear(flat, 2 * config.latent_dim, key=keys[2])
        self.from_latent = eqx.nn.Linear(config.latent_dim, flat, key=keys[3])
        self.deconv2 = eqx.nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, key=keys[4])
        self.deconv1 = eqx.nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1, key=keys[5])
        self.latent_dim, self.side, self.capacity = config.latent_dim, side, c

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = jax.nn.relu(self.conv1(x[None]))
        h = jax.nn.relu(self.conv2(h))
        h = self.to_latent(h.reshape(-1))
        return h[: self.latent_dim], h[self.latent_dim :]

    def decode(self, z: jax.Array) -> jax.Array:
        quarter = self.side // 4
        h = self.from_latent(z).reshape(2 * self.capacity, quarter, quarter)
        h = jax.nn.relu(self.deconv2(jax.nn.relu(h)))
        return self.deconv1(h)[0]


def new_model(config: VAEConfig, side: int, key: jax.Array) -> eqx.Module:
    """A freshly initialised VAE."""
    kind = ConvVAE if config.architecture == "conv" else MLPVAE
    return kind(config, side, key)


def _log_likelihood(config: VAEConfig, logits: jax.Array, x: jax.Array) -> jax.Array:
    if config.decoder == "bernoulli":
        return -jnp.sum(optax.sigmoid_binary_cross_entropy(logits, x))
    s = config.pixel_std
    resid = (x - jax.nn.sigmoid(logits)) / s
    return jnp.sum(-0.5 * resid**2 - math.log(s) - 0.5 * math.log(2 * math.pi))


def elbo_one(config: VAEConfig, model: eqx.Module, x: jax.Array, key: jax.Array) -> jax.Array:
    """One-draw ELBO estimate of one image (nats): log p(x|z) - KL(q(z|x) || N(0, I))."""
    mu, logvar = model.encode(x)
    z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape)
    kl = 0.5 * jnp.sum(jnp.exp(logvar) + mu**2 - 1.0 - logvar)
    return _log_likelihood(config, model.decode(z), x) - kl


@functools.lru_cache(maxsize=32)
def trainer(config: VAEConfig, num_steps: int):
    """The compiled training run: ``train(model, buffer, num_valid, key) -> (model, losses)``.

    Each of ``num_steps`` Adam steps draws ``batch_size`` rows uniformly (with replacement) from
    the first ``num_valid`` rows of ``buffer``; the losses are the minibatch mean negative ELBO.
    """
    optimizer = optax.adam(config.learning_rate)

    def loss(params, static, x, key):
        model = eqx.combine(params, static)
        keys = jax.random.split(key, x.shape[0])
        return -jnp.mean(jax.vmap(lambda xi, ki: elbo_one(config, model, xi, ki))(x, keys))

    @eqx.filter_jit
    def train(model, buffer, num_valid, key):
        params, static = eqx.partition(model, eqx.is_inexact_array)
        state = optimizer.init(params)

        def step(carry, key):
            params, state = carry
            pick, noise = jax.random.split(key)
            rows = jax.random.randint(pick, (config.batch_size,), 0, num_valid)
            value, grads = jax.value_and_grad(loss)(params, static, buffer[rows], noise)
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), value

        (params, _), losses = jax.lax.scan(step, (params, state), jax.random.split(key, num_steps))
        return eqx.combine(params, static), losses

    return train


@functools.lru_cache(maxsize=32)
def sampler(config: VAEConfig):
    """The compiled generator: ``generate(model, z, key) -> images`` (pixel means, or a draw
    from the pixel likelihood when ``config.pixels == "sample"``), clipped to [0, 1]."""

    @eqx.filter_jit
    def generate(model, z, key):
        means = jax.nn.sigmoid(jax.vmap(model.decode)(z))
        if config.pixels == "mean":
            return means
        if config.decoder == "bernoulli":
            return jax.random.bernoulli(key, means).astype(means.dtype)
        noisy = means + config.pixel_std * jax.random.normal(key, means.shape)
        return jnp.clip(noisy, 0.0, 1.0)

    return generate


@eqx.filter_jit
def _encode_means(model, x):
    return jax.vmap(model.encode)(x)[0]


@functools.lru_cache(maxsize=32)
def _scorer(config: VAEConfig, num_draws: int):
    @eqx.filter_jit
    def score(model, x, key):
        keys = jax.random.split(key, (x.shape[0], num_draws))
        one = lambda xi, ks: jnp.mean(jax.vmap(lambda k: elbo_one(config, model, xi, k))(ks))  # noqa: E731
        return jax.vmap(one)(x, keys)

    return score


def _chunked(function, images: np.ndarray) -> np.ndarray:
    """``function(chunk, index)`` over fixed-size chunks (the last one padded)."""
    n = len(images)
    padded = -(-n // CHUNK) * CHUNK
    buffer = np.zeros((padded, *images.shape[1:]), np.float32)
    buffer[:n] = images
    parts = [
        np.asarray(function(jnp.asarray(buffer[i : i + CHUNK]), i)) for i in range(0, padded, CHUNK)
    ]
    return np.concatenate(parts)[:n]


def encode_means(model: eqx.Module, images: np.ndarray) -> np.ndarray:
    """Encoder means mu(x), shape (n, d)."""
    return _chunked(lambda x, _: _encode_means(model, x), images)


def elbo(
    config: VAEConfig, model: eqx.Module, images: np.ndarray, key: jax.Array, num_draws: int = 4
) -> np.ndarray:
    """Per-image ELBO (nats), each the mean of ``num_draws`` one-draw estimates."""
    score = _scorer(config, num_draws)
    return _chunked(lambda x, i: score(model, x, jax.random.fold_in(key, i)), images)


def key_from(seed_sequence: np.random.SeedSequence) -> jax.Array:
    """A jax key from a numpy SeedSequence (its first two 32-bit words)."""
    words = seed_sequence.generate_state(2, dtype=np.uint32)
    return jax.random.wrap_key_data(jnp.asarray(words, dtype=jnp.uint32))
