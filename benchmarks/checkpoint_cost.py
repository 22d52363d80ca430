"""What a checkpoint every epoch costs the default run (`python train.py`), as a share of its epoch.

    python benchmarks/checkpoint_cost.py [--repeats 5] [--epochs 2]

Builds the default configuration's network, optimiser and trainer (conf/config.yaml) on real
Fashion-MNIST when installed (else on random images of the same size), trains ``--epochs`` epochs and
times, in the same process, (a) an epoch and (b) what the trainer adds for the checkpoint after it:
copying the state and writing ``checkpoints/last.npz`` atomically (temporary file, fsync, rename,
fsync of the folder), best of ``--repeats``. Prints both and their ratio; the goal is at most 2 %.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hydra import compose, initialize_config_dir  # noqa: E402

from fmnist.front.experiment import Experiment  # noqa: E402
from fmnist.runs.resume import Checkpoint, training_config, write_checkpoint  # noqa: E402

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=["logger=none", "plots=false", "trainer.progress=none", f"trainer.epochs={args.epochs}"],
        )
    with tempfile.TemporaryDirectory() as run_dir:
        experiment = Experiment(cfg, run_dir)
        data = experiment.build_data()
        trainer = experiment.build_trainer(data, np.random.default_rng(cfg.seed))
        trainer.checkpointing = None  # timed separately below
        result = trainer.fit(data)
        epoch_seconds = min(row["seconds_per_epoch"] for row in result.history)
        config = training_config(experiment.config)
        write_seconds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            write_checkpoint(run_dir, Checkpoint(trainer.state(result.history), config))
            write_seconds.append(time.perf_counter() - started)
        size = (Path(run_dir) / "checkpoints" / "last.npz").stat().st_size
    checkpoint_seconds = min(write_seconds)
    print(f"default run: {trainer.network.num_params:,} parameters, {len(data.x_train):,} training images")
    print(f"epoch (training pass, best of {args.epochs}): {epoch_seconds:.3f} s")
    print(
        f"checkpoint (state copy + atomic write of {size / 2**20:.1f} MiB, best of {args.repeats}): "
        f"{1000 * checkpoint_seconds:.1f} ms (median {1000 * float(np.median(write_seconds)):.1f} ms)"
    )
    print(f"checkpoint / epoch: {100 * checkpoint_seconds / epoch_seconds:.2f} % (goal: at most 2 %)")


if __name__ == "__main__":
    main()
