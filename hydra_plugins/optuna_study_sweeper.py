"""Hydra sweeper running an Optuna study through Optuna's ask-and-tell interface.

Picked by ``hydra/sweeper=optuna_study`` (conf/hydra/sweeper/optuna_study.yaml), which ``+sweep=optuna``
selects. It keeps ``n_jobs`` trials running: whenever one ends it tells the study what the job returned and
asks for the next, launching each job on its own with the configured launcher (``hydra/launcher=joblib``
or a SLURM launcher run them in parallel; Hydra's in-process basic launcher one after another). A whole
batch waiting for its slowest job, as Hydra's own sweepers do, would leave a pruned trial's slot idle.
train.py returns validation accuracy, or NaN for a run that failed or diverged, which Optuna records as a
failed trial; a run that the pruner stopped (metrics.json status ``pruned``) is a PRUNED trial.
``n_trials`` counts this process's trials in a shared study, and the sweep folder's in a study of its own.

Pruning (``hydra/sweeper/pruner=NAME``, conf/hydra/sweeper/pruner/, docs/pruning.md): each job gets its
trial's identity as ``+optuna_trial.*`` overrides (not part of the training config), opens the study
itself and reports every epoch's validation accuracy (fmnist/sweeps/pruning.py). With ``storage: null`` the
study then lives in a journal file in the sweep folder, which the jobs, in other processes, can reach.
A sweep whose runs hold no validation split (``dataset.val_fraction=0``) has nothing to choose by: it is refused
before any trial.

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
try at once, the storage lets only one of them tell it. A RUNNING trial whose job had ended (completed,
pruned, diverged) before its sweeper died is told that outcome instead: a pruned trial is never run again.

Hydra imports every module under ``hydra_plugins`` at each start, so this one imports Optuna lazily.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Transformer, ValueType
from hydra.core.plugins import Plugins
from hydra.errors import CompactHydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

JOURNAL_PREFIX = "journal:"
RESUMES_TRIAL = "resumes_trial"  # user attribute of a requeued trial: the job folder it continues in
SWEEP_JOURNAL = "optuna_journal.log"  # the study of a pruned sweep without a storage, in its sweep folder
ENDED_RUN = ("completed", "pruned", "diverged")  # a job folder's run that ended for good
VALIDATION_SPLIT = "dataset.val_fraction"  # the share of training images the trials' values are measured on


class SweeperConfigError(CompactHydraException):
    """A sweep setting that cannot work: the sweep ends with the message as one line and exit status 2."""


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
            raise SweeperConfigError(
                f"hydra.sweeper.storage={storage}: the folder {path.parent} does not exist; "
                "create it on a filesystem that every process of the study can reach"
            )
        return JournalStorage(JournalFileBackend(str(path)))
    if "://" in storage:
        return storage
    raise SweeperConfigError(
        f"hydra.sweeper.storage={storage} is neither a database URL nor a journal file: use sqlite:///optuna.db "
        "or postgresql://user:password@host/db for a database, or journal:PATH (e.g. journal:/shared/fmnist.log) "
        "for a journal file on a shared filesystem"
    )


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
        elif override.value_type in (ValueType.SIMPLE_CHOICE_SWEEP, ValueType.CHOICE_SWEEP, ValueType.RANGE_SWEEP):
            distributions[key] = CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
        elif override.value_type is ValueType.INTERVAL_SWEEP:
            interval = override.value()
            distributions[key] = FloatDistribution(interval.start, interval.end, log="log" in interval.tags)
        else:
            raise SweeperConfigError(
                f"{override.input_line}: the Optuna sweeper samples choice(...), range(...) "
                "and interval(...) (tag(log, interval(...)) for a log scale), not this sweep"
            )
    return distributions, list(fixed.values())


def job_folder(trial) -> int:
    """The number naming the trial's job folder: its own, or that of the trial it continues."""
    return trial.user_attrs.get(RESUMES_TRIAL, trial.number)


def run_status(folder: Path) -> str | None:
    """The status in ``folder``'s metrics.json, None before the run wrote one."""
    from fmnist.runs.outputs import METRICS_FILE, read_metrics

    return read_metrics(folder)["status"] if (folder / METRICS_FILE).is_file() else None


def run_was_stopped(folder: Path) -> bool:
    """The run in ``folder`` started, did not end, and no process holds it (its process was killed)."""
    from fmnist.runs.run_lock import is_in_use

    return run_status(folder) in ("running", "interrupted") and not is_in_use(folder)


def quoted(value: str) -> str:
    """``value`` as a quoted Hydra override value (paths and URLs hold characters the grammar reserves)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InThisThread(Executor):
    """Runs each submitted call at once in the calling thread: jobs of Hydra's in-process launcher must
    run in the main thread (their signal handlers), one at a time."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # Ctrl-C and SystemExit go on up, as from a plain call
            future.set_exception(error)
        return future


