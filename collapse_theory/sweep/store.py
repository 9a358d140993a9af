"""A sweep's directory: one file per completed task, written atomically, plus an index and a log.

Layout of ``DIR``:

- ``index.json``: the spec, its hash and the task ids. A directory is only ever resumed with
  the same spec; a different spec is refused.
- ``tasks/<task id>.<sha256>.npz``: one completed task. The file is written under a temporary
  name in the same folder, flushed to disk (fsync) and renamed (``os.replace``, atomic), so it
  either exists whole or not at all. The sha256 of its bytes is part of its name: a truncated
  or altered file no longer matches and is deleted and recomputed. Simulator tasks are
  :class:`~collapse_theory.results.SimulationResult` archives (``SimulationResult.load`` reads
  them); theory tasks hold ``value__<name>`` arrays. Every file's ``metadata.json`` carries a
  ``sweep`` entry with the task id and the spec hash.
- ``log.txt``: append-only, one line per event: ``computed RUN_ID TASK_ID`` once a task's file
  is in place, ``discarded RUN_ID TASK_ID REASON`` for a corrupt file.
- ``lock``: held (``flock``) while a run writes, so two runs never share a directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import numpy as np

from collapse_theory._json import dumps
from collapse_theory._validate import InputError, output_directory
from collapse_theory.results import SimulationResult
from collapse_theory.sweep.spec import SweepSpec
from collapse_theory.sweep.tasks import Task, TaskOutput

__all__ = ["FORMAT", "Store"]

FORMAT = "collapse_theory.sweep/1"
_METADATA = "metadata.json"


def _fsync_directory(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_directory(path.parent)


def _encode(output: TaskOutput, sweep_metadata: dict[str, object]) -> bytes:
    """The bytes of a task file (an ``.npz`` archive with a ``metadata.json`` member)."""
    metadata = {**output.metadata, "sweep": sweep_metadata}
    buffer = io.BytesIO()
    if output.generations is not None:
        result = SimulationResult(output.generations, output.arrays, output.per_replicate, metadata)
        with _scratch_file() as path:
            result.save(path)
            return path.read_bytes()
    np.savez(buffer, **{f"value__{k}": v for k, v in output.arrays.items()})
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(_METADATA, dumps(metadata, indent=2))
    return buffer.getvalue()


@contextlib.contextmanager
def _scratch_file() -> Iterator[Path]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ct-sweep-") as folder:
        yield Path(folder) / "task.npz"


def _decode(data: bytes) -> TaskOutput:
    """Parse the bytes of a task file."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        metadata = json.loads(archive.read(_METADATA))
    generations, arrays, per_replicate = None, {}, {}
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        for key in archive.files:
            if key == "generations":
                generations = archive[key]
            elif key.startswith("trajectory__"):
                arrays[key[len("trajectory__") :]] = archive[key]
            elif key.startswith("replicate__"):
                per_replicate[key[len("replicate__") :]] = archive[key]
            elif key.startswith("value__"):
                arrays[key[len("value__") :]] = archive[key]
    return TaskOutput(generations, arrays, per_replicate, metadata)


