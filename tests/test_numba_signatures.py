"""Every numba kernel of the package compiles once: one signature per dispatcher.

A second signature is a second compilation (seconds, on the first run of every user) and means
that some call site passes other types or array layouts than the others. tests/conftest.py runs
this file after the rest of the suite, so the check covers every kernel any test compiled; run
alone, it first drives the kernels through the public API with the inputs that used to give a
kernel a second signature (integer model parameters, lists, record="last" against recorded
trajectories, whose output views are contiguous in one case and strided in the other, every
regime, method and estimator).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import pytest
from numba.core.dispatcher import Dispatcher

import collapse_theory as ct

COV3 = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])
REGIMES = (ct.Replace(), ct.FreshData(0.2, "mix"), ct.FreshData(0.2, "split"), ct.Accumulate())
#: Regimes of the categorical and Gaussian simulators only.
WEIGHTED = ct.WeightedFresh(0.3, 5)

#: Entry kernels the exercise below must have compiled (or loaded from numba's cache).
ENTRY_KERNELS = (
    "collapse_theory.categorical._numba._simulate_block",
    "collapse_theory.gaussian._numba._simulate_block_1d",
    "collapse_theory.gaussian._numba._simulate_block_nd",
    "collapse_theory.gaussian._numba._simulate_location_1d",
    "collapse_theory.gmm._numba.simulate_block",
    "collapse_theory.categorical._markov_numba.build_rows",
    "collapse_theory.poisson._numba._simulate_block",
    "collapse_theory.kde._numba._simulate_block",
    "collapse_theory.regression._numba._simulate_block",
    "collapse_theory.lm._numba._sample_block",
    "collapse_theory.lm._numba._beam_block",
)


def exercise() -> None:
    """Small calls through the public API with varied argument types and recordings."""
    from scipy.stats import expon

    for regime in REGIMES:
        for record in ("last", "all", [0, 3]):
            ct.categorical.simulate([0.5, 0.3, 0.2], 10, 3, num_replicates=300, record=record,
                                    regime=regime, seed=0)  # fmt: skip
            ct.gaussian.simulate(0, 1, 10, 3, num_replicates=300, record=record, regime=regime,
                                 seed=0)  # fmt: skip
            ct.gaussian.simulate(np.zeros(3), COV3, 12, 3, num_replicates=20, record=record,
                                 regime=regime, method="samples", estimator="mle", seed=0)  # fmt: skip
            ct.poisson.simulate(2, 10, 3, num_replicates=300, record=record, regime=regime, seed=0)
            ct.kde.simulate(1.0, 10, 3, bandwidth=0.3, regime=regime, num_replicates=20,
                            record=record, seed=0)  # fmt: skip
    for regime in (*REGIMES, ct.kde.AccumulateSubsample()):
        ct.kde.simulate(np.zeros((5, 2)), 6, 2, bandwidth="scott", regime=regime, num_replicates=5,
                        seed=0)  # fmt: skip
        ct.regression.simulate(np.ones(2), 6, 3, regime=regime, num_replicates=5, seed=0)
    ct.poisson.simulate(0.5, ct.schedules.Linear(5, 2), 2, num_replicates=10, seed=0)
    for record in ("last", "all"):
        ct.categorical.simulate([0.5, 0.3, 0.2], 10, 3, num_replicates=300, record=record,
                                regime=WEIGHTED, seed=0)  # fmt: skip
        ct.gaussian.simulate(0, 1, 10, 3, num_replicates=300, record=record, regime=WEIGHTED,
                             seed=0)  # fmt: skip
        ct.gaussian.simulate(np.zeros(3), COV3, 12, 3, num_replicates=20, record=record,
                             regime=WEIGHTED, method="samples", estimator="mle", seed=0)  # fmt: skip
    ct.gaussian.simulate(0, 1, 10, 3, num_replicates=20, method="samples", location="median",
                         known_scale=True, regime=ct.Accumulate(), seed=0)  # fmt: skip
    ct.categorical.simulate([0.5, 0.3, 0.2], 10, 3, num_replicates=300, seed=0,
                            policy=ct.policies.TopP(0.9))  # fmt: skip
    ct.gaussian.simulate(
        0, 1, 10, 3, num_replicates=300, seed=0, policy=ct.policies.Truncation(2.0)
    )
    ct.categorical.simulate(np.array([1.0, 0.0]), ct.schedules.Linear(5, 2), 2, num_replicates=10,
                            pseudo_count=1, seed=0)  # fmt: skip
    ct.gaussian.simulate(0.5, 2.0, ct.schedules.Power(5, 1.0), 3, num_replicates=10, seed=0,
                         num_threads=1)  # fmt: skip
    ct.gaussian.simulate(None, None, 10, 3, num_replicates=10, data0=expon(), seed=0)
    ct.gaussian.simulate([0.0, 1.0], [[1, 0], [0, 2]], 10, 3, num_replicates=10, seed=0)
    mixture = ct.gmm.Mixture([0.5, 0.5], [[-3.0], [3.0]], [[[1.0]], [[1.0]]])
    for record in ("last", "all"):
        ct.gmm.simulate(mixture, 20, 2, num_replicates=2, record=record, seed=0)
    for p in (0.01, np.array([0.01, 0.3])):
        ct.categorical.loss_probability(p, 50, [1, 20])
    ct.categorical.loss_probability(0.1, ct.schedules.Linear(10, 5), 5)
    ct.categorical.absorption_time([0.5, 0.5], 20, method="exact")
    ct.categorical.absorption_time_survival(0.3, 20, 30)
    ct.categorical.tail_loss(ct.categorical.zipf(12, 1.2), 20, 5, 0.05)
    lm = ct.lm.NGramTrainer(2, vocab_size=5).fit(np.array([[1, 2, 3, 4, 1, 2]]))
    for prompts in (np.zeros((2, 0), np.int64), np.array([[1], [2]])):
        lm.generate(prompts, 3, seed=0)
        lm.generate(prompts, 3, seed=0, policy=ct.policies.TopK(2), repetition_penalty=1.3)
        lm.generate(prompts, 3, seed=0, beam=2)


def dispatchers() -> Iterator[tuple[str, Dispatcher]]:
    """Every numba dispatcher defined in an imported module of the package."""
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("collapse_theory") or module is None:
            continue
        for name, value in vars(module).items():
            if isinstance(value, Dispatcher) and value.py_func.__module__ == module_name:
                yield f"{module_name}.{name}", value


def test_every_kernel_has_one_signature() -> None:
    exercise()
    found = dict(dispatchers())
    missing = [name for name in ENTRY_KERNELS if name not in found]
    assert not missing, f"kernels not found (renamed?): {missing}"
    uncompiled = [name for name in ENTRY_KERNELS if not found[name].signatures]
    assert not uncompiled, f"the exercise compiled none of {uncompiled}"
    # A helper shows no signature when its caller was loaded from numba's cache: at most one.
    several = {
        name: [str(signature) for signature in kernel.signatures]
        for name, kernel in found.items()
        if len(kernel.signatures) > 1
    }
    assert not several, "kernels compiled more than once:\n" + "\n".join(
        f"{name}:\n  " + "\n  ".join(signatures) for name, signatures in several.items()
    )


def test_an_entry_kernel_refuses_a_second_signature() -> None:
    """simulate_block compiles its declared signature at the first call and never another:
    a strided output view uses it, a float32 frequency vector is refused."""
    from collapse_theory.categorical import _numba

    args = dict(
        rng=np.random.default_rng(0),
        p0=np.array([0.5, 0.5]),
        sizes=np.full(3, 10),
        regime=0,
        fraction=0.0,
        fresh_counts=np.zeros(3, dtype=np.int64),
        pseudo_count=0.0,
        record_slot=np.array([-1, -1, -1, 0]),
        policy_codes=np.zeros(0, dtype=np.int64),
        policy_params=np.zeros(0),
        out_p=np.empty((1, 4, 2))[:, ::2],  # a strided view
        out_absorbed=np.empty(2, dtype=np.int64),
    )
    _numba.simulate_block(*args.values())
    assert np.allclose(args["out_p"].sum(axis=-1), 1.0)
    with pytest.raises(TypeError):
        _numba.simulate_block(*{**args, "p0": args["p0"].astype(np.float32)}.values())
    assert len(_numba.simulate_block.kernel.signatures) == 1
