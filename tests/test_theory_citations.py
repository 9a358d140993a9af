"""Every ``theory.md §N.M`` cited in the repository exists in docs/theory.md.

docs/theory.md numbers its sections ``## N. Title`` and its items ``### N.M Title``. This test
collects those numbers, scans the text files of the repository for citations and fails with
``file:line`` and the missing number for each citation that does not resolve.

The citation parser is deliberately simple:

- A citation starts at the word ``theory.md``. Its scope is the rest of that line, cut at the
  first sentence end (``.``, ``;``, ``:``, ``!`` or ``?`` followed by a space or the end of the
  line) or at the next ``*.md`` file name. So ``(theory.md §2.2, §2.6, §2.7)`` cites three
  items, and in ``theory.md §1.4; design.md §3`` only ``§1.4`` is cited.
- In the scope, every ``§N`` or ``§N.M`` is cited, and so is every number continuing a list or
  a range after one: ``§2.4, 2.6–2.8`` cites 2.4, 2.6 and 2.8; ``§1–3`` cites 1 and 3. Bare
  numbers continuing a list must look like items (``N.M``), so ``§1.4: 16.159`` or
  ``§2.3, 10 generations`` do not cite 16.159 or 10. Ranges cite their two ends only.
- Bare ``§N.M`` (without ``theory.md``) in the library, the docs, the README and the
  benchmarks also refer to theory.md (the docs say so) and are checked with the same rules,
  except after another ``*.md`` file name. Tests are left out of this second check: some
  define made-up sections as fixtures.

Files come from ``git ls-files`` (tracked files and untracked ones that git does not ignore)
when git is available, else from a walk of the tree that skips ``.git``. Only
``collapse_theory/``, ``tests/``, ``docs/``, ``benchmarks/`` and ``README.md`` are scanned;
``benchmarks/results/`` and binary files are skipped. External references in docs/theory.md
(a book's chapter) are written without the ``§`` sign so that they are not read as citations.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs" / "theory.md"
SCANNED_DIRS = ("collapse_theory", "tests", "docs", "benchmarks")
SCANNED_FILES = ("README.md",)
SKIPPED_DIRS = ("benchmarks/results",)
GIT_LS_FILES = ("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--")
#: Where a bare "§N.M" (no "theory.md" before it) is also a citation of theory.md.
BARE_DIRS = ("collapse_theory", "docs", "benchmarks")
BARE_FILES = ("README.md",)

SECTION_HEADING = re.compile(r"^##\s+(\d+)\.\s")
ITEM_HEADING = re.compile(r"^###\s+(\d+)\.(\d+)\s")
THEORY_MENTION = re.compile(r"theory\.md")
OTHER_FILE = re.compile(r"\b[\w-]+\.md\b")
#: End of a citation's scope: a sentence end, or another Markdown file name.
SCOPE_END = re.compile(rf"[.;:!?](?:\s|$)|{OTHER_FILE.pattern}")
#: "§N" or "§N.M", then any run of ", N.M" / ", §N(.M)" (list) or "-N(.M)" / "–§N" (range).
_NUMBER = r"\d+(?:\.\d+)?"
_RANGE_END = rf"[-–]\s*§?\s*{_NUMBER}"
_LIST_ITEM = rf",\s*(?:§\s*{_NUMBER}|\d+\.\d+)"
CITATION = re.compile(rf"§\s*({_NUMBER})((?:\s*(?:{_RANGE_END}|{_LIST_ITEM}))*)")
CONTINUATION = re.compile(r"(\d+(?:\.\d+)?)")
#: Paths outside the repository that docs/theory.md must not cite.
FORBIDDEN = (
    re.compile(r"shared/spec"),
    re.compile(r"\.\./"),
    re.compile(r"\bfile://"),
    re.compile(r"(?<![\w.)\]}$\\/])/(?:work|home|tmp|mnt|opt|usr|root|Users|data)\b"),
    re.compile(r"\]\(/"),
    re.compile(r"\b[A-Za-z]:\\"),
)


def numbered_headings(text: str) -> set[str]:
    """Section ("2") and item ("2.5") numbers of theory.md's ``##``/``###`` headings."""
    found: set[str] = set()
    for line in text.splitlines():
        if match := SECTION_HEADING.match(line):
            found.add(match.group(1))
        elif match := ITEM_HEADING.match(line):
            found.add(f"{match.group(1)}.{match.group(2)}")
    return found


def cited_numbers(segment: str) -> list[str]:
    """Every section or item number cited in ``segment`` (see the module docstring)."""
    numbers = []
    for match in CITATION.finditer(segment):
        numbers.append(match.group(1))
        numbers.extend(CONTINUATION.findall(match.group(2)))
    return numbers


def _scope(line: str, start: int) -> str:
    end = SCOPE_END.search(line, start)
    return line[start : end.start() if end else len(line)]


