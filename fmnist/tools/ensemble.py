"""Average the predictions of saved models, and of shifted copies of each image:

    python -m fmnist.tools.ensemble RUN_DIR... [--top K SWEEP_DIR...] [--tta N] [--select greedy [--by accuracy]]
                              [--held-out] [--out DIR] [--dataset-path DIR]

Members are the runs named (each a training run's folder holding ``model.npz``) and, with ``--top K
SWEEP_DIR...``, the K runs of one or more sweeps with the best validation accuracy (``metrics.json``,
ranked together as :mod:`fmnist.tools.report` ranks them; never by test). A run named twice counts once. With
M members f_m (logits) and N test-time copies (``--tta N``, default 1: the image as it is):

    p_m(x) = (1/N) Σ_{j<N} softmax(f_m(S_j x))      each member's probabilities, averaged over the copies
    P(x)   = Σ_m w_m p_m(x)                         the ensemble's probabilities (n, k)
    ŷ(x)   = argmax_k P(x)_k

with w_m = 1/M, or with ``--select greedy`` w_m = c_m / Σ c: forward selection with replacement
(Caruana et al. 2004) from the members as a library. Starting from no pick, each pick adds the member
(again, possibly) whose addition gives the lowest validation score; c_m counts the picks of member m, and
selection stops when no addition lowers the score (or after ``MAX_PICKS``). The score (``--by``) is
``log_loss``, -mean_i log P(x_i)_{y_i}, or ``accuracy``: the validation error 1 - accuracy(P), ties
broken by the log loss (Caruana's own criterion; label-smoothed members, whose probabilities are
deliberately soft, lose on log loss to plain cross-entropy ones however accurate they are). Validation
decides the picks, so the selected ensemble's validation accuracy is optimistic; its test accuracy is the
honest figure.

``--held-out`` measures the selection on validation images it did not see, so that ensembles can be
compared (chosen between) on validation without the selection's optimism. The validation images are
split into halves H_1, H_2 (the first ⌊n/2⌋ of ``np.random.default_rng(HELD_OUT_SEED).permutation(n)``,
and the rest); with picks(H) the selection made on the images H alone,

    held_out_val_accuracy = ½ [acc_{H_2}(P_picks(H_1)) + acc_{H_1}(P_picks(H_2))]

where acc_H is the accuracy on the images H. Without ``--select`` nothing is chosen and it is the mean
of the two halves' accuracies (the validation accuracy, for an even n). Each selection sees half the
images the final one sees, so the figure is, if anything, pessimistic about the final selection.

where S_j moves the image by ``TTA_SHIFTS[j]`` = (dy, dx) pixels (rows down, columns right, vacated pixels
0, as :func:`fmnist.core.augment.shifted` does): (0, 0) the image itself, then (0, -1) left, (0, 1) right,
(-1, 0) up, (1, 0) down, then the diagonals (-1, -1), (-1, 1), (1, -1), (1, 1); so N is 1 to 9, and
N = 5 is the image with its four 1-pixel neighbours. Shifting acts on the network's inputs, after any
``dataset.standardize`` (as training-time shifts do).

Printed: validation and test accuracy of each member and of the ensemble, each without test-time copies
and, when N > 1, with them. Validation accuracy is what to choose an ensemble by; test is reported.
Written into ``--out`` (default ``outputs/ensembles/YYYY-MM-DD/HH-MM-SS/`` under the current folder, as
Hydra places runs): ``ensemble.json`` (members and figures) and the ensemble's test confusion matrix and
misclassified images (with the copies when N > 1).

Members must have the same validation set, else the ensemble's validation accuracy would be measured
partly on images some members trained on: the same dataset, ``dataset.val_fraction`` and split seed
(``dataset.split_seed``, or ``seed`` where that is null), and for identical inputs the same
``dataset.subset`` and ``dataset.standardize`` (whose statistics come from the training split), input
size and number of classes. Runs of different seeds share a split when trained with one
``dataset.split_seed=S``. The data is loaded once (once per ``model.dtype`` among the members), with the
first member's ``dataset.path`` unless ``--dataset-path`` is given. Exit code 2 for bad input.
"""

from __future__ import annotations

