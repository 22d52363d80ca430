"""The report: every file of it written, and the lines printed after it."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from fmnist.runs.outputs import METRICS_FILE, write_json_atomically
from fmnist.runs.plots import metric_overlay
from fmnist.runs.run_folders import STOPPED, collect_runs, ranked
from fmnist.sweeps.continue_trial import continue_command
from fmnist.tools.report.best_command import best_command
from fmnist.tools.report.figures import plot_by_run_order, plot_importance, plot_parallel_coordinates
from fmnist.tools.report.formatting import run_label
from fmnist.tools.report.pruned import (
    BUDGET_KEY,
    CLOSEST_SHOWN,
    CONTINUE_FILE,
    closest_pruned,
    continuation,
    epoch_leaders,
    format_pruned,
    pruned_row,
    stop_epoch,
    stopped_at,
)
from fmnist.tools.report.reading import varying_hyperparameters
from fmnist.tools.report.statistics import FEW_RUNS, importance, sequential_search
from fmnist.tools.report.tables import (
    PRUNED_NOTE,
    UNFINISHED_NOTE,
    UNFINISHED_PROGRESS,
    csv_cell,
    table_rows,
    write_importance,
    write_tables,
)


def write_report(sweep_dir: str | Path, out_dir: str | Path | None = None, top: int = 8, wandb_run=None) -> dict:
    """Write every file of the report into ``out_dir`` (default SWEEP_DIR/report); return the summary.

    Raises FileNotFoundError if no folder below ``sweep_dir`` holds a metrics.json.
    """
    sweep_dir = Path(sweep_dir)
    runs = collect_runs(sweep_dir)
    if not runs:
        raise FileNotFoundError(
            f"no runs under {sweep_dir}: none of its folders holds a {METRICS_FILE}. "
            "Pass the folder of a multirun, e.g. multirun/grid/2026-01-01_12-00-00"
        )
    out_dir = Path(out_dir) if out_dir else sweep_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = varying_hyperparameters(runs)
    rows = table_rows(runs, keys)
    best_runs = [run for run in ranked(runs) if run.finished]
    unfinished = [run for run in ranked(runs) if run.unfinished and run.status != "pruned"]  # running, stopped
    pruned = [run for run in runs if run.status == "pruned"]
    closest, leaders = closest_pruned(runs), epoch_leaders(runs)
    write_tables(
        rows, out_dir, [note for note, shown in ((UNFINISHED_NOTE, unfinished), (PRUNED_NOTE, pruned)) if shown]
    )
    scores = importance(runs, keys)
    figures = []
    if best_runs and keys:
        write_importance(scores, out_dir)
        figures.append(plot_parallel_coordinates(runs, keys, out_dir / "parallel_coordinates.png"))
        figures.append(plot_importance(scores, out_dir / "importance.png"))
    if best_runs:
        figures.append(plot_by_run_order(runs, out_dir / "val_accuracy_by_run.png", sequential_search(runs)))
    shown = [run for run in best_runs + unfinished if run.metrics.get("history")][:top]
    cut_short = [run for run in closest if run.metrics.get("history")][:CLOSEST_SHOWN]
    if shown or cut_short:
        label_keys = varying_hyperparameters(shown + cut_short)
        curves = {
            run_label(run, label_keys) + (f" ({run.status})" if run.unfinished else ""): run.metrics["history"]
            for run in shown
        }
        dashed = {}
        for run in cut_short:
            stop = stopped_at(stop_epoch(run), run.config.get(BUDGET_KEY))
            dashed[f"{run_label(run, label_keys)} (pruned at {stop})"] = run.metrics["history"]
        title = f"Top {len(curves)} runs by validation accuracy"
        if any(run.unfinished for run in shown):
            title += ": unfinished runs (status in brackets) after the finished ones"
        if dashed:
            title += (
                f"\ndashed: the {len(dashed)} pruned trials closest to the best, "
                "up to the epoch (x) they were stopped at"
            )
        figures.append(metric_overlay(curves | dashed, out_dir / "curves.png", title=title, cut_short=dashed))
    best = best_runs[0] if best_runs else None
    leader = unfinished[0] if unfinished else None
    summary = {
        "runs": len(runs),
        "statuses": dict(Counter(run.status for run in runs)),
        "best_job": best.name if best else None,
        "best_val_accuracy": best.val_accuracy if best else math.nan,
        "best_test_accuracy": best.metrics.get("test_accuracy", math.nan) if best else math.nan,
        "best_command": best_command(best, keys) if best else None,
        "finished_runs": len(best_runs),
        "unfinished_runs": len(unfinished),
        "best_unfinished": {
            "job": leader.name,
            "status": leader.status,
            **{key: leader.metrics.get(key) for key in UNFINISHED_PROGRESS},
        }
        if leader
        else None,
        "pruned_runs": len(pruned),
        "continued_pruned": [continued.name for run in pruned if (continued := continuation(run, runs))],
        "closest_pruned": [pruned_row(run, leaders) for run in closest[:CLOSEST_SHOWN]],
        "importance": [[row["hyperparameter"], row["eta_squared"], row["eta_squared_by_chance"]] for row in scores],
    }
    if best:
        (out_dir / "best_command.txt").write_text(summary["best_command"] + "\n")
    if closest:
        (out_dir / CONTINUE_FILE).write_text("".join(continue_command(run.job_dir) + "\n" for run in closest))
    write_json_atomically(out_dir / "summary.json", summary)
    if wandb_run is not None:
        import wandb  # only with --wandb: wandb takes seconds to import

        wandb_run.log({f"report/{figure.stem}": wandb.Image(str(figure)) for figure in figures})
        columns = list(rows[0])
        table = [[csv_cell(row[column]) for column in columns] for row in rows]
        wandb_run.log({"report/runs": wandb.Table(columns=columns, data=table)})
    return summary


def format_unfinished(summary: dict) -> str:
    """The best unfinished run so far: how far it got, said to be unfinished."""
    leader = summary["best_unfinished"]
    return (
        f"best of the {summary['unfinished_runs']} unfinished runs so far (from their history; ranked after "
        f"the finished runs): job {leader['job']} ({leader['status']})  "
        f"best_val_accuracy {leader['best_val_accuracy']:.4f} in epoch {leader['best_epoch']} of "
        f"{leader['epochs_completed']} completed"
    )


def format_summary(summary: dict, out_dir: Path) -> str:
    """The lines printed after a report: runs by status, the best run, what mattered, the command."""
    statuses = ", ".join(f"{count} {status}" for status, count in summary["statuses"].items())
    lines = [f"{summary['runs']} runs: {statuses}"]
    if STOPPED in summary["statuses"]:
        lines.append(
            f"{STOPPED}: killed before they could say so; their checkpoints remain, and the sweep's command "
            "with the same hydra.sweep.dir continues them"
        )
    if summary["best_job"] is not None:
        lines.append(
            f"best (by validation accuracy): job {summary['best_job']}  "
            f"val_accuracy {summary['best_val_accuracy']:.4f}  "
            f"test_accuracy {summary['best_test_accuracy']:.4f}"
        )
        mattered = [
            f"{key} {value:.2f} (chance {chance:.2f})"
            for key, value, chance in summary["importance"][:3]
            if math.isfinite(value)
        ]
        if mattered:
            lines.append("mattered most (η², and what chance alone gives): " + ", ".join(mattered))
            if summary["finished_runs"] < FEW_RUNS:
                lines.append(f"importance from only {summary['finished_runs']} finished runs: a hint, not a ranking")
        lines.append(f"rerun the best: {summary['best_command']}")
    if summary["pruned_runs"]:
        lines += format_pruned(summary["pruned_runs"], summary["continued_pruned"], summary["closest_pruned"])
    if summary["best_unfinished"] is not None:
        lines.append(format_unfinished(summary))
    if summary["best_job"] is None:
        lines.append(
            "no run has finished yet: no final validation accuracy to rank by, no best command"
            if summary["best_unfinished"] or summary["pruned_runs"]
            else "no run has a validation accuracy yet: nothing to rank"
        )
    lines.append(f"report in {out_dir}")
    return "\n".join(lines)
