"""Early stopping (trainer.early_stopping, docs/early-stopping.md): Keras's rule, the best weights restored,
metrics.json saying where and why, exact resume after a kill, and the refusals (exit 2, one line)."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

from fmnist.core.averaging import ExponentialAverage
from fmnist.front.experiment import ConfigError, Experiment
from fmnist.runs.outputs import METRICS_FILE, MODEL_FILE
from fmnist.runs.resume import CHECKPOINT_DIR, LAST, read_checkpoint
from fmnist.training.callbacks import Callback
from fmnist.training.early_stopping import MONITORS, EarlyStopping
from tests.conftest import group_options, load_option
from tests.test_experiment import compose_config
from tests.test_resume import BATCHES_PER_EPOCH, train
from tests.test_stopping import make_trainer

#: On the tiny dataset (tests/test_resume.py's run, 8 epochs): val_accuracy 0.167, 0.533, 0.7, 0.7, 0.7, ...
#: so these settings stop after epoch 5 and restore epoch 3.
STOPPING = [
    "trainer.epochs=8",
    "early_stopping=patience_10",
    "trainer.early_stopping.patience=2",
    "trainer.early_stopping.min_delta=0.02",
]
STOP_EPOCH, BEST_EPOCH = 5, 3

SEQUENCES = {  # monitored values per epoch, and settings
    "accuracy plateau": ("val_accuracy", [0.5, 0.6, 0.6, 0.65, 0.64, 0.7, 0.69, 0.69, 0.69], {"patience": 3}),
    "accuracy below min_delta": (
        "val_accuracy",
        [0.5, 0.6, 0.605, 0.61, 0.612, 0.7],
        {"patience": 2, "min_delta": 0.01},
    ),
    "loss": ("val_loss", [2.0, 1.5, 1.6, 1.4, 1.45, 1.41, 1.39, 1.5], {"patience": 2}),
    "loss with warm-up": (
        "val_loss",
        [5.0, 4.0, 3.95, 3.9, 3.0, 2.95, 2.9, 2.85],
        {"patience": 2, "min_delta": 0.1, "start_from_epoch": 1},
    ),
    "never stops": ("val_accuracy", [0.1, 0.2, 0.3, 0.4], {"patience": 1}),
}


def stop_epoch(monitor: str, values: list[float], settings: dict) -> tuple[int | None, int]:
    """(the epoch after which fmnist's EarlyStopping asks to stop, or None; its best epoch)."""
    stopping = EarlyStopping(monitor=monitor, restore_best=False, **settings)
    for epoch, value in enumerate(values, start=1):
        if stopping.update({"epoch": epoch, monitor: value}, np.zeros(1)) is not None:
            return epoch, stopping.best_epoch
    return None, stopping.best_epoch


@pytest.mark.skipif(importlib.util.find_spec("keras") is None, reason="keras is not installed (requirements-dev.txt)")
@pytest.mark.parametrize("name", SEQUENCES)
def test_the_rule_stops_where_keras_early_stopping_does(name):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    monitor, values, settings = SEQUENCES[name]

    class Model:  # what keras.callbacks.EarlyStopping touches without restore_best_weights
        stop_training = False

    mode = "max" if MONITORS[monitor] else "min"  # keras reads it from the model's metrics, which Model lacks
    keras_stopping, model = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, **settings), Model()
    keras_stopping.set_model(model)
    keras_stopping.on_train_begin()
    keras_stop = None
    for index, value in enumerate(values):  # keras counts epochs from 0
        keras_stopping.on_epoch_end(index, {monitor: value})
        if model.stop_training:
            keras_stop = index + 1
            break
    assert stop_epoch(monitor, values, settings) == (keras_stop, keras_stopping.best_epoch + 1)


def test_the_rule_by_hand():
    assert stop_epoch(*SEQUENCES["accuracy plateau"]) == (9, 6)  # 0.69 three times after 0.7
    assert stop_epoch(*SEQUENCES["accuracy below min_delta"]) == (4, 2)  # +0.005, +0.01 are not > 0.01
    assert stop_epoch(*SEQUENCES["never stops"]) == (None, 4)


