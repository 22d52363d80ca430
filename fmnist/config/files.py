"""What the files of conf/ offer: each group's options, the default choices, what a preset sets.

Only the standard library and omegaconf are imported: ``train.py``'s flag shim reads these before Hydra starts.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from fmnist import CONF_DIR
from fmnist.config.dotted import flatten


def group_options(conf_dir: Path, group: str) -> list[str]:
    return sorted(path.stem for path in (conf_dir / group).glob("*.yaml"))


def default_choices(conf_dir: Path) -> dict[str, str]:
    """Group -> option chosen by the defaults list of conf/config.yaml."""
    choices = {}
    for entry in OmegaConf.load(conf_dir / "config.yaml").get("defaults", []):
        if isinstance(entry, dict) or OmegaConf.is_dict(entry):
            choices.update({str(group): str(option) for group, option in dict(entry).items()})
    return choices


def optimizer_keys(conf_dir: Path, optimizer: str) -> list[str]:
    path = conf_dir / "optimizer" / f"{optimizer}.yaml"
    return [key for key in OmegaConf.load(path) if key != "_target_"] if path.is_file() else []


def optimizers_taking(conf_dir: Path, key: str) -> list[str]:
    """The options of conf/optimizer/ whose file sets ``key`` (``momentum`` -> momentum, nag)."""
    return [option for option in group_options(conf_dir, "optimizer") if key in optimizer_keys(conf_dir, option)]


def option_names(conf_dir: Path = CONF_DIR) -> dict[str, dict[str, list[str]]]:
    """group -> {_target_: option names with that target}, from the files in conf/<group>/."""
    names: dict[str, dict[str, list[str]]] = {}
    for path in sorted(conf_dir.glob("*/*.yaml")):
        target = OmegaConf.load(path).get("_target_")
        if target:
            names.setdefault(path.parent.name, {}).setdefault(target, []).append(path.stem)
    return names


def preset_settings(path: Path) -> dict[str, object]:
    """What a ``# @package _global_`` preset sets, as override key -> value, ``hydra`` left out.

    ``defaults: [override /loss: cross_entropy]`` gives loss -> cross_entropy; a group the default config
    lacks, ``defaults: [/experiment: recipe]``, gives +experiment -> recipe; ``trainer: {epochs: 5}``
    gives trainer.epochs -> 5; ``hydra/...`` defaults and the ``hydra:`` block only steer a sweep. A
    preset of the same folder named in the defaults (``defaults: [grid]``) gives its settings first.
    """
    preset = OmegaConf.to_container(OmegaConf.load(path))
    settings = {}
    for entry in preset.pop("defaults", []):
        if isinstance(entry, str) and entry != "_self_":
            settings.update(preset_settings(path.parent / f"{entry}.yaml"))
        for group, option in entry.items() if isinstance(entry, dict) else ():
            overrides = group.startswith("override")
            group = group.removeprefix("override").strip().lstrip("/")
            if group.partition("/")[0] != "hydra":
                settings[group if overrides else f"+{group}"] = option
    preset.pop("hydra", None)
    settings.update(flatten(preset))
    return settings
