"""The one place where the config's settings are checked: :data:`SCHEMA` says what each key allows.

:func:`check_settings` runs once, before a run builds or writes anything (``fmnist.front.experiment``),
and refuses with one line naming the key, the value, what is allowed and an example to type::

    optimizer.lr must be > 0, got -1 (e.g. optimizer.lr=0.001)
    trainer.epochz is not a setting: did you mean trainer.epochs? trainer has epochs, batch_size, ...

Every key of ``conf/`` is here (tests/test_settings.py composes each option of each group and checks),
and so is every block: a key added with ``+`` that nothing reads is refused with the closest setting. The
flag shim (``fmnist.front.cli``) checks ``-lr``, ``-e``, ... with the same rules. The classes built from
the config (``fmnist.core``, the trainer) check their own arguments with plain errors (``lr must be > 0``);
they are the last guard, not the config's messages.

Only the standard library and omegaconf are imported: the flag shim reads these rules before Hydra starts.
The names some keys choose from are the modules' own (``trainer.lr_schedule``: fmnist.training.schedule's
LR_SCHEDULES), repeated here because this bottom layer imports nothing above it; the tests check they agree.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Union

from omegaconf import DictConfig, OmegaConf

from fmnist import IMAGE_SHAPE


class ConfigError(ValueError):
    """A config value that cannot work; the message says which key, what it was and what is allowed."""


@dataclass(frozen=True)
class Allowed:
    """What a key allows: ``accepts(value)``, said as ``text`` (``an integer >= 1``), with ``example`` (an
    allowed value as typed in an override). ``number`` (int or float) is how a command-line flag's text
    is read before it is checked; None for keys no flag sets."""

    accepts: Callable[[Any], bool]
    text: str
    example: str
    number: type | None = None

    def refusal(self, key: str, value) -> str | None:
        """The one-line message for ``key=value``, or None if the value is allowed."""
        if self.accepts(value):
            return None
        got = "" if isinstance(value, dict) else f", got {value!r}"  # a block's settings would fill the line
        return f"{key} must be {self.text}{got} (e.g. {key}={self.example})"


#: A key's rule, or a function of the whole (resolved) config giving it, for a key whose bounds depend on
#: another key (``trainer.warmup_epochs`` < ``trainer.epochs``).
Rule = Union[Allowed, Callable[[dict], Allowed]]


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(low: int, example: int, high: int | None = None, unit: str = "") -> Allowed:
    """A whole number >= ``low`` (and <= ``high``); ``unit`` names what it counts (``of pixels``)."""
    if high is None:
        return Allowed(lambda value: _is_integer(value) and value >= low, f"an integer >= {low}", str(example), int)
    return Allowed(
        lambda value: _is_integer(value) and low <= value <= high,
        f"a whole number {unit}from {low} to {high}",
        str(example),
        int,
    )


def above_zero(example: str) -> Allowed:
    return Allowed(lambda value: _is_number(value) and value > 0, "> 0", example, float)


def at_least_zero(example: str) -> Allowed:
    return Allowed(lambda value: _is_number(value) and value >= 0, ">= 0", example, float)


def below_one(example: str) -> Allowed:
    """A number in [0, 1): a decay, a momentum, a probability of dropping."""
    return Allowed(lambda value: _is_number(value) and 0 <= value < 1, "in [0, 1)", example, float)


def one_of(*choices: str) -> Allowed:
    return Allowed(lambda value: value in choices, f"one of {', '.join(choices)}", choices[0])


def name(example: str) -> Allowed:
    return Allowed(lambda value: isinstance(value, str) and bool(value.strip()), "a name (not empty)", example, str)


def or_null(rule: Allowed, meaning: str) -> Allowed:
    """``rule``, or null, which means ``meaning``."""
    return Allowed(
        lambda value: value is None or rule.accepts(value),
        f"{rule.text}, or null ({meaning})",
        rule.example,
        rule.number,
    )


TRUE_OR_FALSE = Allowed(lambda value: isinstance(value, bool), "true or false", "true")  # plots=no is not false


def importable(example: str) -> Allowed:
    """A ``_target_``: the dotted path of a class or function that imports."""

    def accepts(value) -> bool:
        module, _, attribute = str(value).rpartition(".")
        try:
            return hasattr(importlib.import_module(module), attribute)
        except (ImportError, ValueError):
            return False

    return Allowed(accepts, "the dotted path of a class that can be imported", example)


def warmup_epochs(config: dict) -> Allowed:
    """W epochs of warmup, 0 <= W < trainer.epochs, or a share of the epochs in (0, 1) (fmnist.training.schedule)."""
    epochs = config.get("trainer", {}).get("epochs", 1)

    def accepts(value) -> bool:
        return (isinstance(value, float) and 0 < value < 1) or (_is_integer(value) and 0 <= value < epochs)

    return Allowed(
        accepts,
        f"a whole number of epochs from 0 to trainer.epochs - 1 = {epochs - 1}, or a fraction of the epochs in (0, 1)",
        "0.05",
    )


def early_stopping(config: dict) -> Allowed:
    """A block of early stopping's settings, or null; null only when no validation split is held out."""
    if config.get("dataset", {}).get("val_fraction") == 0:
        return Allowed(
            lambda value: value is None,
            "null when dataset.val_fraction=0 (early stopping watches the "
            "validation split and this run holds none out; or hold images out: dataset.val_fraction=0.1)",
            "null",
        )
    return Allowed(
        lambda value: value is None or isinstance(value, dict), "null (none) or a block of its settings", "null"
    )


