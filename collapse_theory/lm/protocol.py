r"""The interfaces every language model and trainer of the family implements (docs/theory.md §11.1).

A :class:`LanguageModel` scores blocks of token ids and continues prompts; a :class:`Trainer`
fits one on blocks of training text. The n-gram models (:mod:`collapse_theory.lm.ngram`) and the
transformer (:mod:`collapse_theory.lm.transformer`) both follow them, so the protocol of
:mod:`collapse_theory.lm.simulate` runs either.

Decoding conventions shared by all models (docs/theory.md §8.1 for the policies):

- the unknown token (id 0) is never generated: its probability is set to 0 first;
- ``repetition_penalty`` r >= 1 (Keskar et al. 2019, as in Hugging Face): a token already in the
  prompt or the continuation so far has its logit divided by r if positive, multiplied by r if
  negative; for an n-gram model the logit is ln p (<= 0), so its probability becomes p^r before
  renormalising;
- then ``policy`` (``collapse_theory.policies``: Temperature, TopK, TopP, MinP, Compose) maps
  the distribution, and the next token is drawn from the result;
- ``beam > 1`` is beam search (deterministic; ``policy`` must then be None): the ``beam`` best
  partial continuations by total log-probability (after the penalty) are kept at each step, and
  the best full one is returned.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from collapse_theory._validate import InputError, InputTypeError, check_int, check_real
from collapse_theory.policies import Policy, check_policy
from collapse_theory.rng import SeedLike

__all__ = [
    "LanguageModel",
    "Trainer",
    "check_blocks",
    "check_decoding",
    "sequence_perplexity",
]


@runtime_checkable
class LanguageModel(Protocol):
    """A model of token sequences over ids ``0 .. vocab_size - 1`` (docs/theory.md §11.1).

    Parameters
    ----------
    vocab_size : int
        Number of token ids (``<unk>`` = 0 included).
    """

    vocab_size: int

    def token_log_probs(self, blocks: np.ndarray) -> np.ndarray:
        """ln p(x_t | x_<t) for t = 1..L-1 of each block.

        Parameters
        ----------
        blocks : numpy.ndarray of int, shape (S, L)
            Token ids, L >= 2.

        Returns
        -------
        numpy.ndarray of float64, shape (S, L - 1)
            Natural-log conditional probabilities (a model conditions on at most its own
            context length).
        """
        ...

    def generate(
        self,
        prompts: np.ndarray,
        length: int,
        *,
        seed: SeedLike,
        policy: Policy | None = None,
        beam: int = 1,
        repetition_penalty: float = 1.0,
    ) -> np.ndarray:
        """Continue each prompt by ``length`` tokens (conventions in the module docstring).

        Parameters
        ----------
        prompts : numpy.ndarray of int, shape (S, P)
            Prompts, P >= 0.
        length : int
            Number of tokens to generate after each prompt.
        seed : SeedLike
            Random seed (same seed, same output).
        policy : Policy or None
            Sampling policy applied to each next-token distribution.
        beam : int
            Beam width; > 1 is beam search (then ``policy`` must be None).
        repetition_penalty : float
            r >= 1; 1 is no penalty.

        Returns
        -------
        numpy.ndarray of int32, shape (S, length)
            The continuations (the tokens after the prompt); never 0 (``<unk>``).
        """
        ...


@runtime_checkable
class Trainer(Protocol):
    """Fits a :class:`LanguageModel` on blocks of training text (docs/theory.md §11.1).

    Parameters
    ----------
    name : str
        "ngram" or "transformer".
    """

    name: str

    def fit(
        self, blocks: np.ndarray, *, seed: SeedLike, start: LanguageModel | None = None
    ) -> LanguageModel:
        """Fit on training blocks.

        Parameters
        ----------
        blocks : numpy.ndarray of int, shape (S, L)
            Training text.
        seed : SeedLike
            Random seed.
        start : LanguageModel or None
            Model to fine-tune from (transformer; None = its pretrained base); an n-gram trainer
            ignores it.

        Returns
        -------
        LanguageModel
            The fitted model.
        """
        ...


def check_blocks(name: str, blocks: object, vocab_size: int, *, min_length: int = 1) -> np.ndarray:
    """``blocks`` as a C-contiguous int32 array (S, L) of ids in ``[0, vocab_size)``.

    Parameters
    ----------
    name : str
        Argument name for messages.
    blocks : array_like of int, shape (S, L)
        Token ids.
    vocab_size : int
        Number of ids.
    min_length : int
        Smallest allowed L (0 allows empty prompts).

    Returns
    -------
    numpy.ndarray of int32, shape (S, L)
        The checked blocks.
    """
    array = np.asarray(blocks)
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise InputTypeError(
            f"{name} must be an integer array of token ids; got dtype {array.dtype}"
        )
    if array.ndim != 2:
        raise InputError(f"{name} must be 2-D (sequences, tokens); got shape {array.shape}")
    if array.shape[1] < min_length:
        raise InputError(
            f"{name} must have at least {min_length} tokens per row; got shape {array.shape}"
        )
    if array.size and (array.min() < 0 or array.max() >= vocab_size):
        raise InputError(
            f"{name} must hold token ids in [0, {vocab_size}); got values in "
            f"[{array.min()}, {array.max()}]"
        )
    return np.ascontiguousarray(array, dtype=np.int32)


def check_decoding(
    policy: object, beam: object, repetition_penalty: object
) -> tuple[Policy | None, int, float]:
    """Validate the decoding arguments of :meth:`LanguageModel.generate`.

    Parameters
    ----------
    policy : Policy or None
        A categorical policy (Temperature, TopK, TopP, MinP, Compose).
    beam : int
        Beam width >= 1; > 1 requires ``policy is None``.
    repetition_penalty : float
        r >= 1.

    Returns
    -------
    tuple
        ``(policy, beam, repetition_penalty)``, checked; an identity policy becomes None.
    """
    policy = check_policy(policy, "categorical")
    beam = check_int("beam", beam, minimum=1)
    penalty = check_real("repetition_penalty", repetition_penalty, minimum=1.0)
    if policy is not None and policy.is_identity:
        policy = None
    if beam > 1 and policy is not None:
        raise InputError(
            f"beam search (beam={beam}) is deterministic and takes no sampling policy; got "
            f"policy={policy!r}; use beam=1 to sample with a policy"
        )
    return policy, beam, penalty


def sequence_perplexity(model: LanguageModel, blocks: np.ndarray) -> np.ndarray:
    r"""Per-sequence perplexity :math:`\exp(-\frac{1}{L-1}\sum_{t=1}^{L-1} \ln p(x_t\mid x_{<t}))`.

    docs/theory.md §11. A token of probability 0 (possible under a maximum-likelihood n-gram
    model) makes its sequence's perplexity infinite.

    Parameters
    ----------
    model : LanguageModel
        The model.
    blocks : numpy.ndarray of int, shape (S, L)
        Sequences, L >= 2.

    Returns
    -------
    numpy.ndarray of float64, shape (S,)
        Perplexity of each sequence.
    """
    if not isinstance(model, LanguageModel):
        raise InputTypeError(f"model must be a LanguageModel; got {type(model).__name__}")
    blocks = check_blocks("blocks", blocks, model.vocab_size, min_length=2)
    log_probs = np.asarray(model.token_log_probs(blocks), dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.exp(-log_probs.mean(axis=1))
