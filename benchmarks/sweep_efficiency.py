"""Time to the best configuration: the assignment's sweep without pruning, with each pruner, and with
wandb's hyperband rule (issue 25; docs/sweep-efficiency.md).

    python benchmarks/sweep_efficiency.py [--seeds 0 1 2] [--trials 60] [--epochs 10] [--subset N]
        [--pruners none median ... wandb_hyperband NAME:key=value] [--runs DIR] [--out FILE]

Each sweep is the command a user runs, in its own process: ``python train.py -m +sweep=optuna
hydra/sweeper/pruner=NAME`` (conf/sweep/optuna.yaml's space, TPE with the given sampler seed,
``trainer.epochs`` fixed at ``--epochs``), ``--jobs`` trials at a time through the joblib launcher. A pruner
``NAME:key=value:...`` sets ``hydra.sweeper.pruner.key=value`` (e.g. ``wandb_hyperband:min_iter=2:eta=2``).
Sweeps run one after another, seed by seed; each one finished is recorded in ``--runs``/sweeps.jsonl, so
rerunning the command with the same ``--runs`` goes on with the sweeps still missing.

Read back from the sweep's job folders (metrics.json, and train.log's time-stamped epoch lines):

    epochs       epochs trained by all its trials (pruned ones up to where they stopped)
    wall s       the sweep command's wall time
    busy         the share of the sweep's time during which all ``--jobs`` worker slots (one core each) ran a
                 trial, as the sweeper records it (fmnist/sweeps/occupancy.py); what idle workers lower
    best val     the best validation accuracy of a completed trial (a pruned trial is never chosen)
    to target    the epochs trained (by all trials) and seconds elapsed when a completed trial first came
                 within 0.3 points of the unpruned sweep's best, same seed (``-``: never)
    test         the test accuracy of the chosen (best) trial, reported once: it chooses nothing

Per pruner, over the seeds: ``epochs/none`` and ``wall/none`` are its epochs and seconds to the target
divided by the unpruned sweep's own epochs and seconds to it (summed over the seeds); the goal is
to reach the target in every seed with at most a third of the epochs and at most 40 % of the wall time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fmnist.sweeps.occupancy import read_busy_share  # noqa: E402

PRUNER_DIR = ROOT / "conf" / "hydra" / "sweeper" / "pruner"
UNPRUNED = "none"
TARGET_GAP = 0.003  # within 0.3 points of the unpruned sweep's best
GOAL_EPOCHS, GOAL_WALL = 1 / 3, 0.4
EPOCH_LINE = re.compile(r"^\[(?P<time>[\d-]+ [\d:,]+)\]\[INFO\] (?:#\d+ )?epoch (?P<epoch>\d+)/\d+ ")


def pruner_options() -> list[str]:
    """The pruners of the config group, ``none`` first."""
    names = sorted(path.stem for path in PRUNER_DIR.glob("*.yaml"))
    return [UNPRUNED, *(name for name in names if name != UNPRUNED)]


@dataclass
class Trial:
    """One job of a sweep, as its folder tells it; times in seconds since the epoch."""

    number: int
    status: str
    val_accuracy: float
    test_accuracy: float
    ended: float
    epoch_ends: list[float] = field(default_factory=list)


@dataclass
class Sweep:
    pruner: str
    seed: int
    started: float
    wall_seconds: float
    busy: float
    trials: list[Trial]

    @property
    def epochs(self) -> int:
        return sum(len(trial.epoch_ends) for trial in self.trials)

    def completed(self) -> list[Trial]:
        return [trial for trial in self.trials if trial.status == "completed" and math.isfinite(trial.val_accuracy)]

    def chosen(self) -> Trial | None:
        """The completed trial of the best validation accuracy (the first of equals)."""
        return max(self.completed(), key=lambda trial: (trial.val_accuracy, -trial.number), default=None)

    @property
    def best(self) -> float:
        chosen = self.chosen()
        return math.nan if chosen is None else chosen.val_accuracy

    def to_target(self, target: float) -> tuple[int, float] | None:
        """(epochs trained by all trials, seconds since the start) when a completed trial first reached
        ``target``, or None."""
        reached = [trial.ended for trial in self.completed() if trial.val_accuracy >= target]
        if not reached or not math.isfinite(target):
            return None
        moment = min(reached)
        return (sum(end <= moment for trial in self.trials for end in trial.epoch_ends), moment - self.started)


def log_time(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def read_trial(job_dir: Path) -> Trial:
    """A job folder's trial: its status and accuracies (metrics.json), when it ended (metrics.json,
    written last) and finished each epoch (train.log's time stamps)."""
    metrics = json.loads((job_dir / "metrics.json").read_text())
    log_lines = (job_dir / "train.log").read_text().splitlines() if (job_dir / "train.log").is_file() else []
    epoch_ends = [log_time(match["time"]) for line in log_lines if (match := EPOCH_LINE.match(line))]
    if len(epoch_ends) != len(metrics["history"]):
        raise RuntimeError(
            f"{job_dir}: train.log shows {len(epoch_ends)} epochs, metrics.json "
            f"{len(metrics['history'])}; run the sweeps with trainer.progress=lines"
        )

    def number(key: str) -> float:
        value = metrics.get(key)
        return math.nan if value is None else float(value)

    return Trial(
        number=int(job_dir.name),
        status=metrics["status"],
        val_accuracy=number("val_accuracy"),
        test_accuracy=number("test_accuracy"),
        ended=(job_dir / "metrics.json").stat().st_mtime,
        epoch_ends=epoch_ends,
    )


def sweep_command(pruner: str, seed: int, args, sweep_dir: Path) -> list[str]:
    name, *settings = pruner.split(":")
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        "+sweep=optuna",
        f"hydra/sweeper/pruner={name}",
        *(f"hydra.sweeper.pruner.{setting}" for setting in settings),
        f"hydra.sweeper.n_trials={args.trials}",
        f"hydra.sweeper.n_jobs={args.jobs}",
        f"hydra.sweeper.sampler.seed={seed}",
        "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={args.jobs}",
        f"trainer.epochs={args.epochs}",
        "logger=none",
        "plots=false",
        "trainer.progress=lines",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    if args.subset is not None:
        command.append(f"dataset.subset={args.subset}")
    if args.dataset_path is not None:
        command += [f"dataset.path={args.dataset_path}", "dataset.download=false"]
    return command


def run_sweep(pruner: str, seed: int, args, runs_dir: Path) -> Sweep:
    sweep_dir = runs_dir / f"{pruner.replace(':', '_').replace('=', '')}_seed{seed}"
    if sweep_dir.exists():
        shutil.rmtree(sweep_dir)  # a sweep cut short: run it again whole, its times would be wrong
    command = sweep_command(pruner, seed, args, sweep_dir)
    started = time.time()
    finished = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, env={**os.environ, "WANDB_MODE": "disabled"}
    )
    wall_seconds = time.time() - started
    if finished.returncode != 0:
        raise RuntimeError(
            f"sweep {pruner} seed {seed} exited {finished.returncode}: {' '.join(command)}\n{finished.stderr[-3000:]}"
        )
    trials = [
        read_trial(job_dir)
        for job_dir in sorted(sweep_dir.iterdir(), key=lambda path: path.name)
        if job_dir.name.isdigit() and (job_dir / "metrics.json").is_file()
    ]
    return Sweep(
        pruner=pruner,
        seed=seed,
        started=started,
        wall_seconds=wall_seconds,
        busy=read_busy_share(sweep_dir),
        trials=trials,
    )


