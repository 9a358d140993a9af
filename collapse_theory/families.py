"""The model families of the library, and the one place where a family is registered.

A family is a package (``collapse_theory/<name>/``) whose modules follow one template
(docs/contributing.md): ``simulate.py`` (the public simulator), ``theory.py`` (closed forms),
``tails.py`` (its one tail law and tail-loss benchmark rows), ``checks.py`` (its verify checks),
``figures.py`` (its figures) and ``cli.py`` (its subcommands). The shared machinery -- the verify
runner, the figure registry, the tail-loss table, the sweep and the command line -- finds these
modules through this registry and never names a family itself. A family states what the machinery
cannot guess in a :class:`Family` object called ``FAMILY`` in its ``__init__.py``.

Adding a family to the library is one line in :data:`BUILTIN`; a family that lives outside the
package (a plug-in, or a toy family in a test) is added with :func:`register`.

Examples
--------
>>> from collapse_theory import families
>>> families.names()[:3]
['categorical', 'gaussian', 'gmm']
>>> families.get("gaussian").simulator_arrays
('mean', 'var', 'cov')
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType

from collapse_theory._validate import InputError

__all__ = [
    "BUILTIN",
    "Family",
    "PartLoader",
    "get",
    "module",
    "modules",
    "names",
    "register",
    "unregister",
]

#: The built-in families, in the order the machinery lists them (verify table, figures, tails).
BUILTIN = ("categorical", "gaussian", "gmm", "poisson", "kde", "regression", "lm", "vae")

#: The template's optional modules of a family package.
PARTS = ("theory", "simulate", "tails", "checks", "figures", "cli")


@dataclass(frozen=True)
class Family:
    """What a family declares to the shared machinery (``FAMILY`` in its ``__init__.py``).

    Parameters
    ----------
    name : str
        The family's name: the prefix of its checks (``"gaussian.expected_variance"``) and of its
        sweep functions (``"gaussian.simulate"``, ``"gaussian.theory.expected_variance"``).
    simulator_arrays : tuple of str
        The arrays its ``simulate`` may return (a sweep's ``keep``); empty if it has no simulator.
    theory : bool
        Whether the public functions of its ``theory`` module may be swept.
    sweep_arguments : mapping of str to callable
        Parameter name -> how a sweep spec's value (TOML: numbers, strings, lists, tables) becomes
        the library's argument, e.g. ``"p0": "zipf:1.1:100" -> array``.
    """

    name: str
    simulator_arrays: tuple[str, ...] = ()
    theory: bool = False
    sweep_arguments: Mapping[str, Callable[..., object]] = field(default_factory=dict)


#: Family name -> the import path of its package.
_PACKAGES: dict[str, str] = {name: f"collapse_theory.{name}" for name in BUILTIN}


def register(name: str, package: str) -> None:
    """Add the family ``name`` whose package is importable as ``package`` (e.g. a plug-in).

    The package must define ``FAMILY`` (a :class:`Family` with this name). Registering an
    existing name again with the same package does nothing; with another package it is refused.

    Parameters
    ----------
    name : str
        The family's name, a Python identifier (the prefix of its checks and sweep functions).
    package : str
        Import path of the family's package, e.g. ``"my_plugin.toy"``; imported at once.

    Raises
    ------
    InputError
        A name that is not an identifier or is registered to another package, or a package
        whose ``FAMILY`` is not a :class:`Family` of that name.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise InputError(f"name must be a Python identifier; got {name!r}")
    if _PACKAGES.get(name, package) != package:
        raise InputError(f"family {name!r} is already registered as {_PACKAGES[name]!r}")
    declared = importlib.import_module(package).FAMILY
    if not isinstance(declared, Family) or declared.name != name:
        raise InputError(f"{package}.FAMILY must be a Family named {name!r}; got {declared!r}")
    _PACKAGES[name] = package
    _changed()


def unregister(name: str) -> None:
    """Remove a family added with :func:`register` (built-in families stay).

    Parameters
    ----------
    name : str
        A family added with :func:`register`; an unknown name does nothing, a built-in one
        raises an InputError.
    """
    if name in BUILTIN:
        raise InputError(f"{name!r} is a built-in family")
    if _PACKAGES.pop(name, None) is not None:
        _changed()


def names() -> list[str]:
    """The registered families, built-in ones first.

    Returns
    -------
    list of str
        The family names: :data:`BUILTIN` in order, then those added with :func:`register`.
    """
    return list(_PACKAGES)


def package(name: str) -> ModuleType:
    """The family's package (imported on first use)."""
    if name not in _PACKAGES:
        raise InputError(f"unknown family {name!r}; registered: {names()}")
    return importlib.import_module(_PACKAGES[name])


def get(name: str) -> Family:
    """The :class:`Family` declaration of ``name``.

    Parameters
    ----------
    name : str
        A registered family (:func:`names`); an unknown one raises an InputError.

    Returns
    -------
    Family
        The package's ``FAMILY`` (the package is imported on first use).
    """
    return package(name).FAMILY


def module(name: str, part: str) -> ModuleType | None:
    """The family's module ``part`` (one of :data:`PARTS`), or None if the family has none.

    Parameters
    ----------
    name : str
        A registered family (:func:`names`).
    part : str
        One of :data:`PARTS`: "theory", "simulate", "tails", "checks", "figures" or "cli".

    Returns
    -------
    module or None
        The imported module ``<package>.<part>``, or None where the package has no such module.
    """
    if part not in PARTS:
        raise InputError(f"part must be one of {PARTS}; got {part!r}")
    path = f"{package(name).__name__}.{part}"
    return importlib.import_module(path) if importlib.util.find_spec(path) else None


def modules(part: str) -> list[tuple[str, ModuleType]]:
    """``(family, module)`` for every registered family that has the module ``part``.

    Parameters
    ----------
    part : str
        One of :data:`PARTS`.

    Returns
    -------
    list of (str, module)
        The family name and its imported module, in the order of :func:`names`; families
        without that module are left out.
    """
    found = [(name, module(name, part)) for name in names()]
    return [(name, mod) for name, mod in found if mod is not None]


class PartLoader:
    """Imports one module of every registered family (``part``, e.g. ``"checks"``), whose import
    registers entries in a registry, once; and when a family is unregistered, calls
    ``forget(family)`` so the registry drops its entries, and drops the module from
    ``sys.modules`` so that registering the family again imports it afresh.

    Parameters
    ----------
    part : str
        The module of each family to import, one of :data:`PARTS` (e.g. ``"checks"``).
    forget : callable
        ``forget(family)`` is called with the name of a family that was unregistered after its
        module was loaded, so that the registry drops that family's entries.

    Examples
    --------
    >>> loader = PartLoader("checks", forget=lambda family: None)
    >>> loader.load()
    >>> sorted(loader.loaded)[:2]
    ['categorical', 'gaussian']
    """

    def __init__(self, part: str, forget: Callable[[str], None]) -> None:
        if part not in PARTS:
            raise InputError(f"part must be one of {PARTS}; got {part!r}")
        self.part = part
        self.forget = forget
        #: Family -> the name of the module this loader imported for it.
        self.loaded: dict[str, str] = {}
        self._current = False
        _listeners.append(self._families_changed)

    def load(self) -> None:
        """Import the part of every registered family not loaded yet."""
        if self._current:
            return
        for family, imported in modules(self.part):
            self.loaded[family] = imported.__name__
        self._current = True

    def _families_changed(self) -> None:
        self._current = False
        for family in [name for name in self.loaded if name not in _PACKAGES]:
            sys.modules.pop(self.loaded.pop(family), None)
            self.forget(family)


#: Loaders to tell when the set of families changes.
_listeners: list[Callable[[], None]] = []


def _changed() -> None:
    for callback in _listeners:
        callback()
