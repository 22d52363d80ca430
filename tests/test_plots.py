"""The figures: confusion-matrix arithmetic by hand, and every plot writes a real image."""
from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest

from fmnist import plots

CLASSES = ["cat", "dog", "emu"]


def hand_counts():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    predictions = np.array([0, 1, 1, 1, 1, 2, 2, 0, 2])
    return labels, predictions


def assert_image(path):
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0  # not a blank canvas


def test_confusion_matrix_counts_rows_as_true_classes():
    counts = plots.confusion_matrix(*hand_counts(), CLASSES)
    np.testing.assert_array_equal(counts, [[1, 2, 0], [0, 2, 0], [1, 0, 3]])


def test_confusion_matrix_counts_uint8_labels_of_many_classes_without_overflow():
    classes = [f"c{index}" for index in range(20)]
    labels, predictions = np.array([19, 19, 3], dtype=np.uint8), np.array([19, 18, 3], dtype=np.uint8)
    counts = plots.confusion_matrix(labels, predictions, classes)
    assert counts.shape == (20, 20) and counts.sum() == 3
    assert counts[19, 19] == 1 and counts[19, 18] == 1 and counts[3, 3] == 1


def test_per_class_accuracy_is_the_diagonal_over_row_sums():
    counts = plots.confusion_matrix(*hand_counts(), CLASSES)
    np.testing.assert_allclose(plots.per_class_accuracy(counts), [1 / 3, 1.0, 0.75])
    assert np.isnan(plots.per_class_accuracy(np.array([[1, 0], [0, 0]]))[1])


def test_most_confused_pairs_are_the_largest_off_diagonal_cells():
    counts = plots.confusion_matrix(*hand_counts(), CLASSES)
    assert plots.most_confused_pairs(counts, CLASSES, k=2) == [("cat", "dog", 2, 2 / 3), ("emu", "cat", 1, 0.25)]


def test_most_confused_pairs_break_ties_in_row_order_and_skip_empty_cells():
    counts = np.array([[5, 0, 1], [1, 5, 0], [0, 0, 6]])
    assert plots.most_confused_pairs(counts, CLASSES, k=5) == [("cat", "emu", 1, 1 / 6), ("dog", "cat", 1, 1 / 6)]
    assert plots.most_confused_pairs(np.diag([3, 3, 3]), CLASSES) == []


def test_every_figure_writes_an_image(tmp_path):
    rng = np.random.default_rng(0)
    labels, predictions = hand_counts()
    images = rng.random((len(labels), 784))
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 0.5 + e / 20,
                "val_accuracy": 0.45 + e / 20, "seconds_per_epoch": 1.0} for e in range(1, 5)]
    counts = plots.confusion_matrix(labels, predictions, CLASSES)
    written = [
        plots.learning_curves(history, tmp_path / "curves.png"),
        plots.confusion_matrix_figure(counts, CLASSES, tmp_path / "confusion.png"),
        plots.misclassified_panel(images, labels, predictions, CLASSES, tmp_path / "wrong.png", rng=rng),
        plots.misclassified_panel(images, labels, labels, CLASSES, tmp_path / "none_wrong.png", rng=rng),
        plots.sample_grid(images, labels, CLASSES, tmp_path / "samples.png", "samples"),
        plots.metric_overlay({"a": history, "b": history[:2]}, tmp_path / "overlay.png", title="overlay"),
    ]
    for path in written:
        assert_image(path)


def test_curves_of_a_diverged_run_with_null_metrics_still_plot(tmp_path):
    history = [{"epoch": 1, "train_loss": 2.0, "train_accuracy": 0.3, "val_loss": 2.1, "val_accuracy": 0.3},
               {"epoch": 2, "train_loss": None, "train_accuracy": None, "val_loss": None, "val_accuracy": None}]
    assert_image(plots.learning_curves(history, tmp_path / "curves.png"))
    assert_image(plots.metric_overlay({"diverged": history}, tmp_path / "overlay.png"))


def test_misclassified_panel_draws_the_same_images_for_the_same_seed(tmp_path):
    labels, predictions = np.arange(40) % 3, np.zeros(40, dtype=int)
    images = np.random.default_rng(0).random((40, 16))  # 4 x 4 images: the side comes from the feature count
    first, second, other_seed = (
        matplotlib.image.imread(plots.misclassified_panel(images, labels, predictions, CLASSES,
                                                          tmp_path / f"{index}.png", rng=np.random.default_rng(seed),
                                                          count=6))
        for index, seed in enumerate((7, 7, 8)))
    np.testing.assert_array_equal(first, second)
    assert first.shape != other_seed.shape or not np.array_equal(first, other_seed)


def test_non_square_images_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a square number"):
        plots.sample_grid(np.zeros((3, 10)), np.array([0, 1, 2]), CLASSES, tmp_path / "x.png", "x")
