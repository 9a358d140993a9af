"""Run registered checks and report them.

Calibration. A run states a family-wise false-alarm rate ``a`` (default 1e-3): the probability
that *any* Monte Carlo check of the run fails although every closed form is right. With ``m``
Monte Carlo checks in the run, each is judged two-sided at level ``a / m`` (Bonferroni), i.e. it
passes when ``|z| <= z*`` with ``z* = Phi^{-1}(1 - a / (2m))`` and
``z = (estimate - theory) / standard_error``. Exact and upper-bound checks are judged by the
tolerance each states and do not enter the correction: an exact check passes when
``|estimate - theory| <= tolerance``, an upper-bound check when ``estimate <= bound + tolerance``.

Heavy tails. An estimator may return diagnostics with its estimate
(:func:`collapse_theory._stats.mean_estimate`): ``top_share``, the share of the squared
deviations carried by the largest 1 % of replicates. Above 0.6 the standard error cannot be
trusted (docs/theory.md §6); the row says so and the summary line counts it, while the verdict
stays the z-test's.

Randomness. Each check draws from the child of ``SeedSequence(seed)`` whose spawn key is a hash
of the check's name (:func:`check_seed`), so running a subset (``only=``) reproduces exactly the
numbers of the full run for those checks, adding a check changes no other check's numbers, and
running the checks in worker processes (``workers=2``) gives the numbers of a serial run.

Streaming. With ``stream=`` a run prints its header first, each row as its check finishes
(above the progress bar) and the summary last, and says once, on stderr, when numba compiles
kernels (the first run after installing or changing the code; later runs load them from numba's
cache).
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from collapse_theory import backends
from collapse_theory._json import jsonable, write_json
from collapse_theory._stats import se_trusted, two_sided_p_value, z_threshold
from collapse_theory._validate import InputTypeError, check_int, check_real, output_directory
from collapse_theory.backends import resolve as resolve_backend
from collapse_theory.progress import echo, progress_bar
from collapse_theory.rng import SeedLike, as_seed_sequence, seed_metadata
from collapse_theory.verify.registry import Check, EstimateResult, get, select

__all__ = [
    "COLUMNS",
    "COMPILE_NOTICE",
    "DEFAULT_FAMILY_WISE_RATE",
    "LEGEND",
    "CheckResult",
    "Report",
    "bonferroni_threshold",
    "criterion",
    "run",
]

#: Family-wise false-alarm rate of a run unless the caller says otherwise.
DEFAULT_FAMILY_WISE_RATE = 1e-3

#: Printed once (on stderr) by a streamed run when numba compiles a kernel.
COMPILE_NOTICE = (
    "compiling numba kernels: the first run after installing or changing the library takes "
    "longer; later runs load them from numba's cache"
)

#: The word that marks a standard error the heavy-tail diagnostic does not trust.
UNTRUSTED = "untrusted"


def bonferroni_threshold(family_wise_rate: float, num_tests: int) -> float:
    r"""Two-sided z threshold of each of ``num_tests`` tests for a family-wise rate (Bonferroni).

    :math:`z^* = \Phi^{-1}(1 - a / (2m))` for family-wise rate a over m tests.

    Parameters
    ----------
    family_wise_rate : float
        a, in (0, 1).
    num_tests : int
        m >= 1.

    Returns
    -------
    float
        z*.

    Examples
    --------
    >>> round(bonferroni_threshold(0.05, 1), 3)
    1.96
    """
    return z_threshold(family_wise_rate, num_tests)


def check_seed(root: np.random.SeedSequence, name: str) -> np.random.SeedSequence:
    """The random stream of check ``name``: a child of ``root`` keyed by the first 8 bytes of the
    SHA-256 of the name (stable across runs, platforms and registry changes)."""
    key = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")
    return np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, key), pool_size=root.pool_size
    )


def criterion(kind: str, tolerance: float) -> str:
    """What a check of this kind had to satisfy, in words (Monte Carlo: against the run's z*).

    Examples
    --------
    >>> criterion("upper-bound", 0.0), criterion("exact", 1e-9)
    ('estimate <= bound', '|estimate - theory| <= 1e-09')
    """
    if kind == "exact":
        return f"|estimate - theory| <= {tolerance:.1g}"
    if kind == "upper-bound":
        return "estimate <= bound" + (f" + {tolerance:.1g}" if tolerance else "")
    return "|z| <= z*"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check (one row of a :class:`Report`).

    ``theory`` is the closed form, or for an upper-bound check the bound; ``notes`` holds the
    estimator's diagnostics (``top_share``: :func:`collapse_theory._stats.mean_estimate`).

    Attributes
    ----------
    name, family, section, kind, description : str
        From the :class:`Check` (``section``: "§X.Y" of docs/theory.md).
    parameters : mapping
        The check's parameters.
    size : mapping of str to int
        The Monte Carlo size of the run (quick or full).
    theory, estimate, stderr : float
        Closed form (or bound), estimate and its standard error (0 for exact checks).
    z, p_value : float
        ``(estimate - theory) / stderr`` and its two-sided p-value (Monte Carlo checks).
    tolerance : float
        The tolerance of an exact or bound check.
    passed : bool
        Whether the check passed at the run's threshold.
    seconds : float
        Wall time of the check.
    error : str or None
        The exception text if the check crashed (it then fails).
    notes : mapping of str to float
        Diagnostics, e.g. ``top_share``.
    """

    name: str
    family: str
    section: str
    kind: str
    description: str
    parameters: Mapping[str, object]
    size: Mapping[str, int]
    theory: float
    estimate: float
    stderr: float
    z: float
    p_value: float
    tolerance: float
    passed: bool
    seconds: float
    error: str | None = None
    notes: Mapping[str, float] = field(default_factory=dict)

    @property
    def criterion(self) -> str:
        """What the check had to satisfy, in words (:func:`criterion`)."""
        return criterion(self.kind, self.tolerance)

    @property
    def top_share(self) -> float:
        """The heavy-tail diagnostic of the standard error (NaN when the estimator gives none)."""
        return float(self.notes.get("top_share", math.nan))

    @property
    def se_trusted(self) -> bool:
        """False when the largest 1 % of replicates carry more than 60 % of the squared
        deviations (:func:`collapse_theory._stats.se_trusted`): the Monte Carlo SE is then
        typically far too small (docs/theory.md §6). True where the estimator gives no
        diagnostic (exact checks, proportions)."""
        return bool(se_trusted(self.top_share))


def _versions() -> dict[str, str]:
    import numba

    from collapse_theory import __version__

    try:
        import scipy

        scipy_version = scipy.__version__
    except ImportError:  # pragma: no cover - scipy is a dependency
        scipy_version = "not installed"
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scipy": scipy_version,
        "collapse_theory": __version__,
    }


