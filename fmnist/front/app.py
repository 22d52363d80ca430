"""What ``train.py`` runs inside Hydra: one experiment, its exit status and the value sweepers read.

Single run: prints a one-line summary last; exits 2 for a bad config, missing data or a run folder
that cannot be used as asked (message, no traceback), 1 if training diverged or failed. A stop signal
(Ctrl-C, SIGTERM, SIGUSR1/2) ends the run at a batch boundary with its files written and a hint on
how to continue; then the process exits with 128 + the signal's number (130 for Ctrl-C), or hands
the signal to submitit, which requeues the job. In a multirun a failing job is recorded in its
metrics.json and the sweep goes on (the job returns NaN to the sweeper); a stop signal stops the sweep.
"""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from fmnist.config.build import ConfigError
from fmnist.data.datasets import DataError
from fmnist.front.experiment import CheckpointWriteError, Experiment, summary_line
from fmnist.runs.resume import ResumeError
from fmnist.runs.run_lock import RunFolderBusy
from fmnist.runs.signals import GracefulStop
from fmnist.sweeps.pruning import pruning_callbacks
from fmnist.sweeps.wandb_agent import signal_senders

log = logging.getLogger(__name__)

EXIT_CODES = {"completed": 0, "pruned": 0, "diverged": 1, "failed": 1, "interrupted": 130}  # pruned: a sweep's result


def objective(summary: dict) -> float:
    """What sweepers maximise: validation accuracy (NaN if the run never reached it)."""
    value = summary.get("val_accuracy", math.nan)
    return math.nan if value is None else float(value)


def blas_threads(setting, launcher_target: str) -> int | None:
    """Threads for matrix multiplies: ``auto`` is 1 inside a parallel (joblib) multirun, so two jobs on
    two cores do not fight over four threads, and the library default otherwise; or the setting, a number
    (checked with the other settings by the experiment before it is used)."""
    if setting == "auto":
        return 1 if "joblib" in launcher_target.lower() else None
    return setting


def continue_hint(hydra_cfg, in_sweep: bool) -> str:
    """How to continue a stopped run: the same command, pointed at the same folder."""
    if in_sweep:
        return f"to continue, rerun the same command with hydra.sweep.dir={hydra_cfg.sweep.dir}"
    return f"to continue, rerun the same command with hydra.run.dir={hydra_cfg.runtime.output_dir}"


def run(cfg: DictConfig) -> float:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    with GracefulStop(senders=signal_senders()) as stop:
        try:
            threads = blas_threads(cfg.get("blas_threads", "auto"), hydra_cfg.launcher.get("_target_", ""))
            sweep_name = "_".join(Path(hydra_cfg.sweep.dir).parts[-2:]) if in_sweep else None
            pruning = pruning_callbacks(cfg, hydra_cfg.sweeper, hydra_cfg.runtime.choices.get("hydra/sweeper/pruner"))
            result = Experiment(
                cfg,
                run_dir,
                extra_callbacks=pruning,
                overrides=list(hydra_cfg.overrides.task),
                sweep_name=sweep_name,
                should_stop=stop.reason,
                job=hydra_cfg.job.num if in_sweep else None,
                blas_threads=threads,
            ).run()
        except (ConfigError, DataError, ResumeError, RunFolderBusy) as error:
            if in_sweep:
                log.error("job %s failed: %s", hydra_cfg.job.num, error)
                return math.nan
            log.error("%s", error)
            sys.exit(2)
        except CheckpointWriteError as error:
            log.error("%s", error)
            if in_sweep:
                return math.nan
            sys.exit(1)
        except Exception as error:
            log.exception("training failed")  # the traceback goes to the job's log file
            if in_sweep:
                return math.nan
            log.error("%s: %s (traceback in %s)", type(error).__name__, error, run_dir / f"{hydra_cfg.job.name}.log")
            sys.exit(1)
    log.info("%s", summary_line(result, run_dir))
    if result.status == "interrupted":
        log.info("%s", continue_hint(hydra_cfg, in_sweep))
    if stop.received is not None and result.status == "interrupted":
        stop.pass_on()
    if not in_sweep and EXIT_CODES[result.status]:
        sys.exit(EXIT_CODES[result.status])
    return objective(result.summary)
