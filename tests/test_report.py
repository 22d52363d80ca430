"""The sweep report on a generated multirun folder whose best run and driving hyperparameter are known."""

from __future__ import annotations

import csv
import json
import math
import shlex
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from fmnist.config.files import option_names
from fmnist.runs import plots
from fmnist.runs.run_folders import Run, collect_runs, flat_config
from fmnist.sweeps.continue_trial import continue_command
from fmnist.tools.report.__main__ import main
from fmnist.tools.report.best_command import best_command
from fmnist.tools.report.reading import varying_hyperparameters
from fmnist.tools.report.statistics import (
    abs_spearman,
    eta_squared,
    eta_squared_by_chance,
    importance,
    ranks,
    sequential_search,
)
from fmnist.tools.report.write import write_report
from tests.conftest import CONF_DIR, group_options, sample_values

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3]
TARGETS = {"adam": "fmnist.core.optim.Adam", "sgd": "fmnist.core.optim.SGD"}
REPORT_PNGS = ("parallel_coordinates.png", "importance.png", "val_accuracy_by_run.png", "curves.png")


def history_rows(val_accuracies) -> list[dict]:
    """metrics.json's history of a run whose epochs 1, 2, ... reached ``val_accuracies``."""
    return [
        {
            "epoch": epoch,
            "train_loss": 1.0,
            "train_accuracy": 0.5,
            "val_loss": 1.0,
            "val_accuracy": value,
            "seconds_per_epoch": 0.5,
        }
        for epoch, value in enumerate(val_accuracies, start=1)
    ]


