r"""Sampling (decoding) policies: the map from a fitted model to the law actually sampled
(docs/theory.md §8).

A policy :math:`T` applies whenever a *fitted* model (model :math:`n \ge 1`) generates; the
original data (dataset 0) come from the truth as is.

Distributions over states (categorical model, docs/theory.md §8.1), applied along the last axis:

- :class:`Temperature` :math:`\tau`: :math:`q_i \propto p_i^{1/\tau}`.
- :class:`TopK` k: keep the k largest :math:`p_i`, renormalise.
- :class:`TopP` p (nucleus): keep the smallest set of largest :math:`p_i` whose mass is
  :math:`\ge p`, renormalise.
- :class:`MinP` p: keep :math:`p_i \ge p \max_j p_j`, renormalise.

Tie rule (top-k, top-p): states are ranked by decreasing probability, equal probabilities by
increasing index (a stable sort), and the first ones in that order are kept; states of
probability 0 are never kept. Top-p keeps the first ``c`` states of that order, ``c`` the
smallest count whose cumulative mass (summed in that order in float64) is ``>= p - 1e-12``
(:data:`TOP_P_SLACK`, so that ``p = 1`` keeps the whole support despite rounding). No policy
gives mass to a state of probability 0: the support can only shrink.

The Gaussian (docs/theory.md §8.2): :class:`Temperature` :math:`\tau` samples
:math:`N(\hat\mu, \tau^2\hat\sigma^2)`; :class:`Truncation` k samples
:math:`N(\hat\mu, \hat\sigma^2)` restricted to :math:`|x - \hat\mu| \le k\hat\sigma`. Either
way, and for any composition of the two, the sampled law is :math:`\hat\mu + \hat\sigma\, s X`
with :math:`X` a standard normal truncated to :math:`[-c, c]` (:meth:`Policy.gaussian_law`).

Policies compose left to right: ``Compose(Temperature(0.7), TopP(0.9))`` (or
``Temperature(0.7).then(TopP(0.9))``) applies the temperature first, as LM decoders do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import erf

from collapse_theory._validate import (
    InputError,
    InputTypeError,
    as_float_array,
    check_int,
    check_real,
)

__all__ = [
    "Compose",
    "MinP",
    "Policy",
    "Temperature",
    "TopK",
    "TopP",
    "Truncation",
    "check_policy",
    "kernel_stages",
    "parse_policy",
    "truncated_normal_moments",
]

#: Top-p keeps the smallest prefix whose cumulative mass is >= p - TOP_P_SLACK.
TOP_P_SLACK = 1e-12

#: Kernel codes of the categorical stages (:func:`kernel_stages`).
TEMPERATURE, TOP_K, TOP_P, MIN_P = 1, 2, 3, 4


class Policy:
    """Base class of the sampling policies (frozen dataclasses)."""

    #: Whether the policy applies to distributions over states / to the 1-D Gaussian.
    categorical: bool = False
    gaussian: bool = False

    def then(self, other: Policy) -> Compose:
        """The composition: this policy first, then ``other``."""
        return Compose(self, other)

    def __call__(self, p: ArrayLike) -> np.ndarray:
        """Apply the map to probability vectors along the last axis (docs/theory.md §8.1)."""
        if not self.categorical:
            raise InputTypeError(
                f"{self!r} is a policy for the Gaussian model and has no map on distributions "
                "over states; use Temperature, TopK, TopP or MinP"
            )
        p = as_float_array("p", p)
        if p.ndim == 0 or p.shape[-1] == 0:
            raise InputError(f"p must have a last axis of states; got shape {p.shape}")
        if np.any(p < 0):
            raise InputError(f"p must be non-negative; got minimum {p.min()!r}")
        totals = p.sum(axis=-1, keepdims=True)
        if np.any(np.abs(totals - 1.0) > 1e-9):
            raise InputError("p must sum to 1 along its last axis (within 1e-9)")
        return self._map(p / totals)

    def _map(self, p: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _stages(self) -> tuple[Policy, ...]:
        return (self,)

    def gaussian_law(self) -> tuple[float, float]:
        r"""(s, c): the sampled law is :math:`\hat\mu + \hat\sigma s X`, X ~ N(0, 1) on [-c, c].

        ``c = inf`` means no truncation (docs/theory.md §8.2).
        """
        if not self.gaussian:
            raise InputTypeError(
                f"{self!r} is a policy for distributions over states and has no Gaussian law; "
                "use Temperature(tau) or Truncation(k) for the Gaussian"
            )
        scale, half_width = 1.0, math.inf  # half-width in units of the fitted sigma
        for stage in self._stages():
            scale, half_width = stage._gaussian_step(scale, half_width)
        return scale, half_width / scale

    def _gaussian_step(self, scale: float, half_width: float) -> tuple[float, float]:
        raise NotImplementedError  # pragma: no cover - abstract

    def variance_factor(self) -> float:
        r"""Variance of the sampled law over :math:`\hat\sigma^2`: :math:`s^2 c_c` (§8.2)."""
        scale, cut = self.gaussian_law()
        return scale**2 * truncated_normal_moments(cut)[0]

    @property
    def is_identity(self) -> bool:
        """True for Temperature(1.0) (and compositions of it): the simulators skip it."""
        return all(isinstance(s, Temperature) and s.tau == 1.0 for s in self._stages())


def _renormalised(p: np.ndarray, keep: np.ndarray) -> np.ndarray:
    q = np.where(keep, p, 0.0)
    return q / q.sum(axis=-1, keepdims=True)


def _ranks(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, rank): decreasing probability, ties by increasing index (stable)."""
    order = np.argsort(-p, axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(p.shape[-1]), axis=-1)
    return order, rank


