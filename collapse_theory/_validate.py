"""Argument checks shared by every public function.

Each check raises :class:`InputTypeError` (a ``TypeError``: wrong kind of object) or
:class:`InputError` (a ``ValueError``: right kind, bad value) with a message that names the
argument, shows the value, and says what is allowed. The command line turns exactly these two
into a one-line usage error; any other exception is a bug and keeps its traceback.

The policies, each implemented once here:

- **Integers** (sizes, counts, seeds, generation indices): a Python or numpy integer (or a 0-d
  integer array). Floats are refused even when integral (``1e3``, ``10.0``): the message says to
  write ``1000`` or ``int(1e3)``. Strings and bools are refused. (:func:`check_int`,
  :func:`check_generations`)
- **Reals**: a Python or numpy real number (or array of them); strings, bools and complex
  numbers are refused, NaN and inf too unless a function says otherwise. (:func:`check_real`,
  :func:`as_float_array`)
- **Memory**: a function that allocates arrays whose size the caller chooses (generations,
  replicates, states, recorded generations) first calls :func:`check_allocation`, which refuses
  more than :func:`memory_limit` bytes (default :data:`DEFAULT_MEMORY_LIMIT_GIB` GiB, set
  ``COLLAPSE_THEORY_MEMORY_LIMIT_GIB`` to change it) before anything is allocated.
- **Files**: nothing writes where it was not asked to: :func:`check_output_file` refuses a
  missing parent directory, :func:`output_directory` creates only the directory asked for.
- **Overflow**: a result that is inf or NaN because the inputs exceed the float64 range is
  refused by :func:`check_finite_result`, never returned silently.
- **Return types**: a function of array inputs returns :func:`scalar_or_array` of its result: a
  ``numpy.float64`` (a ``float``) when every input was a scalar, an ndarray otherwise.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_MEMORY_LIMIT_GIB",
    "INTEGER_POLICY",
    "MEMORY_LIMIT_VARIABLE",
    "InputError",
    "InputTypeError",
    "as_float_array",
    "check_allocation",
    "check_choice",
    "check_covariance",
    "check_finite_result",
    "check_generations",
    "check_horizon",
    "check_int",
    "check_output_file",
    "check_probability",
    "check_probability_vector",
    "check_real",
    "check_record",
    "check_simulation_size",
    "memory_limit",
    "output_directory",
    "record_slots",
    "scalar_or_array",
]


class InputError(ValueError):
    """Bad input to a public function: the message names the argument, the value and what is
    allowed. Raised before anything large is allocated."""


class InputTypeError(InputError, TypeError):
    """Bad input of the wrong kind (an :class:`InputError` that is also a ``TypeError``)."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------------------------------------
# Files


