"""The layout: families are folders the machinery finds through one registry; shared helpers.

- The machinery (verify, tails, sweep registry, CLI, figure registry, plotting) names no family
  in its code: no import of a family module, no identifier or string constant that is a family.
- ``ct.plotting`` and ``ct.sweep`` are lazy attributes of the package.
- Every JSON file the project ships parses with a strict parser (no NaN / Infinity tokens), and
  the one JSON writer writes non-finite numbers as null.
"""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import collapse_theory as ct
from collapse_theory import _json, families

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "collapse_theory"
# families.py is left out: its BUILTIN tuple is the one line that names the built-in families.
MACHINERY = [
    *sorted((PACKAGE / "verify").glob("*.py")),
    *sorted((PACKAGE / "tails").glob("*.py")),
    *sorted((PACKAGE / "sweep").glob("*.py")),
    PACKAGE / "_stats.py",
    PACKAGE / "_json.py",
    PACKAGE / "_validate.py",
    PACKAGE / "cli.py",
    PACKAGE / "_cli.py",
    PACKAGE / "_figures.py",
    PACKAGE / "_figures_cli.py",
    PACKAGE / "plotting.py",
]


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _family_mentions(path: Path, names: tuple[str, ...]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    hits = []

    def is_family(text: str) -> bool:
        return any(text == n or text.startswith(f"{n}.") or text.endswith(f".{n}") for n in names)

    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and is_family(node.id):
            hits.append(f"{path.name}:{node.lineno} name {node.id}")
        elif isinstance(node, ast.Attribute) and is_family(node.attr):
            hits.append(f"{path.name}:{node.lineno} attribute {node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom) and node.module:
                modules.append(node.module)
            for module in modules:
                if any(f".{n}" in f".{module}." or module == n for n in names):
                    hits.append(f"{path.name}:{node.lineno} import {module}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and is_family(node.value.strip())
        ):
            hits.append(f"{path.name}:{node.lineno} string {node.value!r}")
    return hits


def test_machinery_names_no_family():
    names = (*families.BUILTIN, "mixture")
    hits = [hit for path in MACHINERY for hit in _family_mentions(path, names)]
    assert len(MACHINERY) > 10
    assert not hits, hits


def test_the_scan_would_see_a_family_import(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(
        '"""Doc: gaussian."""\nfrom collapse_theory import gaussian\nx = gaussian, "gmm"\n'
    )
    assert len(_family_mentions(path, families.BUILTIN)) == 3  # the import, the name, the string


def test_plotting_and_sweep_are_lazy_attributes():
    code = (
        "import sys, collapse_theory as ct\n"
        "assert 'collapse_theory.plotting' not in sys.modules\n"
        "ct.plotting; ct.sweep\n"
        "print(sorted(ct.plotting.FIGURES)[0], ct.sweep.functions()[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.split() == ["absorption_time", "categorical.simulate"]


def test_every_family_is_an_attribute_and_declares_itself():
    for name in families.BUILTIN:
        package = getattr(ct, name)
        assert package.FAMILY.name == name
        assert families.module(name, "checks") is not None
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        ct.nonexistent  # noqa: B018


def _raise(token: str) -> float:
    raise ValueError(f"non-standard JSON token {token}")


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "benchmarks" / "results").rglob("*.json")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_shipped_json_parses_strictly(path):
    json.loads(path.read_text(encoding="utf-8"), parse_constant=_raise)


def test_json_writer_writes_null_for_non_finite(tmp_path):
    value = {"nan": math.nan, "inf": [np.float64(np.inf), -math.inf], "ok": np.arange(2)}
    written = _json.write_json(tmp_path / "x.json", value)
    parsed = json.loads(written.read_text(encoding="utf-8"), parse_constant=_raise)
    assert parsed == {"nan": None, "inf": [None, None], "ok": [0, 1]}
