"""The Optuna sweeper (hydra_plugins/optuna_study_sweeper.py): its search space, its storages, how it launches
and records trials, rerunning a sweep, and one study shared by two sweeper processes through a journal file."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException

from hydra_plugins.optuna_study_sweeper import OptunaStudySweeper, open_storage, search_space
from tests.conftest import ROOT
from tests.test_sweeps import job_metrics, multirun


def is_sweeper_config_error(error: Exception) -> bool:
    """By name: Hydra's plugin scan may import the plugin module again, making a second class of that name."""
    return type(error).__name__ == "SweeperConfigError" and isinstance(error, CompactHydraException)


FINISHED_TRIAL = re.compile(r"Trial (\d+) finished with value")
BEST_TRIAL = re.compile(r"Best trial of the study so far: (\d+)")


def test_search_space_samples_sweeps_and_passes_other_overrides_to_every_job():
    distributions, fixed = search_space(
        [
            "optimizer=choice(adam,sgd)",
            "model.num_layers=range(3,6)",
            "optimizer.lr=tag(log,interval(0.0001,0.01))",
            "model.dropout=interval(0,0.5)",
            "trainer.epochs=choice(5,10)",
            "logger=none",
            "trainer.epochs=1",
        ]
    )
    assert distributions["optimizer"].choices == ("adam", "sgd")
    assert distributions["model.num_layers"].choices == (3, 4, 5)
    assert (distributions["optimizer.lr"].low, distributions["optimizer.lr"].high) == (0.0001, 0.01)
    assert distributions["optimizer.lr"].log and not distributions["model.dropout"].log
    assert fixed == ["logger=none", "trainer.epochs=1"]  # the later override of trainer.epochs wins
    assert set(distributions) == {"optimizer", "model.num_layers", "optimizer.lr", "model.dropout"}


def test_glob_sweep_is_refused_with_the_sweeps_it_can_sample():
    with pytest.raises(Exception, match=r"choice\(\.\.\.\), range\(\.\.\.\)") as error:
        search_space(["optimizer=glob(*)"])
    assert is_sweeper_config_error(error.value)


def test_journal_storage_is_a_file_and_database_urls_pass_through(tmp_path):
    journal = tmp_path / "study.log"
    storage = open_storage(f"journal:{journal}")
    optuna.create_study(study_name="s", storage=storage).ask()
    assert journal.stat().st_size > 0
    assert len(optuna.load_study(study_name="s", storage=open_storage(f"journal:{journal}")).trials) == 1
    assert open_storage("sqlite:///optuna.db") == "sqlite:///optuna.db"
    assert open_storage(None) is None


@pytest.mark.parametrize(
    "storage, message",
    [
        ("study.log", "neither a database URL nor a journal file: use sqlite:///optuna.db"),
        ("journal:/no/such/folder/study.log", "the folder /no/such/folder does not exist"),
    ],
)
def test_unusable_storage_is_refused_with_what_to_do(storage, message):
    with pytest.raises(Exception, match=re.escape(message)) as error:
        open_storage(storage)
    assert is_sweeper_config_error(error.value)


@pytest.mark.parametrize(
    "setting, message",
    [
        (
            "hydra.sweeper.storage=study.log",
            "hydra.sweeper.storage=study.log is neither a database URL nor a journal file",
        ),
        ("hydra.sweeper.n_trials=-1", "hydra.sweeper.n_trials=-1: must be a whole number >= 0"),
        ("hydra.sweeper.n_jobs=0", "hydra.sweeper.n_jobs=0: must be a whole number >= 1"),
    ],
)
def test_bad_sweeper_settings_on_the_command_line_exit_2_without_a_traceback(tiny_idx_dir, tmp_path, setting, message):
    process = multirun("+sweep=optuna", setting, sweep_dir=tmp_path / "sweep", data_dir=tiny_idx_dir, timeout=120)
    assert process.returncode == 2
    assert message in process.stderr
    assert "Traceback" not in process.stderr


def make_sweeper(storage, **settings) -> OptunaStudySweeper:
    """The sweeper as Hydra builds it, with a random sampler, no pruner and one study named s."""
    return OptunaStudySweeper(
        **{
            "sampler": optuna.samplers.RandomSampler(seed=0),
            "pruner": optuna.pruners.NopPruner(),
            "direction": "maximize",
            "study_name": "s",
            "storage": storage,
            "n_trials": 5,
            "n_jobs": 2,
            "params": {"optimizer": "choice(adam,sgd)"},
            **settings,
        }
    )


