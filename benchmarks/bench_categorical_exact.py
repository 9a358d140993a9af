"""P5 of design.md: exact loss probabilities of the lumped Wright–Fisher chain, M=10^4, n=1000.

Baselines, built from the same dense (M+1)x(M+1) binomial transition matrix:
  - dense matrix-vector iteration, one initial probability at a time (the baseline design.md
    names), timed for one probability;
  - dense batched iteration, all six initial probabilities at once (matrix-matrix products: a
    stronger baseline than design.md asks for), which also gives the reference values.
Ours: ``ct.categorical.markov.lumped_loss_probability`` (banded kernel rows, truncation error
bounded; for constant M one backward pass over hitting probabilities serves every initial
probability), timed for one probability and for all six in one call. Reports ratios, the largest difference from the dense values, and the
reported error bound.

Run from the repository root::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.bench_categorical_exact
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.stats as st

from benchmarks.common import best_time, write_report
from collapse_theory.categorical import markov

INITIAL = np.array([1e-4, 1e-3, 1e-2, 0.1, 0.3, 0.5])


def dense_matrix(num_samples: int) -> np.ndarray:
    counts = np.arange(num_samples + 1)
    return st.binom.pmf(counts[None, :], num_samples, counts[:, None] / num_samples)


def dense_iterate(matrix: np.ndarray, p: np.ndarray, num_generations: int) -> np.ndarray:
    """[b(p)^T P^(n-1)]_0 for each row of ``p`` (one vector or a batch)."""
    num_samples = matrix.shape[0] - 1
    vectors = st.binom.pmf(
        np.arange(num_samples + 1)[None, :], num_samples, np.atleast_1d(p)[:, None]
    )
    for _ in range(num_generations - 1):
        vectors = vectors @ matrix
    return vectors[:, 0]


def ours(p, num_samples: int, num_generations: int) -> tuple[np.ndarray, float]:
    prob, bound = markov.lumped_loss_probability(p, num_samples, num_generations)
    return np.atleast_1d(prob), float(np.max(bound))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--generations", type=int, default=1000)
    args = parser.parse_args()
    m, n = args.num_samples, args.generations

    ours(0.5, 50, 3)  # compile outside the timings
    hardest = 0.5
    t_one, _ = best_time(lambda: ours(hardest, m, n), repeats=3)
    t_all, (prob_ours, bound) = best_time(lambda: ours(INITIAL, m, n), repeats=3)
    t_build, matrix = best_time(lambda: dense_matrix(m), repeats=1)
    t_batch, prob_dense = best_time(lambda: dense_iterate(matrix, INITIAL, n), repeats=1)
    t_vector, _ = best_time(lambda: dense_iterate(matrix, np.array([hardest]), n), repeats=1)
    error = float(np.max(np.abs(prob_ours - prob_dense)))
    rows = [
        {
            "baseline": "dense matrix-vector, one p (design.md)",
            "p": hardest,
            "baseline s": t_vector,
            "ours s": t_one,
            "ratio": t_vector / t_one,
            "ratio incl. matrix build": (t_vector + t_build) / t_one,
        },
        {
            "baseline": "dense matrix-vector, six p one after another",
            "p": "all six",
            "baseline s": 6 * t_vector,
            "ours s": t_all,
            "ratio": 6 * t_vector / t_all,
            "ratio incl. matrix build": (6 * t_vector + t_build) / t_all,
        },
        {
            "baseline": "dense batched, six p at once (matrix-matrix)",
            "p": "all six",
            "baseline s": t_batch,
            "ours s": t_all,
            "ratio": t_batch / t_all,
            "ratio incl. matrix build": (t_batch + t_build) / t_all,
        },
    ]
    extra = {
        "M": m,
        "n": n,
        "initial probabilities": INITIAL.tolist(),
        "loss probabilities (ours)": prob_ours.tolist(),
        "max |ours - dense|": error,
        "reported error bound (max)": bound,
        "dense matrix build (s)": t_build,
    }
    path = write_report(
        "categorical_exact", f"P5: exact loss probabilities, M={m}, n={n}", rows, extra
    )
    for row in rows:
        print(row)
    for key, value in extra.items():
        print(f"{key}: {value}")
    print("wrote", path)


if __name__ == "__main__":
    main()