@dataclass(frozen=True)
class Temperature(Policy):
    r"""Temperature :math:`\tau > 0`: :math:`q_i \propto p_i^{1/\tau}`; Gaussian:
    :math:`N(\hat\mu, \tau^2\hat\sigma^2)` (docs/theory.md §8.1, §8.2).

    ``Temperature(1.0)`` is the identity (the simulators give bit-identical results to no policy).

    Parameters
    ----------
    tau : float
        Temperature :math:`\tau > 0`; :math:`\tau < 1` sharpens towards the mode(s),
        :math:`\tau > 1` flattens (categorical) or widens the Gaussian by :math:`\tau`.
    """

    tau: float
    categorical = True
    gaussian = True

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "tau", check_real("tau", self.tau, minimum=0.0, strict_minimum=True)
        )

    def _map(self, p: np.ndarray) -> np.ndarray:
        if self.tau == 1.0:
            return p.copy()
        positive = p > 0
        with np.errstate(divide="ignore"):
            logp = np.where(positive, np.log(np.where(positive, p, 1.0)), -np.inf)
        top = logp.max(axis=-1, keepdims=True)
        weights = np.where(positive, np.exp((logp - top) / self.tau), 0.0)
        return weights / weights.sum(axis=-1, keepdims=True)

    def _gaussian_step(self, scale: float, half_width: float) -> tuple[float, float]:
        # a density raised to 1/tau: N(0, s^2) -> N(0, tau^2 s^2), the cut unchanged
        return scale * self.tau, half_width


@dataclass(frozen=True)
class TopK(Policy):
    """Keep the k >= 1 most probable states, renormalise (ties: lower index first; §8.1).

    Parameters
    ----------
    k : int
        Number of states kept, >= 1 (states of probability 0 are never kept, so fewer may
        remain).
    """

    k: int
    categorical = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", check_int("k", self.k, minimum=1))

    def _map(self, p: np.ndarray) -> np.ndarray:
        _, rank = _ranks(p)
        return _renormalised(p, (rank < self.k) & (p > 0))


@dataclass(frozen=True)
class TopP(Policy):
    """Nucleus sampling: keep the smallest set of most probable states with mass >= p, p in (0, 1]
    (ties: lower index first; cumulative mass compared with p - ``TOP_P_SLACK``; §8.1).

    Parameters
    ----------
    p : float
        Mass threshold in (0, 1]; ``p = 1`` keeps the whole support.
    """

    p: float
    categorical = True

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "p", check_real("p", self.p, minimum=0.0, maximum=1.0, strict_minimum=True)
        )

    def _map(self, p: np.ndarray) -> np.ndarray:
        order, rank = _ranks(p)
        cumulative = np.cumsum(np.take_along_axis(p, order, axis=-1), axis=-1)
        count = 1 + np.count_nonzero(cumulative < self.p - TOP_P_SLACK, axis=-1, keepdims=True)
        return _renormalised(p, (rank < count) & (p > 0))


