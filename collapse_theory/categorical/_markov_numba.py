"""Numba kernels for the exact lumped (2-state) Wright–Fisher chain (docs/theory.md §1.4).

The chain's count moves from ``j`` (out of ``m_prev``) to ``Bin(m_next, j / m_prev)``. Rows of the
kernel are built once per (m_prev, m_next) pair and source range, keeping only the band of target
counts that carries all but ``row_tol`` of the row's mass; the dropped mass of every row is stored
so that the propagation can add up exactly how much probability the truncation discarded.

Kept entries are the exact binomial probabilities (normalised over the whole row), so the
truncated kernel is entrywise below the true one: the computed loss probability is a lower
bound and the total dropped mass bounds the error from above.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Row values below this fraction of the row's mode are not computed (mass <= ~1e-36 relative).
_NEGLIGIBLE = 1e-40


@njit(cache=True, nogil=True, inline="always")
def _grown(values: np.ndarray, used: int, size: int) -> np.ndarray:
    """A new array of ``size`` starting with ``values[:used]`` (a loop: a slice assignment
    compiles numpy's broadcasting checks and their error messages, seconds of compile time)."""
    bigger = np.empty(size)
    for i in range(used):
        bigger[i] = values[i]
    return bigger


@njit(cache=True, nogil=True)
def _row(m: int, x: float, y: float, row_tol: float, scratch: np.ndarray):
    """Band of the Bin(m, x) pmf (``y = 1 - x`` passed separately for accuracy).

    Returns (start, length, dropped, scratch) with the kept normalised values in
    ``scratch[:length]`` (``scratch`` may be reallocated and is returned).
    """
    if x <= 0.0:
        scratch[0] = 1.0
        return 0, 1, 0.0, scratch
    if y <= 0.0:
        scratch[0] = 1.0
        return m, 1, 0.0, scratch
    odds = x / y
    mode = int((m + 1) * x)  # floor: the argument is non-negative
    if mode > m:
        mode = m
    # left side, stored reversed in a temporary, then right side
    left = np.empty(64)
    nleft = 0
    t = 1.0
    k = mode
    while k > 0:
        t *= k / ((m - k + 1) * odds)
        if t < _NEGLIGIBLE:
            break
        if nleft >= left.size:
            left = _grown(left, nleft, 2 * left.size)
        left[nleft] = t
        nleft += 1
        k -= 1
    start = mode - nleft
    # right side
    right_cap = scratch.size
    total_len = nleft + 1
    if total_len > right_cap:
        scratch = np.empty(2 * total_len)
    for i in range(nleft):
        scratch[i] = left[nleft - 1 - i]
    scratch[nleft] = 1.0
    t = 1.0
    k = mode
    while k < m:
        t *= (m - k) / (k + 1.0) * odds
        if t < _NEGLIGIBLE:
            break
        if total_len >= scratch.size:
            scratch = _grown(scratch, total_len, 2 * scratch.size)
        scratch[total_len] = t
        total_len += 1
        k += 1
    total = 0.0
    for i in range(total_len):
        total += scratch[i]
    # trim tails: each side may drop at most row_tol / 2 of the mass
    half = 0.5 * row_tol * total
    a = 0
    dropped_left = 0.0
    while a < nleft and dropped_left + scratch[a] <= half:
        dropped_left += scratch[a]
        a += 1
    b = total_len
    dropped_right = 0.0
    while b - 1 > nleft and dropped_right + scratch[b - 1] <= half:
        dropped_right += scratch[b - 1]
        b -= 1
    length = b - a
    inv = 1.0 / total
    for i in range(length):
        scratch[i] = scratch[a + i] * inv
    return start + a, length, (dropped_left + dropped_right) * inv, scratch


@njit(cache=True, nogil=True)
def build_rows(m_next: int, m_prev: int, j_lo: int, j_hi: int, row_tol: float):
    """Banded rows j = j_lo..j_hi of the kernel count j (of m_prev) -> Bin(m_next, j/m_prev).

    Returns (starts, lengths, offsets, data, drops): row r (source j_lo + r) keeps targets
    ``starts[r] .. starts[r] + lengths[r] - 1`` with values ``data[offsets[r]:offsets[r+1]]``
    and dropped mass ``drops[r]``.
    """
    j = np.arange(j_lo, j_hi + 1)
    return build_rows_from(m_next, j / m_prev, (m_prev - j) / m_prev, row_tol)


@njit(cache=True, nogil=True)
def build_rows_from(m_next: int, x: np.ndarray, y: np.ndarray, row_tol: float):
    """Like :func:`build_rows`, but row r goes to Bin(m_next, x[r]) (``y = 1 - x``
    given separately for accuracy): the rows of a policy's two-state chain (docs/theory.md §8.1).
    """
    nrows = x.size
    starts = np.empty(nrows, dtype=np.int64)
    lengths = np.empty(nrows, dtype=np.int64)
    offsets = np.empty(nrows + 1, dtype=np.int64)
    drops = np.empty(nrows)
    data = np.empty(max(1024, 16 * nrows))
    scratch = np.empty(1024)
    pos = 0
    offsets[0] = 0
    for r in range(nrows):
        start, length, dropped, scratch = _row(m_next, x[r], y[r], row_tol, scratch)
        if pos + length > data.size:
            data = _grown(data, pos, max(2 * data.size, pos + length))
        for i in range(length):
            data[pos + i] = scratch[i]
        pos += length
        starts[r] = start
        lengths[r] = length
        drops[r] = dropped
        offsets[r + 1] = pos
    return starts, lengths, offsets, data[:pos].copy(), drops


@njit(cache=True, nogil=True)
def single_row(m: int, x: float, y: float, row_tol: float):
    """The banded Bin(m, x) pmf: (start, values, dropped)."""
    scratch = np.empty(1024)
    start, length, dropped, scratch = _row(m, x, y, row_tol, scratch)
    return start, scratch[:length].copy(), dropped


@njit(cache=True, nogil=True)
def step(
    v: np.ndarray,
    v_lo: int,
    base: int,
    starts: np.ndarray,
    lengths: np.ndarray,
    offsets: np.ndarray,
    data: np.ndarray,
    drops: np.ndarray,
    m_next: int,
    trim_tol: float,
):
    """One generation of the truncated chain on the transient counts.

    ``v[i]`` is the probability of count ``v_lo + i`` (1 <= count <= m_prev - 1); rows are indexed
    by ``count - base``. Returns (new_v, new_lo, to_zero, to_full, dropped): mass absorbed at 0 and
    at m_next this step, and the mass discarded by row bands and by trimming the new support
    (at most ``trim_tol``).
    """
    n = v.size
    out_lo = m_next
    out_hi = 0
    for i in range(n):
        if v[i] == 0.0:
            continue
        r = v_lo + i - base
        s = starts[r]
        e = s + lengths[r] - 1
        if s < out_lo:
            out_lo = s
        if e > out_hi:
            out_hi = e
    if out_hi < out_lo:
        return np.zeros(0), 1, 0.0, 0.0, 0.0
    out = np.zeros(out_hi - out_lo + 1)
    dropped = 0.0
    for i in range(n):
        w = v[i]
        if w == 0.0:
            continue
        r = v_lo + i - base
        dropped += w * drops[r]
        o = starts[r] - out_lo
        d = offsets[r]
        length = lengths[r]
        ob = out[o : o + length]  # slices let LLVM vectorise the axpy
        db = data[d : d + length]
        for t in range(length):
            ob[t] += w * db[t]
    return _absorb_and_trim(out, out_lo, out_hi, m_next, trim_tol, dropped)


@njit(cache=True, nogil=True, inline="always")
def _absorb_and_trim(out, out_lo, out_hi, m_next, trim_tol, dropped):
    """Split the absorbed mass off ``out`` (targets out_lo..out_hi) and trim its transient support.

    Inlined into its two callers: called with constant bounds, a compiled helper got one
    signature per literal (0) it was typed with.
    """
    to_zero = 0.0
    to_full = 0.0
    a = 0
    b = out.size
    if out_lo == 0:
        to_zero = out[0]
        a = 1
    if out_hi == m_next and b > a:
        to_full = out[b - 1]
        b -= 1
    # trim the transient support: drop at most trim_tol / 2 from each end
    half = 0.5 * trim_tol
    cut = 0.0
    while a < b and cut + out[a] <= half:
        cut += out[a]
        a += 1
    cut_right = 0.0
    while b > a and cut_right + out[b - 1] <= half:
        cut_right += out[b - 1]
        b -= 1
    dropped += cut + cut_right
    return out[a:b].copy(), out_lo + a, to_zero, to_full, dropped


@njit(cache=True, nogil=True)
def symmetric_row_range(v_lo: int, v_hi: int, m: int):
    """Rows r <= m // 2 that :func:`step_symmetric` reads for sources v_lo..v_hi."""
    h = m // 2
    r_lo = m
    r_hi = 0
    if v_lo <= h:
        r_lo = v_lo
        r_hi = min(v_hi, h)
    if v_hi > h:
        r_lo = min(r_lo, m - v_hi)
        r_hi = max(r_hi, m - max(v_lo, h + 1))
    return r_lo, r_hi


@njit(cache=True, nogil=True)
def step_symmetric(
    v: np.ndarray,
    v_lo: int,
    base: int,
    starts: np.ndarray,
    lengths: np.ndarray,
    offsets: np.ndarray,
    data: np.ndarray,
    drops: np.ndarray,
    m: int,
    trim_tol: float,
):
    """As :func:`step` for m_prev == m_next == m, using the mirror symmetry of the kernel.

    Row m - r is row r reversed, so each stored row r <= m // 2 serves the sources r and m - r in
    one pass over its values (half the memory traffic). Rows must cover
    ``symmetric_row_range(v_lo, v_hi, m)``.
    """
    v_hi = v_lo + v.size - 1
    r_lo, r_hi = symmetric_row_range(v_lo, v_hi, m)
    out_f = np.zeros(m + 1)
    out_r = np.zeros(m + 1)  # out_r[k] accumulates target m - k
    dropped = 0.0
    for r in range(r_lo, r_hi + 1):
        w1 = v[r - v_lo] if v_lo <= r <= v_hi else 0.0
        j2 = m - r
        w2 = v[j2 - v_lo] if (j2 != r and v_lo <= j2 <= v_hi) else 0.0
        if w1 == 0.0 and w2 == 0.0:
            continue
        i = r - base
        dropped += (w1 + w2) * drops[i]
        o = starts[i]
        d = offsets[i]
        length = lengths[i]
        db = data[d : d + length]
        ob = out_f[o : o + length]
        orb = out_r[o : o + length]
        for t in range(length):
            x = db[t]
            ob[t] += w1 * x
            orb[t] += w2 * x
    out = out_f + out_r[::-1]
    return _absorb_and_trim(out, 0, m, m, trim_tol, dropped)


@njit(cache=True, nogil=True)
def affine_recursion(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x_0 = 0, x_{i+1} = a_i + b_i x_i; returns x_0..x_n."""
    n = a.size
    x = np.empty(n + 1)
    x[0] = 0.0
    for i in range(n):
        x[i + 1] = a[i] + b[i] * x[i]
    return x


@njit(cache=True, nogil=True)
def gw_survival_constant(n: int) -> np.ndarray:
    """u_j = 1 - q_j for the Poisson(1) Galton–Watson process: u_0 = 1, u_j = 1 - exp(-u_{j-1})."""
    u = np.empty(n + 1)
    u[0] = 1.0
    for j in range(n):
        u[j + 1] = -math.expm1(-u[j])
    return u


@njit(cache=True, nogil=True)
def gw_survival_schedule(ratios: np.ndarray) -> float:
    """1 - extinction probability of one lineage under Poisson(ratios[i]) offspring laws applied
    in order (the last generation innermost): u = 1; for i from the end: u = 1 - exp(-r_i u)."""
    u = 1.0
    for i in range(ratios.size - 1, -1, -1):
        u = -math.expm1(-ratios[i] * u)
    return u


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def backward_rows(
    h, hr, support, j_max, r_lo, r_hi, starts, lengths, offsets, data, drops, m, new_h
):
    """Hitting probabilities h_s(j) = P(count hits 0 within s steps | count j), one step, for the
    sources j = r and j = m - r, r = r_lo..r_hi (so that threads can share the rows).

    new_h[j] = sum_k P[j, k] h[k] for 1 <= j <= j_max, with h[0] = 1 and h[k] = 0 for k > support
    (``hr`` is h reversed). Stored rows are j = 1..R (index j - 1, R <= m // 2); a source
    j > m // 2 uses row m - j reversed, P[m - r, k] = P[r, m - k], in the same pass over row r's
    values. Returns the largest truncated row mass used. The dot products may be reassociated
    (``fastmath``) so that they vectorise: sums of non-negative terms, rounded about as well as
    in order.
    """
    half = m // 2
    worst_drop = 0.0
    for r in range(r_lo, min(r_hi, j_max, half) + 1):
        i = r - 1
        o = starts[i]
        length = lengths[i]
        d = offsets[i]
        e = min(o + length, support + 1)
        acc = 0.0
        if e > o:
            db = data[d : d + (e - o)]
            hb = h[o:e]
            for t in range(e - o):
                acc += db[t] * hb[t]
        new_h[r] = acc
        worst_drop = max(worst_drop, drops[i])
        j2 = m - r
        if half < j2 <= j_max:
            s0 = max(o, m - support)  # targets m - k <= support, i.e. k >= m - support
            acc2 = 0.0
            if o + length > s0:
                db2 = data[d + (s0 - o) : d + length]
                hb2 = hr[s0 : o + length]
                for t in range(o + length - s0):
                    acc2 += db2[t] * hb2[t]
            new_h[j2] = acc2
    return worst_drop


@njit(cache=True, nogil=True)
def trim_support(new_h, j_max, thr):
    """Zero the entries below ``thr`` above the last entry >= thr (h decreases in j).

    Returns (new_support, zeroed): whether anything non-zero was zeroed."""
    m = new_h.size - 1
    new_support = 0
    for j in range(min(j_max, m - 1), 0, -1):
        if new_h[j] >= thr:
            new_support = j
            break
    zeroed = False
    for j in range(new_support + 1, m + 1):
        if new_h[j] != 0.0:
            new_h[j] = 0.0
            zeroed = True
    return new_support, zeroed