def write_job(sweep_dir, number, optimizer, lr, activation, val_accuracy, status="completed"):
    """A job folder as a Hydra multirun leaves it: config.yaml, .hydra/overrides.yaml, metrics.json."""
    job = sweep_dir / str(number)
    (job / ".hydra").mkdir(parents=True)
    config = {
        "seed": 0,
        "optimizer": {"_target_": TARGETS[optimizer], "lr": lr, "weight_decay": 0.0},
        "activation": {"_target_": f"fmnist.core.activations.{activation}"},
        "model": {"num_layers": 3, "hidden_size": 128, "hidden_sizes": None, "dropout": 0.0},
        "trainer": {"epochs": 2, "batch_size": 64, "progress": "auto"},
        "logger": {"project": "fmnist"},
    }
    (job / "config.yaml").write_text(OmegaConf.to_yaml(config))
    overrides = [
        f"optimizer={optimizer}",
        f"optimizer.lr={lr}",
        f"activation={activation.lower()}",
        "hydra.launcher.n_jobs=2",
        "logger=none",
    ]
    (job / ".hydra" / "overrides.yaml").write_text(OmegaConf.to_yaml(overrides))
    finished = status == "completed"
    history = history_rows([val_accuracy - (2 - epoch) * 0.01 for epoch in (1, 2)]) if finished else []
    metrics = {
        "status": status,
        "message": "",
        "history": history,
        "val_accuracy": val_accuracy if finished else None,
        "test_accuracy": val_accuracy - 0.01 if finished else None,
        "best_val_accuracy": val_accuracy if finished else None,
        "epochs_completed": len(history),
    }
    (job / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def sweep_dir(tmp_path):
    """Jobs 0-7 completed, val_accuracy = 0.7 + 0.1 [optimizer is adam] + 0.002 * (index of lr); job 8
    diverged, job 9 never started (no metrics.json), job 10 failed. Best: job 7 (adam, lr 3e-3, relu)."""
    sweep = tmp_path / "multirun"
    number = 0
    for optimizer in ("sgd", "adam"):
        for index, lr in enumerate(LEARNING_RATES):
            activation = "ReLU" if index % 2 else "Tanh"
            write_job(sweep, number, optimizer, lr, activation, 0.7 + 0.1 * (optimizer == "adam") + 0.002 * index)
            number += 1
    write_job(sweep, 8, "sgd", 0.5, "ReLU", math.nan, status="diverged")
    (sweep / "9" / ".hydra").mkdir(parents=True)
    write_job(sweep, 10, "adam", -1.0, "ReLU", math.nan, status="failed")
    return sweep


def make_run(name="0", overrides=(), **config) -> Run:
    return Run(Path(name), dict(config), {"status": "completed", "val_accuracy": 0.9}, list(overrides), name)


def assert_png(path: Path):
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert image.std() > 0  # not a blank canvas


# ---------------------------------------------------------------------------------------- reading


def test_runs_are_read_in_numeric_job_order_skipping_folders_without_metrics(sweep_dir):
    runs = collect_runs(sweep_dir)
    assert [run.name for run in runs] == ["0", "1", "2", "3", "4", "5", "6", "7", "8", "10"]
    assert runs[0].overrides[:2] == ["optimizer=sgd", "optimizer.lr=0.0001"]
    assert math.isnan(runs[-1].val_accuracy) and runs[-1].status == "failed" and not runs[-1].finished


def test_runs_of_nested_sweeps_are_named_by_their_path(tmp_path):
    for sweep in ("b", "a"):
        for number in (10, 2):
            write_job(tmp_path / sweep, number, "sgd", 0.1, "ReLU", 0.8)
    assert [run.name for run in collect_runs(tmp_path)] == ["a/2", "a/10", "b/2", "b/10"]


def test_flat_config_names_each_group_option_after_its_conf_file():
    config = {
        "optimizer": {"_target_": "fmnist.core.optim.NAdam", "lr": 0.001},
        "init": {"_target_": "fmnist.core.init.RandomNormal", "std": 0.05},
        "activation": {"_target_": "fmnist.core.activations.ReLU"},
        "loss": {"_target_": "mypackage.losses.Huber"},
        "dataset": {"_target_": "fmnist.data.datasets.load_dataset", "name": "mnist", "path": "/data"},
        "model": {"hidden_sizes": [512, 256]},
        "logger": {"project": "fmnist"},
        "plots": True,
    }
    flat = flat_config(config, option_names())
    assert flat == {
        "optimizer": "nadam",
        "optimizer.lr": 0.001,
        "init": "random",
        "init.std": 0.05,
        "activation": "relu",
        "loss": "huber",
        "dataset.name": "mnist",
        "model.hidden_sizes": [512, 256],
    }


def test_layer_count_and_size_beside_an_explicit_layer_list_are_not_hyperparameters():
    """A sampler that drew model=wide and model.num_layers=4 ran 1024-512: num_layers did nothing."""
    wide = {"model": {"num_layers": 4, "hidden_size": 256, "hidden_sizes": [1024, 512]}}
    mlp = {"model": {"num_layers": 4, "hidden_size": 256, "hidden_sizes": None}}
    assert flat_config(wide, option_names()) == {"model.hidden_sizes": [1024, 512]}
    assert flat_config(mlp, option_names()) == {
        "model.num_layers": 4,
        "model.hidden_size": 256,
        "model.hidden_sizes": None,
    }
    run = make_run(
        overrides=["model=wide", "model.num_layers=4", "model.hidden_size=256", "optimizer=adam"],
        **flat_config(wide, option_names()),
    )
    assert best_command(run, []) == "python train.py model=wide optimizer=adam"
    run = make_run(
        overrides=["model=mlp", "model.num_layers=4", "model.hidden_size=256"], **flat_config(mlp, option_names())
    )
    assert best_command(run, []) == "python train.py model=mlp model.num_layers=4 model.hidden_size=256"


@pytest.mark.parametrize("group", ["activation", "init", "loss", "optimizer"])
def test_every_conf_option_maps_back_from_its_target(group):
    for option in group_options(group):
        target = OmegaConf.load(CONF_DIR / group / f"{option}.yaml")["_target_"]
        assert flat_config({group: {"_target_": target}}, option_names())[group] == option


def test_varying_hyperparameters_count_null_but_not_missing_keys():
    runs = [
        make_run(optimizer="sgd", **{"model.hidden_sizes": None, "seed": 0}),
        make_run(optimizer="momentum", **{"model.hidden_sizes": [1024, 512], "optimizer.momentum": 0.9, "seed": 0}),
    ]
    assert varying_hyperparameters(runs) == ["model.hidden_sizes", "optimizer"]


# ---------------------------------------------------------------------------------------- statistics


def test_eta_squared_is_between_group_over_total_variance():
    assert eta_squared(["a", "a", "b", "b"], np.array([1.0, 1.0, 3.0, 3.0])) == pytest.approx(1.0)
    assert eta_squared(["a", "b", "a", "b"], np.array([1.0, 1.0, 3.0, 3.0])) == pytest.approx(0.0)
    # means 1.5 and 3.5 around 2.5: between = 2 * 1 + 2 * 1 = 4; total = 2.25 + 0.25 + 0.25 + 2.25 = 5
    assert eta_squared(["a", "a", "b", "b"], np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(0.8)
    assert math.isnan(eta_squared(["a", "b"], np.array([0.5, 0.5])))


def test_spearman_uses_average_ranks_and_sees_any_monotone_relation():
    np.testing.assert_allclose(ranks(np.array([10.0, 20.0, 20.0, 30.0])), [0, 1.5, 1.5, 3])
    x = np.array([1e-4, 1e-3, 1e-2, 1e-1])
    assert abs_spearman(x, -(np.log(x) ** 3)) == pytest.approx(1.0)
    assert math.isnan(abs_spearman(x, np.full(4, 0.8)))


def test_importance_ranks_the_driving_hyperparameter_first(sweep_dir):
    runs = collect_runs(sweep_dir)
    scores = importance(runs, varying_hyperparameters(runs))
    assert [row["hyperparameter"] for row in scores][0] == "optimizer"
    assert scores[0]["eta_squared"] > 0.9 and scores[0]["abs_spearman"] > 0.8
    assert all(row["finished_runs"] == 8 for row in scores)  # failed and diverged runs left out
    assert scores[0]["eta_squared_by_chance"] == pytest.approx(1 / 7)  # 2 optimisers over 8 runs


@pytest.mark.parametrize("groups, runs", [(2, 4), (3, 6), (4, 5)])
def test_eta_squared_by_chance_is_the_mean_over_accuracies_unrelated_to_the_groups(groups, runs):
    rng = np.random.default_rng(0)
    labels = [str(index % groups) for index in range(runs)]
    draws = [eta_squared(labels, rng.normal(size=runs)) for _ in range(4000)]
    assert np.mean(draws) == pytest.approx(eta_squared_by_chance(groups, runs), abs=0.015)


# ---------------------------------------------------------------------------------------- run order


def write_sweeper_record(sweep_dir, sweeper_target, sampler_target=None):
    """Each job's .hydra/hydra.yaml as Hydra writes it, reduced to the sweeper."""
    sweeper = {"_target_": sweeper_target, **({"sampler": {"_target_": sampler_target}} if sampler_target else {})}
    for hydra_dir in sweep_dir.glob("*/.hydra"):
        (hydra_dir / "hydra.yaml").write_text(OmegaConf.to_yaml({"hydra": {"sweeper": sweeper}}))


OPTUNA_SWEEPER = "hydra_plugins.optuna_study_sweeper.OptunaStudySweeper"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


@pytest.mark.parametrize(
    "sweeper, sampler, sequential",
    [
        (OPTUNA_SWEEPER, "optuna.samplers.TPESampler", True),
        ("hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper", "optuna.samplers.CmaEsSampler", True),
        (OPTUNA_SWEEPER, "optuna.samplers.RandomSampler", False),
        (OPTUNA_SWEEPER, "optuna.samplers.GridSampler", False),
        (BASIC_SWEEPER, None, False),
    ],
    ids=["tpe", "cma-es", "random", "optuna grid", "hydra grid"],
)
def test_a_search_is_sequential_when_an_optuna_sampler_learns_from_earlier_trials(
    sweep_dir, sweeper, sampler, sequential
):
    write_sweeper_record(sweep_dir, sweeper, sampler)
    assert sequential_search(collect_runs(sweep_dir)) is sequential


def test_runs_without_a_sweep_record_are_not_taken_as_sequential(sweep_dir):
    assert sequential_search(collect_runs(sweep_dir)) is False


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the report saves, in order (still written, then closed)."""
    saved, write = [], plots.save

    def keep(fig, path):
        saved.append((Path(path).name, fig))
        return write(fig, path)

    monkeypatch.setattr(plots, "save", keep)
    return saved


@pytest.mark.parametrize(
    "sweeper, sampler, drawn",
    [(OPTUNA_SWEEPER, "optuna.samplers.TPESampler", True), (BASIC_SWEEPER, None, False)],
    ids=["tpe", "grid"],
)
def test_trend_and_running_best_are_drawn_only_for_a_sequential_search(sweep_dir, figures, sweeper, sampler, drawn):
    write_sweeper_record(sweep_dir, sweeper, sampler)
    write_report(sweep_dir)
    (figure,) = [figure for name, figure in figures if name == "val_accuracy_by_run.png"]
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert any(label.startswith("least-squares trend") for label in labels) is drawn
    assert ("best so far" in labels) is drawn
    assert figure.axes[0].get_title().startswith("Validation accuracy in run order (sequential search") is drawn


def test_the_importance_figure_says_when_it_comes_from_a_handful_of_runs(sweep_dir, figures):
    write_report(sweep_dir)
    (figure,) = [figure for name, figure in figures if name == "importance.png"]
    assert "only 8 finished runs" in figure.axes[0].get_title()
    rows = list(csv.DictReader((sweep_dir / "report" / "importance.csv").open()))
    assert float(rows[0]["eta_squared_by_chance"]) == pytest.approx(1 / 7)


# ---------------------------------------------------------------------------------------- best command


def test_best_command_keeps_the_jobs_overrides_without_hydra_and_output_settings():
    run = make_run(
        overrides=[
            "optimizer=nadam",
            "optimizer.lr=0.0001",
            "hydra.launcher.n_jobs=2",
            "hydra/launcher=joblib",
            "logger=none",
            "plots=False",
            "model.hidden_sizes=[64,32]",
        ]
    )
    assert best_command(run, []) == "python train.py optimizer=nadam optimizer.lr=0.0001 'model.hidden_sizes=[64,32]'"


def test_best_command_without_overrides_file_uses_the_varying_hyperparameters():
    run = make_run(optimizer="nadam", **{"optimizer.lr": 0.0001, "model.hidden_sizes": [64, 32], "seed": 0})
    assert shlex.split(best_command(run, ["model.hidden_sizes", "optimizer", "optimizer.lr"])) == [
        "python",
        "train.py",
        "model.hidden_sizes=[64,32]",
        "optimizer=nadam",
        "optimizer.lr=0.0001",
    ]


def composed(overrides: list[str]) -> dict:
    """The config ``python train.py OVERRIDES`` would run, without the output-only settings."""

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        config = OmegaConf.to_container(compose(config_name="config", overrides=overrides), resolve=True)
    return {key: value for key, value in config.items() if key not in ("logger", "plots")}


@pytest.mark.parametrize(
    "group, preset", [(group, preset) for group in ("sweep", "study") for preset in group_options(group)]
)
def test_best_command_of_a_job_launched_from_a_sweep_preset_rebuilds_its_config(group, preset):
    own = {"model.dropout": "0.2", "optimizer.lr": "0.0002"}
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        params = (
            compose(
                config_name="config", overrides=[f"+{group}={preset}"], return_hydra_config=True
            ).hydra.sweeper.params
            or {}
        )
    swept = [f"{key}={sample_values(f'{key}={values}')[0]}" for key, values in params.items() if key not in own]
    job_overrides = [
        *swept,
        *(f"{key}={value}" for key, value in own.items()),
        f"+{group}={preset}",
        "logger=none",
        "plots=False",
    ]  # as the sweeper writes a job's overrides
    command = best_command(make_run(overrides=job_overrides), [])
    assert f"{group}=" not in command
    assert composed(shlex.split(command)[2:]) == composed(job_overrides)


# ---------------------------------------------------------------------------------------- the report


def test_report_files_table_order_and_best_command(sweep_dir):
    summary = write_report(sweep_dir)
    out = sweep_dir / "report"
    for name in REPORT_PNGS:
        assert_png(out / name)
    rows = list(csv.DictReader((out / "runs.csv").open()))
    assert list(rows[0]) == [
        "rank",
        "job",
        "status",
        "activation",
        "optimizer",
        "optimizer.lr",
        "val_accuracy",
        "best_val_accuracy",
        "test_accuracy",
        "epochs_completed",
        "seconds_per_epoch",
    ]
    assert [row["job"] for row in rows] == ["7", "6", "5", "4", "3", "2", "1", "0", "8", "10"]
    assert [(row["status"], row["val_accuracy"]) for row in rows[-2:]] == [("diverged", ""), ("failed", "")]
    assert rows[0]["optimizer"] == "adam" and float(rows[0]["val_accuracy"]) == pytest.approx(0.806)
    assert (out / "runs.md").read_text().count("\n") == len(rows) + 2
    expected = "python train.py optimizer=adam optimizer.lr=0.003 activation=relu"
    assert summary["best_job"] == "7" and summary["best_val_accuracy"] == pytest.approx(0.806)
    assert summary["best_command"] == expected
    assert (out / "best_command.txt").read_text().strip() == expected
    written = json.loads((out / "summary.json").read_text())
    assert written["statuses"] == {"completed": 8, "diverged": 1, "failed": 1}
    assert written["best_test_accuracy"] == pytest.approx(0.796) and written["best_command"] == expected
    importance_rows = list(csv.DictReader((out / "importance.csv").open()))
    assert importance_rows[0]["hyperparameter"] == "optimizer"


def test_best_run_is_chosen_by_validation_not_test_accuracy(sweep_dir):
    metrics_path = sweep_dir / "0" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics["test_accuracy"] = 0.99  # the worst run by validation is the best on test
    metrics_path.write_text(json.dumps(metrics))
    assert write_report(sweep_dir)["best_job"] == "7"


def test_report_command_prints_the_best_run(sweep_dir, capsys, tmp_path):
    assert main([str(sweep_dir), "--out", str(tmp_path / "elsewhere"), "--top", "2"]) == 0
    output = capsys.readouterr().out
    assert "10 runs: 8 completed, 1 diverged, 1 failed" in output
    assert "job 7  val_accuracy 0.8060  test_accuracy 0.7960" in output
    assert "mattered most (η², and what chance alone gives): optimizer 1.00 (chance 0.14)" in output
    assert "importance from only 8 finished runs: a hint, not a ranking" in output
    assert "rerun the best: python train.py optimizer=adam optimizer.lr=0.003 activation=relu" in output
    assert (tmp_path / "elsewhere" / "curves.png").is_file() and not (sweep_dir / "report").exists()


def test_a_sweep_where_every_run_failed_still_gets_its_table(tmp_path, capsys):
    write_job(tmp_path, 0, "sgd", 0.5, "ReLU", math.nan, status="diverged")
    write_job(tmp_path, 1, "adam", -1.0, "ReLU", math.nan, status="failed")
    assert main([str(tmp_path)]) == 0
    assert "no run has a validation accuracy yet" in capsys.readouterr().out
    rows = list(csv.DictReader((tmp_path / "report" / "runs.csv").open()))
    assert [row["status"] for row in rows] == ["diverged", "failed"]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["best_job"] is None and summary["best_val_accuracy"] is None  # NaN is written as null


def test_report_logs_figures_and_table_to_a_given_wandb_run(sweep_dir):
    wandb = pytest.importorskip("wandb")

    class RecordingRun:
        def __init__(self):
            self.logged = {}

        def log(self, payload):
            self.logged.update(payload)

    run = RecordingRun()
    write_report(sweep_dir, wandb_run=run)
    assert {f"report/{name.removesuffix('.png')}" for name in REPORT_PNGS} < set(run.logged)
    assert isinstance(run.logged["report/curves"], wandb.Image)
    assert isinstance(run.logged["report/runs"], wandb.Table) and len(run.logged["report/runs"].data) == 10


def test_report_on_a_missing_or_empty_folder_exits_2_with_message(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    assert "nowhere is not a folder: pass the folder of a multirun" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 2
    assert "no runs under" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="none of its folders holds a metrics.json"):
        write_report(tmp_path)


def test_top_must_be_a_positive_number(sweep_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(sweep_dir), "--top", "0"])
    assert exit_info.value.code == 2
    assert "use a whole number >= 1" in capsys.readouterr().err


def test_a_run_marked_running_that_no_process_holds_is_reported_stopped(sweep_dir, capsys):
    """kill -9 leaves metrics.json saying running; the folder's lock tells a live run from a dead one."""
    from fmnist.runs.run_lock import RunFolderLock

    for job in ("11", "12"):
        write_job(sweep_dir, job, "adam", 0.001, "ReLU", math.nan, status="running")
    with RunFolderLock(sweep_dir / "11"):  # job 11 is training; job 12's process is gone
        (sweep_dir / "12" / ".lock").write_text("process 1 on a host that died\n")
        statuses = {run.name: run.status for run in collect_runs(sweep_dir)}
        assert (statuses["11"], statuses["12"]) == ("running", "stopped")
        assert main([str(sweep_dir)]) == 0
    output = capsys.readouterr().out
    assert "12 runs: 8 completed, 1 diverged, 1 failed, 1 running, 1 stopped" in output
    assert "stopped: killed before they could say so" in output


@pytest.mark.parametrize("out", ["a_file", "a_file/report"])
def test_an_out_folder_that_cannot_be_written_exits_2_with_one_line(sweep_dir, tmp_path, capsys, out):
    (tmp_path / "a_file").write_text("in the way\n")
    assert main([str(sweep_dir), "--out", str(tmp_path / out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --out {tmp_path / out}: cannot write there (")
    assert error.rstrip().endswith("pass a folder you can write to") and error.count("\n") == 1


def write_unfinished_job(sweep_dir, number, val_accuracies):
    """A job stopped mid-training (a parallel sweep's parent got Ctrl-C): metrics.json still says running and
    holds only its history, no summary; no process holds the folder."""
    write_job(sweep_dir, number, "adam", 0.01, "ReLU", math.nan)
    history = history_rows(val_accuracies)
    (sweep_dir / str(number) / "metrics.json").write_text(
        json.dumps({"status": "running", "message": "", "history": history})
    )


def test_stopped_runs_show_how_far_they_got_and_are_ranked_after_the_finished_ones(sweep_dir, capsys):
    write_unfinished_job(sweep_dir, 11, [0.5, 0.6, 0.55])
    write_unfinished_job(sweep_dir, 12, [0.7, 0.95, 0.9, 0.92])  # better so far than every finished run
    assert main([str(sweep_dir)]) == 0
    rows = list(csv.DictReader((sweep_dir / "report" / "runs.csv").open()))
    assert [row["job"] for row in rows] == ["7", "6", "5", "4", "3", "2", "1", "0", "12", "11", "8", "10"]
    assert [
        (row["status"], row["val_accuracy"], row["best_val_accuracy"], row["test_accuracy"], row["epochs_completed"])
        for row in rows[8:10]
    ] == [("stopped", "", "0.95", "", "4"), ("stopped", "", "0.6", "", "3")]
    assert "Unfinished runs (running, stopped)" in (sweep_dir / "report" / "runs.md").read_text()
    output = capsys.readouterr().out
    assert "job 7  val_accuracy 0.8060" in output  # the best command comes from a finished run
    assert (
        "best of the 2 unfinished runs so far (from their history; ranked after the finished runs): job 12 "
        "(stopped)  best_val_accuracy 0.9500 in epoch 2 of 4 completed"
    ) in output
    summary = json.loads((sweep_dir / "report" / "summary.json").read_text())
    assert summary["best_job"] == "7" and summary["finished_runs"] == 8 and summary["unfinished_runs"] == 2
    assert summary["best_unfinished"] == {
        "job": "12",
        "status": "stopped",
        "best_val_accuracy": 0.95,
        "best_epoch": 2,
        "epochs_completed": 4,
    }


def test_a_sweep_stopped_before_any_run_finished_shows_their_progress_but_no_best_command(tmp_path, capsys):
    write_unfinished_job(tmp_path, 0, [0.4, 0.8, 0.7])
    write_unfinished_job(tmp_path, 1, [])  # stopped before its first epoch ended
    assert main([str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "job 0 (stopped)  best_val_accuracy 0.8000 in epoch 2 of 3 completed" in output
    assert "no run has finished yet: no final validation accuracy to rank by, no best command" in output
    rows = list(csv.DictReader((tmp_path / "report" / "runs.csv").open()))
    assert [(row["job"], row["best_val_accuracy"], row["epochs_completed"]) for row in rows] == [
        ("0", "0.8", "3"),
        ("1", "", "0"),
    ]
    assert_png(tmp_path / "report" / "curves.png")
    assert not (tmp_path / "report" / "best_command.txt").exists()


def test_a_pruned_trial_is_never_ranked_as_the_best_run(tmp_path):
    """A pruned trial's accuracy after few epochs may beat the completed runs': it still ranks after them."""
    from fmnist.runs.run_folders import Run, ranked

    def run(name: str, status: str, accuracy: float) -> Run:
        metrics = {"status": status, "val_accuracy": accuracy, "best_val_accuracy": accuracy}
        return Run(job_dir=tmp_path / name, config={}, metrics=metrics, overrides=[], name=name)

    pruned, completed = run("0", "pruned", 0.95), run("1", "completed", 0.80)
    assert not pruned.finished and pruned.unfinished
    assert ranked([pruned, completed]) == [completed, pruned]


# ---------------------------------------------------------------------------------------- pruned trials


def write_pruned_job(sweep_dir, number, val_accuracies, pruner="median"):
    """A trial its pruner stopped after ``len(val_accuracies)`` of its 2 epochs, evaluated after that epoch."""
    write_job(sweep_dir, number, "sgd", 0.01, "ReLU", math.nan)
    history = history_rows(val_accuracies)
    epoch, value = len(history), val_accuracies[-1]
    stopped = {
        "status": "pruned",
        "reason": f"pruned by the {pruner} pruner after epoch {epoch}",
        "epoch": epoch,
        "pruner": pruner,
        "value": value,
    }
    (sweep_dir / str(number) / "metrics.json").write_text(
        json.dumps(
            {
                "status": "pruned",
                "message": "",
                "history": history,
                "val_accuracy": value,
                "test_accuracy": value,
                "best_val_accuracy": max(val_accuracies),
                "epochs_completed": epoch,
                "stopped_early": stopped,
            }
        )
    )


@pytest.fixture
def pruned_sweep(sweep_dir):
    """The sweep of :func:`sweep_dir` (best after epoch 1: job 7's 0.796; after epoch 2: 0.806) and four pruned
    trials. Behind the best at the epoch they stopped: 11 by 0 (it led at epoch 2, with more than any finished
    run), 12 by 0.001, 13 by 0.01 (behind 11), 14 by 0.496. By the accuracy alone 13 (0.80) would come before 12."""
    write_pruned_job(sweep_dir, 11, [0.70, 0.81])
    write_pruned_job(sweep_dir, 12, [0.795])
    write_pruned_job(sweep_dir, 13, [0.60, 0.80])
    write_pruned_job(sweep_dir, 14, [0.30])
    return sweep_dir


def printed_commands(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith("python -m fmnist.sweeps")]


def test_pruned_trials_closest_to_the_best_at_their_stop_epoch_are_printed_with_their_continue_command(
    pruned_sweep, capsys
):
    assert main([str(pruned_sweep)]) == 0
    output = capsys.readouterr().out
    assert "job 7  val_accuracy 0.8060" in output  # job 11's 0.81 after fewer epochs is never the best
    assert (
        "4 pruned trials (never the best); the 3 closest to the sweep's best at the epoch they were stopped, "
        "each continued to its budget by the command under it (continue_pruned.txt: all):"
    ) in output
    assert (
        "  job 12: stopped at epoch 1 of 2 by the median pruner, val_accuracy 0.7950, 0.0010 below the "
        "sweep's best at that epoch\n"
        f"    {continue_command(pruned_sweep / '12')}"
    ) in output
    expected = [continue_command(pruned_sweep / job) for job in ("11", "12", "13", "14")]
    assert printed_commands(output) == expected[:3]
    assert (pruned_sweep / "report" / "continue_pruned.txt").read_text().splitlines() == expected
    summary = json.loads((pruned_sweep / "report" / "summary.json").read_text())
    assert summary["best_job"] == "7" and summary["pruned_runs"] == 4 and summary["unfinished_runs"] == 0
    assert [(row["job"], row["epoch"], row["epochs_budget"], row["pruner"]) for row in summary["closest_pruned"]] == [
        ("11", 2, 2, "median"),
        ("12", 1, 2, "median"),
        ("13", 2, 2, "median"),
    ]
    assert [row["behind_at_stop"] for row in summary["closest_pruned"]] == pytest.approx([0.0, 0.001, 0.01])


def test_the_table_shows_each_pruned_trials_stop_epoch_budget_and_distance_to_the_best(pruned_sweep):
    write_report(pruned_sweep)
    rows = {row["job"]: row for row in csv.DictReader((pruned_sweep / "report" / "runs.csv").open())}
    assert [rows[job]["status"] for job in ("7", "11", "14")] == ["completed", "pruned", "pruned"]
    assert {
        job: (rows[job]["epochs_completed"], rows[job]["epochs_budget"], rows[job]["val_accuracy"])
        for job in ("11", "14")
    } == {"11": ("2", "2", "0.81"), "14": ("1", "2", "0.3")}
    assert float(rows["14"]["behind_at_stop"]) == pytest.approx(0.496) and rows["7"]["behind_at_stop"] == ""
    assert int(rows["11"]["rank"]) > max(int(rows[job]["rank"]) for job in map(str, range(8)))
    assert "Pruned trials: stopped by the sweep's pruner" in (pruned_sweep / "report" / "runs.md").read_text()


def test_the_closest_pruned_trials_are_drawn_dashed_up_to_the_epoch_they_stopped(pruned_sweep, figures):
    write_report(pruned_sweep, top=2)
    (curves,) = [figure for name, figure in figures if name == "curves.png"]
    lines = [line for line in curves.axes[0].get_lines() if not line.get_label().startswith("_")]
    solid = [line.get_label() for line in lines if line.get_linestyle() == "-"]
    dashed = {line.get_label(): list(line.get_xdata()) for line in lines if line.get_linestyle() == "--"}
    assert [label.split()[0] for label in solid] == ["#7", "#6"]
    assert {label.split()[0]: epochs for label, epochs in dashed.items()} == {"#11": [1, 2], "#12": [1], "#13": [1, 2]}
    assert all(label.endswith(f"(pruned at epoch {epochs[-1]} of 2)") for label, epochs in dashed.items())
    assert "dashed: the 3 pruned trials closest to the best" in curves.texts[0].get_text()
    (by_run,) = [figure for name, figure in figures if name == "val_accuracy_by_run.png"]
    (marks,) = [points for points in by_run.axes[0].collections if points.get_label().startswith("pruned trial")]
    assert sorted(marks.get_offsets()[:, 1]) == pytest.approx([0.3, 0.795, 0.8, 0.81])


def test_a_pruned_trial_already_continued_is_named_and_not_offered_again(pruned_sweep, capsys):
    write_job(pruned_sweep, "continued/11", "sgd", 0.01, "ReLU", 0.82)
    assert main([str(pruned_sweep)]) == 0
    output = capsys.readouterr().out
    assert "4 pruned trials (never the best; 1 continued since: job continued/11); the 3 closest" in output
    assert printed_commands(output) == [continue_command(pruned_sweep / job) for job in ("12", "13", "14")]
    assert "job continued/11  val_accuracy 0.8200" in output  # the continued trial competes as any finished run