@dataclass(frozen=True)
class MinP(Policy):
    """Keep the states with p_i >= p * max_j p_j, p in (0, 1], renormalise (§8.1).

    Parameters
    ----------
    p : float
        Threshold relative to the largest probability, in (0, 1]; ``p = 1`` keeps only the
        mode(s).
    """

    p: float
    categorical = True

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "p", check_real("p", self.p, minimum=0.0, maximum=1.0, strict_minimum=True)
        )

    def _map(self, p: np.ndarray) -> np.ndarray:
        threshold = self.p * p.max(axis=-1, keepdims=True)
        return _renormalised(p, (p >= threshold) & (p > 0))


@dataclass(frozen=True)
class Truncation(Policy):
    r"""Gaussian truncation to :math:`|x - \hat\mu| \le k\hat\sigma`, k > 0 (docs/theory.md §8.2).

    Parameters
    ----------
    k : float
        Half-width of the kept interval in units of the standard deviation of the law being
        truncated (finite, > 0).
    """

    k: float
    gaussian = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", check_real("k", self.k, minimum=0.0, strict_minimum=True))

    def _gaussian_step(self, scale: float, half_width: float) -> tuple[float, float]:
        # the cut is k times the sd of the law being truncated
        return scale, min(half_width, self.k * scale)


@dataclass(frozen=True, init=False)
class Compose(Policy):
    """Apply ``stages`` left to right (e.g. ``Compose(Temperature(0.7), TopP(0.9))``).

    Parameters
    ----------
    *stages : Policy
        At least one policy, all for distributions over states (Temperature, TopK, TopP, MinP)
        or all for the Gaussian (Temperature, Truncation); nested compositions are flattened
        into :attr:`stages`.
    """

    stages: tuple[Policy, ...]

    def __init__(self, *stages: Policy) -> None:
        flat: list[Policy] = []
        for i, stage in enumerate(stages):
            if not isinstance(stage, Policy):
                raise InputTypeError(
                    f"Compose stage {i} must be a policy (Temperature, TopK, TopP, MinP, "
                    f"Truncation); got {stage!r}"
                )
            flat.extend(stage._stages())
        if not flat:
            raise InputError("Compose needs at least one policy")
        categorical = all(s.categorical for s in flat)
        gaussian = all(s.gaussian for s in flat)
        if not categorical and not gaussian:
            raise InputError(
                f"Compose mixes policies for distributions over states and for the Gaussian: "
                f"{tuple(flat)!r}"
            )
        object.__setattr__(self, "stages", tuple(flat))
        object.__setattr__(self, "categorical", categorical)
        object.__setattr__(self, "gaussian", gaussian)

    def _stages(self) -> tuple[Policy, ...]:
        return self.stages

    def _map(self, p: np.ndarray) -> np.ndarray:
        for stage in self.stages:
            p = stage._map(p)
        return p

    def __repr__(self) -> str:
        return f"Compose({', '.join(repr(s) for s in self.stages)})"


def check_policy(policy: object, model: str) -> Policy | None:
    """Return ``policy`` (None or a policy applicable to ``model``: "categorical" or "gaussian").

    Parameters
    ----------
    policy : object
        None or a :class:`Policy`.
    model : {"categorical", "gaussian"}
        The model the policy will be applied to.

    Returns
    -------
    Policy or None
        ``policy`` itself, unchanged.

    Raises
    ------
    InputTypeError
        ``policy`` is not a policy, or one that does not apply to ``model``.
    """
    if policy is None:
        return None
    if not isinstance(policy, Policy):
        raise InputTypeError(
            "policy must be None or a collapse_theory.policies policy (Temperature, TopK, TopP, "
            f"MinP, Truncation, Compose); got {policy!r}"
        )
    if model == "categorical" and not policy.categorical:
        raise InputTypeError(
            f"policy={policy!r} is a policy for the Gaussian model; the categorical model "
            "takes Temperature, TopK, TopP, MinP or a Compose of them"
        )
    if model == "gaussian" and not policy.gaussian:
        raise InputTypeError(
            f"policy={policy!r} is a policy for distributions over states; the Gaussian model "
            "takes Temperature, Truncation or a Compose of them"
        )
    return policy


