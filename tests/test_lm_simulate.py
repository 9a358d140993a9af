"""The language-model protocol (collapse_theory.lm.simulate) and its metrics (lm.metrics):
metrics against obvious Python versions, the protocol's bookkeeping with a stand-in model,
reproducibility, save/load, the exact unigram chain, and bad input."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collapse_theory._stats import mean_z, z_threshold
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.lm import metrics as lm_metrics
from collapse_theory.lm.corpus import load_corpus
from collapse_theory.lm.ngram import NGramTrainer
from collapse_theory.lm.protocol import LanguageModel, Trainer
from collapse_theory.lm.simulate import SCALARS, LMRun, _next_training_set, simulate
from collapse_theory.lm.theory import unigram_laws
from collapse_theory.policies import TopP
from collapse_theory.regimes import Accumulate, FreshData, Replace, WeightedFresh

#: Two-sided false-alarm rate of every z-test in this file.
FALSE_ALARM = 1e-3


@pytest.fixture(scope="module")
def corpus():
    return load_corpus("pydoc")


# ---------------------------------------------------------------------------------------------
# a stand-in model: unigram counts (+1), records where each fit started


@dataclass
class StandIn:
    vocab_size: int
    p: np.ndarray
    fits: int

    def token_log_probs(self, blocks: np.ndarray) -> np.ndarray:
        return np.log(self.p[np.asarray(blocks)[:, 1:]])

    def generate(self, prompts, length, *, seed, policy=None, beam=1, repetition_penalty=1.0):
        rng = np.random.default_rng(seed)
        q = self.p.copy()
        q[0] = 0.0
        return rng.choice(self.vocab_size, size=(len(prompts), length), p=q / q.sum()).astype(
            np.int32
        )


class StandInTrainer:
    name = "stand-in"

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size
        self.starts: list[object] = []

    def fit(self, blocks, *, seed, start=None):
        self.starts.append(start)
        counts = np.bincount(np.asarray(blocks).ravel(), minlength=self.vocab_size) + 1.0
        fits = 0 if start is None else start.fits + 1
        return StandIn(self.vocab_size, counts / counts.sum(), fits)


def test_stand_in_follows_the_protocols() -> None:
    model = StandInTrainer(5).fit(np.array([[1, 2, 3]]), seed=0)
    assert isinstance(model, LanguageModel) and isinstance(StandInTrainer(5), Trainer)


# ---------------------------------------------------------------------------------------------
# metrics against obvious versions


def _naive_distinct(rows: np.ndarray, n: int) -> float:
    grams = [tuple(row[i : i + n]) for row in rows.tolist() for i in range(len(row) - n + 1)]
    return len(set(grams)) / len(grams)


def _naive_rep(rows: np.ndarray, n: int) -> float:
    rates = []
    for row in rows.tolist():
        grams = [tuple(row[i : i + n]) for i in range(len(row) - n + 1)]
        rates.append(1 - len(set(grams)) / len(grams))
    return sum(rates) / len(rates)


def test_type_metrics_match_counting_by_hand() -> None:
    tokens = np.array([[0, 1, 1, 2, 5], [5, 5, 0, 3, 1]])
    counts = Counter(t for t in tokens.ravel().tolist() if t != 0)
    total = sum(counts.values())
    assert lm_metrics.surviving_types(tokens) == len(counts) == 4
    assert lm_metrics.heterozygosity(tokens) == pytest.approx(
        1 - sum((c / total) ** 2 for c in counts.values()), rel=1e-14
    )
    assert lm_metrics.tail_mass(tokens, [2, 3]) == pytest.approx(2 / total)
    np.testing.assert_array_equal(lm_metrics.type_counts(tokens, 6), [0, 3, 1, 1, 0, 3])


def test_zipf_exponent_is_the_least_squares_slope() -> None:
    rng = np.random.default_rng(3)
    tokens = rng.zipf(1.6, size=4000)
    tokens = tokens[tokens < 300]
    counts = sorted(Counter(tokens.tolist()).values(), reverse=True)
    x = [math.log(r) for r in range(1, len(counts) + 1)]
    y = [math.log(c) for c in counts]
    mx, my = sum(x) / len(x), sum(y) / len(y)
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / sum(
        (a - mx) ** 2 for a in x
    )
    assert lm_metrics.zipf_exponent(tokens) == pytest.approx(-slope, rel=1e-10)
    # an exact power law is recovered
    exact = np.repeat(np.arange(1, 11), np.round(1000 * np.arange(1, 11) ** -1.0).astype(int))
    assert lm_metrics.zipf_exponent(exact) == pytest.approx(1.0, abs=0.01)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(
                st.lists(st.integers(0, 4), min_size=n, max_size=n + 6), min_size=1, max_size=4
            ).filter(lambda rows: len({len(r) for r in rows}) == 1),
        )
    )
)
def test_distinct_and_repetition_match_python(case) -> None:
    n, rows = case
    rows = np.array(rows)
    assert lm_metrics.distinct_n(rows, n) == pytest.approx(_naive_distinct(rows, n), rel=1e-12)
    assert lm_metrics.repetition_rate(rows, n) == pytest.approx(_naive_rep(rows, n), abs=1e-12)


def test_continuation_perplexity_scores_only_the_continuation() -> None:
    model = StandInTrainer(6).fit(np.array([[1, 2, 3, 3, 4, 5]]), seed=0)
    prompts = np.array([[1, 2], [3, 3]])
    cont = np.array([[4, 5, 5], [1, 1, 2]])
    expected = [math.exp(-np.mean(np.log(model.p[row]))) for row in cont]
    got = lm_metrics.continuation_perplexity(model, prompts, cont)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # no prompt: the first token has no context and is not scored
    empty = lm_metrics.continuation_perplexity(model, prompts[:, :0], cont)
    np.testing.assert_allclose(empty, [math.exp(-np.mean(np.log(model.p[r[1:]]))) for r in cont])


def test_perplexity_summary_quantiles_and_infinities() -> None:
    values = np.array([1.0, 2.0, 3.0, 10.0])
    out = lm_metrics.perplexity_summary(values, (0.5, 0.9))
    assert out == {"mean": 4.0, "median": 2.5, "q50": 2.5, "q90": np.quantile(values, 0.9)}
    with_inf = lm_metrics.perplexity_summary(np.array([1.0, np.inf, np.inf]), (0.99,))
    assert with_inf["mean"] == np.inf and with_inf["q99"] == np.inf and with_inf["median"] == np.inf


def test_metrics_refuse_bad_input() -> None:
    with pytest.raises(InputTypeError, match="tokens"):
        lm_metrics.surviving_types(np.array([0.5, 1.5]))
    with pytest.raises(InputError, match="<unk>"):
        lm_metrics.heterozygosity(np.zeros(4, int))
    with pytest.raises(InputError, match="2 distinct"):
        lm_metrics.zipf_exponent(np.array([3, 3, 3]))
    with pytest.raises(InputError, match="n=3"):
        lm_metrics.distinct_n(np.array([[1, 2]]), 3)
    with pytest.raises(InputError, match="positive"):
        lm_metrics.perplexity_summary([])


# ---------------------------------------------------------------------------------------------
# the protocol


def test_regimes_build_the_next_training_set() -> None:
    real = np.arange(1, 41).reshape(20, 2)
    samples = -np.ones_like(real)
    rng = np.random.default_rng(0)
    assert _next_training_set(Replace(), real, samples, [real], rng) is samples
    split = _next_training_set(FreshData(0.1, "split"), real, samples, [real], rng)
    kept = np.all(split == real, axis=1)
    assert kept.sum() == 2 and np.all(split[~kept] == -1)
    mix = [
        np.all(_next_training_set(FreshData(0.3, "mix"), real, samples, [real], rng) == real, 1)
        for _ in range(200)
    ]
    share = np.mean(mix)
    assert abs(share - 0.3) / math.sqrt(0.3 * 0.7 / 4000) < z_threshold(FALSE_ALARM)
    pool = [real]
    first = _next_training_set(Accumulate(), real, samples, pool, rng)
    second = _next_training_set(Accumulate(), real, samples, pool, rng)
    assert first.shape == (40, 2) and second.shape == (60, 2)


def test_start_previous_chains_the_fits_and_base_restarts(corpus) -> None:
    for start, expected in (("previous", [0, 1, 2, 3]), ("base", [0, 0, 0, 0])):
        trainer = StandInTrainer(corpus.tokenizer.size)
        simulate(corpus, trainer, 3, block_length=8, num_sequences=5, start=start, num_test=4)
        assert trainer.starts[0] is None
        fits = [0] + [0 if s is None else s.fits + 1 for s in trainer.starts[1:]]
        assert fits == expected


def test_simulate_shapes_reproducibility_and_accumulate(corpus) -> None:
    kwargs = {"block_length": 12, "num_sequences": 16, "num_test": 10, "num_replicates": 2}
    trainer = NGramTrainer(2, "kneser-ney")
    a = simulate(corpus, trainer, 2, policy=TopP(0.9), seed=5, **kwargs)
    b = simulate(corpus, trainer, 2, policy=TopP(0.9), seed=5, **kwargs)
    c = simulate(corpus, trainer, 2, policy=TopP(0.9), seed=6, **kwargs)
    assert a.test_perplexity.shape == (2, 3, 10) and a.sample_perplexity.shape == (2, 3, 16)
    assert set(a.scalars) == set(SCALARS)
    np.testing.assert_array_equal(a.test_perplexity, b.test_perplexity)
    np.testing.assert_array_equal(a.sample_perplexity, b.sample_perplexity)
    assert not np.array_equal(a.sample_perplexity, c.sample_perplexity)
    # model 0 is the same deterministic fit in every chain; the chains then differ
    np.testing.assert_array_equal(a.test_perplexity[0, 0], a.test_perplexity[1, 0])
    assert not np.array_equal(a.test_perplexity[0, 2], a.test_perplexity[1, 2])
    np.testing.assert_array_equal(a.scalars["training_tokens"], 16 * 12)
    acc = simulate(corpus, trainer, 2, regime=Accumulate(), seed=5, **kwargs)
    np.testing.assert_array_equal(acc.scalars["training_tokens"][0], [192, 384, 576])
    rows = a.summary()
    assert [r["generation"] for r in rows] == [0, 1, 2]
    assert rows[1]["test_perplexity_mean"] == pytest.approx(a.test_perplexity[:, 1].mean())


def test_save_and_load_round_trip(corpus, tmp_path) -> None:
    run = simulate(corpus, NGramTrainer(1, "mle"), 1, block_length=8, num_sequences=6, seed=1)
    assert np.isinf(run.test_perplexity).any()  # MLE: unseen test words
    for name in ("run", "run.json"):
        path = run.save(tmp_path / name)
        back = LMRun.load(path)
        assert back.tokenizer == run.tokenizer and back.config == run.config
        np.testing.assert_array_equal(back.test_perplexity, run.test_perplexity)
        np.testing.assert_array_equal(back.tail_types, run.tail_types)
        for key in SCALARS:
            np.testing.assert_allclose(back.scalars[key], run.scalars[key], rtol=1e-15)
        assert back.examples == run.examples and back.regime == Replace()
    with pytest.raises(InputError, match="not a saved LMRun"):
        LMRun.load(tmp_path / "run.json.npz")


def test_unigram_chain_matches_the_exact_survivor_law(corpus) -> None:
    """Order 1, MLE, plain sampling, Replace: surviving types are the categorical chain's
    (docs/theory.md §1.3). 150 chains, two-sided z-test at generation 1 and 3."""
    run = simulate(
        corpus,
        NGramTrainer(1, "mle"),
        3,
        block_length=10,
        num_sequences=30,
        num_test=2,
        prompt_length=0,
        num_replicates=150,
        seed=11,
    )
    laws = unigram_laws(run.unigram_p0(), 300, run.generations)
    limit = z_threshold(FALSE_ALARM, 4)
    for g in (1, 3):
        assert abs(mean_z(run.scalars["surviving_types"][:, g], laws.expected_survivors[g])) < limit
        het = run.scalars["heterozygosity"][:, g]
        assert abs(mean_z(het, laws.expected_heterozygosity[g])) < limit


def test_simulate_refuses_bad_input(corpus) -> None:
    trainer = NGramTrainer(2)
    with pytest.raises(InputError, match="longer"):
        simulate(corpus, trainer, 1, block_length=10**6)
    with pytest.raises(InputError, match="prompt_length"):
        simulate(corpus, trainer, 1, block_length=8, prompt_length=9)
    with pytest.raises(InputError, match="num_sequences"):
        simulate(corpus, trainer, 1, block_length=8, num_sequences=10**6)
    with pytest.raises(InputError, match="beam"):
        simulate(corpus, trainer, 1, block_length=8, beam=2, policy=TopP(0.5))
    with pytest.raises(InputError, match="WeightedFresh"):
        simulate(corpus, trainer, 1, regime=WeightedFresh(0.5, 3))
    with pytest.raises(InputTypeError, match="trainer"):
        simulate(corpus, "ngram", 1)
    with pytest.raises(InputTypeError, match="corpus"):
        simulate("pydoc", trainer, 1)
    with pytest.raises(InputError, match="start"):
        simulate(corpus, trainer, 1, start="scratch")
    with pytest.raises(InputError, match="order"):
        NGramTrainer(0)
    with pytest.raises(InputError, match="generations"):
        simulate(corpus, trainer, -1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=30), st.sets(st.integers(1, 6)))
def test_type_metrics_match_python_on_random_tokens(tokens, tail) -> None:
    words = [t for t in tokens if t != 0]
    array = np.array(tokens)
    assert lm_metrics.surviving_types(array) == len(set(words))
    if not words:
        with pytest.raises(InputError, match="<unk>"):
            lm_metrics.tail_mass(array, sorted(tail))
        return
    share = sum(t in tail for t in words) / len(words)
    assert lm_metrics.tail_mass(array, np.array(sorted(tail), dtype=int)) == pytest.approx(share)
    counts = Counter(words)
    het = 1 - sum((c / len(words)) ** 2 for c in counts.values())
    assert lm_metrics.heterozygosity(array) == pytest.approx(het, abs=1e-12)
