"""Run results: recorded arrays plus metadata, summaries, and a portable save/load.

A :class:`SimulationResult` holds

- ``generations``: the recorded generation indices (generation 0 is the original model);
- ``trajectories``: arrays with leading axes ``(len(generations), num_replicates, ...)``;
- ``per_replicate``: arrays with leading axis ``num_replicates`` (e.g. absorption times);
- ``metadata``: JSON-compatible parameters, seed, backend and versions.

Files are ``.npz`` archives (readable by ``numpy.load``) with an extra ``metadata.json`` member,
so ``unzip -p run.npz metadata.json`` shows the parameters without this library. An array is
stored compressed (zlib level 1) when a sample of it shrinks at least twofold: categorical
frequencies (many zeros, repeated k/M) shrink 12-90x at about the speed of an uncompressed
write (README example: 481 MiB -> 39 MiB in 3.3 s against 2.7 s), while Gaussian doubles shrink
only 1.05-1.35x at 15-20 times the write time, so they are stored as they are. A file above
:data:`LARGE_FILE_BYTES` is written with a warning that names its size.
"""

from __future__ import annotations

import json
import warnings
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from collapse_theory._json import dumps
from collapse_theory._stats import TOP_FRACTION, TOP_SHARE_LIMIT, se_trusted, top_share
from collapse_theory._validate import InputError, check_int, check_output_file, format_bytes

__all__ = ["SimulationResult", "Summary", "npz_path", "run_metadata", "summarize"]

DEFAULT_QUANTILES = (0.05, 0.25, 0.75, 0.95)
_METADATA_MEMBER = "metadata.json"
_TRAJECTORY_PREFIX = "trajectory__"
_REPLICATE_PREFIX = "replicate__"
#: Files above this size are written with a warning naming the size (256 MiB).
LARGE_FILE_BYTES = 256 * 2**20
#: An array is stored compressed when a sample of it deflates to at most this fraction.
COMPRESS_BELOW_RATIO = 0.5
#: zlib level of compressed members: level 1 writes categorical frequencies 3-4x faster than
#: numpy's default 6 for a file 1.5x larger (still 12x or more below raw).
COMPRESS_LEVEL = 1
_SAMPLE_CHUNKS, _SAMPLE_CHUNK_BYTES = 16, 64 * 2**10
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the zip members' date: equal results, equal bytes
#: What a flagged standard error is replaced by in printed tables (see :meth:`Summary.se_text`).
UNTRUSTED = "untrusted"
#: The note printed under a table with an untrusted standard error.
UNTRUSTED_NOTE = (
    f"{UNTRUSTED}: the largest {TOP_FRACTION:.0%} of replicates carry more than "
    f"{TOP_SHARE_LIMIT:.0%} of the squared deviations, so the mean rests on a few replicates and "
    "its standard error is far too small (docs/theory.md §6); report the median or quantiles"
)


