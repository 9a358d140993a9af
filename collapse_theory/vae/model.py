r"""The VAE's settings, validated without jax (docs/theory.md §7.1, §11.2).

The model: an encoder :math:`q(z \mid x) = N(\mu(x), \mathrm{diag}\,\sigma^2(x))`, prior
:math:`N(0, I_d)`, a decoder giving pixel means :math:`m(z) \in [0, 1]` (a sigmoid), and the
per-image evidence lower bound

.. math:: \mathrm{ELBO}(x) = E_{q(z|x)} \log p(x \mid z) - \mathrm{KL}(q(z \mid x) \,\|\, N(0, I))

with :math:`\log p(x|z) = \sum_j x_j \log m_j + (1 - x_j)\log(1 - m_j)` (Bernoulli; continuous
:math:`x \in [0, 1]` as is usual) or :math:`\sum_j \log N(x_j; m_j, s^2)` (Gaussian, fixed s).
Training maximises the mean ELBO with Adam on minibatches drawn uniformly with replacement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from collapse_theory._validate import InputError, check_choice, check_int, check_real

__all__ = ["VAEConfig", "require_neural"]

ARCHITECTURES = ("mlp", "conv")
DECODERS = ("bernoulli", "gaussian")
INITS = ("scratch", "previous")
PIXELS = ("mean", "sample")
NEURAL_HINT = 'the VAE needs jax, equinox and optax: pip install "collapse_theory[neural]"'


def require_neural() -> None:
    """Raise a clear ImportError when the ``[neural]`` extra (jax, equinox, optax) is missing.

    Returns
    -------
    None

    Raises
    ------
    ImportError
        Naming the missing package and the install command.
    """
    import importlib.util

    for name in ("jax", "equinox", "optax"):
        if importlib.util.find_spec(name) is None:
            raise ImportError(f"{name} is not installed; {NEURAL_HINT}")


@dataclass(frozen=True)
class VAEConfig:
    """Architecture and training of every generation's VAE (docs/theory.md §7.1).

    Parameters
    ----------
    latent_dim : int
        d >= 1 (default 8 for 8x8 digits; the paper's MNIST model has 20).
    architecture : {"mlp", "conv"}
        ``"mlp"`` (default): pixels -> hidden -> hidden -> (mu, log var), and back.
        ``"conv"``: the paper's shape, two stride-2 4x4 convolutions (``capacity`` and
        2 ``capacity`` channels) and a linear layer, mirrored by transposed convolutions;
        needs a side that is a multiple of 4 (28 for MNIST).
    hidden : int
        Width of the MLP's two hidden layers (default 128).
    capacity : int
        Channels of the first convolution (default 32; the convolutional model only).
    decoder : {"gaussian", "bernoulli"}
        Pixel likelihood (default Gaussian with a fixed std ``pixel_std``). With the Bernoulli
        likelihood on the grey pixel means of generated images the VAE falls into posterior
        collapse within two or three generations (docs/vae.md).
    pixel_std : float
        s > 0 of the Gaussian decoder (default 0.2).
    epochs : int
        Training length of a generation, in passes over N images (default 100: 2,300 steps on
        the 1,438 digits; the paper's 30 MNIST epochs are 28,000 steps):
        ``epochs * ceil(N / batch_size)`` Adam steps, whatever the regime (under Accumulate the
        pool grows, the number of steps does not).
    batch_size : int
        Minibatch size (default 64).
    learning_rate : float
        Adam's step size (default 1e-3).
    init : {"scratch", "previous"}
        Each generation trains a freshly initialised VAE (default, as the paper) or starts
        from the previous generation's weights.
    pixels : {"mean", "sample"}
        What a generated image is: the decoder's pixel means (default; the blurred images of
        the paper) or a draw from the pixel likelihood.
    """

    latent_dim: int = 8
    architecture: str = "mlp"
    hidden: int = 128
    capacity: int = 32
    decoder: str = "gaussian"
    pixel_std: float = 0.2
    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-3
    init: str = "scratch"
    pixels: str = "mean"

    def __post_init__(self) -> None:
        check_int("latent_dim", self.latent_dim, minimum=1)
        check_choice("architecture", self.architecture, ARCHITECTURES)
        check_int("hidden", self.hidden, minimum=1)
        check_int("capacity", self.capacity, minimum=1)
        check_choice("decoder", self.decoder, DECODERS)
        object.__setattr__(
            self,
            "pixel_std",
            check_real("pixel_std", self.pixel_std, strict_minimum=True, minimum=0),
        )
        check_int("epochs", self.epochs, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        object.__setattr__(
            self,
            "learning_rate",
            check_real("learning_rate", self.learning_rate, minimum=0.0, strict_minimum=True),
        )
        check_choice("init", self.init, INITS)
        check_choice("pixels", self.pixels, PIXELS)

    def check_side(self, side: int) -> None:
        """Refuse an image side the architecture cannot take (conv: a multiple of 4).

        Parameters
        ----------
        side : int
            Image side in pixels.

        Returns
        -------
        None
        """
        if self.architecture == "conv" and side % 4:
            raise InputError(
                f"architecture='conv' needs an image side that is a multiple of 4; got {side}"
            )

    def steps(self, num_samples: int) -> int:
        """Adam steps of one generation: ``epochs * ceil(num_samples / batch_size)``.

        Parameters
        ----------
        num_samples : int
            N, the size of one generation's dataset.

        Returns
        -------
        int
        """
        return self.epochs * -(-num_samples // self.batch_size)

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for metadata and reports).

        Returns
        -------
        dict
        """
        return asdict(self)
