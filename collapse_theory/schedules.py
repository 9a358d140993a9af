"""Sample-size schedules M_0, M_1, ... (docs/theory.md §2.3, §2.5).

Dataset i holds M_i draws from model i; model i+1 is fitted to it. A schedule turns a number of
generations n into the integer array (M_0, ..., M_{n-1}). Whether the model collapses almost
surely depends on the harmonic sum: sigma_n -> 0 a.s. (and E W2^2 diverges) iff sum 1/M_i = inf.

Anywhere the library accepts ``num_samples`` it accepts an int (a constant schedule) or one of
these objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from collapse_theory._validate import (
    INTEGER_POLICY,
    InputError,
    InputTypeError,
    check_horizon,
    check_int,
    check_real,
)

__all__ = [
    "Constant",
    "Explicit",
    "Geometric",
    "Linear",
    "Power",
    "Schedule",
    "ScheduleLike",
    "as_schedule",
    "constant_size",
    "sample_sizes",
]

#: Sample sizes are capped here so that they stay exact in int64 and float64 arithmetic.
MAX_SAMPLE_SIZE = 2**53


@runtime_checkable
class Schedule(Protocol):
    """What every schedule provides."""

    def sizes(self, num_generations: int) -> np.ndarray: ...

    @property
    def harmonic_sum_diverges(self) -> bool: ...


def _rounded_sizes(name: str, values: np.ndarray) -> np.ndarray:
    sizes = np.rint(values)
    if np.any(sizes > MAX_SAMPLE_SIZE) or not np.all(np.isfinite(sizes)):
        raise InputError(
            f"{name} schedule exceeds the largest supported sample size {MAX_SAMPLE_SIZE}; "
            "use fewer generations or a slower-growing schedule"
        )
    return np.maximum(sizes, 1).astype(np.int64)


#: Bytes per generation of :meth:`Schedule.sizes` (the sizes and their float temporaries).
SIZES_BYTES_PER_GENERATION = 40


def _check_num_generations(num_generations: object) -> int:
    """``num_generations`` checked, and its sizes array against the memory limit."""
    n = check_int("num_generations", num_generations, minimum=0)
    check_horizon("num_generations", n, bytes_per_generation=SIZES_BYTES_PER_GENERATION)
    return n


#: A sample size M (a positive int, the same every generation) or a schedule of sizes M_i.
ScheduleLike = int | Schedule


@dataclass(frozen=True)
class Constant:
    """M_i = m for every generation. Collapses: sum 1/M_i = n/m diverges (docs/theory.md §2.5).

    Parameters
    ----------
    m : int
        The sample size, >= 1.
    """

    m: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "m", check_int("m", self.m, minimum=1, maximum=MAX_SAMPLE_SIZE))

    def sizes(self, num_generations: int) -> np.ndarray:
        n = _check_num_generations(num_generations)
        return np.full(n, self.m, dtype=np.int64)

    @property
    def harmonic_sum_diverges(self) -> bool:
        return True


@dataclass(frozen=True)
class Linear:
    """M_i = round(m0 + slope * i). Grows linearly: sum 1/M_i ~ ln(n)/slope still diverges.

    Parameters
    ----------
    m0 : int
        M_0, >= 1.
    slope : float
        Growth per generation, >= 0.
    """

    m0: int
    slope: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "m0", check_int("m0", self.m0, minimum=1, maximum=MAX_SAMPLE_SIZE))
        object.__setattr__(self, "slope", check_real("slope", self.slope, minimum=0.0))

    def sizes(self, num_generations: int) -> np.ndarray:
        n = _check_num_generations(num_generations)
        return _rounded_sizes("Linear", self.m0 + self.slope * np.arange(n))

    @property
    def harmonic_sum_diverges(self) -> bool:
        return True


@dataclass(frozen=True)
class Power:
    """M_i = round(m0 * (i + 1) ** exponent). Sum 1/M_i diverges iff exponent <= 1.

    Parameters
    ----------
    m0 : int
        M_0, >= 1.
    exponent : float
        >= 0; above 1 the expected Wasserstein distance stays bounded (docs/theory.md §2.5).
    """

    m0: int
    exponent: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "m0", check_int("m0", self.m0, minimum=1, maximum=MAX_SAMPLE_SIZE))
        object.__setattr__(self, "exponent", check_real("exponent", self.exponent, minimum=0.0))

    def sizes(self, num_generations: int) -> np.ndarray:
        n = _check_num_generations(num_generations)
        return _rounded_sizes(
            "Power", self.m0 * np.arange(1, n + 1, dtype=np.float64) ** self.exponent
        )

    @property
    def harmonic_sum_diverges(self) -> bool:
        return self.exponent <= 1.0


@dataclass(frozen=True)
class Geometric:
    """M_i = round(m0 * ratio ** i) (at least 1). Sum 1/M_i diverges iff ratio <= 1.

    Parameters
    ----------
    m0 : int
        M_0, >= 1.
    ratio : float
        > 0.
    """

    m0: int
    ratio: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "m0", check_int("m0", self.m0, minimum=1, maximum=MAX_SAMPLE_SIZE))
        object.__setattr__(
            self, "ratio", check_real("ratio", self.ratio, minimum=0.0, strict_minimum=True)
        )

    def sizes(self, num_generations: int) -> np.ndarray:
        n = _check_num_generations(num_generations)
        with np.errstate(over="ignore"):
            exponents = np.arange(n) * math.log(self.ratio)
            values = self.m0 * np.exp(np.minimum(exponents, 700.0))
        return _rounded_sizes("Geometric", values)

    @property
    def harmonic_sum_diverges(self) -> bool:
        return self.ratio <= 1.0


@dataclass(frozen=True)
class Explicit:
    """Sample sizes given one per generation. A finite list has a finite harmonic sum, so
    ``harmonic_sum_diverges`` is False; asking for more generations than listed is an error.

    Parameters
    ----------
    values : sequence of int
        M_0, M_1, ..., each >= 1 (at least one).
    """

    values: tuple[int, ...]

    def __post_init__(self) -> None:
        if isinstance(self.values, (str, bytes)) or not hasattr(self.values, "__iter__"):
            raise InputTypeError(f"values must be a sequence of integers; got {self.values!r}")
        checked = tuple(
            check_int(f"values[{i}]", v, minimum=1, maximum=MAX_SAMPLE_SIZE)
            for i, v in enumerate(self.values)
        )
        if not checked:
            raise InputError("values must hold at least one sample size; got an empty sequence")
        object.__setattr__(self, "values", checked)

    def sizes(self, num_generations: int) -> np.ndarray:
        n = _check_num_generations(num_generations)
        if n > len(self.values):
            raise InputError(
                f"num_generations={n} exceeds the {len(self.values)} sizes of this Explicit "
                "schedule; give one sample size per generation"
            )
        return np.asarray(self.values[:n], dtype=np.int64)

    @property
    def harmonic_sum_diverges(self) -> bool:
        return False


def as_schedule(num_samples: ScheduleLike, name: str = "num_samples") -> Schedule:
    """Accept an int (constant schedule; the integer policy of
    :func:`collapse_theory._validate.check_int`) or a schedule object.

    Parameters
    ----------
    num_samples : int or Schedule
        M (>= 1) or a schedule of the M_i.
    name : str
        The argument's name in error messages.

    Returns
    -------
    Schedule
        ``num_samples`` itself, or ``Constant(num_samples)``.

    Raises
    ------
    InputTypeError
        Neither an integer nor a :class:`Schedule`.
    """
    if isinstance(num_samples, Schedule) and not isinstance(num_samples, type):
        return num_samples
    try:
        m = check_int(name, num_samples, minimum=1, maximum=MAX_SAMPLE_SIZE)
    except InputTypeError:
        raise InputTypeError(
            f"{name} must be a positive integer or a schedule (Constant, Linear, Power, "
            f"Geometric, Explicit); got {num_samples!r} ({type(num_samples).__name__})"
            + (f"; {INTEGER_POLICY}" if isinstance(num_samples, float) else "")
        ) from None
    return Constant(m)


def constant_size(num_samples: ScheduleLike, where: str) -> int:
    """M of a constant schedule (an int or :class:`Constant`); ``where`` names the caller that
    needs it, for the TypeError raised on any other schedule.

    Parameters
    ----------
    num_samples : int or Constant
        The constant sample size.
    where : str
        What needs a constant M (named in the error).

    Returns
    -------
    int
        M.
    """
    schedule = as_schedule(num_samples)
    if not isinstance(schedule, Constant):
        raise InputTypeError(
            f"{where} needs a constant sample size: num_samples must be an int or "
            f"schedules.Constant; got {schedule!r}"
        )
    return int(schedule.m)


def sample_sizes(
    num_samples: ScheduleLike, num_generations: int, name: str = "num_samples"
) -> np.ndarray:
    """(M_0, ..., M_{n-1}) as an int64 array, from an int or a schedule.

    Parameters
    ----------
    num_samples : int or Schedule
        M or a schedule (:func:`as_schedule`).
    num_generations : int
        n >= 0.
    name : str
        The argument's name in error messages.

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
        The sample size of each generation.
    """
    return as_schedule(num_samples, name).sizes(num_generations)
