"""The registry of theorem checks.

A :class:`Check` pairs a closed form of ``docs/theory.md`` with an independent way of computing the same
number: a Monte Carlo estimate with its standard error (judged by a z-score), or an exact
computation (brute force, a dense Markov chain, an inequality) judged by a tolerance the check
states. Model families register their checks at import time from their own module
(``collapse_theory/<family>/checks.py``) with :func:`add_check`; :func:`checks` lists them in
registry order (sorted by name), which also fixes each check's random stream.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from collapse_theory import families
from collapse_theory._validate import InputError, InputTypeError

__all__ = ["KINDS", "Check", "add_check", "checks", "get", "register", "select", "unregister"]

#: How a check is judged.
#:
#: - ``"monte-carlo"``: ``estimate`` returns (MC estimate, standard error), or (MC estimate,
#:   standard error, notes) with ``notes`` a mapping of diagnostics such as ``{"top_share": 0.08}``
#:   (:func:`collapse_theory._stats.mean_estimate`); pass if the two-sided z-score is below the
#:   calibrated threshold of the run (see :mod:`.runner`). A ``top_share`` above
#:   :data:`collapse_theory._stats.TOP_SHARE_LIMIT` flags the standard error as untrusted in the
#:   report (the verdict stays the z-test's).
#: - ``"exact"``: ``estimate`` returns (independent exact value, 0); pass if
#:   ``|estimate - theory| <= tolerance``.
#: - ``"upper-bound"``: ``theory()`` is an upper bound; pass if ``estimate <= theory + tolerance``.
KINDS = ("monte-carlo", "exact", "upper-bound")

Kind = Literal["monte-carlo", "exact", "upper-bound"]
#: What an estimator returns: (estimate, standard error) or (estimate, standard error, notes).
EstimateResult = tuple[float, float] | tuple[float, float, Mapping[str, float]]
Estimator = Callable[[np.random.SeedSequence, bool], EstimateResult]


@dataclass(frozen=True)
class Check:
    """One numerical check of one closed form.

    Parameters
    ----------
    name : str
        Unique identifier, ``"<family>.<what>"`` (e.g. ``"categorical.heterozygosity"``).
    family : str
        Model family (``"categorical"``, ``"gaussian"``, ...).
    section : str
        Section of ``docs/theory.md`` the closed form comes from (e.g. ``"§1.3"``).
    description : str
        One line: what is compared with what.
    parameters : Mapping[str, object]
        The model parameters, shown in the report (JSON-compatible values).
    theory : callable () -> float
        The closed-form value (or, for ``kind="upper-bound"``, the bound).
    estimate : callable (SeedSequence, quick) -> (float, float) or (float, float, mapping)
        Monte Carlo: the estimate and its standard error, drawing all randomness from the given
        SeedSequence, with the quick or full sample size, optionally followed by a mapping of
        diagnostics (``{"top_share": ...}``: :func:`collapse_theory._stats.mean_estimate`).
        Exact kinds: the independent exact value and 0 (the SeedSequence is unused).
    kind : {"monte-carlo", "exact", "upper-bound"}
        How the check is judged (see :data:`KINDS`).
    tolerance : float
        Absolute tolerance of exact and upper-bound checks (ignored for Monte Carlo).
    quick_size, full_size : dict
        Monte Carlo sizes (e.g. ``{"num_replicates": 200_000}``) of the quick and full runs, shown
        in the report; the estimator reads them through :meth:`size`.
    """

    name: str
    family: str
    section: str
    description: str
    parameters: Mapping[str, object]
    theory: Callable[[], float]
    estimate: Estimator
    kind: Kind = "monte-carlo"
    tolerance: float = 0.0
    quick_size: Mapping[str, int] = field(default_factory=dict)
    full_size: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"check name must be a non-empty string; got {self.name!r}")
        if self.kind not in KINDS:
            raise InputError(f"check kind must be one of {list(KINDS)}; got {self.kind!r}")
        if self.kind != "monte-carlo" and not (
            math.isfinite(self.tolerance) and self.tolerance >= 0
        ):
            raise InputError(
                f"check {self.name!r}: an {self.kind} check needs a finite tolerance >= 0; "
                f"got {self.tolerance!r}"
            )
        if not self.section.startswith("§"):
            raise InputError(
                f"check {self.name!r}: section must look like '§1.3'; got {self.section!r}"
            )

    @property
    def is_monte_carlo(self) -> bool:
        """Whether the check is judged by a z-score (and counts in the Bonferroni correction)."""
        return self.kind == "monte-carlo"

    def size(self, quick: bool) -> dict[str, int]:
        """The Monte Carlo sizes of the quick or the full run."""
        return dict(self.quick_size if quick else self.full_size)


_REGISTRY: dict[str, Check] = {}


def register(check: Check, *, replace: bool = False) -> Check:
    """Add ``check`` to the registry; returns it.

    Parameters
    ----------
    check : Check
        The check (``add_check`` builds one from a family's arguments).
    replace : bool
        Replace a registered check of the same name instead of refusing it.

    Returns
    -------
    Check
        ``check``.

    Raises
    ------
    InputError
        If a check of that name is registered already (and ``replace`` is False).
    """
    if not isinstance(check, Check):
        raise InputTypeError(f"register expects a Check; got {type(check).__name__}")
    if check.name in _REGISTRY and not replace:
        raise InputError(f"a check named {check.name!r} is registered already")
    _REGISTRY[check.name] = check
    return check


def add_check(
    family: str,
    name: str,
    section: str,
    description: str,
    parameters: Mapping[str, object],
    theory: Callable[[], float],
    estimate: Estimator,
    *,
    kind: str = "monte-carlo",
    tolerance: float = 0.0,
    quick: int | None = None,
    full: int | None = None,
) -> Check:
    """Build and register the check ``family.name``; ``quick``/``full`` are the replicate counts
    its estimate uses in each mode (shown in the report)."""
    return register(
        Check(
            name=f"{family}.{name}",
            family=family,
            section=section,
            description=description,
            parameters=dict(parameters),
            theory=theory,
            estimate=estimate,
            kind=kind,  # type: ignore[arg-type]
            tolerance=tolerance,
            quick_size={"num_replicates": quick} if quick else {},
            full_size={"num_replicates": full} if full else {},
        )
    )


def unregister(name: str) -> None:
    """Remove the check ``name`` (for tests and plug-ins); an unknown name is ignored.

    Parameters
    ----------
    name : str
        The check's full name.
    """
    _REGISTRY.pop(name, None)


def checks(family: str | None = None) -> list[Check]:
    """All registered checks in registry order (sorted by name), optionally of one family.

    Parameters
    ----------
    family : str, optional
        Only this family's checks.

    Returns
    -------
    list of Check
        Sorted by name.
    """
    _load_builtin()
    ordered = [_REGISTRY[name] for name in sorted(_REGISTRY)]
    return [c for c in ordered if family is None or c.family == family]


def get(name: str) -> Check:
    """The check called ``name``.

    Parameters
    ----------
    name : str
        Its full name, e.g. ``"gaussian.log_variance_mean"``.

    Returns
    -------
    Check
        The registered check.

    Raises
    ------
    InputError
        No check has that name.
    """
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(f"no check named {name!r}; known checks: {sorted(_REGISTRY)}") from None


def select(only: Iterable[str] | None) -> list[Check]:
    """The checks named in ``only`` (exact names, or prefixes such as ``"categorical."``).

    Parameters
    ----------
    only : iterable of str or None
        Names or prefixes; None selects every check.

    Returns
    -------
    list of Check
        In registry order.

    Raises
    ------
    InputError, InputTypeError
        A pattern that is not a string, or that matches no check.
    """
    everything = checks()
    if only is None:
        return everything
    if isinstance(only, str):
        only = [only]
    wanted = list(only)
    chosen: set[str] = set()
    for pattern in wanted:
        if not isinstance(pattern, str):
            raise InputTypeError(f"only must hold check names (strings); got {pattern!r}")
        matches = [c for c in everything if c.name == pattern or c.name.startswith(pattern)]
        if not matches:
            raise InputError(
                f"only: no check named or starting with {pattern!r}; "
                f"known checks: {[c.name for c in everything]}"
            )
        chosen.update(m.name for m in matches)
    return [c for c in everything if c.name in chosen]


def _forget(family: str) -> None:
    for name in [name for name, check in _REGISTRY.items() if check.family == family]:
        del _REGISTRY[name]


#: Imports each family's checks module (each registers its checks on import).
_family_checks = families.PartLoader("checks", forget=_forget)


def _load_builtin() -> None:
    """Import every family's ``checks`` module once (each registers its checks on import).

    A model family plugs in by having a ``checks.py`` that calls :func:`add_check` and being
    registered in :mod:`collapse_theory.families`; nothing here names a family.
    """
    _family_checks.load()
