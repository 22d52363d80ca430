"""The settings schema (fmnist/config/settings.py): every value conf/ offers passes it, a bad value of every key
it lists is refused naming that key, a key nothing reads is refused with the closest one, and a refused run
writes nothing over the run in its folder."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import OmegaConf, open_dict

from fmnist.config import settings
from fmnist.config.build import ConfigError, instantiate
from fmnist.config.files import default_choices
from fmnist.config.settings import SCHEMA, check_settings, rule_of, settings_under
from fmnist.core.optim import Adam
from fmnist.front.experiment import Experiment
from fmnist.runs.outputs import METRICS_FILE
from fmnist.tools.evaluate import dataset_config
from tests.conftest import CONF_DIR, ROOT, group_options, load_option

GROUPS = sorted(path.name for path in CONF_DIR.iterdir() if path.is_dir() and path.name != "hydra")


def group_override(group: str, option: str) -> str:
    """``optimizer=adam`` for a group of the defaults list, ``+experiment=recipe`` for a preset."""
    return f"{group}={option}" if group in default_choices(CONF_DIR) else f"+{group}={option}"


def composed(*overrides: str, hydra: bool = False):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=hydra)


# ---- what conf/ offers passes ----


@pytest.mark.parametrize(
    "override", [None] + [group_override(group, option) for group in GROUPS for option in group_options(group)]
)
def test_the_default_config_and_every_option_of_every_group_pass_the_schema(override):
    check_settings(composed(*([override] if override else [])))


# every value a sweep or study preset draws: tests/test_sweeps.py checks it with the schema


# ---- a bad value of every key is refused, naming it ----

#: Values one of which each key refuses: a name that imports nothing, numbers out of most ranges, the
#: wrong kinds.
CANDIDATES = ["no.such.thing", -1, 2.5, True, None, [0], {"a": 1}]


def base_config():
    """The default config with every block the schema describes present (early stopping on)."""
    return composed("early_stopping=patience_10")


def bad_value(key: str):
    config = OmegaConf.to_container(base_config(), resolve=True)
    refused = [value for value in CANDIDATES if not rule_of(key, config).accepts(value)]
    assert refused, f"{key} accepts every candidate: its rule checks nothing"
    return refused[0]


@pytest.mark.parametrize("key", SCHEMA)
def test_a_bad_value_of_each_key_is_refused_naming_the_key_and_an_example(key):
    value = bad_value(key)
    cfg = base_config()
    with open_dict(cfg):
        OmegaConf.update(cfg, key, value, force_add=True)
    with pytest.raises(ConfigError) as error:
        check_settings(cfg)
    message = str(error.value)
    assert message.startswith(f"{key} must be ") and f"got {value!r} (e.g. {key}=" in message and "\n" not in message


@pytest.mark.parametrize("key", SCHEMA)
def test_the_example_each_message_gives_is_allowed(key):
    config = OmegaConf.to_container(base_config(), resolve=True)
    rule = rule_of(key, config)
    example = OverridesParser.create().parse_override(f"{key}={rule.example}").value()
    assert rule.accepts(list(example) if isinstance(example, list) else example)


@pytest.mark.parametrize("block", sorted({key.rpartition(".")[0] for key in SCHEMA}))
def test_a_misspelt_key_in_each_block_is_refused_with_the_closest_setting(block):
    name = settings_under(block)[0]
    typo = f"{block}.{name}x" if block else f"{name}x"
    cfg = base_config()
    with open_dict(cfg):
        OmegaConf.update(cfg, typo, 1, force_add=True)
    with pytest.raises(ConfigError, match=rf"^{typo} is not a setting: did you mean {typo[:-1]}\? "):
        check_settings(cfg)


@pytest.mark.parametrize(
    "constant, owner",
    [
        ("LR_SCHEDULES", "fmnist.training.schedule.LR_SCHEDULES"),
        ("PROGRESS_MODES", "fmnist.training.progress.PROGRESS_MODES"),
        ("MONITORS", "fmnist.training.early_stopping.MONITORS"),
        ("RESUME_MODES", "fmnist.runs.resume.RESUME_MODES"),
        ("WANDB_MODES", "fmnist.runs.tracking.MODES"),
        ("DATASETS", "fmnist.data.datasets.DATASETS"),
    ],
)
def test_the_names_a_key_chooses_from_are_those_of_the_module_that_reads_it(constant, owner):
    module, _, name = owner.rpartition(".")
    assert tuple(getattr(settings, constant)) == tuple(getattr(__import__(module, fromlist=[name]), name))


# ---- core classes: plain errors about their arguments; building from the config names the key ----


def test_a_core_class_names_its_argument_and_building_from_the_config_names_the_key():
    with pytest.raises(ValueError, match=r"^lr must be a number in \(0, inf\), got -1$"):
        Adam(lr=-1)
    with pytest.raises(ConfigError, match=r"^optimizer\.lr must be a number in \(0, inf\), got -1$"):
        instantiate(OmegaConf.create({"_target_": "fmnist.core.optim.Adam", "lr": -1}), "optimizer")


def built_blocks():
    """(block, its config) for each option of the groups built from a ``_target_`` that are cheap to build,
    and the default config's augment block."""
    blocks = [
        (group, load_option(group, option))
        for group in ("optimizer", "loss", "init")
        for option in group_options(group)
    ]
    return blocks + [("augment", composed().augment)]


@pytest.mark.parametrize("block, node", built_blocks(), ids=lambda item: str(item) if isinstance(item, str) else "")
def test_the_schema_refuses_exactly_what_the_class_it_builds_refuses(block, node):
    for name in (name for name in node if name != "_target_"):
        for value in (-1, 0, 0.5, 1, 2.5, 30, True, "x"):
            changed = OmegaConf.merge(node, {name: value})
            config = {block: OmegaConf.to_container(changed)}  # {"optimizer": {"_target_": ..., "lr": -1, ...}}
            try:
                hydra_instantiate(changed)
                builds = True
            except Exception:
                builds = False
            with pytest.raises(ConfigError) if not builds else contextlib.nullcontext():
                check_settings(config)


@pytest.mark.parametrize(
    "override, message",
    [
        ("dataset.val_fraction=2", "dataset.val_fraction must be in [0, 1), got 2 (e.g. dataset.val_fraction=0.1)"),
        ("dataset.pahh=/data", "dataset.pahh is not a setting: did you mean dataset.path? "),
    ],
)
def test_evaluate_checks_its_dataset_overrides_with_the_schema(override, message):
    saved = {"dataset": OmegaConf.to_container(load_option("dataset", "fashion_mnist"))}
    with pytest.raises(ConfigError) as error:
        dataset_config(saved, [override])
    assert str(error.value).startswith(message)


# ---- a refused run writes nothing over ----


def test_a_refused_run_leaves_the_run_in_its_folder_as_it_was(tmp_path):
    metrics = tmp_path / METRICS_FILE
    metrics.write_text(json.dumps({"status": "completed"}))
    cfg = composed("optimizer.lr=-1")
    with pytest.raises(ConfigError, match="^optimizer.lr must be > 0"):
        Experiment(cfg, tmp_path).run()
    assert json.loads(metrics.read_text()) == {"status": "completed"} and not (tmp_path / "config.yaml").exists()


def test_a_bad_setting_of_a_single_run_exits_2_with_one_line_before_its_folder_is_made(tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.run(
        [sys.executable, "train.py", "trainer.epochs=0", f"hydra.run.dir={run_dir}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert process.returncode == 2
    assert process.stderr == "error: trainer.epochs must be an integer >= 1, got 0 (e.g. trainer.epochs=100)\n"
    assert not run_dir.exists()
