"""Training-time augmentation: what each image becomes, how often, and that only training sees it."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.core.augment import Augmentation
from tests.conftest import small_trainer

SIDE = 28


def shifted(picture: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """picture moved down by dy and right by dx, zeros where nothing moved in (the definition)."""
    out = np.zeros_like(picture)
    for row in range(SIDE):
        for column in range(SIDE):
            if 0 <= row - dy < SIDE and 0 <= column - dx < SIDE:
                out[row, column] = picture[row - dy, column - dx]
    return out


def explain(before: np.ndarray, after: np.ndarray, max_shift: int, flips: bool) -> tuple[int, int, bool]:
    """The one (dy, dx, mirrored) that turns ``before`` into ``after``; fails if there is none."""

    def candidate(dy, dx, mirrored):
        moved = shifted(before, dy, dx)
        return moved[:, ::-1] if mirrored else moved

    matches = [
        (dy, dx, mirrored)
        for dy in range(-max_shift, max_shift + 1)
        for dx in range(-max_shift, max_shift + 1)
        for mirrored in ((False, True) if flips else (False,))
        if np.array_equal(after, candidate(dy, dx, mirrored))
    ]
    assert len(matches) == 1, matches
    return matches[0]


def random_pictures(count: int, seed: int = 0) -> np.ndarray:
    """Pictures whose pixels are all distinct and non-zero, so every move is recognisable."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(count * SIDE * SIDE).reshape(count, SIDE * SIDE) + 1).astype(np.float32)


@pytest.mark.parametrize("max_shift, flips", [(1, False), (2, False), (0, True), (2, True)])
def test_each_image_is_moved_by_at_most_max_shift_and_maybe_mirrored(max_shift, flips):
    before = random_pictures(60)
    after = before.copy()
    Augmentation(max_shift, flips)(after, np.random.default_rng(1))
    moves = [explain(b.reshape(SIDE, SIDE), a.reshape(SIDE, SIDE), max_shift, flips) for b, a in zip(before, after)]
    assert any(move != (0, 0, False) for move in moves)


def test_offsets_and_mirroring_are_uniform():
    rng = np.random.default_rng(0)
    count = 20_000
    pictures = np.zeros((count, SIDE * SIDE), dtype=np.float32)
    pictures[:, 14 * SIDE + 10] = 1.0  # one lit pixel at (14, 10): where it lands tells the move
    Augmentation(2, True)(pictures, rng)
    rows, columns = np.divmod(pictures.argmax(axis=1), SIDE)
    dy = rows - 14
    mirrored = columns > SIDE // 2  # 10 + dx lands left of the middle, 27 - (10 + dx) right of it
    dx = np.where(mirrored, SIDE - 1 - columns, columns) - 10
    counts = np.bincount((dy + 2) * 5 + (dx + 2), minlength=25)
    assert counts.min() > 0.85 * count / 25 and counts.max() < 1.15 * count / 25
    assert abs(mirrored.mean() - 0.5) < 0.02


def test_same_generator_state_same_augmentation():
    first, second = random_pictures(50), random_pictures(50)
    Augmentation(2, True)(first, np.random.default_rng(7))
    Augmentation(2, True)(second, np.random.default_rng(7))
    np.testing.assert_array_equal(first, second)


def test_defaults_change_nothing():
    assert not Augmentation().active
    assert Augmentation(1).active and Augmentation(0, True).active


