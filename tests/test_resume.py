"""Nothing lost: checkpoints every epoch, exact resume after kill -9 / SIGTERM / Ctrl-C, and the refusals.

A "killed" run is train.py run through tests/killer.py, which sends a real signal to the process at a
chosen optimiser step or inside a checkpoint write; rerunning the same command must then end exactly
(np.array_equal, timings aside) as a run that was never interrupted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from fmnist.runs.outputs import CONFUSION_MATRIX_PNG, LEARNING_CURVES_PNG, METRICS_FILE, MISCLASSIFIED_PNG, MODEL_FILE
from fmnist.runs.resume import CHECKPOINT_DIR, LAST, PREVIOUS, read_checkpoint
from tests.conftest import CONF_DIR, ROOT, group_options

EPOCHS = 4
BATCHES_PER_EPOCH = 9  # 270 training images (300 minus the 10 % validation split) in batches of 32
# A small network with dropout and shifted images, so that every source of randomness is exercised.
RUN_SETTINGS = [
    "model=mlp",
    "model.num_layers=2",
    "model.hidden_size=16",
    "model.dropout=0.2",
    "augment.max_shift=1",
    "augment.cutout=4",
    "augment.until=0.75",
    f"trainer.epochs={EPOCHS}",
    "trainer.batch_size=32",
    "optimizer=adam",
    "optimizer.lr=0.003",
    "trainer.progress=lines",
]


def train(run_dir: Path, data_dir: Path, *settings: str, kill: tuple = (), timeout: int = 120):
    """``python train.py`` on the tiny dataset (through tests/killer.py when ``kill`` = (moment, n, signal))."""
    script = [str(ROOT / "tests" / "killer.py"), *map(str, kill)] if kill else [str(ROOT / "train.py")]
    command = [
        sys.executable,
        *script,
        f"dataset.path={data_dir}",
        "dataset.download=false",
        "logger=none",
        "plots=false",
        f"hydra.run.dir={run_dir}",
        *RUN_SETTINGS,
        *settings,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env={**os.environ, "WANDB_MODE": "disabled"}
    )


def outcome(run_dir: Path) -> dict:
    """What must not depend on interruptions: weights, optimiser state, metrics without timings."""
    checkpoint = read_checkpoint(run_dir / CHECKPOINT_DIR / LAST)
    metrics = json.loads((run_dir / METRICS_FILE).read_text())

    def untimed(rows):
        return [{key: value for key, value in row.items() if key != "seconds_per_epoch"} for row in rows]

    with np.load(run_dir / MODEL_FILE) as model:
        model_params = model["params"]
    return {
        "params": checkpoint.state.params,
        "model": model_params,
        "optimizer": checkpoint.state.optimizer,
        "rng": checkpoint.state.rng,
        "history": untimed(metrics["history"]),
        "status": metrics["status"],
        "final": {
            key: metrics[key]
            for key in (
                "val_loss",
                "val_accuracy",
                "test_loss",
                "test_accuracy",
                "best_epoch",
                "best_val_accuracy",
                "epochs_completed",
            )
        },
    }


def assert_same_outcome(resumed: dict, uninterrupted: dict) -> None:
    assert np.array_equal(resumed["params"], uninterrupted["params"])
    assert np.array_equal(resumed["model"], uninterrupted["model"])
    assert resumed["optimizer"]["t"] == uninterrupted["optimizer"]["t"]
    assert resumed["optimizer"]["scalars"] == uninterrupted["optimizer"]["scalars"]
    assert resumed["optimizer"]["buffers"].keys() == uninterrupted["optimizer"]["buffers"].keys()
    for key, buffer in uninterrupted["optimizer"]["buffers"].items():
        assert np.array_equal(resumed["optimizer"]["buffers"][key], buffer), key
    assert resumed["rng"] == uninterrupted["rng"]
    assert resumed["history"] == uninterrupted["history"]
    assert resumed["final"] == uninterrupted["final"]
    assert resumed["status"] == uninterrupted["status"] == "completed"


@pytest.fixture(scope="module")
def uninterrupted(tiny_idx_dir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    process = train(run_dir, tiny_idx_dir)
    assert process.returncode == 0, process.stderr
    return outcome(run_dir)


def metrics_of(run_dir: Path) -> dict:
    return json.loads((run_dir / METRICS_FILE).read_text())


# ---- every epoch leaves a checkpoint ----


def test_every_epoch_leaves_last_and_prev_checkpoints(tiny_idx_dir, tmp_path):
    process = train(tmp_path, tiny_idx_dir)
    assert process.returncode == 0, process.stderr
    last, previous = (read_checkpoint(tmp_path / CHECKPOINT_DIR / name) for name in (LAST, PREVIOUS))
    assert (last.state.epoch, previous.state.epoch) == (EPOCHS, EPOCHS - 1)
    assert last.status == "completed" and last.summary["test_accuracy"] == metrics_of(tmp_path)["test_accuracy"]
    assert last.state.optimizer["t"] == EPOCHS * BATCHES_PER_EPOCH
    assert last.training_config["optimizer.lr"] == 0.003 and "logger._target_" not in last.training_config
    assert last.wandb_run_id
    assert not list((tmp_path / CHECKPOINT_DIR).glob("*.tmp-*"))


def test_checkpoint_every_n_epochs_goes_back_to_the_last_saved_epoch(tiny_idx_dir, tmp_path, uninterrupted):
    killed = train(
        tmp_path, tiny_idx_dir, "checkpoint.every_n_epochs=2", kill=("step", 3 * BATCHES_PER_EPOCH + 2, "KILL")
    )
    assert killed.returncode == -9, killed.stderr
    assert len(metrics_of(tmp_path)["history"]) == 3  # epoch 3 was reported, but not saved
    assert read_checkpoint(tmp_path / CHECKPOINT_DIR / LAST).state.epoch == 2
    resumed = train(tmp_path, tiny_idx_dir, "checkpoint.every_n_epochs=2")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_outcome(outcome(tmp_path), uninterrupted)


# ---- kill -9 at any moment, then the same command ----


@pytest.mark.parametrize(
    "kill",
    [
        ("step", 2 * BATCHES_PER_EPOCH + 4, "KILL"),  # mid-epoch 3
        ("step", 2 * BATCHES_PER_EPOCH, "KILL"),  # right after epoch 2's last step
        ("checkpoint", 2, "KILL"),
    ],  # between temporary write and rename
    ids=["mid-epoch", "end-of-epoch", "inside-checkpoint-write"],
)
def test_killed_run_resumed_by_the_same_command_ends_identical(tiny_idx_dir, tmp_path, uninterrupted, kill):
    killed = train(tmp_path, tiny_idx_dir, kill=kill)
    assert killed.returncode == -9, killed.stderr
    assert metrics_of(tmp_path)["status"] == "running"
    if kill[0] == "checkpoint":
        assert list((tmp_path / CHECKPOINT_DIR).glob("last.npz.tmp-*")), "the kill should leave a temporary file"
    resumed = train(tmp_path, tiny_idx_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr + resumed.stdout
    assert_same_outcome(outcome(tmp_path), uninterrupted)
    assert not list((tmp_path / CHECKPOINT_DIR).glob("*.tmp-*")), "temporary files of the crash are removed"


# ---- signals: stop at a batch boundary, keep everything, continue later ----


@pytest.mark.parametrize("signal_name, exit_code", [("TERM", 143), ("USR1", 138), ("INT", 130)])
def test_a_stop_signal_mid_epoch_keeps_tests_and_saves_then_the_same_command_continues(
    tiny_idx_dir, tmp_path, uninterrupted, signal_name, exit_code
):
    stopped = train(tmp_path, tiny_idx_dir, kill=("step", 2 * BATCHES_PER_EPOCH + 4, signal_name))
    assert stopped.returncode == exit_code, stopped.stderr
    metrics = metrics_of(tmp_path)
    assert metrics["status"] == "interrupted"
    assert f"SIG{signal_name}" in metrics["message"] and "in epoch 3 after 2 complete epoch(s)" in metrics["message"]
    assert len(metrics["history"]) == 2 and metrics["test_accuracy"] is not None  # what was trained is tested
    assert (tmp_path / MODEL_FILE).is_file()  # ... and saved
    assert f"to continue, rerun the same command with hydra.run.dir={tmp_path}" in stopped.stdout
    # the checkpoint rolls back to the last complete epoch: the batches of epoch 3 are done again
    assert read_checkpoint(tmp_path / CHECKPOINT_DIR / LAST).state.epoch == 2
    resumed = train(tmp_path, tiny_idx_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_outcome(outcome(tmp_path), uninterrupted)


def test_ctrl_c_during_the_final_evaluation_still_completes_tests_and_saves(tiny_idx_dir, tmp_path, uninterrupted):
    process = train(tmp_path, tiny_idx_dir, "plots=true", kill=("final", 1, "INT"))
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip().splitlines()[-1].startswith("completed:")
    assert_same_outcome(outcome(tmp_path), uninterrupted)
    assert all((tmp_path / name).stat().st_size for name in ("learning_curves.png", "confusion_matrix.png"))


def test_a_second_ctrl_c_stops_at_once_and_the_run_still_resumes(tiny_idx_dir, tmp_path, uninterrupted):
    code = (
        "import os, signal, fmnist.runs.signals as s; original = s.GracefulStop._handle\n"
        "def twice(self, signum, frame):\n"
        "    original(self, signum, frame); original(self, signum, frame)\n"
        "s.GracefulStop._handle = twice\n"
        "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path('tests/killer.py', run_name='__main__')"
    )
    command = [
        sys.executable,
        "-c",
        code,
        "killer.py",
        "step",
        str(2 * BATCHES_PER_EPOCH + 4),
        "INT",
        f"dataset.path={tiny_idx_dir}",
        "dataset.download=false",
        "logger=none",
        "plots=false",
        f"hydra.run.dir={tmp_path}",
        *RUN_SETTINGS,
    ]
    process = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert process.returncode == 130, process.stderr
    assert metrics_of(tmp_path)["status"] == "interrupted"
    assert train(tmp_path, tiny_idx_dir).returncode == 0
    assert_same_outcome(outcome(tmp_path), uninterrupted)


# ---- reruns and refusals ----


def test_a_finished_run_is_not_trained_again(tiny_idx_dir, tmp_path):
    first = train(tmp_path, tiny_idx_dir)
    assert first.returncode == 0, first.stderr
    files = {
        path: path.read_bytes()
        for path in tmp_path.rglob("*")
        if path.is_file() and ".hydra" not in path.parts and path.suffix != ".log" and path.name != ".lock"
    }
    again = train(tmp_path, tiny_idx_dir)
    assert again.returncode == 0, again.stderr
    assert "epoch 1/" not in again.stdout
    assert f"{tmp_path} already completed: nothing trained. To train it again, add resume=never" in again.stdout
    assert again.stdout.strip().splitlines()[-1] == first.stdout.strip().splitlines()[-1]
    assert {path: path.read_bytes() for path in files} == files


def test_a_finished_run_rerun_with_plots_gets_them_without_training(tiny_idx_dir, tmp_path):
    assert train(tmp_path, tiny_idx_dir).returncode == 0  # plots=false
    files = {
        path: path.read_bytes()
        for path in tmp_path.rglob("*")
        if path.is_file() and ".hydra" not in path.parts and path.suffix != ".log" and path.name != ".lock"
    }
    assert not list(tmp_path.glob("*.png"))
    again = train(tmp_path, tiny_idx_dir, "plots=true")
    assert again.returncode == 0, again.stderr
    assert "epoch 1/" not in again.stdout and "nothing trained" in again.stdout
    assert {path.name for path in tmp_path.glob("*.png")} == {
        LEARNING_CURVES_PNG,
        CONFUSION_MATRIX_PNG,
        MISCLASSIFIED_PNG,
    }
    assert {path: path.read_bytes() for path in files} == files  # model, metrics and checkpoints untouched


def test_a_finished_run_whose_plots_cannot_be_drawn_still_reruns_as_finished(tiny_idx_dir, tmp_path):
    assert train(tmp_path, tiny_idx_dir).returncode == 0  # plots=false
    again = train(tmp_path, tmp_path / "no_data_here", "plots=true")
    assert again.returncode == 0, again.stderr
    assert "its plots were not drawn: dataset: dataset.path=" in again.stdout + again.stderr
    assert metrics_of(tmp_path)["status"] == "completed" and not list(tmp_path.glob("*.png"))


def test_resuming_with_another_config_exits_2_naming_the_keys_and_touches_nothing(tiny_idx_dir, tmp_path):
    killed = train(tmp_path, tiny_idx_dir, kill=("step", BATCHES_PER_EPOCH + 2, "KILL"))
    assert killed.returncode == -9
    before = {path: path.read_bytes() for path in (tmp_path / CHECKPOINT_DIR).iterdir()}
    refused = train(tmp_path, tiny_idx_dir, "optimizer.lr=0.001", "trainer.epochs=9")
    assert refused.returncode == 2
    assert "optimizer.lr: 0.003 -> 0.001" in refused.stderr and "trainer.epochs: 4 -> 9" in refused.stderr
    assert "resume=never" in refused.stderr and "Traceback" not in refused.stderr
    assert {path: path.read_bytes() for path in (tmp_path / CHECKPOINT_DIR).iterdir()} == before


def test_output_only_settings_may_change_between_the_stop_and_the_rerun(tiny_idx_dir, tmp_path, uninterrupted):
    train(tmp_path, tiny_idx_dir, kill=("step", BATCHES_PER_EPOCH + 2, "KILL"))
    resumed = train(tmp_path, tiny_idx_dir, "trainer.progress=none", "blas_threads=1", "checkpoint.every_n_epochs=1")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_outcome(outcome(tmp_path), uninterrupted)


def test_a_damaged_last_checkpoint_falls_back_to_the_previous_one(tiny_idx_dir, tmp_path, uninterrupted):
    train(tmp_path, tiny_idx_dir, kill=("step", 2 * BATCHES_PER_EPOCH + 2, "KILL"))
    last = tmp_path / CHECKPOINT_DIR / LAST
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # truncated, as by a full disk
    resumed = train(tmp_path, tiny_idx_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {tmp_path / CHECKPOINT_DIR / PREVIOUS} (epoch 1) instead" in resumed.stderr + resumed.stdout
    assert_same_outcome(outcome(tmp_path), uninterrupted)


def test_both_checkpoints_damaged_exits_2_and_deletes_nothing(tiny_idx_dir, tmp_path):
    train(tmp_path, tiny_idx_dir, kill=("step", 2 * BATCHES_PER_EPOCH + 2, "KILL"))
    for name in (LAST, PREVIOUS):
        (tmp_path / CHECKPOINT_DIR / name).write_bytes(b"not a checkpoint")
    refused = train(tmp_path, tiny_idx_dir)
    assert refused.returncode == 2
    assert "no usable checkpoint" in refused.stderr and LAST in refused.stderr and PREVIOUS in refused.stderr
    assert all((tmp_path / CHECKPOINT_DIR / name).read_bytes() == b"not a checkpoint" for name in (LAST, PREVIOUS))


def test_resume_must_with_nothing_to_resume_exits_2(tiny_idx_dir, tmp_path):
    refused = train(tmp_path, tiny_idx_dir, "resume=must")
    assert refused.returncode == 2
    assert "resume=must" in refused.stderr and "holds no checkpoint" in refused.stderr
    assert not (tmp_path / METRICS_FILE).exists()


def test_resume_never_starts_over_and_moves_the_old_files_aside(tiny_idx_dir, tmp_path, uninterrupted):
    train(tmp_path, tiny_idx_dir, kill=("step", 2 * BATCHES_PER_EPOCH + 2, "KILL"))
    old_checkpoint = (tmp_path / CHECKPOINT_DIR / LAST).read_bytes()
    fresh = train(tmp_path, tiny_idx_dir, "resume=never")
    assert fresh.returncode == 0, fresh.stderr
    assert "epoch 1/" in fresh.stdout
    (replaced,) = (tmp_path / "replaced").iterdir()
    assert (replaced / CHECKPOINT_DIR / LAST).read_bytes() == old_checkpoint
    assert len(json.loads((replaced / METRICS_FILE).read_text())["history"]) == 2
    assert_same_outcome(outcome(tmp_path), uninterrupted)


def test_a_bad_resume_value_exits_2_with_the_allowed_ones(tiny_idx_dir, tmp_path):
    refused = train(tmp_path, tiny_idx_dir, "resume=sometimes")
    assert refused.returncode == 2 and "resume must be one of auto, never, must" in refused.stderr


def test_a_second_process_on_a_busy_run_folder_exits_2_naming_the_holder(tiny_idx_dir, tmp_path):
    from fmnist.runs.run_lock import RunFolderLock

    with RunFolderLock(tmp_path):
        refused = train(tmp_path, tiny_idx_dir)
    assert refused.returncode == 2
    assert f"is in use by process {os.getpid()}" in refused.stderr
    assert not (tmp_path / METRICS_FILE).exists()


def test_a_dead_holder_does_not_keep_the_run_folder(tiny_idx_dir, tmp_path):
    killed = train(tmp_path, tiny_idx_dir, kill=("step", 3, "KILL"))
    assert killed.returncode == -9 and "process" in (tmp_path / ".lock").read_text()
    assert train(tmp_path, tiny_idx_dir).returncode == 0


@pytest.mark.parametrize(
    "arguments",
    [
        ["hydra.run.dir=/proc/no_such_folder"],
        ["hydra.run.dir={file}/below_a_file"],
        ["-m", "hydra.sweep.dir={file}/below_a_file"],
    ],
)
def test_an_unusable_output_folder_exits_2_with_one_line(tmp_path, arguments):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    command = [sys.executable, str(ROOT / "train.py"), "logger=none", *(item.format(file=a_file) for item in arguments)]
    process = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    key = arguments[-1].partition("=")[0]
    assert process.returncode == 2
    assert process.stderr.startswith(f"error: {key}=") and "cannot write there" in process.stderr
    assert "Traceback" not in process.stderr and len(process.stderr.strip().splitlines()) == 1


# ---- exact for every optimiser in conf/, on both kernel paths (in-process, stopped by should_stop) ----


def compose_run(data_dir: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(
            config_name="config",
            overrides=[
                f"dataset.path={data_dir}",
                "dataset.download=false",
                "logger=none",
                "plots=false",
                "trainer.progress=none",
                *RUN_SETTINGS,
                *overrides,
            ],
        )


def stop_after(steps: int):
    """A ``should_stop`` that asks to stop once ``steps`` batches are done."""
    calls = 0

    def should_stop():
        nonlocal calls
        calls += 1
        return "a test" if calls >= steps else None

    return should_stop


@pytest.mark.parametrize("kernels", ["compiled", "numpy"])
@pytest.mark.parametrize("optimizer", group_options("optimizer"))
def test_every_optimizer_resumes_exactly_on_both_kernel_paths(tiny_idx_dir, tmp_path, monkeypatch, optimizer, kernels):
    from fmnist.front.experiment import Experiment

    if kernels == "compiled":
        pytest.importorskip("numba")
    monkeypatch.setenv("FMNIST_KERNELS", "auto" if kernels == "compiled" else "numpy")
    cfg = compose_run(tiny_idx_dir, f"optimizer={optimizer}", "optimizer.weight_decay=0.001")
    whole = Experiment(cfg, tmp_path / "whole").run()
    stopped = Experiment(cfg, tmp_path / "stopped", should_stop=stop_after(BATCHES_PER_EPOCH + 5)).run()
    assert stopped.status == "interrupted" and len(stopped.history) == 1
    resumed = Experiment(cfg, tmp_path / "stopped").run()
    assert whole.status == resumed.status == "completed"
    assert_same_outcome(outcome(tmp_path / "stopped"), outcome(tmp_path / "whole"))


def test_a_checkpoint_that_cannot_be_written_fails_with_a_message_and_keeps_the_one_before(
    tiny_idx_dir, tmp_path, monkeypatch
):
    import errno

    import fmnist.runs.resume
    from fmnist.front.experiment import CheckpointWriteError, Experiment

    real_write, writes = fmnist.runs.resume.write_atomically, 0

    def full_disk_on_the_second_write(*args, **kwargs):
        nonlocal writes
        writes += 1
        if writes == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(fmnist.runs.resume, "write_atomically", full_disk_on_the_second_write)
    with pytest.raises(CheckpointWriteError, match="checkpoint of epoch 2 .*No space left on device.*rerun the same"):
        Experiment(compose_run(tiny_idx_dir), tmp_path).run()
    metrics = metrics_of(tmp_path)
    assert metrics["status"] == "failed" and "No space left" in metrics["message"]
    assert read_checkpoint(tmp_path / CHECKPOINT_DIR / LAST).state.epoch == 1


def test_a_resumed_run_continues_the_same_wandb_run_without_logging_an_epoch_twice(tiny_idx_dir, tmp_path, monkeypatch):
    from fmnist.front.experiment import Experiment
    from tests.test_tracking import WANDB

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = compose_run(tiny_idx_dir, "logger=wandb")
    Experiment(cfg, tmp_path, should_stop=stop_after(2 * BATCHES_PER_EPOCH + 3)).run()
    Experiment(cfg, tmp_path).run()
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2
    ids, epochs = set(), []
    for run in runs:
        output = subprocess.run(
            [str(WANDB), "leet", "inspect", "--json", str(run)], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        records = [json.loads(line) for line in output.splitlines() if line.strip()]
        ids |= {record["run"]["run_id"] for record in records if record["type"] == "run"}
        epochs.append(
            [
                record["history"]["item"]["epoch"]
                for record in records
                if record["type"] == "history" and "val_accuracy" in record["history"]["item"]
            ]
        )
    assert len(ids) == 1 and ids == {read_checkpoint(tmp_path / CHECKPOINT_DIR / LAST).wandb_run_id}
    assert epochs == [[1, 2], [3, 4]]


def test_a_killed_multirun_rerun_resumes_the_unfinished_job_and_leaves_finished_ones_alone(
    tiny_idx_dir, tmp_path, uninterrupted
):
    def sweep(*kill):
        script = [str(ROOT / "tests" / "killer.py"), *map(str, kill)] if kill else [str(ROOT / "train.py")]
        command = [
            sys.executable,
            *script,
            "-m",
            f"dataset.path={tiny_idx_dir}",
            "dataset.download=false",
            "logger=none",
            "plots=false",
            f"hydra.sweep.dir={tmp_path}",
            *RUN_SETTINGS,
            "seed=1,0",
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=ROOT)

    # job 0 (seed 1) finishes, job 1 (seed 0) is killed in its third epoch
    killed = sweep("step", EPOCHS * BATCHES_PER_EPOCH + 2 * BATCHES_PER_EPOCH + 4, "KILL")
    assert killed.returncode == -9, killed.stderr
    finished_files = {
        path: path.read_bytes()
        for path in (tmp_path / "0").rglob("*")
        if path.is_file() and ".hydra" not in path.parts and path.suffix != ".log" and path.name != ".lock"
    }
    assert metrics_of(tmp_path / "0")["status"] == "completed" and metrics_of(tmp_path / "1")["status"] == "running"
    rerun = sweep()
    assert rerun.returncode == 0, rerun.stderr
    assert {path: path.read_bytes() for path in finished_files} == finished_files
    assert_same_outcome(outcome(tmp_path / "1"), uninterrupted)
    # a finished sweep run again trains nothing
    both_files = {path: path.read_bytes() for path in tmp_path.rglob("*.npz")}
    again = sweep()
    assert again.returncode == 0 and "epoch 1/" not in again.stdout
    assert {path: path.read_bytes() for path in both_files} == both_files


@pytest.mark.slow
def test_ctrl_c_in_a_parallel_multirun_exits_130_in_one_line_and_the_rerun_ends_identical(tiny_idx_dir, tmp_path):
    import signal
    import time

    def sweep(sweep_dir: Path, **popen):
        command = [
            sys.executable,
            str(ROOT / "train.py"),
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            f"dataset.path={tiny_idx_dir}",
            "dataset.download=false",
            "logger=none",
            "plots=false",
            f"hydra.sweep.dir={sweep_dir}",
            *RUN_SETTINGS,
            "trainer.epochs=300",
            "trainer.progress=none",
            "seed=0,1,2",
        ]
        return subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "WANDB_MODE": "disabled"},
            **popen,
        )

    stopped = tmp_path / "stopped"
    process = sweep(stopped, start_new_session=True)  # its own process group, as a terminal's foreground job
    deadline = time.monotonic() + 120
    while not all((stopped / job / CHECKPOINT_DIR / LAST).exists() for job in "01"):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C on a terminal does: the parent and both workers
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    # how to continue: the parent's line when its KeyboardInterrupt comes first, else the stopped jobs'
    # own hints (a worker's exit 130 can reach the parent before its KeyboardInterrupt does)
    assert (
        "interrupted: the checkpoints of the last complete epochs are kept" in stderr
        or f"to continue, rerun the same command with hydra.sweep.dir={stopped}" in stdout + stderr
    ), stderr
    assert not (stopped / "2" / METRICS_FILE).exists()  # the sweep ended: the third job never started
    assert all(metrics_of(stopped / job)["status"] in ("interrupted", "running") for job in "01")

    rerun = sweep(stopped)
    assert rerun.wait(timeout=180) == 0, rerun.communicate()
    whole = tmp_path / "whole"
    assert sweep(whole).wait(timeout=180) == 0
    for job in "012":
        assert_same_outcome(outcome(stopped / job), outcome(whole / job))


def test_a_run_with_warmup_and_a_weight_average_resumes_exactly(tiny_idx_dir, tmp_path):
    from fmnist.front.experiment import Experiment

    cfg = compose_run(tiny_idx_dir, "trainer.ema_decay=0.9", "trainer.warmup_epochs=1", "trainer.lr_schedule=cosine")
    Experiment(cfg, tmp_path / "whole").run()
    Experiment(cfg, tmp_path / "stopped", should_stop=stop_after(BATCHES_PER_EPOCH + 5)).run()
    Experiment(cfg, tmp_path / "stopped").run()
    whole, resumed = (read_checkpoint(tmp_path / name / CHECKPOINT_DIR / LAST) for name in ("whole", "stopped"))
    assert whole.state.averaged_params is not None
    assert np.array_equal(resumed.state.averaged_params, whole.state.averaged_params)
    assert_same_outcome(outcome(tmp_path / "stopped"), outcome(tmp_path / "whole"))