class Store:
    """The files of one sweep in directory ``root`` (created if needed; its parent must exist)."""

    def __init__(self, root: str | Path, spec: SweepSpec, tasks: list[Task]) -> None:
        self.root = Path(root)
        self.spec = spec
        self.spec_hash = spec.spec_hash()
        self.tasks = tasks
        self.tasks_dir = self.root / "tasks"
        self.index_path = self.root / "index.json"
        self.log_path = self.root / "log.txt"

    # -- opening ------------------------------------------------------------------------------

    def open(self) -> Store:
        """Create the directory and index, or check that an existing one holds this spec."""
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"--out {str(self.root)!r} exists and is not a directory")
        if self.index_path.exists():
            index = read_index(self.root)
            if index["spec_hash"] != self.spec_hash:
                raise InputError(
                    f"{self.root} holds a different sweep (spec hash {index['spec_hash'][:12]}, "
                    f"this spec {self.spec_hash[:12]}); use another output directory, or delete "
                    "it to start over"
                )
        else:
            if self.root.exists() and any(self.root.iterdir()):
                raise InputError(
                    f"{self.root} is not empty and holds no sweep index.json; give an empty or "
                    "new output directory"
                )
            output_directory("out", self.root)  # the directory asked for, never its parents
            index = {
                "format": FORMAT,
                "spec_hash": self.spec_hash,
                "spec": self.spec.to_dict(),
                "shape": list(self.spec.shape),
                "tasks": [task.id for task in self.tasks],
            }
            write_atomic(self.index_path, dumps(index, indent=1).encode())
        self.tasks_dir.mkdir(exist_ok=True)
        return self

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's lock (POSIX ``flock``) while a run writes into it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no locking
            yield
            return
        with open(self.root / "lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise InputError(f"{self.root} is in use by another running sweep") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- task files ----------------------------------------------------------------------------

    def _files(self, task: Task) -> list[Path]:
        return sorted(self.tasks_dir.glob(f"{task.id}.*.npz"))

    def _check(self, task: Task, path: Path) -> tuple[bytes | None, str]:
        """The file's bytes if it is a valid result of ``task``, else None and the reason."""
        data = path.read_bytes()
        digest = path.name[len(task.id) + 1 : -len(".npz")]
        if hashlib.sha256(data).hexdigest() != digest:
            return None, "checksum-mismatch"
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                sweep = json.loads(archive.read(_METADATA))["sweep"]
        except (zipfile.BadZipFile, KeyError, ValueError):
            return None, "unreadable"
        if sweep.get("task") != task.id or sweep.get("spec_hash") != self.spec_hash:
            return None, "belongs-to-another-task"
        return data, ""

    def scan(self, run_id: str) -> tuple[list[Task], int]:
        """The tasks still to compute, and how many files were discarded. Corrupt files are
        deleted (and logged); leftovers of an interrupted write are removed."""
        for leftover in self.tasks_dir.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
        pending, discarded = [], 0
        for task in self.tasks:
            valid = False
            for path in self._files(task):
                data, reason = self._check(task, path)
                if data is None or valid:
                    path.unlink(missing_ok=True)
                    self.log("discarded", run_id, task.id, reason or "duplicate")
                    discarded += 1
                else:
                    valid = True
            if not valid:
                pending.append(task)
        return pending, discarded

    def write(self, task: Task, output: TaskOutput, run_id: str) -> Path:
        """Store a completed task atomically and log it."""
        sweep_metadata = {
            "task": task.id,
            "point": task.point,
            "block": task.block,
            "replicates": [task.start, task.stop],
            "spec_hash": self.spec_hash,
            "run": run_id,
        }
        data = _encode(output, sweep_metadata)
        path = self.tasks_dir / f"{task.id}.{hashlib.sha256(data).hexdigest()}.npz"
        write_atomic(path, data)
        self.log("computed", run_id, task.id)
        return path

    def read(self, task: Task) -> TaskOutput:
        """A stored task's output; ValueError if it is missing or corrupt."""
        for path in self._files(task):
            data, _reason = self._check(task, path)
            if data is not None:
                return _decode(data)
        raise InputError(
            f"{self.root}: task {task.id} has no valid result file; rerun the sweep to compute it"
        )

    def log(self, event: str, run_id: str, task_id: str, detail: str = "") -> None:
        line = " ".join(part for part in (event, run_id, task_id, detail) if part) + "\n"
        # One write() of a short line to a file opened for appending is atomic on POSIX.
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(line)


class SweepIndex(TypedDict):
    """The ``index.json`` of a sweep directory."""

    format: str
    spec_hash: str
    spec: dict[str, object]
    shape: list[int]
    tasks: list[str]


def read_index(root: str | Path) -> SweepIndex:
    """The ``index.json`` of a sweep directory."""
    path = Path(root) / "index.json"
    if not path.is_file():
        raise InputError(f"{root} is not a sweep directory: no index.json")
    index = json.loads(path.read_text())
    if index.get("format") != FORMAT:
        raise InputError(f"{path}: unknown format {index.get('format')!r}; expected {FORMAT!r}")
    return index
