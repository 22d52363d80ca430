"""SLURM: multiruns sent to a real scheduler with the `hydra/launcher=slurm` preset, jobs requeued mid-run
that continue from their checkpoint, and a pruned Optuna sweep whose jobs prune against each other.

They need a cluster that answers `sinfo` (CI starts a one-node one with `.ci/start_slurm.sh`) and skip
with the reason otherwise. Without an accounting database submitit learns that a job ended only from
its result file, so a job that dies without one would keep the launcher waiting: every multirun here
runs as a subprocess with a timeout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import optuna
import pytest

from fmnist.runs.outputs import METRICS_FILE, MODEL_FILE
from fmnist.runs.resume import CHECKPOINT_DIR, LAST, latest_checkpoint
from hydra_plugins.optuna_study_sweeper import SWEEP_JOURNAL, open_storage
from tests.conftest import ROOT
from tests.test_pruning import FIXED_BUT_LR, MEDIAN_AFTER_1, SLOW_LR
from tests.test_resume import assert_same_outcome, outcome
from tests.test_sweeps import NO_TRACKER, job_metrics, multirun, multirun_command

pytestmark = pytest.mark.slow

SWEEP_TIMEOUT_S = 600
# One core and 1 GB per job, so two jobs share a two-core node.
SLURM_JOBS = (
    "hydra/launcher=slurm",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.timeout_min=5",
)
REQUEUE_EPOCHS = 100
# Two hidden layers with dropout, Adam, batches of 16 on 6000 generated images: about 60 ms an epoch
# here on one core, so the run lasts well beyond the 2 s between SLURM's SIGTERM and SIGKILL
# (KillWait in .ci/start_slurm.sh); weights, Adam's moments and the generator that draws dropout masks
# and batches must all come through the requeue.
REQUEUE_RUN = (
    "model=mlp",
    "model.num_layers=2",
    "model.hidden_size=64",
    "model.dropout=0.2",
    "optimizer=adam",
    "trainer.batch_size=16",
    f"trainer.epochs={REQUEUE_EPOCHS}",
    "blas_threads=1",
)
INTERRUPTIONS = {
    # SLURM requeues the job itself, as when it preempts one: SIGTERM, which submitit ignores, then
    # SIGKILL; the requeued job continues from the last epoch's checkpoint.
    "scontrol_requeue": ["scontrol", "requeue"],
    # What SLURM sends signal_delay_s before the time limit: the run stops after the batch, and
    # submitit's handler requeues the job.
    "time_limit_warning": ["scancel", "--signal=USR2"],
}
USABLE_NODE_STATES = "idle,mixed,allocated,completing"


def slurm_skip_reason() -> str | None:
    """Why SLURM jobs cannot run here, or None when a cluster answers and has a node up."""
    if shutil.which("sinfo") is None:
        return "SLURM is not installed (no sinfo on PATH); sudo .ci/start_slurm.sh installs and starts it"
    try:
        answer = subprocess.run(
            ["sinfo", "--noheader", "--responding", f"--states={USABLE_NODE_STATES}", "--format=%n"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 30 s; is slurmctld running? (sudo .ci/start_slurm.sh)"
    if answer.returncode != 0:
        last_line = (answer.stderr.strip().splitlines() or ["no message"])[-1]
        return f"no SLURM cluster answers (sinfo: {last_line}); sudo .ci/start_slurm.sh starts one"
    if not answer.stdout.strip():
        return "SLURM answers but no node is up (sinfo shows none idle or busy); see sinfo -R"
    return None


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    reason = slurm_skip_reason()
    if reason:
        pytest.skip(reason)


def wait_for(condition, what: str, timeout_s: float = 120):
    """Poll ``condition`` until it returns something true, and return that; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"waited {timeout_s} s for {what}")


def slurm_jobs(sweep_dir) -> dict[str, dict[str, str]]:
    """Every job the sweep submitted (a launch of several jobs is an array, whose tasks are jobs too), by its
    id, as slurmctld reports it: {"12": {"JobState": "COMPLETED", "ExitCode": "0:0", "Restarts": "0", ...}}."""
    jobs = {}
    for array_id in sorted({submission.parent.name for submission in sweep_dir.glob(".submitit/*/*_submission.sh")}):
        answer = subprocess.run(
            ["scontrol", "--oneliner", "show", "job", array_id], capture_output=True, text=True, timeout=30, check=True
        )
        for line in answer.stdout.splitlines():
            job = dict(item.split("=", 1) for item in line.split() if "=" in item)
            jobs[job["JobId"]] = job
    return jobs


