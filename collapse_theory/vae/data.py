"""Images for the VAE experiment, never downloaded (docs/theory.md §7.1, §11.2).

- :func:`load_digits`: scikit-learn's 8x8 handwritten digits (1,797 images shipped inside
  scikit-learn), pixels scaled to [0, 1], split once into training and test images by a fixed
  permutation.
- :func:`read_idx` / :func:`load_mnist`: MNIST from the IDX files a user already has
  (``train-images-idx3-ubyte`` etc., gzip-compressed or not), magic numbers and shapes checked.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from collapse_theory._validate import InputError, InputTypeError, check_real
from collapse_theory.rng import SeedLike, as_generator

__all__ = ["ImageData", "load_digits", "load_mnist", "read_idx"]

#: IDX element types (the third byte of the magic number) -> numpy dtype (big-endian).
_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
#: The four MNIST files, without and with the ``.gz`` suffix.
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class ImageData:
    """Training and test images in [0, 1] with their digit labels.

    Attributes
    ----------
    train, test : numpy.ndarray, shape (n, side, side), float32
        Pixel intensities in [0, 1].
    train_labels, test_labels : numpy.ndarray, shape (n,), int64
        The digit (0-9) of each image.
    name : str
        ``"digits"`` or the MNIST folder.
    """

    train: np.ndarray
    test: np.ndarray
    train_labels: np.ndarray
    test_labels: np.ndarray
    name: str

    @property
    def side(self) -> int:
        """Image side in pixels (8 for digits, 28 for MNIST)."""
        return int(self.train.shape[1])

    @property
    def num_classes(self) -> int:
        """Number of classes (10)."""
        return int(max(self.train_labels.max(), self.test_labels.max())) + 1


def load_digits(test_fraction: float = 0.2, *, seed: SeedLike = 0) -> ImageData:
    """scikit-learn's 8x8 digits, pixels / 16, split by a fixed random permutation.

    Parameters
    ----------
    test_fraction : float
        Share of the 1,797 images held out as test images, in (0, 1) (default 0.2: 1,438
        training and 359 test images).
    seed : int or SeedSequence
        Seed of the permutation (default 0: the same split every time).

    Returns
    -------
    ImageData
        ``train`` (1438, 8, 8) and ``test`` (359, 8, 8) at the default fraction.

    Raises
    ------
    InputError
        A ``test_fraction`` outside (0, 1).
    """
    from sklearn.datasets import load_digits as sklearn_digits  # ships with scikit-learn

    test_fraction = check_real("test_fraction", test_fraction, minimum=0.0, maximum=1.0)
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1); got {test_fraction}")
    digits = sklearn_digits()
    images = (digits.images / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int64)
    order = as_generator(seed).permutation(len(images))
    num_test = round(test_fraction * len(images))
    test, train = order[:num_test], order[num_test:]
    return ImageData(images[train], images[test], labels[train], labels[test], "digits")


def _open(path: Path) -> bytes:
    with open(path, "rb") as handle:
        head = handle.read(2)
    if head == b"\x1f\x8b":
        with gzip.open(path, "rb") as handle:
            return handle.read()
    return path.read_bytes()


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzip-compressed or not.

    The format: two zero bytes, a type byte (0x08 unsigned byte, 0x09 signed byte, 0x0B short,
    0x0C int, 0x0D float, 0x0E double), the number of dimensions, then each dimension as a
    big-endian 32-bit integer, then the data in C order.

    Parameters
    ----------
    path : str or pathlib.Path
        The file (``.gz`` or plain; compression is recognised by its magic bytes).

    Returns
    -------
    numpy.ndarray
        The array, of the file's type and shape.

    Raises
    ------
    InputError
        A missing file, a wrong magic number, or a data size that does not match the header.
    """
    if not isinstance(path, (str, Path)):
        raise InputTypeError(f"path must be a str or pathlib.Path; got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"IDX file {str(path)!r} does not exist")
    raw = _open(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise InputError(
            f"{str(path)!r} is not an IDX file: magic number {raw[:4].hex() or 'missing'}; "
            "expected 0000TTDD with type TT in 08 09 0b 0c 0d 0e and DD dimensions"
        )
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise InputError(f"{str(path)!r}: truncated IDX header ({ndim} dimensions)")
    shape = tuple(int(v) for v in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise InputError(
            f"{str(path)!r}: the header says shape {shape} ({expected} bytes of data) but the "
            f"file holds {len(raw) - header}"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    raise InputError(f"MNIST folder {str(folder)!r} has no {stem} or {stem}.gz")


def _checked_images(name: str, images: np.ndarray) -> np.ndarray:
    if images.ndim != 3 or images.shape[1] != images.shape[2] or images.shape[1] % 4:
        raise InputError(
            f"{name} must hold square images whose side is a multiple of 4, shape (n, side, "
            f"side); got shape {images.shape}"
        )
    if images.dtype != np.uint8:
        raise InputError(f"{name} must hold unsigned bytes (IDX type 08); got {images.dtype}")
    return (images / 255.0).astype(np.float32)


def _checked_labels(name: str, labels: np.ndarray, count: int) -> np.ndarray:
    if labels.ndim != 1 or labels.shape[0] != count:
        raise InputError(f"{name} must have shape ({count},), one per image; got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise InputError(f"{name} must be digits 0-9; got values {labels.min()}..{labels.max()}")
    return labels.astype(np.int64)


def load_mnist(folder: str | Path) -> ImageData:
    """MNIST from a folder holding the four IDX files (plain or ``.gz``); nothing is downloaded.

    Parameters
    ----------
    folder : str or pathlib.Path
        Holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each possibly with ``.gz``).

    Returns
    -------
    ImageData
        Pixels / 255 as float32, shape (n, 28, 28) for MNIST (any square side that is a multiple
        of 4 is accepted, for the convolutional model).

    Raises
    ------
    InputError
        A missing folder or file, a wrong magic number, images that are not (n, side, side)
        bytes, or labels that do not match the images.
    """
    if not isinstance(folder, (str, Path)):
        raise InputTypeError(f"folder must be a str or pathlib.Path; got {type(folder).__name__}")
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"MNIST folder {str(folder)!r} does not exist")
    arrays = {key: read_idx(_find(folder, stem)) for key, stem in MNIST_FILES.items()}
    train = _checked_images("train images", arrays["train_images"])
    test = _checked_images("test images", arrays["test_images"])
    if train.shape[1:] != test.shape[1:]:
        raise InputError(f"train images {train.shape[1:]} and test images {test.shape[1:]} differ")
    return ImageData(
        train,
        test,
        _checked_labels("train labels", arrays["train_labels"], len(train)),
        _checked_labels("test labels", arrays["test_labels"], len(test)),
        str(folder),
    )
