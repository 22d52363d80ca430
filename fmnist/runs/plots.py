"""The figures: learning curves, the confusion matrix (counts, row percentages, per-class accuracy,
most-confused pairs), misclassified images, one sample per class, and metric overlays of several runs.

Pure functions of arrays and histories; each writes one PNG and returns its path. matplotlib is
imported on first use (:func:`pyplot`), with the non-interactive Agg backend, so importing fmnist
stays fast; figures are saved and closed by :func:`save`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from pathlib import Path

import numpy as np

METRIC_LABELS = {
    "train_loss": "train loss",
    "val_loss": "validation loss",
    "train_accuracy": "train accuracy",
    "val_accuracy": "validation accuracy",
}


def pyplot():
    """matplotlib.pyplot on the Agg backend (writes files, never opens a window)."""
    import matplotlib  # on first use: matplotlib takes a second to import (module docstring)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path) -> Path:
    """Write ``fig`` as a PNG (120 dpi, tight box), close it, return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    pyplot().close(fig)
    return path


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, class_names: list[str]) -> np.ndarray:
    """counts[i, j] = number of images of true class i predicted as class j; shape (k, k).

    Each pair (i, j) is counted as the flat index i * k + j, so one ``np.bincount`` does it all.
    """
    k = len(class_names)
    flat = np.asarray(labels, dtype=np.int64) * k + np.asarray(predictions, dtype=np.int64)  # int64: uint8 overflows
    return np.bincount(flat, minlength=k * k).reshape(k, k)


def per_class_accuracy(counts: np.ndarray) -> np.ndarray:
    """Diagonal over row sums: the fraction of each true class predicted correctly (NaN if absent)."""
    totals = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(counts) / np.maximum(totals, 1), np.nan)


def most_confused_pairs(counts: np.ndarray, class_names: list[str], k: int = 3) -> list[tuple[str, str, int, float]]:
    """The k largest off-diagonal cells as (true, predicted, count, count / images of the true class).

    Ties go to the earlier cell in row-major order; cells with no mistakes are never listed.
    """
    totals = counts.sum(axis=1)
    cells = [
        (true, predicted)
        for true in range(len(counts))
        for predicted in range(len(counts))
        if true != predicted and counts[true, predicted] > 0
    ]
    cells.sort(key=lambda cell: -counts[cell])  # stable: ties keep row-major order
    return [
        (
            class_names[true],
            class_names[predicted],
            int(counts[true, predicted]),
            float(counts[true, predicted] / totals[true]),
        )
        for true, predicted in cells[:k]
    ]


def learning_curves(history: list[dict], path) -> Path:
    """Loss and accuracy per epoch, train and validation, side by side; training figures only for a run
    without a validation split (``dataset.val_fraction=0``), whose validation figures are all missing."""
    plt = pyplot()
    epochs = [row["epoch"] for row in history]
    validated = any(row.get("val_loss") is not None and math.isfinite(row["val_loss"]) for row in history)
    splits = (("train", "-o"), ("val", "-s")) if validated else (("train", "-o"),)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, kind in zip(axes, ("loss", "accuracy")):
        for split, style in splits:
            axis.plot(
                epochs,
                [row[f"{split}_{kind}"] for row in history],
                style,
                markersize=3,
                label=METRIC_LABELS[f"{split}_{kind}"],
            )
        axis.set(xlabel="epoch", ylabel=kind, title=f"{kind.capitalize()} per epoch")
        integer_x_ticks(axis)
        axis.grid(alpha=0.3)
        axis.legend()
    fig.suptitle("Learning curves" if validated else "Learning curves (no validation split: training only)")
    fig.tight_layout()
    return save(fig, path)


