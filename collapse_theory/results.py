"""Run results: recorded arrays plus metadata, summaries, and a portable save/load.

A :class:`SimulationResult` holds

- ``generations``: the recorded generation indices (generation 0 is the original model);
- ``trajectories``: arrays with leading axes ``(len(generations), num_replicates, ...)``;
- ``per_replicate``: arrays with leading axis ``num_replicates`` (e.g. absorption times);
- ``metadata``: JSON-compatible parameters, seed, backend and versions.

Files are ``.npz`` archives (readable by ``numpy.load``) with an extra ``metadata.json`` member,
so ``unzip -p run.npz metadata.json`` shows the parameters without this library.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from collapse_theory._json import dumps

__all__ = ["SimulationResult", "Summary", "run_metadata", "summarize"]

DEFAULT_QUANTILES = (0.05, 0.25, 0.75, 0.95)
_METADATA_MEMBER = "metadata.json"
_TRAJECTORY_PREFIX = "trajectory__"
_REPLICATE_PREFIX = "replicate__"


@dataclass(frozen=True)
class Summary:
    """Per-generation statistics over replicates of one quantity.

    Every array has leading axis ``len(generations)`` (``quantile_values`` has the quantiles
    first). ``stderr`` is the standard error of the mean, ``std / sqrt(R)``.
    """

    name: str
    generations: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    stderr: np.ndarray
    median: np.ndarray
    quantiles: tuple[float, ...]
    quantile_values: np.ndarray

    def format(self, max_rows: int = 25) -> str:
        """A plain-text table (scalar quantities only; vectors show their first entry)."""
        header = ["generation", "mean", "stderr", "median"] + [f"q{q:g}" for q in self.quantiles]
        rows = []
        picks = np.unique(
            np.linspace(0, len(self.generations) - 1, min(max_rows, len(self.generations))).astype(
                int
            )
        )
        for i in picks:
            values = [self.mean[i], self.stderr[i], self.median[i], *self.quantile_values[:, i]]
            values = [float(np.ravel(v)[0]) for v in values]
            rows.append([str(int(self.generations[i]))] + [f"{v:.6g}" for v in values])
        widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(header)]
        lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        return f"{self.name}\n" + "\n".join(lines)


def summarize(
    name: str,
    values: np.ndarray,
    generations: np.ndarray,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> Summary:
    """Summarise ``values`` of shape ``(len(generations), num_replicates, ...)`` over replicates."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim < 2 or values.shape[0] != len(generations):
        raise ValueError(
            f"values must have shape (len(generations)={len(generations)}, num_replicates, ...); "
            f"got {values.shape}"
        )
    quantiles = tuple(float(q) for q in quantiles)
    if any(not 0.0 <= q <= 1.0 for q in quantiles):
        raise ValueError(f"quantiles must lie in [0, 1]; got {quantiles}")
    num_replicates = values.shape[1]
    std = values.std(axis=1, ddof=1) if num_replicates > 1 else np.full(values[:, 0].shape, np.nan)
    return Summary(
        name=name,
        generations=np.asarray(generations),
        mean=values.mean(axis=1),
        std=std,
        stderr=std / np.sqrt(num_replicates),
        median=np.median(values, axis=1),
        quantiles=quantiles,
        quantile_values=np.quantile(values, quantiles, axis=1) if quantiles else np.empty((0,)),
    )


@dataclass(frozen=True)
class SimulationResult:
    """Arrays recorded by a simulator, with the metadata needed to reproduce them."""

    generations: np.ndarray
    trajectories: Mapping[str, np.ndarray]
    per_replicate: Mapping[str, np.ndarray] = field(default_factory=dict)
    metadata: Mapping[str, object] = field(default_factory=dict)

    @property
    def num_replicates(self) -> int:
        for array in self.trajectories.values():
            return int(array.shape[1])
        for array in self.per_replicate.values():
            return int(array.shape[0])
        return 0

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.trajectories:
            return self.trajectories[name]
        if name in self.per_replicate:
            return self.per_replicate[name]
        known = sorted([*self.trajectories, *self.per_replicate])
        raise KeyError(f"no array named {name!r} in this result; it has {known}")

    def at(self, name: str, generation: int) -> np.ndarray:
        """The trajectory ``name`` at a recorded generation (shape ``(num_replicates, ...)``)."""
        where = np.flatnonzero(self.generations == generation)
        if where.size == 0:
            raise ValueError(
                f"generation {generation} was not recorded; recorded: {self.generations.tolist()[:20]}"
                + (" ..." if len(self.generations) > 20 else "")
            )
        return self.trajectories[name][where[0]]

    def summary(self, name: str, quantiles: Sequence[float] = DEFAULT_QUANTILES) -> Summary:
        """Mean, standard error, median and quantiles over replicates, per recorded generation."""
        if name not in self.trajectories:
            raise KeyError(f"no trajectory named {name!r}; it has {sorted(self.trajectories)}")
        return summarize(name, self.trajectories[name], self.generations, quantiles)

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` archive with a ``metadata.json`` member; returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = (
                path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"generations": np.asarray(self.generations)}
        arrays.update({_TRAJECTORY_PREFIX + k: np.asarray(v) for k, v in self.trajectories.items()})
        arrays.update({_REPLICATE_PREFIX + k: np.asarray(v) for k, v in self.per_replicate.items()})
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(_METADATA_MEMBER, dumps(self.metadata, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> SimulationResult:
        """Read a result written by :meth:`save`."""
        path = Path(path)
        with zipfile.ZipFile(path) as archive:
            if _METADATA_MEMBER not in archive.namelist():
                raise ValueError(f"{path} is not a collapse_theory result: no {_METADATA_MEMBER}")
            metadata = json.loads(archive.read(_METADATA_MEMBER))
        trajectories: dict[str, np.ndarray] = {}
        per_replicate: dict[str, np.ndarray] = {}
        with np.load(path, allow_pickle=False) as data:
            generations = data["generations"]
            for key in data.files:
                if key.startswith(_TRAJECTORY_PREFIX):
                    trajectories[key[len(_TRAJECTORY_PREFIX) :]] = data[key]
                elif key.startswith(_REPLICATE_PREFIX):
                    per_replicate[key[len(_REPLICATE_PREFIX) :]] = data[key]
        return cls(generations, trajectories, per_replicate, metadata)


def run_metadata(
    model: str,
    parameters: Mapping[str, object],
    seed_sequence: np.random.SeedSequence,
    backend: str,
) -> dict[str, object]:
    """Metadata every simulator stores: model, parameters, seed, backend and versions."""
    from collapse_theory import __version__
    from collapse_theory.rng import BLOCK_SIZE, seed_metadata

    return {
        "model": model,
        "parameters": dict(parameters),
        "seed": seed_metadata(seed_sequence),
        "block_size": BLOCK_SIZE,
        "backend": backend,
        "collapse_theory_version": __version__,
        "numpy_version": np.__version__,
    }
