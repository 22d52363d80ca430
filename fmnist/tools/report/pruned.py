"""The pruned trials of a sweep: where each stopped, how far behind the best it was there, and which came closest.

A pruned trial stopped after fewer epochs than the others, so its accuracy is compared with theirs at the
same epoch, as the pruner compared it: for a trial stopped at epoch e with validation accuracy a_e,

    behind_at_stop = max over the sweep's runs r that reached epoch e of a_e(r)  −  a_e      (≥ 0; 0: it led)

Every run's history counts (completed, pruned, stopped): each ran the same epochs to e. The trials with the
smallest ``behind_at_stop`` came closest; ranking by the raw accuracy instead would favour the trials stopped
late, which simply trained longer. Ties go to the trial stopped later (more evidence), then the higher
accuracy. A trial already continued to its budget (``SWEEP_DIR/continued/N``, finished) is left out of the
closest: its continuation is a run of the report like any other.
"""

from __future__ import annotations

import math

from fmnist.runs.run_folders import Run
from fmnist.sweeps.continue_trial import continue_command, continued_folder

BUDGET_KEY = "trainer.epochs"  # the epochs a trial would have trained unpruned, and a continued one trains
CLOSEST_SHOWN = 3  # pruned trials printed with their continue command and drawn in curves.png
CONTINUE_FILE = "continue_pruned.txt"  # the report's file of every such command, closest first


def epoch_leaders(runs: list[Run]) -> dict[int, float]:
    """epoch -> the highest validation accuracy any run had after that epoch."""
    leaders: dict[int, float] = {}
    for run in runs:
        for row in run.metrics.get("history") or []:
            value = row.get("val_accuracy")
            if isinstance(value, (int, float)) and math.isfinite(value):
                leaders[row["epoch"]] = max(leaders.get(row["epoch"], -math.inf), value)
    return leaders


def stop_epoch(run: Run) -> int:
    """The last epoch a pruned trial trained: the epoch its pruner stopped it at."""
    return int((run.metrics.get("stopped_early") or {}).get("epoch") or run.metrics.get("epochs_completed", 0))


def value_at(run: Run, epoch: int) -> float:
    """The run's validation accuracy after ``epoch`` (NaN if it has none)."""
    values = [row.get("val_accuracy") for row in run.metrics.get("history") or [] if row["epoch"] == epoch]
    return float(values[0]) if values and isinstance(values[0], (int, float)) else math.nan


def behind_at_stop(run: Run, leaders: dict[int, float]) -> float:
    """How far the pruned ``run`` was behind the best run at the epoch it stopped (module docstring)."""
    epoch = stop_epoch(run)
    return leaders.get(epoch, math.nan) - value_at(run, epoch)


def stopped_at(epoch: int, budget: int | None) -> str:
    """``epoch 3 of 10``; ``epoch 3`` when the run's budget (``trainer.epochs``) is not known."""
    return f"epoch {epoch}" + (f" of {budget}" if budget is not None else "")


def pruned_row(run: Run, leaders: dict[int, float]) -> dict:
    """What the report says of one pruned trial (summary.json's ``closest_pruned``, the printed lines)."""
    epoch = stop_epoch(run)
    return {
        "job": run.name,
        "epoch": epoch,
        "epochs_budget": run.config.get(BUDGET_KEY),
        "pruner": (run.metrics.get("stopped_early") or {}).get("pruner"),
        "val_accuracy": value_at(run, epoch),
        "behind_at_stop": behind_at_stop(run, leaders),
        "command": continue_command(run.job_dir),
    }


def continuation(run: Run, runs: list[Run]) -> Run | None:
    """The finished run among ``runs`` that continued the pruned ``run`` to its budget, if any."""
    target = continued_folder(run.job_dir.absolute())
    return next((other for other in runs if other.finished and other.job_dir.absolute() == target), None)


def closest_pruned(runs: list[Run]) -> list[Run]:
    """The pruned trials not yet continued to the end, closest to the best at their stop epoch first."""
    leaders = epoch_leaders(runs)
    pruned = [run for run in runs if run.status == "pruned" and continuation(run, runs) is None]

    def order(run: Run) -> tuple[float, int, float]:
        behind = behind_at_stop(run, leaders)
        return (behind if math.isfinite(behind) else math.inf, -stop_epoch(run), -value_at(run, stop_epoch(run)))

    return sorted(pruned, key=order)


def format_pruned(pruned_runs: int, continued: list[str], closest: list[dict]) -> list[str]:
    """The printed lines on the pruned trials: how many, the jobs that ``continued`` some, then per trial of
    ``closest`` (:func:`pruned_row`) ``job 4: stopped at epoch 1 of 4 by the median pruner, val_accuracy 0.1000,
    0.8333 below the sweep's best at that epoch`` and, on a line of its own, the command that continues it."""
    done = f"; {len(continued)} continued since: job {', '.join(continued)}" if continued else ""
    counted = f"{pruned_runs} pruned trial{'s' if pruned_runs != 1 else ''} (never the best{done})"
    if not closest:
        return [counted]
    lines = [
        f"{counted}; the {len(closest)} closest to the sweep's best "
        "at the epoch they were stopped, each continued to its budget by the command under it "
        f"({CONTINUE_FILE}: all):"
    ]
    for row in closest:
        pruner = f" by the {row['pruner']} pruner" if row["pruner"] else ""
        lines += [
            f"  job {row['job']}: stopped at {stopped_at(row['epoch'], row['epochs_budget'])}{pruner}, "
            f"val_accuracy {row['val_accuracy']:.4f}, {row['behind_at_stop']:.4f} below the sweep's best "
            "at that epoch",
            f"    {row['command']}",
        ]
    return lines
