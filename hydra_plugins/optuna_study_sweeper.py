"""Hydra sweeper running an Optuna study through Optuna's ask-and-tell interface.

Picked by ``hydra/sweeper=optuna_study`` (conf/hydra/sweeper/optuna_study.yaml), which ``+sweep=optuna``
selects. Each round asks the study for ``n_jobs`` trials, launches them as one batch with the configured
launcher (``hydra/launcher=joblib`` runs them in parallel) and tells the study what each job returned:
train.py returns validation accuracy, or NaN for a run that failed or diverged, which Optuna records as a
failed trial. ``n_trials`` counts this process's trials, not the study's.

Processes, SLURM jobs or machines that name the same ``storage`` and ``study_name`` share one study:

    sqlite:///optuna.db, postgresql://user:password@host/db    a database (a URL as SQLAlchemy reads it)
    journal:/shared/fmnist.log                                 a journal file, no database server needed

A job's folder is named after its trial number, which is unique in the study, so the processes can
share ``hydra.sweep.dir`` too, and ``python -m fmnist.tools.report SWEEP_DIR`` then covers the whole study.
With a storage the sampler's seed is not used: each process draws its own random numbers, as processes
seeded alike would propose the same trials (and timing decides a shared study's order anyway).

Nothing lost: a trial whose process was killed or preempted stays RUNNING in a shared study. A sweeper
starting on that study finds such trials (their folder's run says running or interrupted and no process
holds the folder), fails them and queues their parameters again, marked to run in the old folder, where
the run continues from its checkpoint. Failing the old trial is the claim: when two restarted processes
try at once, the storage lets only one of them tell it.

Hydra imports every module under ``hydra_plugins`` at each start, so this one imports Optuna lazily.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Transformer, ValueType
from hydra.core.plugins import Plugins
from hydra.errors import CompactHydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

log = logging.getLogger(__name__)

JOURNAL_PREFIX = "journal:"
RESUMES_TRIAL = "resumes_trial"  # user attribute of a requeued trial: the job folder it continues in


class SweeperConfigError(CompactHydraException):
    """A ``hydra.sweeper`` setting that cannot work: Hydra prints the message without a traceback."""


def open_storage(storage: str | None) -> Any:
    """What ``optuna.create_study(storage=...)`` takes for ``hydra.sweeper.storage``: None keeps the
    study in memory, ``journal:PATH`` opens a journal file (PATH absolute, or relative to the folder the
    command runs in), a URL with a scheme goes to Optuna's database storage as it is."""
    if storage is None:
        return None
    if storage.startswith(JOURNAL_PREFIX):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        path = Path(storage.removeprefix(JOURNAL_PREFIX)).expanduser().absolute()
        if not path.parent.is_dir():
            raise SweeperConfigError(f"hydra.sweeper.storage={storage}: the folder {path.parent} does not exist; "
                                     "create it on a filesystem that every process of the study can reach")
        return JournalStorage(JournalFileBackend(str(path)))
    if "://" in storage:
        return storage
    raise SweeperConfigError(
        f"hydra.sweeper.storage={storage} is neither a database URL nor a journal file: use sqlite:///optuna.db "
        "or postgresql://user:password@host/db for a database, or journal:PATH (e.g. journal:/shared/fmnist.log) "
        "for a journal file on a shared filesystem")


