"""Sphinx extension of the collapse_theory site: what makes a new family join it by itself.

- **API reference, generated.** :func:`api_modules` walks ``collapse_theory.__all__``, the
  family registry (:mod:`collapse_theory.families`) and the ``__all__`` of every module listed
  there; :func:`write_api_pages` writes one page per module into ``docs/api/`` (git-ignored,
  rewritten only when it changes) at ``builder-inited``. ``tests/test_docs_site.py`` checks the
  docstrings of exactly these names.
- **Theory citations are links.** Every numbered section of ``docs/theory.md`` gets the label
  ``theory-X.Y``; "docs/theory.md §X.Y" in any page or docstring becomes a link to it (a
  citation of a section that does not exist is a build warning, hence an error under ``-W``),
  and so does a bare "§X.Y" where section X.Y exists. Each section of the theory ends with the
  list of the API entries whose docstrings cite it.
- **Pages from registries.** ``@family-pages@`` / ``@other-pages@`` lines of ``index.md`` become
  the ``docs/<family>.md`` page of every registered family and every other top-level page not
  named elsewhere in ``index.md``; ``{verify-checks}`` is the table of registered verify checks;
  ``{figure-gallery}`` shows every figure of ``collapse_theory.plotting.FIGURES``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from collapse_api import PACKAGE, api_modules, api_page, documented_where
from docutils import nodes
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

THEORY_DOC = "theory"
#: "docs/theory.md §2.5": an explicit citation (must exist).
CITATION = re.compile(r"docs/theory\.md\s*§\s*(\d+(?:\.\d+)?)")
#: "docs/theory.md §X.Y" or a bare "§X.Y" (linked only where the section exists).
SECTION_MARK = re.compile(r"(?:docs/theory\.md\s*)?§\s*(\d+(?:\.\d+)?)")
#: "2.5 Wasserstein-2 [P/D]", "2. One-dimensional Gaussian": a numbered heading.
NUMBERED_TITLE = re.compile(r"^(\d+(?:\.\d+)?)\.?\s")


# ---------------------------------------------------------------------------------------------
# The API reference (the names: collapse_api)


def write_api_pages(folder: Path) -> list[str]:
    """Write ``folder/<module>.rst`` for every module of :func:`api_modules` (only files whose
    text changed, so that incremental builds stay incremental) and remove stale ones."""
    modules = api_modules()
    home = documented_where(modules)
    written = []
    for module, members in modules.items():
        path = folder / f"{module}.rst"
        text = api_page(module, members, home)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(path.name)
    for stale in folder.glob(f"{PACKAGE}*.rst"):
        if stale.name not in written:
            stale.unlink()
    return written


# ---------------------------------------------------------------------------------------------
# Generated toctree entries of index.md


def _pages_named_in(text: str) -> set[str]:
    return set(re.findall(r"^\s*([\w/.-]+?)(?:\.md)?\s*$", text, re.M))


def expand_page_lists(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname != app.config.root_doc:
        return
    import collapse_theory

    srcdir = Path(app.srcdir)
    families = [f for f in collapse_theory.families.names() if (srcdir / f"{f}.md").exists()]
    named = _pages_named_in(source[0]) | set(families) | {docname}
    others = sorted(p.stem for p in srcdir.glob("*.md") if p.stem not in named)
    source[0] = source[0].replace("@family-pages@", "\n".join(families))
    source[0] = source[0].replace("@other-pages@", "\n".join(others))


# ---------------------------------------------------------------------------------------------
# Theory sections: labels, links, and the API entries that cite each


def theory_label(number: str) -> str:
    return f"theory-{number}"


def label_theory_sections(app: Sphinx, doctree: nodes.document) -> None:
    """Give every numbered section of docs/theory.md the label ``theory-X.Y``."""
    env = app.env
    if env.docname != THEORY_DOC:
        return
    std = env.domains.standard_domain
    for section in doctree.findall(nodes.section):
        title = section.next_node(nodes.title)
        match = NUMBERED_TITLE.match(title.astext()) if title is not None else None
        if match is None:
            continue
        number = match.group(1)
        anchor = nodes.make_id(theory_label(number))
        section["ids"].append(anchor)
        doctree.ids[anchor] = section
        std.labels[theory_label(number)] = (env.docname, anchor, title.astext())
        std.anonlabels[theory_label(number)] = (env.docname, anchor)


def _citations(env) -> dict[str, set[tuple[str, str, str]]]:
    """docname -> {(section number, autodoc kind, object name)}: who cites which section."""
    if not hasattr(env, "collapse_citations"):
        env.collapse_citations = {}
    return env.collapse_citations


def record_citations(app, what, name, obj, options, lines) -> None:
    """Remember which documented object cites which theory section (autodoc); a bare "§X.Y"
    in a docstring is a section of docs/theory.md too."""
    cited = {m.group(1) for line in lines for m in SECTION_MARK.finditer(line)}
    if cited:
        _citations(app.env).setdefault(app.env.docname, set()).update(
            (n, what, name) for n in cited
        )


def drop_type_docstrings(app, what, name, obj, options, lines) -> None:
    """A module-level constant without a ``#:`` comment would show its type's docstring (a
    dict's "dict() -> new empty dictionary..."): name its type instead."""
    if what in ("data", "attribute") and not inspect.isclass(obj) and not callable(obj):
        own = inspect.getdoc(type(obj)) or ""
        if own and "\n".join(lines).strip() == own.strip():
            kind = type(obj)
            lines[:] = [f"An instance of :py:class:`{kind.__module__}.{kind.__qualname__}`.", ""]


