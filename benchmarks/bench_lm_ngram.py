"""N-gram language models: tokens per second for fitting and for sampling, orders 1-5.

Corpora: the pydoc corpus (``load_corpus("pydoc")``, train split, 64-token blocks, V = 3617
word types) and a synthetic stream of 2^20 tokens (16384 blocks of 64) drawn i.i.d. from a
Zipf(1.1) law over V = 5000 types (the worst case for the count tables: almost every context
of order >= 3 is new). Fitting: ``NGramTrainer(order, smoothing).fit`` on every block.
Sampling, the protocol's shape: continue the first 16 tokens of every block by 48 tokens, plain
ancestral sampling (``policy=None``); on pydoc also with ``TopP(0.9)`` (the dense path: O(V) per
token) and beam search (beam 5, repetition penalty 1.2, 100 blocks). Kernels are compiled
before timing; times are the best of 3 (1 for the slow rows). One thread. ``--save`` writes
``benchmarks/results/lm_ngram.{json,md}``.

Run from the repository root::

    python -m benchmarks.bench_lm_ngram --save
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import best_time, write_report
from collapse_theory.categorical.theory import zipf
from collapse_theory.lm.corpus import load_corpus
from collapse_theory.lm.ngram import NGramTrainer
from collapse_theory.policies import TopP

PROMPT, BLOCK = 16, 64
LENGTH = BLOCK - PROMPT


def synthetic(num_tokens: int, vocab: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    stream = 1 + rng.choice(vocab - 1, size=num_tokens, p=zipf(vocab - 1, 1.1))
    return stream.reshape(-1, BLOCK).astype(np.int32)


def rows_for(name: str, blocks: np.ndarray, vocab: int, slow: bool) -> list[dict]:
    rows = []
    prompts, length = blocks[:, :PROMPT], LENGTH
    few = prompts[:100]
    for smoothing in ("kneser-ney", "mle"):
        for order in range(1, 6):
            trainer = NGramTrainer(order, smoothing, vocab_size=vocab)
            t_fit, model = best_time(lambda t=trainer: t.fit(blocks), repeats=3)
            t_gen, _ = best_time(lambda m=model: m.generate(prompts, LENGTH, seed=0), repeats=3)
            row = {
                "corpus": name,
                "smoothing": smoothing,
                "order": order,
                "training tokens": blocks.size,
                "fit s": t_fit,
                "fit tokens/s": blocks.size / t_fit,
                "sample tokens/s": prompts.shape[0] * length / t_gen,
                "top-p 0.9 tokens/s": "",
                "beam 5 tokens/s": "",
            }
            if slow and order in (2, 3):
                t_p, _ = best_time(
                    lambda m=model: m.generate(prompts, LENGTH, seed=0, policy=TopP(0.9)),
                    repeats=1,
                )
                row["top-p 0.9 tokens/s"] = prompts.shape[0] * length / t_p
                t_b, _ = best_time(
                    lambda m=model: m.generate(few, LENGTH, seed=0, beam=5, repetition_penalty=1.2),
                    repeats=1,
                )
                row["beam 5 tokens/s"] = few.shape[0] * length / t_b
            rows.append(row)
            print(
                f"{name:10s} {smoothing:10s} n={order} fit {row['fit tokens/s']:.3g}/s "
                f"sample {row['sample tokens/s']:.3g}/s top-p {row['top-p 0.9 tokens/s']} "
                f"beam {row['beam 5 tokens/s']}",
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-tokens", type=int, default=2**20)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/lm_ngram.*")
    args = parser.parse_args()

    corpus = load_corpus("pydoc")
    pydoc = corpus.blocks("train", BLOCK)
    warm = NGramTrainer(2, vocab_size=corpus.tokenizer.size).fit(pydoc[:4])
    warm.generate(pydoc[:2, :2], 2, seed=0, policy=TopP(0.9))  # compile outside the timings
    warm.generate(pydoc[:2, :2], 2, seed=0, beam=2)
    rows = rows_for("pydoc", pydoc, corpus.tokenizer.size, slow=True)
    rows += rows_for("synthetic", synthetic(args.synthetic_tokens, 5000), 5000, slow=False)
    if args.save:
        title = "N-gram language models: fitting and sampling speed (tokens per second, 1 thread)"
        write_report("lm_ngram", title, rows, {"parameters": vars(args)})


if __name__ == "__main__":
    main()
