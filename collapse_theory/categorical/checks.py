"""Checks of the categorical model (docs/theory.md §1, neutral Wright–Fisher).

Monte Carlo checks compare a closed form of :mod:`collapse_theory.categorical` with the simulator
:func:`collapse_theory.categorical.simulate`; exact checks compare it with brute force (dense
binomial chains, the chain on all compositions) or with the formula written out in docs/theory.md.
Closed forms are looked up on :mod:`collapse_theory.categorical` when a check runs, so a patched
function is what gets checked.

Standard errors: means use ``std / sqrt(R)`` with the heavy-tail diagnostic of that error
(:func:`collapse_theory._stats.mean_estimate`, docs/theory.md §6); proportions (means of
indicators) the same ``std / sqrt(R)`` without it (a proportion's SE is sound however rare the
event, while the largest 1 % of an indicator carry most of its spread whenever p <~ 1 %);
sample variances use the fourth central moment, ``SE(s^2) = sqrt((m4 - s^4) / R)``; sample
covariances the spread of the centred products.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate

from collapse_theory._stats import covariance_se, mean_estimate, mean_se, variance_se
from collapse_theory.categorical.theory import zipf
from collapse_theory.regimes import Accumulate, FreshData, Replace
from collapse_theory.results import SimulationResult
from collapse_theory.rng import SeedLike
from collapse_theory.verify.registry import EstimateResult, Estimator, add_check

__all__ = ["K4", "ZIPF_30"]

FAMILY = "categorical"

#: The four-state example of docs/theory.md §1.1–1.3, 1.6.
K4 = (0.5, 0.3, 0.15, 0.05)


#: The 30-state Zipf(1.2) example of docs/theory.md §1.4 and §1.9.
ZIPF_30 = zipf(30, 1.2)


# --------------------------------------------------------------------------------------------
# access to the library (looked up at run time)


def _ct() -> ModuleType:
    import collapse_theory.categorical as categorical

    return categorical


def _theory(name: str) -> Callable[..., Any]:  # what it returns depends on ``name``
    """``collapse_theory.categorical.<name>``, or a clear error if it is not implemented yet."""
    module = _ct()
    function = getattr(module, name, None)
    if function is None:
        raise NotImplementedError(f"collapse_theory.categorical.{name} is not implemented")
    return function


def _simulate(
    p0: ArrayLike,
    num_samples: int,
    generations: int,
    seed: SeedLike,
    replicates: int,
    **kw: object,
) -> SimulationResult:
    return _ct().simulate(
        np.asarray(p0, dtype=np.float64),
        num_samples,
        generations,
        num_replicates=replicates,
        seed=seed,
        **kw,
    )


def _composition_chain(num_states: int, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(compositions (S, K) of counts, dense transition matrix (S, S)) from the library's chain."""
    from collapse_theory.categorical import markov

    chain = markov.composition_chain(num_states, num_samples)
    if isinstance(chain, tuple):
        states, matrix = chain
    else:
        states = getattr(chain, "states", None)
        if states is None:
            states = chain.compositions
        matrix = getattr(chain, "matrix", None)
        if matrix is None:
            matrix = chain.transition_matrix
    if hasattr(matrix, "toarray"):
        matrix = matrix.toarray()
    return np.asarray(states), np.asarray(matrix, dtype=np.float64)


def binomial_chain(num_samples: int) -> np.ndarray:
    """Dense (M+1)x(M+1) 2-state Wright–Fisher matrix ``P_jk = C(M,k)(j/M)^k(1-j/M)^(M-k)``."""
    from scipy.stats import binom

    counts = np.arange(num_samples + 1)
    return binom.pmf(counts[None, :], num_samples, counts[:, None] / num_samples)


def dense_loss_probability(p: float, num_samples: int, generations: int) -> float:
    """``[b(p)^T P^(n-1)]_0`` by dense vector-matrix products (docs/theory.md §1.4, brute force)."""
    from scipy.stats import binom

    vector = binom.pmf(np.arange(num_samples + 1), num_samples, p)
    matrix = binomial_chain(num_samples)
    for _ in range(generations - 1):
        vector = vector @ matrix
    return float(vector[0])


