"""Shared test helpers: the config groups in conf/, and tiny generated datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from fmnist.core.network import MLP
from fmnist.training.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "conf"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def group_options(group: str) -> list[str]:
    """The option names of a config group: the YAML files in conf/GROUP/."""
    return sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml"))


def sample_values(override: str) -> list[str]:
    """The values a sweep override can take: every choice, the ends of an interval, or its one value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_override(override)
    if not parsed.is_sweep_override():
        return [parsed.get_value_element_as_str()]
    if parsed.value_type.name == "INTERVAL_SWEEP":
        return [str(parsed.value().start), str(parsed.value().end)]
    return list(parsed.sweep_string_iterator())


def load_option(group: str, name: str):
    return OmegaConf.load(CONF_DIR / group / f"{name}.yaml")


def build_option(group: str, name: str, **kwargs):
    """Instantiate conf/GROUP/NAME.yaml as the experiment would."""
    from hydra.utils import instantiate

    return instantiate(load_option(group, name), **kwargs)


def small_trainer(epochs: int, **settings):
    """A seeded Trainer of a 784-16-10 ReLU network (dropout 0.1, He init) with Adam at 0.003, batch 32;
    ``settings`` go to Trainer (callbacks, average, ...)."""
    rng = np.random.default_rng(0)
    network = MLP([784, 16, 10], build_option("activation", "relu"), dropout=0.1)
    network.initialize(build_option("init", "he"), rng)
    return Trainer(
        network,
        build_option("loss", "cross_entropy"),
        build_option("optimizer", "adam", lr=0.003),
        epochs=epochs,
        batch_size=32,
        rng=rng,
        **settings,
    )


@pytest.fixture(scope="session")
def tiny_idx_dir(tmp_path_factory) -> Path:
    """A folder with the four IDX files of a tiny learnable 10-class dataset."""
    from tests.idx_files import write_idx_dataset

    return write_idx_dataset(tmp_path_factory.mktemp("tiny_idx"), n_train=300, n_test=100, seed=0)


@pytest.fixture(scope="session")
def tiny_data(tiny_idx_dir):
    from fmnist.data.datasets import load_dataset

    return load_dataset("fashion_mnist", path=str(tiny_idx_dir), download=False, seed=0)
