"""Replay a pruned sweep from its journal: decide every report again, in the order the journal holds them.

    python -m fmnist.sweeps.replay SWEEP_DIR

The journal (the sweep folder's optuna_journal.log, or the ``journal:`` storage its jobs name) records
every operation on the study in the order the storage took them. For each intermediate value a job
reported, the replay rebuilds the study as the journal stood right after that report and asks the sweep's
pruner (a fresh one per trial, as each job builds its own) whether to prune, exactly as the job did
(``Trial.should_prune``). A trial is pruned at the first report the pruner stops, unless that report is of
its last epoch (a job does not obey the pruner then: fmnist/sweeps/pruning.py). The command prints
whether the replayed pruned set equals the recorded one (exit 0) or how they differ (exit 1).

Every pruner of conf/hydra/sweeper/pruner/ decides from the study's recorded values alone (Hyperband
assigns a trial's bracket by a CRC32 of the study name and trial number, not a random draw), so a replay
reproduces the pruned set. The one gap: a job asks the pruner a few milliseconds after its report, so with
parallel jobs another job's report can land in between and be seen by the live decision but not by the
replay's (docs/pruning.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

import optuna
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.storages.journal import BaseJournalBackend, JournalFileBackend

from fmnist.sweeps.pruning import TRIAL_KEY
from hydra_plugins.optuna_study_sweeper import JOURNAL_PREFIX


class RecordedJournal:
    """A journal backend over the recorded operations: reads them, and keeps what a pruner writes while
    deciding (successive halving records the rungs a trial reached) in this copy only."""

    def __init__(self, logs: list[dict[str, Any]]):
        self.logs = list(logs)

    def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
        return self.logs[log_number_from:]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        self.logs.extend(logs)


def replay_pruning(
    logs: list[dict[str, Any]], study_name: str, make_pruner: Callable, budgets: dict[int, int]
) -> dict[int, int]:
    """{trial number: epoch} of the trials ``make_pruner()``'s pruners stop when each report in ``logs``
    (the journal's operations, in order) is decided on the study as it stood right after it. ``budgets``
    holds each trial's epochs (``trainer.epochs``): at its last the pruner is asked but not obeyed."""
    BaseJournalBackend.register(RecordedJournal)
    pruners, pruned = {}, {}
    for index, log in enumerate(logs):
        if "intermediate_value" not in log:  # not a report (SET_TRIAL_INTERMEDIATE_VALUE)
            continue
        trial_id = log["trial_id"]
        storage = optuna.storages.JournalStorage(RecordedJournal(logs[: index + 1]))
        number = storage.get_trial_number_from_id(trial_id)
        if number in pruned:
            continue
        pruner = pruners.setdefault(trial_id, make_pruner())
        study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner)
        if optuna.trial.Trial(study, trial_id).should_prune() and log["step"] != budgets.get(number):
            pruned[number] = log["step"]
    return pruned


def recorded_pruning(logs: list[dict[str, Any]], study_name: str) -> dict[int, int]:
    """{trial number: last epoch reported} of the trials the journal records as pruned."""
    study = optuna.load_study(study_name=study_name, storage=optuna.storages.JournalStorage(RecordedJournal(logs)))
    return {trial.number: trial.last_step for trial in study.get_trials(states=[optuna.trial.TrialState.PRUNED])}


def job_configs(sweep_dir: Path) -> dict[Path, Any]:
    """{job folder: its config} for the jobs of ``sweep_dir`` that reported to a trial (an ``optuna_trial`` block)."""
    configs = {path.parent.parent: OmegaConf.load(path) for path in sorted(sweep_dir.glob("*/.hydra/config.yaml"))}
    return {folder: config for folder, config in configs.items() if config.get(TRIAL_KEY) is not None}


def sweep_settings(jobs: dict[Path, Any], sweep_dir: Path) -> tuple[Path, str, Any]:
    """The journal file, study name and pruner config of the pruned sweep in ``sweep_dir``, read from one
    of its ``jobs`` (its ``optuna_trial`` block and Hydra's record of the sweeper). SystemExit with the
    reason when it has none or its study is not in a journal file."""
    if not jobs:
        raise SystemExit(
            f"error: {sweep_dir} holds no job of a pruned sweep (no */.hydra/config.yaml with "
            f"{TRIAL_KEY}); pass the hydra.sweep.dir of a sweep run with hydra/sweeper/pruner=NAME"
        )
    folder, config = next(iter(jobs.items()))
    trial = config[TRIAL_KEY]
    if not trial.storage.startswith(JOURNAL_PREFIX):
        raise SystemExit(
            f"error: the study of {sweep_dir} is in {trial.storage}, not a journal file: the replay "
            "reads a journal (hydra.sweeper.storage=journal:PATH, or none with a pruner)"
        )
    pruner = OmegaConf.load(folder / ".hydra" / "hydra.yaml").hydra.sweeper.pruner
    return Path(trial.storage.removeprefix(JOURNAL_PREFIX)), trial.study_name, pruner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist.sweeps.replay", description=__doc__.split("\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="the sweep's folder (hydra.sweep.dir)")
    sweep_dir = parser.parse_args(argv).sweep_dir
    jobs = job_configs(sweep_dir)
    try:
        journal, study_name, pruner = sweep_settings(jobs, sweep_dir)
    except SystemExit as refusal:
        print(refusal.code, file=sys.stderr)
        return 2
    logs = list(JournalFileBackend(str(journal)).read_logs(0))
    budgets = {config[TRIAL_KEY].number: config.trainer.epochs for config in jobs.values()}
    replayed = replay_pruning(logs, study_name, lambda: instantiate(pruner), budgets)
    recorded = recorded_pruning(logs, study_name)

    def listed(trials):
        return ", ".join(f"{number} (epoch {epoch})" for number, epoch in sorted(trials.items())) or "none"

    if replayed == recorded:
        print(
            f"replayed {journal} with {pruner._target_}: the same {len(recorded)} trials pruned at the same "
            f"epochs: {listed(recorded)}"
        )
        return 0
    print(
        f"replayed {journal} with {pruner._target_}: recorded pruned {listed(recorded)}; replayed pruned "
        f"{listed(replayed)}"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