def _fmt(value: float, digits: int = 6) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def _fmt_z(z: float) -> str:
    if math.isnan(z):
        return "-"
    return f"{z:+.2f}" if math.isfinite(z) else ("+inf" if z > 0 else "-inf")


def _calibration_text(family_wise_rate: float, num_monte_carlo: int, threshold: float) -> str:
    per_check = family_wise_rate / num_monte_carlo if num_monte_carlo else math.nan
    return (
        f"family-wise false-alarm rate {family_wise_rate:g} over {num_monte_carlo} Monte Carlo "
        f"checks (Bonferroni): each passes two-sided at level {per_check:.3g}, "
        f"|z| <= {threshold:.3f}; an exact check passes when |estimate - theory| <= its "
        "tolerance, an upper-bound check when estimate <= bound + its tolerance"
    )


def _untrusted_note(rows: Iterable[CheckResult]) -> list[str]:
    """The lines under a table that name each row whose standard error is untrusted."""
    flagged = [row for row in rows if not row.se_trusted]
    if not flagged:
        return []
    return [
        f"{UNTRUSTED} SE: the largest 1 % of replicates carry more than 60 % of the squared "
        "deviations, so the mean rests on a few replicates and its standard error is typically "
        "far too small (docs/theory.md §6); the verdict is still the z-test's:",
        *(f"  {row.name}: top share {row.top_share:.3f}" for row in flagged),
    ]


def _summary_line(rows: Sequence[CheckResult]) -> str:
    passed = sum(row.passed for row in rows)
    line = f"{passed} passed, {len(rows) - passed} failed"
    untrusted = sum(not row.se_trusted for row in rows)
    if untrusted:
        line += f"; {untrusted} with an {UNTRUSTED} standard error"
    return line


