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


@pytest.fixture(scope="session")
def tiny_idx_dir(tmp_path_factory) -> Path:
    """A folder with the four IDX files of a tiny learnable 10-class dataset."""
    from tests.idx_files import write_idx_dataset

    return write_idx_dataset(tmp_path_factory.mktemp("tiny_idx"), n_train=300, n_test=100, seed=0)


@pytest.fixture(scope="session")
def tiny_data(tiny_idx_dir):
    from fmnist.data.datasets import load_dataset

    return load_dataset("fashion_mnist", path=str(tiny_idx_dir), download=False, seed=0)
