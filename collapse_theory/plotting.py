r"""The library's figures: exact curves from the closed forms against Monte Carlo bands.

Each model family registers its figures in its own ``figures.py``; this module is the public
face of that one registry (:mod:`collapse_theory._figures`). :data:`FIGURES` maps the name of
every paper figure to its function ``figure_<name>(*, seed=0, quick=False) -> Figure``, which is
also reachable as ``plotting.figure_<name>``; :func:`save_figure` writes a figure as PNG and PDF.
Figures never change pyplot's state, and each spawns its own streams from ``seed``.

``quick=True`` uses fewer replicates and generations (each figure builds in a few seconds);
``quick=False`` is what ``docs/figures/`` holds.

Examples
--------
>>> import collapse_theory.plotting as ctp
>>> "w2_schedules" in ctp.FIGURES  # every family registers its own; see sorted(ctp.FIGURES)
True
>>> fig = ctp.figure_w2_schedules(quick=True)  # doctest: +SKIP
>>> ctp.save_figure(fig, "figures", "w2_schedules")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matplotlib.figure import Figure

from collapse_theory import _figures
from collapse_theory._figures import save as save_figure

__all__ = ["FIGURES", "save_figure"]  # noqa: F822 (FIGURES is built on access)


def __getattr__(name: str) -> Any:
    if name == "FIGURES":
        figures: dict[str, Callable[..., Figure]] = {
            n: spec.draw for n, spec in _figures.figures("paper").items()
        }
        return figures
    if name.startswith("figure_"):
        spec = _figures.figures().get(name.removeprefix("figure_"))
        if spec is not None:
            return spec.draw
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *(f"figure_{n}" for n in _figures.figures())])