def search_space(overrides: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Optuna distributions for the sweep overrides, and the other overrides, which every job gets.

    ``choice(a, b)``, ``a,b`` and ``range(1, 4)`` are categorical over their values; ``interval(lo, hi)``
    is uniform on [lo, hi], ``tag(log, interval(lo, hi))`` log-uniform. A key given twice keeps its last
    value, so the command line wins over ``hydra.sweeper.params``.
    """
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    distributions, fixed = {}, {}
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element()
        distributions.pop(key, None)  # a key given again replaces what it had
        fixed.pop(key, None)
        if not override.is_sweep_override():
            fixed[key] = override.input_line
        elif override.value_type in (ValueType.CHOICE_SWEEP, ValueType.RANGE_SWEEP):
            distributions[key] = CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
        elif override.value_type is ValueType.INTERVAL_SWEEP:
            interval = override.value()
            distributions[key] = FloatDistribution(interval.start, interval.end, log="log" in interval.tags)
        else:
            raise SweeperConfigError(f"{override.input_line}: the Optuna sweeper samples choice(...), range(...) "
                                     "and interval(...) (tag(log, interval(...)) for a log scale), not this sweep")
    return distributions, list(fixed.values())


def job_folder(trial) -> int:
    """The number naming the trial's job folder: its own, or that of the trial it continues."""
    return trial.user_attrs.get(RESUMES_TRIAL, trial.number)


def run_was_stopped(folder: Path) -> bool:
    """The run in ``folder`` started, did not end, and no process holds it (its process was killed)."""
    from fmnist.runs.outputs import METRICS_FILE, read_metrics
    from fmnist.runs.run_lock import is_in_use

    return ((folder / METRICS_FILE).is_file() and read_metrics(folder)["status"] in ("running", "interrupted")
            and not is_in_use(folder))


class OptunaStudySweeper(Sweeper):
    """What Hydra builds from conf/hydra/sweeper/optuna_study.yaml (the sampler already instantiated)."""

    def __init__(self, sampler: Any, direction: str, study_name: str | None, storage: str | None,
                 n_trials: int, n_jobs: int, params: DictConfig | None) -> None:
        self.sampler, self.direction, self.study_name, self.storage = sampler, direction, study_name, storage
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.params = [f"{key}={value}" for key, value in (params or {}).items()]

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)
        self.sweep_dir = Path(config.hydra.sweep.dir)

    def requeue_stopped_trials(self, study) -> None:
        """Queue again, to continue in their own folders, the RUNNING trials whose runs stopped for good."""
        import optuna

        for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
            folder = self.sweep_dir / str(job_folder(trial))
            if not run_was_stopped(folder):
                continue
            try:
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            except ValueError:  # another process claimed it first
                continue
            study.enqueue_trial(trial.params, user_attrs={RESUMES_TRIAL: job_folder(trial)})
            log.info("Trial %d stopped before it ended (%s): queued again to continue there", trial.number, folder)

    def check_counts(self) -> None:
        """``n_trials`` >= 0 (0: only queue stopped trials again) and ``n_jobs`` >= 1, whole numbers."""
        for key, value, least in (("n_trials", self.n_trials, 0), ("n_jobs", self.n_jobs, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise SweeperConfigError(f"hydra.sweeper.{key}={value}: must be a whole number >= {least}")

    def sweep(self, arguments: list[str]) -> None:
        import optuna

        self.check_counts()
        distributions, fixed = search_space([*self.params, *arguments])
        study = optuna.create_study(study_name=self.study_name, storage=open_storage(self.storage),
                                    sampler=self.sampler, direction=self.direction, load_if_exists=True)
        if self.storage is not None:
            self.sampler.reseed_rng()  # else processes sharing the study, seeded alike, propose the same trials
            self.requeue_stopped_trials(study)
        log.info("Study %s (%s): %d trials so far, %d more from this process", study.study_name,
                 self.storage or "in memory", len(study.trials), self.n_trials)
        for launched in range(0, self.n_trials, self.n_jobs):
            trials = [study.ask(distributions) for _ in range(min(self.n_jobs, self.n_trials - launched))]
            jobs = [[*fixed, *(f"{key}={value}" for key, value in trial.params.items()),
                     f"hydra.sweep.subdir={job_folder(trial)}"] for trial in trials]
            for trial, job in zip(trials, self.launcher.launch(jobs, initial_job_idx=launched)):
                try:
                    value = float(job.return_value)
                except Exception as error:  # the job raised, or returned something that is not a number
                    log.error("Trial %d failed: %s", trial.number, error)
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, value)  # NaN (a failed or diverged run) is recorded as a failed trial
                    log.info("Trial %d finished with value %s in %s", trial.number, value,
                             job.hydra_cfg.hydra.runtime.output_dir)
        if study.get_trials(states=[optuna.trial.TrialState.COMPLETE]):
            log.info("Best trial of the study so far: %d, value %s, params %s",
                     study.best_trial.number, study.best_value, study.best_params)
        else:
            log.warning("No trial of study %s has completed", study.study_name)