def _start_state(states: np.ndarray, counts: np.ndarray) -> int:
    where = np.flatnonzero((states == counts[None, :]).all(axis=1))
    if where.size != 1:
        raise ValueError(f"composition {counts.tolist()} not found in the chain")
    return int(where[0])


def _absorbing(states: np.ndarray) -> np.ndarray:
    return np.count_nonzero(states, axis=1) <= 1


# --------------------------------------------------------------------------------------------
# registration helpers


_register = functools.partial(add_check, FAMILY)


def _replicates(quick: bool, quick_size: int, full_size: int) -> int:
    return quick_size if quick else full_size


# Sizes: quick runs use 1/20 of the full replicates (the cold start of `verify --quick`, issue 13).
# K=4 chains are cheap (R=1e5, n=10 in ~0.1 s); K=30 and fresh-data chains cost more.
Q_SMALL, F_SMALL = 100_000, 2_000_000
Q_LARGE, F_LARGE = 50_000, 1_000_000

# --------------------------------------------------------------------------------------------
# §1.1 absorption bound (exact chain on all compositions)

_BOUND = {"p0": list(K4), "M": 20, "n": 100}


def _exact_not_absorbed(p0: tuple[float, ...], num_samples: int, generations: int) -> float:
    """P(T_abs > n) from the chain on all compositions, started at ``M p0``."""
    states, matrix = _composition_chain(len(p0), num_samples)
    start = _start_state(states, np.rint(np.asarray(p0) * num_samples).astype(states.dtype))
    vector = np.zeros(len(states))
    vector[start] = 1.0
    for _ in range(generations):
        vector = vector @ matrix
    return float(vector[~_absorbing(states)].sum())


_register(
    "absorption_bound",
    "§1.1",
    "P(T_abs > n) from the exact composition chain (1771 states) <= M^2 H0 lambda2^n / (2(M-1))",
    _BOUND,
    lambda: float(_theory("absorption_bound")(np.asarray(K4), 20, 100)),
    lambda ss, quick: (_exact_not_absorbed(K4, 20, 100), 0.0),
    kind="upper-bound",
    tolerance=0.0,
)

# --------------------------------------------------------------------------------------------
# §1.2 martingale and fixation


