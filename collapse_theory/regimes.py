"""Data regimes: what each generation's model is fitted to (docs/theory.md, "Indexing").

- :class:`Replace`: fit only the newest dataset, drawn from the previous model (the paper's setting).
- :class:`FreshData`: a fraction of every dataset comes from the original model.
  ``variant="mix"`` draws each point from the mixture (1 - fraction) * model_n + fraction * model_0;
  ``variant="split"`` draws round(fraction * M) points from model_0 and the rest from model_n.
- :class:`Accumulate`: fit the pool of all datasets drawn so far.
- :class:`AccumulateSubsample`: fit a random subsample, of one dataset's size, of that pool
  (the KDE and regression families, docs/theory.md §5.1-§5.2).
- :class:`WeightedFresh`: each fit is (1 - w) x (fit to M synthetic draws) + w x (fit to
  ``num_real`` fresh draws of the original model) (docs/theory.md §9.1).

Families opt in to the last two: :func:`check_regime` refuses them unless the caller lists them
in ``supported``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from collapse_theory._validate import (
    InputError,
    InputTypeError,
    check_choice,
    check_int,
    check_real,
)

__all__ = [
    "Accumulate",
    "AccumulateSubsample",
    "FreshData",
    "Regime",
    "Replace",
    "WeightedFresh",
    "check_regime",
    "regime_code",
]

#: Integer codes the kernels use for the regimes.
REPLACE, FRESH_MIX, FRESH_SPLIT, ACCUMULATE, WEIGHTED = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Replace:
    """Fit only the newest dataset, drawn from the previous model."""


@dataclass(frozen=True)
class FreshData:
    """A fraction of each dataset comes from the original model (docs/theory.md §1.7, §2.7).

    Parameters
    ----------
    fraction : float
        The share of fresh data from the original model, in [0, 1].
    variant : {"mix", "split"}
        ``"mix"``: each of the M points is fresh with probability ``fraction``; ``"split"``:
        exactly ``round(fraction * M)`` of them are (docs/theory.md §1.7, §2.7).
    """

    fraction: float
    variant: Literal["mix", "split"] = "mix"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "fraction", check_real("fraction", self.fraction, minimum=0.0, maximum=1.0)
        )
        check_choice("variant", self.variant, ("mix", "split"))


@dataclass(frozen=True)
class Accumulate:
    """Fit the pool of all datasets so far (docs/theory.md §1.8, §2.8)."""


@dataclass(frozen=True)
class AccumulateSubsample:
    """Fit on a random subsample, without replacement, of one dataset's size from the pool of
    all datasets so far (docs/theory.md §5.1, §5.2). Supported by the KDE and regression
    families; the others refuse it (:func:`check_regime`)."""


@dataclass(frozen=True)
class WeightedFresh:
    r"""Weighted fresh data (docs/theory.md §9.1): every generation's estimate is

    .. math:: \hat\theta_{t+1} = (1 - w)\,\hat\theta_{\mathrm{syn}} + w\,\hat\theta_{\mathrm{real}}

    with :math:`\hat\theta_{\mathrm{syn}}` fitted to the M synthetic draws of the current model
    and :math:`\hat\theta_{\mathrm{real}}` to ``num_real`` fresh draws of the original model
    (He, Xu & Cheng 2025). Supported by the categorical and Gaussian families; the others
    refuse it (:func:`check_regime`).

    Parameters
    ----------
    weight : float
        w in [0, 1]: 0 is Replace with no fresh data, 1 refits the truth every generation.
    num_real : int
        n >= 1 fresh draws of the original model per generation.
    """

    weight: float
    num_real: int

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "weight", check_real("weight", self.weight, minimum=0.0, maximum=1.0)
        )
        object.__setattr__(self, "num_real", check_int("num_real", self.num_real, minimum=1))


Regime = Replace | FreshData | Accumulate | AccumulateSubsample | WeightedFresh

#: The regimes every family supports; a family adds :class:`WeightedFresh` or
#: :class:`AccumulateSubsample` when it implements them.
BASIC_REGIMES = (Replace, FreshData, Accumulate)
#: Every regime class of this module.
ALL_REGIMES = (Replace, FreshData, Accumulate, AccumulateSubsample, WeightedFresh)


def _describe(kinds: tuple[type, ...]) -> str:
    names = {
        Replace: "Replace()",
        FreshData: "FreshData(fraction, variant)",
        Accumulate: "Accumulate()",
        AccumulateSubsample: "AccumulateSubsample()",
        WeightedFresh: "WeightedFresh(weight, num_real)",
    }
    return ", ".join(names.get(kind, kind.__name__) for kind in kinds)


def check_regime(
    regime: object, supported: tuple[type, ...] = BASIC_REGIMES, where: str = "this model"
) -> Regime:
    """Return ``regime`` if it is an instance of one of the ``supported`` regime classes.

    Anything that is not a regime raises an InputTypeError; a regime of this module that the
    caller does not list in ``supported`` (by default :class:`WeightedFresh`, which a family must
    opt in to) raises an InputError naming ``where`` and the supported regimes.
    """
    if isinstance(regime, supported):
        return regime  # type: ignore[return-value]
    if isinstance(regime, ALL_REGIMES):
        raise InputError(
            f"regime={regime!r} is not supported by {where}; supported: {_describe(supported)}"
        )
    raise InputTypeError(f"regime must be an instance of {_describe(supported)}; got {regime!r}")


def regime_code(regime: Regime) -> int:
    """The kernels' integer code for a (validated) regime."""
    if isinstance(regime, Replace):
        return REPLACE
    if isinstance(regime, Accumulate):
        return ACCUMULATE
    if isinstance(regime, WeightedFresh):
        return WEIGHTED
    return FRESH_MIX if regime.variant == "mix" else FRESH_SPLIT
