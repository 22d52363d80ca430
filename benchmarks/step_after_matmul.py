"""How long one Adam step of workload A's network takes after different matrix multiplies.

    python benchmarks/step_after_matmul.py [--batch 16] [--iterations 2000]

Inside training the step of a 3x128 network takes about twice as long as in a tight loop. This
script isolates why: before each timed step it runs nothing, the first layer's forward multiply
x W_1 (W_1 a view into the parameter buffer the step then rewrites), or the same multiply on a
private copy of W_1. With two BLAS threads the worker thread on the other core reads part of W_1,
and the step must take those cache lines back before it can write them; on a copy nothing is shared.
Run it with ``OPENBLAS_NUM_THREADS=1`` to see the case without a worker thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fmnist.core.activations import Tanh  # noqa: E402
from fmnist.core.init import He  # noqa: E402
from fmnist.core.network import MLP  # noqa: E402
from fmnist.core.optim import Adam  # noqa: E402

LAYER_SIZES = [784, 128, 128, 128, 10]  # workload A of benchmarks/speed.py


def step_microseconds(batch: int, iterations: int) -> dict[str, float]:
    """Mean microseconds of one Adam step, by what ran just before it."""
    rng = np.random.default_rng(0)
    network = MLP(LAYER_SIZES, Tanh()).initialize(He(), rng)
    network.grads[:] = rng.standard_normal(network.num_params, dtype=np.float32) * 1e-3
    optimizer = Adam(lr=1e-3)
    params, grads = [network.params], [network.grads]
    images = rng.random((batch, LAYER_SIZES[0]), dtype=np.float32)
    first_weights, private_copy = network.weights[0], network.weights[0].copy()
    before_step = {
        "nothing": lambda: None,
        "x @ W_1 (a view of the parameters)": lambda: images @ first_weights,
        "x @ copy of W_1": lambda: images @ private_copy,
    }
    optimizer.step(params, grads)  # state and the fused kernel are ready before timing
    times = {}
    for label, run_before in before_step.items():
        total = 0.0
        for _ in range(iterations):
            run_before()
            started = time.perf_counter()
            optimizer.step(params, grads)
            total += time.perf_counter() - started
        times[label] = total / iterations * 1e6
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16, help="rows of x in the multiply (A uses 16)")
    parser.add_argument("--iterations", type=int, default=2000, help="timed steps per case")
    args = parser.parse_args(argv)
    times = step_microseconds(args.batch, args.iterations)
    print(
        f"Adam step over {sum(i * o + o for i, o in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:])):,} parameters, "
        f"mean of {args.iterations}, after:"
    )
    for label, microseconds in times.items():
        print(f"  {label:<38}{microseconds:8.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
