"""The learning-rate scheduler callback (trainer.lr_schedule, trainer.warmup_epochs): it sets each epoch's rate
from the rate the optimiser was built with, and refuses bad arguments in plain words when it is built."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fmnist.training.schedule import LR_SCHEDULES, LearningRateScheduler, learning_rate_factor
from tests.conftest import build_option


def rates(scheduler: LearningRateScheduler) -> list[float]:
    """The rate the optimiser holds in each epoch, as the trainer starts epochs 1..epochs."""
    found = []
    for epoch in range(1, scheduler.epochs + 1):
        scheduler.on_epoch_start(epoch)
        found.append(scheduler.optimizer.lr)
    return found


def test_the_rate_of_each_epoch_is_the_built_rate_times_the_factor():
    optimizer = build_option("optimizer", "sgd", lr=0.2)
    scheduler = LearningRateScheduler(optimizer, epochs=6, schedule="cosine", warmup_epochs=2)
    assert scheduler.base_lr == 0.2 and optimizer.lr == 0.2  # building it changes nothing yet
    expected = [
        0.2 * 0.5,
        0.2,
        0.2,
        0.2 * 0.5 * (1 + math.cos(math.pi / 4)),
        0.2 * 0.5,
        0.2 * 0.5 * (1 + math.cos(3 * math.pi / 4)),
    ]
    np.testing.assert_allclose(rates(scheduler), expected)
    assert rates(scheduler) == rates(scheduler)  # from the built rate each time, never compounding


@pytest.mark.parametrize("schedule", LR_SCHEDULES)
def test_a_resumed_run_gets_the_same_rates_from_a_fresh_scheduler(schedule):
    """A run resumed after epoch 3 builds a new optimiser at the config's rate; epoch 4 on get the same rates."""
    first = LearningRateScheduler(build_option("optimizer", "adam", lr=0.01), 8, schedule, warmup_epochs=0.3)
    fresh = LearningRateScheduler(build_option("optimizer", "adam", lr=0.01), 8, schedule, warmup_epochs=0.3)
    assert rates(first)[3:] == rates(fresh)[3:]
    assert rates(first) == [0.01 * learning_rate_factor(schedule, epoch, 8, 0.3) for epoch in range(1, 9)]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"epochs": 4, "schedule": "linear"}, "schedule must be one of constant, cosine, got 'linear'"),
        (
            {"epochs": 4, "warmup_epochs": 4},
            "warmup_epochs must be a whole number of epochs from 0 to epochs - 1 = 3, "
            "or a fraction of the epochs in (0, 1) (e.g. 0.05); got 4",
        ),
        ({"epochs": 0}, "epochs must be a whole number >= 1, got 0"),
        ({"epochs": 2.0}, "epochs must be a whole number >= 1, got 2.0"),
    ],
)
def test_bad_arguments_are_refused_in_words_about_the_arguments_not_the_config(arguments, message):
    optimizer = build_option("optimizer", "sgd", lr=0.1)
    with pytest.raises(ValueError) as error:
        LearningRateScheduler(optimizer, **arguments)
    assert str(error.value) == message  # no config key (trainer.*): the settings name those
    assert optimizer.lr == 0.1
