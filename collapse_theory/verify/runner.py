"""Run registered checks and report them.

Calibration. A run states a family-wise false-alarm rate ``a`` (default 1e-3): the probability
that *any* Monte Carlo check of the run fails although every closed form is right. With ``m``
Monte Carlo checks in the run, each is judged two-sided at level ``a / m`` (Bonferroni), i.e. it
passes when ``|z| <= z*`` with ``z* = Phi^{-1}(1 - a / (2m))`` and
``z = (estimate - theory) / standard_error``. Exact and upper-bound checks are judged by the
tolerance each states and do not enter the correction.

Randomness. Each check draws from the child of ``SeedSequence(seed)`` whose spawn key is a hash
of the check's name (:func:`check_seed`), so running a subset (``only=``) reproduces exactly the
numbers of the full run for those checks, and adding a check changes no other check's numbers.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from collapse_theory import backends
from collapse_theory._json import jsonable, write_json
from collapse_theory._stats import two_sided_p_value, z_threshold
from collapse_theory._validate import check_real
from collapse_theory.backends import resolve as resolve_backend
from collapse_theory.progress import progress_bar
from collapse_theory.rng import SeedLike, as_seed_sequence, seed_metadata
from collapse_theory.verify.registry import Check, select

__all__ = ["DEFAULT_FAMILY_WISE_RATE", "CheckResult", "Report", "bonferroni_threshold", "run"]

#: Family-wise false-alarm rate of a run unless the caller says otherwise.
DEFAULT_FAMILY_WISE_RATE = 1e-3


def bonferroni_threshold(family_wise_rate: float, num_tests: int) -> float:
    """Two-sided z threshold of each of ``num_tests`` tests for a family-wise rate (Bonferroni).

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


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check (one row of a :class:`Report`)."""

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

    @property
    def criterion(self) -> str:
        """What the check had to satisfy, in words."""
        if self.kind == "exact":
            return f"|diff| <= {self.tolerance:.1g}"
        if self.kind == "upper-bound":
            return f"estimate <= theory + {self.tolerance:.1g}"
        return "|z| <= z*"


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

    def __getitem__(self, name: str) -> CheckResult:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no check {name!r} in this report; it has {[r.name for r in self.rows]}")

    def calibration_text(self) -> str:
        """The calibration statement of the run, one sentence."""
        per_check = (
            self.family_wise_rate / self.num_monte_carlo if self.num_monte_carlo else math.nan
        )
        return (
            f"family-wise false-alarm rate {self.family_wise_rate:g} over "
            f"{self.num_monte_carlo} Monte Carlo checks (Bonferroni): each passes two-sided at "
            f"level {per_check:.3g}, |z| <= {self.z_threshold:.3f}; exact and bound checks pass "
            "on their stated tolerance"
        )

    def summary_line(self) -> str:
        """``"N passed, M failed"``."""
        return f"{self.num_passed} passed, {self.num_failed} failed"

    def table(self) -> tuple[list[str], list[list[str]]]:
        header = [
            "name",
            "section",
            "kind",
            "theory",
            "estimate",
            "SE",
            "z",
            "p-value",
            "pass",
            "s",
        ]
        short_kind = {"monte-carlo": "MC", "exact": "exact", "upper-bound": "bound"}
        body = []
        for row in self.rows:
            mc = row.kind == "monte-carlo"
            status = "PASS" if row.passed else ("ERROR" if row.error else "FAIL")
            body.append(
                [
                    row.name,
                    row.section,
                    short_kind.get(row.kind, row.kind),
                    _fmt(row.theory),
                    _fmt(row.estimate),
                    _fmt(row.stderr, 2) if mc else f"tol {row.tolerance:.0e}",
                    _fmt_z(row.z) if mc else "-",
                    _fmt(row.p_value, 2) if mc else "-",
                    status,
                    f"{row.seconds:.2f}",
                ]
            )
        return header, body

    def format(self) -> str:
        """A plain-text table with a header (seed, versions, calibration) and a final count line."""
        header, body = self.table()
        widths = [
            max(len(h), *(len(r[c]) for r in body)) if body else len(h)
            for c, h in enumerate(header)
        ]
        numeric = {3, 4, 5, 6, 7, 9}
        lines = [
            f"collapse_theory verify ({'quick' if self.quick else 'full'}), seed "
            f"{self.seed.get('entropy')}, backend {self.backend}, {self.seconds:.1f} s",
            "versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items()),
            "calibration: " + self.calibration_text(),
            "",
        ]

        def line(cells: list[str]) -> str:
            return "  ".join(
                cell.rjust(w) if c in numeric else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        lines.append(line(header))
        lines.extend(line(r) for r in body)
        errors = [row for row in self.rows if row.error]
        if errors:
            lines.append("")
            lines.extend(f"error in {row.name}: {row.error}" for row in errors)
        lines.append("")
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
                "passed": self.passed,
                "num_passed": self.num_passed,
                "num_failed": self.num_failed,
                "rows": [asdict(row) for row in self.rows],
            }
        )

    def save(self, directory: str | Path, *, figures: bool = True) -> list[Path]:
        """Write ``report.md``, ``report.json`` and a self-contained ``report.html`` into
        ``directory`` (created if needed), with one figure per model family of the run
        (``figures/verify_<family>.png`` and ``.pdf``: theory curve against a Monte Carlo band
        over generations, :mod:`collapse_theory.verify.report`) unless ``figures`` is False."""
        from collapse_theory.verify import report as report_module

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
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


def _run_one(
    check: Check, seed_sequence: np.random.SeedSequence, quick: bool, z_threshold: float
) -> CheckResult:
    start = time.perf_counter()
    theory = estimate = stderr = z = p_value = math.nan
    error: str | None = None
    passed = False
    try:
        theory = float(check.theory())
        estimate, stderr = (float(v) for v in check.estimate(seed_sequence, quick))
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
    )


def run(
    quick: bool = True,
    seed: SeedLike = 0,
    only: Iterable[str] | str | None = None,
    progress: bool = False,
    *,
    family_wise_rate: float = DEFAULT_FAMILY_WISE_RATE,
) -> Report:
    """Run the registered checks and return a :class:`Report`.

    Parameters
    ----------
    quick : bool
        Quick sizes (the default; the whole suite in about a minute) or full sizes (larger
        Monte Carlo samples, sharper checks).
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

    Returns
    -------
    Report

    Raises
    ------
    ValueError, TypeError
        On an unknown check name, a bad seed or a rate outside (0, 1).

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
        raise TypeError(f"quick must be True or False; got {quick!r}")
    root = as_seed_sequence(seed)
    backend = resolve_backend(None)
    selected = select(only)
    num_mc = sum(check.is_monte_carlo for check in selected)
    z_threshold = bonferroni_threshold(family_wise_rate, num_mc)
    start = time.perf_counter()
    rows = []
    with progress_bar(len(selected), "verify", enabled=progress) as advance:
        for check in selected:
            rows.append(_run_one(check, check_seed(root, check.name), quick, z_threshold))
            advance(1)
    return Report(
        rows=tuple(rows),
        seed=seed_metadata(root),
        quick=quick,
        family_wise_rate=family_wise_rate,
        z_threshold=z_threshold,
        versions=_versions(),
        seconds=time.perf_counter() - start,
        num_monte_carlo=num_mc,
        backend=backend,
    )