def final_slurm_jobs(sweep_dir) -> dict[str, dict[str, str]] | None:
    """:func:`slurm_jobs` once all have ended (None while one is still active: a job's process writes its
    result, which the launcher waits for, a moment before it exits)."""
    jobs = slurm_jobs(sweep_dir)
    active = any(job["JobState"] in ("PENDING", "RUNNING", "COMPLETING") for job in jobs.values())
    return None if active else jobs


def final_job_states(sweep_dir) -> list[str] | None:
    """The sorted JobStates of the sweep's tasks once all have ended."""
    jobs = final_slurm_jobs(sweep_dir)
    return None if jobs is None else sorted(job["JobState"] for job in jobs.values())


@pytest.fixture(scope="module")
def slurm_sweep(slurm_cluster, tiny_idx_dir, tmp_path_factory):
    """A two-job multirun (adam, sgd) run through SLURM: its folder and the finished process."""
    sweep_dir = tmp_path_factory.mktemp("slurm") / "sweep"
    process = multirun(
        *SLURM_JOBS,
        "model=mlp",
        "model.num_layers=1",
        "model.hidden_size=16",
        "trainer.epochs=1",
        "optimizer=adam,sgd",
        sweep_dir=sweep_dir,
        data_dir=tiny_idx_dir,
        timeout=SWEEP_TIMEOUT_S,
    )
    return sweep_dir, process


def test_two_job_multirun_runs_both_jobs_as_slurm_jobs_to_completion(slurm_sweep):
    sweep_dir, process = slurm_sweep
    assert process.returncode == 0, process.stderr
    metrics = job_metrics(sweep_dir)
    assert sorted(metrics) == ["0", "1"]
    assert [run["status"] for run in metrics.values()] == ["completed", "completed"]
    states = wait_for(lambda: final_job_states(sweep_dir), "SLURM to see both jobs end", timeout_s=60)
    assert states == ["COMPLETED", "COMPLETED"]


