"""lm family, transformer (docs/theory.md §11): training and generation speed at the default
size on the pydoc corpus, and the wall time of one full generation of the paper's protocol.

Setup: ``load_corpus("pydoc")`` (word level, the default vocabulary cap), 64-token blocks,
the default :class:`TransformerConfig` (2 layers, d_model 128, 4 heads, d_ff 512, context 64,
tied output), the base pretrained on the pretraining split with :func:`pretrain`'s defaults,
fine-tuning with :class:`TransformerTrainer`'s defaults. One generation of the protocol of
:func:`collapse_theory.lm.simulate` at its default shape = fine-tune on every training block +
generate the next training set: each whole 64-token training block (the prompt, P = L as in the
paper) continued by 64 new tokens, by plain sampling and by the paper's decoding (5-way beam
search, repetition penalty 3.0). Two generations per decoding: the first includes compilation,
the second (from the first's model and samples) is the steady state.

Timings are wall times; the first call of each shape includes jax's compilation (the first
generation with a decoding compiles its decoding shapes; the fine-tune shapes are compiled by
the first sampling generation). The machine's load average is recorded (other processes share
its 2 cores).
``--save`` writes ``benchmarks/results/lm_transformer.{json,md}``. Run from the repository root::

    python -m benchmarks.bench_lm_transformer --save
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks.common import write_report
from collapse_theory.lm.corpus import load_corpus
from collapse_theory.lm.transformer import TransformerConfig, TransformerTrainer, pretrain

BLOCK = 64
PROMPT = 64
NEW = 64


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def timed(work):
    start = time.perf_counter()
    value = work()
    return time.perf_counter() - start, value


def perplexity(model, blocks: np.ndarray) -> float:
    """exp(-mean ln p) over all scored tokens of ``blocks``."""
    return float(np.exp(-model.token_log_probs(blocks).mean()))


def one_generation(trainer, blocks, prompts, start, seed, **decoding):
    """Fine-tune on ``blocks``, then continue the (original) ``prompts``: the next training
    set. Returns (total s, fit s, generate s, model, next blocks)."""
    fit_s, model = timed(lambda: trainer.fit(blocks, seed=seed, start=start))
    gen_s, new = timed(lambda: model.generate(prompts, NEW, seed=seed, **decoding))
    return fit_s + gen_s, fit_s, gen_s, model, new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    corpus = load_corpus("pydoc")
    vocab = corpus.tokenizer.size
    pre, train = corpus.blocks("pretrain", BLOCK), corpus.blocks("train", BLOCK)
    valid = corpus.blocks("validation", BLOCK)
    config = TransformerConfig()
    print(f"V={vocab}, pretrain {pre.shape}, train {train.shape}, validation {valid.shape}")

    pretrain_s, base = timed(lambda: pretrain(pre, vocab, config, seed=0))
    trainer = TransformerTrainer(base)
    epochs_pre = len(base.history)
    rows = [
        {
            "step": "pretrain (first call, includes compile)",
            "seconds": pretrain_s,
            "tokens": int(pre.size * epochs_pre),
            "tokens_per_s": pre.size * epochs_pre / pretrain_s,
        }
    ]

    results = {}
    for label, decoding in [
        ("sampling", {}),
        ("beam 5, penalty 3", {"beam": 5, "repetition_penalty": 3.0}),
    ]:
        model, blocks = None, train
        for g in range(2):
            total, fit_s, gen_s, model, blocks = one_generation(
                trainer, blocks, train[:, :PROMPT], model, seed=g, **decoding
            )
            tag = "first with this decoding" if g == 0 else "second"
            fit_tokens = train.size * trainer.epochs
            gen_tokens = train.shape[0] * NEW
            rows += [
                {
                    "step": f"{label}: generation {g}, fine-tune ({tag})",
                    "seconds": fit_s,
                    "tokens": fit_tokens,
                    "tokens_per_s": fit_tokens / fit_s,
                },
                {
                    "step": f"{label}: generation {g}, generate ({tag})",
                    "seconds": gen_s,
                    "tokens": gen_tokens,
                    "tokens_per_s": gen_tokens / gen_s,
                },
                {
                    "step": f"{label}: generation {g}, total ({tag})",
                    "seconds": total,
                    "tokens": "",
                    "tokens_per_s": "",
                },
            ]
            print(rows[-3:])
            results[f"{label}, generation {g}"] = {
                "validation_perplexity": perplexity(model, valid),
                "train_loss_by_epoch": [round(x, 4) for x in model.history],
            }
    score_s, _ = timed(lambda: base.token_log_probs(valid))
    rows.append(
        {
            "step": "score validation (token_log_probs)",
            "seconds": score_s,
            "tokens": int(valid.shape[0] * (BLOCK - 1)),
            "tokens_per_s": valid.shape[0] * (BLOCK - 1) / score_s,
        }
    )
    extra = {
        "corpus": {
            "name": corpus.name,
            "vocab_size": vocab,
            "pretrain_blocks": int(pre.shape[0]),
            "train_blocks": int(train.shape[0]),
            "validation_blocks": int(valid.shape[0]),
            "block_length": BLOCK,
            "prompt_length": PROMPT,
            "new_tokens": NEW,
        },
        "config": config.__dict__,
        "num_parameters": base.num_parameters,
        "pretrain": {
            "epochs": epochs_pre,
            "loss_by_epoch": [round(x, 4) for x in base.history],
            "validation_perplexity": perplexity(base, valid),
        },
        "fine_tune": {
            "epochs": trainer.epochs,
            "batch_size": trainer.batch_size,
            "learning_rate": trainer.learning_rate,
        },
        "generations": results,
        "versions": {name: _version(name) for name in ("jax", "equinox", "optax")},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "command": "python -m benchmarks.bench_lm_transformer --save",
    }
    for row in rows:
        print(row)
    print(extra)
    if args.save:
        print(write_report("lm_transformer", "lm transformer: speed on pydoc", rows, extra))


if __name__ == "__main__":
    main()
