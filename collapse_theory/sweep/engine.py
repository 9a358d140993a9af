"""Run a sweep's tasks in this process, on a process pool or on Dask, storing each as it finishes.

Workers only compute; this process (the driver) writes every result file, so the store's
guarantees (atomic files, one log line per computed task) hold whatever runs the tasks, and a
cluster's workers need no access to the output directory. Results do not depend on the
executor: each task's seed is fixed by its position (:mod:`collapse_theory.sweep.tasks`).

Schedulers:

- ``"inprocess"`` (default): one task after another in this process.
- ``"processes"`` or ``"processes:N"``: a pool of N local processes (``concurrent.futures``).
- ``"local"`` or ``"local:N"``: a ``dask.distributed.LocalCluster`` of N single-threaded worker
  processes, started and stopped by the run (needs ``collapse_theory[sweep]``).
- ``"tcp://HOST:PORT"`` (or any Dask address ``SCHEME://...``): an existing Dask scheduler.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TypeAlias

from collapse_theory._validate import InputError, InputTypeError, _show, check_int
from collapse_theory.progress import progress_bar
from collapse_theory.rng import default_num_threads
from collapse_theory.sweep.merge import SweepResult, merge
from collapse_theory.sweep.registry import plan
from collapse_theory.sweep.spec import SweepSpec
from collapse_theory.sweep.store import Store
from collapse_theory.sweep.tasks import Task, TaskOutput, build_tasks, run_task

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["RunStats", "parse_scheduler", "run_sweep"]

_EXTRA = "pip install 'collapse_theory[sweep]'"

#: The positional arguments of :func:`~collapse_theory.sweep.tasks.run_task` for one task.
_TaskArguments: TypeAlias = tuple[str, dict[str, object], int, Task, tuple[str, ...] | None, int]


@dataclass(frozen=True)
class RunStats:
    """What one run did: tasks computed now, found already done, files discarded as corrupt.

    Attributes
    ----------
    total : int
        Tasks of the sweep.
    computed : int
        Tasks computed by this run.
    skipped : int
        Tasks found already done (a resumed run).
    discarded : int
        Task files found corrupt and recomputed.
    seconds : float
        Wall time of the run.
    run_id : str
        Identifier of the run (time, process, random suffix), recorded in the index.
    """

    total: int
    computed: int
    skipped: int
    discarded: int
    seconds: float
    run_id: str


def parse_scheduler(scheduler: str, workers: int | None = None) -> tuple[str, int | str]:
    """``(kind, workers or address)`` from a scheduler string (see the module docstring).

    Parameters
    ----------
    scheduler : str
        ``"inprocess"``, ``"processes[:N]"``, ``"local[:N]"`` or a Dask address
        ``"tcp://HOST:PORT"``.
    workers : int, optional
        N, where the string does not give it (not both; not with an address).

    Returns
    -------
    kind : str
        ``"inprocess"``, ``"processes"``, ``"local"`` or ``"address"``.
    workers_or_address : int or str
        The number of workers, or the scheduler's address.

    Raises
    ------
    InputError, InputTypeError
        An unknown scheduler, a non-integer N, or workers given twice.

    Examples
    --------
    >>> parse_scheduler("processes:4")
    ('processes', 4)
    >>> parse_scheduler("tcp://10.0.0.5:8786")
    ('address', 'tcp://10.0.0.5:8786')
    """
    if not isinstance(scheduler, str):
        raise InputTypeError(f"scheduler must be a string; got {_show(scheduler)}")
    if workers is not None:
        workers = check_int("workers", workers, minimum=1)
    if "://" in scheduler:
        if workers is not None:
            raise InputError("workers: not used with a scheduler address (the cluster has its own)")
        return "address", scheduler
    kind, colon, count = scheduler.partition(":")
    if kind == "inprocess" and not colon:
        if workers not in (None, 1):
            raise InputError(f"workers: scheduler 'inprocess' runs 1 task at a time; got {workers}")
        return kind, 1
    if kind in ("processes", "local"):
        if colon:
            if workers is not None:
                raise InputError(f"workers: given twice ({scheduler!r} and workers={workers})")
            try:
                workers = int(count)
            except ValueError:
                raise InputError(f"scheduler {scheduler!r}: N must be an integer") from None
            workers = check_int(f"scheduler {scheduler!r}: N", workers, minimum=1)
        return kind, workers or default_num_threads()
    raise InputError(
        f"scheduler must be 'inprocess', 'processes[:N]', 'local[:N]' or a Dask scheduler "
        f"address such as 'tcp://HOST:PORT'; got {scheduler!r}"
    )


def _import_distributed() -> ModuleType:
    try:
        import distributed
    except ImportError:
        raise ImportError(
            f"running a sweep on Dask needs dask.distributed: {_EXTRA}; or use scheduler "
            "'inprocess' or 'processes'"
        ) from None
    return distributed


@contextmanager
def _dask_client(kind: str, target: int | str | None, client: Client | None) -> Iterator[Client]:
    if client is not None:
        yield client
        return
    distributed = _import_distributed()
    if kind == "address":
        with distributed.Client(target) as connected:
            yield connected
        return
    with (
        distributed.LocalCluster(
            n_workers=target, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected


def run_sweep(
    spec: SweepSpec | Mapping[str, object],
    out: str | Path,
    *,
    scheduler: str = "inprocess",
    workers: int | None = None,
    client: Client | None = None,
    threads_per_task: int = 1,
    progress: bool = False,
) -> tuple[SweepResult, RunStats]:
    """Run (or resume) the sweep ``spec`` into directory ``out``; returns the merged result.

    The spec is checked completely before anything runs (:func:`~collapse_theory.sweep.plan`).
    Finished tasks found in ``out`` are kept, corrupt ones recomputed; each task computed now is
    written as soon as it finishes, so an interrupted run loses only the tasks in flight.

    Parameters
    ----------
    spec : SweepSpec or mapping
        The sweep (a mapping is read with :meth:`SweepSpec.from_dict`).
    out : path
        Output directory (created; a directory holding another spec is refused).
    scheduler : str
        ``"inprocess"``, ``"processes[:N]"``, ``"local[:N]"`` or a Dask address
        ``"tcp://HOST:PORT"``.
    workers : int, optional
        N for ``processes`` and ``local`` (default: the CPUs available).
    client : dask.distributed.Client, optional
        Run on this client's cluster (``scheduler`` is then ignored).
    threads_per_task : int
        ``num_threads`` of each simulator call (default 1: parallelism comes from the workers).
        It never changes the results.
    progress : bool
        Show a tqdm bar of tasks done / total with rate and ETA.

    Returns
    -------
    (SweepResult, RunStats)

    Examples
    --------
    >>> import tempfile
    >>> from collapse_theory.sweep import SweepSpec, run_sweep
    >>> spec = SweepSpec(
    ...     "gaussian.theory.expected_variance",
    ...     grid={"num_samples": [10, 100]},
    ...     fixed={"generations": [0, 10]},
    ...     seed=0,
    ... )
    >>> result, stats = run_sweep(spec, tempfile.mkdtemp())
    >>> result.arrays["value"].shape, stats.computed
    ((2, 2), 2)
    """
    if isinstance(spec, Mapping):
        spec = SweepSpec.from_dict(spec)
    if not isinstance(spec, SweepSpec):
        raise InputTypeError(f"spec must be a SweepSpec or a mapping; got {_show(spec)}")
    kind, target = ("client", None) if client is not None else parse_scheduler(scheduler, workers)
    threads_per_task = check_int("threads_per_task", threads_per_task, minimum=1)
    checked = plan(spec)
    tasks = build_tasks(spec.num_points, spec.replicates, spec.block_replicates)
    store = Store(out, spec, tasks).open()
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    with store.lock():
        pending, discarded = store.scan(run_id)
        arguments = {task.id: checked.arguments[task.point] for task in pending}
        computed = _execute(
            spec,
            store,
            pending,
            arguments,
            run_id,
            kind,
            target,
            client,
            threads_per_task,
            progress,
        )
    stats = RunStats(
        total=len(tasks),
        computed=computed,
        skipped=len(tasks) - len(pending),
        discarded=discarded,
        seconds=time.perf_counter() - started,
        run_id=run_id,
    )
    return merge(spec, store, tasks), stats


def _execute(
    spec: SweepSpec,
    store: Store,
    pending: list[Task],
    arguments: dict[str, dict[str, object]],
    run_id: str,
    kind: str,
    target: int | str | None,
    client: Client | None,
    threads: int,
    progress: bool,
) -> int:
    """Run the pending tasks and store each result as it arrives; returns how many."""
    if not pending:
        return 0
    done = 0
    label = f"sweep ({len(store.tasks) - len(pending)} of {len(store.tasks)} tasks already done)"
    with progress_bar(len(pending), label, enabled=progress) as advance:
        for task, output in _results(
            spec, pending, arguments, kind, target, client, threads, run_id
        ):
            store.write(task, output, run_id)
            done += 1
            advance(1)
    return done


def _results(
    spec: SweepSpec,
    pending: list[Task],
    arguments: dict[str, dict[str, object]],
    kind: str,
    target: int | str | None,
    client: Client | None,
    threads: int,
    run_id: str,
) -> Iterator[tuple[Task, TaskOutput]]:
    """``(task, output)`` pairs as the tasks finish, in whatever order the executor gives."""

    def args(task: Task) -> _TaskArguments:
        return (spec.function, arguments[task.id], spec.seed, task, spec.keep, threads)

    if kind == "inprocess":
        for task in pending:
            yield task, run_task(*args(task))
    elif kind == "processes":
        yield from _run_pool(args, pending, target)
    else:
        with _dask_client(kind, target, client) as connected:
            yield from _run_dask(args, pending, connected, f"sweep-{run_id}")


def _run_pool(
    args: Callable[[Task], _TaskArguments], tasks: list[Task], workers: int
) -> Iterator[tuple[Task, TaskOutput]]:
    import multiprocessing

    # "spawn": fresh interpreters, safe with the numba and BLAS threads this process may hold.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
        futures = {pool.submit(run_task, *args(task)): task for task in tasks}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()


def _run_dask(
    args: Callable[[Task], _TaskArguments], tasks: list[Task], client: Client, prefix: str
) -> Iterator[tuple[Task, TaskOutput]]:
    distributed = _import_distributed()
    futures = {
        client.submit(run_task, *args(task), key=f"{prefix}-{task.id}", pure=False): task
        for task in tasks
    }
    try:
        # Results are gathered here, batch by batch, rather than by as_completed(with_results=
        # True), which gathers every future concurrently on the client's event loop; under heavy
        # load that tripped a tornado write-buffer assertion and left the run waiting forever.
        for batch in distributed.as_completed(futures).batches():
            for future, output in zip(batch, client.gather(batch), strict=True):
                yield futures[future], output
                future.release()
    finally:
        client.cancel(list(futures))
