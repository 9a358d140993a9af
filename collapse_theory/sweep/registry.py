"""The functions a sweep may call, how spec values become their arguments, and the checks that
reject a bad spec before any work starts.

The functions come from the registered families (:mod:`collapse_theory.families`): each
family's ``simulate`` (``"<family>.simulate"``, with the arrays its :class:`Family` declares) and,
where the family declares it, every public function of its ``theory`` module
(``"<family>.theory.<name>"``). A family also declares how spec values of its own parameters
(e.g. ``p0``, ``mixture0``) become arguments; the regime and sample-size schedule are decoded here.

Simulators are validated by their own argument checks: each grid point is passed to the simulator
with a seed object that stops the call when the simulator asks it for random streams, which
happens after every argument has been checked and before any draw. Theory functions compute as
soon as they are called, so for them the sweep checks the parameter names against the signature
and the common parameters (``num_samples``, ``generations``, ``regime``, ``fresh``) with the
library's validators; anything else a theory function refuses is reported when its task runs,
naming the grid point.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
from numpy.typing import DTypeLike

from collapse_theory import families
from collapse_theory._validate import (
    InputError,
    InputTypeError,
    _show,
    check_choice,
    check_generations,
    check_int,
)
from collapse_theory.sweep.spec import SweepSpec

if TYPE_CHECKING:
    from collapse_theory.regimes import Regime

__all__ = ["Plan", "decode", "functions", "plan", "resolve"]

#: Arguments the sweep sets itself (seeds, replicate counts, execution settings).
MANAGED = ("seed", "num_replicates", "progress", "num_threads", "chunk_size")

_SCHEDULES = ("constant", "linear", "power", "geometric", "explicit")


def _simulators() -> dict[str, tuple[str, tuple[str, ...]]]:
    """``"<family>.simulate"`` -> (family, the arrays it can return)."""
    out = {}
    for name in families.names():
        declared = families.get(name)
        if declared.simulator_arrays:
            out[f"{name}.simulate"] = (name, declared.simulator_arrays)
    return out


def _theory_functions(family: str) -> list[str]:
    module = families.module(family, "theory")
    if module is None or not families.get(family).theory:
        return []
    return sorted(
        f"{family}.theory.{name}"
        for name in module.__all__
        if inspect.isfunction(getattr(module, name, None))
    )


def functions() -> list[str]:
    """Every function name a sweep spec may give.

    Returns
    -------
    list of str
        ``"<family>.simulate"`` and ``"<family>.theory.<name>"`` of every registered family.

    Examples
    --------
    >>> from collapse_theory import sweep
    >>> "gaussian.simulate" in sweep.functions()
    True
    """
    names = list(_simulators())
    for family in families.names():
        names += _theory_functions(family)
    return names


def is_simulator(name: str) -> bool:
    return name in _simulators()


def resolve(name: str) -> Callable[..., Any]:  # Any: what it returns depends on ``name``
    """The library function called ``name`` (only names from :func:`functions`)."""
    simulators = _simulators()
    if name in simulators:
        return families.module(simulators[name][0], "simulate").simulate
    family, _, short = name.partition(".theory.")
    if family in families.names() and name in _theory_functions(family):
        return getattr(families.module(family, "theory"), short)
    raise InputError(f"function: unknown {name!r}; allowed: {functions()}")


# --------------------------------------------------------------------------------------------
# spec values -> library objects


def _regime(value: object) -> Regime:
    """A regime written as on the command line (``collapse_theory._cli.parse_regime``)."""
    from collapse_theory._cli import UsageError, parse_regime

    try:
        if isinstance(value, str):
            return parse_regime(value)
    except UsageError:  # worded for the command line's --regime
        pass
    raise InputError(
        "a regime is 'replace', 'accumulate', 'fresh:FRACTION[:mix|split]' or "
        f"'weighted:WEIGHT:NUM_REAL'; got {_show(value)}"
    )


def _schedule(value: object) -> object:
    from collapse_theory import schedules

    if isinstance(value, list):
        return schedules.Explicit(tuple(value))
    if not isinstance(value, Mapping):
        return value  # an int, checked by as_schedule
    arguments = dict(value)
    kind = check_choice("schedule", arguments.pop("schedule", None), _SCHEDULES)
    cls = getattr(schedules, kind.capitalize())
    try:
        return cls(**arguments)
    except TypeError:
        fields = list(inspect.signature(cls).parameters)
        raise InputTypeError(
            f"a {kind!r} schedule takes {fields}; got {sorted(arguments)}"
        ) from None


#: Parameter name -> how its spec value becomes the library's argument, for every family.
_DECODERS: dict[str, Callable[[object], object]] = {
    "regime": _regime,
    "fresh": _regime,
    "num_samples": _schedule,
}


def decode(name: str, value: object, function: str) -> object:
    """The library argument for parameter ``name`` written as ``value`` in a spec for
    ``function`` (its family's declared decoders first, then the common ones)."""
    family = function.partition(".")[0]
    decoder = None
    if family in families.names():
        decoder = families.get(family).sweep_arguments.get(name)
    decoder = decoder or _DECODERS.get(name)
    return value if decoder is None else decoder(value)


def _check_common(name: str, value: object) -> None:
    """The library's own checks of parameters that mean the same in every theory function."""
    from collapse_theory.regimes import ALL_REGIMES, FreshData, check_regime
    from collapse_theory.schedules import as_schedule

    if name == "num_samples":
        as_schedule(value)  # type: ignore[arg-type]  # the check of any value
    elif name == "generations":
        check_generations("generations", value)
    elif name == "num_generations":
        check_int("num_generations", value, minimum=0)
    elif name == "regime":  # which regimes a family supports, its function checks
        check_regime(value, ALL_REGIMES)
    elif name == "fresh" and not isinstance(value, FreshData):
        raise InputError(f"fresh must be a FreshData regime, 'fresh:FRACTION'; got {value!r}")


# --------------------------------------------------------------------------------------------
# the plan: every grid point's arguments, checked


@dataclass(frozen=True)
class Plan:
    """A checked spec: the function and every grid point's keyword arguments.

    Attributes
    ----------
    spec : SweepSpec
        The spec it checks.
    function : callable
        The library function the spec names.
    simulator : bool
        Whether it is a simulator (replicates, blocks, seeds) or a closed form.
    arguments : list of dict
        Keyword arguments of every grid point, in grid order.
    outputs : tuple of str or None
        The arrays a simulator's results keep (None: a closed form's one value).
    """

    spec: SweepSpec
    function: Callable[..., Any]
    simulator: bool
    arguments: list[dict[str, object]]
    outputs: tuple[str, ...] | None


class _Checked(Exception):
    """Raised by :class:`_StopSeed` once a simulator has checked all its arguments."""


class _StopSeed(np.random.SeedSequence):
    """A seed that stops the simulator at its first request for random streams."""

    def spawn(self, n_children: int) -> NoReturn:
        raise _Checked

    def generate_state(self, n_words: int, dtype: DTypeLike = np.uint32) -> NoReturn:
        raise _Checked


def _decode_all(spec: SweepSpec) -> tuple[dict[str, object], dict[str, list[object]]]:
    """Decode the fixed values and every grid value, errors naming ``fixed.x`` / ``grid.x[i]``."""

    def one(key: str, name: str, value: object, check: bool) -> object:
        try:
            decoded = decode(name, value, spec.function)
            if check:
                _check_common(name, decoded)
            return decoded
        except (ValueError, TypeError) as error:
            raise type(error)(f"{key}: {error}") from None

    check = not is_simulator(spec.function)
    fixed = {name: one(f"fixed.{name}", name, v, check) for name, v in spec.fixed.items()}
    grid = {
        name: [one(f"grid.{name}[{i}]", name, v, check) for i, v in enumerate(values)]
        for name, values in spec.grid.items()
    }
    return fixed, grid


def _check_names(spec: SweepSpec, function: Callable[..., object]) -> None:
    """Every given name is a parameter of ``function``; every required one is given (those
    without a default, and those a function lists in ``required_arguments`` because a default
    of None only lets another argument stand in their place)."""
    parameters = inspect.signature(function).parameters
    declared = set(getattr(function, "required_arguments", ()))
    for where, names in (("fixed", spec.fixed), ("grid", spec.grid)):
        for name in names:
            if name in MANAGED and name in parameters:
                raise InputError(
                    f"{where}.{name}: set by the sweep (seeds derive from the top-level seed, "
                    "replicates from 'replicates'); remove it"
                )
            if name not in parameters:
                allowed = [p for p in parameters if p not in MANAGED]
                raise InputError(
                    f"{where}.{name}: {spec.function} has no parameter {name!r}; it takes {allowed}"
                )
    given = set(spec.fixed) | set(spec.grid)
    for name, parameter in parameters.items():
        required = name in declared or (
            parameter.default is inspect.Parameter.empty
            and parameter.kind
            not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        )
        if required and name not in given and name not in MANAGED:
            raise InputError(
                f"fixed: missing {name!r}, a required parameter of {spec.function}; give it "
                "in [fixed] or [grid]"
            )


def _blame(spec: SweepSpec, point: int, message: str) -> str:
    """Name the grid key (``grid.x[i]``) or fixed key an error message is about, if any."""
    indices = spec.indices(point)
    for (name, _), i in zip(spec.grid.items(), indices, strict=True):
        if message.startswith(name) or f" {name} " in message or f"{name}=" in message:
            return f"grid.{name}[{i}]"
    for name in spec.fixed:
        if message.startswith(name) or f" {name} " in message:
            return f"fixed.{name}"
    where = ", ".join(
        f"{name}={_show(values[i])}"
        for (name, values), i in zip(spec.grid.items(), indices, strict=True)
    )
    return f"grid point {point} ({where})"


def _dry_run(
    function: Callable[..., object], arguments: dict[str, object], replicates: int
) -> None:
    try:
        function(**arguments, num_replicates=replicates, seed=_StopSeed(0), num_threads=1)
    except _Checked:
        pass


def plan(spec: SweepSpec) -> Plan:
    """Check ``spec`` completely and return every grid point's arguments; nothing is computed.

    Parameters
    ----------
    spec : SweepSpec
        The sweep.

    Returns
    -------
    Plan
        The function and every point's keyword arguments.

    Raises
    ------
    InputError, InputTypeError
        Naming the offending key (``function``, ``replicates``, ``keep``, ``fixed.NAME``,
        ``grid.NAME[i]`` or the grid point).
    """
    function = resolve(spec.function)
    simulator = is_simulator(spec.function)
    _check_names(spec, function)
    outputs = None
    if simulator:
        if spec.replicates is None:
            raise InputError(f"replicates: missing; {spec.function} needs replicates per point")
        outputs = _simulators()[spec.function][1]
        for i, name in enumerate(spec.keep or ()):
            if name not in outputs:
                raise InputError(
                    f"keep[{i}]: {spec.function} has no array {name!r}; it returns {list(outputs)}"
                )
    else:
        if spec.replicates is not None:
            raise InputError(f"replicates: {spec.function} is deterministic; remove replicates")
        if spec.keep is not None:
            raise InputError("keep: only for simulators; a theory function's outputs are all kept")
    fixed, grid = _decode_all(spec)
    arguments = []
    for point in range(spec.num_points):
        kwargs = dict(fixed)
        for (name, values), i in zip(grid.items(), spec.indices(point), strict=True):
            kwargs[name] = values[i]
        if simulator:
            try:
                _dry_run(function, kwargs, min(spec.replicates, spec.block_replicates))
            except (ValueError, TypeError) as error:
                raise type(error)(f"{_blame(spec, point, str(error))}: {error}") from None
        arguments.append(kwargs)
    return Plan(spec, function, simulator, arguments, outputs)