def integer_x_ticks(axis) -> None:
    """Ticks on whole numbers only (epochs, job numbers), even a single one: by default MaxNLocator gives up
    on integers, and ticks 0.96, 0.98, ..., when fewer than two fit in the view (a 1-epoch run)."""
    from matplotlib.ticker import MaxNLocator  # on first use, as pyplot()

    axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def confusion_matrix_figure(counts: np.ndarray, class_names: list[str], path, title: str = "Test set") -> Path:
    """Cells show the count and the percentage of the true class (colour); rows carry per-class accuracy;
    the most-confused pairs are written under the plot."""
    plt = pyplot()
    k = len(class_names)
    totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    percent = 100 * counts / totals
    accuracy = per_class_accuracy(counts)
    fig, axis = plt.subplots(figsize=(1.0 * k + 3, 0.8 * k + 2.5))
    image = axis.imshow(percent, cmap="Blues", vmin=0, vmax=100)
    for i in range(k):
        for j in range(k):
            if counts[i, j] == 0:  # a bare grey 0 keeps the eye on the cells that hold mistakes
                axis.text(j, i, "0", ha="center", va="center", fontsize=7, color="0.6")
                continue
            colour = "white" if percent[i, j] > 60 else "black"
            axis.text(j, i, f"{counts[i, j]}\n{percent[i, j]:.1f}%", ha="center", va="center", fontsize=7, color=colour)
    axis.set_xticks(range(k), class_names, rotation=45, ha="right")
    axis.set_yticks(range(k), [f"{name} ({100 * acc:.1f}%)" for name, acc in zip(class_names, accuracy)])
    axis.set(xlabel="predicted class", ylabel="true class (per-class accuracy)")
    overall = np.trace(counts) / max(counts.sum(), 1)
    axis.set_title(f"{title}: confusion matrix, accuracy {100 * overall:.2f}% (cells: count, % of true class)")
    fig.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="% of true class")
    pairs = most_confused_pairs(counts, class_names)
    if pairs:
        text = "Most confused: " + ";  ".join(
            f"{true} → {predicted} {100 * fraction:.1f}% ({count})" for true, predicted, count, fraction in pairs
        )
        axis.annotate(
            text,
            xy=(0.5, 0),
            xycoords=axis.xaxis.label,
            xytext=(0, -10),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=9,
        )  # anchored under the x label, whatever the figure size
    return save(fig, path)


def _image_side(images: np.ndarray) -> int:
    side = int(round(np.sqrt(images.shape[1])))
    if side * side != images.shape[1]:
        raise ValueError(f"images have {images.shape[1]} features, not a square number of pixels")
    return side


def _image_grid(images: np.ndarray, titles: list[str], path, suptitle: str, columns: int) -> Path:
    plt = pyplot()
    side = _image_side(images)
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.8 * columns, 2.1 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, image, title in zip(axes.ravel(), images, titles):
        axis.imshow(image.reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
        axis.set_title(title, fontsize=8)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return save(fig, path)


def misclassified_panel(
    images: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    class_names: list[str],
    path,
    rng: np.random.Generator,
    count: int = 20,
) -> Path:
    """Up to ``count`` misclassified images, drawn with ``rng``, titled with true and predicted class."""
    wrong = np.flatnonzero(labels != predictions)
    if len(wrong) == 0:
        plt = pyplot()
        fig, axis = plt.subplots(figsize=(5, 1))
        axis.axis("off")
        axis.text(0.5, 0.5, f"No misclassified images: all {len(labels)} predicted correctly", ha="center", va="center")
        return save(fig, path)
    chosen = np.sort(rng.choice(wrong, size=min(count, len(wrong)), replace=False))
    titles = [f"true: {class_names[labels[i]]}\npred: {class_names[predictions[i]]}" for i in chosen]
    return _image_grid(
        images[chosen],
        titles,
        path,
        f"Misclassified test images ({len(wrong)} of {len(labels)} wrong; {len(chosen)} shown)",
        columns=5,
    )


def sample_grid(images: np.ndarray, labels: np.ndarray, class_names: list[str], path, title: str) -> Path:
    """The first image of each class, labelled with its class."""
    present = [(index, np.flatnonzero(labels == index)) for index in range(len(class_names))]
    firsts = [(index, found[0]) for index, found in present if len(found)]
    return _image_grid(
        images[[position for _, position in firsts]],
        [f"{index}: {class_names[index]}" for index, _ in firsts],
        path,
        title,
        columns=5,
    )


def metric_overlay(
    curves: dict[str, list[dict]],
    path,
    metrics=("val_accuracy", "val_loss"),
    title: str = "",
    cut_short: Collection[str] = (),
) -> Path:
    """One panel per metric, one line per run (label -> history), against the epoch. The runs labelled in
    ``cut_short`` (pruned trials) are drawn dashed and fainter, with an x at the last epoch they trained."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    for axis, metric in zip(axes[0], metrics):
        for label, history in curves.items():
            epochs, values = [row["epoch"] for row in history], [row[metric] for row in history]
            if label not in cut_short:
                axis.plot(epochs, values, "-o", markersize=3, label=label)
                continue
            (line,) = axis.plot(epochs, values, "--", alpha=0.6, label=label)
            axis.plot(epochs[-1:], values[-1:], "x", markersize=8, color=line.get_color())
        axis.set(
            xlabel="epoch",
            ylabel=METRIC_LABELS.get(metric, metric),
            title=f"{METRIC_LABELS.get(metric, metric).capitalize()} per epoch",
        )
        integer_x_ticks(axis)
        axis.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(3, max(1, len(labels))), fontsize=8
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)