import argparse
import math
import sys
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from fmnist import IMAGE_SHAPE
from fmnist.config.dotted import override_value
from fmnist.core.augment import shifted
from fmnist.core.losses import softmax
from fmnist.core.network import MLP
from fmnist.data.datasets import DataError, DataSplits, load_dataset
from fmnist.runs.model_file import load_model
from fmnist.runs.outputs import (
    MODEL_FILE,
    OutputFolderError,
    create_output_folder,
    write_evaluation_plots,
    write_json_atomically,
)
from fmnist.runs.run_folders import collect_runs, ranked, run_dirs

#: Test-time copies, in the order ``--tta N`` takes them: (dy, dx) in pixels.
TTA_SHIFTS = ((0, 0), (0, -1), (0, 1), (-1, 0), (1, 0), (-1, -1), (-1, 1), (1, -1), (1, 1))
MAX_PICKS = 100  # --select greedy: picks at most (it stops earlier, when no pick lowers the loss)
HELD_OUT_SEED = 0  # --held-out: the seed of the permutation that halves the validation images
ENSEMBLE_FILE = "ensemble.json"
SPLIT_FIX = (
    "Ensemble runs trained on the same data: the same dataset, dataset.val_fraction, dataset.subset and "
    "dataset.standardize, and one dataset.split_seed=S for all of them (their seeds may differ), e.g.\n"
    "  python train.py -m seed=0,1,2 dataset.split_seed=0"
)


class EnsembleError(Exception):
    """Bad input, with a message for the user (what, which run, how to fix)."""


@dataclass
class Member:
    run_dir: Path
    network: MLP
    config: dict  # the experiment config saved with the weights


# ---------------------------------------------------------------------------------------- members


def top_runs(sweep_dirs: list[Path], count: int) -> list[Path]:
    """The ``count`` runs below the ``sweep_dirs`` with the highest validation accuracy, ranked together
    (ties in the order of the folders, then of their jobs)."""
    runs = []
    for sweep_dir in sweep_dirs:
        if not sweep_dir.is_dir():
            raise EnsembleError(f"--top {count} {sweep_dir}: no such folder; pass a sweep's folder (hydra.sweep.dir)")
        runs += collect_runs(sweep_dir)
    finished = [run for run in ranked(runs) if run.finished]
    if len(finished) < count:
        if len(sweep_dirs) == 1 and [run.job_dir for run in runs] == sweep_dirs:
            raise EnsembleError(
                f"--top {count} {sweep_dirs[0]}: that is one training run's folder, not a sweep's; "
                f"name run folders without --top, or give --top a sweep's folder (hydra.sweep.dir)"
            )
        where = "the sweep has" if len(sweep_dirs) == 1 else f"the {len(sweep_dirs)} sweeps have"
        fix = (
            f"use --top {len(finished)} or less"
            if finished
            else "let their runs finish first (rerun the sweep's command with the same hydra.sweep.dir)"
        )
        raise EnsembleError(
            f"--top {count} {' '.join(map(str, sweep_dirs))}: {where} {len(finished)} runs with a "
            f"validation accuracy, fewer than {count}; {fix}"
        )
    return [run.job_dir for run in finished[:count]]


def load_members(run_dirs: list[Path]) -> list[Member]:
    """Each run's network and config from its ``model.npz``, each folder once."""
    members, seen = [], set()
    for run_dir in run_dirs:
        if run_dir.resolve() in seen:
            continue
        seen.add(run_dir.resolve())
        path = run_dir / MODEL_FILE
        if not run_dir.is_dir():
            raise EnsembleError(f"{run_dir}: no such folder; pass training runs' folders")
        if not path.is_file():
            raise EnsembleError(
                f"{run_dir} holds no {MODEL_FILE}: "
                + (
                    sweep_hint(run_dir)
                    or "pass the folder of a training run that completed (or was interrupted after its "
                    "first epoch), where the model is saved"
                )
            )
        try:
            network, config = load_model(path)
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise EnsembleError(f"{path} cannot be read ({error}); retrain that run or leave it out") from error
        members.append(Member(run_dir, network, config))
    if not members:
        raise EnsembleError("no runs to ensemble: name RUN_DIRs and/or --top K SWEEP_DIR")
    return members


