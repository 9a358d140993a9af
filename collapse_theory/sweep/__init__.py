"""Parameter sweeps: a function evaluated on a grid, resumable and reproducible, in this process,
on a process pool or on Dask (see ``docs/sweep.md``).

>>> from collapse_theory import sweep
>>> spec = sweep.SweepSpec("gaussian.simulate", grid={"num_samples": [10, 100]},
...     fixed={"mean0": 0.0, "cov0": 1.0, "num_generations": 5}, seed=1, replicates=256)
>>> spec.num_points
2
"""

from collapse_theory.sweep.engine import RunStats, parse_scheduler, run_sweep
from collapse_theory.sweep.merge import SweepResult, load
from collapse_theory.sweep.registry import Plan, functions, plan
from collapse_theory.sweep.spec import SweepSpec, load_spec
from collapse_theory.sweep.tasks import Task, build_tasks, point_seed

__all__ = [
    "Plan",
    "RunStats",
    "SweepResult",
    "SweepSpec",
    "Task",
    "build_tasks",
    "functions",
    "load",
    "load_spec",
    "parse_scheduler",
    "plan",
    "point_seed",
    "run_sweep",
]
