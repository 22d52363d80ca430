"""A run that a wandb sweep agent stops (early termination, or a stop from the sweep's page), stopped by the
agent's own code (wandb.wandb_agent.Agent: the command and environment it starts a run with, its SIGTERM,
its SIGKILL 30 s later): the run ends well before the SIGKILL, keeps its checkpoint, says the sweep's agent
stopped it, and rerunning its command continues it."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import yaml

from fmnist.runs.outputs import METRICS_FILE
from fmnist.runs.resume import latest_checkpoint
from tests.conftest import ROOT
from tests.idx_files import write_idx_dataset

SWEEP_FILE = ROOT / "multirun_sweeps" / "wandb_bayes.yaml"


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.slow
def test_a_run_the_agent_stops_ends_inside_its_kill_delay_with_its_checkpoint_and_says_so(tmp_path, monkeypatch, capfd):
    from wandb.wandb_agent import Agent

    data_dir = write_idx_dataset(tmp_path / "data", n_train=6000, n_test=500, seed=0)
    monkeypatch.chdir(tmp_path)  # the agent starts runs in its own folder; hydra.run.dir is relative to it
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # its "python"
    for key, value in {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_SWEEP_ID": "sweep7",
        "WANDB_RUN_ID": "",
        "WANDB_SWEEP_PARAM_PATH": "",
        "WANDB_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(key, value)  # the agent sets some of these in this process: put back afterwards
    agent = Agent(api=None, queue=None, sweep_id="sweep7")
    agent._sweep_command = yaml.safe_load(SWEEP_FILE.read_text())["command"]
    arguments = {
        "optimizer": "adam",
        "activation": "relu",
        "model.num_layers": 3,
        "model.hidden_size": 256,
        "trainer.batch_size": 16,
        "trainer.epochs": 3,
        "dataset.path": str(data_dir),
        "dataset.download": False,
    }
    agent._command_run(
        {
            "run_id": "run42",
            "program": str(ROOT / "train.py"),
            "args": {key: {"value": value} for key, value in arguments.items()},
        }
    )
    process = agent._run_processes["run42"]
    run_dir = tmp_path / "outputs" / "wandb_sweeps" / "sweep7" / "run42"

    def epochs_done() -> int:
        try:
            return len(json.loads((run_dir / METRICS_FILE).read_text())["history"])
        except (OSError, ValueError):
            return 0

    assert wait_for(lambda: epochs_done() >= 1 or process.poll() is not None, 240), "no epoch in 240 s"
    agent._command_stop({"run_id": "run42"})  # SIGTERM, in epoch 2
    # the agent's clock: it sends SIGKILL once KILL_DELAY (30 s) have passed since its SIGTERM
    assert wait_for(lambda: process.poll() is not None, Agent.KILL_DELAY), "still running when the agent kills it"
    assert process.poll() == -signal.SIGTERM  # died of it: to the agent a stopped run, not a failed one

    metrics = json.loads((run_dir / METRICS_FILE).read_text())
    assert metrics["status"] == "interrupted" and metrics["epochs_completed"] == 1
    assert metrics["stopped_by"] == "SIGTERM from the wandb sweep agent (sweep sweep7, run run42)"
    assert latest_checkpoint(run_dir).state.epoch == 1  # kept, where a rerun continues
    console = capfd.readouterr()
    assert "SIGTERM from the wandb sweep agent (sweep sweep7, run run42) received" in console.err
    assert "interrupted by SIGTERM from the wandb sweep agent" in console.out + console.err
    assert f"to continue, rerun the same command with hydra.run.dir={run_dir}" in console.out + console.err

    agent._command_run(
        {
            "run_id": "run42",
            "program": str(ROOT / "train.py"),  # the same command again
            "args": {key: {"value": value} for key, value in arguments.items()},
        }
    )
    continued = agent._run_processes["run42"]
    assert wait_for(lambda: continued.poll() is not None, 240) and continued.poll() == 0
    assert f"resuming {run_dir} after epoch 1 of 3" in "".join(capfd.readouterr())
    metrics = json.loads((run_dir / METRICS_FILE).read_text())
    assert metrics["status"] == "completed" and [row["epoch"] for row in metrics["history"]] == [1, 2, 3]
    assert "stopped_by" not in metrics
