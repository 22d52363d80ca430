"""wandb's hyperband early termination as an Optuna pruner: the rule wandb's sweep controller runs, applied
to an Optuna study epoch by epoch, so the same sweep can be compared with Optuna's pruners (and run without
a wandb server).

The rule is the ``sweeps`` package's own :func:`sweeps.hyperband_stopping.hyperband_stop_runs`, called as
the controller calls it; nothing of it is rewritten here. What it decides, for ``min_iter`` m and ``eta`` η:
bands at the iterations b_k = ⌊m · η^k⌋ (k = 0, 1, ...); at each band the threshold is the value ranked
⌊n / η⌋ (from the best, counting from 0) among the n runs that reached it; a running run that has passed
band b (the last it reached) stops when its value at b is worse than b's threshold (``strict``, the
controller's default; with ``strict: false``, when its best value so far is). Roughly the best 1/η of the
runs pass each band, and a run is judged at every check until it reaches the next band, against
thresholds that move as more runs reach b.

An iteration is one epoch: a trial's intermediate values (one per epoch, reported by the job) are its run's
history, in epoch order. Trials that are RUNNING are the runs it may stop; COMPLETE, PRUNED and FAILED
trials only set the thresholds, as finished, killed and failed runs do in a wandb sweep.
"""

from __future__ import annotations

import warnings
from typing import Any

import jsonschema
import optuna

with warnings.catch_warnings():  # sweeps 0.3.0 declares a pydantic v1 setting that pydantic 2 warns about
    warnings.simplefilter("ignore", UserWarning)
    from sweeps import SweepRun
    from sweeps.hyperband_stopping import (
        hyperband_baseline_validate_and_fill,
        hyperband_stop_runs,
    )

METRIC = "value"  # the metric's name in the histories handed to the rule
RUN_STATES = {  # Optuna trial state -> wandb run state
    optuna.trial.TrialState.RUNNING: "running",
    optuna.trial.TrialState.COMPLETE: "finished",
    optuna.trial.TrialState.PRUNED: "killed",
    optuna.trial.TrialState.FAIL: "failed",
    optuna.trial.TrialState.WAITING: "pending",
}


def sweep_run(trial: optuna.trial.FrozenTrial):
    """The wandb sweep run a trial would be: named by its number, its history its intermediate values."""
    history = [{METRIC: trial.intermediate_values[step]} for step in sorted(trial.intermediate_values)]
    return SweepRun(name=str(trial.number), state=RUN_STATES[trial.state], history=history)


class WandbHyperbandPruner(optuna.pruners.BasePruner):
    """Prunes a trial when wandb's hyperband rule would stop its run now; the arguments are the keys of a
    wandb sweep's ``early_terminate: {type: hyperband, ...}`` (``min_iter``, or ``max_iter`` with ``s``;
    ``eta``; ``strict``), checked by the ``sweeps`` package's schema when the pruner is built. A key left
    None takes the controller's default (eta 3, strict true)."""

    def __init__(
        self,
        min_iter: int | None = None,
        eta: float | None = None,
        max_iter: int | None = None,
        s: int | None = None,
        strict: bool | None = None,
    ) -> None:
        given = {"min_iter": min_iter, "eta": eta, "max_iter": max_iter, "s": s, "strict": strict}
        self.early_terminate: dict[str, Any] = {
            "type": "hyperband",
            **{key: value for key, value in given.items() if value is not None},
        }
        try:  # the schema check and defaults the controller applies; the goal is filled in per study
            hyperband_baseline_validate_and_fill(self.sweep_config("maximize"))
        except (jsonschema.ValidationError, ValueError) as error:
            raise ValueError(
                f"hydra.sweeper.pruner (wandb_hyperband): {getattr(error, 'message', error)}; "
                "give min_iter >= 1 (or max_iter with s) and eta > 1, as in a wandb sweep's "
                "early_terminate"
            ) from None

    def sweep_config(self, goal: str) -> dict[str, Any]:
        """What the rule reads of a wandb sweep's config: the metric and ``early_terminate``."""
        return {"metric": {"name": METRIC, "goal": goal}, "early_terminate": dict(self.early_terminate)}

    def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
        others = study.get_trials(deepcopy=False)
        runs = [sweep_run(trial if other.number == trial.number else other) for other in others]
        goal = "maximize" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "minimize"
        stopped = hyperband_stop_runs(runs, self.sweep_config(goal))
        return str(trial.number) in {run.name for run in stopped}
