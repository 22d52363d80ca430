"""The final model, ``RUN_DIR/model.npz``: a trained network's weights plus the config that built it, in one
file. (The checkpoints a run resumes from, ``RUN_DIR/checkpoints/``, are :mod:`fmnist.runs.resume`.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fmnist.core import activations
from fmnist.core.network import MLP
from fmnist.runs.atomic import write_atomically


def save_model(path: str | Path, network: MLP, config: dict) -> Path:
    """Write ``params`` (the flat buffer), the network's spec and the experiment config."""
    # a file object, because np.savez would append ".npz" to a name without it
    return write_atomically(
        path,
        lambda file: np.savez(file, params=network.params, spec=json.dumps(network.spec()), config=json.dumps(config)),
    )


def load_model(path: str | Path) -> tuple[MLP, dict]:
    """Rebuild the network saved at ``path``; returns (network, experiment config)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model at {path}: pass a file written by a training run (model.npz)")
    with np.load(path) as archive:
        spec = json.loads(str(archive["spec"]))
        config = json.loads(str(archive["config"]))
        params = archive["params"]
    # by class name, so a model saved before a module moved (fmnist.nn.activations.ReLU) still loads
    activation = getattr(activations, spec["activation"].rpartition(".")[2])()
    network = MLP(spec["layer_sizes"], activation, dropout=spec["dropout"], dtype=spec["dtype"])
    if params.shape != network.params.shape:
        raise ValueError(f"{path}: holds {params.size} parameters but its spec needs {network.params.size}")
    network.params[...] = params
    return network, config
