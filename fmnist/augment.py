"""Training-time data augmentation: each epoch sees every training image moved a little.

The trainer calls an :class:`Augmentation` on its shuffled copy of the training set at the start
of every epoch; validation and test images are never touched. Off by default
(``augment.max_shift=0``, ``augment.horizontal_flip=false``).
"""
from __future__ import annotations

import math

import numpy as np

from fmnist.data import IMAGE_SHAPE


class Augmentation:
    """Random translation and, optionally, horizontal mirroring of flattened images, in place.

    For each image x (H x W) independently, with s = ``max_shift``:
        (dy, dx) ~ Uniform({-s, ..., s}^2)
        x'[r, c] = x[r - dy, c - dx]   where that pixel exists, else 0 (the background of both datasets)
    and, with ``horizontal_flip``, x'[r, c] <- x'[r, W - 1 - c] with probability 1/2. Both keep the
    label: a garment or digit moved by a pixel or two is still the same class (mirroring suits
    Fashion-MNIST, whose classes are left-right symmetric, and not digits).
    """

    def __init__(self, max_shift: int = 0, horizontal_flip: bool = False, image_shape=IMAGE_SHAPE):
        self.image_shape = tuple(image_shape)
        side = min(self.image_shape)
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or not 0 <= max_shift < side:
            raise ValueError(f"augment.max_shift must be a whole number of pixels from 0 to {side - 1} "
                             f"(0 = no shifts), got {max_shift!r}")
        if not isinstance(horizontal_flip, bool):
            raise ValueError(f"augment.horizontal_flip must be true or false, got {horizontal_flip!r}")
        self.max_shift = max_shift
        self.horizontal_flip = horizontal_flip

    @property
    def active(self) -> bool:
        return self.max_shift > 0 or self.horizontal_flip

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> None:
        """Augment ``images`` (n, H*W) in place, drawing from ``rng``."""
        if images.ndim != 2 or images.shape[1] != math.prod(self.image_shape):
            raise ValueError(f"augmentation expects images of shape (n, {math.prod(self.image_shape)}) "
                             f"({self.image_shape[0]} x {self.image_shape[1]} pixels), got {images.shape}")
        pictures = images.reshape(len(images), *self.image_shape)  # a view: writes reach ``images``
        if self.max_shift:
            self._shift(pictures, rng)
        if self.horizontal_flip:
            mirrored = np.flatnonzero(rng.random(len(pictures)) < 0.5)
            pictures[mirrored] = pictures[mirrored, :, ::-1]

    def _shift(self, pictures: np.ndarray, rng: np.random.Generator) -> None:
        """Move each picture by its own (dy, dx): one vectorised copy per distinct offset."""
        span = 2 * self.max_shift + 1
        offsets = rng.integers(span * span, size=len(pictures))  # offset k <-> (dy, dx) = divmod(k, span) - s
        for offset in np.unique(offsets):
            dy, dx = (value - self.max_shift for value in divmod(int(offset), span))
            if dy == dx == 0:
                continue
            chosen = np.flatnonzero(offsets == offset)
            moved = np.zeros((len(chosen), *self.image_shape), dtype=pictures.dtype)
            moved[:, _target(dy), _target(dx)] = pictures[chosen][:, _source(dy), _source(dx)]
            pictures[chosen] = moved


def _source(shift: int) -> slice:
    """Pixels along one axis that stay inside the image when moved by ``shift``."""
    return slice(max(0, -shift), -shift if shift > 0 else None)


def _target(shift: int) -> slice:
    """Where those pixels land."""
    return slice(max(0, shift), shift if shift < 0 else None)
