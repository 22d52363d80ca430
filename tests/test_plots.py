"""The figures: confusion-matrix arithmetic by hand, and what each figure shows (read back from its
matplotlib objects: panels, titles, plotted values, cell texts) besides the image it writes."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest

from fmnist.runs import plots

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


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the plot functions save, in order (still written to disk, then closed)."""
    saved = []
    write = plots.save

    def keep(fig, path):
        saved.append(fig)
        return write(fig, path)

    monkeypatch.setattr(plots, "save", keep)
    return saved


def line_data(axis) -> dict[str, tuple[list, list]]:
    """Legend label -> (x, y) of each line drawn on ``axis``."""
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in axis.get_lines()}


HISTORY = [
    {
        "epoch": e,
        "train_loss": 1 / e,
        "val_loss": 1.2 / e,
        "train_accuracy": 0.5 + e / 20,
        "val_accuracy": 0.45 + e / 20,
        "seconds_per_epoch": 1.0,
    }
    for e in range(1, 5)
]


def test_learning_curves_draw_train_and_validation_loss_and_accuracy_per_epoch(tmp_path, figures):
    assert_image(plots.learning_curves(HISTORY, tmp_path / "curves.png"))
    (figure,) = figures
    assert figure._suptitle.get_text() == "Learning curves"
    loss_axis, accuracy_axis = figure.axes
    epochs = [1, 2, 3, 4]
    for axis, kind in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        assert axis.get_title() == f"{kind.capitalize()} per epoch" and axis.get_xlabel() == "epoch"
        assert line_data(axis) == {
            f"train {kind}": (epochs, [row[f"train_{kind}"] for row in HISTORY]),
            f"validation {kind}": (epochs, [row[f"val_{kind}"] for row in HISTORY]),
        }
        assert all(tick == int(tick) for tick in axis.get_xticks())


def test_confusion_matrix_figure_shows_counts_row_percentages_and_accuracies(tmp_path, figures):
    counts = plots.confusion_matrix(*hand_counts(), CLASSES)
    assert_image(plots.confusion_matrix_figure(counts, CLASSES, tmp_path / "confusion.png", title="Test set"))
    axis, colour_bar = figures[0].axes
    np.testing.assert_allclose(axis.images[0].get_array(), 100 * counts / counts.sum(axis=1, keepdims=True))
    cells = [text.get_text() for text in axis.texts[:9]]  # row by row
    assert cells == ["1\n33.3%", "2\n66.7%", "0", "0", "2\n100.0%", "0", "1\n25.0%", "0", "3\n75.0%"]
    assert axis.get_title().startswith("Test set: confusion matrix, accuracy 66.67%")  # 6 of 9 on the diagonal
    assert [label.get_text() for label in axis.get_yticklabels()] == ["cat (33.3%)", "dog (100.0%)", "emu (75.0%)"]
    assert [label.get_text() for label in axis.get_xticklabels()] == CLASSES
    assert axis.texts[9].get_text() == "Most confused: cat → dog 66.7% (2);  emu → cat 25.0% (1)"
    assert colour_bar.get_ylabel() == "% of true class"


def test_misclassified_panel_shows_each_wrong_image_with_its_true_and_predicted_class(tmp_path, figures):
    labels, predictions = hand_counts()
    images = np.random.default_rng(0).random((len(labels), 16))  # 4 x 4 images
    assert_image(
        plots.misclassified_panel(
            images, labels, predictions, CLASSES, tmp_path / "wrong.png", rng=np.random.default_rng(0)
        )
    )
    figure = figures[0]
    shown = [axis for axis in figure.axes if axis.images]
    assert figure._suptitle.get_text() == "Misclassified test images (3 of 9 wrong; 3 shown)"
    wrong = [1, 2, 7]  # labels != predictions
    assert [axis.get_title() for axis in shown] == [
        f"true: {CLASSES[labels[i]]}\npred: {CLASSES[predictions[i]]}" for i in wrong
    ]
    for axis, index in zip(shown, wrong):
        np.testing.assert_array_equal(axis.images[0].get_array(), images[index].reshape(4, 4))


