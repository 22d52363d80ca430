"""On real Fashion-MNIST (when the Debian package dataset-fashion-mnist is installed; CI installs it)."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from fmnist.front.experiment import Experiment
from tests.conftest import CONF_DIR, FASHION_MNIST_DIR

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not FASHION_MNIST_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist to run the real-data test"
    ),
]


def test_three_by_128_relu_adam_reaches_87_percent_validation_in_5_epochs(tmp_path):
    overrides = [
        "logger=none",
        "model=mlp",
        "model.num_layers=3",
        "model.hidden_size=128",
        "model.dropout=0",
        "activation=relu",
        "init=he",
        "optimizer=adam",
        "optimizer.lr=1e-3",
        "optimizer.weight_decay=0",
        "loss=cross_entropy",
        "trainer.epochs=5",
        "trainer.batch_size=64",
        "plots=false",
        f"dataset.path={FASHION_MNIST_DIR}",
        "dataset.download=false",
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    with open_dict(cfg):
        cfg.trainer.progress = "none"
    result = Experiment(cfg, tmp_path).run()
    assert result.status == "completed"
    assert len(result.history) == 5
    assert result.summary["val_accuracy"] >= 0.87, result.history
