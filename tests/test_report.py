"""The sweep report on a generated multirun folder whose best run and driving hyperparameter are known."""
from __future__ import annotations

import csv
import json
import math

import matplotlib.image
import pytest
from omegaconf import OmegaConf

from fmnist.report import collect_runs, importance, main, varying_hyperparameters, write_report

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3]


def write_job(sweep_dir, number, optimizer, lr, activation, val_accuracy, status="completed"):
    job = sweep_dir / str(number)
    (job / ".hydra").mkdir(parents=True)
    targets = {"adam": "fmnist.optim.Adam", "sgd": "fmnist.optim.SGD"}
    config = {"seed": 0, "optimizer": {"_target_": targets[optimizer], "lr": lr, "weight_decay": 0.0},
              "activation": {"_target_": f"fmnist.nn.activations.{activation}"},
              "model": {"num_layers": 3, "hidden_size": 128, "hidden_sizes": None, "dropout": 0.0},
              "trainer": {"epochs": 2, "batch_size": 64, "progress": "auto"}, "logger": {"project": "fmnist"}}
    (job / "config.yaml").write_text(OmegaConf.to_yaml(config))
    overrides = [f"optimizer={optimizer}", f"optimizer.lr={lr}", f"activation={activation.lower()}",
                 "hydra.launcher.n_jobs=2", "logger=none"]
    (job / ".hydra" / "overrides.yaml").write_text(OmegaConf.to_yaml(overrides))
    finished = status == "completed"
    history = [{"epoch": epoch, "train_loss": 1.0, "train_accuracy": 0.5, "val_loss": 1.0,
                "val_accuracy": val_accuracy - (2 - epoch) * 0.01, "seconds_per_epoch": 0.5}
               for epoch in (1, 2)] if finished else []
    metrics = {"status": status, "message": "", "history": history,
               "val_accuracy": val_accuracy if finished else None, "test_accuracy": val_accuracy - 0.01 if finished else None,
               "best_val_accuracy": val_accuracy if finished else None, "epochs_completed": len(history)}
    (job / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def sweep_dir(tmp_path):
    """Eight runs where validation accuracy is driven by the optimiser (+0.1 for adam) and barely by lr."""
    sweep = tmp_path / "multirun"
    number = 0
    for optimizer in ("sgd", "adam"):
        for index, lr in enumerate(LEARNING_RATES):
            activation = "ReLU" if index % 2 else "Tanh"
            write_job(sweep, number, optimizer, lr, activation, 0.7 + 0.1 * (optimizer == "adam") + 0.002 * index)
            number += 1
    write_job(sweep, number, "sgd", 0.5, "ReLU", math.nan, status="diverged")
    write_job(sweep, number + 1, "adam", -1.0, "ReLU", math.nan, status="failed")
    return sweep


def test_runs_are_read_with_group_option_names(sweep_dir):
    runs = collect_runs(sweep_dir)
    assert [run.name for run in runs] == [str(number) for number in range(10)]
    assert runs[0].config["optimizer"] == "sgd" and runs[0].config["activation"] == "tanh"
    assert set(varying_hyperparameters(runs)) == {"optimizer", "optimizer.lr", "activation"}


def test_importance_ranks_the_driving_hyperparameter_first(sweep_dir):
    runs = collect_runs(sweep_dir)
    scores = importance(runs, varying_hyperparameters(runs))
    assert scores[0]["hyperparameter"] == "optimizer"
    assert scores[0]["eta_squared"] > 0.9 and scores[0]["abs_spearman"] > 0.8


def test_report_files_table_order_and_best_command(sweep_dir):
    summary = write_report(sweep_dir)
    out = sweep_dir / "report"
    for name in ("parallel_coordinates.png", "importance.png", "val_accuracy_by_run.png", "curves.png"):
        image = matplotlib.image.imread(out / name)
        assert image.shape[0] > 200 and image.std() > 0
    rows = list(csv.DictReader((out / "runs.csv").open()))
    assert [row["job"] for row in rows[:2]] == ["7", "6"]
    assert [row["status"] for row in rows[-2:]] == ["diverged", "failed"]
    assert (out / "runs.md").read_text().count("\n") == len(rows) + 2
    assert summary["best_job"] == "7" and summary["best_val_accuracy"] == pytest.approx(0.806)
    expected = "python train.py optimizer=adam optimizer.lr=0.003 activation=relu"
    assert summary["best_command"] == expected
    assert (out / "best_command.txt").read_text().strip() == expected
    assert json.loads((out / "summary.json").read_text())["statuses"] == {"completed": 8, "diverged": 1, "failed": 1}


def test_report_command_prints_the_best_run(sweep_dir, capsys):
    assert main([str(sweep_dir)]) == 0
    output = capsys.readouterr().out
    assert "10 runs: 8 completed, 1 diverged, 1 failed" in output
    assert "rerun the best: python train.py optimizer=adam" in output


def test_report_on_a_missing_or_empty_folder_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 2
    assert "no runs under" in capsys.readouterr().err