class OptunaStudySweeper(Sweeper):
    """What Hydra builds from conf/hydra/sweeper/optuna_study.yaml (sampler and pruner already instantiated)."""

    def __init__(
        self,
        sampler: Any,
        pruner: Any,
        direction: str,
        study_name: str | None,
        storage: str | None,
        n_trials: int,
        n_jobs: int,
        params: DictConfig | None,
    ) -> None:
        import optuna

        self.sampler, self.pruner, self.direction = sampler, pruner, direction
        self.study_name, self.storage, self.n_trials, self.n_jobs = study_name, storage, n_trials, n_jobs
        self.params = [f"{key}={value}" for key, value in (params or {}).items()]
        self.prunes = not isinstance(pruner, optuna.pruners.NopPruner)
        self.sweep_dir, self.val_fraction = Path("."), None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.val_fraction = OmegaConf.select(config, VALIDATION_SPLIT)  # the command line's value, not a sweep's

    def study_storage(self) -> str | None:
        """The storage the study lives in, as :func:`open_storage` reads it: ``hydra.sweeper.storage``, or
        for a pruned sweep without one a journal file in the sweep folder (its jobs run in other processes)."""
        if self.storage is None and self.prunes:
            return f"{JOURNAL_PREFIX}{(self.sweep_dir / SWEEP_JOURNAL).absolute()}"
        if self.storage is not None and self.storage.startswith(JOURNAL_PREFIX):
            return f"{JOURNAL_PREFIX}{Path(self.storage.removeprefix(JOURNAL_PREFIX)).expanduser().absolute()}"
        return self.storage

    def requeue_stopped_trials(self, study) -> None:
        """Settle the RUNNING trials left by a sweeper process that was killed: a trial whose run has ended
        (completed, pruned by its job, diverged) is told its outcome; one whose run stopped for good is
        queued again to continue in its own folder. Telling first is the claim: when two restarted
        processes try at once, the storage lets only one of them tell it."""
        import optuna

        for trial in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
            folder = self.sweep_dir / str(job_folder(trial))
            if run_status(folder) in ENDED_RUN:
                from fmnist.front.app import objective
                from fmnist.runs.outputs import read_metrics

                self.tell(study, trial.number, folder, objective(read_metrics(folder)))
                continue
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

    def check_validation_split(self, distributions: dict) -> None:
        """The study chooses trials by their validation accuracy, and a pruner stops them by each epoch's: refuse a
        sweep whose trials, all or some (``dataset.val_fraction=choice(0,0.1)``), hold no images out to measure it
        on (their values would be NaN, failed trials, with nothing to choose from)."""
        fractions = getattr(distributions.get(VALIDATION_SPLIT), "choices", [self.val_fraction])
        if any(fraction is not None and float(fraction) == 0 for fraction in fractions):
            uses = "the study chooses trials by validation accuracy" + (
                " and the pruner stops them by it" if self.prunes else ""
            )
            raise SweeperConfigError(
                f"{VALIDATION_SPLIT}=0 in an Optuna sweep: {uses}, and a run without a validation split has none; "
                f"hold images out ({VALIDATION_SPLIT}=0.1), or run several configurations on all the training images "
                "with the basic sweeper (python train.py -m +experiment=final_fit seed=0,1,2)"
            )

    def trials_to_run(self, study) -> int:
        """``n_trials`` in a shared study; in the sweep's own study, the trials it still lacks plus those
        queued again, so that rerunning a finished sweep runs nothing."""
        import optuna

        if self.storage is not None:
            return self.n_trials
        folders = {job_folder(trial) for trial in study.get_trials(deepcopy=False)}
        queued = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.WAITING])
        return max(0, self.n_trials - len(folders)) + len(queued)

    def job_overrides(self, trial, fixed: list[str], storage: str | None, study_name: str) -> list[str]:
        """The overrides of ``trial``'s job: the fixed ones, its parameters, its folder, and, when it
        prunes, the trial it reports to."""
        from fmnist.sweeps.pruning import TRIAL_KEY

        overrides = [
            *fixed,
            *(f"{key}={value}" for key, value in trial.params.items()),
            f"hydra.sweep.subdir={job_folder(trial)}",
        ]
        if self.prunes:
            overrides += [
                f"+{TRIAL_KEY}.number={trial.number}",
                f"+{TRIAL_KEY}.study_name={quoted(study_name)}",
                f"+{TRIAL_KEY}.storage={quoted(storage)}",
            ]
        return overrides

    def tell(self, study, trial, folder: Path, returned: Any) -> None:
        """Record the outcome of ``trial``'s job: PRUNED if its run in ``folder`` says so, else the value
        it returned, a failure if that is not a number. A trial another process settled is left alone."""
        import optuna

        number = trial if isinstance(trial, int) else trial.number
        if run_status(folder) == "pruned":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED, skip_if_finished=True)
            log.info("Trial %d pruned in %s", number, folder)
            return
        try:
            value = float(returned)
        except Exception as error:  # the job raised, or returned something that is not a number
            log.error("Trial %d failed: %s", number, error)
            study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        else:
            study.tell(trial, value, skip_if_finished=True)  # NaN (a failed or diverged run) is a failed trial
            log.info("Trial %d finished with value %s in %s", number, value, folder)

    def slots(self) -> int:
        """Jobs running at once: ``n_jobs``, or 1 with Hydra's basic launcher, which runs jobs in this process."""
        return 1 if isinstance(self.launcher, BasicLauncher) else self.n_jobs

    def launch_one(self, job: list[str], index: int) -> tuple[Any, float, float]:
        """Launch one job; what it returned (the exception if it raised), and when it started and ended."""
        started = time.time()
        (returned,) = self.launcher.launch([job], initial_job_idx=index)
        try:
            value = returned.return_value
        except Exception as error:  # Hydra's JobReturn raises the job's exception when asked for its value
            value = error
        return value, started, time.time()

    def run_trials(self, study, count: int, distributions: dict, fixed: list[str], storage: str | None) -> list:
        """Run ``count`` trials, ``n_jobs`` at a time, asking for the next as soon as one ends; returns each
        job's (start, end) times."""
        slots = self.slots()
        running, spans, launched = {}, [], 0
        with ThreadPoolExecutor(max_workers=slots) if slots > 1 else InThisThread() as pool:
            while launched < count or running:
                while launched < count and len(running) < slots:
                    trial = study.ask(distributions)
                    job = self.job_overrides(trial, fixed, storage, study.study_name)
                    running[pool.submit(self.launch_one, job, launched)] = trial
                    launched += 1
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    trial = running.pop(future)
                    returned, started, ended = future.result()
                    spans.append((started, ended))
                    self.tell(study, trial, self.sweep_dir / str(job_folder(trial)), returned)
        return spans

    def build_sampler(self, distributions: dict) -> None:
        """A sampler given as a partial (conf/hydra/sweeper/sampler/grid.yaml) is built here with the sweep's
        choice lists as its grid."""
        if not isinstance(self.sampler, functools.partial):
            return
        intervals = [key for key, distribution in distributions.items() if not hasattr(distribution, "choices")]
        if intervals:
            raise SweeperConfigError(
                f"hydra.sweeper.params.{intervals[0]}: the grid sampler takes lists of values "
                "(a,b or choice(a,b)), not interval(...); list the values, or use "
                "hydra/sweeper/sampler=tpe"
            )
        self.sampler = self.sampler(
            search_space={key: list(distribution.choices) for key, distribution in distributions.items()}
        )

    def sweep(self, arguments: list[str]) -> None:
        """Run the study (:meth:`run_study`); a setting that cannot work ends the command with one line and exit
        status 2, as the command line's own errors do (Hydra would add a line about tracebacks)."""
        try:
            self.run_study(arguments)
        except SweeperConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)

    def run_study(self, arguments: list[str]) -> None:
        import optuna

        from fmnist.sweeps.occupancy import write_occupancy

        self.check_counts()
        distributions, fixed = search_space([*self.params, *arguments])
        self.check_validation_split(distributions)
        self.build_sampler(distributions)
        storage = self.study_storage()
        study = optuna.create_study(
            study_name=self.study_name,
            storage=open_storage(storage),
            sampler=self.sampler,
            pruner=self.pruner,
            direction=self.direction,
            load_if_exists=True,
        )
        if self.storage is not None:
            self.sampler.reseed_rng()  # else processes sharing the study, seeded alike, propose the same trials
        if storage is not None:
            self.requeue_stopped_trials(study)
        count = self.trials_to_run(study)
        log.info(
            "Study %s (%s): %d trials so far, %d more from this process",
            study.study_name,
            storage or "in memory",
            len(study.trials),
            count,
        )
        began = time.time()
        spans = self.run_trials(study, count, distributions, fixed, storage)
        if spans:
            share = write_occupancy(self.sweep_dir, spans, slots=self.slots(), began=began, ended=time.time())
            log.info("All %d slots busy %.0f %% of the sweep's wall time", self.slots(), 100 * share)
        if study.get_trials(states=[optuna.trial.TrialState.COMPLETE]):
            log.info(
                "Best trial of the study so far: %d, value %s, params %s",
                study.best_trial.number,
                study.best_value,
                study.best_params,
            )
        else:
            log.warning("No trial of study %s has completed", study.study_name)
