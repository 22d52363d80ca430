"""wandb tracking: mode rules, run names, and an offline run read back from its files."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fmnist.config.dotted import flatten
from fmnist.runs.tracking import resolve_mode, run_name
from fmnist.training.callbacks import RunInfo, TrainResult
from tests.conftest import ROOT

WANDB = Path(sys.executable).parent / "wandb"


@pytest.mark.parametrize(
    "environ, requested, netrc_text, expected",
    [
        ({"WANDB_MODE": "disabled"}, "online", None, "disabled"),  # the environment wins
        ({"WANDB_MODE": "offline", "WANDB_API_KEY": "k"}, None, None, "offline"),
        ({}, "offline", None, "offline"),  # then the config
        ({"WANDB_API_KEY": "k"}, None, None, "online"),  # then credentials
        ({}, None, "machine api.wandb.ai\n  login user\n  password secret\n", "online"),
        ({}, None, "machine example.com\n  login user\n  password secret\n", "offline"),
        ({}, None, None, "offline"),
    ],
)
def test_mode_resolution(tmp_path, environ, requested, netrc_text, expected):
    netrc_path = tmp_path / "netrc"
    if netrc_text:
        netrc_path.write_text(netrc_text)
        netrc_path.chmod(0o600)
    mode, hint = resolve_mode(requested, tmp_path / "run", environ=environ, netrc_path=netrc_path)
    assert mode == expected
    if not environ and not requested and expected == "offline":
        assert hint.startswith("wandb: no credentials found") and "wandb sync" in hint
    else:
        assert hint is None


def test_unknown_mode_is_rejected_with_the_allowed_ones(tmp_path):
    with pytest.raises(ValueError, match="online, offline, disabled"):
        resolve_mode("sometimes", tmp_path, environ={})


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (
            ["optimizer.lr=0.0001", "activation=tanh", "model.num_layers=3", "trainer.batch_size=16", "optimizer=adam"],
            "hl_3_bs_16_ac_tanh_o_adam_lr_1e-4",
        ),
        (
            ["optimizer.weight_decay=0.0005", "logger.project=x", "hydra.run.dir=/tmp/y", "+experiment=keras_funnel"],
            "wd_5e-4_experiment_keras_funnel",
        ),
        (["optimizer.lr=0.5", "model.hidden_sizes=[512,256]"], "hs_512-256_lr_0.5"),
        ([], "defaults"),
    ],
)
def test_run_name_lists_the_overridden_hyperparameters_in_a_fixed_order(overrides, expected):
    assert run_name(overrides) == expected


def test_flatten_uses_dotted_keys():
    assert flatten({"optimizer": {"lr": 0.1, "betas": {"one": 0.9}}, "seed": 0}) == {
        "optimizer.lr": 0.1,
        "optimizer.betas.one": 0.9,
        "seed": 0,
    }


def test_importing_tracking_does_not_import_wandb():
    code = "import sys, fmnist.runs.tracking, fmnist.front.experiment; assert 'wandb' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def read_offline_run(run_dir: Path) -> list[dict]:
    """The records of the one offline run under ``run_dir``, via ``wandb leet inspect --json``."""
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")
    output = subprocess.run(
        [str(WANDB), "leet", "inspect", "--json", str(offline_run)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_offline_run_logs_what_metrics_json_holds(tmp_path, monkeypatch):
    from fmnist.runs.outputs import MetricsFile, read_metrics
    from fmnist.runs.tracking import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    history = [
        {
            "epoch": epoch,
            "train_loss": 1.0 / epoch,
            "train_accuracy": 0.5 + epoch / 10,
            "val_loss": 1.1 / epoch,
            "val_accuracy": 0.45 + epoch / 10,
            "seconds_per_epoch": 0.1 * epoch,
        }
        for epoch in (1, 2, 3)
    ]
    summary = {
        "val_loss": 1.1 / 3,
        "val_accuracy": 0.75,
        "test_loss": 0.4,
        "test_accuracy": 0.74,
        "best_val_accuracy": 0.75,
        "best_epoch": 3,
        "epochs_completed": 3,
        "wall_time_seconds": 1.0,
        "extra_nan": math.nan,
    }
    labels = np.array([0, 1, 2, 2])
    result = TrainResult("completed", "", history, summary, test_labels=labels, test_predictions=np.array([0, 1, 2, 1]))
    callbacks = [
        MetricsFile(tmp_path),
        WandbLogger(
            run_config={"optimizer": {"lr": 0.001, "_target_": "fmnist.core.optim.Adam"}, "seed": 0},
            run_dir=str(tmp_path),
            overrides=["optimizer.lr=0.001"],
        ),
    ]
    for callback in callbacks:
        callback.on_train_start(RunInfo(class_names=["a", "b", "c"], epochs=3, batches_per_epoch=2))
    for row in history:
        for callback in callbacks:
            callback.on_epoch_end(row)
    for callback in callbacks:
        callback.on_train_end(result)

    records = read_offline_run(tmp_path)
    logged = [record["history"]["item"] for record in records if record["type"] == "history"]
    epochs = [item for item in logged if "val_accuracy" in item]
    expected = read_metrics(tmp_path)["history"]
    assert [{key: item[key] for key in row} for item, row in zip(epochs, expected)] == expected
    assert any("confusion_matrix" in key for item in logged for key in item)
    final = {}
    for record in records:
        if record["type"] == "summary":
            final.update(record["summary"]["update"])
    assert final["test_accuracy"] == 0.74 and final["status"] == "completed"
    (run,) = [record["run"] for record in records if record["type"] == "run"]
    assert run["display_name"] == "lr_1e-3"
    assert run["config"]["update"]["optimizer.lr"] == 0.001
    assert [record["exit"]["exit_code"] for record in records if record["type"] == "exit"] == [0]


def agent_command(sweep_file: Path, program: list[str], arguments: list[str]) -> list[str]:
    """The command ``wandb agent`` runs for ``sweep_file`` (its ``command`` list): ``${interpreter}
    ${program}`` become ``program``, ``${args_no_hyphens}`` the ``arguments`` the sweep chose."""
    import yaml

    macros = {"${env}": [], "${interpreter}": program, "${program}": [], "${args_no_hyphens}": arguments}
    command = yaml.safe_load(sweep_file.read_text())["command"]
    return [part for item in command for part in macros.get(item, [item])]


@pytest.mark.parametrize("signal_name, requeued", [("INT", True), ("USR2", True), ("TERM", False)])
def test_a_wandb_sweep_run_stopped_by_a_signal_is_requeued_unless_sigterm_and_continues_in_its_folder(
    tiny_idx_dir, tmp_path, signal_name, requeued
):
    """As ``wandb agent`` runs it: the sweep file's command, with the sweep and run ids in the environment.
    Stopped in epoch 2, the run is marked preempting (the sweep then queues it again) unless SIGTERM
    stopped it (a stop from its wandb page); the same command with the same run id continues it."""
    import signal

    sweep_file = ROOT / "multirun_sweeps" / "wandb_grid.yaml"
    arguments = [
        "optimizer=adam",
        "activation=relu",
        f"dataset.path={tiny_idx_dir}",
        "dataset.download=false",
        "trainer.epochs=3",
        "trainer.batch_size=32",
        "model.hidden_size=16",
        "plots=false",
    ]  # 9 steps an epoch
    environment = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_SWEEP_ID": "sweep7",
        "WANDB_RUN_ID": "run42",
    }
    run_dir = tmp_path / "outputs" / "wandb_sweeps" / "sweep7" / "run42"
    stopped = subprocess.run(
        agent_command(
            sweep_file, [sys.executable, str(ROOT / "tests" / "killer.py"), "step", "12", signal_name], arguments
        ),
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    signum = getattr(signal, f"SIG{signal_name}")
    # the agent's SIGTERM: the run dies of it (-15), which the agent counts as stopped, not failed
    assert stopped.returncode == (-signum if signal_name == "TERM" else 128 + signum), stopped.stderr
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "interrupted"
    records = read_offline_run(run_dir)
    (run,) = [record["run"] for record in records if record["type"] == "run"]
    assert (run["run_id"], run["sweep_id"]) == ("run42", "sweep7")
    assert any(record["type"] == "preempting" for record in records) == requeued
    assert [record["exit"]["exit_code"] for record in records if record["type"] == "exit"] == [1]

    continued = subprocess.run(
        agent_command(sweep_file, [sys.executable, str(ROOT / "train.py")], arguments),
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert continued.returncode == 0, continued.stderr
    assert f"resuming {run_dir} after epoch 1 of 3" in continued.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and [row["epoch"] for row in metrics["history"]] == [1, 2, 3]
