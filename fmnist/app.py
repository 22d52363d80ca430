"""What ``train.py`` runs inside Hydra: one experiment, its exit status and the value sweepers read.

Single run: prints a one-line summary last; exits 2 for a bad config or missing data (message, no
traceback), 1 if training diverged or failed, 130 if interrupted. In a multirun the same problems
are recorded in the job's metrics.json and the sweep goes on (the job returns NaN to the sweeper).
"""
from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

from omegaconf import DictConfig

log = logging.getLogger(__name__)

EXIT_CODES = {"completed": 0, "diverged": 1, "failed": 1, "interrupted": 130}


def objective(summary: dict) -> float:
    """What sweepers maximise: validation accuracy (NaN if the run never reached it)."""
    value = summary.get("val_accuracy", math.nan)
    return math.nan if value is None else float(value)


def blas_threads(setting, launcher_target: str) -> int | None:
    """Threads for matrix multiplies: ``auto`` is 1 inside a parallel (joblib) multirun, so two jobs on
    two cores do not fight over four threads, and the library default otherwise; or a number."""
    if setting == "auto":
        return 1 if "joblib" in launcher_target.lower() else None
    if not isinstance(setting, int) or setting < 1:
        from fmnist.experiment import ConfigError

        raise ConfigError(f"blas_threads must be auto or an integer >= 1, got {setting!r}")
    return setting


def run(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from threadpoolctl import threadpool_limits

    from fmnist.data import DataError
    from fmnist.experiment import ConfigError, Experiment, summary_line

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        threads = blas_threads(cfg.get("blas_threads", "auto"), hydra_cfg.launcher.get("_target_", ""))
        sweep_name = "_".join(Path(hydra_cfg.sweep.dir).parts[-2:]) if in_sweep else None
        with threadpool_limits(limits=threads, user_api="blas"):
            result = Experiment(cfg, run_dir, overrides=list(hydra_cfg.overrides.task), sweep_name=sweep_name).run()
    except (ConfigError, DataError) as error:
        if in_sweep:
            log.error("job %s failed: %s", hydra_cfg.job.num, error)
            return math.nan
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except Exception as error:
        log.exception("training failed")  # the traceback goes to the job's log file
        if in_sweep:
            return math.nan
        log_file = run_dir / f"{hydra_cfg.job.name}.log"
        print(f"error: {type(error).__name__}: {error} (traceback in {log_file})", file=sys.stderr)
        sys.exit(1)
    print(summary_line(result, run_dir), flush=True)
    if not in_sweep and EXIT_CODES[result.status]:
        sys.exit(EXIT_CODES[result.status])
    return objective(result.summary)
