"""Write tiny IDX datasets for tests: a learnable stand-in for Fashion-MNIST, and the pieces to corrupt it.

``write_idx_dataset(folder)`` writes the four standard gzipped files; ``idx_bytes`` and ``write_gz``
let a test build a damaged variant byte by byte (bad magic, truncated payload, ...).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

# Centre (row, column) of each class's blob: two rows of five, far enough apart that a linear
# model separates them, close enough that shifts and noise make it take a few epochs.
BLOB_CENTRES = np.array([(row, column) for row in (8, 19) for column in (4, 9, 14, 19, 24)])
BLOB_WIDTH = 2.5  # standard deviation of the Gaussian blob, in pixels
MAX_SHIFT = 2  # each image's blob moves by up to this many pixels in each direction
NOISE_LEVEL = 60  # background noise is uniform in 0..NOISE_LEVEL (of 255)


def idx_bytes(array: np.ndarray) -> bytes:
    """The uncompressed IDX encoding of a uint8 array: magic 0x00000800 + D, D big-endian sizes, the bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = (0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + array.tobytes()


def write_gz(path: Path, data: bytes) -> Path:
    """Write ``data`` gzipped (fast level, fixed mtime so files are reproducible)."""
    path = Path(path)
    path.write_bytes(gzip.compress(data, compresslevel=1, mtime=0))
    return path


def write_idx_images(path: Path, images: np.ndarray) -> Path:
    """Write images (n, rows, columns) as an IDX file, gzipped (any shape is allowed, to test checks)."""
    return write_gz(path, idx_bytes(images))


def write_idx_labels(path: Path, labels: np.ndarray) -> Path:
    """Write labels (n,) as a gzipped IDX file (values are not checked, to test checks)."""
    return write_gz(path, idx_bytes(labels))


def make_blob_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Images (n, 28, 28) uint8 where class k is a Gaussian blob near ``BLOB_CENTRES[k]`` on noise.

    pixel(r, c) = 255 exp(-((r - r_k)^2 + (c - c_k)^2) / (2 w^2)) + noise, with the centre
    (r_k, c_k) shifted by up to ``MAX_SHIFT`` pixels per image.
    """
    centres = BLOB_CENTRES[labels] + rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=(len(labels), 2))
    rows = np.arange(28)[None, :, None] - centres[:, 0, None, None]  # (n, 28, 1)
    columns = np.arange(28)[None, None, :] - centres[:, 1, None, None]  # (n, 1, 28)
    blobs = 255.0 * np.exp(-(rows**2 + columns**2) / (2 * BLOB_WIDTH**2))  # (n, 28, 28)
    noise = rng.integers(0, NOISE_LEVEL + 1, size=blobs.shape)
    return np.clip(blobs + noise, 0, 255).astype(np.uint8)


def balanced_labels(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` labels in 0..9, each class count // 10 or one more times, in random order."""
    return rng.permutation(np.arange(count) % 10).astype(np.uint8)


def write_idx_dataset(folder: Path, n_train: int = 200, n_test: int = 100, seed: int = 0) -> Path:
    """Write the four standard gzipped IDX files of a small learnable 10-class dataset into ``folder``.

    Classes are balanced (see ``balanced_labels``) and each is a blob at its own place
    (see ``make_blob_images``), so a small MLP gets well above chance in a few epochs.
    Returns ``folder``, created if needed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        labels = balanced_labels(count, rng)
        write_idx_images(folder / f"{prefix}-images-idx3-ubyte.gz", make_blob_images(labels, rng))
        write_idx_labels(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder
