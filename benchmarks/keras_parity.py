"""Parity study: the two classic Keras networks trained in Keras and in fmnist, same settings, same data.

    python benchmarks/keras_parity.py [--seeds 3] [--epochs 50] [--subset N] [--networks keras_dropout ...]

Keras side (``KERAS_NETWORKS``), the networks as Keras users write them: per hidden layer
``Dense(h, activation="relu")`` then ``Dropout(0.3)``, and ``Dense(10)`` logits; Keras's default
initialisation (Glorot uniform, zero biases); the funnel's L2 1e-3 as ``kernel_regularizer=l2(1e-3)``
on every Dense layer (biases unregularised); ``Adam(learning_rate=1e-3)`` with Keras's other defaults;
sparse categorical cross-entropy; ``model.fit(batch_size=128, epochs=50)``, shuffled every epoch.
Keras 3 runs on the torch backend (KERAS_BACKEND=torch, set here unless already set) with as many
threads as numpy's BLAS, and with subnormal numbers flushed to zero (``torch.set_flush_denormal(True)``)
unless ``--keras-keeps-subnormals``: under Adam with L2 decay the funnel's unused weights decay
geometrically into the subnormal range, where every operation costs a microcode assist on x86, and an
epoch slows several-fold within ten epochs (fmnist's kernels keep their numbers normal,
fmnist/core/kernels.py).

fmnist side: ``python train.py +experiment=NAME seed=S`` (conf/experiment/NAME.yaml, whose comments map
each Keras setting), with only ``--epochs`` and ``--subset`` changed when given.

For each seed both train on the same arrays: the split the fmnist run makes (10 % of the training images
held out for validation, drawn with the seed); Keras gets its x_train, y_train and
``validation_data=(x_val, y_val)``. Reported per run: validation accuracy after the last epoch, test
accuracy, and the median seconds per epoch of the training pass (validation excluded on both sides).
Every run is its own process, Keras and fmnist alternating, so neither's threads slow the other.

The report (markdown on stdout) gives every run, then per network and framework the mean, standard
deviation and range over seeds, and whether fmnist's mean lies inside Keras's seed range.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported, here or in a worker
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.speed import keras_network, numpy_blas_threads  # noqa: E402

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
FRAMEWORKS = ("keras", "fmnist")


@dataclass(frozen=True)
class KerasNetwork:
    """A classic Keras MLP: ReLU hidden layers, each followed by dropout; ``l2`` is the factor of
    ``kernel_regularizer=keras.regularizers.l2(l2)`` on every Dense layer (0: none)."""

    hidden_sizes: tuple[int, ...]
    dropout: float
    l2: float


KERAS_NETWORKS = {
    "keras_dropout": KerasNetwork(hidden_sizes=(128,) * 5, dropout=0.3, l2=0.0),
    "keras_funnel": KerasNetwork(hidden_sizes=(512, 256, 128, 64), dropout=0.3, l2=1e-3),
}
LEARNING_RATE = 1e-3  # keras.optimizers.Adam, its other arguments left at Keras's defaults
BATCH_SIZE = 128
EPOCHS = 50


@dataclass(frozen=True)
class Run:
    network: str
    seed: int
    framework: str  # keras or fmnist
    val_accuracy: float
    test_accuracy: float
    seconds_per_epoch: float  # median over the epochs, training pass only


@dataclass(frozen=True)
class Settings:
    """What a study changes from the full one: fewer epochs, fewer training images, other files."""

    epochs: int = EPOCHS
    subset: int | None = None  # training images kept after the validation split (dataset.subset)
    data_path: str | None = None  # a folder with the four IDX files (dataset.path)
    keras_keeps_subnormals: bool = False  # PyTorch's default; else torch.set_flush_denormal(True)


def fmnist_config(network: str, seed: int, settings: Settings):
    """The composed config of ``python train.py +experiment=NETWORK seed=SEED`` (no tracking, no plots)."""
    from hydra import compose, initialize_config_dir

    overrides = [
        f"+experiment={network}",
        f"seed={seed}",
        f"trainer.epochs={settings.epochs}",
        "logger=none",
        "plots=false",
        "trainer.progress=none",
    ]
    if settings.subset is not None:
        overrides.append(f"dataset.subset={settings.subset}")
    if settings.data_path is not None:
        overrides.append(f"dataset.path={settings.data_path}")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def train_fmnist(network: str, seed: int, settings: Settings) -> Run:
    from fmnist.front.experiment import Experiment

    with tempfile.TemporaryDirectory() as run_dir:
        result = Experiment(fmnist_config(network, seed, settings), run_dir).run()
    if result.status != "completed":
        raise RuntimeError(f"fmnist {network} seed {seed}: {result.status}: {result.message}")
    return Run(
        network,
        seed,
        "fmnist",
        result.summary["val_accuracy"],
        result.summary["test_accuracy"],
        statistics.median(row["seconds_per_epoch"] for row in result.history),
    )


def train_keras(network: str, seed: int, settings: Settings) -> Run:
    threads = numpy_blas_threads()  # before torch is loaded
    import keras
    import torch

    from fmnist.front.experiment import Experiment

    torch.set_num_threads(threads)
    torch.set_flush_denormal(not settings.keras_keeps_subnormals)
    data = Experiment(fmnist_config(network, seed, settings), run_dir="unused").build_data()
    spec = KERAS_NETWORKS[network]
    keras.utils.set_random_seed(seed)
    model = keras_network(
        spec.hidden_sizes, "relu", spec.dropout, kernel_penalty=keras.regularizers.L2(spec.l2) if spec.l2 else None
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    timer = training_pass_timer(keras)
    history = model.fit(
        data.x_train,
        data.y_train,
        batch_size=BATCH_SIZE,
        epochs=settings.epochs,
        shuffle=True,
        validation_data=(data.x_val, data.y_val),
        callbacks=[timer],
        verbose=0,
    )
    test = model.evaluate(data.x_test, data.y_test, batch_size=1024, verbose=0, return_dict=True)
    return Run(
        network, seed, "keras", history.history["val_accuracy"][-1], test["accuracy"], statistics.median(timer.seconds)
    )


def training_pass_timer(keras):
    """A Keras callback collecting, per epoch, the seconds from its start to the end of its last batch
    (so Keras's validation pass is excluded, as fmnist's ``seconds_per_epoch`` excludes it)."""

    class TrainingPassTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last_batch_ended = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(self.last_batch_ended - self.started)

    return TrainingPassTimer()


TRAINERS = {"keras": train_keras, "fmnist": train_fmnist}


def run_study(networks: list[str], seeds: int, settings: Settings) -> list[Run]:
    """Every (seed, network, framework), each in a fresh process, in that order."""
    runs = []
    context = multiprocessing.get_context("spawn")
    for seed in range(seeds):
        for network in networks:
            for framework in FRAMEWORKS:
                with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                    run = pool.submit(TRAINERS[framework], network, seed, settings).result()
                print(
                    f"{network} seed {seed} {framework}: val {100 * run.val_accuracy:.2f} %, "
                    f"test {100 * run.test_accuracy:.2f} %, {run.seconds_per_epoch:.2f} s/epoch",
                    file=sys.stderr,
                    flush=True,
                )
                runs.append(run)
    return runs


def spread(values: list[float]) -> str:
    """Mean ± sample standard deviation [min, max] of accuracies, in percent."""
    percent = [100 * value for value in values]
    deviation = statistics.stdev(percent) if len(percent) > 1 else float("nan")
    return f"{statistics.mean(percent):.2f} ± {deviation:.2f} [{min(percent):.2f}, {max(percent):.2f}]"


def placement(value: float, values: list[float]) -> str:
    """Where ``value`` lies against the range of ``values``: inside, below or above (in points)."""
    low, high = min(values), max(values)
    if value < low:
        return f"below by {100 * (low - value):.2f}"
    if value > high:
        return f"above by {100 * (value - high):.2f}"
    return "inside"


def report(runs: list[Run], header: str) -> str:
    """The study as markdown: every run, then per network the two frameworks' spread over seeds."""
    lines = [
        header,
        "",
        "| network | seed | framework | val accuracy % | test accuracy % | s/epoch |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {run.network} | {run.seed} | {run.framework} | {100 * run.val_accuracy:.2f} | "
        f"{100 * run.test_accuracy:.2f} | {run.seconds_per_epoch:.2f} |"
        for run in runs
    ]
    lines += [
        "",
        "Mean ± standard deviation [min, max] over seeds; s/epoch is the median of the runs' medians.",
        "",
        "| network | framework | seeds | val accuracy % | test accuracy % | s/epoch |",
        "|---|---|---|---|---|---|",
    ]
    verdicts = []
    for network in dict.fromkeys(run.network for run in runs):
        of = {
            framework: [run for run in runs if run.network == network and run.framework == framework]
            for framework in FRAMEWORKS
        }
        for framework, framework_runs in of.items():
            lines.append(
                f"| {network} | {framework} | {len(framework_runs)} | "
                f"{spread([run.val_accuracy for run in framework_runs])} | "
                f"{spread([run.test_accuracy for run in framework_runs])} | "
                f"{statistics.median(run.seconds_per_epoch for run in framework_runs):.2f} |"
            )
        keras_runs, fmnist_runs = of["keras"], of["fmnist"]
        places = {
            metric: placement(
                statistics.mean(getattr(run, metric) for run in fmnist_runs),
                [getattr(run, metric) for run in keras_runs],
            )
            for metric in ("val_accuracy", "test_accuracy")
        }
        speed_ratio = statistics.median(run.seconds_per_epoch for run in fmnist_runs) / statistics.median(
            run.seconds_per_epoch for run in keras_runs
        )
        verdicts.append(
            f"- {network}: fmnist's mean validation accuracy is {places['val_accuracy']} Keras's seed "
            f"range, its mean test accuracy {places['test_accuracy']}; an fmnist epoch takes "
            f"{speed_ratio:.2f}x Keras's."
        )
    return "\n".join([*lines, "", *verdicts]) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1, each trained by both frameworks")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--subset", type=int, default=None, help="keep N training images (default: all 54,000)")
    parser.add_argument("--networks", nargs="+", default=list(KERAS_NETWORKS), choices=list(KERAS_NETWORKS))
    parser.add_argument("--data-path", default=None, help="folder with the four IDX files (default: as train.py)")
    parser.add_argument(
        "--keras-keeps-subnormals",
        action="store_true",
        help="run Keras with PyTorch's default, subnormal numbers computed as such (slow, see above)",
    )
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.epochs < 1:
        parser.error(f"--seeds and --epochs must be at least 1, got {args.seeds} and {args.epochs}")

    threads = numpy_blas_threads()  # before torch is loaded
    import keras
    import numpy as np
    import torch

    settings = Settings(args.epochs, args.subset, args.data_path, args.keras_keeps_subnormals)
    command = " ".join(["python benchmarks/keras_parity.py", *(argv if argv is not None else sys.argv[1:])])
    header = (
        f"`{command}` ({time.strftime('%Y-%m-%d')}; keras {keras.__version__} on "
        f"{keras.backend.backend()} {torch.__version__}, numpy {np.__version__}, {threads} threads each)"
    )
    print(report(run_study(args.networks, args.seeds, settings), header), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
