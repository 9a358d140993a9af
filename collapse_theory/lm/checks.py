"""Verify checks of the language-model family (docs/theory.md §1.4, §11.1).

A unigram maximum-likelihood model refitted on M of its own tokens is the categorical chain of
§1: the expected number of surviving word types and the loss probability of the rarest type
(exact lumped chain) are compared with chains of the n-gram code itself
(:class:`collapse_theory.lm.ngram.NGramTrainer`). Model 0 is fitted on a fixed text of M
tokens drawn from a Zipf(1.1) law over 100 types. The quick run samples each generation's text
with numpy (``Generator.choice`` from the fitted unigram, ``<unk>`` excluded: the law the
order-1 sampler draws from) so that it compiles no kernel; the full run uses
``NGramModel.generate`` (numba). Neither imports jax.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from collapse_theory.rng import as_generator
from collapse_theory.verify.registry import add_check

if TYPE_CHECKING:
    from collapse_theory.lm.ngram import NGramModel

__all__: list[str] = []

_register = functools.partial(add_check, "lm")
QUICK, FULL = 30, 400
_SETTING = {"num_types": 100, "zipf_exponent": 1.1, "num_tokens": 1000, "generations": 5}


@functools.lru_cache(maxsize=1)
def _model0():
    from collapse_theory.categorical.theory import zipf
    from collapse_theory.lm.ngram import NGramTrainer

    p = zipf(_SETTING["num_types"] - 1, _SETTING["zipf_exponent"])
    rng = np.random.default_rng(20261204)
    text = 1 + rng.choice(p.size, size=_SETTING["num_tokens"], p=p)
    return NGramTrainer(1, "mle", vocab_size=_SETTING["num_types"]).fit(text[None, :])


def _rarest_type(model: NGramModel) -> int:
    """The token id of model 0's rarest type (fewest training tokens, first among equals)."""
    return int(np.argmin(np.where(model.token_counts > 0, model.token_counts, np.inf)))


def _chains(seed: np.random.SeedSequence, quick: bool) -> tuple[np.ndarray, np.ndarray]:
    """(survivors at the last generation, rarest type lost) per chain."""
    from collapse_theory.lm.ngram import NGramTrainer

    model0 = _model0()
    trainer = NGramTrainer(1, "mle", vocab_size=model0.vocab_size)
    rarest = _rarest_type(model0)
    m, gens = _SETTING["num_tokens"], _SETTING["generations"]
    replicates = QUICK if quick else FULL
    rng = as_generator(seed)
    survivors = np.empty(replicates)
    lost = np.empty(replicates, bool)
    for r in range(replicates):
        model = model0
        for _ in range(gens):
            if quick:
                p = model.unigram().copy()
                p[0] = 0.0
                text = rng.choice(p.size, size=m, p=p / p.sum())[None, :]
            else:
                text = model.generate(np.zeros((1, 0), np.int32), m, seed=rng)
            model = trainer.fit(text)
        survivors[r] = np.count_nonzero(model.token_counts)
        lost[r] = model.token_counts[rarest] == 0
    return survivors, lost


def _survivors_theory() -> float:
    from collapse_theory.lm.theory import unigram_laws

    laws = unigram_laws(_model0().unigram(), _SETTING["num_tokens"], _SETTING["generations"])
    return float(laws.expected_survivors[0])


def _survivors_estimate(seed: np.random.SeedSequence, quick: bool) -> tuple[float, float]:
    survivors, _ = _chains(seed, quick)
    return float(survivors.mean()), float(survivors.std(ddof=1) / np.sqrt(survivors.size))


@functools.lru_cache(maxsize=1)
def _loss_theory() -> float:
    from collapse_theory.lm.theory import unigram_laws

    model0 = _model0()
    rarest = _rarest_type(model0)
    laws = unigram_laws(model0.unigram(), _SETTING["num_tokens"], _SETTING["generations"],
                        types=[rarest])  # fmt: skip
    return float(laws.loss_probability[0, 0])


def _loss_estimate(seed: np.random.SeedSequence, quick: bool) -> tuple[float, float]:
    r"""The proportion of chains that lost the rarest type, with its standard error under the
    exact probability :math:`p_0` of the null hypothesis, :math:`\sqrt{p_0(1-p_0)/R}` (a score
    test): with the quick run's 30 chains the plug-in SE from the proportion itself gave
    z-scores of standard deviation 1.26 over 128 calibration seeds
    (benchmarks/results/verify_calibration/)."""
    _, lost = _chains(seed, quick)
    p0 = _loss_theory()
    return float(lost.mean()), float(np.sqrt(p0 * (1.0 - p0) / lost.size))


_register(
    "unigram_survivors",
    "§11.1",
    "E N_5, surviving word types of a unigram MLE LM refitted on M = 1000 of its own tokens "
    "(model 0 from a Zipf(1.1) text over 100 types), against the categorical exact law (§1.4)",
    _SETTING,
    _survivors_theory,
    _survivors_estimate,
    quick=QUICK,
    full=FULL,
)

_register(
    "unigram_rare_loss",
    "§11.1",
    "P(the rarest word type of model 0 is lost by model 5), unigram MLE LM, M = 1000, against "
    "the exact lumped chain (§1.4)",
    _SETTING,
    _loss_theory,
    _loss_estimate,
    quick=QUICK,
    full=FULL,
)
