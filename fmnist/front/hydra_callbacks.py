"""Hydra callbacks (registered in conf/config.yaml under ``hydra.callbacks``)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import OmegaConf

from fmnist.config.build import ConfigError
from fmnist.config.settings import check_settings


class CheckSettings(Callback):
    """A single run's settings, checked before Hydra creates its folder or writes ``.hydra/`` into it, so a
    refused run writes nothing over a run already there: one line naming the key, exit 2. (A multirun's jobs
    take their values from the sweep; each job's experiment checks them.)"""

    def on_run_start(self, config, **kwargs) -> None:
        try:
            check_settings(OmegaConf.masked_copy(config, [key for key in config if key != "hydra"]))
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)


class CheckOutputFolder(Callback):
    """An output folder that cannot be created is bad input: one line saying which and why, exit 2,
    instead of Hydra's chained tracebacks from inside its launcher."""

    def on_run_start(self, config, **kwargs) -> None:
        create_output_folder(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config, **kwargs) -> None:
        create_output_folder(config.hydra.sweep.dir, "hydra.sweep.dir")


def create_output_folder(folder, key: str) -> None:
    """Create ``folder`` (Hydra would, a moment later; ``${now:...}`` resolves to the same time, it is cached)."""
    # here, not at the top: train.py imports this module before it reads its flags, which must be quick
    from fmnist.runs.outputs import OutputFolderError
    from fmnist.runs.outputs import create_output_folder as create_writable_folder

    try:
        create_writable_folder(str(folder), setting=f"{key}={folder}")
    except OutputFolderError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


class JobsFailed(SystemExit):
    """A multirun ended with failed jobs: exit code 1, as a single run that failed."""

    def __init__(self):
        super().__init__(1)


class SweepOutcome(Callback):
    """At the end of a multirun, one line counting its jobs by status (from each job's metrics.json) and a
    line for each failed job, with its message; the command then exits 1 if any job failed (a bad value
    in a sweep list, a crash). Diverged jobs are results of their settings, not failures."""

    def on_multirun_end(self, config, **kwargs) -> None:
        from fmnist.runs.outputs import METRICS_FILE  # here, as in create_output_folder
        from fmnist.runs.resume import REPLACED_DIR

        sweep_dir = Path(str(config.hydra.sweep.dir))
        jobs = {
            path.parent: json.loads(path.read_text())
            for path in sorted(sweep_dir.rglob(METRICS_FILE))
            if REPLACED_DIR not in path.relative_to(sweep_dir).parts
        }  # not files that resume=never moved aside
        if not jobs:
            return
        counts = Counter(metrics.get("status", "unknown") for metrics in jobs.values())
        tally = ", ".join(f"{count} {status}" for status, count in counts.items())
        print(
            f"sweep {sweep_dir}: {len(jobs)} jobs: {tally}; "
            f"compare them with python -m fmnist.tools.report {sweep_dir}",
            file=sys.stderr,
        )
        failed = {job_dir: metrics for job_dir, metrics in jobs.items() if metrics.get("status") == "failed"}
        for job_dir, metrics in failed.items():
            print(f"error: job {job_dir.relative_to(sweep_dir)} failed: {metrics.get('message', '')}", file=sys.stderr)
        if failed:
            raise JobsFailed()