def load_sweeps(record: Path) -> list[Sweep]:
    if not record.is_file():
        return []
    sweeps = []
    for line in record.read_text().splitlines():
        payload = json.loads(line)
        payload["trials"] = [Trial(**trial) for trial in payload["trials"]]
        sweeps.append(Sweep(**payload))
    return sweeps


def percent(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{100 * value:.2f}"


def report(sweeps: list[Sweep], pruners: list[str], seeds: list[int]) -> list[str]:
    """The table of every sweep, then one line per pruner with its ratios to the unpruned sweeps and the goal."""
    by_key = {(sweep.pruner, sweep.seed): sweep for sweep in sweeps}
    targets = {
        seed: by_key[UNPRUNED, seed].best - TARGET_GAP if (UNPRUNED, seed) in by_key else math.nan for seed in seeds
    }
    lines = [
        (
            f"{'pruner':<30} {'seed':>4} {'trials':>6} {'pruned':>6} {'epochs':>6} {'wall s':>7} {'busy':>5} "
            f"{'best val':>8} {'target':>6} {'epochs to':>9} {'s to':>7} {'test':>6}"
        )
    ]
    for pruner in pruners:
        for seed in seeds:
            sweep = by_key.get((pruner, seed))
            if sweep is None:
                continue
            reached = sweep.to_target(targets[seed])
            chosen = sweep.chosen()
            pruned = sum(trial.status == "pruned" for trial in sweep.trials)
            lines.append(
                f"{pruner:<30} {seed:>4} {len(sweep.trials):>6} {pruned:>6} {sweep.epochs:>6} "
                f"{sweep.wall_seconds:>7.1f} {sweep.busy:>5.2f} {percent(sweep.best):>8} "
                f"{percent(targets[seed]):>6} {reached[0] if reached else '-':>9} "
                f"{f'{reached[1]:.1f}' if reached else '-':>7} "
                f"{percent(chosen.test_accuracy) if chosen else '-':>6}"
            )
    lines += [
        "",
        (
            f"{'pruner':<30} {'seeds':>5} {'reached':>7} {'epochs':>6} {'wall s':>7} {'epochs/none':>11} "
            f"{'wall/none':>9} {'goal':>4}"
        ),
    ]
    baseline = {seed: by_key[UNPRUNED, seed].to_target(targets[seed]) for seed in seeds if (UNPRUNED, seed) in by_key}
    for pruner in pruners:
        ran = [seed for seed in seeds if (pruner, seed) in by_key and seed in baseline]
        if not ran:
            continue
        points = [by_key[pruner, seed].to_target(targets[seed]) for seed in ran]
        reached = [point for point in points if point is not None]
        epochs = sum(by_key[pruner, seed].epochs for seed in ran)
        wall = sum(by_key[pruner, seed].wall_seconds for seed in ran)
        if len(reached) == len(ran):
            epoch_ratio = sum(point[0] for point in reached) / sum(baseline[seed][0] for seed in ran)
            wall_ratio = sum(point[1] for point in reached) / sum(baseline[seed][1] for seed in ran)
            meets = epoch_ratio <= GOAL_EPOCHS and wall_ratio <= GOAL_WALL
            ratios = f"{epoch_ratio:>11.2f} {wall_ratio:>9.2f} {'yes' if meets else 'no':>4}"
        else:
            ratios = f"{'-':>11} {'-':>9} {'no':>4}"
        lines.append(f"{pruner:<30} {len(ran):>5} {f'{len(reached)}/{len(ran)}':>7} {epochs:>6} {wall:>7.1f} {ratios}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="TPE sampler seeds")
    parser.add_argument("--trials", type=int, default=60, help="trials per sweep")
    parser.add_argument("--epochs", type=int, default=10, help="the epoch budget of every trial")
    parser.add_argument("--jobs", type=int, default=2, help="trials at a time (joblib workers)")
    parser.add_argument("--subset", type=int, default=None, help="train on N images (dataset.subset)")
    parser.add_argument(
        "--pruners", nargs="+", default=None, help=f"default: {' '.join(pruner_options())} (conf/hydra/sweeper/pruner)"
    )
    parser.add_argument("--dataset-path", default=None, help="a folder with the IDX files (dataset.path)")
    parser.add_argument(
        "--runs",
        type=Path,
        default=ROOT / "multirun" / "sweep_efficiency",
        help="where the sweeps run; sweeps.jsonl there records the finished ones",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    pruners = args.pruners or pruner_options()
    known = pruner_options()
    unknown = [pruner for pruner in pruners if pruner.split(":")[0] not in known]
    if unknown or UNPRUNED not in pruners:
        parser.error(
            f"--pruners {' '.join(pruners)}: each must be one of {', '.join(known)} (NAME:key=value sets "
            f"a setting), and {UNPRUNED} must be among them: it is what the others are measured against"
        )
    args.runs.mkdir(parents=True, exist_ok=True)
    record = args.runs / "sweeps.jsonl"
    done = {(sweep.pruner, sweep.seed) for sweep in load_sweeps(record)}
    for seed in args.seeds:
        for pruner in pruners:
            if (pruner, seed) in done:
                continue
            sweep = run_sweep(pruner, seed, args, args.runs)
            with record.open("a") as file:
                file.write(json.dumps(asdict(sweep)) + "\n")
            print(
                f"{pruner} seed {seed}: {len(sweep.trials)} trials, {sweep.epochs} epochs, "
                f"{sweep.wall_seconds:.0f} s, best {percent(sweep.best)}",
                flush=True,
            )
    command = ["python benchmarks/sweep_efficiency.py", *(argv if argv is not None else sys.argv[1:])]
    header = (
        f"# {' '.join(command)}\n"
        f"# {args.trials} TPE trials of {args.epochs} epochs per sweep, {args.jobs} at a time (joblib), "
        f"{'all' if args.subset is None else args.subset} training images, seeds {args.seeds}; "
        f"accuracies in %, target = the unpruned best - {100 * TARGET_GAP:.1f} points"
    )
    table = "\n".join([header, *report(load_sweeps(record), pruners, args.seeds)])
    print(table)
    if args.out is not None:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
