"""Pruning in the Optuna sweeper (docs/pruning.md): the pruners of conf/hydra/sweeper/pruner/, the job's
callback that reports to its trial and stops it, pruned trials in the study, the sweep folder and its
reruns, refusals, and a pruned trial continued to its full budget ending as if never pruned."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import optuna
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from fmnist.front.cli import rewrite_argv
from fmnist.runs.resume import OUTPUT_ONLY_KEYS
from fmnist.runs.run_lock import LOCK_FILE
from fmnist.sweeps.continue_trial import continued_folder
from fmnist.sweeps.continue_trial import main as continue_trial
from fmnist.sweeps.pruning import TRIAL_KEY, PruneTrial
from fmnist.tools.report.__main__ import main as report
from fmnist.training.callbacks import RunInfo
from hydra_plugins.optuna_study_sweeper import SWEEP_JOURNAL, open_storage, search_space
from tests.conftest import CONF_DIR, ROOT, group_options
from tests.test_optuna_study import make_sweeper
from tests.test_resume import assert_same_outcome, outcome
from tests.test_sweeps import job_metrics, multirun
from tests.test_train_script import train

PRUNER_GROUP = "hydra/sweeper/pruner"
# Every trial stopped after its second epoch: the threshold pruner with a bar no accuracy reaches.
PRUNE_AFTER_2 = (
    "hydra/sweeper/pruner=threshold",
    "hydra.sweeper.pruner.lower=1.1",
    "hydra.sweeper.pruner.n_warmup_steps=2",
)
# One fixed configuration (the command line wins over the preset's search space) but for its learning rate.
FIXED_BUT_LR = (
    "+sweep=optuna",
    "trainer.epochs=4",
    "trainer.batch_size=32",
    "optimizer=adam",
    "optimizer.weight_decay=0",
    "model.num_layers=3",
    "model.hidden_size=32",
    "init=xavier",
    "activation=relu",
)
FIXED_TRIAL = (*FIXED_BUT_LR, "optimizer.lr=0.001")  # 4 epochs
# A learning rate at which the fixed configuration learns nothing: about 3 % validation accuracy on the tiny
# data at every epoch, where optimizer.lr=0.001 reaches about 50 % after the first.
SLOW_LR = "optimizer.lr=1e-7"
# The median rule from the first finished trial on: a trial below the finished trials' median at an epoch stops.
MEDIAN_AFTER_1 = (f"{PRUNER_GROUP}=median", "hydra.sweeper.pruner.n_startup_trials=1")


@pytest.mark.parametrize("name", group_options(PRUNER_GROUP))
def test_every_pruner_option_builds_an_optuna_pruner(name):
    assert isinstance(instantiate(pruner_config(name).pruner), optuna.pruners.BasePruner)


def test_the_trial_key_is_output_only_so_resume_ignores_it():
    assert TRIAL_KEY in OUTPUT_ONLY_KEYS


def test_the_callback_reports_each_epoch_and_asks_to_stop_pruned_when_the_pruner_says_so():
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.5))
    trial = study.ask()
    callback = PruneTrial(trial, "threshold", reported={})
    callback.on_train_start(
        RunInfo(class_names=[], epochs=5, batches_per_epoch=1, history=[{"epoch": 1, "val_accuracy": 0.6}])
    )  # a resumed run's epoch
    assert callback.on_epoch_end({"epoch": 2, "val_accuracy": 0.7}) is None
    stop = callback.on_epoch_end({"epoch": 3, "val_accuracy": 0.4})
    assert (stop.status, stop.details) == ("pruned", {"pruner": "threshold", "epoch": 3, "value": 0.4})
    assert "pruned by the threshold pruner after epoch 3" in stop.reason
    assert study.trials[0].intermediate_values == {1: 0.6, 2: 0.7, 3: 0.4}


def test_the_pruner_is_asked_after_the_last_epoch_but_a_trial_that_trained_its_whole_budget_completes():
    """Successive halving with its second rung at epoch 3 of a 3-epoch budget: the rung records the trial, which
    is not stopped (there is nothing left to save), while the same answer an epoch earlier stops a trial."""
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    )
    leader = study.ask()
    for epoch in (1, 2, 3):
        leader.report(0.9, epoch)
        leader.should_prune()
    study.tell(leader, 0.9)
    start = RunInfo(class_names=[], epochs=3, batches_per_epoch=1)
    laggard = PruneTrial(study.ask(), "successive_halving", reported={})
    laggard.on_train_start(start)
    assert laggard.on_epoch_end({"epoch": 1, "val_accuracy": 0.95}) is None  # top of rung 0 (epoch 1)
    assert laggard.on_epoch_end({"epoch": 2, "val_accuracy": 0.5}) is None
    assert laggard.on_epoch_end({"epoch": 3, "val_accuracy": 0.5}) is None
    assert study.trials[1].system_attrs["completed_rung_1"] == 0.5  # the pruner was asked at the rung
    early = PruneTrial(study.ask(), "successive_halving", reported={})  # the same values with a budget of 4
    early.on_train_start(RunInfo(class_names=[], epochs=4, batches_per_epoch=1))
    for epoch, value in ((1, 0.95), (2, 0.5)):
        assert early.on_epoch_end({"epoch": epoch, "val_accuracy": value}) is None
    assert early.on_epoch_end({"epoch": 3, "val_accuracy": 0.5}).status == "pruned"


def test_a_resumed_job_does_not_report_its_trials_epochs_twice():
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    trial.report(0.6, 1)
    callback = PruneTrial(trial, "median", reported={1: 0.6})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Optuna warns when a step is reported again
        callback.on_train_start(
            RunInfo(class_names=[], epochs=5, batches_per_epoch=1, history=[{"epoch": 1, "val_accuracy": 0.6}])
        )
    assert study.trials[0].intermediate_values == {1: 0.6}


def test_a_running_trial_whose_job_was_pruned_is_told_pruned_not_queued_again(tmp_path):
    """Its sweeper process was killed after the job ended pruned: the next sweeper settles the trial."""
    storage = f"journal:{tmp_path / 'study.log'}"
    study = optuna.create_study(study_name="s", storage=open_storage(storage), direction="maximize")
    trial = study.ask()
    trial.report(0.3, 1)
    (tmp_path / "sweep" / "0").mkdir(parents=True)
    (tmp_path / "sweep" / "0" / "metrics.json").write_text(json.dumps({"status": "pruned", "val_accuracy": 0.3}))
    sweeper = make_sweeper(storage, n_trials=0, n_jobs=1)
    sweeper.sweep_dir = tmp_path / "sweep"
    sweeper.requeue_stopped_trials(study)
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.PRUNED]
    assert study.trials[0].value == 0.3  # its last intermediate value, as Optuna records a pruned trial


def test_the_grid_sampler_gets_the_sweeps_lists_and_refuses_an_interval():
    import functools

    distributions, _ = search_space(["optimizer=sgd,adam", "activation=choice(relu,tanh)"])
    sweeper = make_sweeper(None, sampler=functools.partial(optuna.samplers.GridSampler, seed=0))
    sweeper.build_sampler(distributions)
    study = optuna.create_study(sampler=sweeper.sampler)
    grid = {tuple(sorted(study.ask(distributions).params.items())) for _ in range(4)}
    assert grid == {
        (("activation", activation), ("optimizer", optimizer))
        for activation in ("relu", "tanh")
        for optimizer in ("sgd", "adam")
    }
    distributions, _ = search_space(["optimizer.lr=interval(0.001,0.1)"])
    sweeper = make_sweeper(None, sampler=functools.partial(optuna.samplers.GridSampler, seed=0))
    with pytest.raises(Exception, match=r"hydra.sweeper.params.optimizer.lr: the grid sampler takes lists"):
        sweeper.build_sampler(distributions)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["-m", "+sweep=optuna", f"{PRUNER_GROUP}=asha"],
            f"{PRUNER_GROUP}=asha: {PRUNER_GROUP} has no option 'asha'; choose from ",
        ),
        ([f"{PRUNER_GROUP}=median"], "a pruner stops trials of a sweep, and this is a single run"),
        (["-m", "+sweep=grid", f"{PRUNER_GROUP}=median"], "the basic sweeper does not prune"),
        (
            ["-m", "+sweep=optuna", "hydra/sweeper=basic", "hydra.sweeper.pruner.n_startup_trials=2"],
            "the basic sweeper does not prune",
        ),
    ],
)
def test_a_pruner_that_is_unknown_or_given_where_nothing_prunes_exits_2(arguments, message, capsys):
    with pytest.raises(SystemExit) as stop:
        rewrite_argv(["train.py", *arguments])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1


@pytest.mark.parametrize("pruner", [optuna.pruners.MedianPruner(), optuna.pruners.NopPruner()])
def test_a_sweep_is_refused_when_a_swept_validation_split_can_be_0(pruner):
    """Pruned or not: the study chooses by validation accuracy, which a run without a split does not have."""
    sweeper = make_sweeper(None, pruner=pruner)
    distributions, _ = search_space(["dataset.val_fraction=choice(0.1,0)"])
    with pytest.raises(Exception, match=r"^dataset.val_fraction=0 in an Optuna sweep: .*seed=0,1,2\)$"):
        sweeper.check_validation_split(distributions)
    sweeper.check_validation_split(search_space(["dataset.val_fraction=choice(0.1,0.2)"])[0])


# The bad inputs of issue 25 §6 and the key the one line about each must name. Each command points both
# hydra.run.dir and hydra.sweep.dir at a folder holding a finished run, which must stay as it was.
BAD_INPUTS = {
    "unknown pruner": (["-m", "+sweep=optuna", f"{PRUNER_GROUP}=asha"], PRUNER_GROUP),
    "pruner in a single run": ([f"{PRUNER_GROUP}=median"], PRUNER_GROUP),
    "pruner to the grid sweeper": (["-m", "+sweep=grid", f"{PRUNER_GROUP}=median"], PRUNER_GROUP),
    "unknown monitor": (
        ["early_stopping=patience_10", "trainer.early_stopping.monitor=val_acc"],
        "trainer.early_stopping.monitor",
    ),
    "patience 0": (
        ["early_stopping=patience_10", "trainer.early_stopping.patience=0"],
        "trainer.early_stopping.patience",
    ),
    "early stopping without a validation split": (
        ["early_stopping=patience_10", "dataset.val_fraction=0"],
        "dataset.val_fraction",
    ),
    "pruning without a validation split": (
        ["-m", *FIXED_TRIAL, *MEDIAN_AFTER_1, "dataset.val_fraction=0"],
        "dataset.val_fraction",
    ),
    "an Optuna sweep without a validation split": (
        ["-m", *FIXED_TRIAL, "dataset.val_fraction=0"],
        "dataset.val_fraction",
    ),
}


@pytest.fixture(scope="module")
def finished_run(tiny_idx_dir, tmp_path_factory):
    """A folder holding a finished two-epoch run."""
    run_dir = tmp_path_factory.mktemp("finished")
    process = train("trainer.epochs=2", "plots=false", run_dir=run_dir, data_dir=tiny_idx_dir)
    assert process.returncode == 0, process.stderr
    return run_dir


def folder_contents(folder) -> dict[str, bytes]:
    """Each file's bytes by its path in ``folder``, but the lock file, which names the last process that held it."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != LOCK_FILE
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "arguments, key", [pytest.param(*case[:2], marks=case[2:], id=name) for name, case in BAD_INPUTS.items()]
)
def test_bad_pruning_or_early_stopping_input_exits_2_with_one_line_and_writes_nothing_over(
    finished_run, tiny_idx_dir, tmp_path, arguments, key
):
    run_dir = shutil.copytree(finished_run, tmp_path / "run")
    before = folder_contents(run_dir)
    process = train(*arguments, "plots=false", f"hydra.sweep.dir={run_dir}", run_dir=run_dir, data_dir=tiny_idx_dir)
    assert process.returncode == 2, process.stderr
    (line,) = process.stderr.splitlines()
    assert line.startswith("error: ") and key in line
    after = folder_contents(run_dir)
    log = "train.log"  # a refused single run adds its line to the run's log
    assert after.pop(log).startswith(before[log])
    assert after == {name: content for name, content in before.items() if name != log}


