"""Numba kernels of the n-gram language models: sampling (with policies and a repetition penalty)
and beam search (docs/theory.md §11.1).

The model is a set of count tables (built in numpy by :mod:`collapse_theory.lm.ngram`), one CSR
over the contexts of all levels: context ``g`` (level h = context length) has the followers
``tok[row_ptr[g]:row_ptr[g + 1]]`` (sorted) with counts ``cnt`` (continuation counts below the
top level for Kneser-Ney) and their within-row cumulative sums ``cum`` (of ``cnt - discount``
for Kneser-Ney); level h's contexts are the global ids ``ctx_base[h] .. ctx_base[h + 1] - 1``,
found by binary search of the packed key ``parent * (V + 1) + older token`` in ``keys``.
Each history row starts with ``order - 1`` copies of BOS = V.

Plain sampling (no policy, no penalty) draws the next token exactly from the model's mixture
without forming the distribution: one uniform walks down the levels (Kneser-Ney: discounted
counts of level h with probability ``1 - D N/c``, else the next level down, finally uniform),
with rejection of ``<unk>`` (= conditioning on a token != 0). Anything else forms the dense
next-token distribution (O(V) per token). Each entry kernel has one signature.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from collapse_theory._samplers import RNG, one_signature
from collapse_theory.categorical._numba import apply_policy

MLE, ADD, KN = 0, 1, 2
#: Rejections of <unk> before the plain sampler falls back to the dense distribution.
MAX_REJECTIONS = 64
#: Status codes returned in ``status[0]``.
OK, NO_TOKEN = 0, 1


@njit(cache=True, nogil=True, inline="always")
def _find(keys, lo, hi, key):
    """Index of ``key`` in the sorted ``keys[lo:hi]``, or -1."""
    a = lo
    b = hi
    while a < b:
        m = (a + b) >> 1
        if keys[m] < key:
            a = m + 1
        else:
            b = m
    if a < hi and keys[a] == key:
        return a
    return -1


@njit(cache=True, nogil=True, inline="always")
def _context_ids(row, pos, order, base, keys, ctx_base, ids):
    """ids[h] = global id of the length-h context before row[pos], -1 if unseen; returns the top
    seen level."""
    ids[0] = 0
    local = 0
    top = 0
    for h in range(1, order):
        if local >= 0:
            lo = ctx_base[h]
            g = _find(keys, lo, ctx_base[h + 1], local * base + row[pos - h])
            ids[h] = g
            if g >= 0:
                local = g - lo
                top = h
            else:
                local = -1
        else:
            ids[h] = -1
    return top


@njit(cache=True, nogil=True, inline="always")
def _only_unk(row_ptr, tok, g):
    return row_ptr[g + 1] - row_ptr[g] == 1 and tok[row_ptr[g]] == 0


@njit(cache=True, nogil=True, inline="always")
def _walk(row_ptr, cum, tok, g, target):
    """First follower of context g whose cumulative weight exceeds ``target``."""
    lo = row_ptr[g]
    hi = row_ptr[g + 1]
    a = lo
    b = hi - 1
    while a < b:
        m = (a + b) >> 1
        if cum[m] > target:
            b = m
        else:
            a = m + 1
    return tok[a]


@njit(cache=True, nogil=True, inline="always")
def _mle_level(ids, top, row_ptr, tok):
    """The level MLE samples from: the top seen one, skipping rows holding only <unk>."""
    h = top
    while h > 0 and _only_unk(row_ptr, tok, ids[h]):
        h -= 1
    return h


@njit(cache=True, nogil=True, inline="always")
def _draw_once(rng, ids, top, order, vocab, kind, alpha, discount, row_ptr, tok, cnt, cum, total):
    """One draw from the model's next-token distribution (may be 0 = <unk>)."""
    if kind == MLE:
        g = ids[_mle_level(ids, top, row_ptr, tok)]
        return _walk(row_ptr, cum, tok, g, rng.random() * total[g])
    if kind == ADD:
        g = ids[order - 1]
        if g < 0:
            return min(int(rng.random() * vocab), vocab - 1)
        u = rng.random() * (total[g] + alpha * vocab)
        if u < total[g]:
            return _walk(row_ptr, cum, tok, g, u)
        return min(int((u - total[g]) / alpha), vocab - 1)
    u = rng.random()
    for h in range(top, -1, -1):
        g = ids[h]
        c = total[g]
        followers = row_ptr[g + 1] - row_ptr[g]
        mass = (c - discount * followers) / c
        if u < mass:
            return _walk(row_ptr, cum, tok, g, u * c)
        u = (u - mass) / (1.0 - mass)
    return min(int(u * vocab), vocab - 1)


