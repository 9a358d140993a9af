"""A toy model family for the tests: a Bernoulli(p0) refitted each generation on M draws.

It follows the family template of docs/contributing.md and lives outside the package: with this
folder and ONE line, ``collapse_theory.families.register("bernoulli",
"tests.toy_family.bernoulli")``, it plugs into verify (``checks.py``), the figures
(``figures.py``), the tail-loss table (``tails.py``), sweeps (``simulate.py``, ``theory.py``) and
the command line (``cli.py``). ``tests/test_toy_family.py`` proves it.
"""

from collapse_theory.families import Family

from .simulate import simulate
from .tails import BernoulliTail, bernoulli_monte_carlo
from .theory import expected_p, expected_variance, loss_probability, transition_matrix

FAMILY = Family(
    "bernoulli",
    simulator_arrays=("p",),
    theory=True,
    sweep_arguments={"p0": float},
)

__all__ = [
    "FAMILY",
    "BernoulliTail",
    "bernoulli_monte_carlo",
    "expected_p",
    "expected_variance",
    "loss_probability",
    "simulate",
    "transition_matrix",
]
