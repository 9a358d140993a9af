"""Theory of the n-gram language models (docs/theory.md §1, §11.1).

Must show 2 of issue 18: a unigram MLE model refitted on M = 3200 of its own tokens (50 blocks
of 64, prompt length 0) over 200 chains of 10 generations, through the real code
(NGramTrainer.fit and NGramModel.generate) on the 200-id head of the pydoc corpus: surviving
word types, heterozygosity and the loss probability of the 10 rarest types against the exact
categorical laws. Z-scores: |z| < Z_CRIT = z_threshold(1e-3, 60) (family-wise false-alarm rate
1e-3 over the 60 comparisons of this file, Bonferroni; the generations of one chain are
correlated, which Bonferroni allows for).

Higher orders: the approximation of ngram_laws (the categorical chain on the joint n-gram
frequencies) against simulation, with the error measured and bounded (not a z-test: it is an
approximation), and the tail law.
"""

from __future__ import annotations

import numpy as np
import pytest

from collapse_theory._stats import mean_z, proportion_z, z_threshold
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.lm.corpus import load_corpus
from collapse_theory.lm.ngram import NGramTrainer
from collapse_theory.lm.tails import lm_tail_exact, lm_tail_types
from collapse_theory.lm.theory import (
    ngram_laws,
    ngram_types,
    surviving_types,
    unigram_laws,
    unigram_start,
)
from collapse_theory.rng import spawn

Z_CRIT = z_threshold(1e-3, 60)
NUM_BLOCKS, BLOCK, GENERATIONS, CHAINS = 50, 64, 10, 200


@pytest.fixture(scope="module")
def unigram_chains():
    corpus = load_corpus("pydoc", max_vocab=200)
    trainer = NGramTrainer(1, "mle", vocab_size=200)
    model0 = trainer.fit(corpus.blocks("train", BLOCK))
    counts = np.zeros((CHAINS, GENERATIONS + 1, 200))
    counts[:, 0] = model0.token_counts
    prompts = np.zeros((NUM_BLOCKS, 0), np.int32)
    for r, stream in enumerate(spawn(2026, CHAINS)):
        rng = np.random.default_rng(stream)
        model = model0
        for g in range(1, GENERATIONS + 1):
            model = trainer.fit(model.generate(prompts, BLOCK, seed=rng))
            counts[r, g] = model.token_counts
    return model0, counts


def test_unigram_survivors_and_heterozygosity_match_exact_laws(unigram_chains) -> None:
    model0, counts = unigram_chains
    m = NUM_BLOCKS * BLOCK
    laws = unigram_laws(model0.unigram(), m, np.arange(GENERATIONS + 1))
    assert laws.expected_survivors[0] == np.count_nonzero(model0.token_counts[1:])
    survivors = np.count_nonzero(counts, axis=2)
    p = counts / counts.sum(axis=2, keepdims=True)
    heterozygosity = 1.0 - (p**2).sum(axis=2)
    assert np.all(counts[:, 1:, 0] == 0)  # <unk> is never generated
    for g in range(1, GENERATIONS + 1):
        assert abs(mean_z(survivors[:, g], laws.expected_survivors[g])) < Z_CRIT, g
        assert abs(mean_z(heterozygosity[:, g], laws.expected_heterozygosity[g])) < Z_CRIT, g
    # the loss is large enough to be seen: about 35 of 196 types gone by generation 10
    assert laws.expected_survivors[0] - laws.expected_survivors[-1] > 30


def test_rare_word_loss_matches_exact_law(unigram_chains) -> None:
    model0, counts = unigram_chains
    start = unigram_start(model0.unigram())
    rarest = np.argsort(np.where(start > 0, start, np.inf), kind="stable")[:10]
    laws = unigram_laws(model0.unigram(), NUM_BLOCKS * BLOCK, [1, 5, 10], types=rarest)
    for i, g in enumerate([1, 5, 10]):
        lost = counts[:, g, rarest] == 0
        for k in range(rarest.size):
            # one-generation loss of a type of probability p: (1 - p)^M exactly
            if g == 1:
                assert laws.loss_probability[i, k] == pytest.approx(
                    (1 - start[rarest[k]]) ** (NUM_BLOCKS * BLOCK), rel=1e-9
                )
            assert abs(proportion_z(lost[:, k], laws.loss_probability[i, k])) < Z_CRIT, (g, k)


