"""Console progress: epoch lines through logging, the job prefix, how an early stop is told, and the
logging config that keeps the console plain and fills the run's train.log."""

from __future__ import annotations

import io
import logging
import logging.config
import os
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from fmnist.training.callbacks import RunInfo, TrainResult
from fmnist.training.progress import ConsoleProgress
from tests.conftest import CONF_DIR, ROOT

ROW = {
    "epoch": 2,
    "train_loss": 0.5,
    "train_accuracy": 0.8,
    "val_loss": 0.6,
    "val_accuracy": 0.75,
    "seconds_per_epoch": 1.25,
}


def run_progress(progress: ConsoleProgress, result: TrainResult) -> None:
    progress.on_train_start(RunInfo(class_names=["a", "b"], epochs=3, batches_per_epoch=4))
    progress.on_epoch_start(2)
    progress.on_epoch_end(ROW)
    progress.on_train_end(result)


def test_each_epoch_is_one_info_line_with_the_metric_names_of_metrics_json(caplog):
    caplog.set_level(logging.INFO, logger="fmnist.training.progress")
    run_progress(ConsoleProgress("lines"), TrainResult(status="completed", message=""))
    assert [record.getMessage() for record in caplog.records] == [
        "epoch 2/3  train_loss 0.5000  train_accuracy 0.8000  val_loss 0.6000  val_accuracy 0.7500  "
        "seconds_per_epoch 1.25"
    ]
    assert caplog.records[0].levelno == logging.INFO


def test_a_multirun_job_number_starts_every_line(caplog):
    caplog.set_level(logging.INFO, logger="fmnist.training.progress")
    run_progress(ConsoleProgress("lines", job=7), TrainResult(status="interrupted", message="stopped by Ctrl-C"))
    assert [record.getMessage() for record in caplog.records] == [
        caplog.records[0].getMessage(),
        "#7 stopped by Ctrl-C",
    ]
    assert caplog.records[0].getMessage().startswith("#7 epoch 2/3  train_loss")


@pytest.mark.parametrize("status", ["interrupted", "diverged"])
def test_an_early_stop_is_one_warning_holding_the_message_once(status, caplog):
    message = f"{status} in epoch 3: the reason"
    run_progress(ConsoleProgress("lines"), TrainResult(status=status, message=message))
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [record.getMessage() for record in warnings] == [message]


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_a_completed_or_failed_run_adds_no_end_line(status, caplog):
    """A failure's exception is reported by whoever catches it (fmnist.front.app), not twice."""
    run_progress(ConsoleProgress("lines"), TrainResult(status=status, message="ValueError: boom"))
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_mode_none_logs_nothing(caplog):
    caplog.set_level(logging.INFO, logger="fmnist.training.progress")
    run_progress(ConsoleProgress("none"), TrainResult(status="interrupted", message="stopped"))
    assert caplog.records == []


def test_an_unknown_mode_is_refused_with_the_allowed_ones():
    with pytest.raises(ValueError, match="mode must be one of auto, bar, lines, none; got 'fancy'"):
        ConsoleProgress("fancy")


@pytest.fixture
def fmnist_logging(tmp_path):
    """conf/hydra/job_logging/fmnist.yaml applied as Hydra applies it, the log file in tmp_path and each console
    handler writing into a StringIO of its own (handler name -> stream); root logging restored after."""
    config = OmegaConf.load(CONF_DIR / "hydra" / "job_logging" / "fmnist.yaml")
    config.handlers.file.filename = str(tmp_path / "train.log")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logging.config.dictConfig(OmegaConf.to_container(config))
    streams = {handler.name: io.StringIO() for handler in root.handlers if handler.name != "file"}
    for handler in root.handlers:
        if handler.name in streams:
            handler.setStream(streams[handler.name])
    yield tmp_path / "train.log", streams
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = saved


def test_console_gets_plain_lines_on_stdout_and_problems_on_stderr_and_the_file_gets_all(fmnist_logging):
    log_file, streams = fmnist_logging
    log = logging.getLogger("fmnist.anything")
    log.info("epoch 1/2  val_accuracy 0.5000")
    log.warning("optimizer.beta=0.9 is not used by Adam; ignored")
    log.error("job 3 failed: bad value")
    handlers = OmegaConf.load(CONF_DIR / "hydra" / "job_logging" / "fmnist.yaml").handlers
    assert (handlers.console.stream, handlers.problems.stream) == ("ext://sys.stdout", "ext://sys.stderr")
    assert streams["console"].getvalue() == "epoch 1/2  val_accuracy 0.5000\n"
    assert streams["problems"].getvalue() == (
        "warning: optimizer.beta=0.9 is not used by Adam; ignored\nerror: job 3 failed: bad value\n"
    )
    logged = log_file.read_text().splitlines()
    assert [line.partition("] ")[2] for line in logged] == [
        "epoch 1/2  val_accuracy 0.5000",
        "optimizer.beta=0.9 is not used by Adam; ignored",
        "job 3 failed: bad value",
    ]
    assert [line.split("][")[1].partition("]")[0] for line in logged] == ["INFO", "WARNING", "ERROR"]


def test_train_py_writes_progress_and_warnings_into_train_log_and_plain_lines_to_a_pipe(tiny_idx_dir, tmp_path):
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        "hydra/job_logging=fmnist",
        f"dataset.path={tiny_idx_dir}",
        "dataset.download=false",
        "logger=none",
        "plots=false",
        f"hydra.run.dir={tmp_path}",
        "model=mlp",
        "model.hidden_size=16",
        "trainer.epochs=2",
        "optimizer=adam",
        "++optimizer.beta=0.5",
    ]
    process = subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "WANDB_MODE": "disabled"}
    )
    assert process.returncode == 0, process.stderr
    epoch_lines = [line for line in process.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]
    assert all(line.startswith(("epoch ", "completed: ")) for line in process.stdout.splitlines())
    assert "warning: optimizer.beta=0.5 is not used by fmnist.core.optim.Adam; ignored" in process.stderr
    logged = (tmp_path / "train.log").read_text()
    assert all(line in logged for line in epoch_lines)
    assert "[WARNING] optimizer.beta=0.5 is not used" in logged
