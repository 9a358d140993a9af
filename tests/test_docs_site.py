"""The documentation site builds with warnings as errors, and every public function and class of
its API reference has the numpydoc sections a reader needs.

- The build is the command of docs/conf.py, ``python -m sphinx -W --keep-going -b html docs
  OUT``, into a temporary folder (skipped only where Sphinx or its extensions are not
  installed: ``pip install -e ".[docs]"``).
- The names checked are exactly those the API reference lists (``collapse_api.api_modules``,
  generated from ``collapse_theory.__all__``, the family registry and each module's
  ``__all__``): a function with parameters needs a ``Parameters`` section, one that returns
  something a ``Returns`` (or ``Yields``) section; a class whose constructor takes arguments
  needs ``Parameters`` or ``Attributes``.
- Tutorials (docs/tutorials/*.md) run like every other page, in tests/test_docs.py.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import subprocess
import sys
import textwrap
import time
import warnings
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(1, str(ROOT))  # `from tests import ...` when run as a script

import collapse_api  # noqa: E402  (docs/_ext: the names of the API reference, no Sphinx)

#: Seconds the build may take on a 2-CPU CI machine (measured from scratch: 11 s wall on an
#: idle machine, 25-31 s with other jobs running; 12-13 s of CPU).
BUILD_TIMEOUT_S = 300

BUILD_TOOLS = ("sphinx", "myst_parser", "furo")


def _missing_tools() -> list[str]:
    return [name for name in BUILD_TOOLS if importlib.util.find_spec(name) is None]


def test_site_builds_with_warnings_as_errors(tmp_path: Path):
    missing = _missing_tools()
    if missing:
        pytest.skip(f"not installed: {missing} (pip install -e '.[docs]')")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    start = time.perf_counter()
    result = subprocess.run(
        [*command, str(DOCS), str(tmp_path / "html"), "-d", str(tmp_path / "doctrees")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 0, f"the site does not build:\n{result.stderr[-6000:]}"
    html = tmp_path / "html"
    for page in ("index", "theory", "gallery", "verify_table", "api/index"):
        assert (html / f"{page}.html").is_file(), page
    for module in collapse_api.api_modules():
        assert (html / "api" / f"{module}.html").is_file(), module
    # theory sections are targets, list the API entries citing them, and API pages link to them
    theory = (html / "theory.html").read_text()
    assert 'id="theory-2-5"' in theory and "theory-cited-by" in theory
    assert "theory.html#theory-2-5" in (html / "api" / "collapse_theory.gaussian.html").read_text()
    print(f"site built in {seconds:.1f} s")


def test_citation_patterns():
    collapse_docs = pytest.importorskip("collapse_docs")
    assert collapse_docs.CITATION.findall("see docs/theory.md §2.5 and docs/theory.md §6") == [
        "2.5",
        "6",
    ]
    assert collapse_docs.NUMBERED_TITLE.match("2.5 Wasserstein-2 [P/D]").group(1) == "2.5"
    assert collapse_docs.NUMBERED_TITLE.match("2. One-dimensional Gaussian").group(1) == "2"
    assert collapse_docs.NUMBERED_TITLE.match("Indexing and notation") is None


def test_absolute_values_are_escaped_outside_backquotes():
    collapse_docs = pytest.importorskip("collapse_docs")
    lines = ["var x M or |mean| x M", ":math:`a + |x|` and |y|", "| a | b |", "a | b"]
    collapse_docs.escape_absolute_values(None, "function", "f", None, {}, lines)
    assert lines == [
        "var x M or \\|mean\\| x M",
        ":math:`a + |x|` and \\|y\\|",
        "| a | b |",
        "a | b",
    ]


def test_api_reference_lists_every_public_name():
    import collapse_theory

    modules = collapse_api.api_modules()
    expected = {
        "collapse_theory",
        *(f"collapse_theory.{f}" for f in collapse_theory.families.names()),
    }
    assert expected <= set(modules)
    for module, members in modules.items():
        assert [name for name, _ in members] == list(sys.modules[module].__all__)
        page = collapse_api.api_page(module, members)
        for name, obj in members:
            if not inspect.ismodule(obj):
                assert f"{module}.{name}\n" in page, f"{module}.{name} is not on its API page"


def test_an_object_exported_twice_is_described_once():
    modules = collapse_api.api_modules()
    home = collapse_api.documented_where(modules)
    described: dict[int, list[str]] = defaultdict(list)
    for module, members in modules.items():
        page = collapse_api.api_page(module, members, home)
        for name, obj in members:
            if inspect.isclass(obj) or inspect.isfunction(obj):
                if f":: {module}.{name}\n" in page:
                    described[id(obj)].append(f"{module}.{name}")
                else:
                    assert f"``{module}.{name}``: the same object as" in page
    assert all(len(names) == 1 for names in described.values()), [
        names for names in described.values() if len(names) > 1
    ]
    assert len(described) == len(home)


# ---------------------------------------------------------------------------------------------
# numpydoc sections


def _docstring_sections(obj: object) -> set[str]:
    from numpydoc.docscrape import NumpyDocString

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpydoc warns on unknown sections; not our concern
        doc = NumpyDocString(inspect.getdoc(obj) or "")
    return {
        section for section in ("Parameters", "Returns", "Yields", "Attributes") if doc[section]
    }


def _arguments(function) -> list[str]:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return []
    return [name for name in parameters if name not in ("self", "cls")]


def _returns_something(function) -> bool:
    annotation = inspect.signature(function).return_annotation
    if annotation is not inspect.Signature.empty:
        return annotation not in (None, "None", type(None))
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return True  # unknown: a Returns section is asked for
    body = tree.body[0]
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)

    def walk(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, nested):
                continue
            yield child
            yield from walk(child)

    return any(
        isinstance(node, (ast.Yield, ast.YieldFrom))
        or (isinstance(node, ast.Return) and node.value is not None)
        for node in walk(body)
    )


def _own_constructor(cls: type):
    """The ``__init__`` a reader calls, or None where it is inherited from outside the package
    (an exception or warning class)."""
    init = cls.__init__
    module = getattr(init, "__module__", None) or ""
    if module.startswith("collapse_theory") or "__create_fn__" in getattr(init, "__qualname__", ""):
        return init
    return None


def missing_sections(obj: object) -> list[str]:
    """The numpydoc sections ``obj``'s docstring lacks."""
    sections = _docstring_sections(obj)
    if inspect.isclass(obj):
        init = _own_constructor(obj)
        needs = init is not None and _arguments(init)
        return ["Parameters"] if needs and not sections & {"Parameters", "Attributes"} else []
    missing = []
    if _arguments(obj) and "Parameters" not in sections:
        missing.append("Parameters")
    if _returns_something(obj) and not sections & {"Returns", "Yields"}:
        missing.append("Returns")
    return missing