def test_tail_law_matches_chains(unigram_chains) -> None:
    model0, counts = unigram_chains
    start = unigram_start(model0.unigram())
    tail = lm_tail_types(model0.token_counts, 0.1)
    assert start[tail].sum() <= 0.1 / (1 - model0.unigram()[0]) + 1e-12
    curve = lm_tail_exact(model0.unigram(), NUM_BLOCKS * BLOCK, [0, 5, 10], tail_types=tail)
    assert curve.initial_mass == pytest.approx(start[tail].sum())
    assert np.allclose(curve.mean, curve.initial_mass)  # a martingale
    for i, g in enumerate([5, 10]):
        mass = counts[:, g, tail].sum(axis=1) / counts[:, g].sum(axis=1)
        assert abs(mean_z(mass, curve.mean[i + 1])) < Z_CRIT
        surviving = np.count_nonzero(counts[:, g, tail], axis=1)
        assert abs(mean_z(surviving, curve.surviving[i + 1])) < Z_CRIT


@pytest.mark.parametrize("order", [2, 3])
def test_higher_order_approximation(order: int) -> None:
    """Surviving original n-gram types of an order-2/3 MLE model (pydoc, full vocabulary, 100
    blocks of 64, no <unk>) against the categorical chain on the joint n-gram frequencies.
    Measured with 60 chains: order 2 within 0.3 %, order 3 within 2.6 % over 5 generations; the
    test claims 1 % and 5 %, plus the Monte Carlo error. With a capped vocabulary (35 % <unk>, removed before sampling) the
    approximation is off by up to 3 % (order 2) and 20 % (order 3): see docs/lm.md."""
    corpus = load_corpus("pydoc", max_vocab=None)
    blocks = corpus.blocks("train", 64)[:100]
    trainer = NGramTrainer(order, "mle", vocab_size=corpus.tokenizer.size)
    model0 = trainer.fit(blocks)
    reference = ngram_types(model0)
    laws = ngram_laws(model0, blocks.size, np.arange(5))
    assert laws.expected_types[0] == reference.shape[0]
    survivors = np.zeros((30, 5))
    for r, stream in enumerate(spawn(7, 30)):
        rng = np.random.default_rng(stream)
        model = model0
        for g in range(1, 5):
            model = trainer.fit(model.generate(np.zeros((100, 0), np.int32), 64, seed=rng))
            survivors[r, g] = surviving_types(model, reference)
    # The claim tested is the approximation's accuracy (order 2: 1 %, order 3: 5 %), with the
    # Monte Carlo error of the 30-chain mean added at the suite's z threshold.
    mean = survivors[:, 1:].mean(axis=0)
    se = survivors[:, 1:].std(axis=0, ddof=1) / np.sqrt(survivors.shape[0])
    expected = laws.expected_types[1:]
    claimed = {2: 0.01, 3: 0.05}[order]
    assert np.all(np.abs(mean - expected) <= claimed * expected + Z_CRIT * se), (mean, expected)


def test_ngram_laws_order_one_is_exact() -> None:
    corpus = load_corpus("pydoc", max_vocab=300)
    model0 = NGramTrainer(1, "mle", vocab_size=300).fit(corpus.blocks("train", 64))
    exact = unigram_laws(model0.unigram(), 1000, [0, 3, 8])
    approx = ngram_laws(model0, 1000, [0, 3, 8])
    assert np.allclose(approx.expected_types, exact.expected_survivors, rtol=1e-12)
    assert np.allclose(approx.expected_contexts, 1.0)


def test_errors() -> None:
    with pytest.raises(InputError, match="<unk>"):
        unigram_start([1.0, 0.0])
    with pytest.raises(InputError, match="num_tokens"):
        unigram_laws([0.2, 0.3, 0.5], 0, 3)
    with pytest.raises(InputError, match="types"):
        unigram_laws([0.2, 0.3, 0.5], 10, 3, types=[5])
    model = NGramTrainer(2, "kneser-ney", vocab_size=4).fit(np.array([[1, 2, 3]]))
    with pytest.raises(InputTypeError, match="mle"):
        ngram_laws(model, 10, 2)
    with pytest.raises(InputError, match="tail_types"):
        lm_tail_exact([0.1, 0.3, 0.6], 10, [0, 1], tail_types=[0])
    with pytest.raises(InputError, match="reference"):
        lm_tail_types([-1.0, 2.0, 3.0])
