r"""Kazdan et al.'s 2-D starts for the KDE chain, and distances of later datasets to the start.

:func:`named_start` draws one of the set-ups of "Collapse or thrive" (Kazdan et al. 2024) from
scikit-learn's generators (``blobs``, ``moons``, ``circles``, ``swiss_roll``: the (x, z)
coordinates of the 3-D roll), with a fixed seed; its empirical distribution is model 0 of
:func:`collapse_theory.kde.simulate`. :func:`distance_to_start` measures dataset n against the
start, by the energy distance

.. math:: \mathcal E(X, Y) = 2E\|X - Y\| - E\|X - X'\| - E\|Y - Y'\|

(V-statistics of the two point sets; zero iff the laws agree) or by the exact Wasserstein-2
distance between two point sets of equal size (an optimal assignment).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from collapse_theory._validate import (
    InputError,
    as_float_array,
    check_choice,
    check_int,
    check_real,
)
from collapse_theory.results import SimulationResult
from collapse_theory.rng import SeedLike, as_seed_sequence

__all__ = ["STARTS", "distance_to_start", "energy_distance", "named_start", "w2_points"]

#: The named starts.
STARTS = ("blobs", "moons", "circles", "swiss_roll")


def named_start(
    name: str, num_points: int = 500, *, noise: float = 0.05, seed: SeedLike = 0
) -> np.ndarray:
    """``num_points`` points (N, 2) of a Kazdan et al. set-up, from scikit-learn's generators.

    Parameters
    ----------
    name : "blobs", "moons", "circles" or "swiss_roll"
    num_points : int >= 2
    noise : float >= 0
        The generators' noise (blobs: the clusters' standard deviation is 1 + noise).
    seed : None, int, SeedSequence or Generator
        The generator's seed (an int passed to scikit-learn is derived from it).

    Returns
    -------
    numpy.ndarray, shape (num_points, 2)
        The points, float64 and C-contiguous (for swiss_roll the (x, z) coordinates).

    Examples
    --------
    >>> named_start("moons", 100).shape
    (100, 2)
    """
    check_choice("name", name, STARTS)
    n = check_int("num_points", num_points, minimum=2)
    noise = check_real("noise", noise, minimum=0.0)
    state = int(as_seed_sequence(seed).generate_state(1)[0] % (2**31 - 1))
    try:
        from sklearn import datasets
    except ImportError as error:  # pragma: no cover - scikit-learn is a test dependency
        raise ImportError(
            "named_start needs scikit-learn (pip install scikit-learn); or pass your own points"
        ) from error
    if name == "blobs":
        points, _ = datasets.make_blobs(
            n, n_features=2, cluster_std=1.0 + noise, random_state=state
        )
    elif name == "moons":
        points, _ = datasets.make_moons(n, noise=noise, random_state=state)
    elif name == "circles":
        points, _ = datasets.make_circles(n, noise=noise, factor=0.5, random_state=state)
    else:
        roll, _ = datasets.make_swiss_roll(n, noise=noise, random_state=state)
        points = roll[:, [0, 2]]
    return np.ascontiguousarray(points, dtype=np.float64)


def _points(name: str, value: ArrayLike) -> np.ndarray:
    points = as_float_array(name, value)
    if points.ndim == 1:
        points = points[:, None]
    if points.ndim != 2 or points.shape[0] < 1:
        raise InputError(f"{name} must be points of shape (N,) or (N, d); got {points.shape}")
    return points


def energy_distance(x: ArrayLike, y: ArrayLike) -> float:
    r"""Energy distance between the empirical laws of two point sets (V-statistics).

    :math:`\mathcal E = 2\,\overline{\|x_i - y_j\|} - \overline{\|x_i - x_{i'}\|}
    - \overline{\|y_j - y_{j'}\|}`, the averages over all pairs (diagonals included).

    Parameters
    ----------
    x : array_like, shape (N,) or (N, d)
        First point set (a 1-D array is N points in one dimension).
    y : array_like, shape (L,) or (L, d)
        Second point set, of the same dimension d as ``x``.

    Returns
    -------
    float
        The energy distance, >= 0 (rounding below 0 is clipped); 0 iff the empirical laws
        agree.

    Examples
    --------
    >>> energy_distance([[0.0], [1.0]], [[0.0], [1.0]])
    0.0
    """
    a, b = _points("x", x), _points("y", y)
    if a.shape[1] != b.shape[1]:
        raise InputError(f"x and y must have the same dimension; got {a.shape} and {b.shape}")
    value = 2.0 * cdist(a, b).mean() - cdist(a, a).mean() - cdist(b, b).mean()
    return max(float(value), 0.0)


def w2_points(x: ArrayLike, y: ArrayLike) -> float:
    r"""Exact Wasserstein-2 distance between two point sets of equal size (uniform weights): the
    square root of the mean squared distance of the optimal assignment.

    :math:`W_2 = \min_\pi \bigl(\tfrac1N \sum_i \|x_i - y_{\pi(i)}\|^2\bigr)^{1/2}` over the
    permutations :math:`\pi` (solved by :func:`scipy.optimize.linear_sum_assignment`).

    Parameters
    ----------
    x : array_like, shape (N,) or (N, d)
        First point set (a 1-D array is N points in one dimension).
    y : array_like, shape (N,) or (N, d)
        Second point set, of the same shape as ``x``.

    Returns
    -------
    float
        The Wasserstein-2 distance between the two empirical laws, >= 0.

    Examples
    --------
    >>> w2_points([[0.0], [2.0]], [[1.0], [3.0]])
    1.0
    """
    a, b = _points("x", x), _points("y", y)
    if a.shape != b.shape:
        raise InputError(f"x and y must have the same shape for w2; got {a.shape} and {b.shape}")
    cost = cdist(a, b, "sqeuclidean")
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))


def distance_to_start(
    run: SimulationResult, start: ArrayLike, *, metric: str = "energy"
) -> np.ndarray:
    """Distance of each recorded dataset n of ``run`` (``record_datasets=True``) to the start
    points: an array (len(run.generations), R).

    Parameters
    ----------
    run : SimulationResult
        A run of :func:`collapse_theory.kde.simulate` with ``record_datasets=True``.
    start : array_like, shape (N,) or (N, d)
        The start points (model 0's data, e.g. from :func:`named_start`).
    metric : {"energy", "w2"}, default "energy"
        :func:`energy_distance`, or :func:`w2_points` (which needs M = the number of start
        points).

    Returns
    -------
    numpy.ndarray, shape (len(run.generations), R)
        The distance of dataset n of replicate r to the start points.
    """
    check_choice("metric", metric, ("energy", "w2"))
    if "dataset" not in run.trajectories:
        raise InputError("run must be simulated with record_datasets=True to hold its datasets")
    points = _points("start", start)
    distance = energy_distance if metric == "energy" else w2_points
    datasets = run["dataset"]
    return np.array(
        [
            [distance(datasets[g, r], points) for r in range(datasets.shape[1])]
            for g in range(datasets.shape[0])
        ]
    )
