"""Console progress: a bar per epoch on a terminal, one plain line per epoch otherwise."""
from __future__ import annotations

import sys

from fmnist.callbacks import EPOCH_METRICS, Callback, RunInfo, TrainResult

PROGRESS_MODES = ("auto", "bar", "lines", "none")


def format_metrics(metrics: dict) -> str:
    """``train_loss 0.4123  val_accuracy 0.8583 ...`` with the same names as metrics.json."""
    parts = []
    for key in EPOCH_METRICS[1:]:
        value = metrics[key]
        parts.append(f"{key} {value:.2f}" if key == "seconds_per_epoch" else f"{key} {value:.4f}")
    return "  ".join(parts)


class ConsoleProgress(Callback):
    """``mode``: auto (bar if stderr is a terminal, else lines), bar, lines or none."""

    def __init__(self, mode: str = "auto", stream=None):
        if mode not in PROGRESS_MODES:
            raise ValueError(f"trainer.progress must be one of {', '.join(PROGRESS_MODES)}; got {mode!r}")
        self.stream = stream or sys.stdout
        self.bar_enabled = mode == "bar" or (mode == "auto" and sys.stderr.isatty())
        self.lines_enabled = mode != "none"
        self.bar = None
        self.epochs = self.batches_per_epoch = 0

    def on_train_start(self, run: RunInfo) -> None:
        self.epochs, self.batches_per_epoch = run.epochs, run.batches_per_epoch

    def on_epoch_start(self, epoch: int) -> None:
        if self.bar_enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.batches_per_epoch, desc=f"epoch {epoch}/{self.epochs}",
                            unit="batch", leave=False, mininterval=0.25)

    def on_batch_end(self, batch: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update()

    def on_epoch_end(self, metrics: dict) -> None:
        self._close_bar()
        if self.lines_enabled:
            print(f"epoch {metrics['epoch']}/{self.epochs}  {format_metrics(metrics)}", file=self.stream, flush=True)

    def on_train_end(self, result: TrainResult) -> None:
        self._close_bar()
        if result.status != "completed" and self.lines_enabled:
            print(f"{result.status}: {result.message}", file=sys.stderr, flush=True)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
