"""Figures and the self-contained HTML page of a verification report.

Each model family registers report figures (kind ``"report"`` in :mod:`collapse_theory._figures`)
that put a closed form against the library's simulator over generations: the theory curve and the
Monte Carlo mean with a band of +- 2 standard errors, so a reader sees that theory and simulation
agree along the whole trajectory, not only at the one generation a check tests. A run draws the
report figures of the checks it ran (a figure declares the check-name prefixes it illustrates).
``collapse-theory verify --out DIR`` writes them next to ``report.md`` / ``report.json`` and
embeds them in ``report.html`` (no external files: the PNGs are inlined as base64, the style
sheet is inline).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from collapse_theory import _figures
from collapse_theory.rng import SeedLike
from collapse_theory.verify.runner import LEGEND

if TYPE_CHECKING:
    from collapse_theory.verify.runner import Report

__all__ = ["family_figures", "write_html"]


def family_figures(
    directory: str | Path,
    check_names: Sequence[str],
    *,
    seed: SeedLike = 0,
    quick: bool = True,
) -> dict[str, Path]:
    """Draw the report figures of a run of these checks (:func:`collapse_theory._figures.
    report_figures`) into ``directory/figures/<name>.png`` (and PDF); returns name -> PNG."""
    out = Path(directory) / "figures"
    paths = {}
    for spec in _figures.report_figures(check_names):
        png, _ = _figures.save(spec.draw(seed=seed, quick=quick), out, spec.name)
        paths[spec.name] = png
    return paths


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; font-family: monospace; }
tr.fail td { background: #fde2e2; } .pass { color: #17702b; } .fail { color: #b00020; }
tr.untrusted td { background: #fff4cc; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
code { background: #f6f6f6; padding: 0 0.2em; }
"""


def write_html(report: Report, path: str | Path, figures: dict[str, Path] | None = None) -> Path:
    """Write ``report`` (a :class:`~collapse_theory.verify.Report`) as one self-contained page."""
    header, body = report.table()
    status = "pass" if report.passed else "fail"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>collapse_theory verification report</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>collapse_theory verification report ({'quick' if report.quick else 'full'})</h1>",
        f"<p class='{status}'><b>{html.escape(report.summary_line())}</b> in "
        f"{report.seconds:.1f} s, backend <code>{html.escape(report.backend)}</code></p>",
        "<ul>",
        f"<li>seed: <code>{html.escape(str(dict(report.seed)))}</code></li>",
        "<li>versions: "
        + html.escape(", ".join(f"{k} {v}" for k, v in report.versions.items()))
        + "</li>",
        f"<li>calibration: {html.escape(report.calibration_text())}</li>",
        "</ul><table><tr>",
    ]
    parts += [
        f"<th class='{'name' if i == 0 else ''}'>{html.escape(h)}</th>"
        for i, h in enumerate(header)
    ]
    parts.append("</tr>")
    for row, cells in zip(report.rows, body, strict=True):
        kind = "fail" if not row.passed else ("untrusted" if not row.se_trusted else "")
        parts.append(f"<tr class='{kind}' title='{html.escape(row.description)}'>")
        parts += [
            f"<td class='{'name' if i == 0 else ''}'>{html.escape(c)}</td>"
            for i, c in enumerate(cells)
        ]
        parts.append("</tr>")
    parts.append("</table>")
    parts.append(f"<p>{html.escape(LEGEND)}</p>")
    untrusted = [row for row in report.rows if not row.se_trusted]
    if untrusted:
        parts.append(
            "<p class='fail'><b>Untrusted standard errors</b> (top share above 0.6: the mean "
            "rests on a few replicates and its standard error is typically far too small; the "
            "verdict is still the z-test's):</p><ul>"
        )
        parts += [
            f"<li><code>{html.escape(row.name)}</code>: top share {row.top_share:.3f}</li>"
            for row in untrusted
        ]
        parts.append("</ul>")
    for name, png in (figures or {}).items():
        data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        parts.append(
            f"<h2>{html.escape(name)}</h2><img alt='{name}' src='data:image/png;base64,{data}'>"
        )
    parts.append("</body></html>")
    path = Path(path)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
