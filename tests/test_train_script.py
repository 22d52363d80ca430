"""train.py end to end, as a user runs it: outputs, the summary line, flags, bad inputs, evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from omegaconf import OmegaConf

from fmnist.runs.outputs import (
    CONFIG_FILE,
    CONFUSION_MATRIX_PNG,
    LEARNING_CURVES_PNG,
    METRICS_FILE,
    MISCLASSIFIED_PNG,
    MODEL_FILE,
)
from tests.conftest import ROOT


def train(*args, run_dir, data_dir, timeout=120):
    """Run train.py on the tiny generated dataset, without a tracker; returns the finished process."""
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        f"dataset.path={data_dir}",
        "dataset.download=false",
        "logger=none",
        f"hydra.run.dir={run_dir}",
        *args,
    ]
    environment = {**os.environ, "WANDB_MODE": "disabled"}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=environment)


@pytest.fixture(scope="module")
def finished_run(tiny_idx_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    process = train("trainer.epochs=2", "model=mlp", "model.hidden_size=32", run_dir=run_dir, data_dir=tiny_idx_dir)
    assert process.returncode == 0, process.stderr
    return run_dir, process


def test_a_run_leaves_config_metrics_checkpoint_and_plots(finished_run):
    run_dir, _ = finished_run
    for name in (CONFIG_FILE, METRICS_FILE, MODEL_FILE, LEARNING_CURVES_PNG, CONFUSION_MATRIX_PNG, MISCLASSIFIED_PNG):
        assert (run_dir / name).stat().st_size > 0, name
    metrics = json.loads((run_dir / METRICS_FILE).read_text())
    assert metrics["status"] == "completed"
    assert [row["epoch"] for row in metrics["history"]] == [1, 2]
    assert all(row["seconds_per_epoch"] > 0 for row in metrics["history"])
    assert OmegaConf.load(run_dir / CONFIG_FILE).model.hidden_size == 32


def test_last_line_summarises_validation_and_test_accuracy(finished_run):
    run_dir, process = finished_run
    metrics = json.loads((run_dir / METRICS_FILE).read_text())
    last_line = process.stdout.strip().splitlines()[-1]
    assert last_line.startswith("completed:")
    assert f"val_accuracy {100 * metrics['val_accuracy']:.2f}%" in last_line
    assert f"test_accuracy {100 * metrics['test_accuracy']:.2f}%" in last_line
    assert str(run_dir) in last_line


def test_evaluating_the_checkpoint_reproduces_the_test_metrics(finished_run, tiny_idx_dir):
    from fmnist.tools.evaluate import evaluate_run

    run_dir, _ = finished_run
    metrics = json.loads((run_dir / METRICS_FILE).read_text())
    figures = evaluate_run(run_dir, [f"dataset.path={tiny_idx_dir}"])
    assert figures["test_accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-12)
    assert figures["test_loss"] == pytest.approx(metrics["test_loss"], rel=1e-6)
    assert (run_dir / "evaluation_fashion_mnist" / CONFUSION_MATRIX_PNG).is_file()


def test_evaluate_command_prints_per_class_accuracy(finished_run, tiny_idx_dir):
    run_dir, _ = finished_run
    process = subprocess.run(
        [sys.executable, "-m", "fmnist.tools.evaluate", str(run_dir), f"dataset.path={tiny_idx_dir}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert process.returncode == 0, process.stderr
    assert "per-class accuracy" in process.stdout and "Ankle boot" in process.stdout
    assert "most confused" in process.stdout


def test_evaluate_on_a_missing_run_exits_2(tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "fmnist.tools.evaluate", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert process.returncode == 2
    assert "no model" in process.stderr and "Traceback" not in process.stderr


def test_assignment_flags_and_hydra_overrides_mix(tiny_idx_dir, tmp_path):
    process = train(
        "-e",
        "1",
        "-b",
        "50",
        "-o",
        "nadam",
        "-lr",
        "2e-3",
        "-nhl",
        "2",
        "-sz",
        "16",
        "-a",
        "Tanh",
        "-w_i",
        "Xavier",
        "-l",
        "mean_squared_error",
        "-w_d",
        "1e-4",
        "model.dropout=0.1",
        run_dir=tmp_path,
        data_dir=tiny_idx_dir,
    )
    assert process.returncode == 0, process.stderr
    config = OmegaConf.load(tmp_path / CONFIG_FILE)
    assert config.trainer.epochs == 1 and config.trainer.batch_size == 50
    assert config.optimizer._target_ == "fmnist.core.optim.NAdam" and config.optimizer.lr == 2e-3
    assert config.optimizer.weight_decay == 1e-4
    assert config.model.num_layers == 2 and config.model.hidden_size == 16 and config.model.dropout == 0.1
    assert config.activation._target_.endswith("Tanh") and config.init._target_.endswith("Xavier")
    assert config.loss._target_.endswith("MeanSquaredError")


BAD_INPUTS = [  # (arguments, words the error message must contain)
    (["-lr", "0"], ["-lr", "0", "> 0"]),
    (["-b", "0"], ["--batch_size", "0"]),
    (["-sz", "0"], ["--hidden_size", "0"]),
    (["-nhl", "-1"], ["--num_layers", "-1"]),
    (["-w_d", "-0.1"], ["--weight_decay", "-0.1"]),
    (["-beta1", "1.0"], ["--beta1", "1.0"]),
    (["-e", "0"], ["--epochs", "0"]),
    (["-o", "adagrad"], ["--optimizer", "adagrad", "nadam"]),
    (["-a", "gelu"], ["--activation", "gelu", "relu"]),
    (["dataset.path=/no/such/folder"], ["/no/such/folder"]),
    (["optimizer.lr=-1"], ["optimizer.lr", "-1"]),
    (["model.dropout=1.5"], ["model.dropout", "1.5"]),
    (["trainer.batch_size=0"], ["trainer.batch_size", "0"]),
    (["optimizer=adagrad"], ["optimizer=adagrad", "nadam"]),
    (["+experiment=keras"], ["+experiment=keras", "keras_dropout"]),
    (["model.no_such_key=3"], ["no_such_key"]),  # Hydra's own message, exit 2 like the rest
    (["-m", "--cfg", "job"], ["Only one of", "--multirun", "--cfg"]),  # Hydra's mode check, no traceback
    (["augment.max_shift=28"], ["augment.max_shift", "28", "0 to 27"]),
    (["augment.horizontal_flip=maybe"], ["augment.horizontal_flip", "maybe", "true or false"]),
    (["loss=smoothed_cross_entropy", "loss.smoothing=1.5"], ["loss.smoothing", "1.5", "[0, 1)"]),
]


@pytest.mark.parametrize("arguments, words", BAD_INPUTS, ids=[" ".join(case[0]) for case in BAD_INPUTS])
def test_bad_input_exits_2_with_a_message_and_no_traceback(tiny_idx_dir, tmp_path, arguments, words):
    process = train(*arguments, run_dir=tmp_path, data_dir=tiny_idx_dir)
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr + process.stdout
    for word in words:
        assert word in process.stderr, (word, process.stderr)


def test_a_diverged_run_exits_1_and_keeps_its_record(tiny_idx_dir, tmp_path):
    process = train(
        "optimizer=momentum",
        "optimizer.lr=1000",
        "activation=identity",
        "trainer.epochs=3",
        "model=mlp",
        run_dir=tmp_path,
        data_dir=tiny_idx_dir,
    )
    assert process.returncode == 1
    assert process.stdout.strip().splitlines()[-1].startswith("diverged:")
    metrics = json.loads((tmp_path / METRICS_FILE).read_text())
    assert metrics["status"] == "diverged" and "learning rate" in metrics["message"]
    assert (tmp_path / CONFIG_FILE).is_file()


def test_hydra_cfg_job_prints_the_composed_config(tiny_idx_dir, tmp_path):
    process = train("--cfg", "job", "optimizer=nadam", run_dir=tmp_path, data_dir=tiny_idx_dir)
    assert process.returncode == 0, process.stderr
    config = OmegaConf.create(process.stdout)
    assert config.optimizer._target_ == "fmnist.core.optim.NAdam"
    assert not (tmp_path / METRICS_FILE).exists()  # printing the config trains nothing


def test_same_seed_same_metrics(tiny_idx_dir, tmp_path):
    runs = []
    for name in ("first", "second"):
        process = train("trainer.epochs=1", "plots=false", "model=mlp", run_dir=tmp_path / name, data_dir=tiny_idx_dir)
        assert process.returncode == 0, process.stderr
        history = json.loads((tmp_path / name / METRICS_FILE).read_text())["history"]
        runs.append([{key: value for key, value in row.items() if key != "seconds_per_epoch"} for row in history])
    assert runs[0] == runs[1]
    first = np.load(tmp_path / "first" / MODEL_FILE)["params"]
    np.testing.assert_array_equal(first, np.load(tmp_path / "second" / MODEL_FILE)["params"])


def test_train_log_holds_the_progress_and_ends_with_the_summary_line(finished_run):
    run_dir, process = finished_run
    log_lines = (run_dir / "train.log").read_text().strip().splitlines()
    printed = process.stdout.strip().splitlines()
    assert [line.partition("] ")[2] for line in log_lines[-len(printed) :]] == printed
    assert log_lines[-1].endswith(printed[-1]) and printed[-1].startswith("completed:")


def test_evaluating_with_a_dataset_folder_that_does_not_exist_exits_2_with_a_message(finished_run, tmp_path):
    run_dir, _ = finished_run
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "fmnist.tools.evaluate",
            str(run_dir),
            f"dataset.path={tmp_path}/nowhere",
            "dataset.download=false",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert process.returncode == 2
    assert process.stderr.startswith("error: dataset: ") and "Traceback" not in process.stderr


def test_a_run_that_fails_says_so_in_one_line_and_keeps_the_traceback_in_train_log(tiny_idx_dir, tmp_path):
    code = (
        "import runpy, sys\nimport fmnist.training.trainer\n"
        "def broken(*args, **kwargs):\n    raise RuntimeError('a bug in training')\n"
        "fmnist.training.trainer.Trainer.train_epoch = broken\n"
        "sys.argv = ['train.py', *sys.argv[1:]]\nrunpy.run_path('train.py', run_name='__main__')"
    )
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            f"dataset.path={tiny_idx_dir}",
            "dataset.download=false",
            "logger=none",
            "model=mlp",
            "trainer.epochs=1",
            f"hydra.run.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert process.returncode == 1
    assert "Traceback" not in process.stderr
    assert f"error: RuntimeError: a bug in training (traceback in {tmp_path / 'train.log'})" in process.stderr
    assert "Traceback" in (tmp_path / "train.log").read_text()
    assert json.loads((tmp_path / METRICS_FILE).read_text())["status"] == "failed"