def sweep_hint(folder: Path) -> str | None:
    """For a sweep's folder named where a run's is expected: what it holds and what to pass instead."""
    jobs = [job for job in run_dirs(folder) if job != folder]
    if not jobs:
        return None
    saved = [job for job in jobs if (job / MODEL_FILE).is_file()]
    if not saved:
        return (
            "it is a sweep's folder, and none of the runs in it has a saved model yet (running, or stopped: "
            "rerun the sweep's command with the same hydra.sweep.dir to finish them)"
        )
    return (
        f"it is a sweep's folder (runs with a saved model: {len(saved)} of {len(jobs)}); pass "
        f"--top K {folder} for its K runs with the best validation accuracy, or name run folders, e.g. {saved[0]}"
    )


def data_settings(member: Member) -> dict[str, str]:
    """What decides a member's validation set and inputs, as written in overrides (null, true)."""
    dataset = member.config["dataset"]
    split_seed = dataset.get("split_seed")  # runs from before dataset.split_seed lack it (and standardize)
    settings = {
        "dataset.name": dataset["name"],
        "dataset.val_fraction": dataset["val_fraction"],
        "split seed (dataset.split_seed, or seed where that is null)": member.config["seed"]
        if split_seed is None
        else split_seed,
        "dataset.subset": dataset.get("subset"),
        "dataset.standardize": dataset.get("standardize", False),
        "input size": member.network.layer_sizes[0],
        "classes": member.network.layer_sizes[-1],
    }
    return {key: override_value(value) for key, value in settings.items()}


def check_shared_data(members: list[Member]) -> None:
    """Refuse members whose validation sets or inputs differ, naming each setting that differs and where."""
    settings = [data_settings(member) for member in members]
    differences = []
    for key in settings[0]:
        runs_by_value: dict[str, list[str]] = {}
        for member, values in zip(members, settings):
            runs_by_value.setdefault(values[key], []).append(str(member.run_dir))
        if len(runs_by_value) > 1:
            where = "; ".join(f"{value} in {', '.join(runs)}" for value, runs in runs_by_value.items())
            differences.append(f"  {key}: {where}")
    if differences:
        raise EnsembleError(
            "the runs do not share their validation set and inputs, so their ensemble cannot be "
            "validated:\n" + "\n".join(differences) + "\n" + SPLIT_FIX
        )


# ---------------------------------------------------------------------------------------- predictions


def tta_copies(features: np.ndarray, copies: int) -> Iterator[np.ndarray]:
    """S_j x for j < ``copies``: the images (n, 784) moved by ``TTA_SHIFTS[j]``, one copy at a time."""
    pictures = features.reshape(len(features), *IMAGE_SHAPE)  # (n, 28, 28)
    return (shifted(pictures, dy, dx).reshape(features.shape) for dy, dx in TTA_SHIFTS[:copies])


def softmax_outputs(network: MLP, features: np.ndarray, copies: int) -> np.ndarray:
    """softmax(f(S_j x)) for each copy j < ``copies``: (copies, n, k), float64."""
    return np.stack([softmax(network.predict_logits(copy).astype(np.float64)) for copy in tta_copies(features, copies)])


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Share of images whose argmax_k P_k is their label; NaN for no images (``dataset.val_fraction=0``)."""
    return float((probabilities.argmax(axis=1) == labels).mean()) if len(labels) else math.nan


@dataclass
class EnsembleResult:
    """Every member's softmax outputs on the validation and test sets, for each test-time copy."""

    run_dirs: list[Path]
    copies: int
    data: DataSplits  # as loaded for the first member
    outputs: dict[str, np.ndarray]  # "val", "test" -> softmax(f_m(S_j x)): (members, copies, n, k)

    def probabilities(self, split: str, members: list[int] | None = None, copies: int | None = None) -> np.ndarray:
        """(n, k): the mean over ``members`` (all by default; a member listed c times weighs c) and the first
        ``copies`` copies (all by default): P, or a member's own p_m with ``members=[m]``."""
        if members is None:
            return self.outputs[split][:, : copies or self.copies].mean(axis=(0, 1))
        distinct, counts = np.unique(members, return_counts=True)  # each member once, weighed by its count
        means = self.outputs[split][distinct, : copies or self.copies].mean(axis=1)  # (distinct, n, k)
        return np.tensordot(counts / counts.sum(), means, axes=1)

    def accuracies(self, members: list[int] | None = None) -> dict[str, float]:
        """val_accuracy and test_accuracy on the images as they are; with copies, tta_val_accuracy and
        tta_test_accuracy too."""
        labels = {"val": self.data.y_val, "test": self.data.y_test}
        figures = {
            f"{split}_accuracy": accuracy(self.probabilities(split, members, copies=1), labels[split])
            for split in labels
        }
        if self.copies > 1:
            figures.update(
                {
                    f"tta_{split}_accuracy": accuracy(self.probabilities(split, members), labels[split])
                    for split in labels
                }
            )
        return figures


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """-mean_i log P(x_i)_{y_i}, with P clipped at 1e-12."""
    return float(-np.log(np.maximum(probabilities[np.arange(len(labels)), labels], 1e-12)).mean())


