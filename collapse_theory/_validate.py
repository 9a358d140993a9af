"""Argument checks shared by every public function.

Each check raises :class:`InputTypeError` (a ``TypeError``: wrong kind of object) or
:class:`InputError` (a ``ValueError``: right kind, bad value) with a message that names the
argument, shows the value, and says what is allowed. The command line turns exactly these two
into a one-line usage error; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class InputError(ValueError):
    """Bad input to a public function: the message names the argument, the value and what is
    allowed. Raised before anything large is allocated."""


class InputTypeError(InputError, TypeError):
    """Bad input of the wrong kind (an :class:`InputError` that is also a ``TypeError``)."""


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
    """Create the directory ``path`` (the one asked for) if needed, never its parents; return it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{name}: {str(path)!r} exists and is not a directory")
    check_output_file(name, path)
    path.mkdir(exist_ok=True)
    return path


#: Tolerance on ``sum(p) == 1`` for probability vectors.
SIMPLEX_ATOL = 1e-9


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of the strings ``allowed``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(allowed)}; got {_show(value)}")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}")
    return value


def check_int(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` as a Python int; integral floats such as ``10.0`` are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {_show(value)} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an integer <= {maximum}; got {value}")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """Return ``value`` as a finite float within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number; got {_show(value)} ({type(value).__name__})"
        )
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if minimum is not None:
        if strict_minimum and value <= minimum:
            raise ValueError(f"{name} must be > {minimum}; got {value}")
        if not strict_minimum and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value}")
    return value


def as_float_array(name: str, value: Any, *, ndim: int | None = None) -> np.ndarray:
    """Convert to a finite float64 array (optionally of a fixed ``ndim``)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be an array of real numbers; got {_show(value)}") from error
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(
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
        raise ValueError(f"{name} must have at least {min_states} entries; got {p.size}")
    if np.any(p < 0):
        raise ValueError(f"{name} must be non-negative; got minimum {p.min()!r}")
    total = float(p.sum())
    if abs(total - 1.0) > SIMPLEX_ATOL:
        raise ValueError(f"{name} must sum to 1 (within {SIMPLEX_ATOL}); got sum {total!r}")
    return p / total


def check_probability(name: str, value: Any) -> np.ndarray:
    """Return probabilities in [0, 1] as a float64 array (scalars give 0-d arrays)."""
    p = as_float_array(name, value)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"{name} must lie in [0, 1]; got {_show(value)}")
    return p


def check_generations(name: str, value: Any, *, maximum: int | None = None) -> np.ndarray:
    """Return non-negative integer generation indices as an int64 array (any shape)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be an integer or array of integers; got {_show(value)}"
        ) from error
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer)
        or (
            np.issubdtype(array.dtype, np.floating)
            and np.all(np.isfinite(array))
            and np.all(array == np.round(array))
        )
    ):
        raise TypeError(f"{name} must be an integer or array of integers; got {_show(value)}")
    array = array.astype(np.int64)
    if np.any(array < 0):
        raise ValueError(f"{name} must be >= 0; got {_show(value)}")
    if maximum is not None and np.any(array > maximum):
        raise ValueError(f"{name} must be <= {maximum}; got {_show(value)}")
    return array


def check_record(record: Any, num_generations: int) -> np.ndarray:
    """Resolve ``record`` ("all", "last" or a list of generations) to sorted unique indices."""
    if isinstance(record, str):
        check_choice("record", record, ("all", "last"))
        if record == "all":
            return np.arange(num_generations + 1, dtype=np.int64)
        return np.array([num_generations], dtype=np.int64)
    generations = check_generations("record", record, maximum=num_generations)
    if generations.ndim != 1 or generations.size == 0:
        raise ValueError(
            f"record must be 'all', 'last' or a non-empty 1-D list of generations in "
            f"[0, {num_generations}]; got {_show(record)}"
        )
    return np.unique(generations)


def record_slots(recorded: np.ndarray, num_generations: int) -> np.ndarray:
    """``slots[g]``: the row of the recorded arrays for generation g, or -1 if not recorded."""
    slots = np.full(num_generations + 1, -1, dtype=np.int64)
    slots[recorded] = np.arange(recorded.size)
    return slots


def check_record_size(record: Any, num_values: int, limit_bytes: int = 4 * 2**30) -> None:
    """Refuse a recording that would allocate more than ``limit_bytes`` of float64."""
    if num_values * 8 > limit_bytes:
        raise ValueError(
            f"record={_show(record)} would store {num_values * 8 / 2**30:.1f} GiB; the limit is "
            f"{limit_bytes / 2**30:.0f} GiB: record 'last' or fewer generations, or fewer replicates"
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
        raise ValueError(f"{name} must be a non-empty square matrix; got shape {cov.shape}")
    scale = max(float(np.max(np.abs(cov))), np.finfo(float).tiny)
    asym = float(np.max(np.abs(cov - cov.T)))
    if asym > COV_RTOL * scale:
        raise ValueError(f"{name} must be symmetric; got max |C - C^T| = {asym:.3g}")
    cov = 0.5 * (cov + cov.T)
    smallest = float(np.linalg.eigvalsh(cov)[0])
    if positive_definite and smallest <= COV_RTOL * scale:
        raise ValueError(
            f"{name} must be positive definite; got smallest eigenvalue {smallest:.3g}"
        )
    if smallest < -COV_RTOL * scale:
        raise ValueError(
            f"{name} must be positive semi-definite; got smallest eigenvalue {smallest:.3g}"
        )
    return cov


# ---------------------------------------------------------------------------------------------
# The 1-D Gaussian scale is one variance, ``var0``
