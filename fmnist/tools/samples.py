"""One labelled training image per class:

    python -m fmnist.tools.samples [dataset=fashion_mnist|mnist] [dataset.path=DIR] [logger=none] [--out DIR]

Writes ``samples_<dataset>.png`` (default folder: ``outputs/samples``) and, with the wandb logger
(the default), logs it as an image to the project's ``samples`` job.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException

from fmnist import CONF_DIR
from fmnist.config.build import ConfigError, instantiate
from fmnist.runs.outputs import OutputFolderError, create_output_folder
from fmnist.runs.plots import sample_grid
from fmnist.runs.tracking import open_run


def write_samples(overrides: list[str], out_dir: Path) -> Path:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    data = instantiate(cfg.dataset, "dataset", seed=cfg.seed, dtype="float32")
    title = f"{data.name}: one training image per class"
    path = sample_grid(data.x_train, data.y_train, data.class_names, out_dir / f"samples_{data.name}.png", title)
    if cfg.get("logger") and cfg.logger.get("project"):
        import wandb  # only with a logger: wandb takes seconds to import

        run = open_run(
            cfg.logger.project,
            cfg.logger.get("entity"),
            cfg.logger.get("mode"),
            "samples",
            {"dataset": data.name},
            out_dir,
            name=f"samples-{data.name}",
        )
        run.log({"samples": wandb.Image(str(path), caption=title)})
        run.finish()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist.tools.samples", description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. dataset=mnist logger=none")
    parser.add_argument("--out", type=Path, default=Path("outputs/samples"), help="folder for the PNG")
    args = parser.parse_args(argv)
    try:
        path = write_samples(args.overrides, create_output_folder(args.out))
    except (ConfigError, HydraException, OutputFolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
