"""benchmarks/: every workload's epoch of speed.py builds and trains for every implementation installed
here, PyTorch runs its fastest documented settings (and its defaults beside them), Keras and PyTorch train
fmnist's network, and the table speed.py prints is consistent with the times it measured;
step_after_matmul.py times its three cases."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from types import SimpleNamespace

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
    assert {"fmnist", "numpy", "matmul", "torch", "torch_default", "keras"} <= set(implementations)
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


@pytest.mark.parametrize("name", sorted(speed.WORKLOADS))
def test_torch_runs_its_fastest_documented_optimizer_settings_and_torch_default_none(name, monkeypatch):
    """fused=True Adam, foreach=True RMSprop (no fused RMSprop on CPU) for "torch"; "torch_default" passes
    none of them, so torch picks its CPU default (a loop over the parameters)."""
    torch = pytest.importorskip("torch")
    workload = speed.WORKLOADS[name]
    torch_class = {"adam": "Adam", "rmsprop": "RMSprop"}[workload.optimizer]
    built = []

    def recording(*args, **kwargs):
        built.append(kwargs)
        return real(*args, **kwargs)

    real = getattr(torch.optim, torch_class)
    monkeypatch.setattr(torch.optim, torch_class, recording)
    x, y = np.zeros((4, 784), np.float32), np.zeros(4, np.int64)
    factories = speed.epoch_factories(workload)
    factories["torch"](x, y)
    factories["torch_default"](x, y)
    fastest, default = built
    fast_settings = speed.TORCH_FASTEST[workload.optimizer]
    assert fast_settings == ({"fused": True} if workload.optimizer == "adam" else {"foreach": True})
    assert {key: fastest[key] for key in fast_settings} == fast_settings
    assert not {"fused", "foreach"} & set(default)
    assert {key: value for key, value in fastest.items() if key not in ("fused", "foreach")} == default


@pytest.mark.parametrize("name", sorted(speed.WORKLOADS))
def test_keras_and_torch_train_the_network_fmnist_trains(name):
    """Same layers, same parameter count, dropout after each hidden activation; Keras's coupled weight
    decay: L2 of λ/2 on every kernel and bias, whose gradient λθ is what fmnist and torch add."""
    pytest.importorskip("keras")
    import keras

    workload = speed.WORKLOADS[name]
    fmnist_network = speed.fmnist_trainer(workload).network
    penalty = keras.regularizers.L2(speed.RMSPROP["weight_decay"] / 2)
    model = speed.keras_network(workload.hidden_sizes, workload.activation, workload.dropout, penalty, penalty)
    assert model.count_params() == fmnist_network.num_params
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == workload.layer_sizes[1:]
    kinds = [type(layer).__name__ for layer in model.layers]
    expected = (["Dense", "Dropout"] if workload.dropout else ["Dense"]) * len(workload.hidden_sizes)
    assert kinds == [*expected, "Dense"]
    l2 = pytest.approx(speed.RMSPROP["weight_decay"] / 2)
    assert all(layer.kernel_regularizer.l2 == layer.bias_regularizer.l2 == l2 for layer in dense)


def test_the_default_workload_is_the_first_default_configuration():
    """Workload D must stay what `python train.py +experiment=first_default` trains."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        config = compose(config_name="config", overrides=["+experiment=first_default"])
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


def printed_table(output: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The column names of speed.py's table and, per workload letter, its printed value in each column
    (the pass/miss verdict under "verdict")."""
    lines = output.splitlines()
    header = next(line for line in lines if line.startswith("workload"))
    columns = re.findall(r"\w+ s|\w+/\w+|target", header)
    rows = {}
    for line in lines[lines.index(header) + 1 :]:
        name = line.split()[0]
        values = line[len(f"{name} {speed.WORKLOADS[name].label}") :].split()
        verdicts = [value for value in values if value in ("ok", "MISS")]
        row = dict(zip(columns, [value for value in values if value not in verdicts], strict=True))
        rows[name] = {**row, "verdict": "".join(verdicts)}
    return columns, rows


def test_the_printed_ratios_are_the_quotients_of_the_printed_times(monkeypatch, capsys):
    """speed.py's arithmetic and layout, with the timed epochs replaced by known times: every time column
    shows its time, every "a/b" column the quotient of columns "a s" and "b s" (to the printed digits),
    the target column the workload's target, and the verdict says whether fmnist/torch meets it."""
    rng = np.random.default_rng(0)
    times = {
        name: {implementation: float(rng.uniform(0.05, 5.0)) for implementation in speed.epoch_factories(workload)}
        for name, workload in speed.WORKLOADS.items()
    }
    times["A"]["fmnist"] = 0.5 * speed.WORKLOADS["A"].target * times["A"]["torch"]  # one target met
    times["B"]["fmnist"] = 2.0 * speed.WORKLOADS["B"].target * times["B"]["torch"]  # and one missed
    monkeypatch.setattr(speed, "best_times", lambda workload, repeats, threads: times[workload])
    monkeypatch.setattr(speed, "load_dataset", lambda *args, **kwargs: SimpleNamespace(x_train=np.zeros((7, 784))))
    assert speed.main(["--repeats", "2"]) == 0
    output = capsys.readouterr().out
    assert output.startswith("7 training images") and "best of 2 epochs" in output
    columns, rows = printed_table(output)
    assert list(rows) == list(speed.WORKLOADS)
    assert columns == [
        *(f"{name} s" for name in speed.TIME_COLUMNS),
        *(f"{numerator}/{denominator}" for numerator, denominator in speed.RATIO_COLUMNS),
        "target",
    ]
    assert {"fmnist/torch", "fmnist/torch_default", "fmnist/keras"} <= set(columns)
    ratios = [column for column in columns if "/" in column]
    for name, row in rows.items():
        for implementation in (column[:-2] for column in columns if column.endswith(" s")):
            expected = times[name].get(implementation, math.nan)  # an implementation a workload lacks prints nan
            assert float(row[f"{implementation} s"]) == pytest.approx(expected, abs=5e-4, nan_ok=True)
        for column in ratios:
            numerator, denominator = (float(row[f"{part} s"]) for part in column.split("/"))
            # times print to 0.0005 s and ratios to 0.005; that much rounding moves a / b by at most:
            rounding = 0.005 + 0.0005 * (1 + numerator / denominator) / denominator
            assert float(row[column].rstrip("x")) == pytest.approx(numerator / denominator, abs=rounding)
        target = speed.WORKLOADS[name].target
        if target is None:
            assert (row["target"], row["verdict"]) == ("-", "")
        else:
            met = times[name]["fmnist"] / times[name]["torch"] <= target
            assert (row["target"], row["verdict"]) == (f"<={target}", "ok" if met else "MISS")
    assert (rows["A"]["verdict"], rows["B"]["verdict"]) == ("ok", "MISS")
