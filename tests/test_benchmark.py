"""benchmarks/: every workload's epoch of speed.py builds and trains for every implementation installed
here; step_after_matmul.py times its three cases."""
from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from tests.conftest import CONF_DIR, ROOT


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


speed = load_script("speed")


@pytest.mark.parametrize("name", sorted(speed.WORKLOADS))
def test_every_implementation_runs_one_epoch_of_each_workload(name):
    workload = speed.WORKLOADS[name]
    rng = np.random.default_rng(0)
    x = rng.random((2 * workload.batch_size + 3, 784), dtype=np.float32)  # two full batches and a partial one
    y = rng.integers(0, 10, len(x)).astype(np.int64)
    implementations = speed.epoch_factories(workload)
    assert {"fmnist", "numpy", "matmul", "torch"} <= set(implementations)
    for implementation, factory in implementations.items():
        if implementation in speed.IMPORTS and not speed.available(speed.IMPORTS[implementation]):
            continue
        factory(x, y)()  # one epoch; raises if shapes, optimiser or settings do not fit together


@pytest.mark.parametrize("name", sorted(speed.WORKLOADS))
def test_the_numpy_implementation_runs_no_compiled_kernel(name):
    """The "numpy" column is fmnist without its optional kernels: neither the optimiser's nor the loss's."""
    trainer = speed.fmnist_trainer(speed.WORKLOADS[name], kernels="numpy")
    assert trainer.optimizer.fused_step is None and trainer.loss.fused is None
    if speed.available("numba"):
        trainer = speed.fmnist_trainer(speed.WORKLOADS[name])
        assert trainer.optimizer.fused_step is not None and trainer.loss.fused is not None


def test_the_default_workload_is_the_default_configuration():
    """Workload D must stay what `python train.py` trains."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        config = compose(config_name="config")
    default = speed.WORKLOADS["D"]
    assert list(default.hidden_sizes) == list(config.model.hidden_sizes)
    assert (default.dropout, default.batch_size) == (config.model.dropout, config.trainer.batch_size)
    assert config.activation._target_.lower().endswith(default.activation)
    assert config.optimizer._target_.lower().endswith(default.optimizer)
    assert speed.RMSPROP == {key: config.optimizer[key] for key in ("lr", "beta", "epsilon", "weight_decay")}
    assert config.loss._target_.endswith("SmoothedCrossEntropy") and config.loss.smoothing == default.smoothing


def test_step_after_matmul_times_each_case(capsys):
    step_after_matmul = load_script("step_after_matmul")
    times = step_after_matmul.step_microseconds(batch=4, iterations=3)
    assert list(times) == ["nothing", "x @ W_1 (a view of the parameters)", "x @ copy of W_1"]
    assert all(0 < microseconds < 1e6 for microseconds in times.values())
    assert step_after_matmul.main(["--batch", "4", "--iterations", "3"]) == 0
    assert "134,794 parameters" in capsys.readouterr().out
