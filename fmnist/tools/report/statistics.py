"""What mattered: η², the η² of chance, |Spearman ρ|, and whether run order means anything."""

from __future__ import annotations

import math

import numpy as np
from omegaconf import OmegaConf

from fmnist.runs.run_folders import Run
from fmnist.tools.report.reading import same_value_key

MAX_GROUPS = 4  # quantile bins for a continuous hyperparameter in η²
FEW_RUNS = 10  # fewer finished runs than this: importance is flagged as coming from a handful
#: Optuna samplers that do not learn from earlier trials: under them, as in a grid, job order means nothing.
NON_ADAPTIVE_SAMPLERS = ("RandomSampler", "GridSampler", "BruteForceSampler", "QMCSampler")


def ranks(values: np.ndarray) -> np.ndarray:
    """0-based ranks by argsort, ties given their mean rank (as Spearman's ρ needs)."""
    order = np.argsort(values, kind="stable")
    result = np.empty(len(values))
    result[order] = np.arange(len(values))
    for value in np.unique(values):
        tied = values == value
        result[tied] = result[tied].mean()
    return result


def sequential_search(runs: list[Run]) -> bool:
    """Was each run chosen from the results of the earlier ones (an Optuna sweeper with an adaptive sampler
    such as TPE), so that run order shows the search's progress? Read from Hydra's record of the sweep,
    ``.hydra/hydra.yaml``; a grid (the basic sweeper) or a random sampler is not sequential, and runs
    without that record (single runs gathered in one folder) are not known to be."""
    for run in runs:
        path = run.job_dir / ".hydra" / "hydra.yaml"
        if path.is_file():
            sweeper = OmegaConf.load(path).hydra.get("sweeper") or {}
            sampler = str(OmegaConf.select(OmegaConf.create(sweeper), "sampler._target_", default=""))
            return (
                "optuna" in str(sweeper.get("_target_", "")).lower()
                and sampler.rpartition(".")[2] not in NON_ADAPTIVE_SAMPLERS
            )
    return False


def eta_squared_by_chance(groups: int, runs: int) -> float:
    """E[η²] when the groups do not matter at all: (groups − 1) / (runs − 1), the between-group share of
    the degrees of freedom (NaN for fewer than two runs). With a handful of runs it is large: 2 values
    over 4 runs give 1/3, 4 values over 5 runs 3/4."""
    return (groups - 1) / (runs - 1) if runs > 1 else math.nan


def eta_squared(groups: list[str], accuracy: np.ndarray) -> float:
    """η² = Σ_g n_g (ȳ_g − ȳ)² / Σ_i (y_i − ȳ)²: the share of the variance of y explained by the groups.

    1 when the groups alone decide y, 0 when every group has the same mean; NaN when y is constant.
    Small groups inflate it (with one run per group it is always 1): see :func:`eta_squared_by_chance`.
    """
    total = float(((accuracy - accuracy.mean()) ** 2).sum())
    if total == 0:
        return math.nan
    labels = np.array(groups)
    between = sum(
        (labels == group).sum() * (accuracy[labels == group].mean() - accuracy.mean()) ** 2 for group in set(groups)
    )
    return float(between / total)


def abs_spearman(positions: np.ndarray, accuracy: np.ndarray) -> float:
    """|ρ|, ρ = Pearson correlation of the ranks of x and of y; NaN when either is constant."""
    x, y = ranks(positions), ranks(accuracy)
    if x.std() == 0 or y.std() == 0:
        return math.nan
    return abs(float(np.corrcoef(x, y)[0, 1]))


def importance(runs: list[Run], keys: list[str]) -> list[dict]:
    """Per key, over the finished runs: η² of val_accuracy by the key's values, and |Spearman ρ|.

    Groups for η²: one per value; a numeric key with more than :data:`MAX_GROUPS` distinct values (a
    continuous learning rate) is cut into that many quantile bins, else every run would be its own
    group and η² would be 1. Positions for ρ: the number itself; categories are ordered by their mean
    accuracy, so for a categorical key |ρ| is the best any ordering could give (an upper bound).
    Sorted by η², largest first.
    """
    finished = [run for run in runs if run.finished]
    accuracy = np.array([run.val_accuracy for run in finished])
    rows = []
    for key in keys:
        values = [run.config.get(key) for run in finished]
        groups = [same_value_key(value) for value in values]
        if is_numeric(values) and len(set(values)) > MAX_GROUPS:
            edges = np.quantile(values, np.linspace(0, 1, MAX_GROUPS + 1)[1:-1])
            groups = [f"bin {np.searchsorted(edges, value, side='right')}" for value in values]
        if is_numeric(values):
            positions = np.array(values, dtype=float)
        else:
            means = {group: accuracy[[other == group for other in groups]].mean() for group in set(groups)}
            order = sorted(means, key=means.get)
            positions = np.array([order.index(group) for group in groups], dtype=float)
        rows.append(
            {
                "hyperparameter": key,
                "eta_squared": eta_squared(groups, accuracy) if finished else math.nan,
                "eta_squared_by_chance": eta_squared_by_chance(len(set(groups)), len(finished)),
                "abs_spearman": abs_spearman(positions, accuracy) if finished else math.nan,
                "distinct_values": len(set(groups)),
                "finished_runs": len(finished),
            }
        )
    return sorted(
        rows, key=lambda row: (-np.nan_to_num(row["eta_squared"], nan=-1), -np.nan_to_num(row["abs_spearman"], nan=-1))
    )


def is_numeric(values) -> bool:
    return bool(values) and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values)