SIDE = min(IMAGE_SHAPE)  # augmentation shifts and blanks within one image
LR_SCHEDULES = ("constant", "cosine")  # fmnist.training.schedule.LR_SCHEDULES
PROGRESS_MODES = ("auto", "bar", "lines", "none")  # fmnist.training.progress.PROGRESS_MODES
MONITORS = ("val_accuracy", "val_loss")  # fmnist.training.early_stopping.MONITORS
RESUME_MODES = ("auto", "never", "must")  # fmnist.runs.resume.RESUME_MODES
WANDB_MODES = ("online", "offline", "disabled")  # fmnist.runs.tracking.MODES
DATASETS = ("fashion_mnist", "mnist")  # fmnist.data.datasets.DATASETS
DTYPES = ("float32", "float64")

#: key -> what it allows, in the order checked (a key another depends on comes first). A block (``trainer``,
#: ``optimizer``) holds only the keys listed under it; an optimiser's file holds some of ``optimizer.*``.
SCHEMA: dict[str, Rule] = {
    "seed": integer(0, 0),
    "plots": TRUE_OR_FALSE,
    "resume": one_of(*RESUME_MODES),
    "blas_threads": Allowed(
        lambda value: value == "auto" or (_is_integer(value) and value >= 1), "auto or an integer >= 1", "auto"
    ),
    "dataset._target_": importable("fmnist.data.datasets.load_dataset"),
    "dataset.name": one_of(*DATASETS),
    "dataset.path": or_null(name("/usr/share/datasets/fashion-mnist"), "search the usual places"),
    "dataset.val_fraction": below_one("0.1"),
    "dataset.split_seed": or_null(integer(0, 0), "the run's seed draws the split"),
    "dataset.subset": or_null(integer(1, 10000), "every training image"),
    "dataset.standardize": TRUE_OR_FALSE,
    "dataset.download": TRUE_OR_FALSE,
    "model.hidden_sizes": Allowed(
        lambda value: (
            value is None or (isinstance(value, list) and all(_is_integer(size) and size >= 1 for size in value))
        ),
        "a list of integers >= 1, or null (num_layers x hidden_size)",
        "[1024,512]",
    ),
    "model.num_layers": integer(0, 3),
    "model.hidden_size": integer(1, 128),
    "model.dropout": below_one("0.2"),
    "model.dtype": one_of(*DTYPES),
    "activation._target_": importable("fmnist.core.activations.ReLU"),
    "init._target_": importable("fmnist.core.init.He"),
    "init.std": above_zero("0.05"),
    "loss._target_": importable("fmnist.core.losses.CrossEntropy"),
    "loss.smoothing": below_one("0.1"),
    "optimizer._target_": importable("fmnist.core.optim.Adam"),
    "optimizer.lr": above_zero("0.001"),
    "optimizer.weight_decay": at_least_zero("0.0005"),
    "optimizer.momentum": below_one("0.9"),
    "optimizer.beta": below_one("0.9"),
    "optimizer.beta1": below_one("0.9"),
    "optimizer.beta2": below_one("0.999"),
    "optimizer.beta3": below_one("0.999"),
    "optimizer.epsilon": above_zero("1e-08"),
    "optimizer.momentum_decay": at_least_zero("0.004"),
    "optimizer.lower_threshold": above_zero("0.1"),
    "optimizer.upper_threshold": lambda config: Allowed(
        lambda value: _is_number(value) and value > config["optimizer"].get("lower_threshold", 0.1),
        "> optimizer.lower_threshold",
        "10.0",
    ),
    "trainer.epochs": integer(1, 100),
    "trainer.batch_size": integer(1, 256),
    "trainer.lr_schedule": one_of(*LR_SCHEDULES),
    "trainer.warmup_epochs": warmup_epochs,
    "trainer.ema_decay": Allowed(
        lambda value: _is_number(value) and 0 <= value < 1,
        "in [0, 1): the decay of the weights' moving average, 0 for none",
        "0.999",
    ),
    "trainer.progress": one_of(*PROGRESS_MODES),
    "trainer.early_stopping": early_stopping,
    "trainer.early_stopping.monitor": one_of(*MONITORS),
    "trainer.early_stopping.patience": integer(1, 10),
    "trainer.early_stopping.min_delta": at_least_zero("0.001"),
    "trainer.early_stopping.start_from_epoch": integer(0, 0),
    "trainer.early_stopping.restore_best": TRUE_OR_FALSE,
    "augment._target_": importable("fmnist.core.augment.Augmentation"),
    "augment.max_shift": integer(0, 1, SIDE - 1, unit="of pixels "),
    "augment.horizontal_flip": TRUE_OR_FALSE,
    "augment.cutout": integer(0, 8, SIDE, unit="of pixels "),
    "augment.until": Allowed(
        lambda value: (
            value is None or (_is_integer(value) and value >= 1) or (isinstance(value, float) and 0 < value <= 1)
        ),
        "null (every epoch), an epoch number >= 1 or a fraction of the epochs in (0, 1]",
        "0.8",
    ),
    "checkpoint.every_n_epochs": integer(1, 1),
    "logger._target_": importable("fmnist.runs.tracking.WandbLogger"),
    "logger.project": name("fmnist"),
    "logger.entity": or_null(name("my-team"), "your default entity"),
    "logger.group": or_null(name("my-sweep"), "the sweep's name"),
    "logger.mode": or_null(one_of(*WANDB_MODES), "decided by the environment"),
    # written by the Optuna sweeper into each job of a pruned sweep (fmnist.sweeps.pruning), not by users
    "optuna_trial": Allowed(
        lambda value: value is None or isinstance(value, dict),
        "the Optuna sweeper's record of the trial (number, study_name, storage)",
        "null",
    ),
}


