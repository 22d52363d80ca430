"""Seconds per training epoch on real Fashion-MNIST (54k images), fmnist vs PyTorch, Keras and scikit-learn.

    python benchmarks/speed.py [--repeats 5] [--workloads A B C D]

Workloads (float32; cross-entropy, label-smoothed in D):
    A  3x128 tanh, Adam, batch 16      target: fmnist <= 0.30 x PyTorch
    B  3x128 ReLU, Adam, batch 64      target: fmnist <= 0.35 x PyTorch
    C  3x1024 ReLU, Adam, batch 256    target: fmnist <= 0.95 x PyTorch (bounded by matrix multiplies)
    D  the first default (`python train.py +experiment=first_default`, the default until 2026-12-02):
       1024-512 ReLU, dropout 0.2, RMSProp with weight decay, label smoothing 0.1, batch 256 (no target;
       scikit-learn has none of these, so it sits this one out)

"fmnist" uses the optional kernels of fmnist/core/kernels.py (optimiser step, cross-entropy) when numba is
installed; "numpy" is the same epoch with pure NumPy; "matmul" is the epoch's matrix multiplies alone
(forward and backward, same shapes), the least any implementation must spend.

"torch" is PyTorch with its fastest documented CPU settings for each optimiser (``TORCH_FASTEST``):
``fused=True`` Adam (one kernel for all parameters) and ``foreach=True`` RMSprop (RMSprop has no fused
CPU kernel in torch 2.13), and subnormal numbers flushed to zero (``FLUSH_SUBNORMALS``).
"torch_default" is the same model with the optimiser's defaults (neither foreach nor fused on CPU, a
loop over the parameters, subnormals kept); docs/speed.md gives what the settings save.
The targets are against "torch".
"keras" is Keras 3 on the torch backend (KERAS_BACKEND=torch, set below unless already set):
``model.fit`` for one epoch on the same arrays, batch and optimiser, timed after a warm-up fit that
builds the optimiser and the train function. Its weight decay is the coupled kind of fmnist and torch
(L2 regularisers of λ/2 on every kernel and bias, gradient + λθ), since Keras's own ``weight_decay`` is
decoupled; its RMSprop adds ε inside the square root, √(v + ε), where torch and fmnist use √v + ε.

PyTorch and Keras run with as many threads as numpy's BLAS (threadpoolctl), so every implementation has
the same cores. Each implementation lives in its own process (so no thread pool of one, e.g. PyTorch's
OpenMP threads, can slow another); they take turns, one epoch each, for ``--repeats`` rounds, and each
keeps its best epoch. A burst of load from elsewhere slows one round of all of them rather than all
rounds of one, so the ratios (which are what carry over between machines) stay fair on a noisy machine.
scikit-learn builds its model inside ``fit``, so its epoch includes that.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported, here or in a worker
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fmnist.core.activations import ReLU, Tanh  # noqa: E402
from fmnist.core.init import He  # noqa: E402
from fmnist.core.losses import CrossEntropy, SmoothedCrossEntropy  # noqa: E402
from fmnist.core.network import MLP  # noqa: E402
from fmnist.core.optim import Adam, RMSProp  # noqa: E402
from fmnist.data.datasets import load_dataset  # noqa: E402
from fmnist.training.trainer import Trainer  # noqa: E402


@dataclass(frozen=True)
class Workload:
    hidden_sizes: tuple[int, ...]
    activation: str  # tanh or relu
    batch_size: int
    optimizer: str = "adam"  # adam: lr 1e-3; rmsprop: the first default's lr 4e-4, β 0.9, weight decay 5e-4
    dropout: float = 0.0
    smoothing: float = 0.0  # label smoothing of the cross-entropy
    target: float | None = None  # fmnist / PyTorch to reach

    @property
    def label(self) -> str:
        sizes = (
            f"{len(self.hidden_sizes)}x{self.hidden_sizes[0]}"
            if len(set(self.hidden_sizes)) == 1
            else "-".join(map(str, self.hidden_sizes))
        )
        return f"{sizes} {self.activation} {self.optimizer} b{self.batch_size}"

    @property
    def layer_sizes(self) -> list[int]:
        return [784, *self.hidden_sizes, 10]


WORKLOADS = {
    "A": Workload((128,) * 3, "tanh", 16, target=0.30),
    "B": Workload((128,) * 3, "relu", 64, target=0.35),
    "C": Workload((1024,) * 3, "relu", 256, target=0.95),
    "D": Workload((1024, 512), "relu", 256, optimizer="rmsprop", dropout=0.2, smoothing=0.1),
}
RMSPROP = {"lr": 4e-4, "beta": 0.9, "epsilon": 1e-8, "weight_decay": 5e-4}  # conf/experiment/first_default.yaml's
#: PyTorch's fastest documented settings per optimiser ("torch"); "torch_default" passes none of them.
TORCH_FASTEST = {"adam": {"fused": True}, "rmsprop": {"foreach": True}}
#: Implementations run with subnormal numbers flushed to zero (``torch.set_flush_denormal(True)``, a
#: documented PyTorch CPU setting): fmnist's kernels keep their numbers normal (fmnist/core/kernels.py), and
#: a peer is measured at its best. "torch_default" keeps PyTorch's default (subnormals kept).
FLUSH_SUBNORMALS = {"torch", "keras"}
#: Optional implementations and the module each needs.
IMPORTS = {"torch": "torch", "torch_default": "torch", "keras": "keras", "sklearn": "sklearn"}
TIME_COLUMNS = ("fmnist", "numpy", "matmul", "torch", "torch_default", "keras", "sklearn")
#: (numerator, denominator) of each printed ratio; the target applies to fmnist/torch.
RATIO_COLUMNS = (
    ("fmnist", "torch"),
    ("numpy", "torch"),
    ("fmnist", "torch_default"),
    ("fmnist", "keras"),
    ("fmnist", "matmul"),
)
SETTLE_SECONDS = 0.5  # pause before each epoch: idle BLAS/OpenMP threads spin-wait for a while after work
Epoch = Callable[[], None]  # trains (or, for the floor, multiplies) one epoch


def fmnist_trainer(workload: Workload, kernels="auto") -> Trainer:
    """``kernels``: "auto" uses the fused optimiser and loss kernels when numba is installed, "numpy" never
    does (both the optimiser and the loss read ``FMNIST_KERNELS`` when they are built)."""
    rng = np.random.default_rng(0)
    activation = {"tanh": Tanh, "relu": ReLU}[workload.activation]()
    network = MLP(workload.layer_sizes, activation, dropout=workload.dropout)
    network.initialize(He(), rng)

    def build_optimizer():
        return Adam(lr=1e-3) if workload.optimizer == "adam" else RMSProp(**RMSPROP)

    os.environ["FMNIST_KERNELS"] = kernels
    optimizer = build_optimizer()
    loss = SmoothedCrossEntropy(workload.smoothing) if workload.smoothing else CrossEntropy()
    # Throwaway calls load the compiled kernels from numba's disk cache outside the timed epochs.
    build_optimizer().step([np.zeros(1, np.float32)], [np.zeros(1, np.float32)])
    loss.value_and_grad(np.zeros((1, 10), np.float32), np.zeros(1, np.int64))
    del os.environ["FMNIST_KERNELS"]
    return Trainer(network, loss, optimizer, epochs=1, batch_size=workload.batch_size, rng=rng)


def fmnist_epoch(x, y, workload: Workload, kernels="auto") -> Epoch:
    trainer = fmnist_trainer(workload, kernels)
    shuffled = np.empty_like(x)
    return lambda: trainer.train_epoch(x, y, shuffled)


def matmul_epoch(n, workload: Workload) -> Epoch:
    """Forward z = a W, backward dW = a^T d and da = d W^T, for every layer and batch of an epoch."""
    rng = np.random.default_rng(0)
    sizes, batch_size = workload.layer_sizes, workload.batch_size
    weights = [rng.standard_normal((i, o), dtype=np.float32) for i, o in zip(sizes[:-1], sizes[1:])]
    grads = [np.empty_like(w) for w in weights]
    inputs = [rng.standard_normal((batch_size, i), dtype=np.float32) for i in sizes[:-1]]
    deltas = [rng.standard_normal((batch_size, o), dtype=np.float32) for o in sizes[1:]]

    def epoch():
        for _ in range(n // batch_size):
            for layer, weight in enumerate(weights):
                inputs[layer] @ weight
                np.matmul(inputs[layer].T, deltas[layer], out=grads[layer])
                if layer:
                    deltas[layer] @ weight.T

    return epoch


def torch_epoch(x, y, workload: Workload, optimizer_settings: dict) -> Epoch:
    """``optimizer_settings``: extra keyword arguments of the torch optimiser (``TORCH_FASTEST`` or none)."""
    import torch

    torch.manual_seed(0)
    activation = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[workload.activation]
    layers, fan_in = [], 784
    for width in workload.hidden_sizes:
        layers += [torch.nn.Linear(fan_in, width), activation()]
        if workload.dropout:
            layers.append(torch.nn.Dropout(workload.dropout))
        fan_in = width
    model = torch.nn.Sequential(*layers, torch.nn.Linear(fan_in, 10))
    if workload.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, **optimizer_settings)
    else:
        optimizer = torch.optim.RMSprop(
            model.parameters(),
            lr=RMSPROP["lr"],
            alpha=RMSPROP["beta"],
            eps=RMSPROP["epsilon"],
            weight_decay=RMSPROP["weight_decay"],
            **optimizer_settings,
        )
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=workload.smoothing)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    batch_size = workload.batch_size

    def epoch():
        order = torch.randperm(len(x))
        xs, ys = x[order], y[order]
        for start in range(0, len(x), batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xs[start : start + batch_size]), ys[start : start + batch_size])
            loss.backward()
            optimizer.step()

    return epoch


def keras_network(hidden_sizes, activation: str, dropout: float, kernel_penalty=None, bias_penalty=None):
    """Keras's Sequential MLP of fmnist's shape: 784 -> Dense(h, activation) [-> Dropout] per hidden
    layer -> Dense(10) logits. Keras's initialisation (Glorot uniform, zero biases); the penalties are
    regularisers on every Dense layer."""
    import keras

    layers = [keras.Input((784,))]
    for width in hidden_sizes:
        layers.append(
            keras.layers.Dense(
                width, activation=activation, kernel_regularizer=kernel_penalty, bias_regularizer=bias_penalty
            )
        )
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    return keras.Sequential(
        [*layers, keras.layers.Dense(10, kernel_regularizer=kernel_penalty, bias_regularizer=bias_penalty)]
    )


def keras_epoch(x, y, workload: Workload) -> Epoch:
    import keras

    keras.utils.set_random_seed(0)
    # Coupled weight decay as in fmnist and torch: the penalty (λ/2)|θ|² adds λθ to the gradient.
    penalty = keras.regularizers.L2(RMSPROP["weight_decay"] / 2) if workload.optimizer == "rmsprop" else None
    model = keras_network(workload.hidden_sizes, workload.activation, workload.dropout, penalty, penalty)
    if workload.optimizer == "adam":
        optimizer = keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8)
    else:
        optimizer = keras.optimizers.RMSprop(
            learning_rate=RMSPROP["lr"], rho=RMSPROP["beta"], epsilon=RMSPROP["epsilon"]
        )
    if workload.smoothing:  # only the one-hot loss takes label smoothing
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=workload.smoothing)
        targets = keras.utils.to_categorical(y, 10)
    else:
        loss, targets = keras.losses.SparseCategoricalCrossentropy(from_logits=True), y
    model.compile(optimizer=optimizer, loss=loss)
    batch_size = workload.batch_size
    model.fit(x[: 2 * batch_size], targets[: 2 * batch_size], batch_size=batch_size, epochs=1, verbose=0)  # warm-up
    return lambda: model.fit(x, targets, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)


def sklearn_epoch(x, y, workload: Workload) -> Epoch:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def epoch():
        model = MLPClassifier(
            hidden_layer_sizes=workload.hidden_sizes,
            activation=workload.activation,
            solver="adam",
            batch_size=workload.batch_size,
            max_iter=1,
            learning_rate_init=1e-3,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, y)

    return epoch


def epoch_factories(workload: Workload) -> dict[str, Callable[..., Epoch]]:
    """Implementation name -> function of (x, y) building its epoch (torch, keras and sklearn may be
    missing; scikit-learn only trains with Adam and no dropout)."""
    factories = {
        "fmnist": lambda x, y: fmnist_epoch(x, y, workload),
        "numpy": lambda x, y: fmnist_epoch(x, y, workload, kernels="numpy"),
        "matmul": lambda x, y: matmul_epoch(len(x), workload),
        "torch": lambda x, y: torch_epoch(x, y, workload, TORCH_FASTEST[workload.optimizer]),
        "torch_default": lambda x, y: torch_epoch(x, y, workload, {}),
        "keras": lambda x, y: keras_epoch(x, y, workload),
    }
    if workload.optimizer == "adam" and not (workload.dropout or workload.smoothing):
        factories["sklearn"] = lambda x, y: sklearn_epoch(x, y, workload)
    return factories


def epoch_worker(connection, workload: str, implementation: str, threads: int) -> None:
    """In its own process: build one implementation's epoch (importing only what it needs), then time
    one epoch per request. PyTorch (and Keras on it) gets ``threads`` threads, numpy's BLAS count."""
    data = load_dataset("fashion_mnist", seed=0)
    epoch = epoch_factories(WORKLOADS[workload])[implementation](data.x_train, data.y_train)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
        sys.modules["torch"].set_flush_denormal(implementation in FLUSH_SUBNORMALS)
    connection.send("ready")
    while connection.recv() == "epoch":
        started = time.perf_counter()
        epoch()
        connection.send(time.perf_counter() - started)


