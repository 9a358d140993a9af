"""The functions a sweep may call, how spec values become their arguments, and the checks that
reject a bad spec before any work starts.

Simulators (``categorical.simulate``, ``gaussian.simulate``, ``gmm.simulate``) are validated by
their own argument checks: each grid point is passed to the simulator with a seed object that
stops the call when the simulator asks it for random streams, which happens after every argument
has been checked and before any draw. Theory functions (``categorical.theory.<name>``,
``gaussian.theory.<name>``) compute as soon as they are called, so for them the sweep checks the
parameter names against the signature and the common parameters (``num_samples``,
``generations``, ``regime``, ``fresh``, ``estimator``) with the library's validators; anything
else a theory function refuses is reported when its task runs, naming the grid point.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from collapse_theory._validate import _show, check_choice, check_generations, check_int
from collapse_theory.sweep.spec import SweepSpec

__all__ = ["Plan", "decode", "functions", "plan", "resolve"]

#: Simulator name -> (module, the arrays it can return).
SIMULATORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "categorical.simulate": ("collapse_theory.categorical.simulate", ("p", "absorbed_at")),
    "gaussian.simulate": ("collapse_theory.gaussian.simulate", ("mean", "var", "cov")),
    "gmm.simulate": (
        "collapse_theory.gmm.simulate",
        ("weights", "means", "covs", "log_likelihood", "iterations", "converged", "lost"),
    ),
}

#: Family prefix -> theory module; every public function in its ``__all__`` may be swept.
THEORY_MODULES = {
    "categorical.theory": "collapse_theory.categorical.theory",
    "gaussian.theory": "collapse_theory.gaussian.theory",
}

#: Arguments the sweep sets itself (seeds, replicate counts, execution settings).
MANAGED = ("seed", "num_replicates", "progress", "num_threads", "chunk_size")

_SCHEDULES = ("constant", "linear", "power", "geometric", "explicit")


def _theory_functions(prefix: str) -> list[str]:
    module = importlib.import_module(THEORY_MODULES[prefix])
    return sorted(
        f"{prefix}.{name}"
        for name in module.__all__
        if inspect.isfunction(getattr(module, name, None))
    )


def functions() -> list[str]:
    """Every function name a sweep spec may give.

    Examples
    --------
    >>> from collapse_theory import sweep
    >>> "gaussian.simulate" in sweep.functions()
    True
    """
    names = list(SIMULATORS)
    for prefix in THEORY_MODULES:
        names += _theory_functions(prefix)
    return names


def is_simulator(name: str) -> bool:
    return name in SIMULATORS


def resolve(name: str) -> Callable[..., Any]:
    """The library function called ``name`` (only names from :func:`functions`)."""
    if name in SIMULATORS:
        return importlib.import_module(SIMULATORS[name][0]).simulate
    prefix, _, short = name.rpartition(".")
    if prefix in THEORY_MODULES and name in _theory_functions(prefix):
        return getattr(importlib.import_module(THEORY_MODULES[prefix]), short)
    raise ValueError(f"function: unknown {name!r}; allowed: {functions()}")


# --------------------------------------------------------------------------------------------
# spec values -> library objects


def _regime(value: Any) -> Any:
    from collapse_theory.regimes import Accumulate, FreshData, Replace

    if value == "replace":
        return Replace()
    if value == "accumulate":
        return Accumulate()
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) in (2, 3) and parts[0] == "fresh":
        try:
            fraction = float(parts[1])
        except ValueError:
            raise ValueError(f"the fresh fraction must be a number; got {parts[1]!r}") from None
        return FreshData(fraction, parts[2] if len(parts) == 3 else "mix")
    raise ValueError(
        f"a regime is 'replace', 'accumulate' or 'fresh:FRACTION[:mix|split]'; got {_show(value)}"
    )


def _schedule(value: Any) -> Any:
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
        raise TypeError(f"a {kind!r} schedule takes {fields}; got {sorted(arguments)}") from None


def _probabilities(value: Any) -> Any:
    if isinstance(value, str):
        from collapse_theory.cli import parse_p0

        return parse_p0(value)
    return np.asarray(value, dtype=np.float64) if isinstance(value, list) else value


def _mixture(value: Any) -> Any:
    from collapse_theory.gmm import Mixture, paper_start

    if isinstance(value, str):
        kind, _, start = value.partition(":")
        if kind != "paper":
            raise ValueError(
                f"a mixture is 'paper[:blob|two-gaussians]' or a table with weights, means and "
                f"covs; got {value!r}"
            )
        return paper_start(start or "blob")
    if isinstance(value, Mapping):
        missing = {"weights", "means", "covs"} - set(value)
        if missing or len(value) != 3:
            raise ValueError(
                f"a mixture table has exactly the keys weights, means, covs; got {sorted(value)}"
            )
        return Mixture(value["weights"], value["means"], value["covs"])
    return value


def _array(value: Any) -> Any:
    return np.asarray(value, dtype=np.float64) if isinstance(value, list) else value


#: Parameter name -> how its spec value becomes the library's argument.
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "regime": _regime,
    "fresh": _regime,
    "num_samples": _schedule,
    "p0": _probabilities,
    "mixture0": _mixture,
    "mean0": _array,
    "cov0": _array,
}


def decode(name: str, value: Any) -> Any:
    """The library argument for parameter ``name`` written as ``value`` in a spec."""
    decoder = _DECODERS.get(name)
    return value if decoder is None else decoder(value)


def _check_common(name: str, value: Any) -> None:
    """The library's own checks of parameters that mean the same in every theory function."""
    from collapse_theory.gaussian.simulate import ESTIMATORS
    from collapse_theory.regimes import FreshData, check_regime
    from collapse_theory.schedules import as_schedule

    if name == "num_samples":
        as_schedule(value)
    elif name == "generations":
        check_generations("generations", value)
    elif name == "num_generations":
        check_int("num_generations", value, minimum=0)
    elif name == "regime":
        check_regime(value)
    elif name == "fresh" and not isinstance(value, FreshData):
        raise ValueError(f"fresh must be a FreshData regime, 'fresh:FRACTION'; got {value!r}")
    elif name == "estimator":
        check_choice("estimator", value, ESTIMATORS)


