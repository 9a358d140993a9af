"""The project's one JSON writer: every file it writes parses with a strict JSON parser.

Non-finite floats (NaN, +-inf) become ``null`` (Python's ``json`` would write the non-standard
tokens ``NaN`` and ``Infinity``); numpy scalars and arrays become numbers and lists; mappings get
string keys; anything else falls back to ``str``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, overload

import numpy as np

__all__ = ["dumps", "jsonable", "write_json"]


@overload
def jsonable(value: Mapping[str, object]) -> dict[str, object]: ...
@overload
def jsonable(value: object) -> object: ...


def jsonable(value: object) -> object:
    """``value`` made of JSON types only, non-finite floats as ``None``.

    Examples
    --------
    >>> jsonable({"a": np.float64("nan"), "b": np.arange(2), 3: (1.5, float("inf"))})
    {'a': None, 'b': [0, 1], '3': [1.5, None]}
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def dumps(value: object, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`jsonable` (``value``), refusing non-standard tokens; ``kwargs``
    go to ``json.dumps`` (``indent``, ``sort_keys``, ...)."""
    return json.dumps(jsonable(value), allow_nan=False, **kwargs)


def write_json(path: str | Path, value: object, *, indent: int | None = 2) -> Path:
    """Write ``value`` to ``path`` as strict JSON (UTF-8); returns the path."""
    path = Path(path)
    path.write_text(dumps(value, indent=indent) + "\n", encoding="utf-8")
    return path
