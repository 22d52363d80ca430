"""Hydra composition: every option of every config group composes and builds a working experiment."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from fmnist.front.experiment import ConfigError, Experiment
from fmnist.runs.model_file import load_model
from fmnist.runs.outputs import CONFIG_FILE, METRICS_FILE, MODEL_FILE
from fmnist.training.schedule import warmup_length
from tests.conftest import CONF_DIR, group_options
from tests.test_sweeps import compose_with

GROUPS = ("dataset", "model", "activation", "init", "loss", "optimizer", "logger")


def compose_config(tiny_idx_dir, overrides=()):
    """The default config shrunk for tests: tiny data, 2 epochs, no logger, no progress output."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["logger=none", *overrides])
    with open_dict(cfg):
        cfg.dataset.path = str(tiny_idx_dir)
        cfg.dataset.download = False
        cfg.trainer.epochs = 2
        cfg.trainer.progress = "none"
        cfg.plots = False
    return cfg


def all_group_options():
    return [(group, option) for group in GROUPS for option in group_options(group)]


@pytest.mark.parametrize("group, option", all_group_options())
def test_every_group_option_composes_builds_and_trains(tiny_idx_dir, tmp_path, group, option):
    if group == "logger":
        pytest.skip("loggers are tested in tests/test_tracking.py")
    cfg = compose_config(tiny_idx_dir, [f"{group}={option}"])
    result = Experiment(cfg, tmp_path).run()
    assert result.status in ("completed", "diverged")
    assert json.loads((tmp_path / METRICS_FILE).read_text())["status"] == result.status


def test_run_leaves_config_metrics_and_a_checkpoint_that_agrees(tiny_idx_dir, tmp_path):
    cfg = compose_config(tiny_idx_dir, ["model.hidden_sizes=[64,32]", "model.dropout=0.1"])
    result = Experiment(cfg, tmp_path).run()
    metrics = json.loads((tmp_path / METRICS_FILE).read_text())
    assert metrics["status"] == "completed" and len(metrics["history"]) == 2
    assert metrics["test_accuracy"] == pytest.approx(result.summary["test_accuracy"])
    network, config = load_model(tmp_path / MODEL_FILE)
    assert network.layer_sizes == [784, 64, 32, 10]
    assert config["model"]["hidden_sizes"] == [64, 32]
    data = Experiment(cfg, tmp_path).build_data()
    assert float((network.predict(data.x_test) == data.y_test).mean()) == pytest.approx(metrics["test_accuracy"])
    assert "hidden_sizes" in (tmp_path / CONFIG_FILE).read_text()


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.hidden_size=0", "model.hidden_size must be an integer >= 1, got 0"),
        ("model.num_layers=-1", "model.num_layers must be an integer >= 0, got -1"),
        ("model.dropout=1.0", "model.dropout must be in [0, 1), got 1.0"),
        ("model.dtype=float16", "model.dtype must be one of float32, float64"),
        ("trainer.batch_size=0", "trainer.batch_size must be an integer >= 1, got 0"),
        ("optimizer.lr=-1", "optimizer.lr must be > 0, got -1 (e.g. optimizer.lr=0.001)"),
        ("optimizer.lr=abc", "optimizer.lr must be > 0, got 'abc'"),
        ("trainer.batch_size=abc", "trainer.batch_size must be an integer >= 1, got 'abc'"),
        ("seed=abc", "seed must be an integer >= 0, got 'abc'"),
        ("seed=-1", "seed must be an integer >= 0, got -1"),
        ("dataset.standardize=maybe", "dataset.standardize must be true or false, got 'maybe'"),
        ("augment.max_shift=-2", "augment.max_shift must be a whole number of pixels from 0 to 27, got -2"),
        ("+trainer.epochz=3", "trainer.epochz is not a setting: did you mean trainer.epochs? trainer has epochs, "),
        ("+model.dropuot=0.1", "model.dropuot is not a setting: did you mean model.dropout?"),
        ("+checkpoint.keep=5", "checkpoint.keep is not a setting: checkpoint has every_n_epochs"),
        ("checkpoint.every_n_epochs=0", "checkpoint.every_n_epochs must be an integer >= 1, got 0"),
        (
            "trainer.ema_decay=1.5",
            "trainer.ema_decay must be in [0, 1): the decay of the weights' moving average, 0 for none, got 1.5",
        ),
        ("trainer.lr_schedule=linear", "trainer.lr_schedule must be one of constant, cosine, got 'linear'"),
        (
            "trainer.warmup_epochs=2",
            "trainer.warmup_epochs must be a whole number of epochs from 0 to trainer.epochs - 1 = 1",
        ),
    ],
)
def test_bad_config_values_raise_config_error_and_leave_status_failed(tiny_idx_dir, tmp_path, override, message):
    cfg = compose_config(tiny_idx_dir, ["model=mlp", override])
    with pytest.raises(ConfigError) as error:
        Experiment(cfg, tmp_path).run()
    assert message in str(error.value)
    assert json.loads((tmp_path / METRICS_FILE).read_text())["status"] == "failed"


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("plots", "no", "plots must be true or false, got 'no'"),  # a word that means no is not false
        (
            "logger",
            {"_target_": "fmnist.runs.tracking.WandbLogger", "mode": "foo"},
            "logger.mode must be one of online, offline, disabled, or null (decided by the environment), got 'foo'",
        ),
    ],
)
def test_bad_values_of_switches_are_refused_before_training(tiny_idx_dir, tmp_path, monkeypatch, key, value, message):
    monkeypatch.setenv("WANDB_MODE", "offline")  # the environment's mode wins, but a bad logger.mode is still refused
    cfg = compose_config(tiny_idx_dir)
    with open_dict(cfg):
        cfg[key] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        Experiment(cfg, tmp_path).run()
    assert json.loads((tmp_path / METRICS_FILE).read_text())["status"] == "failed"


