"""Save and load a trained network: weights plus the config that built it, in one ``.npz`` file
(the final model; the checkpoints a run resumes from are :mod:`fmnist.resume`)."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np

from fmnist.atomic import write_atomically
from fmnist.nn.network import MLP


def save_checkpoint(path: str | Path, network: MLP, config: dict) -> Path:
    """Write ``params`` (the flat buffer), the network's spec and the experiment config."""
    # a file object, because np.savez would append ".npz" to a name without it
    return write_atomically(path, lambda file: np.savez(file, params=network.params, spec=json.dumps(network.spec()),
                                                        config=json.dumps(config)))


def load_checkpoint(path: str | Path) -> tuple[MLP, dict]:
    """Rebuild the network saved at ``path``; returns (network, experiment config)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: pass a file written by a training run (model.npz)")
    with np.load(path) as archive:
        spec = json.loads(str(archive["spec"]))
        config = json.loads(str(archive["config"]))
        params = archive["params"]
    module_name, _, class_name = spec["activation"].rpartition(".")
    activation = getattr(importlib.import_module(module_name), class_name)()
    network = MLP(spec["layer_sizes"], activation, dropout=spec["dropout"], dtype=spec["dtype"])
    if params.shape != network.params.shape:
        raise ValueError(f"{path}: holds {params.size} parameters but its spec needs {network.params.size}")
    network.params[...] = params
    return network, config
