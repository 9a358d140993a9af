"""The lm family's transformer (docs/theory.md §11): a float64 numpy forward pass and a slow
numpy decoder (sampling, beam search, CTRL penalty) as references, normalisation, causality,
training, reproducibility, compiled-once, bad input and fuzzing. Tiny configurations only.

The one statistical test (sampled frequencies against the policy's law) is a set of two-sided
z-tests at a family-wise false-alarm rate of 1e-3 (Bonferroni over the tokens), fixed seed.
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collapse_theory._stats import proportion_z, z_threshold
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.policies import Compose, MinP, Temperature, TopK, TopP, Truncation

pytest.importorskip("equinox")
pytest.importorskip("optax")

from collapse_theory.lm import _jax
from collapse_theory.lm.transformer import (
    TransformerConfig,
    TransformerLM,
    TransformerTrainer,
    pretrain,
)

V = 30
TINY = TransformerConfig(num_layers=1, d_model=16, num_heads=2, d_ff=32, context=8)
TWO = TransformerConfig(num_layers=2, d_model=16, num_heads=4, d_ff=24, context=8, tied=False)
L = 9  # block length used for training (= context + 1: one compiled training shape)


def toy_blocks(num: int = 24, seed: int = 0) -> np.ndarray:
    """A learnable stream: x_{t+1} = x_t + 1 (mod 29, ids 1..29), random starts."""
    starts = np.random.default_rng(seed).integers(0, 29, num)
    return (1 + (starts[:, None] + np.arange(L)) % 29).astype(np.int32)


@pytest.fixture(scope="module")
def model() -> TransformerLM:
    """Random weights, larger than init so that the distributions are far from uniform."""
    base = pretrain(toy_blocks(), V, TINY, seed=3, epochs=0)
    scaled = _scale(base.network, 40.0)
    return TransformerLM(TINY, V, scaled)


@pytest.fixture(scope="module")
def model_two() -> TransformerLM:
    base = pretrain(toy_blocks(), V, TWO, seed=4, epochs=0)
    return TransformerLM(TWO, V, _scale(base.network, 30.0))


def _scale(network, factor):
    import equinox as eqx
    import jax

    def grow(path, leaf):
        name = jax.tree_util.keystr(path)
        if "ln" in name or leaf.ndim < 2:
            return leaf
        return leaf * factor

    params, static = eqx.partition(network, eqx.is_array)
    return eqx.combine(jax.tree_util.tree_map_with_path(grow, params), static)


# --------------------------------------------------------------------------------------------
# Slow numpy references


def _np(network) -> dict[str, np.ndarray | None]:
    names = [
        "token_embedding", "position_embedding", "ln1_w", "ln1_b", "qkv_w", "qkv_b", "out_w",
        "out_b", "ln2_w", "ln2_b", "up_w", "up_b", "down_w", "down_b", "lnf_w", "lnf_b",
        "head_w", "head_b",
    ]  # fmt: skip
    w = {n: getattr(network, n) for n in names}
    return {n: None if a is None else np.asarray(a, dtype=np.float64) for n, a in w.items()}


def ref_logits(model: TransformerLM, ids: list[int]) -> np.ndarray:
    """Logits (len(ids) + 1, V) of [BOS] + ids by an obvious float64 loop over positions."""
    w, heads = _np(model.network), model.config.num_heads
    seq = [model.vocab_size, *ids]
    h = np.array([w["token_embedding"][x] + w["position_embedding"][i] for i, x in enumerate(seq)])

    def ln(x, g, b):
        return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * g + b

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))

    d = h.shape[1]
    dh = d // heads
    for i in range(model.config.num_layers):
        a = ln(h, w["ln1_w"][i], w["ln1_b"][i])
        qkv = a @ w["qkv_w"][i].T + w["qkv_b"][i]
        q, k, v = qkv[:, :d], qkv[:, d : 2 * d], qkv[:, 2 * d :]
        o = np.zeros_like(h)
        for t in range(len(seq)):
            for j in range(heads):
                sl = slice(j * dh, (j + 1) * dh)
                s = k[: t + 1, sl] @ q[t, sl] / math.sqrt(dh)
                e = np.exp(s - s.max())
                o[t, sl] = (e / e.sum()) @ v[: t + 1, sl]
        h = h + o @ w["out_w"][i].T + w["out_b"][i]
        m = gelu(ln(h, w["ln2_w"][i], w["ln2_b"][i]) @ w["up_w"][i].T + w["up_b"][i])
        h = h + m @ w["down_w"][i].T + w["down_b"][i]
    h = ln(h, w["lnf_w"], w["lnf_b"])
    head = w["token_embedding"][: model.vocab_size] if w["head_w"] is None else w["head_w"]
    return h @ head.T + w["head_b"]


def ref_log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def ref_next_logits(model, history: list[int], penalty: float) -> np.ndarray:
    """The documented rule: the window of token_log_probs, CTRL penalty, unknown token removed."""
    t, ctx = len(history), model.config.context
    stride = math.ceil(ctx / 2)
    window = history[0 if t <= ctx else stride * math.ceil((t - ctx) / stride) :]
    z = ref_logits(model, window)[-1].copy()
    for token in set(history):
        z[token] = z[token] / penalty if z[token] > 0 else z[token] * penalty
    z[0] = -np.inf
    return z


def ref_inverse_cdf(p: np.ndarray, u: float) -> int:
    """The first token whose cumulative mass reaches u * total."""
    target, cumulative = u * p.sum(), 0.0
    for token, mass in enumerate(p):
        cumulative += mass
        if cumulative >= target and mass > 0:
            return token
    raise AssertionError("no token reached the target mass")


def ref_sample(model, prompts, length, seed, policy, penalty) -> np.ndarray:
    uniforms = 1.0 - np.random.default_rng(seed).random((len(prompts), length))
    out = np.zeros((len(prompts), length), dtype=np.int32)
    for s, prompt in enumerate(prompts):
        history = [int(x) for x in prompt]
        for k in range(length):
            p = np.exp(ref_log_softmax(ref_next_logits(model, history, penalty)))
            if policy is not None:
                p = policy(p / p.sum())
            token = ref_inverse_cdf(p, uniforms[s, k])
            history.append(token)
            out[s, k] = token
    return out


def ref_beam(model, prompt, length, beam, penalty) -> list[int]:
    hypotheses = [(0.0, [int(x) for x in prompt])]
    for _ in range(length):
        candidates = []
        for b, (score, hist) in enumerate(hypotheses):
            log_q = ref_log_softmax(ref_next_logits(model, hist, penalty))
            for token in range(1, model.vocab_size):
                candidates.append((-(score + log_q[token]), b, token))
        candidates.sort()
        hypotheses = [(-c, hypotheses[b][1] + [t]) for c, b, t in candidates[:beam]]
    best = max(range(len(hypotheses)), key=lambda i: (hypotheses[i][0], -i))
    return hypotheses[best][1][len(prompt) :]


# --------------------------------------------------------------------------------------------
# Configuration and the forward pass


def test_parameter_count_formula_matches_the_network(model, model_two):
    assert model.num_parameters == _jax.num_parameters(model.network)
    assert model_two.num_parameters == _jax.num_parameters(model_two.network)
    default = TransformerConfig()
    assert (default.num_layers, default.d_model, default.num_heads) == (2, 128, 4)
    assert (default.d_ff, default.context, default.tied) == (512, 64, True)
    assert default.num_parameters(5000) - default.num_parameters(2) == 4998 * 129


@pytest.mark.parametrize("which", ["model", "model_two"])
def test_log_probs_match_the_numpy_forward_pass(which, request):
    lm = request.getfixturevalue(which)
    blocks = np.random.default_rng(1).integers(0, V, (3, 6))
    got = lm.token_log_probs(blocks)
    assert got.shape == (3, 5) and got.dtype == np.float64
    for s in range(3):
        log_p = np.array([ref_log_softmax(z) for z in ref_logits(lm, list(blocks[s, :-1]))])
        want = log_p[np.arange(1, 6), blocks[s, 1:]]
        np.testing.assert_allclose(got[s], want, rtol=2e-5, atol=2e-5)


def test_long_blocks_are_scored_in_windows_of_the_context(model):
    ctx, stride = TINY.context, math.ceil(TINY.context / 2)
    blocks = np.random.default_rng(2).integers(0, V, (2, 3 * ctx + 3))
    got = model.token_log_probs(blocks)
    for t in range(1, blocks.shape[1]):
        start = 0 if t <= ctx else stride * math.ceil((t - ctx) / stride)
        assert ctx // 2 + 1 <= t - start <= ctx or t <= ctx
        for s in range(2):
            z = ref_logits(model, list(blocks[s, start:t]))[-1]
            assert got[s, t - 1] == pytest.approx(ref_log_softmax(z)[blocks[s, t]], abs=3e-5)


def test_log_probs_normalise_over_the_vocabulary(model):
    prefix = np.array([5, 7, 0, 11], dtype=np.int32)
    blocks = np.column_stack([np.tile(prefix, (V, 1)), np.arange(V)])
    log_p = model.token_log_probs(blocks)[:, -1]
    assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-5)
    assert np.ptp(log_p) > 1.0  # the scaled weights give a far-from-uniform law


def test_causal_mask_later_tokens_do_not_change_earlier_log_probs(model):
    a = np.random.default_rng(3).integers(0, V, (4, 9))
    b = a.copy()
    b[:, 6:] = (b[:, 6:] + 7) % V
    la, lb = model.token_log_probs(a), model.token_log_probs(b)
    np.testing.assert_allclose(la[:, :5], lb[:, :5], rtol=1e-6, atol=1e-7)
    assert not np.allclose(la[:, 5:], lb[:, 5:])


def test_empty_and_single_token_blocks(model):
    assert model.token_log_probs(np.zeros((0, 5), int)).shape == (0, 4)
    assert model.token_log_probs(np.zeros((3, 1), int)).shape == (3, 0)
    assert model.generate(np.zeros((0, 2), int), 4, seed=0).shape == (0, 4)
    assert model.generate(np.ones((2, 2), int), 0, seed=0).shape == (2, 0)


# --------------------------------------------------------------------------------------------
# Decoding against the slow reference


CASES = [
    (None, 1.0),
    (TopK(3), 1.0),
    (Compose(Temperature(0.7), TopP(0.8)), 1.5),
    (MinP(0.2), 2.0),
]


@pytest.mark.parametrize(("policy", "penalty"), CASES)
def test_sampling_matches_the_slow_reference(model, policy, penalty):
    prompts = np.random.default_rng(4).integers(0, V, (5, 3))
    got = model.generate(prompts, 7, seed=11, policy=policy, repetition_penalty=penalty)
    want = ref_sample(model, prompts, 7, 11, policy, penalty)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int32 and np.all(got > 0)


def test_sampling_past_the_context_and_from_an_empty_prompt(model):
    long_prompts = np.random.default_rng(5).integers(0, V, (3, 6))
    got = model.generate(long_prompts, 15, seed=2, repetition_penalty=1.3)  # 6 + 15 > 2 * 8
    np.testing.assert_array_equal(got, ref_sample(model, long_prompts, 15, 2, None, 1.3))
    empty = np.zeros((4, 0), dtype=np.int32)
    got = model.generate(empty, 5, seed=3, policy=TopK(4))
    np.testing.assert_array_equal(got, ref_sample(model, empty, 5, 3, TopK(4), 1.0))


@pytest.mark.parametrize(("beam", "penalty", "length"), [(2, 1.0, 5), (4, 1.8, 6), (4, 1.0, 10)])
def test_beam_search_matches_the_slow_reference(model, beam, penalty, length):
    prompts = np.random.default_rng(6).integers(0, V, (3, 4))
    got = model.generate(prompts, length, seed=0, beam=beam, repetition_penalty=penalty)
    for s in range(3):
        assert list(got[s]) == ref_beam(model, prompts[s], length, beam, penalty)
    assert np.all(got > 0)
    again = model.generate(prompts, length, seed=99, beam=beam, repetition_penalty=penalty)
    np.testing.assert_array_equal(got, again)  # deterministic: the seed is unused


def test_repetition_penalty_reduces_repeats(model):
    prompts = np.random.default_rng(7).integers(1, V, (40, 2))
    plain = model.generate(prompts, 8, seed=5)
    penalised = model.generate(prompts, 8, seed=5, repetition_penalty=20.0)

    def repeats(rows):
        return sum(len(r) - len(set(r)) for r in np.column_stack([prompts, rows]).tolist())

    assert repeats(penalised) < repeats(plain)


def test_unknown_token_is_never_generated_even_when_most_likely():
    blocks = np.zeros((16, L), dtype=np.int32)
    blocks[:, ::4] = 3  # mostly the unknown token
    lm = pretrain(blocks, V, TINY, seed=1, epochs=20, batch_size=8, learning_rate=2e-2)
    assert lm.token_log_probs(blocks)[:, 0].mean() > math.log(0.5)  # p(0 | 3) is large
    out = lm.generate(blocks[:, :2], 6, seed=0)
    assert np.all(out > 0)
    assert np.all(lm.generate(blocks[:3, :2], 6, seed=0, beam=2) > 0)


def test_sampled_frequencies_follow_the_policy_law(model):
    prompt = np.array([[4, 9, 2]], dtype=np.int32)
    num = 3000
    first = model.generate(np.repeat(prompt, num, axis=0), 1, seed=8, policy=TopP(0.9))[:, 0]
    z = ref_next_logits(model, [4, 9, 2], 1.0)
    law = TopP(0.9)(np.exp(ref_log_softmax(z)))
    assert set(np.unique(first)) <= set(np.flatnonzero(law > 0))
    z_crit = z_threshold(1e-3, V)
    for token in np.flatnonzero(law > 0):
        assert abs(proportion_z(first == token, law[token])) < z_crit


# --------------------------------------------------------------------------------------------
# Training, fine-tuning, reproducibility, compiled once


def test_training_lowers_the_loss_on_a_learnable_sequence():
    blocks = toy_blocks(32, seed=1)
    before = pretrain(blocks, V, TINY, seed=2, epochs=0).token_log_probs(blocks).mean()
    lm = pretrain(blocks, V, TINY, seed=2, epochs=25, batch_size=8, learning_rate=2e-2)
    after = lm.token_log_probs(blocks).mean()
    assert before < math.log(2.0 / V)  # about uniform at first
    assert after > math.log(0.5)  # the next token is predicted with probability > 1/2
    assert lm.history[-1] < 0.5 * lm.history[0]
    held_out = toy_blocks(8, seed=9)
    assert lm.token_log_probs(held_out).mean() > math.log(0.5)


def test_fine_tuning_starts_from_the_base_or_start_and_leaves_them_unchanged():
    blocks = toy_blocks(16, seed=2)
    base = pretrain(blocks, V, TINY, seed=5, epochs=1, batch_size=8)
    base_scores = base.token_log_probs(blocks)
    trainer = TransformerTrainer(base, epochs=4, batch_size=8, learning_rate=1e-2)
    assert trainer.name == "transformer"
    first = trainer.fit(blocks, seed=1)
    second = trainer.fit(blocks, seed=1, start=first)
    np.testing.assert_array_equal(base.token_log_probs(blocks), base_scores)
    ll = [m.token_log_probs(blocks).mean() for m in (base, first, second)]
    assert ll[0] < ll[1] < ll[2]
    assert len(first.history) == 4
    again = trainer.fit(blocks, seed=1)
    np.testing.assert_array_equal(again.token_log_probs(blocks), first.token_log_probs(blocks))
    other = pretrain(blocks, V, TWO, seed=5, epochs=0)
    with pytest.raises(InputError, match="start must have the base's config"):
        trainer.fit(blocks, seed=1, start=other)


def test_same_seed_same_tokens_and_weights(model):
    prompts = np.random.default_rng(9).integers(0, V, (6, 2))
    a = model.generate(prompts, 6, seed=123, policy=TopK(5))
    b = model.generate(prompts, 6, seed=123, policy=TopK(5))
    c = model.generate(prompts, 6, seed=124, policy=TopK(5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    gen = np.random.default_rng(1)
    assert model.generate(prompts, 3, seed=gen).shape == (6, 3)
    blocks = toy_blocks(8)
    w1 = pretrain(blocks, V, TINY, seed=7, epochs=1, batch_size=8).network.qkv_w
    w2 = pretrain(blocks, V, TINY, seed=7, epochs=1, batch_size=8).network.qkv_w
    w3 = pretrain(blocks, V, TINY, seed=8, epochs=1, batch_size=8).network.qkv_w
    np.testing.assert_array_equal(np.asarray(w1), np.asarray(w2))
    assert not np.array_equal(np.asarray(w1), np.asarray(w3))


def test_a_second_generation_compiles_nothing_new():
    blocks = toy_blocks(20, seed=3)
    prompts = blocks[:, :4]
    trainer = TransformerTrainer(pretrain(blocks, V, TINY, seed=1, epochs=1, batch_size=8),
                                 epochs=1, batch_size=8)  # fmt: skip

    def one_generation(start, seed):
        lm = trainer.fit(blocks, seed=seed, start=start)
        lm.token_log_probs(blocks)
        new = lm.generate(prompts, L - 4, seed=seed, policy=TopP(0.9))
        return lm, np.column_stack([prompts, new])

    lm, blocks = one_generation(None, 0)
    before = dict(_jax.TRACES)
    for g in range(1, 3):
        lm, blocks = one_generation(lm, g)
    assert dict(_jax.TRACES) == before
    assert before["train_step"] >= 1 and before["step"] >= 1


# --------------------------------------------------------------------------------------------
# Bad input, the neural extra, fuzzing


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_layers": 0}, InputError, "num_layers must be an integer >= 1"),
        ({"d_model": 0}, InputError, "d_model must be an integer >= 1"),
        ({"num_heads": 0}, InputError, "num_heads"),
        ({"d_model": 10, "num_heads": 4}, InputError, "multiple of num_heads"),
        ({"d_ff": -1}, InputError, "d_ff"),
        ({"context": 0}, InputError, "context must be an integer >= 1"),
        ({"context": 8.0}, InputTypeError, "context must be an integer"),
        ({"tied": "yes"}, InputTypeError, "tied must be True or False"),
    ],
)
def test_bad_config(kwargs, error, match):
    with pytest.raises(error, match=match):
        TransformerConfig(**kwargs)


def test_bad_training_input():
    blocks = toy_blocks(4)
    with pytest.raises(InputError, match="longer than the model's context"):
        pretrain(np.ones((4, TINY.context + 2), int), V, TINY, seed=0)
    with pytest.raises(InputError, match="at least 2 tokens"):
        pretrain(np.ones((4, 1), int), V, TINY, seed=0)
    with pytest.raises(InputError, match="no rows"):
        pretrain(np.ones((0, 5), int), V, TINY, seed=0, epochs=1)
    with pytest.raises(InputTypeError, match="integer array"):
        pretrain(blocks.astype(float), V, TINY, seed=0)
    with pytest.raises(InputError, match=r"token ids in \[0, 5\)"):
        pretrain(blocks, 5, TINY, seed=0)
    with pytest.raises(InputError, match="2-D"):
        pretrain(blocks[0], V, TINY, seed=0)
    with pytest.raises(InputError, match="vocab_size must be an integer >= 2"):
        pretrain(blocks, 1, TINY, seed=0)
    for kwargs, match in [
        ({"epochs": -1}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    ]:
        with pytest.raises(InputError, match=match):
            pretrain(blocks, V, TINY, seed=0, **kwargs)
    with pytest.raises(InputTypeError, match="config must be a TransformerConfig"):
        pretrain(blocks, V, {"context": 8}, seed=0)
    with pytest.raises(InputError, match="seed"):
        pretrain(blocks, V, TINY, seed=-1, epochs=0)
    with pytest.raises(InputTypeError, match="base must be a TransformerLM"):
        TransformerTrainer("base")


def test_bad_generation_input(model):
    prompts = np.ones((2, 3), dtype=np.int32)
    cases = [
        ({"beam": 2, "policy": TopK(3)}, InputError, "beam search .* takes no sampling policy"),
        ({"beam": 0}, InputError, "beam must be an integer >= 1"),
        ({"beam": V}, InputError, f"beam must be an integer <= {V - 1}"),
        ({"repetition_penalty": 0.5}, InputError, "repetition_penalty must be >= 1"),
        ({"policy": Truncation(2.0)}, InputTypeError, "policy for the Gaussian"),
        ({"policy": "top-k"}, InputTypeError, "policy must be None or"),
    ]
    for kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            model.generate(prompts, 3, seed=0, **kwargs)
    with pytest.raises(InputError, match="length must be an integer >= 0"):
        model.generate(prompts, -1, seed=0)
    with pytest.raises(InputError, match=r"prompts must hold token ids in \[0, 30\)"):
        model.generate(prompts + V, 2, seed=0)
    with pytest.raises(InputError, match="blocks must be 2-D"):
        model.token_log_probs(np.ones(5, int))


def test_importing_the_module_does_not_import_jax():
    code = (
        "import sys, collapse_theory.lm, collapse_theory.lm.transformer; "
        "print(any(m.split('.')[0] in ('jax', 'equinox', 'optax') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_neural_extra_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "optax" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r'pip install "collapse_theory\[neural\]"'):
        pretrain(toy_blocks(4), V, TINY, seed=0, epochs=0)


@settings(max_examples=12, deadline=None)
@given(
    num=st.integers(0, 5),
    prompt=st.integers(0, 12),
    length=st.integers(0, 10),
    beam=st.sampled_from([1, 2]),
    penalty=st.floats(1.0, 3.0),
    seed=st.integers(0, 2**32),
)
def test_fuzz_generate_and_score(model, num, prompt, length, beam, penalty, seed):
    prompts = np.random.default_rng(seed).integers(0, V, (num, prompt))
    out = model.generate(prompts, length, seed=seed, beam=beam, repetition_penalty=penalty)
    assert out.shape == (num, length) and out.dtype == np.int32
    assert np.all((out > 0) & (out < V))
    full = np.column_stack([prompts, out]).astype(np.int32)
    if full.shape[1] >= 2 and num:
        log_p = model.token_log_probs(full)
        assert log_p.shape == (num, full.shape[1] - 1)
        assert np.all(np.isfinite(log_p) & (log_p <= 0))


def test_follows_the_family_protocol(model):
    from collapse_theory.lm.protocol import LanguageModel, Trainer, sequence_perplexity

    trainer = TransformerTrainer(model, epochs=1, batch_size=8)
    assert isinstance(model, LanguageModel) and isinstance(trainer, Trainer)
    blocks = toy_blocks(5)
    ppl = sequence_perplexity(model, blocks)
    np.testing.assert_allclose(ppl, np.exp(-model.token_log_probs(blocks).mean(axis=1)))
    identity = model.generate(blocks[:, :3], 4, seed=1, beam=2, policy=Temperature(1.0))
    np.testing.assert_array_equal(identity, model.generate(blocks[:, :3], 4, seed=1, beam=2))


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 4),
    width=st.integers(1, 40),
    k=st.integers(1, 45),
    levels=st.integers(1, 6),
    seed=st.integers(0, 2**32),
)
def test_beam_selection_equals_a_stable_sort(rows, width, k, levels, seed):
    from collapse_theory.lm.transformer import _top

    rng = np.random.default_rng(seed)
    values = rng.integers(0, levels, (rows, width)).astype(float)  # many ties
    values[rng.random((rows, width)) < 0.2] = -np.inf
    k = min(k, width)
    want = np.argsort(-values, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(_top(values, k), want)


@settings(max_examples=60, deadline=None)
@given(
    num_layers=st.integers(-1, 4),
    d_model=st.integers(-1, 64),
    num_heads=st.integers(-1, 8),
    d_ff=st.integers(-1, 64),
    context=st.integers(-1, 70),
)
def test_fuzz_config(num_layers, d_model, num_heads, d_ff, context):
    sizes = (num_layers, d_model, num_heads, d_ff, context)
    valid = min(sizes) >= 1 and d_model % num_heads == 0
    if not valid:
        with pytest.raises(InputError):
            TransformerConfig(num_layers, d_model, num_heads, d_ff, context)
        return
    config = TransformerConfig(num_layers, d_model, num_heads, d_ff, context)
    d, f = d_model, d_ff
    blocks = num_layers * (3 * d * d + 3 * d + d * d + d + f * d + f + d * f + d + 4 * d)
    embeddings = (V + 1) * d + (context + 1) * d
    assert config.num_parameters(V) == embeddings + blocks + 2 * d + V