def _martingale(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    run = _simulate(K4, 20, 50, ss, _replicates(quick, Q_SMALL, F_SMALL), record="last")
    return mean_estimate(run["p"][-1, :, 3])


_register(
    "martingale_mean",
    "§1.2",
    "E p_{n,i} = p_{0,i} for the rarest state (p=.05) at n=50, when most chains have lost it",
    {"p0": list(K4), "M": 20, "n": 50, "state": 3},
    lambda: float(np.asarray(_theory("moments")(np.asarray(K4), 20, 50, Replace())[0])[3]),
    _martingale,
    quick=Q_SMALL,
    full=F_SMALL,
)

_FIXATION_N = 600  # P(T_abs > 600) <= 4e-2 * 0.95^500 ~ 3e-13


def _fixation(state: int) -> Estimator:
    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        run = _simulate(
            K4, 20, _FIXATION_N, ss, _replicates(quick, Q_SMALL, F_SMALL), record="last"
        )
        return mean_se(run["p"][-1, :, state] == 1.0)

    return estimate


for _state, _label in ((0, "first"), (3, "rarest")):
    _register(
        f"fixation_{_label}",
        "§1.2",
        f"P(state {_state} is the last survivor) = p_{{0,{_state}}}, chains run to absorption",
        {"p0": list(K4), "M": 20, "n": _FIXATION_N, "state": _state},
        (lambda s=_state: float(np.asarray(_theory("fixation_probabilities")(np.asarray(K4)))[s])),
        _fixation(_state),
        quick=Q_SMALL,
        full=F_SMALL,
    )

# --------------------------------------------------------------------------------------------
# §1.3 second moments


def _heterozygosity(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    run = _simulate(K4, 20, 10, ss, _replicates(quick, Q_SMALL, F_SMALL), record="last")
    return mean_estimate(_ct().heterozygosity(run["p"][-1]))


_register(
    "heterozygosity",
    "§1.3",
    "E H_n = H0 (1 - 1/M)^n",
    {"p0": list(K4), "M": 20, "n": 10},
    lambda: float(_theory("expected_heterozygosity")(np.asarray(K4), 20, 10)),
    _heterozygosity,
    quick=Q_SMALL,
    full=F_SMALL,
)


def _variance(state: int) -> Estimator:
    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        run = _simulate(K4, 20, 10, ss, _replicates(quick, Q_SMALL, F_SMALL), record="last")
        return variance_se(run["p"][-1, :, state])

    return estimate


for _state, _label in ((0, "first"), (3, "rarest")):
    _register(
        f"variance_{_label}",
        "§1.3",
        f"Var p_{{n,{_state}}} = p(1-p)(1-lambda2^n) (moments, replace); SE from the 4th moment",
        {"p0": list(K4), "M": 20, "n": 10, "state": _state},
        (
            lambda s=_state: float(
                np.asarray(_theory("moments")(np.asarray(K4), 20, 10, Replace())[1])[s, s]
            )
        ),
        _variance(_state),
        quick=Q_SMALL,
        full=F_SMALL,
    )


def _covariance(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    run = _simulate(K4, 20, 10, ss, _replicates(quick, Q_SMALL, F_SMALL), record="last")
    return covariance_se(run["p"][-1, :, 0], run["p"][-1, :, 1])


_register(
    "covariance",
    "§1.3",
    "Cov(p_{n,0}, p_{n,1}) = -p_0 p_1 (1-lambda2^n) (moments, replace)",
    {"p0": list(K4), "M": 20, "n": 10, "states": [0, 1]},
    lambda: float(np.asarray(_theory("moments")(np.asarray(K4), 20, 10, Replace())[1])[0, 1]),
    _covariance,
    quick=Q_SMALL,
    full=F_SMALL,
)

# --------------------------------------------------------------------------------------------
# §1.4 loss of states

_ZIPF_PARAMS = {"p0": "zipf(1.2), K=30", "M": 50}
_RAREST = float(ZIPF_30[-1])


def _survivors(generation: int) -> Estimator:
    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        run = _simulate(
            ZIPF_30, 50, generation, ss, _replicates(quick, Q_LARGE, F_LARGE), record="last"
        )
        return mean_estimate(_ct().num_surviving(run["p"][-1]))

    return estimate


for _n in (1, 5, 20):
    _register(
        f"survivors_n{_n}",
        "§1.4",
        "E N_n = sum_i (1 - P(p_{n,i} = 0)), exact by lumping",
        {**_ZIPF_PARAMS, "n": _n},
        (lambda n=_n: float(_theory("expected_survivors")(ZIPF_30, 50, n))),
        _survivors(_n),
        quick=Q_LARGE,
        full=F_LARGE,
    )


def _loss_rarest(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    run = _simulate(ZIPF_30, 50, 20, ss, _replicates(quick, Q_LARGE, F_LARGE), record="last")
    return mean_se(run["p"][-1, :, -1] == 0.0)


_register(
    "loss_rarest",
    "§1.4",
    "P(rarest state lost by n), exact lumped 2-state chain",
    {**_ZIPF_PARAMS, "n": 20, "p": round(_RAREST, 6)},
    lambda: float(_theory("loss_probability")(_RAREST, 50, 20)),
    _loss_rarest,
    quick=Q_LARGE,
    full=F_LARGE,
)

_register(
    "loss_one_generation",
    "§1.4",
    "loss_probability after one generation equals (1-p)^M",
    {"p": round(_RAREST, 6), "M": 50, "n": 1},
    lambda: float(_theory("loss_probability")(_RAREST, 50, 1)),
    lambda ss, quick: ((1.0 - _RAREST) ** 50, 0.0),
    kind="exact",
    tolerance=1e-13,
)

_register(
    "loss_dense_chain",
    "§1.4",
    "exact loss_probability vs dense iteration b^T P^(n-1) (p off the lattice j/M)",
    {"p": round(_RAREST, 6), "M": 50, "n": 20},
    lambda: float(_theory("loss_probability")(_RAREST, 50, 20)),
    lambda ss, quick: (dense_loss_probability(_RAREST, 50, 20), 0.0),
    kind="exact",
    tolerance=1e-12,
)


def _galton_watson_formula(p: float, num_samples: int, generations: int) -> float:
    q = 0.0
    for _ in range(generations - 1):
        q = math.exp(q - 1.0)
    return math.exp(-num_samples * p * (1.0 - q))


_register(
    "loss_galton_watson",
    "§1.4",
    "method='galton-watson' equals exp(-Mp(1-q_{n-1})), q_j = exp(q_{j-1}-1)",
    {"p": round(_RAREST, 6), "M": 50, "n": 20},
    lambda: float(_theory("loss_probability")(_RAREST, 50, 20, method="galton-watson")),
    lambda ss, quick: (_galton_watson_formula(_RAREST, 50, 20), 0.0),
    kind="exact",
    tolerance=1e-12,
)

_register(
    "loss_feller",
    "§1.4",
    "method='feller' equals exp(-2Mp/n)",
    {"p": round(_RAREST, 6), "M": 50, "n": 20},
    lambda: float(_theory("loss_probability")(_RAREST, 50, 20, method="feller")),
    lambda ss, quick: (math.exp(-2 * 50 * _RAREST / 20), 0.0),
    kind="exact",
    tolerance=1e-12,
)


def _transition_error(num_samples: int) -> float:
    matrix = np.asarray(_theory("transition_matrix")(num_samples), dtype=np.float64)
    brute = binomial_chain(num_samples)
    if matrix.shape != brute.shape:
        return math.inf
    return float(np.max(np.abs(matrix - brute)))


_register(
    "transition_matrix",
    "§1.4",
    "transition_matrix(M) vs P_jk = C(M,k)(j/M)^k(1-j/M)^(M-k) from scipy (max abs error)",
    {"M": 50},
    lambda: 0.0,
    lambda ss, quick: (_transition_error(50), 0.0),
    kind="exact",
    tolerance=1e-13,
)

# --------------------------------------------------------------------------------------------
# §1.5 eigenvalues


def _expanded_eigenvalues(num_samples: int, num_states: int) -> np.ndarray:
    values, multiplicities = _theory("eigenvalues")(num_samples, num_states)
    return np.sort(np.repeat(np.asarray(values, float), np.asarray(multiplicities, int)))


def _eigen_error(num_samples: int, num_states: int) -> float:
    """Max |sorted brute-force eigenvalue - sorted closed-form eigenvalue| (inf on a count mismatch)."""
    if num_states == 2:
        matrix = binomial_chain(num_samples)
    else:
        matrix = _composition_chain(num_states, num_samples)[1]
    brute = np.sort(np.linalg.eigvals(matrix).real)
    closed = _expanded_eigenvalues(num_samples, num_states)
    if brute.shape != closed.shape:
        return math.inf
    return float(np.max(np.abs(brute - closed)))


_register(
    "eigenvalues",
    "§1.5",
    "spectrum with multiplicities vs eigenvalues of the dense composition chain (max abs error)",
    {"K": 3, "M": 8, "states": 45},
    lambda: 0.0,
    lambda ss, quick: (_eigen_error(8, 3), 0.0),
    kind="exact",
    tolerance=1e-9,
)

_register(
    "eigenvalues_two_state",
    "§1.5",
    "lambda_k = prod_{j<k}(1 - j/M) vs eigenvalues of the dense binomial chain (max abs error)",
    {"K": 2, "M": 12},
    lambda: 0.0,
    lambda ss, quick: (_eigen_error(12, 2), 0.0),
    kind="exact",
    tolerance=1e-9,
)

# --------------------------------------------------------------------------------------------
# §1.6 absorption time


def _absorption_mean(p0: ArrayLike, num_samples: int, method: str) -> float:
    result = _theory("absorption_time")(
        np.asarray(p0, dtype=np.float64), num_samples, method=method
    )
    return float(getattr(result, "mean", result))


def _absorption_mc(p0: tuple[float, ...], num_samples: int, generations: int) -> Estimator:
    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        run = _simulate(
            p0, num_samples, generations, ss, _replicates(quick, Q_SMALL, F_SMALL), record="last"
        )
        absorbed = run["absorbed_at"].astype(np.float64)
        if np.any(absorbed < 0):
            raise RuntimeError(
                f"{int(np.sum(absorbed < 0))} chains not absorbed within {generations} generations"
            )
        return mean_estimate(absorbed)

    return estimate


_register(
    "absorption_time",
    "§1.6",
    "E T_abs (exact fundamental matrix on compositions) vs MC mean of absorbed_at",
    {"p0": list(K4), "M": 20},
    lambda: _absorption_mean(K4, 20, "exact"),
    _absorption_mc(K4, 20, _FIXATION_N),
    quick=Q_SMALL,
    full=F_SMALL,
)

_register(
    "absorption_time_two_state",
    "§1.6",
    "E T_abs of the 2-state chain at p=1/2 (exact (I-Q)^-1 1) vs MC",
    {"p0": [0.5, 0.5], "M": 50},
    lambda: _absorption_mean((0.5, 0.5), 50, "exact"),
    _absorption_mc((0.5, 0.5), 50, 2000),
    quick=Q_SMALL,
    full=F_SMALL,
)


def _absorption_survival_mc(p: float, num_samples: int, generations: int) -> Estimator:
    """MC proportion of 2-state chains with both states still present after ``generations``."""

    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        run = _simulate(
            (p, 1.0 - p),
            num_samples,
            generations,
            ss,
            _replicates(quick, Q_SMALL, F_SMALL),
            record="last",
        )
        return mean_se((run["absorbed_at"] < 0).astype(np.float64))

    return estimate


_register(
    "absorption_time_law",
    "§1.6",
    "P(T_abs > n) of two states (exact lumped chain) vs MC proportion not yet absorbed",
    {"p0": [0.3, 0.7], "M": 50, "n": 60},
    lambda: float(_theory("absorption_time_survival")(0.3, 50, 60)),
    _absorption_survival_mc(0.3, 50, 60),
    quick=Q_SMALL,
    full=F_SMALL,
)


def _integrated_diffusion_survival(p: float, num_samples: int) -> float:
    """∫_0^∞ P(T > t) dt of Kimura's series by adaptive quadrature (the mean absorption time)."""
    survival = _theory("absorption_time_survival")

    def integrand(t: float) -> float:
        return float(survival(p, num_samples, [t], method="diffusion")[0])

    head, _ = integrate.quad(integrand, 0.0, num_samples, epsabs=1e-10, limit=200)
    tail, _ = integrate.quad(integrand, num_samples, 60.0 * num_samples, epsabs=1e-10, limit=200)
    return head + tail


_register(
    "absorption_time_diffusion_law",
    "§1.6",
    "integral of Kimura's series for P(T > t) vs the diffusion mean -2M[p ln p + q ln q]",
    {"p": 0.3, "M": 100},
    lambda: _absorption_mean((0.3, 0.7), 100, "diffusion"),
    lambda ss, quick: (_integrated_diffusion_survival(0.3, 100), 0.0),
    kind="exact",
    tolerance=1e-6,
)


def _fundamental_absorption_time(p0: tuple[float, ...], num_samples: int) -> float:
    """E T_abs = [(I - Q)^-1 1]_start on the transient compositions (brute force)."""
    states, matrix = _composition_chain(len(p0), num_samples)
    transient = ~_absorbing(states)
    start = _start_state(states, np.rint(np.asarray(p0) * num_samples).astype(states.dtype))
    index = np.cumsum(transient) - 1
    q = matrix[np.ix_(transient, transient)]
    times = np.linalg.solve(np.eye(q.shape[0]) - q, np.ones(q.shape[0]))
    return float(times[index[start]])


_register(
    "absorption_time_exact",
    "§1.6",
    "absorption_time(method='exact') vs (I-Q)^-1 1 on the dense composition chain",
    {"p0": list(K4), "M": 20},
    lambda: _absorption_mean(K4, 20, "exact"),
    lambda ss, quick: (_fundamental_absorption_time(K4, 20), 0.0),
    kind="exact",
    tolerance=1e-8,
)


def _littler(p0: tuple[float, ...], num_samples: int) -> float:
    q = 1.0 - np.asarray(p0, dtype=np.float64)
    return float(-2.0 * num_samples * np.sum(q * np.log(q)))


_register(
    "absorption_time_diffusion",
    "§1.6",
    "absorption_time(method='diffusion') equals Littler's -2M sum_i (1-p_i) ln(1-p_i)",
    {"p0": list(K4), "M": 20},
    lambda: _absorption_mean(K4, 20, "diffusion"),
    lambda ss, quick: (_littler(K4, 20), 0.0),
    kind="exact",
    tolerance=1e-9,
)


# --------------------------------------------------------------------------------------------
# §1.7 fresh data

_FRESH_P0 = (0.6, 0.3, 0.1)
#: Generations of the stationary checks. The variance recursion contracts by
#: lambda = (1 - f)^2 (1 - 1/M) = 0.79 (mix; split 0.81 x 35/36) per generation, so at n = 60
#: Var p_n is within 0.79^60 ~ 7e-7 (relative) of the stationary value, 5000 times below the
#: quick run's standard error (0.4 %); more generations cost time and no accuracy.
_FRESH_N = 60


def _fresh_variance(variant: str, generations: int, state: int) -> Estimator:
    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        run = _simulate(
            _FRESH_P0,
            40,
            generations,
            ss,
            _replicates(quick, Q_LARGE, F_LARGE),
            record="last",
            regime=FreshData(0.1, variant),  # type: ignore[arg-type]
        )
        return variance_se(run["p"][-1, :, state])

    return estimate


def _stationary_variance(variant: str, state: int) -> float:
    _, cov = _theory("stationary_moments")(
        np.asarray(_FRESH_P0),
        40,
        fresh=FreshData(0.1, variant),  # type: ignore[arg-type]
    )
    return float(np.asarray(cov)[state, state])


for _variant in ("mix", "split"):
    _register(
        f"fresh_{_variant}_stationary_variance",
        "§1.7",
        f"stationary Var p_0 with fresh data ({_variant}) vs MC at n={_FRESH_N}",
        {"p0": list(_FRESH_P0), "M": 40, "fraction": 0.1, "variant": _variant, "n": _FRESH_N},
        (lambda v=_variant: _stationary_variance(v, 0)),
        _fresh_variance(_variant, _FRESH_N, 0),
        quick=Q_LARGE,
        full=F_LARGE,
    )

_register(
    "fresh_mix_variance_n5",
    "§1.7",
    "Var p_{5,2} from the fresh-data (mix) recursion (moments) vs MC",
    {"p0": list(_FRESH_P0), "M": 40, "fraction": 0.1, "variant": "mix", "n": 5, "state": 2},
    lambda: float(
        np.asarray(_theory("moments")(np.asarray(_FRESH_P0), 40, 5, FreshData(0.1, "mix"))[1])[2, 2]
    ),
    _fresh_variance("mix", 5, 2),
    quick=Q_LARGE,
    full=F_LARGE,
)

# --------------------------------------------------------------------------------------------
# §1.8 accumulate


def _accumulate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    run = _simulate(
        (0.3, 0.7),
        20,
        100,
        ss,
        _replicates(quick, Q_LARGE, F_LARGE),
        record="last",
        regime=Accumulate(),
    )
    p = run["p"][-1, :, 0]
    return mean_estimate(p * (1.0 - p))


def _accumulate_theory() -> float:
    mean, cov = _theory("moments")(np.asarray([0.3, 0.7]), 20, 100, Accumulate())
    mean = float(np.asarray(mean)[0])
    return mean * (1.0 - mean) - float(np.asarray(cov)[0, 0])


_register(
    "accumulate",
    "§1.8",
    "E[p_n(1-p_n)] = p(1-p) prod_{k<=n}(1 - 1/(M k^2)) (p(1-p) - Var from moments, accumulate)",
    {"p0": [0.3, 0.7], "M": 20, "n": 100},
    _accumulate_theory,
    _accumulate,
    quick=Q_LARGE,
    full=F_LARGE,
)

# --------------------------------------------------------------------------------------------
# §1.9 tail loss

_TAIL_THRESHOLD = 0.02
_TAIL = ZIPF_30 < _TAIL_THRESHOLD


def _tail_theory(field: str) -> Callable[[], float]:
    def theory() -> float:
        result = _theory("tail_loss")(ZIPF_30, 50, 20, _TAIL_THRESHOLD)
        return float(np.asarray(getattr(result, field)))

    return theory


def _tail_mc(statistic: str) -> Estimator:
    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        run = _simulate(ZIPF_30, 50, 20, ss, _replicates(quick, Q_LARGE, F_LARGE), record="last")
        tail = run["p"][-1][:, _TAIL]
        if statistic == "all_lost":
            return mean_se(np.all(tail == 0.0, axis=1))
        if statistic == "surviving":
            return mean_estimate(np.count_nonzero(tail, axis=1))
        return mean_estimate(tail.sum(axis=1))

    return estimate


_TAIL_PARAMS = {
    **_ZIPF_PARAMS,
    "n": 20,
    "threshold": _TAIL_THRESHOLD,
    "tail states": int(_TAIL.sum()),
}
for _stat, _field, _what in (
    ("all_lost", "prob_all_lost", "P(whole tail lost by n), exact by lumping the tail"),
    ("surviving", "expected_surviving", "E number of surviving tail states"),
    ("mass", "expected_mass", "E tail mass = initial tail mass (never moves)"),
):
    _register(
        f"tail_{_stat}",
        "§1.9",
        _what,
        _TAIL_PARAMS,
        _tail_theory(_field),
        _tail_mc(_stat),
        quick=Q_LARGE,
        full=F_LARGE,
    )

# --------------------------------------------------------------------------------------------
# §8.1, §8.3 sampling policies

_POLICY_TWO = {"p": 0.2, "M": 30, "policy": "Temperature(0.9)"}


def _policies() -> ModuleType:
    from collapse_theory import policies

    return policies


def dense_policy_law(p: float, num_samples: int, generations: int, policy: Any) -> np.ndarray:
    """Law of the first state's count after n generations under a policy, by dense matrices:
    Bin(M, p) first, then rows Bin(M, T(j/M)) (docs/theory.md §8.1, brute force)."""
    from scipy.stats import binom

    counts = np.arange(num_samples + 1)
    pairs = np.stack([counts / num_samples, (num_samples - counts) / num_samples], axis=-1)
    matrix = binom.pmf(counts[None, :], num_samples, policy(pairs)[:, 0][:, None])
    vector = binom.pmf(counts, num_samples, p)
    for _ in range(generations - 1):
        vector = vector @ matrix
    return vector


_register(
    "policy_skeleton",
    "§8.1",
    "skeleton model 6 under temperature .8 = p0^(tau^-5) normalised (closed form)",
    {"p0": list(K4), "policy": "Temperature(0.8)", "n": 6},
    lambda: float(_theory("skeleton")(np.asarray(K4), 6, _policies().Temperature(0.8))[0]),
    lambda ss, quick: (
        float(np.asarray(K4)[0] ** 0.8**-5 / np.sum(np.asarray(K4) ** 0.8**-5)),
        0.0,
    ),
    kind="exact",
    tolerance=1e-12,
)

_register(
    "policy_loss_dense",
    "§8.1",
    "two states under temperature .9: banded P(lost by model 25) = dense matrix product",
    {**_POLICY_TWO, "n": 25},
    lambda: float(_theory("loss_probability")(0.2, 30, 25, policy=_policies().Temperature(0.9))),
    lambda ss, quick: (float(dense_policy_law(0.2, 30, 25, _policies().Temperature(0.9))[0]), 0.0),
    kind="exact",
    tolerance=1e-12,
)


def _policy_two_state(statistic: str) -> Estimator:
    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        run = _simulate([0.2, 0.8], 30, 25, ss, _replicates(quick, Q_SMALL, F_SMALL),
                        record="last", policy=_policies().Temperature(0.9))  # fmt: skip
        first = run["p"][-1, :, 0]
        return mean_se(first == 0.0) if statistic == "lost" else mean_estimate(first)

    return estimate


_register(
    "policy_loss_probability",
    "§8.1",
    "two states under temperature .9: P(lost by model 25) = .906619 (exact count chain)",
    {**_POLICY_TWO, "n": 25},
    lambda: float(_theory("loss_probability")(0.2, 30, 25, policy=_policies().Temperature(0.9))),
    _policy_two_state("lost"),
    quick=Q_SMALL,
    full=F_SMALL,
)
_register(
    "policy_mean",
    "§8.1",
    "two states under temperature .9: E p at model 25 = .058310 (no longer a martingale)",
    {**_POLICY_TWO, "n": 25},
    lambda: float(
        _theory("moments")([0.2, 0.8], 30, 25, policy=_policies().Temperature(0.9)).mean[0]
    ),
    _policy_two_state("mean"),
    quick=Q_SMALL,
    full=F_SMALL,
)

_POLICY_K = {"p0": list(K4), "M": 9, "n": 12, "policy": "Compose(Temperature(1.4), TopK(3))"}


def _policy_k() -> Any:
    policies = _policies()
    return policies.Compose(policies.Temperature(1.4), policies.TopK(3))


def _policy_survivors(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    run = _simulate(K4, 9, 12, ss, _replicates(quick, Q_LARGE, F_LARGE), record="last",
                    policy=_policy_k())  # fmt: skip
    return mean_estimate(np.count_nonzero(run["p"][-1], axis=1))


_register(
    "policy_survivors",
    "§8.1",
    "E surviving states under temperature 1.4 then top-3, exact composition chain (220 states)",
    _POLICY_K,
    lambda: float(_theory("expected_survivors")(np.asarray(K4), 9, 12, policy=_policy_k()).value),
    _policy_survivors,
    quick=Q_LARGE,
    full=F_LARGE,
)


def _policy_absorption(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    run = _simulate([0.2, 0.8], 30, 300, ss, _replicates(quick, Q_SMALL, F_SMALL),
                    record="last", policy=_policies().Temperature(0.9))  # fmt: skip
    return mean_estimate(run["absorbed_at"])


_register(
    "policy_absorption_time",
    "§8.1",
    "two states under temperature .9: mean absorption time 10.68 (28.61 without the policy)",
    {**_POLICY_TWO, "n": 300},
    lambda: float(
        _theory("absorption_time")([0.2, 0.8], 30, policy=_policies().Temperature(0.9)).mean
    ),
    _policy_absorption,
    quick=Q_SMALL,
    full=F_SMALL,
)

_ZIPF_1000 = {"K": 1000, "exponent": 1.1, "policy": "TopK(10)"}
_register(
    "policy_tail_cut",
    "§8.3",
    "mass a top-10 model of Zipf(1.1, K=1000) loses at once = 1 - H_10/H_1000",
    _ZIPF_1000,
    lambda: float(_theory("tail_cut")(zipf(1000, 1.1), _policies().TopK(10)).missing_mass),
    lambda ss, quick: (
        float(1.0 - np.sum(np.arange(1, 11.0) ** -1.1) / np.sum(np.arange(1, 1001.0) ** -1.1)),
        0.0,
    ),
    kind="exact",
    tolerance=1e-12,
)

# --------------------------------------------------------------------------------------------
# §9.1 weighted fresh data

_WEIGHTED = {"p0": [0.2, 0.8], "M": 10, "n_real": 40, "w": 0.4, "n": 40}


def _weighted_regime() -> Any:
    from collapse_theory.regimes import WeightedFresh

    return WeightedFresh(_WEIGHTED["w"], _WEIGHTED["n_real"])


def _weighted_variance(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    run = _simulate(
        _WEIGHTED["p0"], 10, 40, ss, _replicates(quick, Q_SMALL, F_SMALL),
        regime=_weighted_regime(), record="last",
    )  # fmt: skip
    return variance_se(run["p"][-1, :, 0])


_register(
    "weighted_variance",
    "§9.1",
    "Var p_n under WeightedFresh(.4, 40), M=10, p=.2, n=40 (stationary .00946746) vs MC",
    _WEIGHTED,
    lambda: float(_theory("moments")(_WEIGHTED["p0"], 10, 40, _weighted_regime())[1][0, 0]),
    _weighted_variance,
    quick=Q_SMALL,
    full=F_SMALL,
)


def _numerical_optimum(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    from scipy.optimize import minimize_scalar

    from collapse_theory.regimes import WeightedFresh

    def variance(w: float) -> float:
        return float(_theory("stationary_moments")([0.5, 0.5], 10, WeightedFresh(w, 40))[1][0, 0])

    best = minimize_scalar(variance, bounds=(1e-6, 1.0), method="bounded", options={"xatol": 1e-10})
    return float(best.x), 0.0


_register(
    "weighted_optimum",
    "§9.1",
    "optimal_fresh_weight(10, 40) (root of a quadratic) vs bounded numerical minimisation",
    {"M": 10, "n_real": 40},
    lambda: float(_theory("optimal_fresh_weight")(10, 40)),
    _numerical_optimum,
    kind="exact",
    tolerance=1e-7,
)
