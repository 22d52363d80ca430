"""runs.csv, runs.md and importance.csv."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fmnist.config.dotted import override_value
from fmnist.runs.run_folders import Run, ranked
from fmnist.tools.report.formatting import format_value
from fmnist.tools.report.pruned import BUDGET_KEY, behind_at_stop, epoch_leaders


def _mean_seconds_per_epoch(run: Run) -> float:
    seconds = [row.get("seconds_per_epoch") for row in run.metrics.get("history") or []]
    seconds = [value for value in seconds if value is not None]
    return float(np.mean(seconds)) if seconds else math.nan


TABLE_METRICS = ("val_accuracy", "best_val_accuracy", "test_accuracy", "epochs_completed")
UNFINISHED_PROGRESS = ("best_val_accuracy", "best_epoch", "epochs_completed")  # see progress_from_history


def table_rows(runs: list[Run], keys: list[str]) -> list[dict]:
    """One row per run in :func:`ranked` order: rank, job, status, the varying keys, the metrics; in a sweep
    with pruned trials also each run's ``epochs_budget`` and each pruned trial's ``behind_at_stop``
    (:mod:`fmnist.tools.report.pruned`)."""
    leaders = epoch_leaders(runs) if any(run.status == "pruned" for run in runs) else None
    rows = []
    for rank, run in enumerate(ranked(runs), start=1):
        row = {"rank": rank, "job": run.name, "status": run.status}
        row.update({key: run.config.get(key) for key in keys})
        row.update({metric: run.metrics.get(metric, math.nan) for metric in TABLE_METRICS})
        if leaders is not None:
            row["epochs_budget"] = run.config.get(BUDGET_KEY)
            row["behind_at_stop"] = behind_at_stop(run, leaders) if run.status == "pruned" else math.nan
        row["seconds_per_epoch"] = _mean_seconds_per_epoch(run)
        rows.append(row)
    return rows


def csv_cell(value) -> str:
    """Full precision for machines; NaN and None as empty cells."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, (list, tuple)):
        return override_value(value)
    return str(value)


def _markdown_cell(column: str, value) -> str:
    """Accuracies with 4 decimals, seconds with 2, hyperparameters short (1e-4, 1024-512)."""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if column.endswith("accuracy") or column == "behind_at_stop":
        return f"{value:.4f}"
    if column == "seconds_per_epoch":
        return f"{value:.2f}"
    return format_value(value)


UNFINISHED_NOTE = (
    "Unfinished runs (running, stopped): best_val_accuracy and epochs_completed so far, from their "
    "history; val_accuracy and test_accuracy come with the final evaluation. Ranked after the "
    "finished runs."
)
PRUNED_NOTE = (
    "Pruned trials: stopped by the sweep's pruner after epochs_completed of their epochs_budget; "
    "val_accuracy and test_accuracy are those after that epoch; behind_at_stop is the best val_accuracy "
    "any run had at that epoch minus theirs (0: it led). Ranked after the finished runs, never the best; "
    "python -m fmnist.sweeps.continue_trial SWEEP_DIR/JOB continues one to its budget."
)


def write_tables(rows: list[dict], out_dir: Path, notes: Sequence[str] = ()) -> None:
    """runs.csv (csv module, full precision) and runs.md (a Markdown table, short numbers, then ``notes``)."""
    columns = list(rows[0])
    with (out_dir / "runs.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_markdown_cell(key, row[key]) for key in columns) + " |" for row in rows]
    for note in notes:
        lines += ["", note]
    (out_dir / "runs.md").write_text("\n".join(lines) + "\n")


def write_importance(scores: list[dict], out_dir: Path) -> None:
    with (out_dir / "importance.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(scores[0]))
        writer.writeheader()
        writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in scores)
