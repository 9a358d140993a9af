"""Tail-loss rates: how fast each model family, estimator and data regime loses the tails of
the original distribution (docs/theory.md §1.9, §2.9; design.md goal 3).

One vocabulary across families: a tail set of the original model, its mass per generation
summarised as a :class:`TailCurve` (expected mass, median, quantiles, P(mass < eps T0),
surviving tail states), and the rates read off it (:func:`tail_rates`). Each family's tail law
lives in its own ``tails.py`` (``ct.categorical.tails``, ``ct.gaussian.tails``,
``ct.gmm.tails``); their public names are also reachable here (``ct.tails.CategoricalTail``,
``ct.tails.categorical_exact``, ...). :func:`tail_loss_table` runs the benchmark grid behind
``collapse-theory tail-loss``.
"""

from __future__ import annotations

from typing import Any

from collapse_theory.tails.curves import QUANTILE_LEVELS, TailCurve
from collapse_theory.tails.rates import TailRates, average_rate, crossing_generation, tail_rates
from collapse_theory.tails.table import tail_loss_table

__all__ = [
    "QUANTILE_LEVELS",
    "TailCurve",
    "TailRates",
    "average_rate",
    "crossing_generation",
    "tail_loss_table",
    "tail_rates",
]


def _family_names() -> dict[str, object]:
    """Public name -> object, from every registered family's ``tails`` module."""
    from collapse_theory import families

    found: dict[str, object] = {}
    for _, module in families.modules("tails"):
        for name in getattr(module, "__all__", ()):
            if name.startswith("benchmark_"):
                continue
            if name in found and found[name] is not getattr(module, name):
                raise ImportError(f"two families export the tail name {name!r}; rename one")
            found[name] = getattr(module, name)
    return found


def __getattr__(name: str) -> Any:  # a family's name, of any type: Any keeps it usable
    found = _family_names().get(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return found


def __dir__() -> list[str]:
    return sorted([*__all__, *_family_names()])
