"""Evaluate a saved run on a test set:

    python -m fmnist.tools.evaluate RUN_DIR [dataset=mnist] [dataset.path=DIR]

Loads ``RUN_DIR/model.npz`` (weights and the config that built them), loads the test set of the
run's dataset (or of the one named by ``dataset=NAME``, a file in conf/dataset/), prints loss,
accuracy, per-class accuracy and the most confused class pairs, and writes the confusion matrix
and misclassified images into ``RUN_DIR/evaluation_<dataset>/``. Exit code 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from fmnist import CONF_DIR
from fmnist.config.build import instantiate
from fmnist.config.settings import check_settings
from fmnist.data.datasets import DataError
from fmnist.runs.model_file import load_model
from fmnist.runs.outputs import MODEL_FILE, write_evaluation_plots
from fmnist.runs.plots import most_confused_pairs, per_class_accuracy


def dataset_config(saved: dict, overrides: list[str]) -> DictConfig:
    """The run's dataset config, with ``dataset=NAME`` swapping the group and ``dataset.KEY=V`` edits, checked
    by the settings schema."""
    dataset = OmegaConf.create(saved["dataset"])
    edits = []
    for override in overrides:
        key, separator, value = override.partition("=")
        if not separator or not (key == "dataset" or key.startswith("dataset.")):
            raise ValueError(f"override {override!r} is not allowed: use dataset=NAME or dataset.KEY=VALUE")
        if key == "dataset":
            option = CONF_DIR / "dataset" / f"{value}.yaml"
            if not option.is_file():
                names = ", ".join(sorted(path.stem for path in option.parent.glob("*.yaml")))
                raise ValueError(f"dataset={value} is not a dataset: choose from {names}")
            dataset = OmegaConf.load(option)
        else:
            edits.append(f"{key.removeprefix('dataset.')}={value}")
    dataset = OmegaConf.merge(dataset, OmegaConf.from_dotlist(edits))
    check_settings({"dataset": OmegaConf.to_container(dataset)})
    return dataset


def evaluate_run(run_dir: Path, overrides: list[str] = ()) -> dict:
    """Evaluate the checkpoint in ``run_dir`` on a test set; returns the printed figures."""
    network, saved = load_model(run_dir / MODEL_FILE)
    dataset = dataset_config(saved, list(overrides))
    data = instantiate(dataset, "dataset", seed=saved["seed"], dtype=network.dtype.name)
    if len(data.class_names) != network.layer_sizes[-1]:
        raise ValueError(
            f"{data.name} has {len(data.class_names)} classes but the model predicts {network.layer_sizes[-1]}"
        )
    loss = instantiate(OmegaConf.create(saved["loss"]), "loss")
    logits = network.predict_logits(data.x_test)
    predictions = logits.argmax(axis=1)
    out_dir = run_dir / f"evaluation_{data.name}"
    out_dir.mkdir(exist_ok=True)
    counts = write_evaluation_plots(
        out_dir,
        data.pixels(data.x_test),
        data.y_test,
        predictions,
        data.class_names,
        seed=saved["seed"],
        title=f"{data.name} test set",
    )
    return {
        "dataset": data.name,
        "test_loss": loss.value(logits, data.y_test),
        "test_accuracy": float((predictions == data.y_test).mean()),
        "per_class_accuracy": dict(zip(data.class_names, per_class_accuracy(counts).tolist())),
        "most_confused": most_confused_pairs(counts, data.class_names),
        "out_dir": str(out_dir),
    }


def format_report(figures: dict) -> str:
    lines = [
        f"{figures['dataset']} test set: test_loss {figures['test_loss']:.4f}  "
        f"test_accuracy {figures['test_accuracy']:.4f}",
        "per-class accuracy:",
    ]
    lines += [f"  {name:<12} {accuracy:.4f}" for name, accuracy in figures["per_class_accuracy"].items()]
    lines.append("most confused (true -> predicted):")
    lines += [
        f"  {true} -> {predicted}: {count} ({100 * fraction:.1f}% of {true})"
        for true, predicted, count, fraction in figures["most_confused"]
    ]
    lines.append(f"confusion matrix and misclassified images in {figures['out_dir']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fmnist.tools.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a training run's directory (holds model.npz)")
    # default=[]: without one, argparse lists an empty `nargs="*"` positional among the missing arguments
    parser.add_argument("overrides", nargs="*", default=[], help="dataset=NAME and/or dataset.KEY=VALUE (optional)")
    args = parser.parse_args(argv)
    try:
        figures = evaluate_run(args.run_dir, args.overrides)
    except (FileNotFoundError, ValueError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