#: The columns of the table (text, Markdown, HTML): for a bound row "theory/bound" is the bound
#: and "criterion" says which way it bounds the estimate.
COLUMNS = (
    "name",
    "section",
    "kind",
    "theory/bound",
    "estimate",
    "SE",
    "z",
    "p-value",
    "criterion",
    "top share",
    "pass",
    "s",
)
#: What the table's less obvious columns mean (under the Markdown and HTML tables).
LEGEND = (
    "theory/bound: the closed form, or for a bound row the bound; criterion: what the row had "
    "to satisfy (a bound row passes when the estimate lies on the stated side of the bound); "
    "top share: the share of the squared deviations carried by the largest 1 % of replicates, "
    "the heavy-tail diagnostic of the standard error (docs/theory.md §6)."
)
_NUMERIC = {3, 4, 5, 6, 7, 9, 11}
#: Widest cell each numeric column can hold (.6g numbers, .2g SE and p-value, "0.997 untrusted").
_WIDEST = {3: 12, 4: 12, 5: 7, 6: 7, 7: 7, 9: 15, 10: 5, 11: 6}
_SHORT_KIND = {"monte-carlo": "MC", "exact": "exact", "upper-bound": "bound"}


def _cells(row: CheckResult, threshold: float) -> list[str]:
    """One row of the table."""
    mc = row.kind == "monte-carlo"
    status = "PASS" if row.passed else ("ERROR" if row.error else "FAIL")
    share = row.top_share
    if math.isnan(share):
        share_text = "-"
    else:
        share_text = f"{share:.3g}" + ("" if row.se_trusted else f" {UNTRUSTED}")
    return [
        row.name,
        row.section,
        _SHORT_KIND.get(row.kind, row.kind),
        _fmt(row.theory),
        _fmt(row.estimate),
        _fmt(row.stderr, 2) if mc else "-",
        _fmt_z(row.z) if mc else "-",
        _fmt(row.p_value, 2) if mc else "-",
        f"|z| <= {threshold:.2f}" if mc else criterion(row.kind, row.tolerance),
        share_text,
        status,
        f"{row.seconds:.2f}",
    ]


