r"""The toy Bernoulli family's tail law: the rare outcome's probability :math:`T_n`.

The tail of Bernoulli(p0) is its rarer outcome (:class:`BernoulliTail`: {1} when p0 <= 1/2,
else {0}); its mass under model n is :math:`p_n` or :math:`1 - p_n`.
:func:`bernoulli_monte_carlo` summarises it per generation by Monte Carlo;
:func:`benchmark_settings` / :func:`benchmark_curves` add the family's (tiny) rows to the
tail-loss table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from collapse_theory._validate import check_int, check_real
from collapse_theory.tails.curves import TailCurve, check_eps, check_record, curve_from_samples
from collapse_theory.tails.table import CurveRequest, Setting

from .simulate import simulate

__all__ = [
    "BENCHMARK_NOTE",
    "BernoulliTail",
    "benchmark_curves",
    "benchmark_settings",
    "bernoulli_monte_carlo",
]

BENCHMARK_NOTE = "bernoulli (toy family of the tests): the rarer outcome of Bernoulli(0.1)"

#: The benchmark's model.
P0 = 0.1


@dataclass(frozen=True)
class BernoulliTail:
    """The rarer outcome of Bernoulli(p0): {1} when p0 <= 1/2, else {0}.

    Examples
    --------
    >>> BernoulliTail().outcome(0.1), BernoulliTail().mass(0.9, np.array([0.8]))
    (1, array([0.2]))
    """

    def outcome(self, p0: float) -> int:
        p0 = check_real("p0", p0, minimum=0.0, maximum=1.0)
        if p0 in (0.0, 1.0):
            raise ValueError(f"p0 must lie strictly between 0 and 1 to have a tail; got {p0}")
        return 1 if p0 <= 0.5 else 0

    def mass(self, p0: float, p: np.ndarray) -> np.ndarray:
        """The tail's probability under models with P(1) = ``p``."""
        return p if self.outcome(p0) == 1 else 1.0 - p


def bernoulli_monte_carlo(
    p0: float,
    tail: BernoulliTail,
    num_samples: int,
    generations: Any,
    *,
    eps: float = 0.01,
    num_replicates: int = 1000,
    seed: Any = None,
) -> TailCurve:
    """Monte Carlo :class:`~collapse_theory.tails.TailCurve` of the tail mass over ``generations``
    (which must include 0)."""
    gens = check_record(generations)
    eps = check_eps(eps)
    num_replicates = check_int("num_replicates", num_replicates, minimum=2)
    run = simulate(
        p0, num_samples, int(gens[-1]), num_replicates=num_replicates, record=gens, seed=seed
    )
    masses = tail.mass(p0, run["p"])
    return curve_from_samples(gens, masses, float(tail.mass(p0, np.float64(p0))), eps)


def benchmark_settings(sizes: tuple[int, ...], quick: bool) -> list[Setting]:
    """Bernoulli(0.1), Replace only (the toy simulates no other regime), horizon 2M;
    200 replicates (100 when ``quick``)."""
    replicates = 100 if quick else 200
    return [
        Setting(
            "bernoulli", f"Bernoulli({P0})", "mle", m, "replace", 2 * m, replicates, "bernoulli"
        )
        for m in sizes
    ]


def benchmark_curves(request: CurveRequest) -> list[TailCurve]:
    """The Monte Carlo curve only (no reference law: no agreement row)."""
    setting, generations, eps = request.setting, request.generations, request.eps
    return [
        bernoulli_monte_carlo(
            P0,
            BernoulliTail(),
            setting.num_samples,
            generations,
            eps=eps,
            num_replicates=setting.replicates,
            seed=request.mc_seed,
        )
    ]
