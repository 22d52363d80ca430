"""Console progress: a bar per epoch on a terminal, one line per epoch through :mod:`logging`.

The lines go to the ``fmnist.training.progress`` logger. Under ``train.py``, Hydra's logging config
(conf/hydra/job_logging/fmnist.yaml) prints them as plain lines on stdout, warnings and errors as
``warning: ...``/``error: ...`` on stderr, and writes all of them, timed, into the run's ``train.log``.
Elsewhere ``logging.basicConfig(level=logging.INFO, format="%(message)s")`` shows them.
"""

from __future__ import annotations

import logging
import sys

from tqdm.auto import tqdm

from fmnist.training.callbacks import EPOCH_METRICS, STOP_STATUSES, Callback, RunInfo, TrainResult

PROGRESS_MODES = ("auto", "bar", "lines", "none")

log = logging.getLogger(__name__)


def format_metrics(metrics: dict) -> str:
    """``train_loss 0.4123  val_accuracy 0.8583 ...`` with the same names as metrics.json."""
    parts = []
    for key in EPOCH_METRICS[1:]:
        value = metrics[key]
        parts.append(f"{key} {value:.2f}" if key == "seconds_per_epoch" else f"{key} {value:.4f}")
    return "  ".join(parts)


class ConsoleProgress(Callback):
    """``mode``: auto (bar if stderr is a terminal), bar, lines or none; the epoch lines come with every
    mode but none. ``job``: the job number in a multirun, which starts each line (``#3 epoch 2/10 ...``)
    so that parallel jobs' lines can be told apart."""

    def __init__(self, mode: str = "auto", job: int | str | None = None):
        if mode not in PROGRESS_MODES:
            raise ValueError(f"mode must be one of {', '.join(PROGRESS_MODES)}; got {mode!r}")
        self.bar_enabled = mode == "bar" or (mode == "auto" and sys.stderr.isatty())
        self.lines_enabled = mode != "none"
        self.prefix = "" if job is None else f"#{job} "
        self.bar = None
        self.epochs = self.batches_per_epoch = 0

    def on_train_start(self, run: RunInfo) -> None:
        self.epochs, self.batches_per_epoch = run.epochs, run.batches_per_epoch

    def on_epoch_start(self, epoch: int) -> None:
        if self.bar_enabled:
            self.bar = tqdm(
                total=self.batches_per_epoch,
                desc=f"{self.prefix}epoch {epoch}/{self.epochs}",
                unit="batch",
                leave=False,
                mininterval=0.25,
            )

    def on_batch_end(self, batch: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update()

    def on_epoch_end(self, metrics: dict) -> None:
        self._close_bar()
        if self.lines_enabled:
            log.info("%sepoch %d/%d  %s", self.prefix, metrics["epoch"], self.epochs, format_metrics(metrics))

    def on_train_end(self, result: TrainResult) -> None:
        """A run that ended before its last epoch says why: a warning if it diverged or was interrupted,
        a plain line if a callback stopped it (early stopping, a pruner). A failed run's exception is
        reported by whoever catches it."""
        self._close_bar()
        if result.message and result.status != "failed" and self.lines_enabled:
            level = logging.INFO if result.status in STOP_STATUSES else logging.WARNING
            log.log(level, "%s%s", self.prefix, result.message)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class BelowWarning(logging.Filter):
    """Lets info and debug records through: the console's stdout handler, beside a stderr one for problems."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.WARNING


class LevelFormatter(logging.Formatter):
    """``warning: MESSAGE``, ``error: MESSAGE``: problems spelled as the flag shim spells its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {super().formatMessage(record)}"

    def format(self, record: logging.LogRecord) -> str:
        """The message without a traceback: the console says what went wrong, train.log keeps the traceback."""
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