def check_output_file(name: str, path: str | Path) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` whose parent directory exists.

    Nothing is created: a missing parent is an :class:`InputError` naming it (a typo in a
    directory must not silently create a new tree).
    """
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise InputError(f"{name}: the directory {str(parent)!r} of {str(path)!r} {what}")
    return path


def output_directory(name: str, path: str | Path) -> Path:
    """Create the directory ``path`` (the one asked for) if needed, never its parents; return it.

    A directory that cannot be created (no permission, read-only file system) is an
    :class:`InputError` naming it.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{name}: {str(path)!r} exists and is not a directory")
    check_output_file(name, path)
    try:
        path.mkdir(exist_ok=True)
    except OSError as error:
        raise InputError(
            f"{name}: cannot create the directory {str(path)!r}: {error.strerror}"
        ) from error
    return path


# ---------------------------------------------------------------------------------------------
# Memory

#: Default of :func:`memory_limit`, in GiB (2**30 bytes).
DEFAULT_MEMORY_LIMIT_GIB = 4.0
#: Environment variable that overrides :data:`DEFAULT_MEMORY_LIMIT_GIB` (a number of GiB).
MEMORY_LIMIT_VARIABLE = "COLLAPSE_THEORY_MEMORY_LIMIT_GIB"


def memory_limit() -> int:
    """The most bytes one call may allocate for arrays whose size its arguments choose.

    ``COLLAPSE_THEORY_MEMORY_LIMIT_GIB`` (read at every call) if set, else
    :data:`DEFAULT_MEMORY_LIMIT_GIB` = 4 GiB.
    """
    text = os.environ.get(MEMORY_LIMIT_VARIABLE, "").strip()
    if not text:
        return int(DEFAULT_MEMORY_LIMIT_GIB * 2**30)
    try:
        gib = float(text)
    except ValueError:
        gib = float("nan")
    if not (np.isfinite(gib) and gib > 0):
        raise InputError(
            f"the environment variable {MEMORY_LIMIT_VARIABLE} must be a number of GiB > 0; "
            f"got {text!r}"
        )
    return int(gib * 2**30)


def format_bytes(num_bytes: float) -> str:
    """``num_bytes`` in the largest binary unit that keeps it >= 1, e.g. ``'7.45 GiB'``."""
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024.0 or unit == "PiB":
            return f"{value:.3g} {unit}"
        value /= 1024.0
    raise AssertionError("unreachable")  # pragma: no cover


def check_allocation(what: str, num_bytes: float, *, advice: str = "") -> None:
    """Refuse to allocate ``num_bytes`` if that is more than :func:`memory_limit`.

    Call it before allocating, with the size computed from the arguments; ``what`` names the
    arguments that set the size (e.g. ``"num_generations=1000000000"``) and ``advice`` says how
    to ask for less.

    Raises
    ------
    InputError
        ``"<what> would allocate about 7.45 GiB, above the limit of 4 GiB (...)"``.
    """
    limit = memory_limit()
    if num_bytes > limit:
        raise InputError(
            f"{what} would allocate about {format_bytes(num_bytes)}, above the limit of "
            f"{format_bytes(limit)} (set the environment variable {MEMORY_LIMIT_VARIABLE} to "
            "change it)" + (f": {advice}" if advice else "")
        )


#: Bytes per generation a simulator allocates for its schedule arrays (sample sizes, fresh
#: counts, record slots, their temporaries): 23-32 bytes measured (n = 10^7), rounded up.
SIMULATION_BYTES_PER_GENERATION = 48
#: Bytes per generation a closed form allocates when it materialises a schedule (sizes,
#: per-generation terms, cumulative sums, their temporaries): up to 65 measured (n = 10^7).
THEORY_BYTES_PER_GENERATION = 96


def check_horizon(
    name: str, num_generations: int, *, bytes_per_generation: int = THEORY_BYTES_PER_GENERATION
) -> None:
    """Refuse per-generation arrays up to generation ``num_generations`` (the largest one asked
    for in the argument ``name``) above :func:`memory_limit`, before they exist."""
    check_allocation(
        f"{name} up to {num_generations} ({bytes_per_generation} bytes per generation)",
        float(num_generations + 1) * bytes_per_generation,
        advice="ask for fewer generations",
    )


def recorded_count(record: Any, num_generations: int) -> int:
    """How many generations ``record`` keeps (:func:`check_record`), without materialising
    ``"all"``; for a list, its length (an upper bound: duplicates are dropped later)."""
    if isinstance(record, str):
        return num_generations + 1 if record == "all" else 1
    return int(np.size(record))


def check_simulation_size(
    record: Any,
    num_generations: int,
    num_replicates: int,
    values_per_replicate: int,
    *,
    copies: int = 1,
    extra_bytes: float = 0.0,
) -> None:
    """Refuse a simulation whose arrays would exceed :func:`memory_limit`, before any exists.

    Counts the recorded values, ``len(record) * num_replicates * values_per_replicate`` float64
    (times ``copies``, e.g. 3 where a backend holds the result three times while assembling
    it), plus :data:`SIMULATION_BYTES_PER_GENERATION` per generation for the schedule arrays,
    plus ``extra_bytes`` (work buffers).
    """
    recorded = recorded_count(record, num_generations)
    stored = float(recorded) * num_replicates * values_per_replicate * 8.0 * copies
    schedule = float(num_generations + 1) * SIMULATION_BYTES_PER_GENERATION
    check_allocation(
        f"num_generations={num_generations}, num_replicates={num_replicates} and record="
        f"{_show(record)} ({recorded} recorded generations x {num_replicates} replicates x "
        f"{values_per_replicate} values, plus {SIMULATION_BYTES_PER_GENERATION} bytes per "
        "generation)",
        stored + schedule + extra_bytes,
        advice="record 'last' or fewer generations, or use fewer replicates or generations",
    )


# ---------------------------------------------------------------------------------------------
# Numbers

#: Tolerance on ``sum(p) == 1`` for probability vectors.
SIMPLEX_ATOL = 1e-9

#: The integer policy in the words of the error messages (see the module docstring).
INTEGER_POLICY = "floats are refused even when integral, e.g. write 1000 or int(1e3), not 1e3"


def _not_an_integer(name: str, value: Any, what: str = "an integer") -> InputTypeError:
    kind = type(value).__name__
    return InputTypeError(f"{name} must be {what}; got {_show(value)} ({kind}); {INTEGER_POLICY}")


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of the strings ``allowed``."""
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be a string, one of {list(allowed)}; got {_show(value)}")
    if value not in allowed:
        raise InputError(f"{name} must be one of {list(allowed)}; got {value!r}")
    return value


def check_int(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` as a Python int: an int, a numpy integer or a 0-d integer array.

    Floats (even integral ones such as ``10.0`` or ``1e3``), strings and bools are refused with
    an :class:`InputTypeError`; values outside ``[minimum, maximum]`` with an :class:`InputError`
    whose message states the bound (the command line states the same one).
    """
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise _not_an_integer(name, value)
    value = int(value)
    if minimum is not None and value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise InputError(f"{name} must be an integer <= {maximum}; got {value}")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """Return ``value`` (a real number or a 0-d real array) as a finite float within the bounds.

    Strings, bools and complex numbers are refused with an :class:`InputTypeError`.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InputTypeError(
            f"{name} must be a real number; got {_show(value)} ({type(value).__name__})"
        )
    value = float(value)
    if not np.isfinite(value):
        raise InputError(f"{name} must be finite; got {value}")
    if minimum is not None:
        if strict_minimum and value <= minimum:
            raise InputError(f"{name} must be > {minimum}; got {value}")
        if not strict_minimum and value < minimum:
            raise InputError(f"{name} must be >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise InputError(f"{name} must be <= {maximum}; got {value}")
    return value


def _is_real_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def as_float_array(name: str, value: Any, *, ndim: int | None = None) -> np.ndarray:
    """Convert real numbers (a scalar or a possibly nested sequence/array) to a finite float64
    array, optionally of a fixed ``ndim``.

    Strings (``"0.001"``), bools and complex numbers are refused with an
    :class:`InputTypeError`, NaN and inf with an :class:`InputError`.
    """
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as error:  # e.g. a ragged nested list
        raise InputTypeError(
            f"{name} must be a real number or an array of real numbers; got {_show(value)}"
        ) from error
    kind = raw.dtype.kind
    if not (kind in "iuf" or (kind == "O" and all(_is_real_number(x) for x in raw.flat))):
        raise InputTypeError(
            f"{name} must be a real number or an array of real numbers; got {_show(value)} "
            f"(dtype {raw.dtype})"
        )
    array = np.asarray(raw, dtype=np.float64)
    if ndim is not None and array.ndim != ndim:
        raise InputError(f"{name} must be {ndim}-dimensional; got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(
            f"{name} must contain only finite numbers (no NaN or inf); got {_show(value)}"
        )
    return array


def check_probability_vector(name: str, value: Any, *, min_states: int = 1) -> np.ndarray:
    """Return a float64 probability vector: 1-D, non-negative, finite, summing to 1.

    The vector is renormalised by its sum (which is within ``SIMPLEX_ATOL`` of 1) so that
    downstream code can rely on an exact simplex up to rounding.
    """
    p = as_float_array(name, value, ndim=1)
    if p.size < min_states:
        raise InputError(f"{name} must have at least {min_states} entries; got {p.size}")
    if np.any(p < 0):
        raise InputError(f"{name} must be non-negative; got minimum {p.min()!r}")
    total = float(p.sum())
    if abs(total - 1.0) > SIMPLEX_ATOL:
        raise InputError(f"{name} must sum to 1 (within {SIMPLEX_ATOL}); got sum {total!r}")
    return p / total


def check_probability(name: str, value: Any) -> np.ndarray:
    """Return probabilities in [0, 1] as a float64 array (scalars give 0-d arrays); strings are
    refused (``p="0.001"`` is an :class:`InputTypeError`)."""
    p = as_float_array(name, value)
    if np.any((p < 0) | (p > 1)):
        raise InputError(f"{name} must lie in [0, 1]; got {_show(value)}")
    return p


def check_generations(name: str, value: Any, *, maximum: int | None = None) -> np.ndarray:
    """Return non-negative generation indices as an int64 array (any shape).

    The integer policy of :func:`check_int`, element by element: integer scalars and arrays
    only; floats (even integral), strings and bools are refused.
    """
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise _not_an_integer(name, value, "an integer or an array of integers") from error
    if array.size == 0 and array.dtype.kind in "fO":  # [] is a float64 array
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise _not_an_integer(name, value, "an integer or an array of integers")
    array = array.astype(np.int64)
    if np.any(array < 0):
        raise InputError(f"{name} must be >= 0; got {_show(value)}")
    if maximum is not None and np.any(array > maximum):
        raise InputError(f"{name} must be <= {maximum}; got {_show(value)}")
    return array


def check_record(record: Any, num_generations: int) -> np.ndarray:
    """Resolve ``record`` ("all", "last" or a list of generations) to sorted unique indices."""
    if isinstance(record, str):
        check_choice("record", record, ("all", "last"))
        if record == "all":
            check_allocation(
                f"record='all' with num_generations={num_generations}",
                16.0 * (num_generations + 1),  # the indices and their slots
                advice="record 'last' or a list of generations",
            )
            return np.arange(num_generations + 1, dtype=np.int64)
        return np.array([num_generations], dtype=np.int64)
    generations = check_generations("record", record, maximum=num_generations)
    if generations.ndim != 1 or generations.size == 0:
        raise InputError(
            f"record must be 'all', 'last' or a non-empty 1-D list of generations in "
            f"[0, {num_generations}]; got {_show(record)}"
        )
    return np.unique(generations)


def record_slots(recorded: np.ndarray, num_generations: int) -> np.ndarray:
    """``slots[g]``: the row of the recorded arrays for generation g, or -1 if not recorded."""
    slots = np.full(num_generations + 1, -1, dtype=np.int64)
    slots[recorded] = np.arange(recorded.size)
    return slots


def check_record_size(record: Any, num_values: int) -> None:
    """Refuse a recording of ``num_values`` float64 above :func:`memory_limit` (prefer
    :func:`check_simulation_size`, which also counts the per-generation arrays and is called
    before :func:`check_record`)."""
    check_allocation(
        f"record={_show(record)} ({num_values} recorded values)",
        num_values * 8.0,
        advice="record 'last' or fewer generations, or use fewer replicates",
    )


#: Relative tolerance (of the largest entry) for covariance symmetry and semi-definiteness.
COV_RTOL = 1e-10


def check_covariance(name: str, cov: Any, *, positive_definite: bool = False) -> np.ndarray:
    """Return ``cov`` as a symmetric positive semi-definite (or definite) float64 d x d matrix.

    Symmetry and the sign of the smallest eigenvalue are checked to a relative tolerance
    ``COV_RTOL`` of the largest entry; the returned matrix is exactly symmetrised.
    """
    cov = as_float_array(name, cov, ndim=2)
    if cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise InputError(f"{name} must be a non-empty square matrix; got shape {cov.shape}")
    scale = max(float(np.max(np.abs(cov))), np.finfo(float).tiny)
    asym = float(np.max(np.abs(cov - cov.T)))
    if asym > COV_RTOL * scale:
        raise InputError(f"{name} must be symmetric; got max |C - C^T| = {asym:.3g}")
    cov = 0.5 * (cov + cov.T)
    smallest = float(np.linalg.eigvalsh(cov)[0])
    if positive_definite and smallest <= COV_RTOL * scale:
        raise InputError(
            f"{name} must be positive definite; got smallest eigenvalue {smallest:.3g}"
        )
    if smallest < -COV_RTOL * scale:
        raise InputError(
            f"{name} must be positive semi-definite; got smallest eigenvalue {smallest:.3g}"
        )
    return cov


# ---------------------------------------------------------------------------------------------
# Results


def check_finite_result(what: str, values: Any, *, advice: str) -> None:
    """Refuse a computed result that holds inf or NaN because the inputs overflow float64.

    ``what`` names the result and the inputs that set its scale; ``advice`` says what to change
    (e.g. rescale: the Gaussian chain is equivariant under a change of scale).

    Raises
    ------
    InputError
        ``"<what> overflows float64: 3 of 1000 values are inf or NaN (the first at index
        (12, 7)); <advice>"``.
    """
    values = np.asarray(values)
    bad = ~np.isfinite(values)
    if bad.any():
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), values.shape))
        raise InputError(
            f"{what} overflows float64: {int(bad.sum())} of {values.size} values are inf or "
            f"NaN (the first at index {first}); {advice}"
        )


def scalar_or_array(values: Any) -> np.float64 | np.ndarray:
    """``values`` as a ``numpy.float64`` (a Python ``float``) if it has shape (), else as the
    ndarray itself: what the closed forms return for scalar and for array arguments."""
    values = np.asarray(values)
    return values[()] if values.ndim == 0 else values
