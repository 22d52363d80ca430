"""fmnist/sweeps/wandb_hyperband.py: an Optuna study pruned epoch by epoch decides exactly what wandb's
controller rule (sweeps.hyperband_stopping.hyperband_stop_runs) decides for the same runs."""

from __future__ import annotations

import warnings

import numpy as np
import optuna
import pytest
import yaml
from omegaconf import OmegaConf

from fmnist.sweeps.wandb_hyperband import WandbHyperbandPruner
from tests.conftest import CONF_DIR, ROOT, build_option, load_option

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from sweeps import RunState, SweepRun
    from sweeps.hyperband_stopping import hyperband_stop_runs


def wandb_decision(curves: dict[int, list[float]], running: set[int], early_terminate: dict, goal: str) -> set[int]:
    """The trials wandb's rule stops, given as wandb runs are: each a history of logged metric rows."""
    runs = [
        SweepRun(
            name=str(number),
            state=RunState.running if number in running else RunState.finished,
            history=[{"val_accuracy": value} for value in curve],
        )
        for number, curve in curves.items()
    ]
    config = {"metric": {"name": "val_accuracy", "goal": goal}, "early_terminate": early_terminate}
    return {int(run.name) for run in hyperband_stop_runs(runs, config)}


def test_at_the_first_band_runs_below_the_value_ranked_n_over_eta_are_pruned():
    """By hand (module docstring), min_iter 1, eta 3: seven runs reached epoch 1 with 0.5, 0.6, 0.65, 0.7,
    0.75, 0.8, 0.9; the threshold is the value ranked ⌊7 / 3⌋ = 2 from the best, 0.75: the running run at
    0.65 is pruned, the one at 0.75 goes on."""
    study = optuna.create_study(direction="maximize", pruner=WandbHyperbandPruner(min_iter=1, eta=3))
    for value in (0.5, 0.6, 0.7, 0.8, 0.9):
        finished = study.ask()
        finished.report(value, 1)
        study.tell(finished, value)
    below, at = study.ask(), study.ask()
    below.report(0.65, 1)
    at.report(0.75, 1)
    assert below.should_prune() and not at.should_prune()


@pytest.mark.parametrize(
    "early_terminate",
    [
        {"type": "hyperband", "min_iter": 1, "eta": 3},
        {"type": "hyperband", "min_iter": 2, "eta": 2, "strict": False},
        {"type": "hyperband", "max_iter": 9, "s": 2, "eta": 3},
    ],
)
@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_each_epoch_the_pruner_decides_what_wandbs_rule_decides(early_terminate, goal):
    """Twelve made-up learning curves of 9 epochs, three running at a time in interleaved epochs; after every
    reported epoch the pruner's answer is wandb's rule on the runs as they stand, and a pruned run stops."""
    rng = np.random.default_rng(0)
    pruner = WandbHyperbandPruner(**{key: value for key, value in early_terminate.items() if key != "type"})
    study = optuna.create_study(direction=goal, pruner=pruner)
    ceilings, rates = rng.uniform(0.1, 0.9, 12), rng.uniform(0.2, 1.5, 12)
    made_up = {
        trial: ceilings[trial] * (1 - np.exp(-rates[trial] * np.arange(1, 10))) + rng.normal(0, 0.01, 9)
        for trial in range(12)
    }
    curves: dict[int, list[float]] = {}
    running: dict[int, optuna.Trial] = {}
    decisions = []
    while len(curves) < 12 or running:
        while len(running) < 3 and len(curves) < 12:
            trial = study.ask()
            running[trial.number], curves[trial.number] = trial, []
        for number, trial in list(running.items()):
            value = float(made_up[number][len(curves[number])])
            curves[number].append(value)
            trial.report(value, len(curves[number]))
            pruned = trial.should_prune()
            expected = number in wandb_decision(curves, set(running), early_terminate, goal)
            assert pruned == expected, f"trial {number} after epoch {len(curves[number])}"
            decisions.append(pruned)
            if pruned or len(curves[number]) == 9:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED) if pruned else study.tell(trial, value)
                del running[number]
    assert any(decisions) and not all(decisions)  # the rule had something to decide


def test_the_config_groups_pruner_is_built_from_its_yaml():
    pruner = build_option("hydra/sweeper/pruner", "wandb_hyperband")
    assert isinstance(pruner, WandbHyperbandPruner) and isinstance(pruner, optuna.pruners.BasePruner)
    assert (CONF_DIR / "hydra/sweeper/pruner/wandb_hyperband.yaml").is_file()


@pytest.mark.parametrize("settings", [{"min_iter": 0}, {"eta": 3}, {"min_iter": 1, "eta": 1}])
def test_settings_wandb_would_refuse_are_refused_when_the_pruner_is_built(settings):
    with pytest.raises(ValueError, match=r"hydra.sweeper.pruner \(wandb_hyperband\).*min_iter"):
        WandbHyperbandPruner(**settings)


def test_wandb_sweeps_over_several_epoch_budgets_stop_runs_as_the_benchmarked_pruner_does():
    """A wandb sweep file that searches more than one trainer.epochs has early_terminate: hyperband with the
    settings of hydra/sweeper/pruner=wandb_hyperband, which benchmarks/sweep_efficiency.py measured (the
    sweeps schema check of tests/test_sweeps.py covers the whole file)."""
    pruner = OmegaConf.to_container(load_option("hydra/sweeper/pruner", "wandb_hyperband"))
    settings = {key: value for key, value in pruner.items() if key != "_target_"}
    configs = {
        path.name: yaml.safe_load(path.read_text()) for path in sorted((ROOT / "multirun_sweeps").glob("*.yaml"))
    }
    several = [
        name
        for name, config in configs.items()
        if len(config["parameters"].get("trainer.epochs", {}).get("values", [])) > 1
    ]
    assert len(several) >= 2  # wandb_bayes.yaml and wandb_random.yaml
    for name in several:
        assert configs[name].get("early_terminate") == {"type": "hyperband", **settings}, name
