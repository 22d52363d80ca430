"""Sweeps: every preset and wandb sweep file composes into real runs; multiruns, Optuna and failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir

from fmnist.runs.outputs import METRICS_FILE
from fmnist.training.callbacks import EPOCH_METRICS, SUMMARY_METRICS
from tests.conftest import CONF_DIR, ROOT, group_options, sample_values

WANDB_SWEEPS = sorted((ROOT / "multirun_sweeps").glob("*.yaml"))
SWEEP_PRESETS = group_options("sweep")
STUDY_PRESETS = group_options("study")  # records of past studies, composed like the sweeps


def compose_with(overrides: list[str], return_hydra_config: bool = False):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=return_hydra_config)


def builds(overrides: list[str]) -> None:
    """The overrides compose, pass the settings schema, and every object of the experiment can be built from them."""
    from fmnist.config.settings import check_settings
    from fmnist.front.experiment import hidden_sizes, instantiate, without_unused_keys

    cfg = compose_with(["logger=none", *overrides])
    check_settings(cfg)
    instantiate(without_unused_keys(cfg.optimizer, "optimizer"), "optimizer")
    instantiate(cfg.activation, "activation"), instantiate(cfg.init, "init"), instantiate(cfg.loss, "loss")
    assert all(size >= 1 for size in hidden_sizes(cfg.model))


def test_there_are_presets_and_wandb_sweeps():
    assert {"grid", "ce_vs_mse", "mnist", "assignment", "optuna"} <= set(SWEEP_PRESETS)
    assert len(WANDB_SWEEPS) >= 3


@pytest.mark.parametrize(
    "group, preset",
    [*(("sweep", preset) for preset in SWEEP_PRESETS), *(("study", preset) for preset in STUDY_PRESETS)],
)
def test_every_value_of_every_sweep_preset_builds_an_experiment(group, preset):
    cfg = compose_with([f"+{group}={preset}"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert params, f"conf/{group}/{preset}.yaml sweeps nothing"
    for key, values in params.items():
        for value in sample_values(f"{key}={values}"):
            builds([f"+{group}={preset}", f"{key}={value}"])  # each value on top of its preset, as the sweep runs it


@pytest.mark.parametrize("path", WANDB_SWEEPS, ids=[path.name for path in WANDB_SWEEPS])
def test_wandb_sweep_file_is_valid_and_runs_train_py_with_hydra_overrides(path):
    sweeps = pytest.importorskip("sweeps")
    config = yaml.safe_load(path.read_text())
    assert sweeps.schema_violations_from_proposed_config(config) == []
    assert config["metric"]["name"] in set(EPOCH_METRICS) | set(SUMMARY_METRICS)
    assert (ROOT / config["program"]).is_file()
    assert "${args_no_hyphens}" in config["command"]
    assert path.stem not in {"config", *(folder.name for folder in CONF_DIR.iterdir())}
    fixed = [argument for argument in config["command"] if not argument.startswith("${")]  # e.g. +experiment=NAME
    fixed += [f"{key}={spec['value']}" for key, spec in config["parameters"].items() if "value" in spec]
    for key, spec in config["parameters"].items():
        values = (
            spec["values"] if "values" in spec else [spec["value"]] if "value" in spec else [spec["min"], spec["max"]]
        )
        for value in values:
            builds([*fixed, f"{key}={value}"])  # each value among the fixed ones, as an agent runs it


def multirun_command(*args, sweep_dir: Path, data_dir: Path) -> list[str]:
    """``python train.py --multirun ARGS`` on the data in ``data_dir``, into ``sweep_dir``, without plots or a
    tracker (run it with ``NO_TRACKER`` as its environment and ROOT as its folder)."""
    return [
        sys.executable,
        str(ROOT / "train.py"),
        "--multirun",
        f"dataset.path={data_dir}",
        "dataset.download=false",
        "logger=none",
        "plots=false",
        f"hydra.sweep.dir={sweep_dir}",
        *args,
    ]


NO_TRACKER = {**os.environ, "WANDB_MODE": "disabled"}


def multirun(*args, sweep_dir: Path, data_dir: Path, timeout=300):
    return subprocess.run(
        multirun_command(*args, sweep_dir=sweep_dir, data_dir=data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=NO_TRACKER,
    )


def job_metrics(sweep_dir: Path) -> dict[str, dict]:
    return {path.parent.name: json.loads(path.read_text()) for path in sorted(sweep_dir.glob(f"*/{METRICS_FILE}"))}


@pytest.mark.slow
def test_parallel_joblib_multirun_goes_on_past_a_failing_job_names_it_at_the_end_and_exits_1(tiny_idx_dir, tmp_path):
    from fmnist.tools.report.write import write_report

    sweep_dir = tmp_path / "sweep"
    process = multirun(
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "trainer.epochs=2",
        "optimizer=adam,sgd",
        "optimizer.lr=0.001,-1",
        sweep_dir=sweep_dir,
        data_dir=tiny_idx_dir,
    )
    assert process.returncode == 1, process.stderr
    metrics = job_metrics(sweep_dir)
    assert len(metrics) == 4
    statuses = sorted(run["status"] for run in metrics.values())
    assert statuses == ["completed", "completed", "failed", "failed"]
    assert all("optimizer.lr" in run["message"] for run in metrics.values() if run["status"] == "failed")
    closing = process.stderr.splitlines()[-3:]  # the count, then one line per failed job
    assert closing[0] == (
        f"sweep {sweep_dir}: 4 jobs: 2 completed, 2 failed; compare them with python -m fmnist.tools.report {sweep_dir}"
    )
    assert closing[1:] == [
        f"error: job {job} failed: {run['message']}" for job, run in metrics.items() if run["status"] == "failed"
    ]
    summary = write_report(sweep_dir)
    completed = {job: run for job, run in metrics.items() if run["status"] == "completed"}
    best_job = max(completed, key=lambda job: completed[job]["val_accuracy"])
    assert summary["best_job"] == best_job
    assert (sweep_dir / "report" / "runs.csv").is_file()


@pytest.mark.slow
def test_three_trial_optuna_sweep_shares_a_sqlite_study_and_reports(tiny_idx_dir, tmp_path):
    optuna = pytest.importorskip("optuna")
    from fmnist.tools.report.write import write_report

    sweep_dir, storage = tmp_path / "optuna", f"sqlite:///{tmp_path / 'study.db'}"
    process = multirun(
        "+sweep=optuna",
        "hydra.sweeper.n_trials=3",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=test",
        "trainer.epochs=1",
        sweep_dir=sweep_dir,
        data_dir=tiny_idx_dir,
    )
    assert process.returncode == 0, process.stderr
    study = optuna.load_study(study_name="test", storage=storage)
    assert len(study.trials) == 3
    metrics = job_metrics(sweep_dir)
    assert len(metrics) == 3
    summary = write_report(sweep_dir)
    best_value = max(run["val_accuracy"] for run in metrics.values() if run["status"] == "completed")
    assert summary["best_val_accuracy"] == pytest.approx(best_value)
    assert study.best_value == pytest.approx(best_value)


@pytest.mark.slow
def test_submitit_local_launcher_runs_each_job_in_its_own_process(tiny_idx_dir, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep_dir = tmp_path / "submitit"
    process = multirun(
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=5",
        "trainer.epochs=1",
        "optimizer=adam,sgd",
        sweep_dir=sweep_dir,
        data_dir=tiny_idx_dir,
    )
    assert process.returncode == 0, process.stderr
    metrics = job_metrics(sweep_dir)
    assert sorted(metrics) == ["0", "1"]
    assert all(run["status"] == "completed" for run in metrics.values())
    assert f"sweep {sweep_dir}: 2 jobs: 2 completed;" in process.stderr