@njit(cache=True, nogil=True, inline="always")
def _dense(ids, top, order, vocab, kind, alpha, discount, row_ptr, tok, cnt, total, p):
    """p = the model's next-token distribution (MLE skips rows holding only <unk>)."""
    if kind == MLE:
        g = ids[_mle_level(ids, top, row_ptr, tok)]
        p[:] = 0.0
        for e in range(row_ptr[g], row_ptr[g + 1]):
            p[tok[e]] = cnt[e] / total[g]
    elif kind == ADD:
        g = ids[order - 1]
        if g < 0:
            p[:] = 1.0 / vocab
        else:
            denom = total[g] + alpha * vocab
            p[:] = alpha / denom
            for e in range(row_ptr[g], row_ptr[g + 1]):
                p[tok[e]] += cnt[e] / denom
    else:
        p[:] = 1.0 / vocab
        for h in range(top + 1):
            g = ids[h]
            c = total[g]
            gamma = discount * (row_ptr[g + 1] - row_ptr[g]) / c
            for w in range(vocab):
                p[w] *= gamma
            for e in range(row_ptr[g], row_ptr[g + 1]):
                p[tok[e]] += (cnt[e] - discount) / c


@njit(cache=True, nogil=True, inline="always")
def _penalise(p, row, first, pos, penalty, stamp, mark):
    """p[w] -> p[w]^penalty for tokens w in row[first:pos]; renormalise (<unk> already 0)."""
    for j in range(first, pos):
        stamp[row[j]] = mark
    vocab = p.size
    unseen = 0.0
    for w in range(vocab):
        if stamp[w] != mark:
            unseen += p[w]
    if unseen > 0.0:
        for j in range(first, pos):
            w = row[j]
            if stamp[w] == mark and p[w] > 0.0:
                p[w] = np.exp(penalty * np.log(p[w]))
                stamp[w] = mark - 1  # penalised once
    else:  # every token of positive probability was seen: scale in log space
        largest = -np.inf
        for w in range(vocab):
            if p[w] > 0.0:
                largest = max(largest, penalty * np.log(p[w]))
        for w in range(vocab):
            if p[w] > 0.0:
                p[w] = np.exp(penalty * np.log(p[w]) - largest)
    total = 0.0
    for w in range(vocab):
        total += p[w]
    for w in range(vocab):
        p[w] /= total


@njit(cache=True, nogil=True, inline="always")
def _next_law(ids, top, order, vocab, kind, alpha, discount, row_ptr, tok, cnt, total, p, row,
              pos, penalty, stamp, mark):  # fmt: skip
    """p = the model's next-token law at row[pos] with <unk> removed and renormalised, then the
    repetition penalty; returns the stamp mark to use next."""
    _dense(ids, top, order, vocab, kind, alpha, discount, row_ptr, tok, cnt, total, p)
    p[0] = 0.0
    mass = 0.0
    for v in range(vocab):
        mass += p[v]
    for v in range(vocab):
        p[v] /= mass
    if penalty != 1.0:
        mark += 2
        _penalise(p, row, order - 1, pos, penalty, stamp, mark)
    return mark


@njit(cache=True, nogil=True)
def _sample_block(rng, hist, start, order, vocab, kind, alpha, discount, keys, ctx_base, row_ptr,
                  tok, cnt, cum, total, codes, params, penalty, status):  # fmt: skip
    """Fill hist[:, start:] by sampling; status[0] = NO_TOKEN if a policy left no token."""
    num_seq, width = hist.shape
    base = vocab + 1
    ids = np.empty(order, np.int64)
    plain = codes.size == 0 and penalty == 1.0
    p = np.empty(vocab)
    weights = np.empty(vocab)
    states = np.empty(vocab, np.int64)
    ranked = np.empty(vocab, np.int64)
    stamp = np.zeros(vocab + 1, np.int64)
    mark = 0
    for s in range(num_seq):
        row = hist[s]
        for pos in range(start, width):
            top = _context_ids(row, pos, order, base, keys, ctx_base, ids)
            w = -1
            if plain:
                for _ in range(MAX_REJECTIONS):
                    w = _draw_once(rng, ids, top, order, vocab, kind, alpha, discount, row_ptr,
                                   tok, cnt, cum, total)  # fmt: skip
                    if w != 0:
                        break
                if w == 0:
                    w = -1
            if w < 0:
                mark = _next_law(ids, top, order, vocab, kind, alpha, discount, row_ptr, tok, cnt,
                                 total, p, row, pos, penalty, stamp, mark)  # fmt: skip
                num_states = 0
                for v in range(1, vocab):
                    if p[v] > 0.0:
                        states[num_states] = v
                        num_states += 1
                apply_policy(p, states, num_states, codes, params, weights, ranked)
                u = rng.random()
                acc = 0.0
                for j in range(num_states):
                    acc += weights[states[j]]
                if not acc > 0.0:
                    status[0] = NO_TOKEN
                    return
                u *= acc
                acc = 0.0
                w = -1
                for j in range(num_states):
                    v = states[j]
                    if weights[v] > 0.0:
                        acc += weights[v]
                        w = v
                        if u < acc:
                            break
            row[pos] = w
    status[0] = OK