def test_every_pruner_option_passes_the_command_line_check():
    for name in group_options(PRUNER_GROUP):
        assert f"{PRUNER_GROUP}={name}" in rewrite_argv(["train.py", "-m", "+sweep=optuna", f"{PRUNER_GROUP}={name}"])


@pytest.mark.slow
def test_a_pruned_trial_is_a_result_and_rerunning_the_sweep_trains_nothing(tiny_idx_dir, tmp_path):
    sweep_dir = tmp_path / "sweep"
    settings = [*FIXED_TRIAL, *PRUNE_AFTER_2, "hydra.sweeper.n_trials=2"]
    process = multirun(*settings, sweep_dir=sweep_dir, data_dir=tiny_idx_dir)
    assert process.returncode == 0, process.stderr
    assert process.stderr.splitlines()[-1].startswith(f"sweep {sweep_dir}: 2 jobs: 2 pruned;")
    metrics = job_metrics(sweep_dir)
    for run in metrics.values():
        assert run["status"] == "pruned" and len(run["history"]) == 2
        assert {key: run["stopped_early"][key] for key in ("pruner", "epoch")} == {"pruner": "threshold", "epoch": 2}
        assert run["stopped_early"]["value"] == run["history"][-1]["val_accuracy"]
        assert run["test_accuracy"] is not None  # evaluated and saved as a completed run is
    study = optuna.load_study(study_name="fmnist", storage=open_storage(f"journal:{sweep_dir / SWEEP_JOURNAL}"))
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.PRUNED] * 2
    assert [trial.intermediate_values for trial in study.trials] == [
        {row["epoch"]: row["val_accuracy"] for row in metrics[str(trial.number)]["history"]} for trial in study.trials
    ]
    assert "No trial of study fmnist has completed" in process.stdout + process.stderr  # a pruned one is never best
    rerun = multirun(*settings, sweep_dir=sweep_dir, data_dir=tiny_idx_dir)
    assert rerun.returncode == 0, rerun.stderr
    assert job_metrics(sweep_dir) == metrics and len(study.trials) == 2
    assert "0 more from this process" in rerun.stdout + rerun.stderr