class OddTrialsRaise:
    """Stands in for Hydra's parallel launchers: records each launch; the job of an odd trial number
    raises, the others return 0.5 after ``seconds[trial]`` (default none)."""

    def __init__(self, seconds: dict[int, float] | None = None):
        self.launches, self.seconds, self.lock = [], seconds or {}, threading.Lock()

    def launch(self, jobs, initial_job_idx):
        number = int(jobs[0][-1].removeprefix("hydra.sweep.subdir="))
        with self.lock:
            self.launches.append((number, jobs, time.time()))
        time.sleep(self.seconds.get(number, 0))
        if number % 2:
            return [JobReturn(status=JobStatus.FAILED, _return_value=RuntimeError("the job crashed"))]
        return [JobReturn(status=JobStatus.COMPLETED, _return_value=0.5)]


def test_each_trial_is_its_own_launch_and_a_job_that_raises_is_a_failed_trial(tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    sweeper = make_sweeper(storage)
    sweeper.launcher, sweeper.sweep_dir = OddTrialsRaise(), tmp_path
    sweeper.sweep(["logger=none"])
    trials = optuna.load_study(study_name="s", storage=open_storage(storage)).trials
    complete, fail = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL
    assert [trial.state for trial in trials] == [complete, fail, complete, fail, complete]
    assert [trial.value for trial in trials if trial.state == complete] == [0.5, 0.5, 0.5]
    launched = {number: jobs for number, jobs, _ in sweeper.launcher.launches}
    assert launched == {
        trial.number: [["logger=none", f"optimizer={trial.params['optimizer']}", f"hydra.sweep.subdir={trial.number}"]]
        for trial in trials
    }


def test_a_slow_trial_does_not_hold_the_other_slot_idle(tmp_path):
    """Trial 0 takes 1.5 s, the others 0.1 s: the other slot runs trials 1-4 meanwhile (a batch of two
    would wait for trial 0), and both slots are busy most of the sweep."""
    from fmnist.sweeps.occupancy import read_busy_share

    sweeper = make_sweeper(None)
    sweeper.launcher, sweeper.sweep_dir = OddTrialsRaise(seconds={0: 1.5, 1: 0.1, 2: 0.1, 3: 0.1, 4: 0.1}), tmp_path
    sweeper.sweep([])
    started = {number: moment for number, _, moment in sweeper.launcher.launches}
    assert started[4] - started[0] < 1.0
    assert read_busy_share(tmp_path) > 0.2  # 0.5-0.6 s of 1.5 s with both busy; a batch of two: 0.1 s


def test_busy_share_is_the_time_every_slot_was_running_over_the_wall_time():
    from fmnist.sweeps.occupancy import busy_share

    spans = [(0, 10), (0, 4), (5, 8)]  # two slots: both busy during [0, 4) and [5, 8)
    assert busy_share(spans, slots=2, began=0, ended=10) == pytest.approx(0.7)
    assert busy_share(spans, slots=1, began=0, ended=10) == pytest.approx(1.0)
    assert busy_share([(0, 10)], slots=2, began=0, ended=10) == 0.0


@pytest.mark.slow
def test_rerunning_a_sweep_without_storage_proposes_the_same_trials_and_keeps_finished_runs(tiny_idx_dir, tmp_path):
    sweep_dir = tmp_path / "sweep"
    runs = []
    for _ in range(2):
        process = multirun(
            "+sweep=optuna", "hydra.sweeper.n_trials=2", "trainer.epochs=1", sweep_dir=sweep_dir, data_dir=tiny_idx_dir
        )
        assert process.returncode == 0, process.stderr
        runs.append(
            {
                job: ((sweep_dir / job / ".hydra" / "overrides.yaml").read_text(), metrics)
                for job, metrics in job_metrics(sweep_dir).items()
            }
        )
    assert sorted(runs[1]) == ["0", "1"]
    assert runs[1] == runs[0]  # same overrides, and metrics.json untouched: not trained again


@pytest.mark.slow
def test_two_sweepers_on_one_journal_file_run_every_trial_once_and_agree_on_the_best(tiny_idx_dir, tmp_path):
    """Two processes start the shared-study command of docs/sweeps-and-clusters.md together: one study whose
    trials are numbered 0..N-1, each run by one process in the job folder named after it, with the value its run
    reached; the process that finishes last reports the study's best trial, the best run of both."""
    trials_each, sweep_dir, journal = 4, tmp_path / "sweep", tmp_path / "study.log"

    def sweeper(_):
        return multirun(
            "+sweep=optuna",
            f"hydra.sweeper.n_trials={trials_each}",
            "trainer.epochs=1",
            f"hydra.sweeper.storage=journal:{journal}",
            sweep_dir=sweep_dir,
            data_dir=tiny_idx_dir,
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        processes = list(pool.map(sweeper, range(2)))
    for process in processes:
        assert process.returncode == 0, process.stderr
    study = optuna.load_study(study_name="fmnist", storage=open_storage(f"journal:{journal}"))
    numbers = list(range(2 * trials_each))
    assert [trial.number for trial in study.trials] == numbers
    assert all(trial.state == optuna.trial.TrialState.COMPLETE for trial in study.trials)

    ran = [{int(number) for number in FINISHED_TRIAL.findall(process.stdout)} for process in processes]
    assert [len(trials) for trials in ran] == [trials_each, trials_each]
    assert sorted(ran[0] | ran[1]) == numbers  # none lost, none run by both
    assert min(ran[0]) < max(ran[1]) and min(ran[1]) < max(ran[0]), "the sweepers did not run at the same time"

    metrics = job_metrics(sweep_dir)
    assert sorted(map(int, metrics)) == numbers
    assert all(trial.value == metrics[str(trial.number)]["val_accuracy"] for trial in study.trials)
    assert study.best_value == max(run["val_accuracy"] for run in metrics.values())
    last = max((0, 1), key=lambda index: max(study.trials[number].datetime_complete for number in ran[index]))
    assert BEST_TRIAL.findall(processes[last].stdout) == [str(study.best_trial.number)]


def test_a_trial_whose_run_another_process_holds_is_not_requeued(tmp_path):
    from fmnist.runs.run_lock import RunFolderLock

    storage = f"journal:{tmp_path / 'study.log'}"
    study = optuna.create_study(study_name="s", storage=open_storage(storage))
    running = study.ask({"optimizer": optuna.distributions.CategoricalDistribution(["adam", "sgd"])})
    (tmp_path / "sweep" / str(running.number)).mkdir(parents=True)
    (tmp_path / "sweep" / str(running.number) / "metrics.json").write_text('{"status": "running"}')
    sweeper = make_sweeper(storage, n_trials=0, n_jobs=1)
    sweeper.sweep_dir = tmp_path / "sweep"
    with RunFolderLock(tmp_path / "sweep" / str(running.number)):  # a live process trains in it
        sweeper.requeue_stopped_trials(study)
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.RUNNING]
    sweeper.requeue_stopped_trials(study)  # now nobody holds it: its process is gone
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING]
    assert study.trials[1].params == {} and study.trials[1].user_attrs == {"resumes_trial": running.number}
    sweeper.requeue_stopped_trials(study)  # claimed once only
    assert len(study.trials) == 2


