"""benchmarks/keras_parity.py: each Keras network and its fmnist preset train the same thing, the report's
summaries and verdicts follow from its runs, and a tiny study trains both frameworks on fmnist's split."""

from __future__ import annotations

import importlib.util
import re
import statistics

import numpy as np
import pytest

from benchmarks import keras_parity
from benchmarks.keras_parity import KERAS_NETWORKS, Run, Settings
from fmnist.front.experiment import Experiment, hidden_sizes

needs_keras = pytest.mark.skipif(
    importlib.util.find_spec("keras") is None, reason="keras is not installed (pip install -r requirements-dev.txt)"
)


@pytest.mark.parametrize("network", sorted(KERAS_NETWORKS))
def test_each_preset_sets_what_its_keras_network_does(network):
    """Layers, dropout, Glorot-uniform init, Adam 1e-3 with Keras's betas and ε, L2 λ as weight decay 2λ,
    batch 128, 50 epochs at a constant rate, plain cross-entropy, no augmentation, warm-up or averaging."""
    spec = KERAS_NETWORKS[network]
    cfg = keras_parity.fmnist_config(network, seed=0, settings=Settings())
    assert hidden_sizes(cfg.model) == list(spec.hidden_sizes) and cfg.model.dropout == spec.dropout
    assert cfg.activation._target_ == "fmnist.core.activations.ReLU"
    assert cfg.init._target_ == "fmnist.core.init.Xavier"  # keras.layers.Dense: glorot_uniform, zero biases
    assert cfg.loss._target_ == "fmnist.core.losses.CrossEntropy"
    assert cfg.optimizer._target_ == "fmnist.core.optim.Adam" and cfg.optimizer.lr == keras_parity.LEARNING_RATE
    # keras.optimizers.Adam's defaults
    assert (cfg.optimizer.beta1, cfg.optimizer.beta2, cfg.optimizer.epsilon) == (0.9, 0.999, 1e-7)
    assert cfg.optimizer.weight_decay == pytest.approx(2 * spec.l2)  # gradient of l2 · Σw² is 2 l2 · w
    assert (cfg.trainer.batch_size, cfg.trainer.epochs) == (keras_parity.BATCH_SIZE, keras_parity.EPOCHS)
    assert (cfg.trainer.lr_schedule, cfg.trainer.warmup_epochs, cfg.trainer.ema_decay) == ("constant", 0, 0)
    assert (cfg.augment.max_shift, cfg.augment.horizontal_flip) == (0, False)
    assert cfg.dataset.val_fraction == 0.1


@needs_keras
@pytest.mark.parametrize("network", sorted(KERAS_NETWORKS))
def test_keras_network_matches_the_preset_and_the_keras_defaults_it_relies_on(network):
    import keras

    from fmnist.core.init import Xavier

    spec = KERAS_NETWORKS[network]
    cfg = keras_parity.fmnist_config(network, seed=0, settings=Settings())
    fmnist_network = Experiment(cfg, "unused").build_network(784, 10, np.random.default_rng(0))
    model = keras_parity.keras_network(spec.hidden_sizes, "relu", spec.dropout)
    assert model.count_params() == fmnist_network.num_params
    dense = model.layers[0]
    assert isinstance(dense.kernel_initializer, keras.initializers.GlorotUniform)
    assert isinstance(dense.bias_initializer, keras.initializers.Zeros)
    assert Xavier.distribution == "uniform" and Xavier().std(784, 128) == pytest.approx(np.sqrt(2 / (784 + 128)))
    adam = keras.optimizers.Adam(learning_rate=keras_parity.LEARNING_RATE)
    assert (adam.beta_1, adam.beta_2, adam.epsilon) == (cfg.optimizer.beta1, cfg.optimizer.beta2, cfg.optimizer.epsilon)


def fake_runs() -> list[Run]:
    """Keras at 88/89/90 % test accuracy; fmnist inside that range on the dropout network, below on the
    funnel. Validation accuracy 1 point above test; Keras 2 s per epoch, fmnist 1 s."""
    runs = []
    for network, fmnist_test in (("keras_dropout", (0.885, 0.895, 0.885)), ("keras_funnel", (0.86, 0.87, 0.85))):
        for seed in range(3):
            for framework, test_accuracy, seconds in (
                ("keras", (0.88, 0.89, 0.90)[seed], 2.0 + seed),
                ("fmnist", fmnist_test[seed], 1.0),
            ):
                runs.append(Run(network, seed, framework, test_accuracy + 0.01, test_accuracy, seconds))
    return runs


