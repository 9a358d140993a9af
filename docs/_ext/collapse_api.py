"""The names of the API reference: ``collapse_theory.__all__``, the registered families and,
recursively, the ``__all__`` of every package module those list, one page per module.

Free of Sphinx, so that ``tests/test_docs_site.py`` checks the docstrings of exactly these names
without building the site; ``collapse_docs`` (the Sphinx extension) writes the pages.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

PACKAGE = "collapse_theory"


def _public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        raise RuntimeError(f"{module.__name__} has no __all__: the API reference lists __all__")
    return list(names)


def _is_package_module(obj: object) -> bool:
    return inspect.ismodule(obj) and obj.__name__.startswith(PACKAGE)


def api_modules() -> dict[str, list[tuple[str, object]]]:
    """Module name -> ``[(name, object), ...]`` of its ``__all__``, for every module of the API
    reference: ``collapse_theory``, each family (``collapse_theory.families.names()``) and,
    recursively, every module of the package that one of those lists in its ``__all__``."""
    package = importlib.import_module(PACKAGE)
    pending = [PACKAGE, *(package.families.package(f).__name__ for f in package.families.names())]
    found: dict[str, list[tuple[str, object]]] = {}
    while pending:
        name = pending.pop(0)
        if name in found:
            continue
        module = importlib.import_module(name)
        members = [(n, getattr(module, n)) for n in _public_names(module)]
        found[name] = members
        pending += [obj.__name__ for _, obj in members if _is_package_module(obj)]
    return found


def documented_callables() -> dict[str, object]:
    """``"module.name"`` -> object, for every function and class listed in the API reference
    (the names whose docstrings must have Parameters and Returns sections)."""
    return {
        f"{module}.{name}": obj
        for module, members in api_modules().items()
        for name, obj in members
        if inspect.isfunction(obj) or inspect.isclass(obj)
    }


def documented_where(modules: dict[str, list[tuple[str, object]]]) -> dict[int, str]:
    """id(object) -> ``"module.name"`` of the one entry that documents it in full: under its
    defining module when that module has a page, else its first listing. (One object exported
    by two modules, e.g. a regime shared by two families, is described once; Sphinx would
    report the second description as a duplicate.)"""
    home: dict[int, str] = {}
    for module, members in modules.items():
        for name, obj in members:
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if id(obj) not in home or obj.__module__ == module:
                home[id(obj)] = f"{module}.{name}"
    return home


def _entry(module: str, name: str, obj: object, home: dict[int, str]) -> list[str]:
    if inspect.ismodule(obj):
        return [f"- :doc:`{obj.__name__}` (module)", ""] if _is_package_module(obj) else []
    full = f"{module}.{name}"
    if home.get(id(obj), full) != full:
        return [f"- ``{full}``: the same object as :py:obj:`{home[id(obj)]}`", ""]
    if inspect.isclass(obj):
        return [f".. autoclass:: {full}", "   :members:", ""]
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return [f".. autofunction:: {full}", ""]
    return [f".. autodata:: {full}", "   :no-value:", ""]


def api_page(
    module: str, members: list[tuple[str, object]], home: dict[int, str] | None = None
) -> str:
    """The reStructuredText of one module's API page."""
    home = {} if home is None else home
    lines = [module, "=" * len(module), "", f".. automodule:: {module}", "   :no-members:", ""]
    modules = [m for m in members if inspect.ismodule(m[1])]
    if modules:
        lines += ["Modules", "-------", ""]
        for name, obj in modules:
            lines += _entry(module, name, obj, home)
    others = [m for m in members if not inspect.ismodule(m[1])]
    if others:
        lines += ["Contents", "--------", ""]
        for name, obj in others:
            lines += _entry(module, name, obj, home)
    return "\n".join(lines) + "\n"
