"""Seconds per training epoch on real Fashion-MNIST (54k images), fmnist vs PyTorch and scikit-learn.

    python benchmarks/speed.py [--repeats 3] [--workloads A B C]

Workloads (3 hidden layers, Adam, cross-entropy, float32):
    A  3x128 tanh, batch 16      target: fmnist <= 0.30 x PyTorch
    B  3x128 ReLU, batch 64      target: fmnist <= 0.35 x PyTorch
    C  3x1024 ReLU, batch 256    target: fmnist <= 0.95 x PyTorch (bounded by matrix multiplies)
"fmnist" uses the fused Adam kernel (fmnist/kernels.py) when numba is installed; "numpy s" is the
same epoch with pure NumPy. Each number is the best of ``--repeats`` epochs, all measured in this one run; ratios are what
carry over between machines. "matmul floor" is the time of the epoch's matrix multiplies alone
(forward and backward, same shapes), the least any implementation must spend.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fmnist.data import load_dataset  # noqa: E402
from fmnist.nn.activations import ReLU, Tanh  # noqa: E402
from fmnist.nn.init import He  # noqa: E402
from fmnist.nn.losses import CrossEntropy  # noqa: E402
from fmnist.nn.network import MLP  # noqa: E402
from fmnist.optim import Adam  # noqa: E402
from fmnist.trainer import Trainer  # noqa: E402

WORKLOADS = {  # name: (hidden size, activation, batch size, target ratio to PyTorch)
    "A": (128, "tanh", 16, 0.30),
    "B": (128, "relu", 64, 0.35),
    "C": (1024, "relu", 256, 0.95),
}
NUM_LAYERS = 3


def time_fmnist(x, y, hidden, activation, batch_size, repeats, kernels="auto"):
    """``kernels``: "auto" uses the fused Adam loop when numba is installed, "numpy" never does."""
    rng = np.random.default_rng(0)
    network = MLP([784] + [hidden] * NUM_LAYERS + [10], {"tanh": Tanh, "relu": ReLU}[activation]())
    network.initialize(He(), rng)
    os.environ["FMNIST_KERNELS"] = kernels
    optimizer = Adam(lr=1e-3)
    del os.environ["FMNIST_KERNELS"]
    trainer = Trainer(network, CrossEntropy(), optimizer, epochs=1, batch_size=batch_size, rng=rng)
    shuffled = np.empty_like(x)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        trainer.train_epoch(x, y, shuffled)
        times.append(time.perf_counter() - started)
    return min(times)


def time_matmul_floor(n, hidden, batch_size, repeats):
    """Forward z = a W, backward dW = a^T d and da = d W^T, for every layer and batch of an epoch."""
    rng = np.random.default_rng(0)
    sizes = [784] + [hidden] * NUM_LAYERS + [10]
    weights = [rng.standard_normal((i, o), dtype=np.float32) for i, o in zip(sizes[:-1], sizes[1:])]
    grads = [np.empty_like(w) for w in weights]
    inputs = [rng.standard_normal((batch_size, i), dtype=np.float32) for i in sizes[:-1]]
    deltas = [rng.standard_normal((batch_size, o), dtype=np.float32) for o in sizes[1:]]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(n // batch_size):
            for layer, weight in enumerate(weights):
                inputs[layer] @ weight
                np.matmul(inputs[layer].T, deltas[layer], out=grads[layer])
                if layer:
                    deltas[layer] @ weight.T
        times.append(time.perf_counter() - started)
    return min(times)


def time_torch(x, y, hidden, activation, batch_size, repeats):
    import torch

    torch.manual_seed(0)
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[activation]
    layers, fan_in = [], 784
    for _ in range(NUM_LAYERS):
        layers += [torch.nn.Linear(fan_in, hidden), act()]
        fan_in = hidden
    model = torch.nn.Sequential(*layers, torch.nn.Linear(fan_in, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        order = torch.randperm(len(x))
        xs, ys = x[order], y[order]
        for start in range(0, len(x), batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xs[start:start + batch_size]), ys[start:start + batch_size])
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - started)
    return min(times)


def time_sklearn(x, y, hidden, activation, batch_size, repeats):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    times = []
    for _ in range(repeats):
        model = MLPClassifier(hidden_layer_sizes=(hidden,) * NUM_LAYERS, activation=activation, solver="adam",
                              batch_size=batch_size, max_iter=1, learning_rate_init=1e-3, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            started = time.perf_counter()
            model.fit(x, y)
            times.append(time.perf_counter() - started)
    return min(times)


def available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="epochs timed per implementation (best is kept)")
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    args = parser.parse_args(argv)

    data = load_dataset("fashion_mnist", seed=0)
    x, y = data.x_train, data.y_train
    print(f"{len(x)} training images, numpy {np.__version__}", end="")
    has_torch, has_sklearn = available("torch"), available("sklearn")
    if has_torch:
        import torch

        print(f", torch {torch.__version__} ({torch.get_num_threads()} threads)", end="")
    print()
    header = f"{'workload':<28}{'fmnist s':>10}{'numpy s':>10}{'matmul s':>10}{'torch s':>10}{'sklearn s':>11}" \
             f"{'fmnist/torch':>14}{'target':>8}{'numpy/torch':>13}{'fmnist/matmul':>15}"
    print(header)
    for name in args.workloads:
        hidden, activation, batch_size, target = WORKLOADS[name]
        ours = time_fmnist(x, y, hidden, activation, batch_size, args.repeats)
        pure_numpy = time_fmnist(x, y, hidden, activation, batch_size, args.repeats, kernels="numpy")
        floor = time_matmul_floor(len(x), hidden, batch_size, args.repeats)
        torch_s = time_torch(x, y, hidden, activation, batch_size, args.repeats) if has_torch else float("nan")
        sklearn_s = time_sklearn(x, y, hidden, activation, batch_size, 1) if has_sklearn else float("nan")
        ratio = ours / torch_s
        verdict = "ok" if ratio <= target else "MISS"
        label = f"{name} 3x{hidden} {activation} b{batch_size}"
        print(f"{label:<28}{ours:>10.3f}{pure_numpy:>10.3f}{floor:>10.3f}{torch_s:>10.3f}{sklearn_s:>11.3f}"
              f"{ratio:>13.2f}x{'<=' + str(target):>8} {verdict:<4}{pure_numpy / torch_s:>8.2f}x"
              f"{ours / floor:>14.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
