"""Stopping after an epoch: a callback's StopRequest ends training there (early stopping, a sweep's pruner),
the run is evaluated as a completed one, and its checkpoint keeps the request so that nothing trains on."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fmnist.front.app import EXIT_CODES
from fmnist.front.experiment import Experiment
from fmnist.runs.outputs import METRICS_FILE
from fmnist.runs.resume import CHECKPOINT_DIR, LAST, read_checkpoint
from fmnist.training.callbacks import STATUSES, STOP_STATUSES, Callback, StopRequest
from fmnist.training.checkpointing import Checkpointing
from tests.conftest import small_trainer
from tests.test_experiment import compose_config


class StopAt(Callback):
    """Asks to stop at the end of ``epoch`` with ``status``."""

    def __init__(self, epoch: int, status: str = "completed"):
        self.epoch, self.status = epoch, status

    def on_epoch_end(self, metrics):
        if metrics["epoch"] == self.epoch:
            return StopRequest(self.status, f"asked at epoch {self.epoch}", {"value": metrics["val_accuracy"]})
        return None


class Heard(Callback):
    """Keeps the epochs it was told of and the starts of epochs."""

    def __init__(self):
        self.started, self.ended = [], []

    def on_epoch_start(self, epoch):
        self.started.append(epoch)

    def on_epoch_end(self, metrics):
        self.ended.append(metrics["epoch"])


def make_trainer(callbacks=(), epochs=5, **settings):
    return small_trainer(epochs, callbacks=list(callbacks), **settings)


@pytest.mark.parametrize("status", STOP_STATUSES)
def test_a_stop_request_ends_training_after_its_epoch_and_the_run_is_still_tested(tiny_data, status):
    heard = Heard()
    result = make_trainer([StopAt(2, status), heard]).fit(tiny_data)
    assert result.status == status
    assert [row["epoch"] for row in result.history] == [1, 2] and heard.ended == [1, 2]  # later callbacks hear epoch 2
    value = result.history[1]["val_accuracy"]
    assert result.stopped_early == {"status": status, "reason": "asked at epoch 2", "epoch": 2, "value": value}
    assert result.summary["stopped_early"] == result.stopped_early
    assert result.message == "stopped after epoch 2: asked at epoch 2"
    assert math.isfinite(result.summary["test_accuracy"]) and result.test_predictions is not None
    assert result.summary["epochs_completed"] == 2


def test_the_first_of_several_requests_wins(tiny_data):
    result = make_trainer([StopAt(1, "pruned"), StopAt(1, "completed")]).fit(tiny_data)
    assert (result.status, result.stopped_early["epoch"]) == ("pruned", 1)


def test_a_run_without_a_request_records_none(tiny_data):
    result = make_trainer(epochs=2).fit(tiny_data)
    assert result.status == "completed" and result.stopped_early is None and result.summary["stopped_early"] is None


def test_a_stop_request_can_only_complete_or_prune():
    assert set(STOP_STATUSES) <= set(STATUSES)
    with pytest.raises(ValueError, match="a StopRequest ends a run as one of completed, pruned, got 'failed'"):
        StopRequest("failed", "no")


def test_the_stopped_epoch_is_saved_with_the_request_and_a_resumed_run_only_evaluates(tiny_data):
    saved = []
    uninterrupted = make_trainer([StopAt(2, "pruned")], checkpointing=Checkpointing(saved.append, 4)).fit(tiny_data)
    assert [state.epoch for state in saved] == [2]  # not an epoch due for a checkpoint, saved for the stop
    assert saved[-1].stopped == uninterrupted.stopped_early
    heard = Heard()
    resumed = make_trainer([heard]).fit(tiny_data, resume=saved[-1])  # as if killed before the run ended
    assert heard.started == [] and resumed.status == "pruned"
    assert resumed.stopped_early == uninterrupted.stopped_early
    assert resumed.history == uninterrupted.history
    np.testing.assert_array_equal(resumed.test_predictions, uninterrupted.test_predictions)
    for key in ("val_loss", "val_accuracy", "test_loss", "test_accuracy", "best_epoch"):
        assert resumed.summary[key] == uninterrupted.summary[key], key


def test_a_pruned_run_exits_0_keeps_its_checkpoint_and_a_rerun_trains_nothing(tiny_idx_dir, tmp_path):
    cfg = compose_config(tiny_idx_dir, ["trainer.epochs=4"])
    result = Experiment(cfg, tmp_path, extra_callbacks=[StopAt(2, "pruned")]).run()
    assert result.status == "pruned" and EXIT_CODES[result.status] == 0
    metrics = json.loads((tmp_path / METRICS_FILE).read_text())
    assert metrics["status"] == "pruned" and len(metrics["history"]) == 2
    assert metrics["stopped_early"]["epoch"] == 2 and metrics["stopped_early"]["reason"] == "asked at epoch 2"
    checkpoint = read_checkpoint(tmp_path / CHECKPOINT_DIR / LAST)
    assert checkpoint.status == "pruned" and checkpoint.finished
    assert checkpoint.state.stopped == checkpoint.summary["stopped_early"] == metrics["stopped_early"]
    heard = Heard()
    again = Experiment(cfg, tmp_path, extra_callbacks=[heard]).run()
    assert again.status == "pruned" and heard.started == [] and again.message == "already pruned; nothing to do"