def selection_score(probabilities: np.ndarray, labels: np.ndarray, by: str) -> tuple[float, ...]:
    """What greedy selection lowers (``--by``): (log loss,) or (1 - accuracy, log loss), compared in order."""
    loss = log_loss(probabilities, labels)
    return (loss,) if by == "log_loss" else (1 - accuracy(probabilities, labels), loss)


def greedy_selection(result: EnsembleResult, by: str = "log_loss", images: np.ndarray | None = None) -> list[int]:
    """Forward selection with replacement by a validation score (``by``: log_loss or accuracy; see the module
    docstring) on the validation ``images`` (indices; all by default): the picked members' indices, in the
    order picked, repeats included."""
    images = slice(None) if images is None else images
    labels = result.data.y_val[images]
    if not len(labels):
        raise EnsembleError(
            f"--select greedy picks members by validation {by}, but the runs have no validation set "
            "(dataset.val_fraction=0); train with a validation split or leave out --select"
        )
    library = [result.probabilities("val", [member])[images] for member in range(len(result.run_dirs))]
    picks: list[int] = []
    total = np.zeros_like(library[0])
    best = (math.inf,)
    while len(picks) < MAX_PICKS:
        scores = [selection_score((total + member) / (len(picks) + 1), labels, by) for member in library]
        pick = min(range(len(scores)), key=scores.__getitem__)  # ties: the first member
        if scores[pick] >= best:
            break
        picks.append(pick)
        total += library[pick]
        best = scores[pick]
    return picks