def incomplete_docstrings() -> dict[str, dict[str, list[str]]]:
    """Defining module -> {``module.qualname``: missing sections}, over the API reference (an
    object listed under several names is checked once, under the name where it is defined)."""
    found: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for obj in collapse_api.documented_callables().values():
        missing = missing_sections(obj)
        if missing:
            found[obj.__module__][f"{obj.__module__}.{obj.__qualname__}"] = missing
    return dict(found)


def test_missing_sections_rules():
    def documented(x: int) -> int:
        """Twice x.

        Parameters
        ----------
        x : int
            A number.

        Returns
        -------
        int
            ``2 x``.
        """
        return 2 * x

    def bare(x):
        """Twice x."""
        return 2 * x

    def procedure() -> None:
        """Nothing in, nothing out."""

    assert missing_sections(documented) == []
    assert missing_sections(bare) == ["Parameters", "Returns"]
    assert missing_sections(procedure) == []


def test_every_public_name_has_parameters_and_returns_sections():
    pytest.importorskip("numpydoc")
    incomplete = incomplete_docstrings()
    report = {module: entries for module, entries in incomplete.items() if entries}
    assert not report, "numpydoc sections missing, per defining module:\n" + "\n".join(
        f"{module}: "
        + ", ".join(f"{n.rsplit('.', 1)[1]} ({'/'.join(s)})" for n, s in entries.items())
        for module, entries in sorted(report.items())
    )


if __name__ == "__main__":
    # python tests/test_docs_site.py: the names that miss a section now
    for module, entries in sorted(incomplete_docstrings().items()):
        print(f"    # {module}")
        for name, missing in sorted(entries.items()):
            print(f'    "{name}",  # {"/".join(missing)}')
