"""The sweep specification: which function, on which grid, with how many replicates and which seed.

A spec is plain data (numbers, strings, booleans, lists and tables, as in TOML), so that it can be
hashed, stored next to the results and compared when a sweep is resumed. Library objects such as
regimes or schedules are written as data and built by :mod:`collapse_theory.sweep.registry`.

A TOML spec::

    function = "gaussian.simulate"
    seed = 2024
    replicates = 2048          # per grid point (simulators only)
    block_replicates = 1024    # replicates per task: a multiple of 256
    keep = ["var"]             # arrays to store (default: all)

    [fixed]                    # the same for every grid point
    mean0 = 0.0
    cov0 = 1.0
    num_generations = 50
    record = "last"

    [grid]                     # the Cartesian product of these axes, in this order
    num_samples = [10, 100]
    regime = ["replace", "accumulate", "fresh:0.1"]
"""

from __future__ import annotations

import hashlib
import itertools
import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from collapse_theory._validate import InputError, InputTypeError, _show, check_int
from collapse_theory.rng import BLOCK_SIZE

__all__ = ["DEFAULT_BLOCK_REPLICATES", "SweepSpec", "load_spec"]

#: Replicates per task when the spec does not say (a multiple of ``rng.BLOCK_SIZE``).
DEFAULT_BLOCK_REPLICATES = 4 * BLOCK_SIZE

_TOP_LEVEL_KEYS = ("function", "seed", "replicates", "block_replicates", "keep", "fixed", "grid")


