"""Train a NumPy MLP on Fashion-MNIST / MNIST. `python train.py --help` lists flags and config groups."""
import sys

import hydra
from omegaconf import DictConfig

from fmnist.cli import rewrite_argv

sys.argv = rewrite_argv(sys.argv)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from fmnist.app import run

    return run(cfg)


if __name__ == "__main__":
    main()