def _widths(names: Iterable[str], criteria: Iterable[str]) -> list[int]:
    """Column widths that fit every row of a run, known before any check has run."""
    widths = [len(h) for h in COLUMNS]
    widths[0] = max([widths[0], *map(len, names)])
    widths[8] = max([widths[8], *map(len, criteria), len("|z| <= 10.00")])
    for column, widest in _WIDEST.items():
        widths[column] = max(widths[column], widest)
    return widths


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(
        cell.rjust(w) if c in _NUMERIC else cell.ljust(w)
        for c, (cell, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()


def _header_lines(
    quick: bool, seed: Mapping[str, object], backend: str, versions: Mapping[str, str]
) -> list[str]:
    return [
        f"collapse_theory verify ({'quick' if quick else 'full'}), seed {seed.get('entropy')}, "
        f"backend {backend}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
    ]


def _footer_lines(rows: Sequence[CheckResult]) -> list[str]:
    lines = [""]
    errors = [row for row in rows if row.error]
    lines.extend(f"error in {row.name}: {row.error}" for row in errors)
    note = _untrusted_note(rows)
    if errors or note:
        lines.extend([*note, ""])
    return lines


@dataclass(frozen=True)
class Report:
    """Results of a verification run.

    Attributes
    ----------
    rows : tuple of CheckResult
        One per check, in registry order.
    seed : dict
        The root SeedSequence (entropy and spawn key), enough to rerun.
    quick : bool
        Quick or full sizes.
    family_wise_rate : float
        Stated probability that any Monte Carlo check of the run fails by chance.
    z_threshold : float
        The per-check two-sided threshold ``z*`` (Bonferroni over the Monte Carlo checks).
    versions : dict
        Python, numpy, numba, scipy and library versions.
    backend : str
        The simulation backend the checks ran on (:mod:`collapse_theory.backends`).
    seconds : float
        Wall time of the run.
    compiled : bool
        Whether numba compiled kernels during the run (an empty or stale cache).
    """

    rows: tuple[CheckResult, ...]
    seed: Mapping[str, object]
    quick: bool
    family_wise_rate: float
    z_threshold: float
    versions: Mapping[str, str]
    seconds: float
    num_monte_carlo: int = field(default=0)
    backend: str = "numba"
    compiled: bool = False

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(row.passed for row in self.rows)

    @property
    def num_passed(self) -> int:
        return sum(row.passed for row in self.rows)

    @property
    def num_failed(self) -> int:
        return len(self.rows) - self.num_passed

    @property
    def num_untrusted(self) -> int:
        """Monte Carlo rows whose standard error the heavy-tail diagnostic does not trust."""
        return sum(not row.se_trusted for row in self.rows)

    def __getitem__(self, name: str) -> CheckResult:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no check {name!r} in this report; it has {[r.name for r in self.rows]}")

    def calibration_text(self) -> str:
        """The calibration statement of the run, one sentence."""
        return _calibration_text(self.family_wise_rate, self.num_monte_carlo, self.z_threshold)

    def summary_line(self) -> str:
        """``"N passed, M failed"``, followed by ``"; K with an untrusted standard error"`` when
        the heavy-tail diagnostic flags K rows."""
        return _summary_line(self.rows)

    def table(self) -> tuple[list[str], list[list[str]]]:
        """The column names (:data:`COLUMNS`) and one list of cells per row."""
        return list(COLUMNS), [_cells(row, self.z_threshold) for row in self.rows]

    def format(self) -> str:
        """A plain-text table with a header (seed, versions, calibration, time), the errors and
        untrusted standard errors under it, and a final count line."""
        header, body = self.table()
        widths = _widths([r.name for r in self.rows], [c[8] for c in body])
        widths = [max(w, *(len(r[c]) for r in body)) if body else w for c, w in enumerate(widths)]
        lines = _header_lines(self.quick, self.seed, self.backend, self.versions)
        lines[0] += f", {self.seconds:.1f} s"
        lines += ["calibration: " + self.calibration_text(), "", _line(header, widths)]
        lines.extend(_line(r, widths) for r in body)
        lines.extend(_footer_lines(self.rows))
        lines.append(self.summary_line())
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The report as Markdown: header, calibration, table, per-check parameters."""
        header, body = self.table()
        out = [
            f"# collapse_theory verification report ({'quick' if self.quick else 'full'})",
            "",
            f"- seed: `{json.dumps(dict(self.seed))}`",
            f"- backend: {self.backend}",
            "- versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items()),
            f"- calibration: {self.calibration_text()}",
            f"- result: **{self.summary_line()}** in {self.seconds:.1f} s",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        out.extend("| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |" for r in body)
        out += ["", LEGEND]
        note = _untrusted_note(self.rows)
        if note:
            out += ["", note[0], "", *(f"- {line.strip()}" for line in note[1:])]
        out += ["", "## Checks", ""]
        for row in self.rows:
            params = ", ".join(f"{k}={v}" for k, v in row.parameters.items())
            sizes = ", ".join(f"{k}={v}" for k, v in row.size.items())
            line = f"- `{row.name}` ({row.section}, {row.kind}): {row.description}. Parameters: {params}."
            if sizes:
                line += f" Size: {sizes}."
            if row.kind != "monte-carlo":
                line += f" Criterion: {row.criterion}."
            if row.error:
                line += f" **Error:** {row.error}"
            out.append(line)
        return "\n".join(out) + "\n"

    def to_dict(self) -> dict[str, object]:
        """JSON-compatible dictionary (non-finite numbers become None)."""

        return jsonable(
            {
                "quick": self.quick,
                "seed": dict(self.seed),
                "backend": self.backend,
                "versions": dict(self.versions),
                "family_wise_rate": self.family_wise_rate,
                "num_monte_carlo": self.num_monte_carlo,
                "z_threshold": self.z_threshold,
                "seconds": self.seconds,
                "compiled": self.compiled,
                "passed": self.passed,
                "num_passed": self.num_passed,
                "num_failed": self.num_failed,
                "num_untrusted": self.num_untrusted,
                "rows": [
                    {**asdict(row), "criterion": row.criterion, "se_trusted": row.se_trusted}
                    for row in self.rows
                ],
            }
        )

    def save(self, directory: str | Path, *, figures: bool = True) -> list[Path]:
        """Write ``report.md``, ``report.json`` and a self-contained ``report.html`` into
        ``directory`` (created if needed, never its parents), with one figure per model family
        of the run (``figures/verify_<family>.png`` and ``.pdf``: theory curve against a Monte
        Carlo band over generations, :mod:`collapse_theory.verify.report`) unless ``figures``
        is False."""
        from collapse_theory.verify import report as report_module

        directory = output_directory("directory", directory)
        pngs: dict[str, Path] = {}
        if figures:
            seed = self.seed.get("entropy", 0)
            with backends.use(self.backend):  # figures simulated on the backend of the checks
                pngs = report_module.family_figures(
                    directory,
                    [row.name for row in self.rows],
                    seed=seed if isinstance(seed, int) else 0,
                    quick=self.quick,
                )
        md = directory / "report.md"
        markdown = self.to_markdown()
        if pngs:
            markdown += "\n## Figures\n\n" + "".join(
                f"![{family}]({png.relative_to(directory).as_posix()})\n\n"
                for family, png in pngs.items()
            )
        md.write_text(markdown, encoding="utf-8")
        js = directory / "report.json"
        write_json(js, self.to_dict())
        page = report_module.write_html(self, directory / "report.html", pngs)
        return [md, js, page, *pngs.values()]


def _unpack(values: EstimateResult) -> tuple[float, float, dict[str, float]]:
    """(estimate, stderr, notes) from what an estimator returned (a 2- or 3-tuple)."""
    if not isinstance(values, tuple) or len(values) not in (2, 3):
        raise TypeError(
            f"an estimator returns (estimate, stderr) or (estimate, stderr, notes); got {values!r}"
        )
    notes = values[2] if len(values) == 3 else {}
    if not isinstance(notes, Mapping):
        raise TypeError(f"an estimator's notes must be a mapping; got {notes!r}")
    return float(values[0]), float(values[1]), {str(k): float(v) for k, v in notes.items()}


def _run_one(
    check: Check, seed_sequence: np.random.SeedSequence, quick: bool, z_threshold: float
) -> CheckResult:
    start = time.perf_counter()
    theory = estimate = stderr = z = p_value = math.nan
    notes: dict[str, float] = {}
    error: str | None = None
    passed = False
    try:
        theory = float(check.theory())
        estimate, stderr, notes = _unpack(check.estimate(seed_sequence, quick))
        if not (math.isfinite(theory) and math.isfinite(estimate)):
            raise ValueError(f"non-finite values: theory={theory}, estimate={estimate}")
        if check.kind == "monte-carlo":
            if not (math.isfinite(stderr) and stderr >= 0):
                raise ValueError(f"invalid standard error {stderr}")
            diff = estimate - theory
            z = (
                diff / stderr
                if stderr > 0
                else (0.0 if diff == 0 else math.copysign(math.inf, diff))
            )
            p_value = two_sided_p_value(z)
            passed = abs(z) <= z_threshold
        elif check.kind == "exact":
            passed = abs(estimate - theory) <= check.tolerance
        else:  # upper-bound
            passed = estimate <= theory + check.tolerance
    except Exception as exc:  # a broken check is reported, not raised
        error = f"{type(exc).__name__}: {exc}"
        passed = False
    return CheckResult(
        name=check.name,
        family=check.family,
        section=check.section,
        kind=check.kind,
        description=check.description,
        parameters=dict(check.parameters),
        size=check.size(quick) if check.kind == "monte-carlo" else {},
        theory=theory,
        estimate=estimate,
        stderr=stderr if check.kind == "monte-carlo" else 0.0,
        z=z,
        p_value=p_value,
        tolerance=check.tolerance,
        passed=bool(passed),
        seconds=time.perf_counter() - start,
        error=error,
        notes=notes,
    )


def _failed(check: Check, quick: bool, error: str) -> CheckResult:
    """The row of a check that produced no result (its worker process died)."""
    nan = math.nan
    return CheckResult(
        name=check.name,
        family=check.family,
        section=check.section,
        kind=check.kind,
        description=check.description,
        parameters=dict(check.parameters),
        size=check.size(quick) if check.is_monte_carlo else {},
        theory=nan,
        estimate=nan,
        stderr=nan,
        z=nan,
        p_value=nan,
        tolerance=check.tolerance,
        passed=False,
        seconds=0.0,
        error=error,
    )


@contextmanager
def _on_compilation(
    on_start: Callable[[], None], on_end: Callable[[], None] = lambda: None
) -> Iterator[None]:
    """Call ``on_start()`` whenever numba starts compiling a function in this block and
    ``on_end()`` when it is done (numba's ``numba:compile`` event fires on a cache miss only, not
    on a cache load; a kernel's callees compile inside it)."""
    from numba.core import event

    class Listener(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            on_start()

        def on_end(self, ev: event.Event) -> None:
            on_end()

    with event.install_listener("numba:compile", Listener()):
        yield


def _watch_compilation(on_first: Callable[[], None]) -> AbstractContextManager[None]:
    """Call ``on_first()`` when numba starts compiling a function for the first time in this
    block (:func:`_on_compilation`)."""
    seen = []

    def once() -> None:
        if not seen:
            seen.append(True)
            on_first()

    return _on_compilation(once)


# --------------------------------------------------------------------------------------------
# worker processes: each starts on families of its own (a family's checks share its kernels) and
# runs them; it joins a family that another worker started while that family compiles nothing,
# and any family once nothing else is left: two workers compiling the same kernels at once would
# each pay for it, but an idle CPU pays for nothing (with a filled numba cache the families are
# shared out check by check)


def _families(selected: Sequence[Check]) -> list[list[str]]:
    """The run's check names grouped by family, the family with the most checks first. Within a
    family the Monte Carlo checks come first: they run the family's simulators, whose kernels
    are the ones that compile, so a family's first check tells :func:`_claim` whether it
    compiles. Among them, the first check of every section, then the second, and so on (in
    registry order): sections are where a family's simulators differ (1-D and d-D Gaussians,
    policies, ...), so every kernel a family needs starts compiling early, while the other
    worker has work, and not at the end of the run."""
    rank_in_section: dict[tuple[str, str], int] = {}
    keys = []
    for check in selected:
        rank = rank_in_section.get((check.family, check.section), 0)
        rank_in_section[(check.family, check.section)] = rank + 1
        keys.append((not check.is_monte_carlo, rank))
    families: dict[str, list[str]] = {}
    for _, check in sorted(zip(keys, selected, strict=True), key=lambda pair: pair[0]):
        families.setdefault(check.family, []).append(check.name)
    return sorted(families.values(), key=len, reverse=True)


#: What :func:`_claim` returns to a worker that should wait for a family's first check: until
#: it finishes, nobody knows whether the family's kernels are compiled or come from the cache.
_WAIT = (-1, -1)


def _claim(
    sizes: Sequence[int],
    claimed: Sequence[int],
    finished: Sequence[int],
    compiled: Sequence[int],
    owner: Sequence[int],
    running: Sequence[int],
    compiling: Sequence[int],
    me: int,
    *,
    anywhere: bool = False,
) -> tuple[int, int] | None:
    """The next check for worker ``me`` to run, as (family, index), ``_WAIT``, or None: every
    check is claimed. ``running[w]`` is the family worker ``w`` runs now (-1: none), and
    ``compiling[w]`` is non-zero while it compiles.

    In order of preference:

    1. the first check of a family nobody has started (in the order of :func:`_families`; the
       worker becomes its ``owner``): families start in parallel;
    2. the next check of a family this worker owns, the one with the fewest checks claimed: a
       family's kernels compile in its first checks, so these run early, while other work can
       fill the other CPUs;
    3. the next check of another worker's family whose checks have compiled nothing so far
       (``compiled[f] == 0``) and whose first check has finished (the one with the most checks
       left); ``_WAIT`` while such a family's first check is still running, unless
       ``anywhere`` (a worker has exited, perhaps dead in that first check);
    4. when nothing else is left, the next check of any family: one that no other worker runs
       now, else one whose worker is not compiling now (its kernels so far are in the cache);
       ``_WAIT`` while the only ones left are being compiled by other workers (a second worker
       would compile the same kernels at the same time and finish no sooner), unless
       ``anywhere``. A dead owner's checks still run.

    A family whose checks compiled kernels is left to its owner until step 4, since its later
    checks are likely to compile the same or related kernels, which two workers would compile
    twice."""
    for family, size in enumerate(sizes):
        if claimed[family] == 0 and size > 0:
            return family, 0
    open_families = [f for f, size in enumerate(sizes) if claimed[f] < size]
    own = [f for f in open_families if owner[f] == me]
    if own:
        family = min(own, key=lambda f: claimed[f])
        return family, claimed[family]

    def most_left(candidates: list[int]) -> tuple[int, int]:
        family = max(candidates, key=lambda f: sizes[f] - claimed[f])
        return family, claimed[family]

    joinable = [f for f in open_families if compiled[f] == 0]
    ready = [f for f in joinable if finished[f] > 0 or anywhere]
    if ready:
        return most_left(ready)
    if joinable:
        return _WAIT
    if not open_families:
        return None
    others = [w for w in range(len(running)) if w != me]
    idle = [f for f in open_families if all(running[w] != f for w in others)]
    if idle:
        return most_left(idle)
    quiet = [f for f in open_families if all(running[w] != f or not compiling[w] for w in others)]
    if quiet or anywhere:
        return most_left(quiet or open_families)
    return _WAIT


def _worker(
    families: list[list[str]],
    counters: tuple[Any, Any, Any, Any, Any, Any],
    me: int,
    released: Any,
    connection: Connection,
    root: np.random.SeedSequence,
    quick: bool,
    threshold: float,
) -> None:
    """Worker process number ``me``: claim checks (:func:`_claim`; ``counters`` = (claimed,
    finished, compiled, owner per family; running, compiling per worker), shared, updated under
    ``claimed``'s lock, so that every check runs once) and send each row on ``connection`` (a
    synchronous pipe: a row sent is never lost, even if the worker dies later). ``released`` is
    set once a worker has exited."""
    claimed, finished, compiled, owner, running, compiling = counters
    sizes = [len(names) for names in families]

    def count_compilation() -> None:  # kernels compile inside a check: running[me] is set
        compiling[me] += 1
        with compiled.get_lock():
            compiled[running[me]] += 1

    def end_compilation() -> None:
        compiling[me] -= 1

    with (
        _watch_compilation(lambda: connection.send(("compiling", None))),
        _on_compilation(count_compilation, end_compilation),
    ):
        while True:
            with claimed.get_lock():
                pick = _claim(
                    sizes, claimed, finished, compiled, owner, running, compiling, me,
                    anywhere=bool(released.value),
                )  # fmt: skip
                if pick is not None and pick != _WAIT:
                    if pick[1] == 0:
                        owner[pick[0]] = me
                    claimed[pick[0]] += 1
                    running[me] = pick[0]
            if pick is None:
                break
            if pick == _WAIT:
                time.sleep(0.05)
                continue
            family, index = pick
            name = families[family][index]
            row = _run_one(get(name), check_seed(root, name), quick, threshold)
            connection.send(("row", row))
            with claimed.get_lock():
                finished[family] += 1
                running[me] = -1
    connection.close()


class _Workers:
    """Forked processes running the checks of a run (:func:`_worker`): each starts on a family
    of its own, so that the families' kernels compile in parallel, goes on with the families it
    started, and helps with the others' when these compile nothing or when nothing else is left
    (:func:`_claim`)."""

    def __init__(
        self,
        selected: Sequence[Check],
        root: np.random.SeedSequence,
        quick: bool,
        threshold: float,
        workers: int,
    ) -> None:
        context = multiprocessing.get_context("fork")
        families = _families(selected)
        claimed = context.Array("l", len(families))
        finished = context.Array("l", len(families), lock=False)
        compiled = context.Array("l", len(families))
        owner = context.Array("l", [-1] * len(families), lock=False)
        num_workers = min(workers, len(families))
        running = context.Array("l", [-1] * num_workers, lock=False)
        compiling = context.Array("l", num_workers, lock=False)
        self.released = context.Value("b", 0, lock=False)
        self.pipes: dict[Connection, multiprocessing.process.BaseProcess] = {}
        for me in range(num_workers):  # before any progress bar's thread
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker,
                args=(
                    families,
                    (claimed, finished, compiled, owner, running, compiling),
                    me,
                    self.released,
                    writer,
                    root,
                    quick,
                    threshold,
                ),
            )
            with warnings.catch_warnings():
                # jax warns on every fork once imported (its threads could deadlock a child that
                # calls into it); the workers run numba checks only and never call jax.
                warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
                process.start()
            writer.close()  # the worker holds the only write end: end of file when it exits
            self.pipes[reader] = process

    def results(
        self, on_compile: Callable[[], None], on_row: Callable[[CheckResult], None]
    ) -> dict[str, CheckResult]:
        """Every row the workers send, as they send it; returns when all have exited."""
        results: dict[str, CheckResult] = {}
        open_pipes = list(self.pipes)
        try:
            while open_pipes:
                for reader in wait(open_pipes):
                    try:
                        kind, payload = reader.recv()
                    except EOFError:  # the worker exited (done, or dead)
                        open_pipes.remove(reader)
                        self.released.value = 1  # nobody waits for a first check it ran
                        continue
                    if kind == "row":
                        results[payload.name] = payload
                        on_row(payload)
                    else:
                        on_compile()
        except BaseException:  # Ctrl-C, or a failing callback: no worker outlives the run
            for process in self.pipes.values():
                process.terminate()
            raise
        finally:
            for process in self.pipes.values():
                process.join()
        return results

    def failure(self) -> str:
        """The error of a check whose worker died before sending its row."""
        codes = [process.exitcode for process in self.pipes.values() if process.exitcode]
        return f"its worker process exited with code {codes} before the check finished"


def _can_fork() -> bool:
    """Whether worker processes can be forked: Linux only (forking is unsafe on macOS, where
    Python no longer does it by default, and does not exist on Windows)."""
    return sys.platform.startswith("linux")


def run(
    quick: bool = True,
    seed: SeedLike = 0,
    only: Iterable[str] | str | None = None,
    progress: bool = False,
    *,
    family_wise_rate: float = DEFAULT_FAMILY_WISE_RATE,
    workers: int = 1,
    stream: TextIO | None = None,
) -> Report:
    """Run the registered checks and return a :class:`Report`.

    Parameters
    ----------
    quick : bool
        Quick sizes (the default) or full sizes (10-20x larger Monte Carlo samples, sharper
        checks).
    seed : int, SeedSequence or None
        Root of the per-check random streams (``None``: fresh entropy, recorded in the report).
    only : iterable of str, optional
        Run only these checks (exact names, or prefixes such as ``"categorical."``). Each check
        uses the same random stream as in a full run, so its numbers are identical.
    progress : bool
        Show a progress bar over checks (on stderr).
    family_wise_rate : float
        Probability, under correct theory, that any Monte Carlo check of the run fails; split over
        the run's Monte Carlo checks by Bonferroni.
    workers : int
        Processes that run the checks: each starts on a family of its own (so that different
        families' kernels compile in parallel), then takes the checks left in the others. The
        numbers are those of a serial run. More than 1 forks the processes, on Linux;
        elsewhere the run is serial.
    stream : text file, optional
        Print the report as the run goes: header first, one row per check as it finishes
        (registry order when serial, completion order with workers), summary last; and once,
        on stderr, :data:`COMPILE_NOTICE` when numba compiles kernels.

    Returns
    -------
    Report

    Raises
    ------
    InputError, InputTypeError
        On an unknown check name, a bad seed, a rate outside (0, 1) or a bad ``workers``.

    Examples
    --------
    >>> import collapse_theory as ct
    >>> report = ct.verify.run(only=["categorical.eigenvalues"])
    >>> report.passed
    True
    """
    family_wise_rate = check_real(
        "family_wise_rate", family_wise_rate, minimum=0.0, strict_minimum=True, maximum=1.0
    )
    if not isinstance(quick, bool):
        raise InputTypeError(f"quick must be True or False; got {quick!r}")
    workers = check_int("workers", workers, minimum=1)
    root = as_seed_sequence(seed)
    backend = resolve_backend(None)
    selected = select(only)
    num_mc = sum(check.is_monte_carlo for check in selected)
    threshold = bonferroni_threshold(family_wise_rate, num_mc)
    versions = _versions()
    compiled = False
    widths = _widths(
        [c.name for c in selected],
        [criterion(c.kind, c.tolerance) for c in selected if not c.is_monte_carlo],
    )

    def say(line: str) -> None:
        if stream is not None:
            echo(line, stream)

    def on_compile() -> None:
        nonlocal compiled
        if not compiled and stream is not None:
            echo(COMPILE_NOTICE, sys.stderr)
        compiled = True

    for line in _header_lines(quick, seed_metadata(root), backend, versions):
        say(line)
    say("calibration: " + _calibration_text(family_wise_rate, num_mc, threshold))
    say("")
    say(_line(COLUMNS, widths))
    start = time.perf_counter()
    parallel = workers > 1 and backend == "numba" and _can_fork() and len(_families(selected)) > 1
    pool = _Workers(selected, root, quick, threshold, workers) if parallel else None
    with progress_bar(len(selected), "verify", enabled=progress, unit="check") as advance:

        def on_row(row: CheckResult) -> None:
            say(_line(_cells(row, threshold), widths))
            advance(1)

        if pool is not None:
            results = pool.results(on_compile, on_row)
            rows = [results.get(c.name) or _failed(c, quick, pool.failure()) for c in selected]
        else:
            rows = []
            with _watch_compilation(on_compile):
                for check in selected:
                    rows.append(_run_one(check, check_seed(root, check.name), quick, threshold))
                    on_row(rows[-1])
    seconds = time.perf_counter() - start
    for line in _footer_lines(rows):
        say(line)
    say(
        f"{len(rows)} checks in {seconds:.1f} s" + (" (numba compiled kernels)" if compiled else "")
    )
    say(_summary_line(rows))
    return Report(
        rows=tuple(rows),
        seed=seed_metadata(root),
        quick=quick,
        family_wise_rate=family_wise_rate,
        z_threshold=threshold,
        versions=versions,
        seconds=seconds,
        num_monte_carlo=num_mc,
        backend=backend,
        compiled=compiled,
    )