def test_misclassified_panel_shows_at_most_count_images_and_says_when_none_are_wrong(tmp_path, figures):
    labels = np.arange(40) % 3
    images = np.random.default_rng(0).random((40, 16))
    plots.misclassified_panel(
        images, labels, np.zeros(40, dtype=int), CLASSES, tmp_path / "some.png", rng=np.random.default_rng(0), count=6
    )
    assert_image(
        plots.misclassified_panel(images, labels, labels, CLASSES, tmp_path / "none.png", rng=np.random.default_rng(0))
    )
    some, none = figures
    assert sum(bool(axis.images) for axis in some.axes) == 6
    assert some._suptitle.get_text() == "Misclassified test images (26 of 40 wrong; 6 shown)"
    assert [text.get_text() for axis in none.axes for text in axis.texts] == [
        "No misclassified images: all 40 predicted correctly"
    ]


def test_sample_grid_shows_the_first_image_of_each_class_present(tmp_path, figures):
    labels = np.array([2, 0, 2, 0])  # class 1 ("dog") absent
    images = np.random.default_rng(1).random((4, 9))
    assert_image(plots.sample_grid(images, labels, CLASSES, tmp_path / "samples.png", "samples"))
    shown = [axis for axis in figures[0].axes if axis.images]
    assert [axis.get_title() for axis in shown] == ["0: cat", "2: emu"]
    np.testing.assert_array_equal(shown[0].images[0].get_array(), images[1].reshape(3, 3))
    np.testing.assert_array_equal(shown[1].images[0].get_array(), images[0].reshape(3, 3))
    assert figures[0]._suptitle.get_text() == "samples"


def test_metric_overlay_draws_one_panel_per_metric_and_one_line_per_run(tmp_path, figures):
    runs = {"a": HISTORY, "b": HISTORY[:2]}
    assert_image(plots.metric_overlay(runs, tmp_path / "overlay.png", title="overlay"))
    figure = figures[0]
    assert figure._suptitle.get_text() == "overlay"
    assert [axis.get_title() for axis in figure.axes] == ["Validation accuracy per epoch", "Validation loss per epoch"]
    for axis, metric in zip(figure.axes, ("val_accuracy", "val_loss")):
        assert line_data(axis) == {
            label: ([row["epoch"] for row in history], [row[metric] for row in history])
            for label, history in runs.items()
        }
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["a", "b"]


@pytest.mark.parametrize("epochs", [1, 2, 3, 50])
def test_epoch_axes_tick_whole_epochs_only_even_for_one_epoch(epochs, tmp_path, figures):
    history = [{**HISTORY[0], "epoch": epoch} for epoch in range(1, epochs + 1)]
    plots.learning_curves(history, tmp_path / "curves.png")
    plots.metric_overlay({"run": history}, tmp_path / "overlay.png")
    for axis in [axis for figure in figures for axis in figure.axes]:
        low, high = axis.get_xlim()
        shown = [tick for tick in axis.get_xticks() if low <= tick <= high]
        assert shown and all(float(tick).is_integer() for tick in shown), shown


def test_curves_of_a_diverged_run_with_null_metrics_still_plot(tmp_path):
    history = [
        {"epoch": 1, "train_loss": 2.0, "train_accuracy": 0.3, "val_loss": 2.1, "val_accuracy": 0.3},
        {"epoch": 2, "train_loss": None, "train_accuracy": None, "val_loss": None, "val_accuracy": None},
    ]
    assert_image(plots.learning_curves(history, tmp_path / "curves.png"))
    assert_image(plots.metric_overlay({"diverged": history}, tmp_path / "overlay.png"))


def test_misclassified_panel_draws_the_same_images_for_the_same_seed(tmp_path):
    labels, predictions = np.arange(40) % 3, np.zeros(40, dtype=int)
    images = np.random.default_rng(0).random((40, 16))  # 4 x 4 images: the side comes from the feature count
    first, second, other_seed = (
        matplotlib.image.imread(
            plots.misclassified_panel(
                images,
                labels,
                predictions,
                CLASSES,
                tmp_path / f"{index}.png",
                rng=np.random.default_rng(seed),
                count=6,
            )
        )
        for index, seed in enumerate((7, 7, 8))
    )
    np.testing.assert_array_equal(first, second)
    assert first.shape != other_seed.shape or not np.array_equal(first, other_seed)


def test_non_square_images_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a square number"):
        plots.sample_grid(np.zeros((3, 10)), np.array([0, 1, 2]), CLASSES, tmp_path / "x.png", "x")
