"""Numerical verification of every closed form against simulation or brute force.

>>> import collapse_theory as ct
>>> names = [check.name for check in ct.verify.checks()]
>>> report = ct.verify.run(quick=True, seed=0, only=["categorical.heterozygosity"])
>>> print(report.format())  # doctest: +SKIP

Model families add checks by registering :class:`Check` objects from a module of this package
(see :mod:`collapse_theory.verify.registry`); :func:`run` judges Monte Carlo checks by z-scores
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
