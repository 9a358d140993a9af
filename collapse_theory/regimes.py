"""Data regimes: what each generation's model is fitted to (docs/theory.md, "Indexing").

- :class:`Replace`: fit only the newest dataset, drawn from the previous model (the paper's setting).
- :class:`FreshData`: a fraction of every dataset comes from the original model.
  ``variant="mix"`` draws each point from the mixture (1 - fraction) * model_n + fraction * model_0;
  ``variant="split"`` draws round(fraction * M) points from model_0 and the rest from model_n.
- :class:`Accumulate`: fit the pool of all datasets drawn so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from collapse_theory._validate import InputTypeError, check_choice, check_real

__all__ = ["Accumulate", "FreshData", "Regime", "Replace", "check_regime", "regime_code"]

#: Integer codes the kernels use for the regimes.
REPLACE, FRESH_MIX, FRESH_SPLIT, ACCUMULATE = 0, 1, 2, 3


@dataclass(frozen=True)
class Replace:
    """Fit only the newest dataset, drawn from the previous model."""


@dataclass(frozen=True)
class FreshData:
    """A fraction of each dataset comes from the original model (docs/theory.md §1.7, §2.7)."""

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


Regime = Replace | FreshData | Accumulate


def check_regime(regime: object) -> Regime:
    """Return ``regime`` if it is a regime instance, else raise a TypeError saying what is allowed."""
    if isinstance(regime, (Replace, FreshData, Accumulate)):
        return regime
    raise InputTypeError(
        "regime must be an instance of Replace(), FreshData(fraction, variant) or Accumulate(); "
        f"got {regime!r}"
    )


def regime_code(regime: Regime) -> int:
    """The kernels' integer code for a (validated) regime."""
    if isinstance(regime, Replace):
        return REPLACE
    if isinstance(regime, Accumulate):
        return ACCUMULATE
    return FRESH_MIX if regime.variant == "mix" else FRESH_SPLIT