def rule_of(key: str, config: dict) -> Allowed:
    """The rule of ``key`` for ``config`` (the resolved config, as a dict)."""
    rule = SCHEMA[key]
    return rule if isinstance(rule, Allowed) else rule(config)


def settings_under(block: str) -> list[str]:
    """The names :data:`SCHEMA` allows directly in ``block`` ("" for the top level)."""
    prefix = f"{block}." if block else ""
    names = [key.removeprefix(prefix).split(".")[0] for key in SCHEMA if key.startswith(prefix)]
    return list(dict.fromkeys(names))


def unknown_setting(config: dict, block: str = "") -> str | None:
    """The message for the first key in ``config`` (the block at ``block``) that nothing reads, or None."""
    known = settings_under(block)
    for name_, value in config.items():
        key = f"{block}.{name_}" if block else name_
        if name_ not in known:
            close = difflib.get_close_matches(name_, known, n=1)
            hint = f"did you mean {f'{block}.' if block else ''}{close[0]}? " if close else ""
            where = f"{block} has" if block else "the config has"
            return f"{key} is not a setting: {hint}{where} {', '.join(known)}"
        if isinstance(value, dict) and settings_under(key):
            message = unknown_setting(value, key)
            if message:
                return message
    return None


_ABSENT = object()


def check_settings(cfg: DictConfig | dict) -> None:
    """A ConfigError for the first key that nothing reads, else for the first value :data:`SCHEMA` does not
    allow. A key missing from ``cfg`` takes its default in the code that reads it."""
    config = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else cfg
    message = unknown_setting(config)
    if message:
        raise ConfigError(message)
    for key in SCHEMA:
        value = config
        for part in key.split("."):
            value = value.get(part, _ABSENT) if isinstance(value, dict) else _ABSENT
        message = None if value is _ABSENT else rule_of(key, config).refusal(key, value)
        if message:
            raise ConfigError(message)