@pytest.mark.parametrize("epochs, status", [(2, "completed"), (3, "pruned")])
def test_a_job_the_pruner_stops_at_its_last_epoch_completes_and_the_replay_agrees(
    epochs, status, tiny_idx_dir, tmp_path, capsys
):
    """The threshold pruner stops every trial after epoch 2: a 2-epoch trial has trained its budget by then and
    completes; a 3-epoch one is pruned. The replay of each journal says the same."""
    from fmnist.sweeps import replay

    sweep_dir = tmp_path / "sweep"
    settings = [*FIXED_TRIAL, *PRUNE_AFTER_2, "hydra.sweeper.n_trials=2", f"trainer.epochs={epochs}"]
    process = multirun(*settings, sweep_dir=sweep_dir, data_dir=tiny_idx_dir)
    assert process.returncode == 0, process.stderr
    assert [run["status"] for run in job_metrics(sweep_dir).values()] == [status, status]
    assert all(len(run["history"]) == 2 for run in job_metrics(sweep_dir).values())
    assert replay.main([str(sweep_dir)]) == 0
    pruned = "0 (epoch 2), 1 (epoch 2)" if status == "pruned" else "none"
    assert (
        f"the same {2 if status == 'pruned' else 0} trials pruned at the same epochs: {pruned}"
        in capsys.readouterr().out
    )


