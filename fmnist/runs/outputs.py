"""Files a run leaves in its directory: ``metrics.json`` (kept current every epoch, so a crashed
run still has its history and status) and the PNG plots written at the end."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np

from fmnist.runs import plots
from fmnist.runs.atomic import write_atomically
from fmnist.runs.model_file import save_model
from fmnist.training.callbacks import Callback, RunInfo, TrainResult

METRICS_FILE = "metrics.json"
MODEL_FILE = "model.npz"
CONFIG_FILE = "config.yaml"
LEARNING_CURVES_PNG = "learning_curves.png"
CONFUSION_MATRIX_PNG = "confusion_matrix.png"
MISCLASSIFIED_PNG = "misclassified.png"


def _json_safe(value):
    """NaN and inf are not JSON: write them as null."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_json_atomically(path: Path, payload: dict) -> None:
    """Readers (and a resumed run) never see half a file: see :mod:`fmnist.runs.atomic`."""
    text = json.dumps(_json_safe(payload), indent=2) + "\n"
    write_atomically(path, lambda file: file.write(text.encode()))


class OutputFolderError(Exception):
    """An output folder that cannot be created or written to, with a message for the user."""


def create_output_folder(folder: str | Path, setting: str | None = None) -> Path:
    """Create ``folder`` (and its parents) and check that files can be written in it, so that a tool
    given a bad ``--out`` (or a run a bad ``hydra.run.dir``) stops at once, before any work, with one
    line instead of a traceback.

    Raises :class:`OutputFolderError` naming the setting (``setting``, default ``--out FOLDER``) and the reason.
    """
    folder = Path(folder)
    step = "cannot create it"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        step = "cannot create files in it"  # a folder can exist and still refuse them (read-only, /proc)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        reason = (
            "a file of that name is in the way"
            if isinstance(error, FileExistsError)
            else f"{step}: {error.strerror or error}"
        )
        raise OutputFolderError(
            f"{setting or f'--out {folder}'}: cannot write there ({reason}); pass a folder you can write to"
        ) from None
    return folder


def read_metrics(run_dir: str | Path) -> dict:
    """The ``metrics.json`` of a run, with nulls as NaN."""
    payload = json.loads((Path(run_dir) / METRICS_FILE).read_text())
    return {key: (math.nan if value is None else value) for key, value in payload.items()}


class MetricsFile(Callback):
    """Keeps ``run_dir/metrics.json`` current: status, history so far, final summary."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / METRICS_FILE
        self.payload: dict = {"status": "running", "message": "", "history": []}

    def on_train_start(self, run: RunInfo) -> None:
        self.payload["history"] = [dict(row) for row in run.history]  # a resumed run's earlier epochs
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.path, self.payload)

    def on_epoch_end(self, metrics: dict) -> None:
        self.payload["history"].append(dict(metrics))
        write_json_atomically(self.path, self.payload)

    def on_train_end(self, result: TrainResult) -> None:
        self.payload.update(status=result.status, message=result.message, history=result.history, **result.summary)
        if result.stopped_by:
            self.payload["stopped_by"] = result.stopped_by  # what asked an interrupted run to stop
        write_json_atomically(self.path, self.payload)

    def mark_failed(self, message: str) -> None:
        """Record a failure that happened outside training (e.g. while building the experiment)."""
        self.payload.update(status="failed", message=message)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.path, self.payload)


class ModelWriter(Callback):
    """Saves the trained network as ``run_dir/model.npz`` (weights, shape, config) when a run ends with
    weights worth keeping: completed, pruned, or interrupted after at least one epoch. Listed before
    :class:`MetricsFile`, so a run that says it completed always has its model."""

    def __init__(self, run_dir: str | Path, network, config: dict):
        self.path = Path(run_dir) / MODEL_FILE
        self.network = network
        self.config = config

    def on_train_end(self, result: TrainResult) -> None:
        if result.status in ("completed", "pruned", "interrupted") and result.history:
            save_model(self.path, self.network, self.config)


class PlotWriter(Callback):
    """Writes learning curves, the test confusion matrix and misclassified test images as PNGs."""

    def __init__(self, run_dir: str | Path, test_images: np.ndarray, class_names: list[str], seed: int = 0):
        self.run_dir = Path(run_dir)
        self.test_images = test_images
        self.class_names = list(class_names)
        self.seed = seed

    def on_train_end(self, result: TrainResult) -> None:
        if result.history:
            plots.learning_curves(result.history, self.run_dir / LEARNING_CURVES_PNG)
        if result.test_predictions is not None:
            write_evaluation_plots(
                self.run_dir,
                self.test_images,
                result.test_labels,
                result.test_predictions,
                self.class_names,
                seed=self.seed,
            )


def write_evaluation_plots(
    out_dir: Path,
    images: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    class_names: list[str],
    seed: int = 0,
    title: str = "Test set",
) -> np.ndarray:
    """Confusion matrix (counts and row percentages) and misclassified images; returns the counts."""
    counts = plots.confusion_matrix(labels, predictions, class_names)
    plots.confusion_matrix_figure(counts, class_names, Path(out_dir) / CONFUSION_MATRIX_PNG, title=title)
    plots.misclassified_panel(
        images, labels, predictions, class_names, Path(out_dir) / MISCLASSIFIED_PNG, rng=np.random.default_rng(seed)
    )
    return counts
