"""Checkpoints a run goes on from, and the rules for resuming a run folder.

After each epoch's validation the run writes ``RUN_DIR/checkpoints/last.npz`` (the one before
becomes ``prev.npz``), atomically (:mod:`fmnist.runs.atomic`). It holds the :class:`TrainingState`
(weights, optimiser buffers and step count, the random generator, the history, the weight average, early
stopping's wait and best weights, a request to stop after that epoch), the config keys that shape training
with their hash, the
wandb run id, the run's status and a format version. When a run ends for good (completed, pruned or
diverged) its checkpoint is marked with that status and the summary.

Starting a run in a folder, by ``resume``:
    auto   continue from the checkpoint if there is one, else start
    never  start over; earlier files are moved to ``RUN_DIR/replaced/TIME/``, never deleted
    must   continue, or refuse (exit 2) when there is nothing to continue
A checkpoint made with another training config is refused, naming the keys that differ; an
unreadable ``last.npz`` falls back to ``prev.npz`` with a warning; both unreadable is an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmnist.config.dotted import flatten
from fmnist.runs.atomic import remove_temporaries, write_atomically
from fmnist.training.checkpointing import TrainingState

FORMAT_VERSION = 1
CHECKPOINT_DIR = "checkpoints"
LAST, PREVIOUS = "last.npz", "prev.npz"
RESUME_MODES = ("auto", "never", "must")
FINAL_STATUSES = ("completed", "pruned", "diverged")  # a rerun of such a run trains nothing
REPLACED_DIR = "replaced"
BEST_WEIGHTS = "best_weights"  # the array of early stopping's state, kept in the archive beside the others
EARLY_STOPPING_WEIGHTS = f"early_stopping/{BEST_WEIGHTS}"
#: Config keys that change what a run writes or shows, never what it learns (left out of the comparison).
#: ``optuna_trial`` names the trial a sweep's job reports to (fmnist/sweeps/pruning.py): a requeued trial, or a
#: pruned one continued to its full budget, goes on from the same checkpoint under another trial or none.
OUTPUT_ONLY_KEYS = (
    "logger",
    "trainer.progress",
    "plots",
    "blas_threads",
    "resume",
    "checkpoint",
    "dataset.path",
    "dataset.download",
    "optuna_trial",
)
#: What stays in a run folder when ``resume=never`` moves the rest aside: Hydra's files of this run.
KEPT_BY_NEVER = (".hydra", ".lock", REPLACED_DIR)

log = logging.getLogger(__name__)


class ResumeError(RuntimeError):
    """The run folder cannot be used as asked; the message says what to do."""


@dataclass
class Checkpoint:
    state: TrainingState
    training_config: dict  # flattened config keys that shape training
    wandb_run_id: str | None = None
    status: str = "running"
    summary: dict = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES


def training_config(config: dict) -> dict:
    """The flattened ``config`` minus :data:`OUTPUT_ONLY_KEYS`: what a resumed run must share."""
    return {key: value for key, value in flatten(config).items() if not is_output_only(key)}


def is_output_only(key: str) -> bool:
    """Whether the dotted ``key`` is, or lies under, one of :data:`OUTPUT_ONLY_KEYS`."""
    return any(key == prefix or key.startswith(prefix + ".") for prefix in OUTPUT_ONLY_KEYS)


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def write_checkpoint(run_dir: str | Path, checkpoint: Checkpoint, keep_previous: bool = True) -> Path:
    """Write ``RUN_DIR/checkpoints/last.npz`` atomically, the former one kept as ``prev.npz``."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    state = checkpoint.state
    meta = {
        "format_version": FORMAT_VERSION,
        "epoch": state.epoch,
        "history": state.history,
        "rng": state.rng,
        "base_lr": state.base_lr,
        "optimizer_t": state.optimizer["t"],
        "optimizer_scalars": state.optimizer["scalars"],
        "training_config": checkpoint.training_config,
        "config_hash": config_hash(checkpoint.training_config),
        "wandb_run_id": checkpoint.wandb_run_id,
        "status": checkpoint.status,
        "summary": checkpoint.summary,
        "stopped": state.stopped,
        "early_stopping": None,
    }
    buffers = {f"optimizer/{key}": value for key, value in state.optimizer["buffers"].items()}
    arrays = {"params": state.params, **buffers}
    if state.averaged_params is not None:
        arrays["averaged_params"] = state.averaged_params
    if state.early_stopping is not None:
        meta["early_stopping"] = {key: value for key, value in state.early_stopping.items() if key != BEST_WEIGHTS}
        if state.early_stopping[BEST_WEIGHTS] is not None:
            arrays[EARLY_STOPPING_WEIGHTS] = state.early_stopping[BEST_WEIGHTS]
    return write_atomically(
        folder / LAST,
        lambda file: np.savez(file, meta=np.array(json.dumps(meta)), **arrays),
        previous=folder / PREVIOUS if keep_previous else None,
    )


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Load one checkpoint file; ValueError (or OSError) says why it is unusable."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            arrays = {name: archive[name] for name in archive.files if name != "meta"}
    except (OSError, EOFError) as error:
        raise ValueError(f"cannot be read ({type(error).__name__}: {error})") from None
    except Exception as error:  # zipfile.BadZipFile, KeyError, json errors: a truncated or foreign file
        raise ValueError(f"is damaged ({type(error).__name__}: {error})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"has format version {meta.get('format_version')}, this fmnist reads {FORMAT_VERSION}")
    if meta["config_hash"] != config_hash(meta["training_config"]):
        raise ValueError("is damaged (its config does not match its hash)")
    early_stopping = meta.get("early_stopping")
    if early_stopping is not None:
        early_stopping = {**early_stopping, BEST_WEIGHTS: arrays.get(EARLY_STOPPING_WEIGHTS)}
    buffers = {
        name.removeprefix("optimizer/"): array for name, array in arrays.items() if name.startswith("optimizer/")
    }
    state = TrainingState(
        epoch=meta["epoch"],
        params=arrays["params"],
        rng=meta["rng"],
        history=meta["history"],
        base_lr=meta["base_lr"],
        optimizer={"t": meta["optimizer_t"], "scalars": meta["optimizer_scalars"], "buffers": buffers},
        averaged_params=arrays.get("averaged_params"),
        stopped=meta.get("stopped"),
        early_stopping=early_stopping,
    )
    return Checkpoint(
        state=state,
        training_config=meta["training_config"],
        wandb_run_id=meta["wandb_run_id"],
        status=meta["status"],
        summary=meta["summary"],
    )


def latest_checkpoint(run_dir: str | Path) -> Checkpoint | None:
    """``last.npz``, else ``prev.npz`` (with a warning when ``last.npz`` exists but is unusable), else None."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    problems = []
    for name in (LAST, PREVIOUS):
        path = folder / name
        if not path.exists():
            continue
        try:
            checkpoint = read_checkpoint(path)
        except ValueError as error:
            problems.append(f"{path} {error}")
            continue
        if problems:
            log.warning("%s; resuming from %s (epoch %d) instead", problems[0], path, checkpoint.state.epoch)
        return checkpoint
    if problems:
        raise ResumeError(
            f"no usable checkpoint: {'; '.join(problems)}. Move the checkpoints folder away to keep "
            "it, or start over with resume=never (earlier files are moved aside, not deleted)"
        )
    return None


def mark_finished(run_dir: str | Path, status: str, summary: dict) -> None:
    """Record in ``last.npz`` that the run ended for good, so that a rerun trains nothing."""
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is not None:
        checkpoint.status, checkpoint.summary = status, dict(summary)
        write_checkpoint(run_dir, checkpoint, keep_previous=False)


def move_aside(run_dir: Path) -> Path | None:
    """Move an earlier run's files to ``RUN_DIR/replaced/TIME/``; returns that folder (None if nothing to move)."""
    earlier = [path for path in run_dir.iterdir() if path.name not in KEPT_BY_NEVER and path.suffix != ".log"]
    if not earlier:
        return None
    target = run_dir / REPLACED_DIR / time.strftime("%Y-%m-%d_%H-%M-%S")
    target.mkdir(parents=True, exist_ok=True)
    for path in earlier:
        shutil.move(str(path), target / path.name)
    return target


def differences(saved: dict, current: dict) -> list[str]:
    """``key: saved -> current`` for every key whose value differs (or exists on one side only)."""
    missing = "(not set)"
    return [
        f"{key}: {saved.get(key, missing)!r} -> {current.get(key, missing)!r}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key, missing) != current.get(key, missing)
    ]


def prepare_run_folder(run_dir: str | Path, mode: str, current_config: dict) -> Checkpoint | None:
    """Apply ``resume`` = ``mode`` to ``run_dir``: the checkpoint to continue from, or None to start afresh."""
    run_dir = Path(run_dir)
    if mode not in RESUME_MODES:
        raise ResumeError(f"resume must be one of {', '.join(RESUME_MODES)}, got {mode!r}")
    remove_temporaries(run_dir / CHECKPOINT_DIR)
    remove_temporaries(run_dir)
    if mode == "never":
        moved_to = move_aside(run_dir)
        if moved_to is not None:
            log.warning("resume=never: the earlier files of %s were moved to %s", run_dir, moved_to)
        return None
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        if mode == "must":
            raise ResumeError(
                f"resume=must, but {run_dir} holds no checkpoint ({CHECKPOINT_DIR}/{LAST}). Point "
                "hydra.run.dir (or hydra.sweep.dir) at the run to continue, or drop resume=must"
            )
        return None
    changed = differences(checkpoint.training_config, current_config)
    if changed:
        raise ResumeError(
            f"{run_dir} holds a run made with another config ({'; '.join(changed)}). To continue it, "
            "rerun with its settings; to start over in this folder, add resume=never (its files are "
            "moved aside, not deleted); or choose another hydra.run.dir"
        )
    return checkpoint