def _plain(key: str, value: object) -> object:
    """``value`` as JSON/TOML data (numpy scalars and arrays become Python numbers and lists)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        if value is None:
            raise InputTypeError(f"{key}: None is not allowed; leave the parameter out instead")
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        if not np.isfinite(value):
            raise InputError(f"{key}: must be finite; got {value!r}")
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(f"{key}[{i}]", v) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): _plain(f"{key}.{k}", v) for k, v in value.items()}
    raise InputTypeError(
        f"{key}: a spec holds data only (numbers, strings, booleans, lists, tables); got "
        f"{_show(value)} ({type(value).__name__}). Write regimes as 'replace', 'accumulate' or "
        "'fresh:FRACTION[:mix|split]' and schedules as tables such as "
        "{schedule = 'linear', m0 = 10, slope = 2}"
    )


@dataclass(frozen=True)
class SweepSpec:
    """A parameter sweep: ``function`` evaluated at every point of the Cartesian ``grid``.

    Parameters
    ----------
    function : str
        A name from :func:`collapse_theory.sweep.functions`, e.g. ``"gaussian.simulate"`` or
        ``"categorical.theory.expected_survivors"``.
    grid : mapping of str to list
        Parameter name -> the values it takes. Points are the Cartesian product in axis order,
        the last axis varying fastest; point ``i`` is the C-order (row-major) flat index.
    seed : int
        Root seed. Point ``i``, replicate block ``b`` draws from the streams
        ``SeedSequence(seed, spawn_key=(i,))`` would give replicates ``b * block_replicates``
        onwards, so a point's merged replicates equal one simulator call with that seed.
    fixed : mapping of str to value
        Parameters shared by every point.
    replicates : int, optional
        Replicates per point (simulators: required; theory functions: must be left out).
    block_replicates : int
        Replicates per task, a multiple of 256 (``collapse_theory.rng.BLOCK_SIZE``); a point with
        more replicates is split into ``ceil(replicates / block_replicates)`` tasks.
    keep : list of str, optional
        The simulator's arrays to store (default: all of them).
    """

    function: str
    grid: Mapping[str, Sequence[object]]
    seed: int
    fixed: Mapping[str, object] = field(default_factory=dict)
    replicates: int | None = None
    block_replicates: int = DEFAULT_BLOCK_REPLICATES
    keep: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.function, str) or not self.function:
            raise InputTypeError(
                f"function: must be a non-empty string; got {_show(self.function)}"
            )
        object.__setattr__(self, "seed", check_int("seed", self.seed, minimum=0))
        object.__setattr__(self, "grid", _check_grid(self.grid))
        if not isinstance(self.fixed, Mapping):
            raise InputTypeError(f"fixed: must be a table of parameters; got {_show(self.fixed)}")
        fixed = {str(k): _plain(f"fixed.{k}", v) for k, v in self.fixed.items()}
        for name in fixed:
            if name in self.grid:
                raise InputError(
                    f"fixed.{name}: {name!r} is also a grid axis; give it in one place only"
                )
        object.__setattr__(self, "fixed", fixed)
        if self.replicates is not None:
            object.__setattr__(
                self, "replicates", check_int("replicates", self.replicates, minimum=1)
            )
        block = check_int("block_replicates", self.block_replicates, minimum=BLOCK_SIZE)
        if block % BLOCK_SIZE:
            raise InputError(
                f"block_replicates must be a multiple of {BLOCK_SIZE} (collapse_theory.rng."
                f"BLOCK_SIZE), so that a point's blocks are exactly the replicates of one "
                f"simulator call; got {block}"
            )
        object.__setattr__(self, "block_replicates", block)
        if self.keep is not None:
            if isinstance(self.keep, str) or not all(isinstance(k, str) for k in self.keep):
                raise InputTypeError(f"keep: must be a list of array names; got {_show(self.keep)}")
            if not self.keep:
                raise InputError("keep: must name at least one array; leave it out to keep all")
            object.__setattr__(self, "keep", tuple(self.keep))

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SweepSpec:
        """Build a spec from a mapping with the TOML file's keys; unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise InputTypeError(f"a sweep spec must be a table (mapping); got {_show(data)}")
        for key in data:
            if key not in _TOP_LEVEL_KEYS:
                raise InputError(
                    f"{key}: unknown key in the sweep spec; allowed: {_TOP_LEVEL_KEYS}"
                )
        for key in ("function", "seed", "grid"):
            if key not in data:
                raise InputError(f"{key}: missing; a sweep spec needs function, seed and grid")
        return cls(**{key: data[key] for key in data})  # type: ignore[arg-type]  # checked there

    def to_dict(self) -> dict[str, object]:
        """The spec as JSON-compatible data (what :meth:`spec_hash` hashes)."""
        data: dict[str, object] = {
            "function": self.function,
            "seed": self.seed,
            "fixed": dict(self.fixed),
            "grid": {k: list(v) for k, v in self.grid.items()},
            "block_replicates": self.block_replicates,
        }
        if self.replicates is not None:
            data["replicates"] = self.replicates
        if self.keep is not None:
            data["keep"] = list(self.keep)
        return data

    def spec_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict`: two specs with the same hash give the
        same results."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of values on each grid axis."""
        return tuple(len(values) for values in self.grid.values())

    @property
    def num_points(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def points(self) -> list[dict[str, object]]:
        """The grid points in C order: ``points()[i]`` maps each axis to its value at point i."""
        names = list(self.grid)
        return [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*self.grid.values())
        ]

    def indices(self, point: int) -> tuple[int, ...]:
        """The position of point ``point`` on each grid axis."""
        return tuple(int(i) for i in np.unravel_index(point, self.shape))


def _check_grid(grid: object) -> dict[str, list[object]]:
    if not isinstance(grid, Mapping):
        raise InputTypeError(
            f"grid: must be a table mapping parameter names to lists; got {_show(grid)}"
        )
    if not grid:
        raise InputError("grid: empty; give at least one axis, e.g. num_samples = [10, 100]")
    checked: dict[str, list[object]] = {}
    for name, values in grid.items():
        key = f"grid.{name}"
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(
            values, (list, tuple, np.ndarray)
        ):
            raise InputTypeError(f"{key}: must be a list of values; got {_show(values)}")
        if len(values) == 0:
            raise InputError(f"{key}: empty list; every grid axis needs at least one value")
        plain = [_plain(f"{key}[{i}]", v) for i, v in enumerate(values)]
        for i, value in enumerate(plain):
            if value in plain[:i]:
                raise InputError(
                    f"{key}[{i}]: {_show(value)} is repeated (also at index {plain.index(value)})"
                )
        checked[str(name)] = plain
    return checked


def load_spec(path: str | Path) -> SweepSpec:
    """Read a TOML sweep spec (see the module docstring for the layout).

    Parameters
    ----------
    path : str or pathlib.Path
        The TOML file.

    Returns
    -------
    SweepSpec
        The spec, its fields checked (the grid is checked by :func:`plan`).
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:  # the user's file: a usage error, not a bug
        raise InputError(f"{path}: cannot read the sweep spec: {error.strerror}") from error
    return SweepSpec.from_dict(data)