@dataclass(frozen=True)
class Summary:
    """Per-generation statistics over replicates of one quantity.

    Every array has leading axis ``len(generations)`` (``quantile_values`` has the quantiles
    first). ``stderr`` is the standard error of the mean, ``std / sqrt(R)``. ``top_share`` is the
    heavy-tail diagnostic of that standard error (:func:`collapse_theory._stats.top_share`: the
    share of the squared deviations carried by the largest 1 % of replicates) and
    ``se_trusted`` whether it is at most 0.6 (docs/theory.md §6): where it is False the mean
    rests on a handful of replicates and ``stderr`` is typically far too small.

    Attributes
    ----------
    name : str
        The quantity summarised.
    generations : numpy.ndarray of int
        The recorded generations (one row each).
    mean, std, stderr, median : numpy.ndarray
        Over replicates, per generation.
    quantiles : tuple of float
        The levels of ``quantile_values``.
    quantile_values : numpy.ndarray
        Shape ``(len(quantiles), len(generations), ...)``.
    top_share : numpy.ndarray
        Share of the squared deviations carried by the largest 1 % of replicates.
    se_trusted : numpy.ndarray of bool
        ``top_share <= 0.6``.
    """

    name: str
    generations: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    stderr: np.ndarray
    median: np.ndarray
    quantiles: tuple[float, ...]
    quantile_values: np.ndarray
    top_share: np.ndarray
    se_trusted: np.ndarray

    def se_text(self, row: int) -> str:
        """The standard error at ``row`` as printed: the number, or :data:`UNTRUSTED` where the
        heavy-tail diagnostic flags it (first entry of a vector quantity)."""
        if not bool(np.ravel(self.se_trusted[row])[0]):
            return UNTRUSTED
        return f"{float(np.ravel(self.stderr[row])[0]):.3g}"

    def format(self, max_rows: int = 25) -> str:
        """A plain-text table (scalar quantities only; vectors show their first entry), with the
        heavy-tail diagnostic ``top share`` and a note under it when a stderr is untrusted."""
        header = ["generation", "mean", "stderr", "top share", "median"]
        header += [f"q{q:g}" for q in self.quantiles]
        rows = []
        picks = np.unique(
            np.linspace(0, len(self.generations) - 1, min(max_rows, len(self.generations))).astype(
                int
            )
        )
        for i in picks:
            values = [self.median[i], *self.quantile_values[:, i]]
            values = [float(np.ravel(v)[0]) for v in values]
            share = float(np.ravel(self.top_share[i])[0])
            rows.append(
                [
                    str(int(self.generations[i])),
                    f"{float(np.ravel(self.mean[i])[0]):.6g}",
                    self.se_text(i),
                    f"{share:.3g}",
                    *(f"{v:.6g}" for v in values),
                ]
            )
        widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(header)]
        lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        if any(row[2] == UNTRUSTED for row in rows):
            lines.append(UNTRUSTED_NOTE)
        return f"{self.name}\n" + "\n".join(lines)