@pytest.mark.slow
def test_a_shared_study_killed_mid_trial_continues_that_trial_in_its_folder_when_rerun(tiny_idx_dir, tmp_path):
    """kill -9 of a sweeper process in its second trial's second epoch; the same command run again fails
    the stale trial, queues its parameters again and continues the run from its checkpoint."""
    from fmnist.runs.resume import CHECKPOINT_DIR, LAST, read_checkpoint

    sweep_dir, journal = tmp_path / "sweep", tmp_path / "study.log"
    settings = [
        "+sweep=optuna",
        "hydra.sweeper.n_trials=2",
        f"hydra.sweeper.storage=journal:{journal}",
        "trainer.epochs=2",
        "trainer.batch_size=32",
        "optimizer=adam",
        "optimizer.lr=0.001",
        "optimizer.weight_decay=0",
    ]  # every trial trains its 2 x 9 steps (none diverges)
    batches = 9  # 270 training images in batches of 32
    killed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "killer.py"),
            "step",
            str(2 * batches + batches + 3),
            "KILL",
            "--multirun",
            f"dataset.path={tiny_idx_dir}",
            "dataset.download=false",
            "logger=none",
            "plots=false",
            f"hydra.sweep.dir={sweep_dir}",
            *settings,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert killed.returncode == -9, killed.stderr
    assert read_checkpoint(sweep_dir / "1" / CHECKPOINT_DIR / LAST).state.epoch == 1
    rerun = multirun(*settings, sweep_dir=sweep_dir, data_dir=tiny_idx_dir)
    assert rerun.returncode == 0, rerun.stderr
    study = optuna.load_study(study_name="fmnist", storage=open_storage(f"journal:{journal}"))
    states = [trial.state.name for trial in study.trials]
    assert states == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    resumed = study.trials[2]
    assert resumed.params == study.trials[1].params and resumed.user_attrs == {"resumes_trial": 1}
    assert "resuming" in rerun.stdout + rerun.stderr
    assert resumed.value == job_metrics(sweep_dir)["1"]["val_accuracy"]
    assert [row["epoch"] for row in job_metrics(sweep_dir)["1"]["history"]] == [1, 2]
    assert sorted(job_metrics(sweep_dir)) == ["0", "1", "3"]
