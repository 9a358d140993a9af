"""The merged result of a sweep: every task's arrays stacked on the grid, as numpy or xarray.

A simulator array recorded per generation has shape ``(*grid, generation, replicate, ...)``
(the replicate blocks of a point concatenated in block order); a per-replicate array
``(*grid, replicate, ...)``; a theory output ``(*grid, ...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from collapse_theory._stats import top_share
from collapse_theory._validate import InputError
from collapse_theory.results import DEFAULT_QUANTILES
from collapse_theory.sweep.spec import SweepSpec
from collapse_theory.sweep.store import Store, read_index
from collapse_theory.sweep.tasks import Task, TaskOutput, build_tasks

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["SweepResult", "load"]

#: Names of the trailing axes of the simulators' arrays.
_TRAILING_DIMS = {
    "p": ("state",),
    "mean": ("dim",),
    "cov": ("dim", "dim_2"),
    "weights": ("component",),
    "means": ("component", "dim"),
    "covs": ("component", "dim", "dim_2"),
    "lost": ("component",),
}


def _trailing_dims(name: str, ndim: int) -> tuple[str, ...]:
    dims = _TRAILING_DIMS.get(name, ())
    return dims if len(dims) == ndim else tuple(f"{name}_dim_{k}" for k in range(ndim))


def _coordinate(values: list[object]) -> list[object]:
    """Axis labels for xarray: the values themselves if they are numbers or strings of one kind,
    else their JSON text."""
    import json

    kinds = {type(v) for v in values}
    if kinds <= {int} or kinds <= {int, float} or kinds == {str} or kinds == {bool}:
        return list(values)
    return [json.dumps(v, sort_keys=True) for v in values]


@dataclass(frozen=True)
class SweepResult:
    """All results of a sweep.

    Attributes
    ----------
    spec : SweepSpec
    generations : ndarray or None
        Recorded generations, shape ``(G,)`` when every point recorded the same ones, else
        ``(*grid, G)``; None for theory sweeps.
    arrays : dict of str to ndarray
        Per-generation arrays ``(*grid, G, R, ...)``, or theory outputs ``(*grid, ...)``.
    per_replicate : dict of str to ndarray
        Per-replicate arrays ``(*grid, R, ...)`` (e.g. ``absorbed_at``).
    """

    spec: SweepSpec
    generations: np.ndarray | None
    arrays: dict[str, np.ndarray]
    per_replicate: dict[str, np.ndarray]

    @property
    def axes(self) -> dict[str, list[object]]:
        """Grid axis name -> its values, as written in the spec."""
        return {name: list(values) for name, values in self.spec.grid.items()}

    def to_xarray(
        self, summary: bool = False, quantiles: Sequence[float] = DEFAULT_QUANTILES
    ) -> xr.Dataset:
        """An ``xarray.Dataset`` with dims (grid axes..., generation, replicate, ...).

        With ``summary=True`` the replicate axis is replaced by a ``statistic`` axis: mean, std
        (ddof=1), stderr = std / sqrt(R), top_share (the heavy-tail diagnostic of that stderr,
        :func:`collapse_theory._stats.top_share`: above 0.6 it cannot be trusted,
        docs/theory.md §6), median and the given quantiles over replicates, per generation
        (per-generation arrays only; per-replicate arrays are left out).
        """
        try:
            import xarray as xr
        except ImportError:
            raise ImportError(
                "to_xarray needs xarray: pip install 'collapse_theory[sweep]'"
            ) from None
        grid_dims = tuple(self.spec.grid)
        coords: dict[str, object] = {name: _coordinate(v) for name, v in self.axes.items()}
        variables: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        if self.generations is None:
            for name, array in self.arrays.items():
                dims = grid_dims + _trailing_dims(name, array.ndim - len(grid_dims))
                variables[name] = (dims, array)
            return xr.Dataset(variables, coords=coords, attrs=self._attrs())
        if self.generations.ndim == 1:
            coords["generation"] = self.generations
        else:
            coords["generations"] = ((*grid_dims, "generation"), self.generations)
        statistics = ["mean", "std", "stderr", "top_share", "median"]
        statistics += [f"q{q:g}" for q in quantiles]
        if summary:
            coords["statistic"] = statistics
        for name, array in self.arrays.items():
            trailing = _trailing_dims(name, array.ndim - len(grid_dims) - 2)
            if summary:
                dims = (*grid_dims, "generation", "statistic", *trailing)
                variables[name] = (dims, _summarize(array, len(grid_dims) + 1, quantiles))
            else:
                variables[name] = ((*grid_dims, "generation", "replicate", *trailing), array)
        if not summary:
            for name, array in self.per_replicate.items():
                trailing = _trailing_dims(name, array.ndim - len(grid_dims) - 1)
                variables[name] = ((*grid_dims, "replicate", *trailing), array)
        return xr.Dataset(variables, coords=coords, attrs=self._attrs())

    def _attrs(self) -> dict[str, str | int]:
        return {
            "function": self.spec.function,
            "seed": self.spec.seed,
            "spec_hash": self.spec.spec_hash(),
        }


def _summarize(array: np.ndarray, axis: int, quantiles: Sequence[float]) -> np.ndarray:
    """Statistics over ``axis`` (replicates), stacked on a new axis at the same position."""
    values = np.asarray(array, dtype=np.float64)
    count = values.shape[axis]
    std = (
        values.std(axis=axis, ddof=1)
        if count > 1
        else np.full(np.delete(values.shape, axis), np.nan)
    )
    parts = [
        values.mean(axis=axis),
        std,
        std / np.sqrt(count),
        np.asarray(top_share(values, axis=axis)),
        np.median(values, axis=axis),
    ]
    parts += list(np.quantile(values, list(quantiles), axis=axis)) if len(quantiles) else []
    return np.stack(parts, axis=axis)


def _concatenate_blocks(outputs: list[TaskOutput]) -> TaskOutput:
    """A point's blocks joined along the replicate axis, in block order."""
    first = outputs[0]
    if len(outputs) == 1:
        return first
    return TaskOutput(
        first.generations,
        {k: np.concatenate([o.arrays[k] for o in outputs], axis=1) for k in first.arrays},
        {
            k: np.concatenate([o.per_replicate[k] for o in outputs], axis=0)
            for k in first.per_replicate
        },
        first.metadata,
    )


def _stack(spec: SweepSpec, name: str, arrays: list[np.ndarray]) -> np.ndarray:
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape
        point = next(i for i, a in enumerate(arrays) if a.shape != first)
        raise InputError(
            f"cannot merge {name!r}: point 0 has shape {first}, point {point} has shape "
            f"{arrays[point].shape}; grid axes that change an array's shape (the number of "
            "states, the dimension, the recorded generations) need separate sweeps"
        )
    return np.stack(arrays).reshape(spec.shape + arrays[0].shape)


def merge(spec: SweepSpec, store: Store, tasks: list[Task]) -> SweepResult:
    """Read every task of ``store`` and stack the points on the grid."""
    by_point: list[list[TaskOutput]] = [[] for _ in range(spec.num_points)]
    for task in tasks:
        by_point[task.point].append(store.read(task))
    points = [_concatenate_blocks(outputs) for outputs in by_point]
    first = points[0]
    arrays = {k: _stack(spec, k, [p.arrays[k] for p in points]) for k in first.arrays}
    per_replicate = {
        k: _stack(spec, k, [p.per_replicate[k] for p in points]) for k in first.per_replicate
    }
    generations = None
    if first.generations is not None:
        all_generations = [p.generations for p in points]
        if all(np.array_equal(g, first.generations) for g in all_generations):
            generations = np.asarray(first.generations)
        else:
            generations = _stack(spec, "generations", all_generations)
    return SweepResult(spec, generations, arrays, per_replicate)


def load(directory: str | Path) -> SweepResult:
    """The merged result of a finished sweep directory (written by ``run_sweep`` or the
    ``collapse-theory sweep`` command).

    Parameters
    ----------
    directory : str or pathlib.Path
        The sweep's output directory.

    Returns
    -------
    SweepResult
        The spec, the grid and every stored array, merged over tasks (``to_xarray()`` for a
        labelled view).

    Raises
    ------
    InputError
        Not a sweep directory, a task missing or corrupt, or a spec that does not match its
        recorded hash.
    """
    index = read_index(directory)
    spec = SweepSpec.from_dict(index["spec"])
    tasks = build_tasks(spec.num_points, spec.replicates, spec.block_replicates)
    store = Store(directory, spec, tasks)
    if store.spec_hash != index["spec_hash"]:
        raise InputError(f"{directory}/index.json: the spec does not match its recorded hash")
    return merge(spec, store, tasks)
