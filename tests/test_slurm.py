"""SLURM: multiruns sent to a real scheduler with the `hydra/launcher=slurm` preset.

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

import pytest

from tests.conftest import ROOT
from tests.test_sweeps import job_metrics, multirun

pytestmark = pytest.mark.slow

SWEEP_TIMEOUT_S = 300
# One core and 1 GB per job, so two jobs share a two-core node; a one-layer network for one epoch.
SMALL_JOBS = ("hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
              "hydra.launcher.timeout_min=5", "model=mlp", "model.num_layers=1", "model.hidden_size=16")
USABLE_NODE_STATES = "idle,mixed,allocated,completing"


def slurm_skip_reason() -> str | None:
    """Why SLURM jobs cannot run here, or None when a cluster answers and has a node up."""
    if shutil.which("sinfo") is None:
        return "SLURM is not installed (no sinfo on PATH); sudo .ci/start_slurm.sh installs and starts it"
    try:
        answer = subprocess.run(["sinfo", "--noheader", "--responding", f"--states={USABLE_NODE_STATES}",
                                 "--format=%n"], capture_output=True, text=True, timeout=30)
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


def slurm_job_states(sweep_dir) -> dict[str, str]:
    """JobState of every array task the sweep submitted, as slurmctld reports it ({"12_0": "COMPLETED"})."""
    (submission,) = sweep_dir.glob(".submitit/*/*_submission.sh")
    array_id = submission.parent.name
    answer = subprocess.run(["scontrol", "--oneliner", "show", "job", array_id],
                            capture_output=True, text=True, timeout=30, check=True)
    fields = [dict(item.split("=", 1) for item in line.split() if "=" in item) for line in answer.stdout.splitlines()]
    return {f"{job['ArrayJobId']}_{job['ArrayTaskId']}": job["JobState"] for job in fields}


@pytest.fixture(scope="module")
def slurm_sweep(slurm_cluster, tiny_idx_dir, tmp_path_factory):
    """A two-job multirun (adam, sgd) run through SLURM: its folder and the finished process."""
    sweep_dir = tmp_path_factory.mktemp("slurm") / "sweep"
    process = multirun(*SMALL_JOBS, "trainer.epochs=1", "optimizer=adam,sgd", sweep_dir=sweep_dir,
                       data_dir=tiny_idx_dir, timeout=SWEEP_TIMEOUT_S)
    return sweep_dir, process


def test_two_job_multirun_runs_both_jobs_as_slurm_jobs_to_completion(slurm_sweep):
    sweep_dir, process = slurm_sweep
    assert process.returncode == 0, process.stderr
    metrics = job_metrics(sweep_dir)
    assert sorted(metrics) == ["0", "1"]
    assert [run["status"] for run in metrics.values()] == ["completed", "completed"]
    assert sorted(slurm_job_states(sweep_dir).values()) == ["COMPLETED", "COMPLETED"]


def test_sweep_report_reads_a_slurm_sweep(slurm_sweep):
    sweep_dir, process = slurm_sweep
    assert process.returncode == 0, process.stderr
    report = subprocess.run([sys.executable, "-m", "fmnist.report", str(sweep_dir)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert report.returncode == 0, report.stderr
    summary = json.loads((sweep_dir / "report" / "summary.json").read_text())
    assert summary["statuses"] == {"completed": 2}
    metrics = job_metrics(sweep_dir)
    best_value = max(run["val_accuracy"] for run in metrics.values())
    assert summary["best_val_accuracy"] == pytest.approx(best_value)
    assert metrics[summary["best_job"]]["val_accuracy"] == pytest.approx(best_value)
