"""The training loop: learning, determinism, divergence, Ctrl-C, failures, checkpoints."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from fmnist.core.network import MLP
from fmnist.runs.model_file import load_model, save_model
from fmnist.training.callbacks import SUMMARY_METRICS, Callback
from fmnist.training.schedule import LearningRateScheduler, learning_rate_factor
from fmnist.training.trainer import Trainer
from tests.conftest import build_option


class Recorder(Callback):
    """Keeps every hook call, in order."""

    def __init__(self):
        self.calls = []
        self.result = None

    def on_train_start(self, run):
        self.calls.append(("start", run.epochs, run.batches_per_epoch))

    def on_epoch_end(self, metrics):
        self.calls.append(("epoch", metrics["epoch"]))

    def on_train_end(self, result):
        self.calls.append(("end", result.status))
        self.result = result


class RaiseAt(Callback):
    """Raises ``error`` at a given (epoch, batch)."""

    def __init__(self, epoch, batch, error):
        self.epoch, self.batch, self.error = 0, batch, error
        self.target_epoch = epoch

    def on_epoch_start(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, batch, loss):
        if (self.epoch, batch) == (self.target_epoch, self.batch):
            raise self.error


def make_trainer(
    data, optimizer="adam", epochs=3, batch_size=32, seed=0, callbacks=(), activation="relu", **optimizer_overrides
):
    rng = np.random.default_rng(seed)
    network = MLP([784, 32, 10], build_option("activation", activation))
    network.initialize(build_option("init", "he"), rng)
    opt = build_option("optimizer", optimizer, **optimizer_overrides)
    return Trainer(
        network,
        build_option("loss", "cross_entropy"),
        opt,
        epochs=epochs,
        batch_size=batch_size,
        rng=rng,
        callbacks=list(callbacks),
    )


def test_training_learns_the_tiny_dataset(tiny_data):
    result = make_trainer(tiny_data, epochs=8).fit(tiny_data)
    assert result.status == "completed"
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.summary["val_accuracy"] > 0.6 and result.summary["test_accuracy"] > 0.6  # chance is 0.1
    assert set(SUMMARY_METRICS) <= set(result.summary)


def test_hooks_are_called_in_order_with_a_partial_last_batch(tiny_data):
    recorder = Recorder()
    batch_size = 64
    assert len(tiny_data.x_train) % batch_size != 0
    make_trainer(tiny_data, epochs=2, batch_size=batch_size, callbacks=[recorder]).fit(tiny_data)
    batches = math.ceil(len(tiny_data.x_train) / batch_size)
    assert recorder.calls == [("start", 2, batches), ("epoch", 1), ("epoch", 2), ("end", "completed")]


def test_same_seed_gives_identical_metrics(tiny_data):
    first = make_trainer(tiny_data, seed=5).fit(tiny_data)
    second = make_trainer(tiny_data, seed=5).fit(tiny_data)
    other = make_trainer(tiny_data, seed=6).fit(tiny_data)

    def strip(history):
        return [{k: v for k, v in row.items() if k != "seconds_per_epoch"} for row in history]

    assert strip(first.history) == strip(second.history)
    assert strip(first.history) != strip(other.history)


def test_nan_loss_stops_with_status_diverged(tiny_data):
    recorder = Recorder()
    # a linear network with a huge momentum step grows its weights geometrically until they overflow
    trainer = make_trainer(
        tiny_data, optimizer="momentum", lr=1e3, activation="identity", epochs=5, callbacks=[recorder]
    )
    result = trainer.fit(tiny_data)
    assert result.status == "diverged"
    assert "learning rate" in result.message
    assert recorder.calls[-1] == ("end", "diverged")
    assert math.isnan(result.summary["test_accuracy"])  # a diverged model is not tested


def test_ctrl_c_stops_cleanly_keeping_finished_epochs(tiny_data):
    recorder = Recorder()
    trainer = make_trainer(tiny_data, epochs=5, callbacks=[RaiseAt(2, 3, KeyboardInterrupt()), recorder])
    result = trainer.fit(tiny_data)
    assert result.status == "interrupted"
    assert [row["epoch"] for row in result.history] == [1]
    assert math.isfinite(result.summary["test_accuracy"])
    assert recorder.calls[-1] == ("end", "interrupted")


def test_an_error_is_reported_as_failed_then_raised(tiny_data):
    recorder = Recorder()
    trainer = make_trainer(tiny_data, callbacks=[RaiseAt(1, 2, RuntimeError("disk full")), recorder])
    with pytest.raises(RuntimeError, match="disk full"):
        trainer.fit(tiny_data)
    assert (recorder.result.status, recorder.result.message) == ("failed", "RuntimeError: disk full")
    assert recorder.result.summary["epochs_completed"] == 0 and math.isnan(recorder.result.summary["test_accuracy"])


class PoisonAt(Callback):
    """Sets every weight to NaN when ``epoch`` starts, so its first batch diverges."""

    def __init__(self, network, epoch):
        self.network, self.epoch = network, epoch

    def on_epoch_start(self, epoch):
        if epoch == self.epoch:
            self.network.params[...] = np.nan


def test_a_run_that_diverges_after_a_complete_epoch_keeps_it_and_is_not_tested(tiny_data):
    trainer = make_trainer(tiny_data, epochs=4)
    trainer.callbacks.append(PoisonAt(trainer.network, epoch=2))
    result = trainer.fit(tiny_data)
    assert result.status == "diverged"
    assert result.message.startswith("diverged in epoch 2: the training loss became nan in batch 1. Try a smaller")
    assert [row["epoch"] for row in result.history] == [1]
    assert (result.summary["epochs_completed"], result.summary["best_epoch"]) == (1, 1)
    assert math.isnan(result.summary["test_accuracy"]) and result.test_predictions is None


def test_checkpoint_round_trip_predicts_identically(tiny_data, tmp_path):
    trainer = make_trainer(tiny_data, epochs=1)
    trainer.fit(tiny_data)
    config = {"seed": 0, "model": {"num_layers": 1}}
    path = save_model(tmp_path / "model.npz", trainer.network, config)
    loaded, loaded_config = load_model(path)
    assert loaded_config == config
    assert loaded.layer_sizes == trainer.network.layer_sizes
    np.testing.assert_array_equal(
        loaded.predict_logits(tiny_data.x_test), trainer.network.predict_logits(tiny_data.x_test)
    )


@pytest.mark.parametrize("key, value", [("epochs", 0), ("batch_size", 0)])
def test_trainer_rejects_bad_settings(tiny_data, key, value):
    with pytest.raises(ValueError, match=f"^{key} must be >= 1, got {value}$"):
        make_trainer(tiny_data, **{key: value})


def test_a_warmup_as_long_as_the_run_is_refused_when_the_scheduler_is_built(tiny_data):
    trainer = make_trainer(tiny_data, epochs=3)
    message = "^warmup_epochs must be a whole number of epochs from 0 to epochs - 1 = 2, .*; got 3$"
    with pytest.raises(ValueError, match=message):
        LearningRateScheduler(trainer.optimizer, epochs=3, warmup_epochs=3)


@pytest.mark.parametrize("val_size", [0, 1])
def test_validation_metrics_are_nan_without_a_validation_set_and_real_with_one_image(tiny_data, val_size):
    data = dataclasses.replace(tiny_data, x_val=tiny_data.x_val[:val_size], y_val=tiny_data.y_val[:val_size])
    result = make_trainer(data, epochs=1).fit(data)
    assert result.status == "completed"
    row = result.history[0]
    assert math.isnan(row["val_loss"]) == math.isnan(row["val_accuracy"]) == (val_size == 0)
    assert math.isfinite(result.summary["test_accuracy"])


def test_trainer_accepts_one_epoch_of_single_image_batches(tiny_data):
    trainer = make_trainer(tiny_data, epochs=1, batch_size=1)
    assert (trainer.epochs, trainer.batch_size) == (1, 1)


def test_cosine_schedule_goes_from_the_base_rate_down_by_the_formula():
    factors = [learning_rate_factor("cosine", epoch, 4) for epoch in range(1, 5)]
    np.testing.assert_allclose(
        factors, [1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4))]
    )
    assert learning_rate_factor("constant", 3, 4) == 1.0
    with pytest.raises(ValueError, match="^schedule must be one of constant, cosine, got 'linear'$"):
        learning_rate_factor("linear", 1, 4)


def test_trainer_sets_the_scheduled_rate_at_each_epoch(tiny_data):
    class RateRecorder(Callback):
        def __init__(self, optimizer):
            self.optimizer, self.rates = optimizer, []

        def on_epoch_start(self, epoch):
            self.rates.append(self.optimizer.lr)

    trainer = make_trainer(tiny_data, epochs=3, lr=0.01)
    recorder = RateRecorder(trainer.optimizer)
    trainer.callbacks = [LearningRateScheduler(trainer.optimizer, epochs=3, schedule="cosine"), recorder]
    trainer.fit(tiny_data)
    np.testing.assert_allclose(recorder.rates, [0.01, 0.01 * 0.75, 0.01 * 0.25])


# ---- the numbers of each epoch, recomputed without the trainer -------------------------------------


def mean_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """-(1/n) Σ_i log softmax(z_i)[y_i], in float64, written out here so the check does not lean on fmnist's loss."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