class KeepAverages(Callback):
    """Keeps a copy of the weight average at the end of each epoch."""

    def __init__(self, trainer):
        self.trainer, self.averages = trainer, []

    def on_epoch_end(self, metrics):
        self.averages.append(self.trainer.average.average.copy())


def test_restore_best_keeps_the_best_average_and_the_run_says_where_and_why(tiny_data):
    stopping = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.5)  # stops after epoch 2
    trainer = make_trainer(epochs=5, average=ExponentialAverage(0.9), early_stopping=stopping)
    keep = KeepAverages(trainer)
    trainer.callbacks.append(keep)
    result = trainer.fit(tiny_data)
    assert result.status == "completed" and len(result.history) == 2
    assert result.stopped_early == {
        "status": "completed",
        "epoch": 2,
        "monitor": "val_accuracy",
        "best_epoch": 1,
        "best_value": result.history[0]["val_accuracy"],
        "patience": 1,
        "min_delta": 0.5,
        "reason": result.stopped_early["reason"],
    }
    assert "val_accuracy did not improve by more than 0.5 for 1 epoch(s)" in result.stopped_early["reason"]
    assert result.summary["restored_epoch"] == 1
    np.testing.assert_array_equal(trainer.network.params, keep.averages[0])  # epoch 1's average, not the raw weights
    assert result.summary["val_accuracy"] == result.history[0]["val_accuracy"]  # the restored weights validated


def test_without_restore_best_the_last_weights_are_the_model(tiny_data):
    stopping = EarlyStopping(patience=1, min_delta=0.5, restore_best=False)
    result = make_trainer(epochs=5, early_stopping=stopping).fit(tiny_data)
    assert result.stopped_early["epoch"] == 2 and result.summary["restored_epoch"] is None
    assert result.summary["val_accuracy"] == result.history[-1]["val_accuracy"]


@pytest.mark.parametrize("option", group_options("early_stopping"))
def test_every_preset_builds_and_stops_a_run(tiny_idx_dir, tmp_path, option):
    cfg = compose_config(tiny_idx_dir, [f"early_stopping={option}", "trainer.epochs=30"])
    assert set(load_option("early_stopping", option)) <= set(cfg.trainer.early_stopping)
    result = Experiment(cfg, tmp_path).run()
    assert result.status == "completed"
    metrics = json.loads((tmp_path / METRICS_FILE).read_text())
    assert metrics["stopped_early"] is None or metrics["stopped_early"]["monitor"] in MONITORS


def test_a_stopped_run_reports_where_and_why_and_is_not_trained_again(tiny_idx_dir, tmp_path):
    process = train(tmp_path, tiny_idx_dir, *STOPPING)
    assert process.returncode == 0, process.stderr
    assert f"stopped after epoch {STOP_EPOCH}: early stopping: val_accuracy did not improve" in process.stdout
    metrics = json.loads((tmp_path / METRICS_FILE).read_text())
    assert metrics["status"] == "completed" and len(metrics["history"]) == STOP_EPOCH
    assert (metrics["stopped_early"]["epoch"], metrics["stopped_early"]["best_epoch"]) == (STOP_EPOCH, BEST_EPOCH)
    assert metrics["restored_epoch"] == BEST_EPOCH and metrics["validation_images"] > 0
    checkpoint = read_checkpoint(tmp_path / CHECKPOINT_DIR / LAST)
    with np.load(tmp_path / MODEL_FILE) as model:  # the best epoch's average is the saved model
        np.testing.assert_array_equal(model["params"], checkpoint.state.early_stopping["best_weights"])
    again = train(tmp_path, tiny_idx_dir, *STOPPING)
    assert again.returncode == 0 and "nothing trained" in again.stdout and "epoch 1/" not in again.stdout