@njit(cache=True, nogil=True)
def _beam_block(hist, start, beam, order, vocab, kind, alpha, discount, keys, ctx_base, row_ptr,
                tok, cnt, total, penalty, status):  # fmt: skip
    """Beam search: hist[s, start:] = the best continuation by total log-probability (after
    removing <unk> and the penalty); ties go to the earlier beam, then the lower token id."""
    num_seq, width = hist.shape
    base = vocab + 1
    ids = np.empty(order, np.int64)
    p = np.empty(vocab)
    beams = np.empty((beam, width), np.int32)
    new_beams = np.empty((beam, width), np.int32)
    scores = np.empty(beam)
    best_score = np.empty(beam)
    best_beam = np.empty(beam, np.int64)
    best_token = np.empty(beam, np.int64)
    stamp = np.zeros(vocab + 1, np.int64)
    mark = 0
    for s in range(num_seq):
        beams[0, :] = hist[s]
        scores[0] = 0.0
        alive = 1
        for pos in range(start, width):
            kept = 0
            for b in range(alive):
                row = beams[b]
                top = _context_ids(row, pos, order, base, keys, ctx_base, ids)
                mark = _next_law(ids, top, order, vocab, kind, alpha, discount, row_ptr, tok, cnt,
                                 total, p, row, pos, penalty, stamp, mark)  # fmt: skip
                # a candidate enters only if p[v] > exp(worst kept - score of b): no log needed
                floor = 0.0
                if kept == beam:
                    floor = np.exp(best_score[beam - 1] - scores[b]) * (1.0 - 1e-12)
                for v in range(1, vocab):
                    if p[v] <= 0.0 or p[v] < floor:
                        continue
                    score = scores[b] + np.log(p[v])
                    if kept == beam and score <= best_score[kept - 1]:
                        continue
                    j = kept if kept < beam else beam - 1
                    while j > 0 and best_score[j - 1] < score:
                        if j < beam:
                            best_score[j] = best_score[j - 1]
                            best_beam[j] = best_beam[j - 1]
                            best_token[j] = best_token[j - 1]
                        j -= 1
                    best_score[j] = score
                    best_beam[j] = b
                    best_token[j] = v
                    if kept < beam:
                        kept += 1
                    if kept == beam:
                        floor = np.exp(best_score[beam - 1] - scores[b]) * (1.0 - 1e-12)
            if kept == 0:
                status[0] = NO_TOKEN
                return
            for k in range(kept):
                new_beams[k, :pos] = beams[best_beam[k], :pos]
                new_beams[k, pos] = best_token[k]
                scores[k] = best_score[k]
            for k in range(kept):
                beams[k, : pos + 1] = new_beams[k, : pos + 1]
            alive = kept
        hist[s, start:] = beams[0, start:]
    status[0] = OK


_I64 = types.int64
_F64 = types.float64
_HIST = types.int32[:, ::1]
_TABLES = (types.int64[::1], types.int64[::1], types.int64[::1], types.int32[::1],
           types.float64[::1])  # fmt: skip
SAMPLE_SIGNATURE = types.void(
    RNG, _HIST, _I64, _I64, _I64, _I64, _F64, _F64, *_TABLES, types.float64[::1],
    types.float64[::1], types.int64[::1], types.float64[::1], _F64, types.int64[::1],
)  # fmt: skip
BEAM_SIGNATURE = types.void(
    _HIST, _I64, _I64, _I64, _I64, _I64, _F64, _F64, *_TABLES, types.float64[::1], _F64,
    types.int64[::1],
)  # fmt: skip
sample_block = one_signature(_sample_block, SAMPLE_SIGNATURE)
beam_block = one_signature(_beam_block, BEAM_SIGNATURE)
