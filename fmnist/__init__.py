"""fmnist: feedforward networks written from scratch in NumPy for Fashion-MNIST and MNIST."""
from pathlib import Path

#: The config folder users pick from (config groups, presets); study presets are in ``studies/conf``.
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