def kernel_stages(policy: Policy | None) -> tuple[np.ndarray, np.ndarray]:
    """(codes, parameters) of a categorical policy for the numba/jax kernels.

    Identity stages (``Temperature(1.0)``) are dropped, so that None and Temperature(1.0) run
    the very same code.

    Parameters
    ----------
    policy : Policy or None
        A categorical policy (checked by :func:`check_policy`), or None for no policy.

    Returns
    -------
    codes : numpy.ndarray of int64, shape (S,)
        Stage codes in the order applied: ``TEMPERATURE``, ``TOP_K``, ``TOP_P`` or ``MIN_P``
        (empty for None or an identity policy).
    params : numpy.ndarray of float64, shape (S,)
        The stage parameters: tau, k (as a float), p or p.
    """
    codes: list[int] = []
    params: list[float] = []
    for stage in () if policy is None else policy._stages():
        if isinstance(stage, Temperature):
            if stage.tau != 1.0:
                codes.append(TEMPERATURE)
                params.append(stage.tau)
        elif isinstance(stage, TopK):
            codes.append(TOP_K)
            params.append(float(stage.k))
        elif isinstance(stage, TopP):
            codes.append(TOP_P)
            params.append(stage.p)
        elif isinstance(stage, MinP):
            codes.append(MIN_P)
            params.append(stage.p)
        else:  # pragma: no cover - check_policy refuses these
            raise InputTypeError(f"{stage!r} has no categorical kernel")
    return np.array(codes, dtype=np.int64), np.array(params, dtype=np.float64)


def truncated_normal_moments(cut: float) -> tuple[float, float]:
    r"""(E X², E X⁴) of a standard normal truncated to [-c, c] (docs/theory.md §8.2).

    .. math:: E X^2 = c_c = 1 - \frac{2c\varphi(c)}{2\Phi(c) - 1}, \qquad
              E X^4 = 3 c_c - \frac{2c^3\varphi(c)}{2\Phi(c) - 1}

    (integration by parts); ``cut = inf`` gives (1, 3). ``c_2 = 0.773741``.

    Parameters
    ----------
    cut : float
        Half-width c > 0 of the truncation, in standard deviations (``inf`` for none).

    Returns
    -------
    second : float
        :math:`E X^2 = c_c`, in (0, 1].
    fourth : float
        :math:`E X^4`, in (0, 3].
    """
    if math.isinf(cut):
        return 1.0, 3.0
    mass = float(erf(cut / math.sqrt(2.0)))  # 2 Phi(c) - 1
    density = math.exp(-0.5 * cut * cut) / math.sqrt(2.0 * math.pi)
    second = 1.0 - 2.0 * cut * density / mass
    fourth = 3.0 * second - 2.0 * cut**3 * density / mass
    return second, fourth


#: Names of the policies in text (``parse_policy``).
_NAMES: dict[str, type[Policy]] = {
    "temperature": Temperature,
    "top-k": TopK,
    "top-p": TopP,
    "min-p": MinP,
    "truncation": Truncation,
}


def parse_policy(text: str | Policy | None) -> Policy | None:
    """A policy from text, for the command line and sweep specs: ``"temperature 0.7"``,
    ``"top-k 50"``, ``"top-p 0.9"``, ``"min-p 0.1"``, ``"truncation 2"``, stages joined by
    ``+`` (``"temperature 0.7 + top-p 0.9"``), or ``"none"``. A policy (or None) passes through.

    Parameters
    ----------
    text : str, Policy or None
        Stages ``NAME VALUE`` (NAME one of temperature, top-k, top-p, min-p, truncation; the
        value an int for top-k, a float otherwise) joined by ``+``, or ``"none"``
        (case-insensitive); or a policy or None, returned as is.

    Returns
    -------
    Policy or None
        The single policy, a :class:`Compose` of the stages, or None for ``"none"``.

    Raises
    ------
    InputError, InputTypeError
        Text that is not of that form (named in the message).

    Examples
    --------
    >>> parse_policy("temperature 0.7 + top-p 0.9")
    Compose(Temperature(tau=0.7), TopP(p=0.9))
    """
    if text is None or isinstance(text, Policy):
        return text
    if not isinstance(text, str):
        raise InputTypeError(f"policy must be text such as 'top-p 0.9'; got {text!r}")
    if text.strip().lower() == "none":
        return None
    stages: list[Policy] = []
    for part in text.split("+"):
        words = part.split()
        if len(words) != 2 or words[0].lower() not in _NAMES:
            raise InputError(
                f"policy {text!r}: each stage must be NAME VALUE with NAME one of "
                f"{sorted(_NAMES)} (e.g. 'temperature 0.7 + top-p 0.9'), or 'none'"
            )
        kind = _NAMES[words[0].lower()]
        try:
            value = int(words[1]) if kind is TopK else float(words[1])
        except ValueError:
            raise InputError(
                f"policy {text!r}: {words[1]!r} is not a number for {words[0]}"
            ) from None
        stages.append(kind(value))
    return stages[0] if len(stages) == 1 else Compose(*stages)