#: ``|x|`` in a docstring is an absolute value, never a reStructuredText substitution (the
#: project defines none); unescaped, docutils would report an undefined substitution.
ABSOLUTE_VALUE = re.compile(r"(?<![\\|])\|([^|\s][^|]*?)\|(?![|_])")


def escape_absolute_values(app, what, name, obj, options, lines) -> None:
    """Escape ``|x|`` outside backquotes (math roles and literals keep theirs)."""
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("|", "+")):  # a line of a reST table
            continue
        parts = line.split("`")
        parts[::2] = [ABSOLUTE_VALUE.sub(r"\\|\1\\|", part) for part in parts[::2]]
        lines[i] = "`".join(parts)


def purge_citations(app, env, docname) -> None:
    _citations(env).pop(docname, None)


def merge_citations(app, env, docnames, other) -> None:
    for docname in docnames:
        if docname in _citations(other):
            _citations(env)[docname] = _citations(other)[docname]


def theory_outdated(app, env, added, changed, removed) -> list[str]:
    """The theory page lists the API entries citing it: rebuild it whenever a page changes."""
    return [THEORY_DOC] if (added | changed | removed) and THEORY_DOC in env.found_docs else []


def _theory_ref(number: str, text: str, warn: bool) -> addnodes.pending_xref:
    ref = addnodes.pending_xref(
        "",
        refdomain="std",
        reftype="ref",
        reftarget=theory_label(number),
        refexplicit=True,
        refwarn=warn,
    )
    ref += nodes.Text(text)
    return ref


_NO_LINKS = (
    nodes.literal,
    nodes.literal_block,
    nodes.reference,
    nodes.math,
    nodes.math_block,
    nodes.title,
    addnodes.pending_xref,
    addnodes.desc_signature,
    nodes.raw,
)


class TheoryLinks(SphinxPostTransform):
    """Runs before the references are resolved: turns citations into references to the theory
    sections, and lists under each theory section the API entries that cite it."""

    default_priority = 5

    def run(self) -> None:
        labels = self.env.domains.standard_domain.labels
        for text in list(self.document.findall(nodes.Text)):
            if any(isinstance(a, _NO_LINKS) for a in _ancestors(text)):
                continue
            self._link(text, labels)
        if self.env.docname == THEORY_DOC:
            self._list_citing_entries(labels)

    def _link(self, text: nodes.Text, labels: dict) -> None:
        source, pieces, last = str(text), [], 0
        for match in SECTION_MARK.finditer(source):
            number, explicit = match.group(1), match.group(0).startswith("docs/")
            if not explicit and theory_label(number) not in labels:
                continue  # a bare § that is not a theory section number: leave it
            pieces += [nodes.Text(source[last : match.start()])] if match.start() > last else []
            pieces.append(_theory_ref(number, match.group(0), warn=True))
            last = match.end()
        if pieces:
            pieces += [nodes.Text(source[last:])] if last < len(source) else []
            text.parent.replace(text, pieces)

    def _list_citing_entries(self, labels: dict) -> None:
        by_section: dict[str, set[tuple[str, str]]] = {}
        for cited in _citations(self.env).values():
            for number, what, name in cited:
                by_section.setdefault(number, set()).add((what, name))
        for number, entries in by_section.items():
            label = labels.get(theory_label(number))
            section = self.document.ids.get(label[1]) if label else None
            if section is None:
                continue
            paragraph = nodes.paragraph(classes=["theory-cited-by"])
            paragraph += nodes.strong(text="In the API: ")
            for i, (what, name) in enumerate(sorted(entries, key=lambda e: e[1])):
                paragraph += nodes.Text(", " if i else "")
                ref = addnodes.pending_xref(
                    "",
                    refdomain="py",
                    reftype="mod" if what == "module" else "obj",
                    reftarget=name,
                    refexplicit=True,
                    refwarn=False,
                )
                ref += nodes.literal(text=name.removeprefix(f"{PACKAGE}."))
                paragraph += ref
            subsections = [c for c in section.children if isinstance(c, nodes.section)]
            if subsections:
                section.insert(section.index(subsections[0]), paragraph)
            else:
                section += paragraph