# --------------------------------------------------------------------------------------------
# the plan: every grid point's arguments, checked


@dataclass(frozen=True)
class Plan:
    """A checked spec: the function and every grid point's keyword arguments."""

    spec: SweepSpec
    function: Callable[..., Any]
    simulator: bool
    arguments: list[dict[str, Any]]
    outputs: tuple[str, ...] | None


class _Checked(Exception):
    """Raised by :class:`_StopSeed` once a simulator has checked all its arguments."""


class _StopSeed(np.random.SeedSequence):
    """A seed that stops the simulator at its first request for random streams."""

    def spawn(self, n_children: int) -> Any:
        raise _Checked

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> Any:
        raise _Checked


def _decode_all(spec: SweepSpec) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Decode the fixed values and every grid value, errors naming ``fixed.x`` / ``grid.x[i]``."""

    def one(key: str, name: str, value: Any, check: bool) -> Any:
        try:
            decoded = decode(name, value)
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


def _check_names(spec: SweepSpec, signature: inspect.Signature) -> None:
    parameters = signature.parameters
    for where, names in (("fixed", spec.fixed), ("grid", spec.grid)):
        for name in names:
            if name in MANAGED and name in parameters:
                raise ValueError(
                    f"{where}.{name}: set by the sweep (seeds derive from the top-level seed, "
                    "replicates from 'replicates'); remove it"
                )
            if name not in parameters:
                allowed = [p for p in parameters if p not in MANAGED]
                raise ValueError(
                    f"{where}.{name}: {spec.function} has no parameter {name!r}; it takes {allowed}"
                )
    given = set(spec.fixed) | set(spec.grid)
    for name, parameter in parameters.items():
        required = parameter.default is inspect.Parameter.empty and parameter.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        )
        if required and name not in given and name not in MANAGED:
            raise ValueError(
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


def _dry_run(function: Callable[..., Any], arguments: dict[str, Any], replicates: int) -> None:
    try:
        function(**arguments, num_replicates=replicates, seed=_StopSeed(0), num_threads=1)
    except _Checked:
        pass


def plan(spec: SweepSpec) -> Plan:
    """Check ``spec`` completely and return every grid point's arguments; nothing is computed.

    Raises ValueError or TypeError naming the offending key (``function``, ``replicates``,
    ``keep``, ``fixed.NAME``, ``grid.NAME[i]`` or the grid point).
    """
    function = resolve(spec.function)
    simulator = is_simulator(spec.function)
    _check_names(spec, inspect.signature(function))
    outputs = None
    if simulator:
        if spec.replicates is None:
            raise ValueError(f"replicates: missing; {spec.function} needs replicates per point")
        outputs = SIMULATORS[spec.function][1]
        for i, name in enumerate(spec.keep or ()):
            if name not in outputs:
                raise ValueError(
                    f"keep[{i}]: {spec.function} has no array {name!r}; it returns {list(outputs)}"
                )
    else:
        if spec.replicates is not None:
            raise ValueError(f"replicates: {spec.function} is deterministic; remove replicates")
        if spec.keep is not None:
            raise ValueError("keep: only for simulators; a theory function's outputs are all kept")
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
