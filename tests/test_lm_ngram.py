"""N-gram language models (docs/theory.md §11.1): the numpy count tables and scores against a
slow, obvious Python implementation (dictionaries of n-gram counts), Kneser-Ney normalisation for
every context, the numba samplers against the exact next-token law (with policies and the
repetition penalty), beam search against a brute-force beam search, reproducibility, errors and
hypothesis fuzzing.

Statistical comparisons: per-token proportion z-scores, |z| < Z_CRIT = z_threshold(1e-3, 400)
(family-wise false-alarm rate 1e-3 over the at most ~400 comparisons of this file, Bonferroni),
at fixed seeds.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from collapse_theory._stats import proportion_z, z_threshold
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.lm.ngram import NGramModel, NGramTrainer
from collapse_theory.lm.protocol import LanguageModel, Trainer, sequence_perplexity
from collapse_theory.policies import Compose, MinP, Temperature, TopK, TopP, Truncation

Z_CRIT = z_threshold(1e-3, 400)
BOS = -1


# ---------------------------------------------------------------------------------------------
# the slow, obvious version


class NaiveNGram:
    """Dictionaries of counts; every probability by its textbook formula."""

    def __init__(self, blocks, order, vocab, smoothing, alpha=1.0, discount=0.75):
        self.order, self.vocab, self.smoothing = order, vocab, smoothing
        self.alpha, self.discount = alpha, discount
        self.counts = [defaultdict(Counter) for _ in range(order)]  # [h][context][w]
        self.before = [defaultdict(set) for _ in range(order)]  # [h][(context, w)] -> preceders
        for block in blocks:
            padded = [BOS] * (order - 1) + [int(x) for x in block]
            for t in range(order - 1, len(padded)):
                w = padded[t]
                for h in range(order):
                    context = tuple(padded[t - h : t])
                    self.counts[h][context][w] += 1
                    if h < order - 1:
                        self.before[h][(context, w)].add(padded[t - h - 1])

    def _kn_counts(self, h, context):
        if h == self.order - 1:
            return dict(self.counts[h][context])
        return {w: len(self.before[h][(context, w)]) for w in self.counts[h][context]}

    def prob(self, history, w):
        padded = [BOS] * (self.order - 1) + [int(x) for x in history]
        contexts = [tuple(padded[len(padded) - h :]) if h else () for h in range(self.order)]
        if self.smoothing == "add":
            row = self.counts[-1].get(contexts[-1], Counter())
            return (row[w] + self.alpha) / (sum(row.values()) + self.alpha * self.vocab)
        if self.smoothing == "mle":
            for h in range(self.order - 1, -1, -1):
                row = self.counts[h].get(contexts[h])
                if row:
                    return row[w] / sum(row.values())
        p = 1.0 / self.vocab
        for h in range(self.order):
            if contexts[h] not in self.counts[h]:
                break
            row = self._kn_counts(h, contexts[h])
            c = sum(row.values())
            p = (max(row.get(w, 0) - self.discount, 0) + self.discount * len(row) * p) / c
        return p


def random_blocks(rng, num_blocks, length, vocab, unk_share=0.1):
    p = rng.dirichlet(np.ones(vocab - 1) * 0.5)
    blocks = 1 + rng.choice(vocab - 1, size=(num_blocks, length), p=p)
    blocks[rng.random(blocks.shape) < unk_share] = 0
    return blocks


SMOOTHINGS = ("mle", "add", "kneser-ney")


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_log_probs_match_naive(smoothing: str, order: int) -> None:
    rng = np.random.default_rng(order)
    vocab = 6
    train = random_blocks(rng, 12, 9, vocab)
    model = NGramTrainer(order, smoothing, alpha=0.5, discount=0.6, vocab_size=vocab).fit(train)
    naive = NaiveNGram(train, order, vocab, smoothing, alpha=0.5, discount=0.6)
    test = random_blocks(rng, 5, 7, vocab, unk_share=0.3)
    got = model.token_log_probs(test)
    assert got.shape == (5, 6)
    for s, t in itertools.product(range(5), range(1, 7)):
        want = naive.prob(test[s, :t], test[s, t])
        if want == 0:
            assert got[s, t - 1] == -np.inf
        else:
            assert got[s, t - 1] == pytest.approx(math.log(want), rel=1e-12, abs=1e-12)
    assert np.allclose(model.unigram(), np.bincount(train.ravel(), minlength=vocab) / train.size)


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_distributions_sum_to_one_for_every_context(smoothing: str, order: int) -> None:
    rng = np.random.default_rng(10 + order)
    vocab = 5
    train = random_blocks(rng, 10, 8, vocab)
    model = NGramTrainer(order, smoothing, vocab_size=vocab).fit(train)
    # every history of length 0..order-1 over the vocabulary: seen and unseen contexts
    histories = [np.array(h, dtype=np.int64).reshape(1, -1)
                 for k in range(order) for h in itertools.product(range(vocab), repeat=k)]  # fmt: skip
    naive = NaiveNGram(train, order, vocab, smoothing)
    for history in histories:
        p = model.next_token_probs(history)[0]
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(p >= 0)
        assert np.allclose(p, [naive.prob(history[0], w) for w in range(vocab)], atol=1e-13)
        if smoothing == "kneser-ney":
            assert np.all(p > 0)


def test_mle_backs_off_for_unseen_contexts() -> None:
    train = np.array([[1, 2, 3, 1, 2, 4]])
    model = NGramTrainer(3, "mle", vocab_size=5).fit(train)
    # context (4, 1) never seen -> bigram after 1: always 2
    assert model.next_token_probs([[4, 1]])[0].tolist() == [0, 0, 1, 0, 0]
    # context (3, 3): no bigram after 3 other than 1 -> p(1 | 3) = 1
    assert model.next_token_probs([[3, 3]])[0].tolist() == [0, 1, 0, 0, 0]
    # 2 seen after (1, 2) twice: 3 and 4
    assert model.next_token_probs([[1, 2]])[0].tolist() == [0, 0, 0, 0.5, 0.5]
    assert np.isinf(sequence_perplexity(model, np.array([[1, 2, 1]])))[0]


def test_protocols_and_perplexity() -> None:
    rng = np.random.default_rng(3)
    train = random_blocks(rng, 30, 16, 8)
    trainer = NGramTrainer(2, vocab_size=8)
    model = trainer.fit(train)
    assert isinstance(trainer, Trainer) and isinstance(model, LanguageModel)
    blocks = random_blocks(rng, 4, 10, 8)
    ppl = sequence_perplexity(model, blocks)
    assert np.allclose(ppl, np.exp(-model.token_log_probs(blocks).mean(axis=1)))
    # V from `start` when the trainer has none
    assert NGramTrainer(2).fit(np.array([[1, 2]]), start=model).vocab_size == 8
    assert NGramTrainer(2).fit(np.array([[1, 2]])).vocab_size == 3


# ---------------------------------------------------------------------------------------------
# sampling against the exact next-token law


def decoded_law(
    model: NGramModel, history, policy=None, penalty: float = 1.0, lower: NGramModel | None = None
) -> np.ndarray:
    """The law the decoder must sample: <unk> removed, p^r on seen tokens, then the policy.

    An MLE row holding only <unk> backs off to the next lower order: ``lower``, the MLE model of
    order - 1 fitted on the same blocks (whose top level is this model's level below the top).
    """
    p = model.next_token_probs(np.asarray(history).reshape(1, -1))[0].copy()
    if model.smoothing == "mle" and p[1:].sum() == 0:
        p = lower.next_token_probs(np.asarray(history).reshape(1, -1))[0].copy()
    p[0] = 0.0
    p /= p.sum()
    if penalty != 1.0:
        seen = np.unique(np.asarray(history, dtype=int))
        p[seen] = p[seen] ** penalty
        p /= p.sum()
    return p if policy is None else policy(p)


def check_sampling(model, history, *, policy=None, penalty=1.0, num=6000, seed=0, lower=None):
    prompts = np.tile(np.asarray(history, dtype=np.int32), (num, 1))
    out = model.generate(prompts, 1, seed=seed, policy=policy, repetition_penalty=penalty)
    law = decoded_law(model, history, policy, penalty, lower)
    for w in range(model.vocab_size):
        hits = out[:, 0] == w
        if law[w] == 0:
            assert not hits.any(), (w, history)
        else:
            assert abs(proportion_z(hits, law[w])) < Z_CRIT, (w, history, hits.mean(), law[w])


@pytest.fixture(scope="module")
def models() -> dict[str, NGramModel]:
    rng = np.random.default_rng(5)
    train = random_blocks(rng, 40, 12, 7, unk_share=0.15)
    train[0, :4] = [3, 0, 0, 0]  # context (3, 0) followed only by <unk>: MLE must back off
    fitted = {s: NGramTrainer(3, s, vocab_size=7).fit(train) for s in SMOOTHINGS}
    fitted["lower"] = NGramTrainer(2, "mle", vocab_size=7).fit(train)
    return fitted


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_plain_sampling_matches_law(models, smoothing: str) -> None:
    model = models[smoothing]
    for history in ([], [2], [1, 2], [6, 6, 6], [3, 0]):  # BOS contexts, seen, unseen, unk-only
        check_sampling(model, history, lower=models["lower"])
    assert models["mle"].next_token_probs([[3, 0]])[0, 1:].sum() == 0  # (3, 0): only <unk>


@pytest.mark.parametrize(
    "policy",
    [Temperature(0.5), TopK(2), TopP(0.7), MinP(0.3), Compose(Temperature(2.0), TopP(0.9))],
)
def test_policies_match_law(models, policy) -> None:
    for smoothing in ("mle", "kneser-ney"):
        check_sampling(models[smoothing], [1, 2], policy=policy, num=4000)


def test_repetition_penalty_matches_law(models) -> None:
    for smoothing in SMOOTHINGS:
        check_sampling(models[smoothing], [2, 4, 2], penalty=1.8, num=4000)
        check_sampling(models[smoothing], [2, 4, 2], penalty=1.5, policy=TopK(3), num=4000)


def test_penalty_on_every_positive_token() -> None:
    model = NGramTrainer(2, "mle", vocab_size=4).fit(np.array([[1, 2, 1, 2, 1, 3]]))
    # after 1: p(2) = 2/3, p(3) = 1/3; both already seen: p^r renormalised
    law = decoded_law(model, [2, 3, 1], penalty=3.0)
    assert law[2] == pytest.approx((2 / 3) ** 3 / ((2 / 3) ** 3 + (1 / 3) ** 3))
    check_sampling(model, [2, 3, 1], penalty=3.0)


def test_long_generation_never_unk_and_reproducible() -> None:
    rng = np.random.default_rng(9)
    train = random_blocks(rng, 50, 20, 30, unk_share=0.4)
    for smoothing in SMOOTHINGS:
        model = NGramTrainer(4, smoothing, vocab_size=30).fit(train)
        out = model.generate(train[:, :5], 40, seed=1)
        assert out.shape == (50, 40) and out.dtype == np.int32
        assert out.min() >= 1 and out.max() < 30
        assert np.array_equal(out, model.generate(train[:, :5], 40, seed=1))
        assert not np.array_equal(out, model.generate(train[:, :5], 40, seed=2))
        with_policy = model.generate(train[:, :5], 40, seed=1, policy=TopP(0.9))
        assert with_policy.min() >= 1
    empty = model.generate(np.zeros((3, 0), np.int64), 0, seed=0)
    assert empty.shape == (3, 0)


def test_mle_generation_stays_in_seen_bigrams() -> None:
    rng = np.random.default_rng(4)
    train = random_blocks(rng, 20, 15, 12, unk_share=0.0)
    model = NGramTrainer(2, "mle", vocab_size=12).fit(train)
    out = model.generate(np.zeros((200, 0), np.int32), 30, seed=0)
    seen = {(a, b) for row in train for a, b in itertools.pairwise(row)}
    assert all((a, b) in seen for row in out for a, b in itertools.pairwise(row))
    starts = set(train[:, 0].tolist())
    assert set(out[:, 0].tolist()) <= starts


# ---------------------------------------------------------------------------------------------
# beam search against brute force


def naive_beam(model: NGramModel, prompt, length: int, beam: int, penalty: float = 1.0) -> list:
    beams = [(0.0, list(prompt))]
    for _ in range(length):
        candidates = []
        for b, (score, seq) in enumerate(beams):
            law = decoded_law(model, seq, None, penalty) if seq else decoded_law(model, [], None)
            for w in range(1, model.vocab_size):
                if law[w] > 0:
                    candidates.append((score + math.log(law[w]), b, w))
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))  # ties: earlier beam, lower token
        beams = [(s, beams[b][1] + [w]) for s, b, w in candidates[:beam]]
    return beams[0][1][len(prompt) :]


def beam_score(model: NGramModel, prompt, seq, penalty: float) -> float:
    history = list(prompt)
    return sum(math.log(decoded_law(model, history + list(seq[:i]), None, penalty)[w])
               for i, w in enumerate(seq))  # fmt: skip


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_beam_search_matches_brute_force(smoothing: str) -> None:
    rng = np.random.default_rng(6)
    train = random_blocks(rng, 15, 10, 5, unk_share=0.1)
    model = NGramTrainer(2, smoothing, vocab_size=5).fit(train)
    prompts = np.array([[1], [2], [3], [4]], np.int32)
    for beam, penalty in ((2, 1.0), (3, 1.0), (3, 2.0)):
        out = model.generate(prompts, 4, seed=0, beam=beam, repetition_penalty=penalty)
        for s in range(prompts.shape[0]):
            want = naive_beam(model, prompts[s], 4, beam, penalty)
            if out[s].tolist() != want:  # only a tie to rounding (summation order) may differ
                got_score = beam_score(model, prompts[s], out[s], penalty)
                assert got_score == pytest.approx(beam_score(model, prompts[s], want, penalty),
                                                  abs=1e-12)  # fmt: skip
    # a beam holding every sequence finds the most probable continuation overall
    exhaustive = model.generate(prompts[:1], 3, seed=0, beam=4**3)
    best = max(itertools.product(range(1, 5), repeat=3),
               key=lambda seq: sum(math.log(max(decoded_law(model, [1, *seq[:i]])[w], 1e-300))
                                   for i, w in enumerate(seq)))  # fmt: skip
    assert exhaustive[0].tolist() == list(best)


# ---------------------------------------------------------------------------------------------
# errors and fuzzing


def test_errors(models) -> None:
    model = models["kneser-ney"]
    with pytest.raises(InputError, match="order"):
        NGramTrainer(0)
    with pytest.raises(InputError, match="order"):
        NGramTrainer(6)
    with pytest.raises(InputError, match="smoothing"):
        NGramTrainer(2, "witten-bell")
    with pytest.raises(InputError, match="discount"):
        NGramTrainer(2, discount=1.5)
    with pytest.raises(InputError, match="alpha"):
        NGramTrainer(2, "add", alpha=0.0)
    with pytest.raises(InputError, match="only <unk>"):
        NGramTrainer(2, vocab_size=4).fit(np.zeros((3, 5), np.int64))
    with pytest.raises(InputError, match="token ids in"):
        NGramTrainer(2, vocab_size=4).fit(np.array([[1, 4]]))
    with pytest.raises(InputTypeError, match="integer"):
        NGramTrainer(2).fit(np.array([[1.0, 2.0]]))
    with pytest.raises(InputError, match="2-D"):
        NGramTrainer(2).fit(np.array([1, 2, 3]))
    with pytest.raises(InputError, match="beam search"):
        model.generate([[1]], 3, seed=0, beam=2, policy=TopK(2))
    with pytest.raises(InputTypeError, match="Gaussian"):
        model.generate([[1]], 3, seed=0, policy=Truncation(1.0))
    with pytest.raises(InputError, match="repetition_penalty"):
        model.generate([[1]], 3, seed=0, repetition_penalty=0.5)
    with pytest.raises(InputError, match="length"):
        model.generate([[1]], -1, seed=0)
    with pytest.raises(InputError, match="2-D"):
        model.generate([1, 2], 3, seed=0)
    with pytest.raises(InputError, match="at least 2 tokens"):
        model.token_log_probs([[1]])
    with pytest.raises(InputTypeError, match="LanguageModel"):
        sequence_perplexity(object(), np.array([[1, 2]]))


@settings(max_examples=25, deadline=None)
@given(
    order=hs.integers(1, 5),
    smoothing=hs.sampled_from(SMOOTHINGS),
    seed=hs.integers(0, 2**16),
    shape=hs.tuples(hs.integers(1, 6), hs.integers(1, 12)),
    vocab=hs.integers(2, 9),
)
def test_fuzz(order: int, smoothing: str, seed: int, shape, vocab: int) -> None:
    rng = np.random.default_rng(seed)
    train = rng.integers(0, vocab, size=shape)
    train[0, 0] = 1
    model = NGramTrainer(order, smoothing, vocab_size=vocab).fit(train)
    test = rng.integers(0, vocab, size=(3, 6))
    log_p = model.token_log_probs(test)
    assert log_p.shape == (3, 5) and np.all(log_p <= 1e-12)
    if smoothing != "mle":
        assert np.all(np.isfinite(log_p))
    out = model.generate(test[:, :2], 4, seed=seed)
    assert out.shape == (3, 4) and out.min() >= 1 and out.max() < vocab
