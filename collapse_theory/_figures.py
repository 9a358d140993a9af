r"""Figures: one style, small drawing helpers, saving, and the one figure registry.

Every figure of the library is a function registered here with :func:`register`, by its family's
``figures.py`` (or by the cross-family tail-loss table): ``collapse-theory figures``,
``verify --out`` and ``tail-loss`` all draw from this registry. Figures are built on
:class:`matplotlib.figure.Figure` with the Agg canvas directly, so no pyplot state or backend is
touched, and each figure spawns its own random streams from its ``seed``.

Kinds of figure:

- ``"paper"``: ``draw(*, seed=0, quick=False) -> Figure``; listed by ``collapse-theory figures``.
- ``"report"``: ``draw(seed=0, quick=True) -> Figure``, the verify report's figure of the checks
  whose names start with one of its ``checks`` prefixes (the longest matching prefix wins).
- ``"table"``: ``draw(table) -> Figure``, a figure of the tail-loss table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import matplotlib as mpl
import numpy as np
from matplotlib import transforms
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from numpy.typing import ArrayLike

from collapse_theory import families
from collapse_theory._stats import mean_se
from collapse_theory._validate import InputError, InputTypeError, output_directory

__all__ = [
    "COLORS",
    "FigureSpec",
    "band",
    "caption",
    "ellipse",
    "figure_legend",
    "figures",
    "get",
    "legend_below",
    "log_grid",
    "mc_points",
    "new_figure",
    "register",
    "report_figures",
    "save",
]

#: Resolution of saved PNGs (dots per inch); PDFs are vector.
PNG_DPI = 130
#: Alpha of Monte Carlo bands.
BAND_ALPHA = 0.25
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
STYLE = {
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.framealpha": 0.9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
}

Kind = Literal["paper", "report", "table"]
KINDS = ("paper", "report", "table")


# ---------------------------------------------------------------------------------------------
# drawing helpers


def new_figure(
    width: float, height: float, ncols: int, *, nrows: int = 1
) -> tuple[Figure, list[Axes]]:
    """A figure with ``nrows`` x ``ncols`` axes (row by row), on the Agg canvas (no pyplot
    state), in the library's style."""
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(fig)
        axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(nrows * ncols)]
    return fig, axes


def log_grid(n_max: int, points: int, *, start: int = 1) -> np.ndarray:
    """About ``points`` distinct integers from ``start`` to ``n_max``, log-spaced."""
    grid = np.unique(np.geomspace(start, n_max, points).round().astype(np.int64))
    return grid[(grid >= start) & (grid <= n_max)]


def caption(fig: Figure, text: str) -> None:
    """A caption line under the axes stating parameters and what the bands are."""
    fig.get_layout_engine().set(h_pad=0.06)
    fig.supxlabel(text, fontsize=8, color="0.25")


def legend_below(ax: Axes, *, ncols: int = 2, **options: object) -> Legend:
    """The legend of ``ax`` under its x-axis label, outside the data area, so that it covers
    no curve and no band (constrained layout makes room for it). ``options`` go to
    :meth:`~matplotlib.axes.Axes.legend` (e.g. ``handles``, ``fontsize``)."""
    ticks = ax.xaxis.get_major_ticks()
    tick = ticks[0] if ticks else None
    drop = (  # points from the bottom of the axes to below the x-axis label
        (tick.get_tick_padding() + tick.label1.get_fontsize() if tick else 0.0)
        + ax.xaxis.labelpad
        + 1.4 * ax.xaxis.label.get_fontsize()
        + 4.0
    )
    anchor = transforms.offset_copy(ax.transAxes, ax.figure, y=-drop, units="points")
    return ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=anchor,
        borderaxespad=0.0,
        ncols=ncols,
        **options,
    )


def figure_legend(
    fig: Figure, axes: Iterable[Axes], *, extra: Iterable[Artist] = (), ncols: int | None = None
) -> Legend:
    """One legend for panels that share their labels, under the figure, outside every axes:
    the distinct labels of ``axes`` in the order they first appear, then the labelled artists
    ``extra`` (e.g. line-style keys); at most 6 columns by default."""
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    for artist in extra:
        handles.append(artist)
        labels.append(artist.get_label())
    return fig.legend(
        handles, labels, loc="outside lower center", ncols=ncols or min(len(labels), 6)
    )


def band(
    ax: Axes,
    x: ArrayLike,
    samples: ArrayLike,
    color: str,
    label: str,
    *,
    theory: ArrayLike | None = None,
) -> None:
    """Monte Carlo mean of ``samples`` (generations x replicates) with a band of +- 2 standard
    errors; with ``theory``, the mean minus theory (agreement: the band covers zero)."""
    mean, se = mean_se(samples, axis=1)
    if theory is not None:
        mean = mean - np.asarray(theory)
        ax.axhline(0.0, color="k", lw=0.8)
    ax.fill_between(x, mean - 2 * se, mean + 2 * se, color=color, alpha=BAND_ALPHA, lw=0)
    ax.plot(x, mean, ".", color=color, ms=3, label=label)


