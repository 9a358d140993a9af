"""Categorical model: recursive fitting of a discrete distribution (neutral Wright–Fisher).

Closed forms (theory.md §1) live in :mod:`.theory` and :mod:`.markov`; the simulator in
:mod:`.simulate`.
"""

from collapse_theory.categorical.simulate import heterozygosity, num_surviving, simulate

__all__ = ["heterozygosity", "num_surviving", "simulate"]
