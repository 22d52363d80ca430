"""Continue a pruned trial to its full budget, in its own folder, as if it had never been pruned.

    python -m fmnist.sweeps.continue_trial SWEEP_DIR/7

A pruned job keeps its checkpoint (``checkpoints/last.npz``: the state after the epoch it stopped at,
marked pruned). This copies that checkpoint, marked running again (with a wandb run of its own),
into ``SWEEP_DIR/continued/7`` and
runs the job's own overrides there (``.hydra/overrides.yaml``, less the trial it reported to) as a plain
run, which resumes from it: the epochs already paid are not trained again, and the result is the one the
trial would have reached unpruned (same weights, same metrics). Rerunning the command continues or
reports that run; nothing in the pruned job's folder is changed. Exit 2, with one line, for a folder
that holds no pruned run.
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from fmnist import CONF_DIR
from fmnist.runs.resume import CHECKPOINT_DIR, LAST, latest_checkpoint, write_checkpoint
from fmnist.sweeps.pruning import TRIAL_KEY

CONTINUED_DIR = "continued"
TRAIN_SCRIPT = CONF_DIR.parent / "train.py"


def continued_folder(job_dir: Path) -> Path:
    """Where the pruned job in ``job_dir`` is continued: ``SWEEP_DIR/continued/<job folder>``."""
    return job_dir.parent / CONTINUED_DIR / job_dir.name


def continue_command(job_dir: str | Path) -> str:
    """The command that continues the pruned job in ``job_dir`` (what the sweep report prints), quoted for a shell."""
    return f"python -m fmnist.sweeps.continue_trial {shlex.quote(str(job_dir))}"


def job_overrides(job_dir: Path) -> list[str]:
    """The job's command-line overrides without the trial it reported to."""
    overrides = OmegaConf.load(job_dir / ".hydra" / "overrides.yaml")
    return [str(item) for item in overrides if not str(item).lstrip("+").startswith(f"{TRIAL_KEY}.")]


def prepare(job_dir: Path) -> Path:
    """The continued run's folder, holding the pruned job's checkpoint marked running (once: a folder
    that already holds a checkpoint is left as it is). SystemExit(2) with the reason when ``job_dir``
    holds no pruned run."""
    checkpoint = latest_checkpoint(job_dir) if (job_dir / CHECKPOINT_DIR).is_dir() else None
    if checkpoint is None or checkpoint.status != "pruned" or not (job_dir / ".hydra" / "overrides.yaml").is_file():
        found = "no checkpoint" if checkpoint is None else f"a run that is {checkpoint.status}"
        raise SystemExit(
            f"error: {job_dir} holds {found}, not a pruned job of a sweep: pass the folder of a job "
            "whose metrics.json says pruned (python -m fmnist.tools.report SWEEP_DIR lists them)"
        )
    target = continued_folder(job_dir)
    if not (target / CHECKPOINT_DIR / LAST).is_file():
        checkpoint.status, checkpoint.summary, checkpoint.state.stopped = "running", {}, None
        checkpoint.wandb_run_id = secrets.token_hex(4)  # its own wandb run, as it has its own folder
        write_checkpoint(target, checkpoint, keep_previous=False)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist.sweeps.continue_trial", description=__doc__.split("\n")[0])
    parser.add_argument("job_dir", type=Path, help="the pruned job's folder, e.g. multirun/optuna/TIME/7")
    job_dir = parser.parse_args(argv).job_dir.absolute()
    try:
        target = prepare(job_dir)
    except SystemExit as refusal:
        print(refusal.code, file=sys.stderr)
        return 2
    print(f"continuing {job_dir} in {target}", file=sys.stderr)
    return subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), *job_overrides(job_dir), f"hydra.run.dir={target}"]
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