def validation_halves(count: int) -> tuple[np.ndarray, np.ndarray]:
    """H_1, H_2: the indices of ``count`` validation images in two halves drawn with ``HELD_OUT_SEED``."""
    order = np.random.default_rng(HELD_OUT_SEED).permutation(count)
    return order[: count // 2], order[count // 2 :]


def held_out_accuracies(result: EnsembleResult, select: Callable[[np.ndarray], list[int] | None]) -> dict[str, float]:
    """held_out_val_accuracy (and, with copies, tta_held_out_val_accuracy): the mean over the two halves of
    the validation images of the accuracy there of the members that ``select`` (validation image indices ->
    picks, or None for all members alike) chose on the other half."""
    labels = result.data.y_val
    if len(labels) < 2:
        raise EnsembleError(
            f"--held-out splits the validation images in two, but the runs have {len(labels)}; "
            "train with a validation split (dataset.val_fraction > 0) or leave out --held-out"
        )
    halves = validation_halves(len(labels))
    folds = [(select(chosen_on), measured_on) for chosen_on, measured_on in (halves, halves[::-1])]
    names = {"held_out_val_accuracy": 1}
    if result.copies > 1:
        names["tta_held_out_val_accuracy"] = result.copies
    return {
        name: float(
            np.mean(
                [
                    accuracy(result.probabilities("val", picks, copies)[images], labels[images])
                    for picks, images in folds
                ]
            )
        )
        for name, copies in names.items()
    }


def predict(members: list[Member], copies: int, dataset_path: str | None = None) -> EnsembleResult:
    """Check that the members share their data, load it and compute every member's softmax outputs."""
    check_shared_data(members)
    # load_dataset itself rather than hydra's instantiate, which would wrap its DataError in its own exception
    dataset = {key: value for key, value in members[0].config["dataset"].items() if key != "_target_"}
    if dataset_path is not None:
        dataset["path"] = dataset_path
    loaded: dict[str, DataSplits] = {}  # model.dtype -> the data in that dtype
    outputs: dict[str, list[np.ndarray]] = {"val": [], "test": []}
    for member in members:
        dtype = member.network.dtype.name
        if dtype not in loaded:
            loaded[dtype] = load_dataset(**dataset, seed=members[0].config["seed"], dtype=dtype)
        for split, member_outputs in outputs.items():
            features = getattr(loaded[dtype], f"x_{split}")
            member_outputs.append(softmax_outputs(member.network, features, copies))
    return EnsembleResult(
        [member.run_dir for member in members],
        copies,
        next(iter(loaded.values())),
        {split: np.stack(member_outputs) for split, member_outputs in outputs.items()},
    )


# ---------------------------------------------------------------------------------------- command


def default_out_dir(now: datetime) -> Path:
    return Path("outputs") / "ensembles" / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")


def write_outputs(
    result: EnsembleResult,
    out_dir: Path,
    seed: int,
    picks: list[int] | None = None,
    selected_by: str = "log_loss",
    held_out: dict[str, float] | None = None,
) -> dict:
    """``ensemble.json`` and the ensemble's test confusion matrix and misclassified images; returns the json.
    ``picks``: the members selected by validation ``selected_by`` (repeats weigh more), or None for all of
    them alike; ``held_out``: the ensemble's held-out validation accuracies, if measured."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = result.data
    predictions = result.probabilities("test", picks).argmax(axis=1)
    copies = f", {result.copies} test-time copies" if result.copies > 1 else ""
    size = len(result.run_dirs) if picks is None else f"{len(set(picks))} selected"
    write_evaluation_plots(
        out_dir,
        data.pixels(data.x_test),
        data.y_test,
        predictions,
        data.class_names,
        seed=seed,
        title=f"{data.name} test set, ensemble of {size}{copies}",
    )
    summary = {
        "dataset": data.name,
        "tta": result.copies,
        "tta_shifts": [list(shift) for shift in TTA_SHIFTS[: result.copies]],
        "selection": "all" if picks is None else f"greedy by {selected_by}",
        "validation_images": len(data.y_val),
        "ensemble": {**result.accuracies(picks), **(held_out or {})},
        "members": [
            {
                "run_dir": str(run_dir),
                **result.accuracies([index]),
                **({} if picks is None else {"picks": picks.count(index)}),
            }
            for index, run_dir in enumerate(result.run_dirs)
        ],
    }
    write_json_atomically(out_dir / ENSEMBLE_FILE, summary)
    return summary


def format_report(summary: dict, out_dir: Path) -> str:
    """A table: one row per member, then the ensemble; a column per accuracy, in percent (and the picks of
    each member, after a selection)."""
    rows = [(member["run_dir"], member) for member in summary["members"]] + [("ensemble", summary["ensemble"])]
    columns = list(summary["ensemble"])
    selected = summary["selection"] != "all"
    width = max(len(name) for name, _ in rows)
    lines = []
    if summary["tta"] > 1:
        shifts = " ".join(f"({dy}, {dx})" for dy, dx in summary["tta_shifts"])
        lines.append(f"tta_*: the mean over {summary['tta']} copies of each image, shifted by (dy, dx) = {shifts}")
    if "held_out_val_accuracy" in summary["ensemble"]:
        chosen_where = "of the selection made on the other half, " if selected else ""
        lines.append(
            f"held_out_*: the accuracy on each half of the validation images {chosen_where}averaged over "
            "the two halves (the ensemble only; compare ensembles by it)"
        )
    if not summary["validation_images"]:
        lines.append(
            f"no validation split (the runs trained with dataset.val_fraction=0): nothing was chosen, the "
            f"{len(summary['members'])} runs weigh alike; test accuracy only"
        )
    if selected:
        picks = sum(member["picks"] for member in summary["members"])
        chosen = sum(member["picks"] > 0 for member in summary["members"])
        lines.append(
            f"{summary['selection'].replace('_', ' ')} on validation: {picks} picks of {chosen} of the "
            f"{len(summary['members'])} runs, each weighing its picks (validation chose them: "
            "the ensemble's validation accuracy is optimistic, its test accuracy is not)"
        )
    lines.append(f"{'':<{width}}  " + "  ".join(columns) + ("  picks" if selected else ""))
    for name, figures in rows:
        cells = [
            (format_percent(figures[column]) if column in figures else "").rjust(len(column)) for column in columns
        ]
        if selected:
            cells.append(str(figures.get("picks", picks)).rjust(5))  # the ensemble's row: every pick
        lines.append(f"{name:<{width}}  " + "  ".join(cells))
    lines.append(f"{ENSEMBLE_FILE}, confusion matrix and misclassified test images of the ensemble in {out_dir}")
    return "\n".join(lines)


def format_percent(fraction: float) -> str:
    return "n/a" if math.isnan(fraction) else f"{100 * fraction:.2f}%"


def tta_count(text: str) -> int:
    """``--tta N``: a whole number of copies from 1 to len(TTA_SHIFTS)."""
    allowed = f"a whole number of copies from 1 (no shifted copies) to {len(TTA_SHIFTS)}"
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}") from None
    if not 1 <= count <= len(TTA_SHIFTS):
        raise argparse.ArgumentTypeError(f"{count} is not {allowed} (the image and its 1-pixel shifts)")
    return count


def top_count(text: str) -> int:
    """``--top K``: a whole number of runs >= 1."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise EnsembleError(f"--top {text}: K must be a whole number of runs >= 1, as in --top 3 SWEEP_DIR")
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist.tools.ensemble", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "run_dirs",
        nargs="*",
        type=Path,
        default=[],
        metavar="RUN_DIR",
        help="training runs' folders (each holds model.npz)",
    )
    parser.add_argument(
        "--top",
        nargs="+",
        metavar=("K", "SWEEP_DIR"),
        help="also the K runs with the best validation accuracy of the sweeps SWEEP_DIR...",
    )
    parser.add_argument(
        "--tta",
        type=tta_count,
        default=1,
        metavar="N",
        help=f"average N copies of each image: the image and its shifts {TTA_SHIFTS[1:]}, "
        "in that order (default 1: the image only)",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default outputs/ensembles/DATE/TIME)")
    parser.add_argument(
        "--dataset-path", metavar="DIR", help="folder of the dataset's files, if not the first run's dataset.path"
    )
    parser.add_argument(
        "--select",
        choices=["greedy"],
        help="greedy: weigh the runs by forward selection with replacement on the validation set",
    )
    parser.add_argument(
        "--by",
        choices=["log_loss", "accuracy"],
        help="--select greedy's criterion: log_loss (default), or accuracy with ties broken by log loss",
    )
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="also measure the ensemble on validation images its selection did not see: select on "
        "one half of them, measure on the other, both ways (compare ensembles by this)",
    )
    args = parser.parse_args(argv)
    if args.by and not args.select:
        parser.error(f"--by {args.by} is the criterion of --select greedy: add --select greedy, or leave out --by")
    selected_by = args.by or "log_loss"
    out_dir = Path(args.out or default_out_dir(datetime.now()))
    out_existed = out_dir.exists()
    try:
        run_dirs = list(args.run_dirs)
        if args.top:
            if len(args.top) < 2:
                raise EnsembleError(
                    f"--top {args.top[0]}: name the sweeps too, as in --top 3 SWEEP_DIR [SWEEP_DIR ...]"
                )
            run_dirs += top_runs([Path(folder) for folder in args.top[1:]], top_count(args.top[0]))
        members = load_members(run_dirs)
        check_shared_data(members)  # (predict checks too) refused runs leave no output folder behind
        create_output_folder(out_dir)  # before the work, not after it
        result = predict(members, args.tta, args.dataset_path)

        def select(images: np.ndarray | None = None) -> list[int] | None:
            return greedy_selection(result, selected_by, images) if args.select == "greedy" else None

        held_out = held_out_accuracies(result, select) if args.held_out else None
        summary = write_outputs(
            result, out_dir, seed=members[0].config["seed"], picks=select(), selected_by=selected_by, held_out=held_out
        )
    except (EnsembleError, DataError, OutputFolderError) as error:
        if not out_existed and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()  # e.g. a wrong --dataset-path: no empty folder left behind
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(summary, out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
