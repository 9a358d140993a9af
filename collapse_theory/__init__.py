"""collapse_theory: theory and simulation of model collapse.

Closed forms, exact Markov-chain computations and fast simulators for generative models trained,
generation after generation, on samples of their predecessor (Shumailov et al., Nature 2024).
The mathematics is in docs/theory.md.

The model families (``ct.categorical``, ``ct.gaussian``, ``ct.gmm``, ... -- the registry of
:mod:`collapse_theory.families`), ``ct.plotting`` and ``ct.sweep`` are imported on first use.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

from collapse_theory import backends, families, metrics, policies, schedules, tails, verify
from collapse_theory.regimes import (
    Accumulate,
    AccumulateSubsample,
    FreshData,
    Replace,
    WeightedFresh,
)
from collapse_theory.results import SimulationResult, Summary

#: Modules imported on first attribute access (they pull in matplotlib, dask or a family).
_LAZY = ("plotting", "sweep")

__all__ = [
    "Accumulate",
    "AccumulateSubsample",
    "FreshData",
    "Replace",
    "SimulationResult",
    "Summary",
    "WeightedFresh",
    "__version__",
    "backends",
    "families",
    "metrics",
    "plotting",
    "policies",
    "schedules",
    "sweep",
    "tails",
    "verify",
    *families.BUILTIN,
]


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    if name in families.names():
        return families.package(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(families.names()))
