"""The hooks through which the trainer reports progress.

The trainer calls these methods and knows nothing else about its listeners: console output,
the metrics file, plots and wandb are all callbacks. Metric names are the same everywhere
(stdout, ``metrics.json``, wandb, the sweep report); see :data:`EPOCH_METRICS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Keys of one row of ``history`` (one per epoch), in display order.
EPOCH_METRICS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds_per_epoch")

#: Final keys of a run's summary (also top-level keys of ``metrics.json``).
SUMMARY_METRICS = (
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    "best_val_accuracy",
    "best_epoch",
    "epochs_completed",
    "wall_time_seconds",
)

#: Every status a run can end with.
STATUSES = ("running", "completed", "pruned", "diverged", "interrupted", "failed")
#: The statuses a :class:`StopRequest` can end a run with: early stopping completes it, a sweep's pruner prunes it.
STOP_STATUSES = ("completed", "pruned")


@dataclass
class StopRequest:
    """A callback's request, at the end of an epoch, that training end after that epoch.

    The run then ends as a completed one does (validated, tested, its model saved), with ``status``, and
    the request is kept in its checkpoint, so that a rerun of the run trains nothing more.
    """

    status: str  # the run's final status: "completed" (early stopping) or "pruned" (a sweep's pruner)
    reason: str  # one line for the console and metrics.json
    details: dict = field(default_factory=dict)  # e.g. {"pruner": "MedianPruner", "value": 0.41}

    def __post_init__(self):
        if self.status not in STOP_STATUSES:
            raise ValueError(f"a StopRequest ends a run as one of {', '.join(STOP_STATUSES)}, got {self.status!r}")

    def record(self, epoch: int) -> dict:
        """What metrics.json and the checkpoint keep: {"status", "reason", "epoch", **details}."""
        return {"status": self.status, "reason": self.reason, "epoch": epoch, **self.details}


@dataclass
class RunInfo:
    """What listeners learn from the trainer when training starts.

    Listeners that need the experiment's config or run directory get them when they are built.
    A resumed run starts at epoch ``len(history) + 1``.
    """

    class_names: list[str]
    epochs: int
    batches_per_epoch: int
    history: list[dict] = field(default_factory=list)  # the epochs done before a resumed run's restart


@dataclass
class TrainResult:
    """How a run ended. ``summary`` holds :data:`SUMMARY_METRICS` (NaN where not reached)."""

    status: str
    message: str
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    test_labels: np.ndarray | None = None  # (n_test,) true classes
    test_predictions: np.ndarray | None = None  # (n_test,) predicted classes, None if never evaluated
    stopped_by: str | None = None  # status "interrupted": what asked to stop, e.g. "SIGUSR2" or "Ctrl-C (SIGINT)"
    stopped_early: dict | None = None  # a StopRequest's record (StopRequest.record) when one ended training


def summarize(result: TrainResult, validation_images: int, wall_time_seconds: float, **final) -> dict:
    """:data:`SUMMARY_METRICS` (NaN where not reached) with ``final``'s values, and what a reader needs
    to know how they came about: the validation split's size (0: none, so nothing was chosen on it), the
    epoch whose weights early stopping restored (None: the last epoch's) and why training stopped early."""
    summary = dict.fromkeys(SUMMARY_METRICS, math.nan)
    summary.update({"restored_epoch": None, **final})
    validated = [row for row in result.history if math.isfinite(row["val_accuracy"])]
    if validated:  # none without a validation split (dataset.val_fraction=0): nothing is "best" then
        best = max(validated, key=lambda row: row["val_accuracy"])
        summary["best_val_accuracy"] = best["val_accuracy"]
        summary["best_epoch"] = best["epoch"]
    summary["epochs_completed"] = len(result.history)
    summary["validation_images"] = validation_images
    summary["stopped_early"] = result.stopped_early
    summary["wall_time_seconds"] = wall_time_seconds
    return summary


class Callback:
    """Base class: override the hooks you need; each default does nothing."""

    def on_train_start(self, run: RunInfo) -> None:
        """Called once, before the first epoch."""

    def on_epoch_start(self, epoch: int) -> None:
        """Called before each epoch; ``epoch`` counts from 1."""

    def on_batch_end(self, batch: int, loss: float) -> None:
        """Called after each optimiser step; ``batch`` counts from 1 within the epoch."""

    def on_epoch_end(self, metrics: dict) -> StopRequest | None:
        """Called after each epoch with one row of :data:`EPOCH_METRICS`; a :class:`StopRequest` returned
        here ends training after this epoch (every callback still hears of the epoch)."""
        return None

    def on_train_end(self, result: TrainResult) -> None:
        """Called once, whatever the outcome (also after divergence, Ctrl-C or an error)."""