def summarize(
    name: str,
    values: np.ndarray,
    generations: np.ndarray,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> Summary:
    """Summarise ``values`` of shape ``(len(generations), num_replicates, ...)`` over replicates,
    with the heavy-tail diagnostic of each standard error (see :class:`Summary`)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim < 2 or values.shape[0] != len(generations):
        raise InputError(
            f"values must have shape (len(generations)={len(generations)}, num_replicates, ...); "
            f"got {values.shape}"
        )
    quantiles = tuple(float(q) for q in quantiles)
    if any(not 0.0 <= q <= 1.0 for q in quantiles):
        raise InputError(f"quantiles must lie in [0, 1]; got {quantiles}")
    num_replicates = values.shape[1]
    std = values.std(axis=1, ddof=1) if num_replicates > 1 else np.full(values[:, 0].shape, np.nan)
    share = np.asarray(top_share(values, axis=1))
    return Summary(
        name=name,
        generations=np.asarray(generations),
        mean=values.mean(axis=1),
        std=std,
        stderr=std / np.sqrt(num_replicates),
        median=np.median(values, axis=1),
        quantiles=quantiles,
        quantile_values=np.quantile(values, quantiles, axis=1) if quantiles else np.empty((0,)),
        top_share=share,
        se_trusted=np.asarray(se_trusted(share)),
    )


@dataclass(frozen=True)
class SimulationResult:
    """Arrays recorded by a simulator, with the metadata needed to reproduce them.

    Attributes
    ----------
    generations : numpy.ndarray of int
        The recorded generations.
    trajectories : mapping of str to numpy.ndarray
        Arrays of shape ``(len(generations), num_replicates, ...)``, e.g. ``"var"``; read them
        with ``result[name]`` or ``result.at(name, generation)``.
    per_replicate : mapping of str to numpy.ndarray
        Arrays of shape ``(num_replicates, ...)`` (e.g. an absorption time).
    metadata : mapping
        Everything needed to reproduce the run: the simulator, its arguments, the seed, the
        versions (saved as ``metadata.json`` by ``save``).
    """

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
        generation = check_int("generation", generation, minimum=0)
        where = np.flatnonzero(self.generations == generation)
        if where.size == 0:
            raise InputError(
                f"generation {generation} was not recorded; recorded: {self.generations.tolist()[:20]}"
                + (" ..." if len(self.generations) > 20 else "")
            )
        return self.trajectories[name][where[0]]

    def summary(self, name: str, quantiles: Sequence[float] = DEFAULT_QUANTILES) -> Summary:
        """Mean, standard error, median and quantiles over replicates, per recorded generation,
        with the heavy-tail diagnostic of each standard error (``top_share``, ``se_trusted``;
        docs/theory.md §6)."""
        if name not in self.trajectories:
            raise KeyError(f"no trajectory named {name!r}; it has {sorted(self.trajectories)}")
        return summarize(name, self.trajectories[name], self.generations, quantiles)

    def save(self, path: str | Path, *, compress: bool | None = None) -> Path:
        """Write an ``.npz`` archive with a ``metadata.json`` member; returns its path.

        ``path`` gets the suffix ``.npz`` if it has another one (``save("run")`` writes
        ``run.npz``, which ``load("run")`` finds). Its directory must exist: nothing is created
        (:func:`collapse_theory._validate.check_output_file`).

        Parameters
        ----------
        path : str or pathlib.Path
        compress : bool, optional
            None (default): each array is compressed if a sample of it deflates to at most
            :data:`COMPRESS_BELOW_RATIO` of its size (categorical frequencies do, Gaussian
            doubles do not); True or False: every array is, or none.

        Warns
        -----
        UserWarning
            When the file is larger than :data:`LARGE_FILE_BYTES`, naming its size.
        """
        path = check_output_file("path", npz_path(path))
        arrays = {"generations": np.asarray(self.generations)}
        arrays.update({_TRAJECTORY_PREFIX + k: np.asarray(v) for k, v in self.trajectories.items()})
        arrays.update({_REPLICATE_PREFIX + k: np.asarray(v) for k, v in self.per_replicate.items()})
        with zipfile.ZipFile(path, "w", allowZip64=True) as archive:
            for name, array in arrays.items():
                squeeze = _compresses(array) if compress is None else bool(compress)
                _write_member(archive, f"{name}.npy", array, squeeze)
            info = zipfile.ZipInfo(_METADATA_MEMBER, date_time=_FIXED_DATE)
            archive.writestr(info, dumps(self.metadata, indent=2))
        size = path.stat().st_size
        if size > LARGE_FILE_BYTES:
            warnings.warn(
                f"wrote {format_bytes(size)} to {str(path)!r}: record fewer generations "
                "(record='last' or a list) or fewer replicates for a smaller file",
                UserWarning,
                stacklevel=2,
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> SimulationResult:
        """Read a result written by :meth:`save`, by the same name (``load("run")`` reads
        ``run.npz`` when there is no file ``run``)."""
        path = Path(path)
        if not path.exists() and npz_path(path).exists():
            path = npz_path(path)
        metadata = None
        try:
            with zipfile.ZipFile(path) as archive:
                if _METADATA_MEMBER in archive.namelist():
                    metadata = json.loads(archive.read(_METADATA_MEMBER))
        except zipfile.BadZipFile:
            pass
        if metadata is None:
            raise InputError(
                f"{path} is not a collapse_theory result: not an .npz archive with a "
                f"{_METADATA_MEMBER} member"
            )
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


def npz_path(path: str | Path) -> Path:
    """The file :meth:`SimulationResult.save` writes for ``path``: ``path`` itself if it ends
    in ``.npz``, else ``path`` with ``.npz`` appended (``run`` -> ``run.npz``,
    ``run.v2`` -> ``run.v2.npz``)."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def _compresses(array: np.ndarray) -> bool:
    """Whether a sample of ``array`` (up to 16 evenly spaced 64 KiB pieces) deflates to at most
    :data:`COMPRESS_BELOW_RATIO` of its size."""
    data = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
    if data.size == 0:
        return False
    starts = np.unique(np.linspace(0, max(data.size - _SAMPLE_CHUNK_BYTES, 0), _SAMPLE_CHUNKS))
    sample = b"".join(data[int(s) : int(s) + _SAMPLE_CHUNK_BYTES].tobytes() for s in starts)
    return len(zlib.compress(sample, 1)) <= COMPRESS_BELOW_RATIO * len(sample)


def _write_member(archive: zipfile.ZipFile, name: str, array: np.ndarray, compress: bool) -> None:
    """One ``.npy`` member, deflated or stored (``numpy.load`` reads both), with a fixed date
    so that equal results give equal bytes."""
    info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info._compresslevel = COMPRESS_LEVEL  # no public setter before Python 3.13 (compress_level)
    with archive.open(info, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


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
