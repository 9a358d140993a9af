"""Exact random variate samplers for the jax kernels, written for ``vmap`` (family-agnostic).

Under ``vmap`` a ``lax.while_loop`` runs its body over the whole batch until its slowest lane
is done, so a rejection sampler costs (iterations of the unluckiest of W lanes) x W draws.
``jax.random.gamma`` draws one candidate per iteration and splits its key in every iteration;
with W = 16384 lanes some lane almost always needs a second and third try.
:func:`gamma` draws :data:`GAMMA_TRIES` Marsaglia–Tsang candidates at once from one key and
keeps the first accepted; only when some lane rejected all of them (probability about
``W * 1e-3^2`` for shape 49.5) does the batch run the fallback loop. Same law as
``jax.random.gamma`` (exact: Marsaglia & Tsang 2000, as ``collapse_theory._samplers``), other
numbers. Measured by ``python -m benchmarks.gpu --profile`` (``benchmarks/results/jax_cpu.md``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["GAMMA_TRIES", "chisquare", "gamma"]

#: Marsaglia–Tsang candidates drawn at once per lane by :func:`gamma`.
GAMMA_TRIES = 2


def _candidates(key: Any, d: Any, c: Any, dtype: Any) -> tuple[Any, Any]:
    """(accepted, value), elementwise over ``d``: the first accepted of :data:`GAMMA_TRIES`
    candidates ``d v``, ``v = (1 + c x)^3``, accepted when ``log u < x^2/2 + d - d v + d log v``."""
    k_x, k_u = jax.random.split(key)
    x = jax.random.normal(k_x, (*d.shape, GAMMA_TRIES), dtype)
    u = jax.random.uniform(k_u, (*d.shape, GAMMA_TRIES), dtype)
    d, c = d[..., None], c[..., None]
    v = (1 + c * x) ** 3
    positive = v > 0
    log_v = jnp.log(jnp.where(positive, v, 1))
    ok = positive & (jnp.log(u) < 0.5 * x * x + d - d * v + d * log_v)
    first = jnp.argmax(ok, axis=-1)
    value = jnp.take_along_axis(d * v, first[..., None], axis=-1)[..., 0]
    return jnp.any(ok, axis=-1), value


def gamma(key: Any, shape: Any, dtype: Any = jnp.float64) -> Any:
    """Gamma(shape, 1) draws, one per element of ``shape`` (> 0).

    Marsaglia & Tsang (2000) for ``a = shape`` (``shape + 1`` below 1, times ``U^(1/shape)``),
    :data:`GAMMA_TRIES` candidates at once, a ``while_loop`` over fresh candidates only while
    some element rejected them all.
    """
    shape = jnp.asarray(shape, dtype)
    boosted = shape < 1
    a = jnp.where(boosted, shape + 1, shape)
    d = a - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)
    k_first, k_more, k_boost = jax.random.split(key, 3)
    done, value = _candidates(k_first, d, c, dtype)

    def more(state: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
        done, value, attempt = state
        accepted, fresh = _candidates(jax.random.fold_in(k_more, attempt), d, c, dtype)
        return done | accepted, jnp.where(done, value, fresh), attempt + 1

    state = (done, value, jnp.zeros((), jnp.int32))
    _, value, _ = lax.while_loop(lambda s: ~jnp.all(s[0]), more, state)
    u = jax.random.uniform(k_boost, shape.shape, dtype)
    return value * jnp.where(boosted, u ** (1 / jnp.where(boosted, shape, 1)), 1)


def chisquare(key: Any, dof: Any, dtype: Any = jnp.float64) -> Any:
    """chi2_dof = 2 Gamma(dof / 2) where dof > 0, 0 elsewhere (elementwise)."""
    dof = jnp.asarray(dof, dtype)
    positive = dof > 0
    return jnp.where(positive, 2 * gamma(key, jnp.where(positive, dof / 2, 1), dtype), 0)
