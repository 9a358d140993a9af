"""Numerical verification of every closed form against simulation or brute force.

>>> import collapse_theory as ct
>>> names = [check.name for check in ct.verify.checks()]
>>> report = ct.verify.run(quick=True, seed=0, only=["categorical.heterozygosity"])
>>> print(report.format())  # doctest: +SKIP

Each model family registers its checks from its own ``checks.py``
(:func:`collapse_theory.verify.registry.add_check`); this package is the machinery: :func:`run` judges Monte Carlo checks by z-scores
calibrated to a stated family-wise false-alarm rate and exact checks by their stated tolerance.
"""

from collapse_theory.verify.registry import KINDS, Check, checks, get, register, select, unregister
from collapse_theory.verify.runner import (
    DEFAULT_FAMILY_WISE_RATE,
    CheckResult,
    Report,
    bonferroni_threshold,
    run,
)

__all__ = [
    "DEFAULT_FAMILY_WISE_RATE",
    "KINDS",
    "Check",
    "CheckResult",
    "Report",
    "bonferroni_threshold",
    "checks",
    "get",
    "register",
    "run",
    "select",
    "unregister",
]
