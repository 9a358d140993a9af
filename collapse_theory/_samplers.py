"""Exact random variate samplers for numba kernels, driven by a numpy ``Generator``, and the
one-signature entry points of the kernels that call them.

The small samplers are inlined into their callers (``inline="always"``): a jitted call that
passes the Generator costs about 5 ns in reference counting, as much as a normal draw.
:func:`binomial` is the exception: it holds two rejection samplers, and inlining it at every
call site multiplied the code numba and LLVM compile (with two copies of each sampler in each
of the categorical kernel's three multinomials, that kernel took about 25 s of CPU to compile;
with one compiled binomial, 5 s). The extra call per draw did not change the simulators' run
times beyond their run-to-run noise (K = 4 and K = 30 chains, fresh data, 1-D Gaussian).

They replace the ``Generator`` methods where those are slower than needed in a hot loop:

- :func:`binomial`: cost bounded independently of n (inversion for means below 10, Hörmann's
  BTRS transformed rejection otherwise), for multinomials at any sample size.
- :func:`standard_gamma` and :func:`chisquare`: Marsaglia & Tsang's squeeze method (one normal
  and one exponential per draw, almost always), about three times faster than
  ``Generator.standard_gamma`` through numba's generic path.

:func:`one_signature` turns a kernel into an entry point compiled for one declared signature
at its first call (not at import) and never again: a run compiles only the kernels it uses,
once each, whatever the layout of the arrays it passes.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, types
from numba.core.dispatcher import Dispatcher

from collapse_theory.regimes import FRESH_MIX, FRESH_SPLIT

# log(k!) - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi)/2] for k = 0..9 (Stirling tail).
_STIRLING_TAIL = np.array(
    [
        0.0810614667953272,
        0.0413406959554092,
        0.0276779256849983,
        0.02079067210376509,
        0.0166446911898211,
        0.0138761288230707,
        0.0118967099458917,
        0.0104112652619720,
        0.00925546218271273,
        0.00833056343336287,
    ]
)


@njit(cache=True, nogil=True, inline="always")
def _stirling_tail(k: float) -> float:
    if k <= 9:
        return _STIRLING_TAIL[int(k)]
    kp1sq = (k + 1.0) * (k + 1.0)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1.0)


@njit(cache=True, nogil=True, inline="always")
def _binomial_inversion(rng, n: int, p: float) -> int:
    """Sequential search from 0 (mean n*p < 10, p <= 1/2)."""
    q = 1.0 - p
    s = p / q
    a = (n + 1) * s
    r0 = math.exp(n * math.log1p(-p))
    bound = min(n, int(n * p + 10.0 * math.sqrt(n * p * q + 1.0)))
    while True:
        u = rng.random()
        r = r0
        x = 0
        while u > r:
            u -= r
            x += 1
            if x > bound:
                break
            r *= a / x - s
        if x <= bound:
            return x


@njit(cache=True, nogil=True, inline="always")
def _binomial_btrs(rng, n: int, p: float) -> int:
    """Hörmann (1993) BTRS transformed rejection with squeeze (mean n*p >= 10, p <= 1/2)."""
    q = 1.0 - p
    spq = math.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    r = p / q
    m = math.floor((n + 1) * p)
    while True:
        u = rng.random() - 0.5
        v = rng.random()
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:
            return int(k)
        v = math.log(v * alpha / (a / (us * us) + b))
        upper = (
            (m + 0.5) * math.log((m + 1.0) / (r * (n - m + 1.0)))
            + (n + 1.0) * math.log1p((k - m) / (n - k + 1.0))
            + (k + 0.5) * math.log(r * (n - k + 1.0) / (k + 1.0))
            + _stirling_tail(m)
            + _stirling_tail(n - m)
            - _stirling_tail(k)
            - _stirling_tail(n - k)
        )
        if v <= upper:
            return int(k)


@njit(cache=True, nogil=True)
def binomial(rng, n: int, p: float) -> int:
    """One exact Binomial(n, p) draw; cost bounded independently of n.

    Draws Binomial(n, q), q = min(p, 1 - p), and returns n minus it when p > 1/2 (one copy of
    each sampler in the compiled code).
    """
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flip = p > 0.5
    q = 1.0 - p if flip else p
    draw = _binomial_inversion(rng, n, q) if n * q < 10.0 else _binomial_btrs(rng, n, q)
    return n - draw if flip else draw


@njit(cache=True, nogil=True, inline="always")
def gamma_constants(shape: float) -> tuple[float, float]:
    """(d, c) of Marsaglia & Tsang's method for shape >= 1: d = shape - 1/3, c = 1/sqrt(9d)."""
    d = shape - 1.0 / 3.0
    return d, 1.0 / math.sqrt(9.0 * d)


