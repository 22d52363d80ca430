"""fmnist: feedforward networks written from scratch in NumPy for Fashion-MNIST and MNIST."""

from pathlib import Path

#: Rows and columns of an image of both datasets; a network sees it flattened to 784 inputs.
IMAGE_SHAPE = (28, 28)

#: The config folder users pick from (config groups, presets); study presets are in ``studies/conf``.
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
#: Study presets (``+study=NAME``), kept apart from what users pick; on Hydra's search path through
#: hydra_plugins/fmnist_studies_searchpath.py.
STUDIES_CONF_DIR = CONF_DIR.parent / "studies" / "conf"