def mc_points(
    ax: Axes,
    x: ArrayLike,
    estimate: ArrayLike,
    stderr: ArrayLike,
    color: str,
    *,
    marker: str = "o",
    label: str | None = None,
) -> None:
    """Monte Carlo estimates as open markers with +- 2 standard-error bars."""
    ax.errorbar(
        x,
        estimate,
        yerr=2.0 * np.asarray(stderr),
        fmt=marker,
        ms=3.5,
        mfc="white",
        color=color,
        capsize=2,
        lw=1,
        label=label,
    )


def ellipse(ax: Axes, mean: ArrayLike, cov: ArrayLike, color: str) -> None:
    """The 2-sigma ellipse of N(mean, cov) (first two coordinates)."""
    mean, cov = np.asarray(mean), np.asarray(cov)
    values, vectors = np.linalg.eigh(cov[:2, :2])
    values = np.clip(values, 0.0, None)
    angle = float(np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1])))
    ax.add_patch(
        mpl.patches.Ellipse(
            tuple(mean[:2]),
            width=4.0 * np.sqrt(values[1]),
            height=4.0 * np.sqrt(values[0]),
            angle=angle,
            fill=False,
            color=color,
            lw=1.6,
        )
    )


def save(fig: Figure, out_dir: str | Path, name: str) -> tuple[Path, Path]:
    """Write ``fig`` as ``<out_dir>/<name>.png`` (130 dpi) and ``<out_dir>/<name>.pdf``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    out_dir : str or pathlib.Path
        Created if missing; its parent must exist (nothing else is created).
    name : str
        File stem: letters, digits, ``_`` and ``-`` only.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The PNG and PDF paths.

    Raises
    ------
    InputTypeError
        If ``fig`` is not a matplotlib Figure (a TypeError).
    InputError
        If ``name`` is empty or contains other characters, or the parent of ``out_dir`` does
        not exist (a ValueError).
    """
    if not isinstance(fig, Figure):
        raise InputTypeError(f"fig must be a matplotlib.figure.Figure; got {type(fig).__name__}")
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-" for c in name):
        raise InputError(
            f"name must be a non-empty file stem of letters, digits, _ or -; got {name!r}"
        )
    out = output_directory("out_dir", out_dir)
    png, pdf = out / f"{name}.png", out / f"{name}.pdf"
    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.savefig(png, dpi=PNG_DPI, pil_kwargs={"optimize": True})
    fig.savefig(pdf)
    return png, pdf


# ---------------------------------------------------------------------------------------------
# the registry


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure: its name, how to draw it, and who uses it."""

    name: str
    draw: Callable[..., Figure]
    kind: Kind
    family: str | None = None
    checks: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """The first line of the drawing function's docstring."""
        lines = (self.draw.__doc__ or "").strip().splitlines()
        return lines[0] if lines else ""


_REGISTRY: dict[str, FigureSpec] = {}


def _origin(draw: Callable[..., Figure]) -> tuple[str, str]:
    """Where a drawing function is defined: the same function imported again is no clash."""
    return draw.__module__, draw.__qualname__


def register(
    name: str, *, kind: Kind = "paper", family: str | None = None, checks: Iterable[str] = ()
) -> Callable[[Callable[..., Figure]], Callable[..., Figure]]:
    """Decorator: register the drawing function as the figure ``name``.

    Examples
    --------
    >>> @register("toy_figure_doc", kind="paper")
    ... def figure_toy(*, seed=0, quick=False):
    ...     '''A toy.'''
    ...     return new_figure(3, 2, 1)[0]
    >>> get("toy_figure_doc").summary
    'A toy.'
    >>> _ = _REGISTRY.pop("toy_figure_doc")
    """
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}; got {kind!r}")

    def decorate(draw: Callable[..., Figure]) -> Callable[..., Figure]:
        known = _REGISTRY.get(name)
        if known is not None and _origin(known.draw) != _origin(draw):
            raise InputError(f"a figure named {name!r} is already registered")
        _REGISTRY[name] = FigureSpec(name, draw, kind, family, tuple(checks))
        return draw

    return decorate


def _forget(family: str) -> None:
    for name in [name for name, spec in _REGISTRY.items() if spec.family == family]:
        del _REGISTRY[name]


#: Imports each family's figures module (each registers its figures on import).
_family_figures = families.PartLoader("figures", forget=_forget)


def _load() -> None:
    """Import every module that registers figures: each family's ``figures`` and the tail-loss
    table's."""
    _family_figures.load()
    importlib.import_module("collapse_theory.tails.figures")


def figures(kind: Kind | None = None) -> dict[str, FigureSpec]:
    """Every registered figure (of one ``kind``), in registration order."""
    _load()
    return {n: s for n, s in _REGISTRY.items() if kind is None or s.kind == kind}


def get(name: str) -> FigureSpec:
    """The figure ``name``; an InputError (a ValueError) lists the known names."""
    found = figures().get(name)
    if found is None:
        raise InputError(f"unknown figure {name!r}; choose from {sorted(figures())}")
    return found


def report_figures(check_names: Iterable[str]) -> list[FigureSpec]:
    """The report figures of a verify run of these checks: each check belongs to the report
    figure with the longest of its ``checks`` prefixes that starts the check's name."""
    reports = figures("report")
    chosen = set()
    for check in check_names:
        matches = [
            (len(prefix), name)
            for name, spec in reports.items()
            for prefix in spec.checks
            if check.startswith(prefix)
        ]
        if matches:
            chosen.add(max(matches)[1])
    return [spec for name, spec in reports.items() if name in chosen]
