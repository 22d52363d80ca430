"""Training-time data augmentation: each epoch sees every training image moved, mirrored or patched.

The trainer calls an :class:`Augmentation` on its shuffled copy of the training set at the start
of every epoch it applies to (``augment.until``: all, up to an epoch, or up to a fraction of the
epochs, so that the last epochs train on the images as they are); validation and test images are
never touched. Off by default (``augment.max_shift=0``, ``horizontal_flip=false``, ``cutout=0``).
"""

from __future__ import annotations

import math

import numpy as np

from fmnist import IMAGE_SHAPE


class Augmentation:
    """Random translation and, optionally, horizontal mirroring of flattened images, in place.

    For each image x (H x W) independently, with s = ``max_shift``:
        (dy, dx) ~ Uniform({-s, ..., s}^2)
        x'[r, c] = x[r - dy, c - dx]   where that pixel exists, else 0 (the background of both datasets)
    and, with ``horizontal_flip``, x'[r, c] <- x'[r, W - 1 - c] with probability 1/2. Both keep the
    label: a garment or digit moved by a pixel or two is still the same class (mirroring suits
    Fashion-MNIST, whose classes are left-right symmetric, and not digits). Then, with k = ``cutout``
    (cutout, DeVries & Taylor 2017), a k x k square is blanked at a uniformly drawn centre:

        (cy, cx) ~ Uniform({0, ..., H-1} x {0, ..., W-1})
        x'[r, c] = 0   for cy - ⌊k/2⌋ <= r < cy - ⌊k/2⌋ + k and likewise for c (clipped at the edges)

    ``until`` limits all of this to the first epochs: None (every epoch), an epoch number e (epochs
    1..e), or a fraction f in (0, 1] (epochs up to f x the run's epochs).
    """

    def __init__(
        self,
        max_shift: int = 0,
        horizontal_flip: bool = False,
        cutout: int = 0,
        until: int | float | None = None,
        image_shape=IMAGE_SHAPE,
    ):
        self.image_shape = tuple(image_shape)
        side = min(self.image_shape)
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or not 0 <= max_shift < side:
            raise ValueError(
                f"max_shift must be a whole number of pixels from 0 to {side - 1} (0 = no shifts), got {max_shift!r}"
            )
        if not isinstance(horizontal_flip, bool):
            raise ValueError(f"horizontal_flip must be true or false, got {horizontal_flip!r}")
        if isinstance(cutout, bool) or not isinstance(cutout, int) or not 0 <= cutout <= side:
            raise ValueError(
                f"cutout must be the side of the blanked square, a whole number of pixels "
                f"from 0 to {side} (0 = no cutout), got {cutout!r}"
            )
        valid_until = (
            until is None
            or (isinstance(until, int) and not isinstance(until, bool) and until >= 1)
            or (isinstance(until, float) and 0.0 < until <= 1.0)
        )
        if not valid_until:
            raise ValueError(
                f"until must be null (every epoch), an epoch number >= 1 (e.g. 40) or a "
                f"fraction of the epochs in (0, 1] (e.g. 0.8), got {until!r}"
            )
        self.max_shift = max_shift
        self.horizontal_flip = horizontal_flip
        self.cutout = cutout
        self.until = until

    @property
    def active(self) -> bool:
        return self.max_shift > 0 or self.horizontal_flip or self.cutout > 0

    def applies(self, epoch: int, epochs: int) -> bool:
        """Whether ``epoch`` (1..``epochs``) is augmented, by ``until``."""
        if self.until is None:
            return True
        return epoch <= (self.until if isinstance(self.until, int) else self.until * epochs)

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> None:
        """Augment ``images`` (n, H*W) in place, drawing from ``rng``."""
        if images.ndim != 2 or images.shape[1] != math.prod(self.image_shape):
            raise ValueError(
                f"augmentation expects images of shape (n, {math.prod(self.image_shape)}) "
                f"({self.image_shape[0]} x {self.image_shape[1]} pixels), got {images.shape}"
            )
        pictures = images.reshape(len(images), *self.image_shape)  # a view: writes reach ``images``
        if self.max_shift:
            self._shift(pictures, rng)
        if self.horizontal_flip:
            mirrored = np.flatnonzero(rng.random(len(pictures)) < 0.5)
            pictures[mirrored] = pictures[mirrored, :, ::-1]
        if self.cutout:
            self._cut_out(pictures, rng)

    def _cut_out(self, pictures: np.ndarray, rng: np.random.Generator) -> None:
        """Blank each picture's k x k square around its own centre (one boolean mask per row and column)."""
        height, width = self.image_shape
        centres = rng.integers((height, width), size=(len(pictures), 2))  # (n, 2): (cy, cx)
        top_left = centres - self.cutout // 2
        rows = np.arange(height) - top_left[:, :1]  # (n, H): row index relative to the square's top
        columns = np.arange(width) - top_left[:, 1:]  # (n, W)
        inside_rows = (rows >= 0) & (rows < self.cutout)
        inside_columns = (columns >= 0) & (columns < self.cutout)
        pictures[inside_rows[:, :, None] & inside_columns[:, None, :]] = 0

    def _shift(self, pictures: np.ndarray, rng: np.random.Generator) -> None:
        """Move each picture by its own (dy, dx): one vectorised copy per distinct offset."""
        span = 2 * self.max_shift + 1
        offsets = rng.integers(span * span, size=len(pictures))  # offset k <-> (dy, dx) = divmod(k, span) - s
        for offset in np.unique(offsets):
            dy, dx = (value - self.max_shift for value in divmod(int(offset), span))
            if dy == dx == 0:
                continue
            chosen = np.flatnonzero(offsets == offset)
            pictures[chosen] = shifted(pictures[chosen], dy, dx)


def shifted(pictures: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """A copy of ``pictures`` (n, H, W), each moved by the same (dy, dx) (rows down, columns right):
    x'[r, c] = x[r - dy, c - dx] where that pixel exists, else 0. Used by the random shifts above and by
    the fixed shifts of test-time augmentation (:mod:`fmnist.tools.ensemble`)."""
    moved = np.zeros_like(pictures)
    moved[:, _target(dy), _target(dx)] = pictures[:, _source(dy), _source(dx)]
    return moved


def _source(shift: int) -> slice:
    """Pixels along one axis that stay inside the image when moved by ``shift``."""
    return slice(max(0, -shift), -shift if shift > 0 else None)


def _target(shift: int) -> slice:
    """Where those pixels land."""
    return slice(max(0, shift), shift if shift < 0 else None)
