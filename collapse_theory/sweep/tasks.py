"""Grid points and replicate blocks become tasks, each with a seed derived from its position.

Point ``i`` of a simulator sweep draws from ``SeedSequence(seed, spawn_key=(i,))``. A simulator
spawns one child stream per fixed block of ``rng.BLOCK_SIZE`` replicates from the seed it is
given, so replicate block ``b`` (replicates ``b * block_replicates`` onwards) is given the same
SeedSequence with ``n_children_spawned = b * block_replicates / BLOCK_SIZE``: its children are
exactly the streams the whole point would use for those replicates. A task's output therefore
depends only on (seed, point, block), and a point's blocks concatenated in block order are
bit-identical to one simulator call with the point's seed, whatever order or machine the tasks
ran on.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from collapse_theory.rng import BLOCK_SIZE

__all__ = ["Task", "TaskOutput", "build_tasks", "point_seed", "run_task"]


@dataclass(frozen=True)
class Task:
    """One unit of work: replicates ``start:stop`` of grid point ``point`` (block ``block``).

    Attributes
    ----------
    id : str
        ``"p<point>-b<block>"``, the name of its output file.
    point : int
        Index of the grid point.
    block : int
        Index of the block of replicates within the point.
    start, stop : int
        The replicates it computes.
    """

    id: str
    point: int
    block: int
    start: int
    stop: int


@dataclass(frozen=True)
class TaskOutput:
    """What a task returns: named arrays plus JSON metadata (the simulator's, for simulators)."""

    generations: np.ndarray | None
    arrays: dict[str, np.ndarray]
    per_replicate: dict[str, np.ndarray]
    metadata: dict[str, object]


def build_tasks(num_points: int, replicates: int | None, block_replicates: int) -> list[Task]:
    """Every task of a sweep, point by point and block by block.

    Theory sweeps (``replicates=None``) have one task per point.

    Parameters
    ----------
    num_points : int
        Grid points.
    replicates : int or None
        Replicates per point (None: a closed form).
    block_replicates : int
        Replicates per task (a multiple of 256).

    Returns
    -------
    list of Task
        Point by point, block by block.

    Examples
    --------
    >>> [t.id for t in build_tasks(2, 600, 512)]
    ['p0-b0', 'p0-b1', 'p1-b0', 'p1-b1']
    """
    bounds = (
        [(0, 0)]
        if replicates is None
        else [
            (s, min(s + block_replicates, replicates))
            for s in range(0, replicates, block_replicates)
        ]
    )
    point_width, block_width = len(str(num_points - 1)), len(str(len(bounds) - 1))
    return [
        Task(f"p{point:0{point_width}d}-b{block:0{block_width}d}", point, block, start, stop)
        for point in range(num_points)
        for block, (start, stop) in enumerate(bounds)
    ]


def point_seed(seed: int, point: int, first_replicate: int = 0) -> np.random.SeedSequence:
    """The SeedSequence whose next spawned children are the streams of replicates
    ``first_replicate`` onwards of grid point ``point`` (``first_replicate`` a multiple of 256).

    Parameters
    ----------
    seed : int
        The sweep's root seed.
    point : int
        Index of the grid point.
    first_replicate : int
        First replicate of the task, a multiple of 256.

    Returns
    -------
    numpy.random.SeedSequence
        The same streams whatever the blocking: replicate blocks of 256 draw from its children.
    """
    return np.random.SeedSequence(
        seed, spawn_key=(point,), n_children_spawned=first_replicate // BLOCK_SIZE
    )


def _theory_outputs(value: object) -> dict[str, np.ndarray]:
    """A theory function's return value as named arrays (tuples by position, dataclasses by
    field; non-numeric fields such as a method name are left out)."""
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {f"value_{i}": np.asarray(v) for i, v in enumerate(value)}
    if hasattr(value, "__dataclass_fields__"):
        out = {}
        for name in value.__dataclass_fields__:
            array = np.asarray(getattr(value, name))
            if array.dtype.kind in "biuf":
                out[name] = array
        return out
    return {"value": np.asarray(value)}


def run_task(
    function_name: str,
    arguments: dict[str, object],
    seed: int,
    task: Task,
    keep: tuple[str, ...] | None = None,
    num_threads: int = 1,
) -> TaskOutput:
    """Compute one task (in this process, a pool worker or a Dask worker).

    A ValueError or TypeError raised by the function is raised again naming the task and point.
    """
    try:
        return _compute(function_name, arguments, seed, task, keep, num_threads)
    except (ValueError, TypeError) as error:
        raise type(error)(f"task {task.id} (grid point {task.point}): {error}") from error


def _compute(
    function_name: str,
    arguments: dict[str, object],
    seed: int,
    task: Task,
    keep: tuple[str, ...] | None,
    num_threads: int,
) -> TaskOutput:
    from collapse_theory.sweep.registry import is_simulator, resolve

    function = resolve(function_name)
    if not is_simulator(function_name):
        kwargs = dict(arguments)
        if "seed" in inspect.signature(function).parameters:
            kwargs["seed"] = point_seed(seed, task.point)
        return TaskOutput(None, _theory_outputs(function(**kwargs)), {}, {})
    # The backend is part of the spec (``backend = "jax"`` in [fixed] or [grid]), numba when it
    # is not named: never an ambient ``backends.use`` block, which pool and Dask workers would
    # not see, so every scheduler computes the same numbers.
    arguments = {"backend": "numba", **arguments}
    result = function(
        **arguments,
        num_replicates=task.stop - task.start,
        seed=point_seed(seed, task.point, task.start),
        num_threads=num_threads,
        progress=False,
    )
    trajectories = {k: v for k, v in result.trajectories.items() if keep is None or k in keep}
    per_replicate = {k: v for k, v in result.per_replicate.items() if keep is None or k in keep}
    return TaskOutput(result.generations, trajectories, per_replicate, dict(result.metadata))