class LinksToIncludedFiles(SphinxPostTransform):
    """A Markdown link to a committed file outside docs/ that a page includes (e.g.
    ``[tail_loss.md](../benchmarks/results/tail_loss.md)``, right on GitHub) points, on the
    site, to the page that includes it. Runs before MyST resolves its links."""

    default_priority = 8

    def run(self) -> None:
        srcdir = Path(self.env.srcdir)
        for node in self.document.findall(addnodes.pending_xref):
            target = node.get("reftarget", "")
            if node.get("reftype") != "myst" or not target or target in self.env.all_docs:
                continue
            wanted = (srcdir / target).with_suffix(".md").resolve()
            for docname, dependencies in self.env.dependencies.items():
                if any((srcdir / d).resolve() == wanted for d in dependencies):
                    node["reftarget"] = docname
                    break


def _ancestors(node: nodes.Node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


# ---------------------------------------------------------------------------------------------
# Directives: the verify checks and the figure gallery


def _table(header: list[str], rows: list[list[nodes.Node | str]]) -> nodes.table:
    table = nodes.table()
    group = nodes.tgroup(cols=len(header))
    table += group
    group += [nodes.colspec(colwidth=1) for _ in header]

    def row(cells):
        out = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(
                "", "", cell if isinstance(cell, nodes.Node) else nodes.Text(cell)
            )
            out += entry
        return out

    group += nodes.thead("", row(header))
    group += nodes.tbody("", *(row(r) for r in rows))
    return table


class VerifyChecks(SphinxDirective):
    """The table of every registered verify check: name, theory section, kind, what it checks,
    quick / full Monte Carlo size."""

    def run(self) -> list[nodes.Node]:
        from collapse_theory import verify

        rows = [
            [
                nodes.literal(text=c.name),
                c.section,
                c.kind,
                c.description,
                " ".join(f"{k}={v:,}" for k, v in {**c.quick_size}.items()) or "–",
            ]
            for c in verify.checks()
        ]
        return [_table(["check", "section", "kind", "what is checked", "quick size"], rows)]


def _plain_rst(text: str) -> str:
    """A docstring paragraph as Markdown: ``:math:`x``` -> ``$x$``, other roles -> code."""
    text = re.sub(r":math:`([^`]*)`", r"$\1$", text)
    text = re.sub(r":\w+:`~?([^`]*)`", r"`\1`", text)
    return re.sub(r"``([^`]*)``", r"`\1`", text)


class FigureGallery(SphinxDirective):
    """Every figure of ``collapse_theory.plotting.FIGURES``: what it shows (its docstring's
    first paragraph), the committed PNG ``docs/figures/NAME.png`` and the command that
    regenerates it."""

    def run(self) -> list[nodes.Node]:
        from collapse_theory import plotting

        out: list[nodes.Node] = []
        figures = Path(self.env.srcdir) / "figures"
        for name, draw in plotting.FIGURES.items():
            summary = inspect.getdoc(draw).split("\n\n")[0].replace("\n", " ")
            command = f"collapse-theory figures {name} --out docs/figures"
            text = [
                f"(gallery-{name})=",
                f"### `{name}`",
                "",
                _plain_rst(summary),
                "",
                f"```bash\n{command}\n```",
                "",
            ]
            if (figures / f"{name}.png").exists():
                text += [f"![{name}](figures/{name}.png)", ""]
            else:
                text += [
                    f"*No committed PNG yet*: `docs/figures/{name}.png` is drawn by the "
                    "command above.",
                    "",
                ]
            container = nodes.container(classes=["gallery-figure"])
            self.state.nested_parse(StringList(text, source="figure-gallery"), 0, container)
            out += container.children
        return out


# ---------------------------------------------------------------------------------------------


def generate(app: Sphinx) -> None:
    write_api_pages(Path(app.srcdir) / "api")


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", generate)
    app.connect("source-read", expand_page_lists)
    app.connect("doctree-read", label_theory_sections)
    app.connect("autodoc-process-docstring", record_citations)
    # Before napoleon (priority 500) rewrites the numpydoc sections.
    app.connect("autodoc-process-docstring", drop_type_docstrings, priority=400)
    app.connect("autodoc-process-docstring", escape_absolute_values, priority=400)
    app.connect("env-purge-doc", purge_citations)
    app.connect("env-merge-info", merge_citations)
    app.connect("env-get-outdated", theory_outdated)
    app.add_post_transform(TheoryLinks)
    app.add_post_transform(LinksToIncludedFiles)
    app.add_directive("verify-checks", VerifyChecks)
    app.add_directive("figure-gallery", FigureGallery)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