class FrozenOptimizer:
    """Takes no step, so the weights stay put, and keeps the batch loss the trainer hands each step."""

    def __init__(self):
        self.lr = 1.0
        self.losses = []

    def step(self, params, grads, loss):
        self.losses.append(loss)


class BatchRecorder(Callback):
    def __init__(self):
        self.calls = []

    def on_batch_end(self, batch, loss):
        self.calls.append((batch, loss))


def test_train_metrics_are_means_over_the_shuffled_batches_with_dropout(tiny_data):
    """With the weights frozen, an epoch's train metrics follow from replaying the generator's draws:
    the epoch's permutation, then one dropout mask per batch. Loss and accuracy are means over images,
    so the short last batch counts by its size, and predictions are scored against the shuffled labels."""
    network = MLP([784, 32, 10], build_option("activation", "relu"), dropout=0.5)
    network.initialize(build_option("init", "he"), np.random.default_rng(1))
    fitted = Trainer(
        network,
        build_option("loss", "cross_entropy"),
        build_option("optimizer", "adam"),
        epochs=5,
        batch_size=32,
        rng=np.random.default_rng(2),
    ).fit(tiny_data)
    assert fitted.summary["val_accuracy"] > 0.5  # a classifier that beats chance, so the labels matter
    batch_size, seed = 64, 3
    assert len(tiny_data.x_train) % batch_size != 0
    optimizer, batches = FrozenOptimizer(), BatchRecorder()
    result = Trainer(
        network,
        build_option("loss", "cross_entropy"),
        optimizer,
        epochs=2,
        batch_size=batch_size,
        rng=np.random.default_rng(seed),
        callbacks=[batches],
    ).fit(tiny_data)

    replay = np.random.default_rng(seed)
    batch_losses, batch_numbers = [], []
    for row in result.history:
        order = replay.permutation(len(tiny_data.x_train))
        images, labels = tiny_data.x_train[order], tiny_data.y_train[order]
        loss_sum, correct = 0.0, 0
        for number, start in enumerate(range(0, len(images), batch_size), start=1):
            batch_numbers.append(number)
            logits, _ = network.forward(images[start : start + batch_size], replay)  # draws the masks
            batch_labels = labels[start : start + batch_size]
            batch_losses.append(mean_cross_entropy(logits, batch_labels))
            loss_sum += batch_losses[-1] * len(batch_labels)
            correct += int((logits.argmax(axis=1) == batch_labels).sum())
        assert row["train_loss"] == pytest.approx(loss_sum / len(images), rel=1e-6)
        assert row["train_accuracy"] == correct / len(images)
    np.testing.assert_allclose(optimizer.losses, batch_losses, rtol=1e-6)  # each step gets its batch's loss
    assert [number for number, _ in batches.calls] == batch_numbers  # counted from 1 in each epoch
    np.testing.assert_allclose([loss for _, loss in batches.calls], batch_losses, rtol=1e-6)
    eval_loss = mean_cross_entropy(network.predict_logits(tiny_data.x_train), tiny_data.y_train)
    assert abs(result.history[0]["train_loss"] - eval_loss) > 0.01  # dropout made a difference worth testing


