"""The report's figures: parallel coordinates, importance, validation accuracy per job."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fmnist.runs import plots
from fmnist.runs.run_folders import Run
from fmnist.tools.report.formatting import format_value
from fmnist.tools.report.statistics import FEW_RUNS, is_numeric

FEW_VALUES = 6  # an axis with at most this many distinct values gets one tick per value


def _axis(key: str, values: list) -> tuple[np.ndarray, list[float], list[str], str]:
    """One parallel-coordinates axis: (positions, tick positions, tick labels, axis label).

    Categories: evenly spaced in sorted order. Numbers: log10 when all positive and spanning more than a
    decade (learning rates); evenly spaced levels when 0 sits among values spanning decades (weight
    decay 0, 1e-5, 1e-4); linear otherwise.
    """
    if not is_numeric(values):
        categories = sorted({format_value(value) for value in values})
        positions = np.array([categories.index(format_value(value)) for value in values], dtype=float)
        return positions, list(range(len(categories))), categories, key
    data = np.array(values, dtype=float)
    distinct = sorted(set(values))
    positive = data[data > 0]
    if len(positive) == len(data) and data.max() > 10 * data.min():
        transformed, label = np.log10(data), f"{key} (log)"
        ticks = (
            np.log10(distinct) if len(distinct) <= FEW_VALUES else np.linspace(transformed.min(), transformed.max(), 5)
        )
        return transformed, list(ticks), [format_value(float(10**tick)) for tick in ticks], label
    if len(distinct) <= FEW_VALUES and len(positive) and positive.max() > 10 * positive.min():
        positions = np.array([distinct.index(value) for value in values], dtype=float)
        return positions, list(range(len(distinct))), [format_value(value) for value in distinct], f"{key} (levels)"
    ticks = distinct if len(distinct) <= FEW_VALUES else list(np.linspace(data.min(), data.max(), 5))
    return data, list(ticks), [format_value(float(tick)) for tick in ticks], key


def plot_parallel_coordinates(runs: list[Run], keys: list[str], path: Path) -> Path:
    """One vertical axis per varying hyperparameter plus val_accuracy; one line per finished run."""
    plt = plots.pyplot()
    finished = [run for run in runs if run.finished]
    accuracy = np.array([run.val_accuracy for run in finished])
    axes = [_axis(key, [run.config.get(key) for run in finished]) for key in keys]
    val_ticks = np.linspace(accuracy.min(), accuracy.max(), 5) if accuracy.max() > accuracy.min() else [accuracy[0]]
    axes.append((accuracy, list(val_ticks), [f"{tick:.4f}" for tick in val_ticks], "val_accuracy"))
    matrix = np.array([positions for positions, _, _, _ in axes]).T  # (runs, axes)
    low, high = matrix.min(axis=0), matrix.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = (matrix - low) / span  # every axis drawn from 0 to 1

    fig, axis = plt.subplots(figsize=(max(8.0, 1.5 * len(axes) + 2), 6))
    colour_map = plt.get_cmap("viridis")
    norm = plt.Normalize(accuracy.min(), max(accuracy.max(), accuracy.min() + 1e-9))
    for row, value in sorted(zip(scaled, accuracy), key=lambda pair: pair[1]):  # best drawn last, on top
        axis.plot(range(len(axes)), row, color=colour_map(norm(value)), alpha=0.75, linewidth=1.3)
    for position, (_, ticks, texts, _) in enumerate(axes):
        axis.axvline(position, color="0.4", linewidth=0.8, zorder=3)
        for tick, text in zip(ticks, texts):
            axis.text(
                position + 0.04,
                (tick - low[position]) / span[position],
                text,
                fontsize=7,
                va="center",
                zorder=4,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
            )
    axis.set_xticks(range(len(axes)), [label for _, _, _, label in axes], rotation=25, ha="right")
    axis.set_yticks([])
    axis.set(xlim=(-0.15, len(axes) - 0.4), ylim=(-0.05, 1.05))
    axis.set_title(f"Parallel coordinates: {len(finished)} finished runs, coloured by validation accuracy")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=colour_map), ax=axis, label="validation accuracy", pad=0.02)
    return plots.save(fig, path)


def plot_importance(scores: list[dict], path: Path) -> Path:
    """Horizontal bars per hyperparameter, most important (η²) at the top."""
    plt = plots.pyplot()
    rows = scores[::-1]  # barh draws from the bottom
    fig, axis = plt.subplots(figsize=(8.5, 0.5 * len(rows) + 2.2), layout="constrained")
    positions = np.arange(len(rows))
    axis.barh(
        positions + 0.2,
        [np.nan_to_num(row["eta_squared"]) for row in rows],
        height=0.4,
        label="η² = share of the variance of val accuracy explained by its values",
    )
    axis.scatter(
        [row["eta_squared_by_chance"] for row in rows],
        positions + 0.2,
        marker="|",
        s=300,
        color="black",
        zorder=3,
        label="η² that chance alone gives on average: (values − 1) / (runs − 1)",
    )
    axis.barh(
        positions - 0.2,
        [np.nan_to_num(row["abs_spearman"]) for row in rows],
        height=0.4,
        label="|Spearman ρ| of its (ordinal) value with val accuracy",
    )
    axis.set_yticks(positions, [row["hyperparameter"] for row in rows])
    finished = scores[0]["finished_runs"] if scores else 0
    axis.set(xlim=(0, 1), xlabel="importance (0 = no relation, 1 = decides validation accuracy alone)")
    handful = (
        f"only {finished} finished runs: a hint, not a ranking" if finished < FEW_RUNS else f"{finished} finished runs"
    )
    axis.set_title(f"Hyperparameter importance for validation accuracy: η² and |Spearman ρ|\n({handful}; sorted by η²)")
    fig.legend(loc="outside lower center", fontsize=8)
    axis.grid(axis="x", alpha=0.3)
    return plots.save(fig, path)


def plot_by_run_order(runs: list[Run], path: Path, sequential: bool) -> Path:
    """Validation accuracy against the job number; for a ``sequential`` search (:func:`sequential_search`)
    also its least-squares line and the best so far. In a grid or random search, and whenever parallel
    jobs finish out of order, job order means nothing, so neither is drawn."""
    plt = plots.pyplot()
    numbered = all(run.name.isdigit() for run in runs)
    order = np.array([int(run.name) for run in runs] if numbered else range(1, len(runs) + 1), dtype=float)
    accuracy = np.array([run.val_accuracy if run.finished else math.nan for run in runs])
    finished = np.isfinite(accuracy)
    pruned_accuracy = np.array([run.val_accuracy if run.status == "pruned" else math.nan for run in runs])
    pruned = np.isfinite(pruned_accuracy)
    fig, axis = plt.subplots(figsize=(8, 5), layout="constrained")
    axis.scatter(order[finished], accuracy[finished], s=20, label="finished run", zorder=3)
    if pruned.any():
        axis.scatter(
            order[pruned],
            pruned_accuracy[pruned],
            s=20,
            facecolors="none",
            edgecolors="grey",
            zorder=3,
            label="pruned trial: its accuracy at the epoch it was stopped",
        )
    missing = ~finished & ~pruned
    if missing.any():
        shown = np.fmax(accuracy, pruned_accuracy)
        low, high = (np.nanmin(shown), np.nanmax(shown)) if (finished | pruned).any() else (0.0, 0.0)
        below = low - 0.08 * max(high - low, 0.01)  # under every run drawn, so none is hidden
        axis.scatter(
            order[missing],
            np.full(missing.sum(), below),
            marker="x",
            color="red",
            zorder=3,
            label="no validation accuracy (failed, diverged, running), drawn below the others",
        )
    if sequential and finished.sum() >= 2:
        slope, intercept = np.polyfit(order[finished], accuracy[finished], 1)  # least squares: y ≈ a x + b
        span = order[finished][[0, -1]]
        axis.plot(
            span,
            slope * span + intercept,
            "--",
            color="grey",
            label=f"least-squares trend ({100 * slope:+.3f} points per run)",
        )
        axis.step(
            order[finished], np.maximum.accumulate(accuracy[finished]), where="post", color="green", label="best so far"
        )
    title = (
        "Validation accuracy in run order (sequential search: each run chosen from the earlier ones)"
        if sequential
        else "Validation accuracy per job (no trend: not recorded as a sequential search)"
    )
    axis.set(xlabel="job number" if numbered else "run (job order)", ylabel="validation accuracy", title=title)
    plots.integer_x_ticks(axis)
    axis.grid(alpha=0.3)
    fig.legend(loc="outside lower center", fontsize=8, ncol=2)
    return plots.save(fig, path)
