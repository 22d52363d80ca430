"""Reading a sweep: which hyperparameters its runs vary (the runs themselves: :mod:`fmnist.runs.run_folders`)."""

from __future__ import annotations

import json

from fmnist.runs.run_folders import Run


def same_value_key(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def varying_hyperparameters(runs: list[Run]) -> list[str]:
    """Config keys with at least two different values among the runs that have them, sorted.

    ``null`` counts as a value (``model.hidden_sizes``: null vs [1024, 512] is a change of model);
    a key missing from some runs (``optimizer.beta`` when optimisers are swept) counts only where present.
    """
    keys = sorted({key for run in runs for key in run.config})
    return [key for key in keys if len({same_value_key(run.config[key]) for run in runs if key in run.config}) > 1]