def report_lines(sweep_dir: Path, capsys) -> list[str]:
    """What ``python -m fmnist.tools.report SWEEP_DIR`` prints."""
    capsys.readouterr()
    assert report([str(sweep_dir)]) == 0
    return capsys.readouterr().out.splitlines()


@pytest.mark.slow
def test_the_command_the_report_prints_continues_a_pruned_trial_to_end_identical_to_one_never_pruned(
    tiny_idx_dir, tmp_path, capsys
):
    pruned = multirun(
        *FIXED_TRIAL, *PRUNE_AFTER_2, "hydra.sweeper.n_trials=1", sweep_dir=tmp_path / "pruned", data_dir=tiny_idx_dir
    )
    assert pruned.returncode == 0, pruned.stderr
    whole = multirun(*FIXED_TRIAL, "hydra.sweeper.n_trials=1", sweep_dir=tmp_path / "whole", data_dir=tiny_idx_dir)
    assert whole.returncode == 0, whole.stderr
    job_dir = tmp_path / "pruned" / "0"
    before = (job_dir / "metrics.json").read_text()
    lines = report_lines(tmp_path / "pruned", capsys)
    assert "  job 0: stopped at epoch 2 of 4 by the threshold pruner, val_accuracy " in "\n".join(lines)
    assert "no run has finished yet: no final validation accuracy to rank by, no best command" in lines
    (printed,) = [line.strip() for line in lines if line.strip().startswith("python -m fmnist.sweeps.continue_trial")]
    pasted = subprocess.run(
        printed,
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "WANDB_MODE": "disabled",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        },
    )
    assert pasted.returncode == 0, pasted.stderr
    continued = continued_folder(job_dir)
    assert_same_outcome(outcome(continued), outcome(tmp_path / "whole" / "0"))
    assert (job_dir / "metrics.json").read_text() == before  # the pruned job is left as it was
    assert "1 pruned trial (never the best; 1 continued since: job continued/0)" in report_lines(
        tmp_path / "pruned", capsys
    )
    assert continue_trial([str(job_dir)]) == 0  # again: the finished continued run trains nothing
    assert_same_outcome(outcome(continued), outcome(tmp_path / "whole" / "0"))


