"""Hydra callbacks (registered in conf/config.yaml under ``hydra.callbacks``)."""
from __future__ import annotations

import sys
from pathlib import Path

from hydra.experimental.callback import Callback


class CheckOutputFolder(Callback):
    """An output folder that cannot be created is bad input: one line saying which and why, exit 2,
    instead of Hydra's chained tracebacks from inside its launcher."""

    def on_run_start(self, config, **kwargs) -> None:
        create_output_folder(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config, **kwargs) -> None:
        create_output_folder(config.hydra.sweep.dir, "hydra.sweep.dir")


def create_output_folder(folder, key: str) -> None:
    """Create ``folder`` (Hydra would, a moment later; ``${now:...}`` resolves to the same time, it is cached)."""
    path = Path(str(folder))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: {key}={path} cannot be used as the output folder ({error.strerror or error}); "
              f"choose a folder you can create and write to", file=sys.stderr)
        sys.exit(2)
