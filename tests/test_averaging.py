"""Weight averaging (trainer.ema_decay) and learning-rate warmup (trainer.warmup_epochs)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fmnist.core.averaging import ExponentialAverage
from fmnist.training.schedule import learning_rate_factor, warmup_length
from tests.conftest import small_trainer


def make_trainer(data, average=None, epochs=3, **settings):
    return small_trainer(epochs, average=average, **settings)


def test_warmup_ramps_up_linearly_then_the_cosine_runs_over_the_remaining_epochs():
    factors = [learning_rate_factor("cosine", epoch, 6, warmup_epochs=2) for epoch in range(1, 7)]
    np.testing.assert_allclose(
        factors, [0.5, 1.0, 1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4))]
    )
    warmed = [learning_rate_factor("constant", epoch, 4, warmup_epochs=3) for epoch in range(1, 5)]
    assert warmed == [1 / 3, 2 / 3, 1, 1]
    assert [learning_rate_factor("cosine", epoch, 3) for epoch in (1, 2, 3)] == [
        learning_rate_factor("cosine", epoch, 3, warmup_epochs=0) for epoch in (1, 2, 3)
    ]


def test_a_fractional_warmup_is_that_share_of_the_epochs_rounded_down():
    assert [warmup_length(0.05, epochs) for epochs in (1, 10, 19, 20, 50, 100)] == [0, 0, 0, 1, 2, 5]
    assert warmup_length(0.29, 100) == 29  # 0.29 * 100 is 28.999999999999996 in floats
    assert [learning_rate_factor("constant", epoch, 40, warmup_epochs=0.1) for epoch in (1, 4, 5)] == [0.25, 1, 1]
    assert [learning_rate_factor("cosine", epoch, 3, warmup_epochs=0.05) for epoch in (1, 2, 3)] == [
        learning_rate_factor("cosine", epoch, 3) for epoch in (1, 2, 3)
    ]


@pytest.mark.parametrize("warmup", [-1, 4, 1.5, 1.0, 0.0, True, "0.05"])
def test_a_warmup_outside_0_to_epochs_minus_1_or_0_1_is_refused_naming_both_forms(warmup):
    with pytest.raises(
        ValueError,
        match=r"^warmup_epochs must be a whole number of epochs from 0 to epochs - 1 = 3, "
        r"or a fraction of the epochs in \(0, 1\)",
    ):
        learning_rate_factor("constant", 1, 4, warmup_epochs=warmup)


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, 1.5, "0.9", True])
def test_an_ema_decay_outside_0_1_is_refused(decay):
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\)"):
        ExponentialAverage(decay)


def test_the_average_is_what_its_formula_says_and_becomes_the_final_weights(tiny_data):
    decay = 0.7
    trainer = make_trainer(tiny_data, ExponentialAverage(decay))
    steps = []
    original_step = trainer.optimizer.step

    def recording_step(params, grads, loss=None):
        original_step(params, grads, loss)
        steps.append(params[0].astype(np.float64))

    trainer.optimizer.step = recording_step
    initial = trainer.network.params.astype(np.float64)
    result = trainer.fit(tiny_data)
    expected = initial
    for t, params in enumerate(steps, start=1):  # θ̄_t = d_t θ̄_{t-1} + (1 - d_t) θ_t, in float64
        decay_t = min(decay, (1 + t) / (10 + t))
        expected = decay_t * expected + (1 - decay_t) * params
    assert len(steps) > 20  # past t = 20, where d_t reaches d = 0.7: both regimes are in the average
    np.testing.assert_allclose(trainer.network.params, expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(steps[-1], expected, atol=1e-4)  # the raw weights differ from their average
    loss, accuracy, _ = trainer.evaluate(tiny_data.x_test, tiny_data.y_test)
    assert (loss, accuracy) == (result.summary["test_loss"], result.summary["test_accuracy"])


def test_validation_during_training_uses_the_average_and_training_the_raw_weights(tiny_data):
    averaged = make_trainer(tiny_data, ExponentialAverage(0.99)).fit(tiny_data)
    raw = make_trainer(tiny_data).fit(tiny_data)
    # the steps (and so the train metrics) are the same; what is validated differs
    assert [row["train_loss"] for row in averaged.history] == [row["train_loss"] for row in raw.history]
    assert [row["val_loss"] for row in averaged.history] != [row["val_loss"] for row in raw.history]


def test_no_average_changes_nothing(tiny_data):
    off = make_trainer(tiny_data, average=None).fit(tiny_data)
    default = make_trainer(tiny_data).fit(tiny_data)

    def strip(rows):
        return [{k: v for k, v in row.items() if k != "seconds_per_epoch"} for row in rows]

    assert strip(off.history) == strip(default.history)
    assert off.summary["test_accuracy"] == default.summary["test_accuracy"]