def test_augmentation_is_built_from_the_augment_block_and_none_without_one(tiny_idx_dir):
    def built(overrides):
        experiment = Experiment(compose_config(tiny_idx_dir, overrides), "unused")
        return experiment.build_trainer(experiment.build_data(), np.random.default_rng(0)).augment

    assert built(["augment.max_shift=0"]) is None and built(["+experiment=assignment"]) is None
    augmentation = built(["augment.max_shift=2", "augment.horizontal_flip=true", "augment.until=0.5"])
    assert (augmentation.max_shift, augmentation.horizontal_flip, augmentation.until) == (2, True, 0.5)


def test_float64_runs_end_to_end(tiny_idx_dir, tmp_path):
    cfg = compose_config(tiny_idx_dir, ["model.dtype=float64"])
    experiment = Experiment(cfg, tmp_path)
    data = experiment.build_data()
    assert data.x_train.dtype == np.float64
    assert experiment.run().status == "completed"


@pytest.mark.parametrize("preset", group_options("experiment"))
def test_every_experiment_preset_composes_and_trains(tiny_idx_dir, tmp_path, preset):
    cfg = compose_config(tiny_idx_dir, [f"+experiment={preset}"])
    with open_dict(cfg):
        warmup = cfg.trainer.warmup_epochs  # epochs, or a share of them (none of 1 epoch)
        cfg.trainer.epochs = warmup + 1 if isinstance(warmup, int) else 1  # the fewest the warmup allows
    assert Experiment(cfg, tmp_path).run().status == "completed"


def test_the_default_trains_the_recipe_with_stage_5s_winner():
    """config.yaml is +experiment=recipe +study/member=shifts_1 (studies/past_90/README.md): the same composed
    config, its warmup given as a share of the epochs that comes to the recipe's 5 epochs."""
    default, recipe = (
        OmegaConf.to_container(compose_with(overrides))
        for overrides in ([], ["+experiment=recipe", "+study/member=shifts_1"])
    )
    default_warmup, recipe_warmup = default["trainer"].pop("warmup_epochs"), recipe["trainer"].pop("warmup_epochs")
    assert warmup_length(default_warmup, default["trainer"]["epochs"]) == recipe_warmup == 5
    assert default == recipe


def test_the_long_recipe_is_stage_7s_winner():
    """+experiment=recipe_long trains what stage 7 (+study=recipe_long) ran with 1-pixel shifts."""
    long_recipe, stage_7 = (
        OmegaConf.to_container(compose_with(overrides))
        for overrides in (["+experiment=recipe_long"], ["+study=recipe_long", "augment.max_shift=1", "seed=0"])
    )
    assert long_recipe == stage_7 and long_recipe["trainer"]["epochs"] == 200


def test_keras_presets_hold_what_they_promise(tiny_idx_dir):
    dropout = compose_config(tiny_idx_dir, ["+experiment=keras_dropout"])
    assert (dropout.model.num_layers, dropout.model.hidden_size, dropout.model.dropout) == (5, 128, 0.3)
    funnel = compose_config(tiny_idx_dir, ["+experiment=keras_funnel"])
    assert list(funnel.model.hidden_sizes) == [512, 256, 128, 64] and funnel.model.dropout == 0.3
    assert funnel.optimizer.weight_decay == pytest.approx(2e-3)  # keras l2(1e-3) penalty, as a gradient term


def test_an_optimizer_key_the_optimizer_does_not_take_is_dropped_with_a_warning(tiny_idx_dir, tmp_path, caplog):
    cfg = compose_config(tiny_idx_dir, ["optimizer=adam", "++optimizer.beta=0.95"])
    with caplog.at_level("WARNING"):
        assert Experiment(cfg, tmp_path).run().status == "completed"
    assert "optimizer.beta=0.95 is not used by fmnist.core.optim.Adam" in caplog.text


def test_a_standardised_run_draws_its_misclassified_test_images_as_pixels(tiny_idx_dir, tmp_path, monkeypatch):
    from fmnist.data.datasets import load_dataset
    from fmnist.runs import plots

    drawn = {}
    monkeypatch.setattr(plots, "misclassified_panel", lambda images, *args, **kwargs: drawn.setdefault("x", images))
    cfg = compose_config(tiny_idx_dir, ["dataset.standardize=true"])
    with open_dict(cfg):
        cfg.plots = True
    assert Experiment(cfg, tmp_path).run().status == "completed"
    plain = load_dataset("fashion_mnist", path=str(tiny_idx_dir), download=False, seed=cfg.seed)
    np.testing.assert_allclose(drawn["x"], plain.x_test, atol=1e-5)
