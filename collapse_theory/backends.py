"""Simulation backends: which are available, and which one a call uses.

Every simulator takes ``backend=None | "numba" | "jax"``. ``None`` means the current default,
``"numba"`` unless changed with :func:`use` (``collapse-theory verify --backend jax`` runs the
whole suite that way).

Examples
--------
>>> resolve(None)
'numba'
>>> with use("numba"):
...     resolve(None)
'numba'
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.metadata
import importlib.util
from collections.abc import Iterator

from collapse_theory._validate import check_choice

__all__ = ["BACKENDS", "available", "jax_devices", "resolve", "use"]

BACKENDS = ("numba", "jax")

_DEFAULT = contextvars.ContextVar("collapse_theory_backend", default="numba")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def jax_devices() -> list[str]:
    """The devices jax would run on (``[]`` when jax is not installed), e.g. ``['cpu:0']``."""
    if importlib.util.find_spec("jax") is None:
        return []
    import jax

    return [f"{device.platform}:{device.id}" for device in jax.devices()]


def available() -> dict[str, dict[str, object]]:
    """Each backend with whether it can run here, its version and (for jax) its devices.

    Returns
    -------
    dict
        ``{"numba": {"available": True, "version": ...}, "jax": {"available": ...,
        "version": ..., "devices": [...]}}``.
    """
    jax_version = _version("jax")
    return {
        "numba": {"available": True, "version": _version("numba")},
        "jax": {
            "available": jax_version is not None,
            "version": jax_version,
            "devices": jax_devices() if jax_version is not None else [],
        },
    }


def resolve(backend: str | None) -> str:
    """The backend a call uses: ``backend`` itself, or the current default when it is ``None``.

    Raises
    ------
    ValueError
        If ``backend`` is not one of :data:`BACKENDS`.
    ImportError
        If ``backend`` is ``"jax"`` and jax is not installed (with the command that installs it).
    """
    name = _DEFAULT.get() if backend is None else backend
    check_choice("backend", name, BACKENDS)
    if name == "jax" and importlib.util.find_spec("jax") is None:
        raise ImportError(
            "backend='jax' needs jax, which is not installed; "
            "install it with: python3 -m pip install 'collapse_theory[jax]'"
        )
    return name


@contextlib.contextmanager
def use(backend: str) -> Iterator[str]:
    """Make ``backend`` the default of every simulator inside a ``with`` block.

    Parameters
    ----------
    backend : {"numba", "jax"}
        Checked with :func:`resolve`, so a missing jax fails here, not deep in a run.
    """
    name = resolve(backend)
    token = _DEFAULT.set(name)
    try:
        yield name
    finally:
        _DEFAULT.reset(token)
