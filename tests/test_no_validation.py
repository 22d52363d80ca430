"""A run without a validation split (dataset.val_fraction=0, the final fit of issue 27): nothing selects on
validation, the last (averaged) weights are the model, the curves show training only, metrics.json says so,
and it resumes like any run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from fmnist.runs import plots
from fmnist.runs.outputs import METRICS_FILE, MODEL_FILE
from fmnist.runs.resume import CHECKPOINT_DIR, LAST, read_checkpoint
from tests.conftest import CONF_DIR
from tests.test_resume import BATCHES_PER_EPOCH, EPOCHS, train

NO_VALIDATION = "dataset.val_fraction=0"


def untimed(rows: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if key != "seconds_per_epoch"} for row in rows]


@pytest.fixture(scope="module")
def final_fit(tiny_idx_dir, tmp_path_factory):
    """An uninterrupted run on every training image, with the moving average of the default config."""
    run_dir = tmp_path_factory.mktemp("no_validation")
    process = train(run_dir, tiny_idx_dir, NO_VALIDATION)
    assert process.returncode == 0, process.stderr
    return run_dir


def test_the_final_fit_preset_holds_no_validation_split_back():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["+experiment=final_fit"])
    assert cfg.dataset.val_fraction == 0 and cfg.trainer.get("early_stopping") is None


def test_metrics_say_there_was_no_validation_and_nothing_was_chosen(final_fit):
    metrics = json.loads((final_fit / METRICS_FILE).read_text())
    assert metrics["status"] == "completed" and metrics["validation_images"] == 0
    assert len(metrics["history"]) == EPOCHS
    assert all(row["val_loss"] is None and row["val_accuracy"] is None for row in metrics["history"])  # null: NaN
    assert metrics["best_epoch"] is None and metrics["best_val_accuracy"] is None and metrics["val_accuracy"] is None
    assert metrics["restored_epoch"] is None and metrics["stopped_early"] is None
    assert metrics["test_accuracy"] > 0.1


def test_the_last_averaged_weights_are_the_model(final_fit):
    checkpoint = read_checkpoint(final_fit / CHECKPOINT_DIR / LAST)
    assert checkpoint.state.epoch == EPOCHS and checkpoint.state.averaged_params is not None
    with np.load(final_fit / MODEL_FILE) as model:
        np.testing.assert_array_equal(model["params"], checkpoint.state.averaged_params)


def test_a_run_with_validation_says_how_many_images_it_held_out(tiny_idx_dir, tmp_path):
    assert train(tmp_path, tiny_idx_dir, "trainer.epochs=1").returncode == 0
    assert json.loads((tmp_path / METRICS_FILE).read_text())["validation_images"] == 30  # 10 % of 300


def test_a_run_without_validation_killed_and_resumed_ends_identical(tiny_idx_dir, tmp_path, final_fit):
    killed = train(tmp_path, tiny_idx_dir, NO_VALIDATION, kill=("step", 2 * BATCHES_PER_EPOCH + 4, "KILL"))
    assert killed.returncode == -9, killed.stderr
    assert train(tmp_path, tiny_idx_dir, NO_VALIDATION).returncode == 0
    with np.load(tmp_path / MODEL_FILE) as resumed, np.load(final_fit / MODEL_FILE) as expected:
        assert np.array_equal(resumed["params"], expected["params"])
    resumed, expected = (json.loads((folder / METRICS_FILE).read_text()) for folder in (tmp_path, final_fit))
    assert untimed(resumed.pop("history")) == untimed(expected.pop("history"))
    for metrics in (resumed, expected):
        metrics.pop("wall_time_seconds")
    assert resumed == expected


@pytest.fixture
def figures(monkeypatch):
    saved = []
    write = plots.save
    monkeypatch.setattr(plots, "save", lambda fig, path: saved.append(fig) or write(fig, path))
    return saved


def test_learning_curves_without_validation_show_training_figures_only(tmp_path, figures):
    history = [
        {
            "epoch": epoch,
            "train_loss": 1 / epoch,
            "train_accuracy": 0.5 + epoch / 20,
            "val_loss": math.nan,
            "val_accuracy": None,
            "seconds_per_epoch": 1.0,
        }
        for epoch in range(1, 4)
    ]  # NaN in memory, null in JSON
    plots.learning_curves(history, tmp_path / "curves.png")
    (figure,) = figures
    assert [[line.get_label() for line in axis.get_lines()] for axis in figure.axes] == [
        ["train loss"],
        ["train accuracy"],
    ]
    assert "no validation split" in figure._suptitle.get_text()