def table_rows(text: str, first_column_header: str) -> list[list[str]]:
    """The cells of each body row of the markdown table whose header row starts with ``first_column_header``."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(f"| {first_column_header} "))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_report_lists_every_run_then_each_frameworks_spread_and_where_fmnist_lies():
    runs = fake_runs()
    text = keras_parity.report(runs, "header line")
    assert text.startswith("header line\n")
    per_run = table_rows(text, "network | seed")
    assert per_run == [
        [
            run.network,
            str(run.seed),
            run.framework,
            f"{100 * run.val_accuracy:.2f}",
            f"{100 * run.test_accuracy:.2f}",
            f"{run.seconds_per_epoch:.2f}",
        ]
        for run in runs
    ]
    summary = {(row[0], row[1]): row[2:] for row in table_rows(text, "network | framework")}
    assert summary[("keras_dropout", "keras")] == [
        "3",
        "90.00 ± 1.00 [89.00, 91.00]",
        "89.00 ± 1.00 [88.00, 90.00]",
        "3.00",
    ]
    sd = statistics.stdev([88.5, 89.5, 88.5])
    assert summary[("keras_dropout", "fmnist")] == [
        "3",
        f"89.83 ± {sd:.2f} [89.50, 90.50]",
        f"88.83 ± {sd:.2f} [88.50, 89.50]",
        "1.00",
    ]
    assert summary[("keras_funnel", "fmnist")][2] == "86.00 ± 1.00 [85.00, 87.00]"
    assert (
        "- keras_dropout: fmnist's mean validation accuracy is inside Keras's seed range, its mean test accuracy "
        "inside; an fmnist epoch takes 0.33x Keras's."
    ) in text
    assert (
        "- keras_funnel: fmnist's mean validation accuracy is below by 2.00 Keras's seed range, its mean test "
        "accuracy below by 2.00; an fmnist epoch takes 0.33x Keras's."
    ) in text


@pytest.mark.slow  # four training processes, each importing keras or fmnist
@needs_keras
def test_a_tiny_study_trains_both_frameworks_on_fmnists_split_and_reports_the_fmnist_run(tiny_idx_dir, capsys):
    """Two seeds of one network for one epoch: four runs, each in its own process. The fmnist rows are the
    preset's own results (an in-process run gives the same numbers); the Keras rows are accuracies on the
    30 validation and 100 test images of fmnist's split (multiples of 1/30 and 1/100)."""
    argv = ["--seeds", "2", "--epochs", "1", "--networks", "keras_dropout", "--data-path", str(tiny_idx_dir)]
    assert keras_parity.main(argv) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"`python benchmarks/keras_parity.py {' '.join(argv)}`")
    per_run = table_rows(text, "network | seed")
    assert [(row[0], row[1], row[2]) for row in per_run] == [
        ("keras_dropout", seed, framework) for seed in ("0", "1") for framework in ("keras", "fmnist")
    ]
    settings = Settings(epochs=1, data_path=str(tiny_idx_dir))
    for network, seed, framework, val_accuracy, test_accuracy, seconds in per_run:
        assert float(seconds) > 0
        assert float(val_accuracy) * 30 / 100 == pytest.approx(round(float(val_accuracy) * 30 / 100), abs=0.01)
        assert float(test_accuracy) == pytest.approx(round(float(test_accuracy)), abs=0.01)
        if framework == "fmnist":
            run = keras_parity.train_fmnist(network, int(seed), settings)
            assert (val_accuracy, test_accuracy) == (f"{100 * run.val_accuracy:.2f}", f"{100 * run.test_accuracy:.2f}")
    summary = {row[1]: row[2:] for row in table_rows(text, "network | framework")}
    for framework in ("keras", "fmnist"):
        tests = [float(row[4]) for row in per_run if row[2] == framework]
        mean = re.match(r"([\d.]+) ± ", summary[framework][2]).group(1)
        assert summary[framework][0] == "2" and float(mean) == pytest.approx(statistics.mean(tests), abs=0.006)
    assert re.search(
        r"- keras_dropout: fmnist's mean validation accuracy is (inside|below by [\d.]+|above by [\d.]+) "
        r"Keras's seed range",
        text,
    )
