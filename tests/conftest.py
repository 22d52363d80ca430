"""Shared test helpers: the config groups in conf/, and tiny generated datasets."""
from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "conf"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def group_options(group: str) -> list[str]:
    """The option names of a config group: the YAML files in conf/GROUP/."""
    return sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml"))


def load_option(group: str, name: str):
    return OmegaConf.load(CONF_DIR / group / f"{name}.yaml")


def build_option(group: str, name: str, **kwargs):
    """Instantiate conf/GROUP/NAME.yaml as the experiment would."""
    from hydra.utils import instantiate

    return instantiate(load_option(group, name), **kwargs)


@pytest.fixture(scope="session")
def tiny_idx_dir(tmp_path_factory) -> Path:
    """A folder with the four IDX files of a tiny learnable 10-class dataset."""
    from tests.idx_files import write_idx_dataset

    return write_idx_dataset(tmp_path_factory.mktemp("tiny_idx"), n_train=300, n_test=100, seed=0)


@pytest.fixture(scope="session")
def tiny_data(tiny_idx_dir):
    from fmnist.data import load_dataset

    return load_dataset("fashion_mnist", path=str(tiny_idx_dir), download=False, seed=0)