def best_times(workload: str, repeats: int, threads: int) -> dict[str, float]:
    """Best seconds per epoch of each implementation, each in its own process, taking turns each round."""
    runnable = [
        name for name in epoch_factories(WORKLOADS[workload]) if name not in IMPORTS or available(IMPORTS[name])
    ]  # checked here, not in every worker
    context = multiprocessing.get_context("spawn")
    workers = {}
    for name in runnable:
        ours, theirs = context.Pipe()
        process = context.Process(target=epoch_worker, args=(theirs, workload, name, threads), daemon=True)
        process.start()
        workers[name] = (ours, process)
    for ours, _ in workers.values():
        ours.recv()  # built
    times = {name: [] for name in workers}
    try:
        for _ in range(repeats):
            for name, (ours, _) in workers.items():
                time.sleep(SETTLE_SECONDS)
                ours.send("epoch")
                times[name].append(ours.recv())
    finally:
        for ours, process in workers.values():
            ours.send("stop")
            process.join()
    return {name: min(values) for name, values in times.items()}


def numpy_blas_threads() -> int:
    """Threads of the BLAS library numpy multiplies with, as threadpoolctl reports them; called before
    torch is imported, so no other BLAS is loaded."""
    from threadpoolctl import threadpool_info

    return next(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")


def available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def column_width(name: str) -> int:
    """Room for a column's name and two spaces, and for at least ten characters of number."""
    return max(len(name) + 2, 10)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="rounds of one epoch per implementation (best kept)")
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    args = parser.parse_args(argv)

    data = load_dataset("fashion_mnist", seed=0)
    threads = numpy_blas_threads()
    print(f"{len(data.x_train)} training images, numpy {np.__version__} ({threads} BLAS threads)", end="")
    if available("torch"):
        import torch

        print(f", torch {torch.__version__} ({threads} threads)", end="")
    if available("keras"):
        import keras

        print(f", keras {keras.__version__} ({keras.backend.backend()} backend)", end="")
    print(f"; best of {args.repeats} epochs, implementations in turn, each in its own process")
    ratio_names = [f"{numerator}/{denominator}" for numerator, denominator in RATIO_COLUMNS]
    print(
        f"{'workload':<32}"
        + "".join(f"{name + ' s':>{column_width(name + ' s')}}" for name in TIME_COLUMNS)
        + "".join(f"{name:>{column_width(name)}}" for name in ratio_names)
        + "  target"
    )
    for name in args.workloads:
        workload = WORKLOADS[name]
        best = best_times(name, args.repeats, threads)
        times = [best.get(implementation, float("nan")) for implementation in TIME_COLUMNS]
        ratios = [
            best.get(numerator, float("nan")) / best.get(denominator, float("nan"))
            for numerator, denominator in RATIO_COLUMNS
        ]
        if workload.target is None:
            target = "-"
        else:
            met = best["fmnist"] / best.get("torch", float("nan")) <= workload.target
            target = f"<={workload.target} {'ok' if met else 'MISS'}"
        print(
            f"{name + ' ' + workload.label:<32}"
            + "".join(f"{time:>{column_width(column + ' s')}.3f}" for time, column in zip(times, TIME_COLUMNS))
            + "".join(f"{ratio:>{column_width(column) - 1}.2f}x" for ratio, column in zip(ratios, ratio_names))
            + f"  {target}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
