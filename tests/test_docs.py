"""The documentation cannot drift: every Python snippet of README.md and docs/*.md runs, and
every number a page quotes from a run is checked against what the committed code prints.

Conventions (docs/contributing.md, "Documentation"):

- The ``python`` blocks of one page run in order, concatenated, as one script in a fresh
  process (``python page_snippets.py``, as a user would run them: a process pool needs its
  ``if __name__ == "__main__":`` guard), in a temporary working directory holding a copy of
  ``docs/examples/`` (so ``docs/examples/sweep.toml`` is found and files the snippets write
  land there), within :data:`TIMEOUT_S`.
- ``<!-- no-run: REASON -->`` on the line right before a fence skips that block; the reason
  must be given (and the page's text says why).
- ``# -> 1.23 4.5e-6`` after a one-line top-level statement states the numbers it prints, to
  the precision written (a further ``#`` starts a remark); the test compares them.
- ``pycon`` blocks are doctests (exceptions are shown with their traceback header).
- ``<!-- output of: python docs/examples/NAME.py -->`` ... ``<!-- end of output -->``: the
  text between the markers is exactly what the script prints, run from the repository root
  (numbers quoted from a committed results file, e.g. a benchmark's). ``python
  tests/test_docs.py --update PAGE.md ...`` rewrites those sections of the pages named.
"""

from __future__ import annotations

import ast
import doctest
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ROOT / "README.md",
    *sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts),
]
#: Seconds one page's snippets may take (they are sized for well under a minute on 2 cores).
TIMEOUT_S = 240

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
NO_RUN = re.compile(r"<!--\s*no-run:(.*?)-->\s*$")
EXPECT = re.compile(r"#\s*->(.*)$")
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")
OUTPUT = re.compile(
    r"^<!-- output of: python (.+?) -->\n(.*?)^<!-- end of output -->$", re.S | re.M
)


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int  # line number of the opening fence
    skip_reason: str | None  # the no-run reason ("" if the marker has none); None: runs


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a page, with their no-run markers."""
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        start = text.count("\n", 0, match.start())
        before = text.splitlines()[start - 1] if start else ""
        marker = NO_RUN.search(before)
        found.append(
            Block(
                match.group(1),
                match.group(2),
                start + 1,
                None if marker is None else marker.group(1).strip(),
            )
        )
    return found


def python_blocks(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.language == "python"]


def runnable_pages() -> list[Path]:
    return [p for p in PAGES if any(b.skip_reason is None for b in python_blocks(p))]


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


# ---------------------------------------------------------------------------------------------
# Expected numbers: `# -> ...`


def numbers(text: str) -> list[str]:
    """The numbers of ``text``, as written (tokens not glued to letters, e.g. not float64)."""
    return NUMBER.findall(text)


def tolerance(written: str) -> float:
    """Half a unit in the last digit written: ``0.9732`` -> 5e-5, ``3.0e-5`` -> 5e-7."""
    mantissa, _, exponent = written.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


def instrument(code: str) -> tuple[str, dict[int, list[str]]]:
    """``code`` with marker prints around every ``# ->`` line, and the numbers each states."""
    lines, expected = [], {}
    for number, line in enumerate(code.splitlines()):
        match = EXPECT.search(line)
        if match is None:
            lines.append(line)
            continue
        statement = line[: match.start()].rstrip()
        if line[:1].isspace() or not statement:
            raise AssertionError(f"'# ->' must follow a top-level statement: {line!r}")
        ast.parse(statement)  # one complete statement on its line
        expected[number] = numbers(match.group(1).split("#")[0])
        lines += [f"print('<<expect {number}>>')", line, f"print('<<end {number}>>')"]
    return "\n".join(lines) + "\n", expected


def compare_printed(stdout: str, expected: dict[int, list[str]]) -> list[str]:
    """Mismatches between the printed numbers and those the page states."""
    problems = []
    for number, written in expected.items():
        found = re.search(rf"^<<expect {number}>>\n(.*?)^<<end {number}>>$", stdout, re.S | re.M)
        if found is None:
            problems.append(f"statement {number}: its output was not found")
            continue
        printed = numbers(found.group(1))
        if len(printed) != len(written):
            problems.append(f"statement {number}: printed {printed} but the page states {written}")
            continue
        for got, want in zip(printed, written, strict=True):
            if not math.isclose(
                float(got), float(want), rel_tol=1e-12, abs_tol=tolerance(want) * (1 + 1e-9)
            ):
                problems.append(f"statement {number}: printed {got}, the page states {want}")
    return problems