@njit(cache=True, nogil=True, inline="always")
def gamma_from_constants(rng, d: float, c: float) -> float:
    """One Gamma(d + 1/3, 1) draw given :func:`gamma_constants` (Marsaglia & Tsang 2000)."""
    while True:
        x = rng.standard_normal()
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        # With u = exp(-e), e ~ Exp(1) (a ziggurat draw, cheaper than a uniform): the squeeze
        # u < 1 - y holds whenever e > y / (1 - y) >= -log(1 - y), and log u = -e exactly.
        e = rng.standard_exponential()
        y = 0.0331 * (x * x) * (x * x)
        if y < 1.0 and e * (1.0 - y) > y:
            return d * v
        if -e < 0.5 * x * x + d * (1.0 - v + math.log(v)):
            return d * v


@njit(cache=True, nogil=True, inline="always")
def standard_gamma(rng, shape: float) -> float:
    """One Gamma(shape, 1) draw (Marsaglia & Tsang 2000); shape < 1 via G(shape+1) U^(1/shape)."""
    if shape <= 0.0:
        return 0.0
    boost = 1.0
    if shape < 1.0:
        boost = rng.random() ** (1.0 / shape)
        shape += 1.0
    d, c = gamma_constants(shape)
    return gamma_from_constants(rng, d, c) * boost


@njit(cache=True, nogil=True, inline="always")
def chisquare(rng, df: float) -> float:
    """One chi-square draw with ``df`` degrees of freedom (0 for df <= 0)."""
    return 2.0 * standard_gamma(rng, 0.5 * df) if df > 0 else 0.0


@njit(cache=True, nogil=True, inline="always")
def uniform_index(rng, start, stop):
    """A uniform integer in [start, stop) as ``start + floor(U (stop - start))``, U = rng.random():
    about 15 times cheaper than ``rng.integers`` in numba; the probabilities are uniform to
    within (stop - start) 2^-53."""
    return min(start + int(rng.random() * (stop - start)), stop - 1)


@njit(cache=True, nogil=True, inline="always")
def uniform_subset(rng, index, size, count):
    """``index[:count]`` <- a uniform ``count``-subset of range(size), by a partial
    Fisher-Yates shuffle of ``index[:size]``."""
    for i in range(size):
        index[i] = i
    for i in range(count):
        j = uniform_index(rng, i, size)
        index[i], index[j] = index[j], index[i]


@njit(cache=True, nogil=True, inline="always")
def fresh_draw_count(rng, regime, size, split_count, fraction) -> int:
    """How many of a dataset's ``size`` points come from the original model: ``split_count``
    (FreshData "split", round(fraction size)), Binomial(size, fraction) ("mix"), else 0."""
    if regime == FRESH_SPLIT:
        return split_count
    if regime == FRESH_MIX:
        return binomial(rng, size, fraction)
    return 0


#: The numba type of a numpy ``Generator`` (any bit generator) passed to a kernel.
RNG = types.NumPyRandomGeneratorType("NumPyRandomGeneratorType")


def one_signature(kernel: Dispatcher, signature: types.Signature) -> Callable[..., Any]:
    """``kernel`` as an entry point with exactly one compiled signature.

    The first call compiles ``signature`` (or loads it from numba's on-disk cache), then locks
    the kernel: later calls convert their arguments to it (an array typed with layout ``"A"``
    takes contiguous arrays and strided views alike; Python ints and floats convert to the
    declared scalars) and an argument that does not convert raises ``TypeError`` instead of
    compiling a second specialisation. Nothing is compiled at import.
    """
    lock = threading.Lock()
    ready = False

    @functools.wraps(kernel.py_func)
    def entry(*args: Any) -> Any:
        nonlocal ready
        if not ready:
            with lock:  # simulator threads may make the first call together
                if not ready:
                    kernel.compile(signature)
                    kernel.disable_compile()
                    ready = True
        return kernel(*args)

    entry.kernel = kernel  # type: ignore[attr-defined]
    entry.signature = signature  # type: ignore[attr-defined]
    return entry