@pytest.mark.parametrize(
    "max_shift, flips, words",
    [
        (-1, False, ["max_shift", "-1", "0 to 27"]),
        (28, False, ["max_shift", "28"]),
        (1.5, False, ["max_shift", "1.5"]),
        (True, False, ["max_shift", "True"]),
        (1, "yes", ["horizontal_flip", "yes", "true or false"]),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument_and_the_allowed_values(max_shift, flips, words):
    with pytest.raises(ValueError) as error:
        Augmentation(max_shift, flips)
    for word in words:
        assert word in str(error.value)


def test_images_of_another_size_are_refused():
    with pytest.raises(ValueError, match=r"\(n, 784\)"):
        Augmentation(1)(np.zeros((4, 100), dtype=np.float32), np.random.default_rng(0))


class Spy(Augmentation):
    """An augmentation that records what it was given and changes nothing."""

    def __init__(self, until=None):
        super().__init__(until=until)
        self.seen = []

    def __call__(self, images, rng):
        self.seen.append(images.copy())


def test_trainer_augments_a_copy_of_the_training_images_once_per_epoch(tiny_data):
    spy = Spy()
    x_train, x_val, x_test = (array.copy() for array in (tiny_data.x_train, tiny_data.x_val, tiny_data.x_test))
    small_trainer(3, augment=spy).fit(tiny_data)
    assert len(spy.seen) == 3
    for images in spy.seen:
        assert images.shape == tiny_data.x_train.shape
        assert not np.array_equal(images, tiny_data.x_train)  # a shuffled copy
    np.testing.assert_array_equal(tiny_data.x_train, x_train)
    np.testing.assert_array_equal(tiny_data.x_val, x_val)
    np.testing.assert_array_equal(tiny_data.x_test, x_test)


@pytest.mark.parametrize(
    "until, augmented_epochs",
    [(None, [1, 2, 3, 4, 5]), (2, [1, 2]), (0.6, [1, 2, 3]), (1.0, [1, 2, 3, 4, 5]), (9, [1, 2, 3, 4, 5])],
)
def test_until_limits_augmentation_to_the_first_epochs(until, augmented_epochs):
    augmentation = Augmentation(cutout=4, until=until)
    assert [epoch for epoch in range(1, 6) if augmentation.applies(epoch, 5)] == augmented_epochs


def test_the_trainer_stops_augmenting_after_until(tiny_data):
    spy = Spy(until=2)
    small_trainer(4, augment=spy).fit(tiny_data)
    assert len(spy.seen) == 2


def cutout_square(before: np.ndarray, after: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns blanked in ``after``; fails unless they form one rectangle, the rest unchanged."""
    blank = (after == 0) & (before != 0)
    rows, columns = np.flatnonzero(blank.any(axis=1)), np.flatnonzero(blank.any(axis=0))
    square = (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))
    assert blank[square].all() and blank.sum() == blank[square].size
    np.testing.assert_array_equal(after[~blank], before[~blank])
    return square


@pytest.mark.parametrize("side", [1, 4, 9])
def test_cutout_blanks_one_side_by_side_square_per_image_clipped_at_the_edges(side):
    before = random_pictures(300)
    after = before.copy()
    Augmentation(cutout=side)(after, np.random.default_rng(3))
    extents = []
    for b, a in zip(before, after):
        rows, columns = cutout_square(b.reshape(SIDE, SIDE), a.reshape(SIDE, SIDE))
        height, width = rows.stop - rows.start, columns.stop - columns.start
        assert height <= side and width <= side
        assert height == side or rows.start == 0 or rows.stop == SIDE  # only the edges cut a square short
        assert width == side or columns.start == 0 or columns.stop == SIDE
        extents.append((height, width))
    assert (side, side) in extents


def test_cutout_centres_are_uniform_over_the_image():
    count = 28 * 28 * 40
    pictures = np.ones((count, SIDE * SIDE), dtype=np.float32)
    Augmentation(cutout=1)(pictures, np.random.default_rng(0))  # a 1 x 1 square is its centre
    counts = np.bincount((pictures == 0).argmax(axis=1), minlength=SIDE * SIDE)
    assert (pictures == 0).sum() == count
    assert counts.min() > 10 and counts.max() < 80  # 40 expected per pixel


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"cutout": -1}, ["cutout", "-1", "0 to 28"]),
        ({"cutout": 2.5}, ["cutout", "2.5"]),
        ({"until": 0}, ["until", "0", "epoch number >= 1", "(0, 1]"]),
        ({"until": 1.5}, ["until", "1.5"]),
        ({"until": "half"}, ["until", "half"]),
    ],
)
def test_bad_cutout_and_until_are_refused_with_the_allowed_values(settings, words):
    with pytest.raises(ValueError) as error:
        Augmentation(**settings)
    for word in words:
        assert word in str(error.value)