# ---------------------------------------------------------------------------------------------
# The checks


def test_every_page_is_found_and_no_run_markers_give_a_reason():
    assert (ROOT / "README.md") in PAGES and len(PAGES) > 5
    for page in PAGES:
        for block in blocks(page):
            if block.skip_reason is not None:
                assert block.skip_reason, (
                    f"{_page_id(page)}:{block.line}: <!-- no-run: --> needs a reason"
                )
            if block.language == "python":
                ast.parse(block.code)  # every snippet is valid Python, run or not


def test_expected_output_convention():
    _, expected = instrument("x = 1\nprint(2.5, x)  # -> 2.5 1  # remark with 3\n")
    assert expected == {1: ["2.5", "1"]}
    assert compare_printed("<<expect 1>>\n2.5 1\n<<end 1>>\n", expected) == []
    assert compare_printed("<<expect 1>>\n2.56 1\n<<end 1>>\n", expected)
    assert numbers("np.float64(0.97) [1.5e-05 -2] float64") == ["0.97", "1.5e-05", "-2"]
    assert tolerance("0.9732") == pytest.approx(5e-5) and tolerance("3.0e-5") == pytest.approx(5e-7)
    with pytest.raises(AssertionError, match="top-level"):
        instrument("for i in range(2):\n    print(i)  # -> 0\n")


@pytest.mark.parametrize("page", runnable_pages(), ids=_page_id)
def test_page_snippets_run_and_print_what_the_page_says(page: Path, tmp_path: Path):
    chosen = [b for b in python_blocks(page) if b.skip_reason is None]
    code, expected = instrument("\n".join(b.code for b in chosen))
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    script = tmp_path / f"{page.stem}_snippets.py"
    script.write_text(code)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, script.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"{_page_id(page)}: the snippets failed\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    problems = compare_printed(result.stdout, expected)
    assert not problems, f"{_page_id(page)}: " + "; ".join(problems)


@pytest.mark.parametrize(
    "page", [p for p in PAGES if any(b.language == "pycon" for b in blocks(p))], ids=_page_id
)
def test_page_doctests(page: Path):
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for block in blocks(page):
        if block.language != "pycon" or block.skip_reason is not None:
            continue
        test = parser.get_doctest(block.code, {}, _page_id(page), str(page), block.line)
        runner.run(test, out=lambda text: pytest.fail(f"{_page_id(page)}:\n{text}"))
    assert runner.summarize(verbose=False).attempted > 0


def output_sections(page: Path) -> list[tuple[str, str]]:
    """(command, text shown) of each ``<!-- output of: python COMMAND -->`` section."""
    return OUTPUT.findall(page.read_text())


def script_output(command: str) -> str:
    """What ``python COMMAND`` prints, run from the repository root."""
    result = subprocess.run(
        [sys.executable, *shlex.split(command)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize("page", [p for p in PAGES if output_sections(p)], ids=_page_id)
def test_quoted_results_are_what_the_committed_script_prints(page: Path):
    for command, shown in output_sections(page):
        script = shlex.split(command)[0]
        assert (ROOT / script).is_file(), f"{_page_id(page)}: no script {script}"
        assert shown.strip() == script_output(command).strip(), (
            f"{_page_id(page)}: the section 'output of: python {command}' is not what it "
            f"prints now; rerun `python tests/test_docs.py --update {_page_id(page)}`"
        )


def update_output_sections(pages: list[Path]) -> None:
    """Rewrite every ``output of`` section of ``pages`` with what its script prints now."""
    for page in pages:
        text = page.read_text()

        def replace(match: re.Match) -> str:
            output = script_output(match.group(1)).strip()
            return f"<!-- output of: python {match.group(1)} -->\n{output}\n<!-- end of output -->"

        new = OUTPUT.sub(replace, text)
        if new != text:
            page.write_text(new)
            print(f"updated {_page_id(page)}")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "--update":
        sys.exit("usage: python tests/test_docs.py --update PAGE.md [PAGE.md ...]")
    update_output_sections([Path(name).resolve() for name in sys.argv[2:]])
