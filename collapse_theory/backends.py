"""Simulation backends: which are available, and which one a call uses.

Every simulator takes ``backend=None | "numba" | "jax"``. ``None`` means the current default,
``"numba"`` unless changed with :func:`use` (``collapse-theory verify --backend jax`` runs the
whole suite that way). The jax kernels compute in float64 unless :func:`use` asks for
``dtype="float32"`` (see ``docs/backends.md`` for its error).

The helpers at the end (:func:`jax_block_keys`, :func:`run_jax_batches`) are shared by the three
``_jax.py`` kernel modules: they turn the seed into one jax key per fixed replicate block
(:mod:`collapse_theory.rng`), so the jax results, like the numba ones, depend only on the seed and
the replicate count, never on how the blocks are batched.

Examples
--------
>>> resolve(None)
'numba'
>>> with use("numba"):
...     resolve(None)
'numba'
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.metadata
import importlib.util
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import InputError, check_choice, check_int
from collapse_theory.progress import progress_bar
from collapse_theory.rng import BLOCK_SIZE, SeedLike, as_seed_sequence, block_bounds

if TYPE_CHECKING:
    import jax

__all__ = [
    "BACKENDS",
    "DTYPES",
    "available",
    "jax_block_keys",
    "jax_blocks",
    "jax_devices",
    "jax_dtype",
    "jax_replicate_keys",
    "resolve",
    "run_jax_batches",
    "use",
]

BACKENDS = ("numba", "jax")
#: Floating-point types of the jax kernels (numba always computes in float64).
DTYPES = ("float64", "float32")
#: Replicate blocks per jax device call when ``chunk_size`` is left at 1 (16384 replicates).
JAX_BLOCKS_PER_CALL = 64

_DEFAULT = contextvars.ContextVar("collapse_theory_backend", default="numba")
_JAX_DTYPE = contextvars.ContextVar("collapse_theory_jax_dtype", default="float64")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def jax_devices() -> list[str]:
    """The devices jax would run on (``[]`` when jax is not installed), e.g. ``['cpu:0']``.

    Returns
    -------
    list of str
        ``"<platform>:<id>"`` of every device jax sees.
    """
    if importlib.util.find_spec("jax") is None:
        return []
    import jax

    return [f"{device.platform}:{device.id}" for device in jax.devices()]


def available() -> dict[str, dict[str, object]]:
    """Each backend with whether it can run here, its version and (for jax) its devices.

    Returns
    -------
    dict
        ``{"numba": {"available": True, "version": ...}, "jax": {"available": ...,
        "version": ..., "devices": [...]}}``.
    """
    jax_version = _version("jax")
    return {
        "numba": {"available": True, "version": _version("numba")},
        "jax": {
            "available": jax_version is not None,
            "version": jax_version,
            "devices": jax_devices() if jax_version is not None else [],
        },
    }


def resolve(backend: str | None, *, not_on_jax: str | None = None) -> str:
    """The backend a call uses: ``backend`` itself, or the current default when it is ``None``.

    Parameters
    ----------
    backend : {"numba", "jax"} or None
        The backend asked for; ``None`` takes the default (``"numba"`` unless :func:`use` says).
    not_on_jax : str, optional
        Why this call cannot run on jax (None: it can). Then jax as the *default* falls back to
        numba, and ``backend="jax"`` asked for explicitly raises an InputError with this text.

    Returns
    -------
    str
        One of :data:`BACKENDS`.

    Raises
    ------
    ValueError
        If ``backend`` is not one of :data:`BACKENDS`, or is ``"jax"`` with ``not_on_jax``.
    ImportError
        If ``backend`` is ``"jax"`` and jax is not installed (with the command that installs it).
    """
    name = _DEFAULT.get() if backend is None else backend
    check_choice("backend", name, BACKENDS)
    if name == "jax" and not_on_jax is not None:
        if backend is None:
            return "numba"  # jax is only the default: run what it cannot on numba
        raise InputError(not_on_jax)
    if name == "jax" and importlib.util.find_spec("jax") is None:
        raise ImportError(
            "backend='jax' needs jax, which is not installed; "
            "install it with: python3 -m pip install 'collapse_theory[jax]'"
        )
    return name


@contextlib.contextmanager
def use(backend: str, *, dtype: str | None = None) -> Iterator[str]:
    """Make ``backend`` the default of every simulator inside a ``with`` block.

    Parameters
    ----------
    backend : {"numba", "jax"}
        Checked with :func:`resolve`, so a missing jax fails here, not deep in a run.
    dtype : {"float64", "float32"}, optional
        Floating-point type of the jax kernels inside the block (default: unchanged, float64 at
        first). float32 is faster on most GPUs; its relative error grows like
        ``n * 6e-8`` over n generations (``docs/backends.md``). Ignored by numba.

    Yields
    ------
    str
        The backend, resolved.

    Examples
    --------
    >>> with use("numba", dtype="float32"):
    ...     jax_dtype()
    'float32'
    >>> jax_dtype()
    'float64'
    """
    name = resolve(backend)
    if dtype is not None:
        check_choice("dtype", dtype, DTYPES)  # before anything is set: a bad call changes nothing
    token = _DEFAULT.set(name)
    dtype_token = None if dtype is None else _JAX_DTYPE.set(dtype)
    try:
        yield name
    finally:
        if dtype_token is not None:
            _JAX_DTYPE.reset(dtype_token)
        _DEFAULT.reset(token)


def jax_dtype() -> str:
    """The floating-point type the jax kernels use now: ``"float64"`` unless :func:`use` says.

    Returns
    -------
    str
        ``"float64"`` or ``"float32"``.
    """
    return _JAX_DTYPE.get()


def jax_block_keys(children: Sequence[np.random.SeedSequence]) -> np.ndarray:
    """Raw threefry key data, shape (number of blocks, 2) uint32, one row per replicate block.

    ``children`` are the blocks' SeedSequences, ``root.spawn(number of blocks)`` as in
    :func:`collapse_theory.rng.block_generators`. Block ``b`` takes its key from the first child
    of ``children[b]``, built without spawning, so that a host ``Generator`` of the same block
    (``PCG64(children[b])``, e.g. for ``data0``) stays independent of it.

    Parameters
    ----------
    children : sequence of numpy.random.SeedSequence
        One per replicate block, in block order.

    Returns
    -------
    numpy.ndarray, shape (len(children), 2), uint32
        Row ``b`` is the threefry key data of block ``b``.
    """
    rows = [
        np.random.SeedSequence(child.entropy, spawn_key=(*child.spawn_key, 0)).generate_state(
            2, np.uint32
        )
        for child in children
    ]
    return np.array(rows, dtype=np.uint32).reshape(-1, 2)


def jax_blocks(
    seed: SeedLike, num_replicates: int, chunk_size: int, num_threads: int | None = None
) -> tuple[np.random.SeedSequence, list[np.random.SeedSequence], int]:
    """The preamble every jax simulator shares: ``chunk_size`` checked (and ``num_threads``,
    unused by jax but checked as the numba path does), then the root SeedSequence and one child
    per replicate block (the children :func:`jax_block_keys` takes keys from).

    Parameters
    ----------
    seed : None, int, SeedSequence or Generator
        Root seed of the simulation.
    num_replicates : int
        Number of replicates (>= 1); the blocks are ``ceil(num_replicates / BLOCK_SIZE)``.
    chunk_size : int
        Replicate blocks per device call (>= 1; 1 means :data:`JAX_BLOCKS_PER_CALL`).
    num_threads : int, optional
        Checked as the numba path checks it, unused by jax.

    Returns
    -------
    root : numpy.random.SeedSequence
        The root of every stream of the simulation.
    children : list of numpy.random.SeedSequence
        One per replicate block.
    chunk_size : int
        ``chunk_size``, checked.
    """
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    if num_threads is not None:
        check_int("num_threads", num_threads, minimum=1)
    root = as_seed_sequence(seed)
    return root, root.spawn(len(block_bounds(num_replicates))), chunk_size


def run_jax_batches(
    call: Callable[[np.ndarray, int, int, int], Sequence[ArrayLike]],
    block_keys: np.ndarray,
    num_replicates: int,
    *,
    chunk_size: int,
    label: str,
    progress: bool,
) -> list[np.ndarray]:
    """Run ``call(keys, width, start, stop)`` over batches of whole replicate blocks; join the
    results.

    ``keys`` holds the key rows of the batch's blocks, always ``blocks_per_call`` of them (the
    last batch is padded with repeated keys and its extra replicates dropped), and ``width`` is
    the number of chains the device runs, ``min(num_replicates, blocks_per_call * BLOCK_SIZE)``
    for every batch: a simulation compiles one shape whatever ``num_replicates``' remainder, and
    fewer than one block of replicates costs no padding. ``start:stop`` are the batch's
    replicates (for per-replicate inputs). ``call`` returns arrays with the replicate axis first.
    ``blocks_per_call`` is ``chunk_size`` if above 1, else :data:`JAX_BLOCKS_PER_CALL`, capped at
    the number of blocks. Results depend only on the keys, not on the batching.

    Parameters
    ----------
    call : callable
        ``call(keys, width, start, stop) -> sequence of arrays``, replicate axis first.
    block_keys : numpy.ndarray, shape (blocks, 2)
        Key rows of :func:`jax_block_keys`.
    num_replicates : int
        Replicates of the simulation.
    chunk_size : int
        Blocks per call (1: :data:`JAX_BLOCKS_PER_CALL`).
    label : str
        Name shown on the progress bar.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    list of numpy.ndarray
        The arrays ``call`` returns, each joined over the batches along axis 0 and cut to
        ``num_replicates``.
    """
    num_blocks = block_keys.shape[0]
    per_call = chunk_size if chunk_size > 1 else JAX_BLOCKS_PER_CALL
    per_call = min(per_call, num_blocks)
    width = min(num_replicates, per_call * BLOCK_SIZE)
    batches = [(b, min(b + per_call, num_blocks)) for b in range(0, num_blocks, per_call)]
    pieces: list[Sequence[np.ndarray]] = []
    with progress_bar(len(batches), label, enabled=progress) as advance:
        for first, last in batches:
            keys = block_keys[first:last]
            if keys.shape[0] < per_call:
                keys = np.concatenate([keys, np.repeat(keys[-1:], per_call - keys.shape[0], 0)])
            start = first * BLOCK_SIZE
            stop = min(last * BLOCK_SIZE, num_replicates)
            outputs = call(keys, width, start, stop)
            pieces.append([np.asarray(o)[: stop - start] for o in outputs])
            advance(1)
    return [np.concatenate([piece[i] for piece in pieces]) for i in range(len(pieces[0]))]


def jax_replicate_keys(block_key_data: jax.Array, width: int) -> jax.Array:
    """Inside jitted code: the (blocks, 2) uint32 key rows become one threefry key per replicate,
    ``split(block_key, BLOCK_SIZE)``, in block order; the first ``width`` of them.

    Parameters
    ----------
    block_key_data : jax.Array, shape (blocks, 2), uint32
        Key rows of :func:`jax_block_keys`.
    width : int
        Number of replicate keys wanted (<= blocks x BLOCK_SIZE).

    Returns
    -------
    jax.Array, shape (width,)
        One typed threefry key per replicate.
    """
    import jax

    keys = jax.random.wrap_key_data(block_key_data, impl="threefry2x32")
    return jax.vmap(lambda key: jax.random.split(key, BLOCK_SIZE))(keys).reshape(-1)[:width]