def test_continuing_a_folder_without_a_pruned_run_exits_2(tmp_path, capsys):
    assert continue_trial([str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path} holds no checkpoint, not a pruned job of a sweep")
    assert not continued_folder(tmp_path).exists()


@pytest.mark.slow
def test_two_sweepers_with_parallel_jobs_prune_against_one_shared_study(tiny_idx_dir, tmp_path):
    """Two sweeper processes, each running two joblib jobs at a time, on one journal file with the median
    pruner, at the same time: every trial runs once, in the folder named after it, ends completed or pruned
    as its metrics.json says, with the epochs its job reported, and the best trial is a completed one."""
    trials_each, sweep_dir, journal = 6, tmp_path / "sweep", tmp_path / "study.log"

    def sweeper(_):
        return multirun(
            "+sweep=optuna",
            f"hydra.sweeper.n_trials={trials_each}",
            "trainer.epochs=3",
            f"hydra.sweeper.storage=journal:{journal}",
            "hydra/launcher=joblib",
            "hydra.sweeper.n_jobs=2",
            f"{PRUNER_GROUP}=median",
            "hydra.sweeper.pruner.n_startup_trials=1",
            "optimizer.lr=choice(0.001,0.00001)",
            sweep_dir=sweep_dir,
            data_dir=tiny_idx_dir,
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        processes = list(pool.map(sweeper, range(2)))
    for process in processes:
        assert process.returncode == 0, process.stderr
    study = optuna.load_study(study_name="fmnist", storage=open_storage(f"journal:{journal}"))
    assert [trial.number for trial in study.trials] == list(range(2 * trials_each))
    states = {trial.number: trial.state.name for trial in study.trials}
    metrics = job_metrics(sweep_dir)
    assert {
        number: metrics[str(number)]["status"].upper().replace("COMPLETED", "COMPLETE") for number in states
    } == states
    assert "PRUNED" in states.values(), "nothing was pruned; the slow learning rate should have been"
    for trial in study.trials:
        assert trial.intermediate_values == {
            row["epoch"]: row["val_accuracy"] for row in metrics[str(trial.number)]["history"]
        }
    assert study.best_trial.state == optuna.trial.TrialState.COMPLETE


@pytest.mark.slow
def test_parallel_jobs_of_one_sweeper_process_are_pruned_against_the_trial_of_another(tiny_idx_dir, tmp_path):
    """One study in a journal file: a first sweeper process finishes a trial that learns; a second one, with two
    joblib jobs at a time, runs two trials that learn nothing, and the median rule stops both after their first
    epoch, below the only finished trial's value there, which the other process recorded."""
    sweep_dir, journal = tmp_path / "sweep", tmp_path / "study.log"
    shared = [*FIXED_BUT_LR, "trainer.epochs=2", *MEDIAN_AFTER_1, f"hydra.sweeper.storage=journal:{journal}"]
    first = multirun(
        *shared, "optimizer.lr=0.001", "hydra.sweeper.n_trials=1", sweep_dir=sweep_dir, data_dir=tiny_idx_dir
    )
    assert first.returncode == 0, first.stderr
    second = multirun(
        *shared,
        SLOW_LR,
        "hydra.sweeper.n_trials=2",
        "hydra/launcher=joblib",
        "hydra.sweeper.n_jobs=2",
        sweep_dir=sweep_dir,
        data_dir=tiny_idx_dir,
    )
    assert second.returncode == 0, second.stderr
    study = optuna.load_study(study_name="fmnist", storage=open_storage(f"journal:{journal}"))
    assert [trial.state.name for trial in study.trials] == ["COMPLETE", "PRUNED", "PRUNED"]
    finished = study.trials[0].intermediate_values
    assert list(finished) == [1, 2]
    metrics = job_metrics(sweep_dir)
    for trial in study.trials[1:]:
        assert list(trial.intermediate_values) == [1] and trial.intermediate_values[1] < finished[1]
        assert metrics[str(trial.number)]["status"] == "pruned"
        assert metrics[str(trial.number)]["stopped_early"]["epoch"] == 1


def pruner_config(name: str):
    """conf/hydra/sweeper/pruner/NAME.yaml composed as the sweeper gets it (a wrapped pruner included)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+sweep=optuna", f"{PRUNER_GROUP}={name}"], return_hydra_config=True)
    return cfg.hydra.sweeper


@pytest.mark.parametrize("name", group_options(PRUNER_GROUP))
def test_replaying_a_journal_reproduces_the_pruned_trials(name, tmp_path):
    """Twelve trials of seven epochs, one after another, each reporting through the job's own callback (built
    from its optuna_trial block, as in a sweep) to a journal file; the replay prunes the same trials at the
    same epochs."""
    from optuna.storages.journal import JournalFileBackend

    from fmnist.sweeps.pruning import pruning_callbacks
    from fmnist.sweeps.replay import recorded_pruning, replay_pruning

    sweeper, journal = pruner_config(name), tmp_path / "journal.log"
    storage = f"journal:{journal}"
    study = optuna.create_study(study_name="s", storage=open_storage(storage), direction="maximize")
    rng = np.random.default_rng(0)
    for _ in range(12):
        trial = study.ask()
        cfg = OmegaConf.create({TRIAL_KEY: {"number": trial.number, "study_name": "s", "storage": storage}})
        (callback,) = pruning_callbacks(cfg, sweeper, name)
        callback.on_train_start(RunInfo(class_names=[], epochs=7, batches_per_epoch=1))
        start, slope = rng.uniform(0.05, 0.8), rng.uniform(-0.04, 0.04)
        for epoch in range(1, 8):
            stop = callback.on_epoch_end({"epoch": epoch, "val_accuracy": start + slope * epoch})
            if stop is not None:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, start + slope * 7)
    logs = list(JournalFileBackend(str(journal)).read_logs(0))
    recorded = recorded_pruning(logs, "s")
    budgets = dict.fromkeys(range(12), 7)
    assert replay_pruning(logs, "s", lambda: instantiate(sweeper.pruner), budgets) == recorded
    assert bool(recorded) == (name != "none")
