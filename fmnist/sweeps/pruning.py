"""A job's side of pruning: its trial, each epoch's validation accuracy reported to it, and the stop.

The Optuna sweeper (hydra_plugins/optuna_study_sweeper.py) gives each job of a pruned sweep its trial's
identity as the config block ``optuna_trial`` (number, study_name, storage), which changes what a run
reports, never what it learns (fmnist/runs/resume.py OUTPUT_ONLY_KEYS). The job opens the study with the
sweep's pruner (``hydra.sweeper.pruner``, the same config the sweeper built it from) and, after every
epoch, calls ``trial.report(val_accuracy, epoch)`` and ``trial.should_prune()``: when the pruner says
so, training ends after that epoch with status ``pruned``, its checkpoint kept (docs/pruning.md).
"""

from __future__ import annotations

import math

from hydra.utils import instantiate
from omegaconf import DictConfig

from fmnist.training.callbacks import Callback, RunInfo, StopRequest
from hydra_plugins.optuna_study_sweeper import open_storage

TRIAL_KEY = "optuna_trial"  # one of fmnist.runs.resume.OUTPUT_ONLY_KEYS


class PruneTrial(Callback):
    """Reports each epoch's validation accuracy to ``trial`` (a live :class:`optuna.trial.Trial`) and asks
    for a stop with status ``pruned`` when the study's pruner, named ``pruner_name``, says the trial should
    stop. ``reported`` holds the epochs the trial already has (a job resumed after a requeue).

    After the last epoch the pruner is still asked (it records the trial at a rung there, e.g. successive
    halving's at epoch 3 of 3, for the trials still to come) but not obeyed: the trial has trained its whole
    budget, stopping it saves nothing, and it is a completed trial."""

    def __init__(self, trial, pruner_name: str, reported: dict[int, float]):
        self.trial, self.pruner_name, self.reported = trial, pruner_name, dict(reported)
        self.epochs = None

    def on_train_start(self, run: RunInfo) -> None:
        self.epochs = run.epochs
        for row in run.history:  # a resumed run's epochs, told to a trial that continues its run afresh
            self.report(row)

    def report(self, row: dict) -> None:
        if row["epoch"] not in self.reported and math.isfinite(row["val_accuracy"]):
            self.trial.report(row["val_accuracy"], row["epoch"])
            self.reported[row["epoch"]] = row["val_accuracy"]

    def on_epoch_end(self, metrics: dict) -> StopRequest | None:
        self.report(metrics)
        epoch, value = metrics["epoch"], metrics["val_accuracy"]
        if not self.trial.should_prune() or epoch == self.epochs:
            return None
        return StopRequest(
            "pruned",
            f"pruned by the {self.pruner_name} pruner after epoch {epoch} (val_accuracy {value:.4f})",
            details={"pruner": self.pruner_name, "epoch": epoch, "value": value},
        )


def pruning_callbacks(cfg: DictConfig, sweeper: DictConfig, pruner_name: str | None) -> list[Callback]:
    """``[PruneTrial]`` for a job that the sweeper gave a trial to report to (``cfg.optuna_trial``), built
    with the sweeper's ``pruner`` config; ``[]`` for any other run."""
    if cfg.get(TRIAL_KEY) is None:
        return []
    import optuna  # here, not at the top: only a pruned sweep's job needs it, and it adds ~0.5 s to every start

    identity = cfg[TRIAL_KEY]
    storage = optuna.storages.get_storage(open_storage(identity.storage))
    study = optuna.load_study(study_name=identity.study_name, storage=storage, pruner=instantiate(sweeper.pruner))
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(identity.study_name), identity.number
    )
    reported = storage.get_trial(trial_id).intermediate_values
    return [PruneTrial(optuna.trial.Trial(study, trial_id), pruner_name or type(study.pruner).__name__, reported)]