class ValidationByHand(Callback):
    """At the end of each epoch, scores the network on the validation set itself."""

    def __init__(self, network, data):
        self.network, self.data = network, data
        self.losses, self.accuracies = [], []

    def on_epoch_end(self, metrics):
        logits = self.network.predict_logits(self.data.x_val)
        self.losses.append(mean_cross_entropy(logits, self.data.y_val))
        self.accuracies.append(float((logits.argmax(axis=1) == self.data.y_val).mean()))


def test_validation_metrics_and_the_best_epoch_match_a_pass_over_the_validation_set(tiny_data):
    """A large Adam step makes validation accuracy go up and down, so the best epoch is neither the first,
    the last nor the worst, and it ties with a later epoch: the first of the best counts."""
    trainer = make_trainer(tiny_data, epochs=6, batch_size=16, seed=1, lr=0.05)
    by_hand = ValidationByHand(trainer.network, tiny_data)
    trainer.callbacks.append(by_hand)
    started = time.perf_counter()
    result = trainer.fit(tiny_data)
    elapsed = time.perf_counter() - started

    accuracies = np.array(by_hand.accuracies)
    best = int(np.argmax(accuracies))  # the first epoch with the highest accuracy
    assert 0 < best < len(accuracies) - 1 and best != np.argmin(accuracies)
    assert np.sum(accuracies == accuracies[best]) > 1
    np.testing.assert_allclose([row["val_loss"] for row in result.history], by_hand.losses, rtol=1e-5)  # float32 logits
    assert [row["val_accuracy"] for row in result.history] == by_hand.accuracies
    assert result.summary["best_epoch"] == best + 1
    assert result.summary["best_val_accuracy"] == accuracies[best]
    assert result.summary["val_accuracy"] == by_hand.accuracies[-1]  # the final weights are the last epoch's
    assert result.summary["val_loss"] == pytest.approx(by_hand.losses[-1], rel=1e-5)
    test_logits = trainer.network.predict_logits(tiny_data.x_test)
    np.testing.assert_array_equal(result.test_predictions, test_logits.argmax(axis=1))
    np.testing.assert_array_equal(result.test_labels, tiny_data.y_test)
    assert result.summary["test_accuracy"] == float((test_logits.argmax(axis=1) == tiny_data.y_test).mean())
    assert result.summary["test_loss"] == pytest.approx(mean_cross_entropy(test_logits, tiny_data.y_test), rel=1e-5)
    assert result.summary["epochs_completed"] == len(result.history) == 6
    epoch_seconds = [row["seconds_per_epoch"] for row in result.history]
    assert min(epoch_seconds) > 0 and sum(epoch_seconds) < result.summary["wall_time_seconds"] < elapsed