def outcome(run_dir) -> dict:
    checkpoint = read_checkpoint(run_dir / CHECKPOINT_DIR / LAST)
    metrics = json.loads((run_dir / METRICS_FILE).read_text())
    with np.load(run_dir / MODEL_FILE) as model:
        model_params = model["params"]
    untimed = [{key: value for key, value in row.items() if key != "seconds_per_epoch"} for row in metrics["history"]]
    final = {key: value for key, value in metrics.items() if key not in ("history", "wall_time_seconds")}
    return {
        "params": checkpoint.state.params,
        "model": model_params,
        "early_stopping": checkpoint.state.early_stopping,
        "stopped": checkpoint.state.stopped,
        "history": untimed,
        "final": final,
    }


@pytest.fixture(scope="module")
def stopped_uninterrupted(tiny_idx_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("stopped_uninterrupted")
    assert train(run_dir, tiny_idx_dir, *STOPPING).returncode == 0
    return outcome(run_dir)


@pytest.mark.parametrize(
    "kill",
    [
        ("step", (BEST_EPOCH + 1) * BATCHES_PER_EPOCH - 3, "KILL"),  # after the best epoch
        ("step", STOP_EPOCH * BATCHES_PER_EPOCH, "KILL"),  # the stopping epoch's last step
        ("final", 1, "KILL"),
    ],  # after the stop was saved, before the run ended
    ids=["after-the-best-epoch", "before-the-stopping-epoch-is-saved", "after-the-stop"],
)
def test_a_run_killed_and_resumed_stops_at_the_same_epoch_with_the_same_weights(
    tiny_idx_dir, tmp_path, stopped_uninterrupted, kill
):
    killed = train(tmp_path, tiny_idx_dir, *STOPPING, kill=kill)
    assert killed.returncode == -9, killed.stderr
    resumed = train(tmp_path, tiny_idx_dir, *STOPPING)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    result, expected = outcome(tmp_path), stopped_uninterrupted
    assert np.array_equal(result["params"], expected["params"]) and np.array_equal(result["model"], expected["model"])
    assert np.array_equal(result["early_stopping"].pop("best_weights"), expected["early_stopping"]["best_weights"])
    assert result["early_stopping"] == {
        key: value for key, value in expected["early_stopping"].items() if key != "best_weights"
    }
    assert (result["stopped"], result["history"], result["final"]) == (
        expected["stopped"],
        expected["history"],
        expected["final"],
    )
    assert result["stopped"]["epoch"] == STOP_EPOCH


# ---- refusals ----


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "trainer.early_stopping.monitor=val_acc",
            "trainer.early_stopping.monitor must be one of val_accuracy, val_loss, got 'val_acc'",
        ),
        ("trainer.early_stopping.patience=0", "trainer.early_stopping.patience must be an integer >= 1, got 0"),
        ("trainer.early_stopping.min_delta=-0.1", "trainer.early_stopping.min_delta must be >= 0, got -0.1"),
        (
            "trainer.early_stopping.start_from_epoch=-1",
            "trainer.early_stopping.start_from_epoch must be an integer >= 0",
        ),
        ("trainer.early_stopping.restore_best=maybe", "trainer.early_stopping.restore_best must be true or false"),
        (
            "+trainer.early_stopping.patiense=3",
            "trainer.early_stopping.patiense is not a setting: did you mean trainer.early_stopping.patience?",
        ),
        (
            "dataset.val_fraction=0",
            "trainer.early_stopping must be null when dataset.val_fraction=0 (early stopping "
            "watches the validation split",
        ),
    ],
)
def test_bad_early_stopping_settings_are_refused_naming_the_key(tiny_idx_dir, tmp_path, override, message):
    cfg = compose_config(tiny_idx_dir, ["early_stopping=patience_10", override])
    with pytest.raises(ConfigError) as error:
        Experiment(cfg, tmp_path).run()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_early_stopping_without_a_validation_split_exits_2_with_one_line(tiny_idx_dir, tmp_path):
    process = train(tmp_path, tiny_idx_dir, "early_stopping=patience_10", "dataset.val_fraction=0")
    assert process.returncode == 2
    errors = [line for line in process.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "early_stopping=null" in errors[0] and "dataset.val_fraction=0.1" in errors[0]
    assert "Traceback" not in process.stderr
