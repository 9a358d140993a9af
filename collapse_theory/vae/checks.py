"""Verify checks of the VAE family: none, on purpose (docs/theory.md §7.1, §11.2).

``collapse-theory verify`` runs without jax and equinox, and every statement of this family
that is not a neural network's trained behaviour is already checked elsewhere:

- the class-histogram theory (:mod:`collapse_theory.vae.theory`) is the K-state Wright–Fisher
  chain of docs/theory.md §1.3-§1.4, whose moments and loss probabilities the categorical
  family's checks compare with simulation; this family only calls those functions;
- what is the VAE's own (latent std falling, class drift beyond the neutral law) needs trained
  VAEs, i.e. jax and seconds to minutes of training: it is measured by
  ``benchmarks/bench_vae.py`` and tested in ``tests/test_vae.py``, not verified here.

A check that re-ran the categorical checks under another name would add cost and no evidence.
"""

from __future__ import annotations

__all__: list[str] = []
