"""What a sweep found: ``python -m fmnist.report SWEEP_DIR [--out DIR] [--top N]``.

Reads every run under SWEEP_DIR (each folder holding ``metrics.json`` and ``config.yaml``, as a Hydra
multirun leaves them) and writes into SWEEP_DIR/report/:

- ``runs.csv``, ``runs.md``: one row per run, best validation accuracy first, failed runs last;
- ``importance.csv``, ``importance.png``: for each hyperparameter that varies, how much of the
  variance of validation accuracy its values explain (η², between-group / total variance) and the
  absolute Spearman rank correlation of its (ordinal) value with validation accuracy;
- ``parallel_coordinates.png``: one axis per varying hyperparameter, one line per run, coloured by
  validation accuracy;
- ``val_accuracy_by_run.png``: validation accuracy in run order, a least-squares trend, running best;
- ``curves.png``: validation accuracy and loss per epoch of the best runs;
- ``best_command.txt``, ``summary.json``: the best run by validation accuracy (never by test) as a
  ready ``python train.py ...`` command.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from fmnist.outputs import CONFIG_FILE, METRICS_FILE, read_metrics

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("dataset", "model", "activation", "init", "loss", "optimizer")
IGNORED_KEYS = ("logger.", "trainer.progress", "plots", "dataset.path", "dataset.download", "blas_threads")
MAX_GROUPS = 4  # quantile bins for a continuous hyperparameter in η²
SWEEP_ONLY_OVERRIDES = ("hydra", "+sweep", "sweep", "logger", "plots", "dataset.path", "dataset.download")


@dataclass
class Run:
    job_dir: Path
    config: dict  # flat: dotted keys, each group as its option name (optimizer: nadam)
    metrics: dict
    overrides: list[str]

    @property
    def name(self) -> str:
        return self.job_dir.name

    @property
    def val_accuracy(self) -> float:
        value = self.metrics.get("val_accuracy", math.nan)
        return math.nan if value is None else float(value)


def option_names() -> dict[str, dict[str, str]]:
    """group -> {_target_: option name}, from the files in conf/<group>/."""
    names = {}
    for group in GROUPS:
        names[group] = {}
        for path in sorted((CONF_DIR / group).glob("*.yaml")):
            target = OmegaConf.load(path).get("_target_")
            if target:
                names[group].setdefault(target, path.stem)
    return names


def flat_config(config: dict, options: dict[str, dict[str, str]]) -> dict:
    """Dotted keys; ``optimizer._target_`` becomes ``optimizer: nadam``; plumbing keys left out."""
    flat = {}

    def walk(node, prefix):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                flat[f"{prefix}{key}"] = value

    walk(config, "")
    for group in GROUPS:
        target = flat.pop(f"{group}._target_", None)
        if target and group != "dataset":
            flat[group] = options[group].get(target, target.rpartition(".")[2].lower())
    if isinstance(flat.get("model.hidden_sizes"), list):
        flat["model.hidden_sizes"] = "-".join(map(str, flat["model.hidden_sizes"]))
    return {key: value for key, value in flat.items() if not key.startswith(IGNORED_KEYS)}


def _job_order(path: Path):
    return (0, int(path.name)) if path.name.isdigit() else (1, path.name)


def collect_runs(sweep_dir: str | Path) -> list[Run]:
    """Every run below ``sweep_dir`` (folders with metrics.json), in job order."""
    options = option_names()
    runs = []
    for metrics_path in sorted(Path(sweep_dir).rglob(METRICS_FILE), key=lambda path: _job_order(path.parent)):
        job_dir = metrics_path.parent
        config_path = job_dir / CONFIG_FILE
        config = OmegaConf.to_container(OmegaConf.load(config_path)) if config_path.is_file() else {}
        overrides_path = job_dir / ".hydra" / "overrides.yaml"
        overrides = list(OmegaConf.load(overrides_path)) if overrides_path.is_file() else []
        runs.append(Run(job_dir, flat_config(config, options), read_metrics(job_dir), overrides))
    return runs


def varying_hyperparameters(runs: list[Run]) -> list[str]:
    """Config keys with at least two different values among the runs that have them, in a stable order.

    A key only some runs have (``optimizer.beta`` when optimizers are swept) does not vary by itself.
    """
    keys = sorted({key for run in runs for key in run.config})
    return [key for key in keys
            if len({json.dumps(run.config[key], default=str) for run in runs if run.config.get(key) is not None}) > 1]


def is_numeric(values) -> bool:
    return all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (for Spearman's correlation)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def importance(runs: list[Run], keys: list[str]) -> list[dict]:
    """Per key: η² = between-group variance / total variance of val_accuracy, and |Spearman ρ|.

    Only finished runs count. A numeric key with more than :data:`MAX_GROUPS` distinct values (a
    continuous learning rate) is grouped into that many quantile bins, else every run would be its
    own group and η² would be 1. Categorical values are ordered by their mean accuracy for ρ, so ρ
    says how monotone the best ordering is; η² needs no ordering at all.
    """
    finished = [run for run in runs if math.isfinite(run.val_accuracy)]
    accuracy = np.array([run.val_accuracy for run in finished])
    rows = []
    for key in keys:
        values = [run.config.get(key) for run in finished]
        labels = [json.dumps(value, default=str) for value in values]
        if is_numeric(values) and len(set(values)) > MAX_GROUPS:
            edges = np.quantile(values, np.linspace(0, 1, MAX_GROUPS + 1)[1:-1])
            labels = [str(int(np.searchsorted(edges, value, side="right"))) for value in values]
        total = ((accuracy - accuracy.mean()) ** 2).sum() if len(accuracy) else 0.0
        groups = {label: accuracy[[i for i, other in enumerate(labels) if other == label]] for label in set(labels)}
        between = sum(len(group) * (group.mean() - accuracy.mean()) ** 2 for group in groups.values())
        eta_squared = between / total if total > 0 else math.nan
        if is_numeric(values):
            positions = np.array(values, dtype=float)
        else:
            order = sorted(groups, key=lambda label: groups[label].mean())
            positions = np.array([order.index(label) for label in labels], dtype=float)
        spearman = math.nan
        if len(set(labels)) > 1 and total > 0:
            spearman = abs(float(np.corrcoef(_ranks(positions), _ranks(accuracy))[0, 1]))
        rows.append({"hyperparameter": key, "eta_squared": eta_squared, "abs_spearman": spearman,
                     "distinct_values": len(groups)})
    return sorted(rows, key=lambda row: -np.nan_to_num(row["eta_squared"], nan=-1))


def ranked(runs: list[Run]) -> list[Run]:
    """Best validation accuracy first; runs without one (failed, diverged) last, in job order."""
    return sorted(runs, key=lambda run: (not math.isfinite(run.val_accuracy), -np.nan_to_num(run.val_accuracy)))


def _mean_seconds(run: Run) -> float:
    seconds = [row["seconds_per_epoch"] for row in run.metrics.get("history", [])]
    return float(np.mean(seconds)) if seconds else math.nan


def table_rows(runs: list[Run], keys: list[str]) -> list[dict]:
    rows = []
    for rank, run in enumerate(ranked(runs), start=1):
        row = {"rank": rank, "job": run.name, "status": run.metrics.get("status", "unknown")}
        row.update({key: run.config.get(key) for key in keys})
        for metric in ("val_accuracy", "best_val_accuracy", "test_accuracy", "epochs_completed"):
            row[metric] = run.metrics.get(metric, math.nan)
        row["seconds_per_epoch"] = _mean_seconds(run)
        rows.append(row)
    return rows


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def write_tables(rows: list[dict], out_dir: Path) -> None:
    columns = list(rows[0])
    with (out_dir / "runs.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[key]) for key in columns) + " |" for row in rows]
    (out_dir / "runs.md").write_text("\n".join(lines) + "\n")


def best_command(run: Run, keys: list[str]) -> str:
    """``python train.py ...`` that reruns ``run``: its own overrides minus sweep plumbing."""
    overrides = [override for override in run.overrides
                 if not override.lstrip("+").startswith(SWEEP_ONLY_OVERRIDES)]
    if not overrides:
        overrides = [f"{key}={run.config[key]}" for key in keys if key in run.config]
    return "python train.py " + " ".join(_quoted(override) for override in overrides)


def _quoted(override: str) -> str:
    return f"'{override}'" if any(character in override for character in "[](), ") else override


def short_label(run: Run, keys: list[str]) -> str:
    from fmnist.tracking import run_name

    name = run_name([f"{key}={run.config.get(key)}" for key in keys])
    return f"#{run.name} {name}"


def plot_parallel_coordinates(runs: list[Run], keys: list[str], path: Path) -> None:
    from fmnist.plots import _pyplot, _save

    plt = _pyplot()
    finished = [run for run in runs if math.isfinite(run.val_accuracy)]
    axes_keys = keys + ["val_accuracy"]
    columns, tick_labels = [], []
    for key in axes_keys:
        values = [run.val_accuracy if key == "val_accuracy" else run.config.get(key) for run in finished]
        if is_numeric(values):
            data = np.array(values, dtype=float)
            positive = data[data > 0]
            few = len(set(values)) <= 6
            if key != "val_accuracy" and len(positive) == len(data) and data.max() / data.min() > 10:
                data = np.log10(data)
                ticks = np.log10(sorted(set(values))) if few else np.linspace(data.min(), data.max(), 5)
                tick_labels.append((key + " (log)", list(ticks), [f"{10 ** t:.2g}" for t in ticks]))
            else:
                ticks = sorted(set(values)) if few else np.linspace(data.min(), data.max(), 5)
                tick_labels.append((key, list(ticks), [f"{t:.4g}" for t in ticks]))
        else:
            categories = sorted({str(value) for value in values})
            data = np.array([categories.index(str(value)) for value in values], dtype=float)
            tick_labels.append((key, list(range(len(categories))), categories))
        columns.append(data)
    matrix = np.array(columns).T  # (runs, axes)
    low, high = matrix.min(axis=0), matrix.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = (matrix - low) / span
    fig, axis = plt.subplots(figsize=(max(8, 1.6 * len(axes_keys)), 5.5))
    colour_map = plt.get_cmap("viridis")
    accuracy = matrix[:, -1]
    norm = plt.Normalize(accuracy.min(), accuracy.max() if accuracy.max() > accuracy.min() else accuracy.min() + 1e-9)
    for row, value in sorted(zip(scaled, accuracy), key=lambda pair: pair[1]):
        axis.plot(range(len(axes_keys)), row, color=colour_map(norm(value)), alpha=0.8, linewidth=1.4)
    for position, (label, ticks, texts) in enumerate(tick_labels):
        axis.axvline(position, color="grey", linewidth=0.8)
        for tick, text in zip(ticks, texts):
            y = (tick - low[position]) / span[position]
            axis.text(position + 0.03, y, text, fontsize=7, va="center")
    axis.set_xticks(range(len(axes_keys)), [label for label, _, _ in tick_labels], rotation=20, ha="right")
    axis.set_yticks([])
    axis.set_xlim(-0.2, len(axes_keys) - 0.5)
    axis.set_title(f"Parallel coordinates of {len(finished)} finished runs (colour: validation accuracy)")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=colour_map), ax=axis, label="validation accuracy")
    _save(fig, path)


def plot_importance(rows: list[dict], path: Path) -> None:
    from fmnist.plots import _pyplot, _save

    plt = _pyplot()
    rows = rows[::-1]
    fig, axis = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.8))
    positions = np.arange(len(rows))
    axis.barh(positions + 0.2, [np.nan_to_num(row["eta_squared"]) for row in rows], height=0.4,
              label="η² (variance of val accuracy explained)")
    axis.barh(positions - 0.2, [np.nan_to_num(row["abs_spearman"]) for row in rows], height=0.4,
              label="|Spearman ρ| with val accuracy")
    axis.set_yticks(positions, [row["hyperparameter"] for row in rows])
    axis.set(xlim=(0, 1), xlabel="importance (0 = none, 1 = explains everything)",
             title="Which hyperparameters mattered (finished runs)")
    axis.legend(loc="lower right", fontsize=8)
    axis.grid(axis="x", alpha=0.3)
    _save(fig, path)


def plot_by_run_order(runs: list[Run], path: Path) -> None:
    from fmnist.plots import _pyplot, _save

    plt = _pyplot()
    order = np.arange(1, len(runs) + 1)
    accuracy = np.array([run.val_accuracy for run in runs])
    finished = np.isfinite(accuracy)
    fig, axis = plt.subplots(figsize=(8, 4.5))
    axis.scatter(order[finished], accuracy[finished], s=18, label="run")
    if (~finished).any():
        floor = np.nanmin(accuracy) if finished.any() else 0.0
        axis.scatter(order[~finished], np.full((~finished).sum(), floor), marker="x", color="red",
                     label="no validation accuracy (failed, diverged or running)")
    if finished.sum() >= 2:
        slope, intercept = np.polyfit(order[finished], accuracy[finished], 1)
        axis.plot(order, slope * order + intercept, "--", color="grey",
                  label=f"trend ({100 * slope:+.3f} points per run)")
        axis.step(order[finished], np.maximum.accumulate(accuracy[finished]), where="post", color="green",
                  label="best so far")
    axis.set(xlabel="run (job order)", ylabel="validation accuracy", title="Validation accuracy by run order")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    _save(fig, path)


def write_report(sweep_dir: str | Path, out_dir: str | Path | None = None, top: int = 8, wandb_run=None) -> dict:
    """Write every file of the report; returns the summary (also in summary.json)."""
    from fmnist.plots import metric_overlay

    sweep_dir = Path(sweep_dir)
    runs = collect_runs(sweep_dir)
    if not runs:
        raise FileNotFoundError(f"no runs under {sweep_dir}: pass a multirun folder whose jobs hold {METRICS_FILE}")
    out_dir = Path(out_dir) if out_dir else sweep_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = varying_hyperparameters(runs)
    rows = table_rows(runs, keys)
    write_tables(rows, out_dir)
    scores = importance(runs, keys)
    if scores:
        with (out_dir / "importance.csv").open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(scores[0]))
            writer.writeheader()
            writer.writerows(scores)
    best_runs = [run for run in ranked(runs) if math.isfinite(run.val_accuracy)]
    figures = []
    if best_runs:
        if keys:
            plot_parallel_coordinates(runs, keys, out_dir / "parallel_coordinates.png")
            plot_importance(scores, out_dir / "importance.png")
            figures += ["parallel_coordinates.png", "importance.png"]
        plot_by_run_order(runs, out_dir / "val_accuracy_by_run.png")
        shown = [run for run in best_runs[:top] if run.metrics["history"]]
        curves = {short_label(run, varying_hyperparameters(shown)): run.metrics["history"] for run in shown}
        metric_overlay(curves, out_dir / "curves.png", title=f"Best {len(curves)} runs by validation accuracy")
        figures += ["val_accuracy_by_run.png", "curves.png"]
    best = best_runs[0] if best_runs else None
    summary = {
        "runs": len(runs),
        "statuses": dict(Counter(run.metrics.get("status", "unknown") for run in runs)),
        "best_job": best.name if best else None,
        "best_val_accuracy": best.val_accuracy if best else math.nan,
        "best_test_accuracy": best.metrics.get("test_accuracy", math.nan) if best else math.nan,
        "best_command": best_command(best, keys) if best else None,
        "importance": [(row["hyperparameter"], row["eta_squared"]) for row in scores],
    }
    if best:
        (out_dir / "best_command.txt").write_text(summary["best_command"] + "\n")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if wandb_run is not None:
        import wandb

        wandb_run.log({name.removesuffix(".png"): wandb.Image(str(out_dir / name)) for name in figures})
        columns = list(rows[0])
        wandb_run.log({"runs": wandb.Table(columns=columns, data=[[_cell(row[c]) for c in columns] for row in rows])})
    return summary


def format_summary(summary: dict, out_dir: Path) -> str:
    lines = [f"{summary['runs']} runs: " + ", ".join(f"{count} {status}" for status, count in summary["statuses"].items())]
    if summary["best_job"] is not None:
        lines.append(f"best (by validation accuracy): job {summary['best_job']}  "
                     f"val_accuracy {summary['best_val_accuracy']:.4f}  test_accuracy {summary['best_test_accuracy']:.4f}")
        lines.append("mattered most (η²): " + ", ".join(f"{key} {value:.2f}" for key, value in summary["importance"][:3]
                                                        if math.isfinite(value)))
        lines.append(f"rerun the best: {summary['best_command']}")
    lines.append(f"report in {out_dir}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder, e.g. multirun/grid/2026-01-01_12-00-00")
    parser.add_argument("--out", type=Path, help="where to write (default: SWEEP_DIR/report)")
    parser.add_argument("--top", type=int, default=8, help="runs drawn in curves.png")
    parser.add_argument("--wandb", action="store_true", help="also log the figures and table to a wandb run")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir} is not a folder: pass a multirun folder (multirun/...)", file=sys.stderr)
        return 2
    out_dir = args.out or args.sweep_dir / "report"
    wandb_run = None
    if args.wandb:
        from fmnist.tracking import open_run

        wandb_run = open_run("fmnist", None, None, "sweep-report", {"sweep_dir": str(args.sweep_dir)}, out_dir,
                             name=f"report-{args.sweep_dir.name}")
    try:
        summary = write_report(args.sweep_dir, out_dir, args.top, wandb_run)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if wandb_run is not None:
            wandb_run.finish()
    print(format_summary(summary, out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
