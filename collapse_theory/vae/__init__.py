"""Variational autoencoders trained on their own samples (docs/theory.md §7.1, §11.2), offline, in the
``[neural]`` extra (jax, equinox, optax).

- :func:`load_digits` (scikit-learn's 8x8 digits, the default data), :func:`load_mnist` and
  :func:`read_idx` (MNIST IDX files you already have; nothing is downloaded);
- :class:`VAEConfig` (MLP or convolutional VAE, Gaussian or Bernoulli decoder);
- :func:`simulate`: generation 0 on real images, generation k on N samples of model k-1
  (Replace, FreshData, Accumulate), with the paper's latent std and the class histogram;
- :func:`class_chain_prediction` and :func:`drift_test`: the class histogram against the K = 10
  Wright–Fisher chain (docs/theory.md §1.3, §1.4);
- :func:`paper_experiment`: the runs and report of ``collapse-theory vae-paper``.

Nothing here imports jax at import time (nor scikit-learn): the family registers its commands
and checks without them; the functions that train raise an ImportError naming
``pip install "collapse_theory[neural]"`` when jax, equinox or optax is missing.
"""

from collapse_theory.families import Family
from collapse_theory.vae.data import ImageData, load_digits, load_mnist, read_idx
from collapse_theory.vae.model import VAEConfig, require_neural
from collapse_theory.vae.paper import PaperRun, paper_experiment
from collapse_theory.vae.probe import Probe, class_entropy, latent_std
from collapse_theory.vae.simulate import VAEResult, simulate
from collapse_theory.vae.theory import (
    ClassChainPrediction,
    DriftTest,
    class_chain_prediction,
    drift_test,
)

FAMILY = Family("vae")

__all__ = [
    "FAMILY",
    "ClassChainPrediction",
    "DriftTest",
    "ImageData",
    "PaperRun",
    "Probe",
    "VAEConfig",
    "VAEResult",
    "class_chain_prediction",
    "class_entropy",
    "drift_test",
    "latent_std",
    "load_digits",
    "load_mnist",
    "paper_experiment",
    "read_idx",
    "require_neural",
    "simulate",
]
