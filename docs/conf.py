"""Sphinx configuration of the collapse_theory documentation site.

Build it (offline; warnings are errors)::

    python -m pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

The site is assembled from what the package declares, so a new family or module joins it
without editing this file: family pages are every ``docs/*.md`` (a glob toctree in
``index.md``), the API reference is generated from ``collapse_theory.__all__``, the registry
of :mod:`collapse_theory.families` and each module's ``__all__`` (``_ext/collapse_docs.py``),
and "docs/theory.md §X.Y" anywhere (pages and docstrings) becomes a link to that section.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import collapse_theory  # noqa: E402

project = "collapse_theory"
author = "collapse_theory contributors"
copyright = "2026, collapse_theory contributors"
release = version = collapse_theory.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "collapse_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]

# --- MyST: the pages are GitHub-flavoured Markdown with $...$ / $$...$$ math
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 4  # "#22-moments-cd"-style anchors, as on GitHub

# --- API reference: numpydoc-style docstrings rendered by napoleon
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Show the project's type aliases by name, not numpy's expanded unions.
autodoc_type_aliases = {
    "ArrayLike": "numpy.typing.ArrayLike",
    "SeedLike": "collapse_theory.rng.SeedLike",
    "ScheduleLike": "collapse_theory.schedules.ScheduleLike",
}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

# --- HTML: furo (search included); MathJax is loaded by the reader's browser, nothing is
# fetched at build time (no intersphinx).
html_theme = "furo"
html_title = f"collapse_theory {release}"
html_static_path = ["_static"]
html_css_files = ["collapse.css"]
html_show_sourcelink = False
