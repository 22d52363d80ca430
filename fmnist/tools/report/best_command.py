"""The best run as a command that reruns it on its own."""

from __future__ import annotations

import shlex
from pathlib import Path

from fmnist import CONF_DIR, STUDIES_CONF_DIR
from fmnist.config.dotted import override_value
from fmnist.config.files import preset_settings
from fmnist.runs.resume import is_output_only
from fmnist.runs.run_folders import Run, shadowed_keys

#: Settings that change where results go or how they are shown, not what is learned: left out of the
#: hyperparameters and of the best command (a rerun of the best should be tracked and plotted).
SWEEP_PRESET_GROUPS = ("sweep", "study")  # conf/GROUP/NAME.yaml, chosen with +sweep=NAME or +study=NAME


def _override_key(override: str) -> str:
    return override.lstrip("~+").partition("=")[0]


def steers_the_sweep(key: str) -> bool:
    """``hydra.launcher.n_jobs``, ``hydra/sweeper=optuna``: how jobs were launched, not what they ran."""
    return key == "hydra" or key.startswith(("hydra.", "hydra/"))


def sweep_preset_overrides(
    group: str, name: str, conf_dirs: tuple[Path, ...] = (CONF_DIR, STUDIES_CONF_DIR)
) -> list[str] | None:
    """What GROUP/NAME.yaml (a sweep or study preset, in conf/ or studies/conf/) sets outside ``hydra:``, as
    command-line overrides; None if no such file.

    ``defaults: [override /model: wide]`` gives ``model=wide``; ``trainer: {epochs: 50}`` gives
    ``trainer.epochs=50``. Its ``hydra/...`` defaults and ``hydra:`` block only steer the sweep.
    """
    path = next(
        (folder / group / f"{name}.yaml" for folder in conf_dirs if (folder / group / f"{name}.yaml").is_file()), None
    )
    if path is None:
        return None
    return [f"{key}={override_value(value)}" for key, value in preset_settings(path).items()]


def rerun_overrides(run: Run, keys: list[str]) -> list[str]:
    """The overrides that rebuild ``run``'s config in a single run.

    From the job's .hydra/overrides.yaml: without ``hydra.*``/``hydra/*`` (launcher, sweeper) and
    output-only settings (:data:`fmnist.runs.resume.OUTPUT_ONLY_KEYS`); a sweep preset (``+sweep=NAME``) is
    spelled out as the settings it makes, minus those the job sets itself (the job's own overrides win, as in
    Hydra), first, so the command stands alone. Overrides of keys the run did not use (``model.num_layers=4`` sampled
    beside ``model=wide``) are dropped. Without overrides.yaml: the run's values of the varying ``keys``.
    """
    if not run.overrides:
        return [f"{key}={override_value(run.config[key])}" for key in keys if key in run.config]
    unused = shadowed_keys(run.config)
    own = [
        override
        for override in run.overrides
        if not steers_the_sweep(_override_key(override))
        and not is_output_only(_override_key(override))
        and _override_key(override) not in unused
    ]
    own_keys = {_override_key(override) for override in own}
    expansions = {
        override: sweep_preset_overrides(key, value) if key in SWEEP_PRESET_GROUPS else None
        for override in own
        for key, _, value in [override.lstrip("+").partition("=")]
    }
    # a group the preset adds (+study/ablation=none) and the job then chose (study/ablation=no_ema)
    # must be added on a command line that has no preset
    added = {
        _override_key(setting)
        for expanded in expansions.values()
        if expanded
        for setting in expanded
        if setting.startswith("+")
    }
    preset = [
        setting
        for expanded in expansions.values()
        if expanded
        for setting in expanded
        if _override_key(setting) not in own_keys
    ]
    chosen = [
        f"+{override}" if _override_key(override) in added and not override.startswith("+") else override
        for override in own
        if expansions[override] is None
    ]
    return preset + chosen  # the preset's groups first, so that the job's choices are composed after them


def best_command(run: Run, keys: list[str]) -> str:
    """``python train.py ...`` that reruns ``run`` on its own (see :func:`rerun_overrides`)."""
    return " ".join(["python train.py", *(shlex.quote(override) for override in rerun_overrides(run, keys))])