def test_sweep_report_reads_a_slurm_sweep(slurm_sweep):
    sweep_dir, process = slurm_sweep
    assert process.returncode == 0, process.stderr
    report = subprocess.run(
        [sys.executable, "-m", "fmnist.tools.report", str(sweep_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert report.returncode == 0, report.stderr
    summary = json.loads((sweep_dir / "report" / "summary.json").read_text())
    assert summary["statuses"] == {"completed": 2}
    metrics = job_metrics(sweep_dir)
    best_value = max(run["val_accuracy"] for run in metrics.values())
    assert summary["best_val_accuracy"] == pytest.approx(best_value)
    assert metrics[summary["best_job"]]["val_accuracy"] == pytest.approx(best_value)


@pytest.fixture(scope="module")
def requeue_idx_dir(tmp_path_factory):
    from tests.idx_files import write_idx_dataset

    return write_idx_dataset(tmp_path_factory.mktemp("requeue_idx"), n_train=6000, n_test=500, seed=0)


@pytest.fixture(scope="module")
def uninterrupted(requeue_idx_dir, tmp_path_factory):
    """The outcome of the same one-job multirun, never interrupted (Hydra's basic launcher, no SLURM)."""
    sweep_dir = tmp_path_factory.mktemp("uninterrupted") / "sweep"
    process = multirun(*REQUEUE_RUN, sweep_dir=sweep_dir, data_dir=requeue_idx_dir, timeout=SWEEP_TIMEOUT_S)
    assert process.returncode == 0, process.stderr
    return outcome(sweep_dir / "0")


def epochs_done(run_dir) -> int:
    """Epochs in the job's metrics.json so far (0 before it exists; it is replaced atomically)."""
    try:
        return len(json.loads((run_dir / METRICS_FILE).read_text())["history"])
    except FileNotFoundError:
        return 0


def slurm_state(job_id: str) -> str:
    """The job's state in the queue (PENDING, RUNNING, COMPLETING), empty once it has left the queue."""
    answer = subprocess.run(
        ["squeue", "--noheader", "--jobs", job_id, "--format=%T"], capture_output=True, text=True, timeout=30
    )
    return answer.stdout.strip()


def submitted_job_id(sweep_dir) -> str:
    """The SLURM id of the sweep's only job, from the pickle submitit wrote for it (``12_submitted.pkl``)."""
    (pickle,) = sweep_dir.glob(".submitit/*/*_submitted.pkl")
    return pickle.name.removesuffix("_submitted.pkl")


@pytest.mark.parametrize("interrupt", INTERRUPTIONS.values(), ids=INTERRUPTIONS.keys())
def test_job_requeued_mid_run_resumes_from_its_checkpoint_and_ends_identical(
    slurm_cluster, requeue_idx_dir, uninterrupted, tmp_path, interrupt
):
    sweep_dir = tmp_path / "sweep"
    run_dir = sweep_dir / "0"
    with ThreadPoolExecutor(max_workers=1) as background:
        sweep = background.submit(
            multirun, *SLURM_JOBS, *REQUEUE_RUN, sweep_dir=sweep_dir, data_dir=requeue_idx_dir, timeout=SWEEP_TIMEOUT_S
        )
        wait_for(lambda: epochs_done(run_dir) >= 2, "the job's second epoch")
        job_id = submitted_job_id(sweep_dir)
        subprocess.run([*interrupt, job_id], check=True, capture_output=True, timeout=30)
        wait_for(lambda: slurm_state(job_id) == "PENDING", "the job to be back in the queue")
        left_behind = latest_checkpoint(run_dir)
        process = sweep.result()
    assert process.returncode == 0, process.stderr
    assert 2 <= left_behind.state.epoch < REQUEUE_EPOCHS and not left_behind.finished
    assert_same_outcome(outcome(run_dir), uninterrupted)


# Three trials, one after another, of tests/test_pruning.py's fixed configuration for two epochs, the learning
# rate drawn from a fast and a slow one; with the sampler's seed of +sweep=optuna (0) the draws are slow, fast,
# slow. The median rule, from the first finished trial on, stops the third after its first epoch: it is below
# the median of the two finished trials there, which other SLURM jobs reported.
PRUNED_SWEEP = (
    *SLURM_JOBS,
    *FIXED_BUT_LR,
    "trainer.epochs=2",
    f"optimizer.lr=choice(0.001,{SLOW_LR.split('=')[1]})",
    *MEDIAN_AFTER_1,
    "hydra.sweeper.n_trials=3",
)


@pytest.fixture
def pruned_slurm_sweep(slurm_cluster, tiny_idx_dir, tmp_path):
    """The sweep of PRUNED_SWEEP run through SLURM: its folder and the finished process (a test's own: one
    requeues a job, which another checks was never requeued)."""
    sweep_dir = tmp_path / "sweep"
    return sweep_dir, multirun(*PRUNED_SWEEP, sweep_dir=sweep_dir, data_dir=tiny_idx_dir, timeout=SWEEP_TIMEOUT_S)


def test_a_pruned_slurm_job_ends_pruned_exits_0_is_not_requeued_and_a_rerun_trains_nothing(
    pruned_slurm_sweep, tiny_idx_dir
):
    sweep_dir, process = pruned_slurm_sweep
    assert process.returncode == 0, process.stderr
    study = optuna.load_study(study_name="fmnist", storage=open_storage(f"journal:{sweep_dir / SWEEP_JOURNAL}"))
    slow, fast = float(SLOW_LR.split("=")[1]), 0.001
    assert [trial.params["optimizer.lr"] for trial in study.trials] == [slow, fast, slow], "the seed's draws changed"
    assert [trial.state.name for trial in study.trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert [trial.user_attrs for trial in study.trials] == [{}, {}, {}]  # none queued again to continue a job
    pruned = study.trials[2].intermediate_values
    assert list(pruned) == [1]
    assert pruned[1] < np.median([trial.intermediate_values[1] for trial in study.trials[:2]])
    metrics = job_metrics(sweep_dir)
    assert [metrics[job]["status"] for job in ("0", "1", "2")] == ["completed", "completed", "pruned"]
    assert {key: metrics["2"]["stopped_early"][key] for key in ("pruner", "epoch")} == {"pruner": "median", "epoch": 1}
    assert "Trial 2 pruned in" in process.stdout + process.stderr

    jobs = wait_for(lambda: final_slurm_jobs(sweep_dir), "SLURM to see the three jobs end", timeout_s=60)
    assert len(jobs) == 3  # a SLURM job per trial, each run once, ended by itself with exit code 0
    assert [(job["JobState"], job["ExitCode"], job["Restarts"]) for job in jobs.values()] == [
        ("COMPLETED", "0:0", "0")
    ] * 3

    submitted = sorted(sweep_dir.glob(".submitit/*"))
    rerun = multirun(*PRUNED_SWEEP, sweep_dir=sweep_dir, data_dir=tiny_idx_dir, timeout=SWEEP_TIMEOUT_S)
    assert rerun.returncode == 0, rerun.stderr
    assert "0 more from this process" in rerun.stdout + rerun.stderr
    assert sorted(sweep_dir.glob(".submitit/*")) == submitted  # no job submitted
    assert job_metrics(sweep_dir) == metrics
    assert (
        len(optuna.load_study(study_name="fmnist", storage=open_storage(f"journal:{sweep_dir / SWEEP_JOURNAL}")).trials)
        == 3
    )


def test_a_pruned_job_that_slurm_requeues_all_the_same_trains_nothing(pruned_slurm_sweep):
    """An administrator's ``scontrol requeue``, or a preemption just as the job ends: SLURM runs the finished job
    again, in its folder, where the run is already pruned; nothing trains and its records stay as they were."""
    sweep_dir, process = pruned_slurm_sweep
    assert process.returncode == 0, process.stderr
    jobs = wait_for(lambda: final_slurm_jobs(sweep_dir), "SLURM to see the three jobs end", timeout_s=60)
    pruned_job = sorted(jobs, key=int)[2]  # the trials ran one after another: the third job is trial 2's
    run_dir = sweep_dir / "2"
    records = [METRICS_FILE, f"{CHECKPOINT_DIR}/{LAST}", MODEL_FILE]
    before = {name: (run_dir / name).read_bytes() for name in records}
    subprocess.run(["scontrol", "requeue", pruned_job], check=True, capture_output=True, timeout=30)
    job = wait_for(
        lambda: (final_slurm_jobs(sweep_dir) or {}).get(pruned_job) if slurm_state(pruned_job) == "" else None,
        "the requeued job to end",
        timeout_s=120,
    )
    assert (job["JobState"], job["ExitCode"], job["Restarts"]) == ("COMPLETED", "0:0", "1")
    assert "already pruned: nothing trained" in (run_dir / "train.log").read_text()
    assert {name: (run_dir / name).read_bytes() for name in records} == before


def test_a_trial_pruned_while_its_sweeper_was_dead_is_told_pruned_by_the_rerun_not_run_again(
    slurm_cluster, tiny_idx_dir, tmp_path
):
    """The sweeper process is killed (kill -9, as when a login node's session dies) once the third trial's job
    is submitted; the job runs on in SLURM and ends pruned, its trial left RUNNING in the study. The same
    command run again finds the job's run pruned and tells the study so: nothing is queued again to continue
    it, nothing trains, and the sweep is complete."""
    sweep_dir = tmp_path / "sweep"
    sweeper = subprocess.Popen(
        multirun_command(*PRUNED_SWEEP, sweep_dir=sweep_dir, data_dir=tiny_idx_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=NO_TRACKER,
    )
    try:
        wait_for(
            lambda: len(list(sweep_dir.glob(".submitit/*/*_submission.sh"))) == 3,
            "the third trial's job",
            timeout_s=SWEEP_TIMEOUT_S,
        )
    finally:
        sweeper.kill()
        sweeper.wait()
    wait_for(lambda: final_slurm_jobs(sweep_dir), "SLURM to see the three jobs end", timeout_s=60)
    journal = f"journal:{sweep_dir / SWEEP_JOURNAL}"
    study = optuna.load_study(study_name="fmnist", storage=open_storage(journal))
    assert [trial.state.name for trial in study.trials] == ["COMPLETE", "COMPLETE", "RUNNING"]
    metrics = job_metrics(sweep_dir)
    assert metrics["2"]["status"] == "pruned"

    submitted = sorted(sweep_dir.glob(".submitit/*"))
    rerun = multirun(*PRUNED_SWEEP, sweep_dir=sweep_dir, data_dir=tiny_idx_dir, timeout=SWEEP_TIMEOUT_S)
    assert rerun.returncode == 0, rerun.stderr
    output = rerun.stdout + rerun.stderr
    assert "Trial 2 pruned in" in output and "0 more from this process" in output
    study = optuna.load_study(study_name="fmnist", storage=open_storage(journal))
    assert [trial.state.name for trial in study.trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert sorted(sweep_dir.glob(".submitit/*")) == submitted and job_metrics(sweep_dir) == metrics
