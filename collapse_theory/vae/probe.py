r"""Fixed measurements of generated images, fitted once on real data (docs/theory.md §7.1, §11.2).

- the class of an image: a scikit-learn logistic regression trained on the real training images
  (never retrained), so that the class histogram of N samples is the K = 10 categorical
  chain of docs/theory.md §11.2;
- the Fréchet distance in a fixed PCA space: the Gaussian 2-Wasserstein distance
  (:func:`collapse_theory.metrics.w2_gaussian`, docs/theory.md §3.6) between the mean and
  covariance of the real test images' PCA scores and those of the samples (the FID recipe on
  PCA features; W2 itself, not its square);
- the latent spread: :func:`latent_std`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import InputError, as_float_array, check_int
from collapse_theory.metrics import entropy, w2_gaussian
from collapse_theory.vae.data import ImageData

__all__ = ["Probe", "class_entropy", "latent_std"]


def latent_std(means: ArrayLike) -> float:
    r"""The paper's latent spread: the standard deviation of encoder means over samples and
    latent dimensions pooled (docs/theory.md §7.1).

    .. math:: s = \Big(\frac{1}{n d}\sum_{i,j} (\mu_{ij} - \bar\mu)^2\Big)^{1/2},
              \qquad \bar\mu = \frac{1}{nd}\sum_{i,j}\mu_{ij}

    where :math:`\mu_i = \mu_0(x_i)` is the generation-0 encoder's mean for sample :math:`x_i`
    (``numpy.std`` of the (n, d) array). The authors' notebook was not available to check
    their exact reduction; this pooled form is what ``torch.std`` of the stacked means gives.

    Parameters
    ----------
    means : array_like, shape (n, d)
        Encoder means of n >= 2 images.

    Returns
    -------
    float
    """
    means = as_float_array("means", means, ndim=2)
    if means.shape[0] < 2 or means.shape[1] < 1:
        raise InputError(f"means must have shape (n >= 2, d >= 1); got {means.shape}")
    return float(np.std(means))


def class_entropy(counts: ArrayLike) -> float:
    r"""Entropy (nats) of a class histogram, :math:`-\sum_k p_k \ln p_k` with
    :math:`p = c / \sum c` (docs/theory.md §11.2).

    Parameters
    ----------
    counts : array_like, shape (K,)
        Non-negative class counts, not all zero.

    Returns
    -------
    float
    """
    counts = as_float_array("counts", counts, ndim=1)
    if np.any(counts < 0) or counts.sum() <= 0:
        raise InputError("counts must be non-negative and not all zero")
    return float(entropy(counts / counts.sum()))


@dataclass(frozen=True)
class Probe:
    """Classifier and PCA space fitted once on real images; see the module docstring.

    Attributes
    ----------
    classifier : sklearn.linear_model.LogisticRegression
        Trained on the real training images.
    pca : sklearn.decomposition.PCA
        Fitted on the real training images.
    reference_mean, reference_cov : numpy.ndarray
        Mean (c,) and covariance (c, c) of the real test images' PCA scores.
    num_classes : int
        K (10).
    test_accuracy : float
        The classifier's accuracy on the real test images.
    """

    classifier: Any
    pca: Any
    reference_mean: np.ndarray
    reference_cov: np.ndarray
    num_classes: int
    test_accuracy: float

    @classmethod
    def fit(cls, data: ImageData, num_components: int = 10) -> Probe:
        """Fit the classifier and the PCA space on ``data``'s real training images.

        Parameters
        ----------
        data : ImageData
            Real images with labels.
        num_components : int
            PCA dimension c >= 1 (default 10), at most the number of pixels.

        Returns
        -------
        Probe
        """
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression

        pixels = data.side * data.side
        num_components = check_int("num_components", num_components, minimum=1, maximum=pixels)
        train = data.train.reshape(len(data.train), -1)
        test = data.test.reshape(len(data.test), -1)
        classifier = LogisticRegression(max_iter=2000, C=1.0).fit(train, data.train_labels)
        pca = PCA(num_components, random_state=0).fit(train)
        scores = pca.transform(test)
        accuracy = float(np.mean(classifier.predict(test) == data.test_labels))
        return cls(
            classifier,
            pca,
            scores.mean(axis=0),
            np.cov(scores, rowvar=False),
            data.num_classes,
            accuracy,
        )

    def class_counts(self, images: ArrayLike) -> np.ndarray:
        """Class histogram of ``images`` under the fixed classifier.

        Parameters
        ----------
        images : array_like, shape (n, side, side)

        Returns
        -------
        numpy.ndarray, shape (K,), int64
        """
        flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
        labels = self.classifier.predict(flat)
        return np.bincount(labels, minlength=self.num_classes).astype(np.int64)

    def frechet(self, images: ArrayLike) -> float:
        r"""Gaussian W2 between real test images and ``images`` in the fixed PCA space.

        .. math:: W_2^2 = \lVert m_r - m_g\rVert^2 + \operatorname{tr}\big(C_r + C_g
                  - 2 (C_g^{1/2} C_r C_g^{1/2})^{1/2}\big)

        (docs/theory.md §3.6), returned as :math:`W_2`.

        Parameters
        ----------
        images : array_like, shape (n >= 2, side, side)

        Returns
        -------
        float
        """
        flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
        scores = self.pca.transform(flat)
        return float(
            w2_gaussian(
                self.reference_mean,
                self.reference_cov,
                scores.mean(axis=0),
                np.cov(scores, rowvar=False),
            )
        )