def citations(line: str, *, bare: bool) -> list[str]:
    """Numbers cited in one line: after each ``theory.md``, and (``bare``) anywhere else too."""
    numbers = []
    covered = []
    for mention in THEORY_MENTION.finditer(line):
        scope = _scope(line, mention.end())
        covered.append((mention.start(), mention.end() + len(scope)))
        numbers.extend(cited_numbers(scope))
    if bare:
        # Pieces of the line outside the theory.md scopes, each cut at another file name.
        pieces, position = [], 0
        for start, end in covered:
            pieces.append(line[position:start])
            position = end
        pieces.append(line[position:])
        for piece in pieces:
            numbers.extend(cited_numbers(OTHER_FILE.split(piece, maxsplit=1)[0]))
    return numbers


def _in(path: str, dirs: tuple[str, ...], files: tuple[str, ...]) -> bool:
    return path in files or any(path.startswith(d + "/") for d in dirs)


def _tracked_files() -> list[str]:
    if shutil.which("git") and (ROOT / ".git").exists():
        result = subprocess.run(
            [*GIT_LS_FILES, *SCANNED_DIRS, *SCANNED_FILES],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        if result.returncode == 0:
            return [p for p in result.stdout.decode().split("\0") if p]
    paths = [name for name in SCANNED_FILES if (ROOT / name).is_file()]
    for directory in SCANNED_DIRS:
        for path in (ROOT / directory).rglob("*"):
            if path.is_file() and ".git" not in path.parts:
                paths.append(path.relative_to(ROOT).as_posix())
    return paths


def scanned_files() -> Iterator[tuple[str, str]]:
    """(relative path, text) of every text file the test scans."""
    for relative in sorted(set(_tracked_files())):
        if not _in(relative, SCANNED_DIRS, SCANNED_FILES):
            continue
        if any(relative.startswith(d + "/") for d in SKIPPED_DIRS):
            continue
        path = ROOT / relative
        if not path.is_file():  # deleted in the working tree
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            yield relative, data.decode("utf-8")
        except UnicodeDecodeError:
            continue


def all_citations() -> list[tuple[str, int, str]]:
    """(path, line number, cited number) for every citation in the scanned files."""
    found = []
    for relative, text in scanned_files():
        bare = _in(relative, BARE_DIRS, BARE_FILES)
        for number, line in enumerate(text.splitlines(), start=1):
            if "§" not in line:
                continue
            found.extend((relative, number, cited) for cited in citations(line, bare=bare))
    return found


def test_parser_examples():
    assert citations("(theory.md §2.2, §2.6, §2.7, §2.8)", bare=False) == [
        "2.2",
        "2.6",
        "2.7",
        "2.8",
    ]
    assert citations("drift (theory.md §2.4, 2.6–2.8)", bare=False) == ["2.4", "2.6", "2.8"]
    assert citations("(theory.md §2.2-2.3)", bare=False) == ["2.2", "2.3"]
    assert citations("theory.md §1–3, and §4", bare=False) == ["1", "3", "4"]
    assert citations("# theory.md §1.4: 16.159, 8.493", bare=False) == ["1.4"]
    assert citations("theory.md §2.3. Then §9.9", bare=False) == ["2.3"]
    assert citations("theory.md §1.4; design.md §3", bare=True) == ["1.4"]
    assert citations('    "§1.3",', bare=True) == ["1.3"]
    assert citations('    "§1.3",', bare=False) == []
    assert citations("see design.md §3", bare=True) == []
    assert numbered_headings("## 1. A\n### 1.4 B [C]\n## Notes\n#### 1.5 no") == {"1", "1.4"}


def test_theory_headings_are_consistent():
    text = THEORY.read_text(encoding="utf-8")
    sections, items = [], []
    current = None
    for line in text.splitlines():
        if match := SECTION_HEADING.match(line):
            current = match.group(1)
            sections.append(current)
        elif match := ITEM_HEADING.match(line):
            items.append(f"{match.group(1)}.{match.group(2)}")
            assert match.group(1) == current, f"item {items[-1]} is under section {current}"
    assert sections, "docs/theory.md has no '## N.' section headings"
    assert len(set(sections)) == len(sections), f"duplicate sections: {sections}"
    assert len(set(items)) == len(items), f"duplicate items: {items}"


def test_every_cited_section_exists():
    known = numbered_headings(THEORY.read_text(encoding="utf-8"))
    found = all_citations()
    assert found, "no theory.md citation found: the scan is broken"
    assert any(path != "docs/theory.md" for path, _, _ in found)
    missing = [f"{path}:{line}: §{number}" for path, line, number in found if number not in known]
    assert not missing, "citations of sections missing from docs/theory.md:\n" + "\n".join(missing)


def test_theory_cites_no_path_outside_the_repository():
    bad = []
    for number, line in enumerate(THEORY.read_text(encoding="utf-8").splitlines(), start=1):
        if any(pattern.search(line) for pattern in FORBIDDEN):
            bad.append(f"docs/theory.md:{number}: {line.strip()}")
    assert not bad, "paths outside the repository:\n" + "\n".join(bad)
