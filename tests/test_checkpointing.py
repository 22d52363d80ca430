"""When the trainer keeps its state (checkpoint.every_n_epochs): every n-th epoch, the last one and the one
training stops after, each before any callback hears of the epoch."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.training.callbacks import Callback
from fmnist.training.checkpointing import Checkpointing
from tests.test_stopping import StopAt, make_trainer


@pytest.mark.parametrize(
    "every, epochs, due",
    [
        (1, 3, [1, 2, 3]),
        (2, 5, [2, 4, 5]),
        (3, 7, [3, 6, 7]),
        (10, 4, [4]),
    ],
)
def test_due_after_every_nth_epoch_and_the_last(every, epochs, due):
    checkpointing = Checkpointing(print, every)
    assert [epoch for epoch in range(1, epochs + 1) if checkpointing.due(epoch, epochs, stopping=False)] == due
    assert all(checkpointing.due(epoch, epochs, stopping=True) for epoch in range(1, epochs + 1))


@pytest.mark.parametrize("every", [0, -1, 1.0, True, "2"])
def test_a_bad_interval_is_refused_in_words_about_the_argument(every):
    with pytest.raises(ValueError, match=rf"^every_n_epochs must be a whole number >= 1, got {every!r}$"):
        Checkpointing(print, every)


class SavedEpochs(Callback):
    """At the end of each epoch, which epochs have been handed to ``saved`` so far."""

    def __init__(self, saved):
        self.saved, self.seen = saved, []

    def on_epoch_end(self, metrics):
        self.seen.append([state.epoch for state in self.saved])


def test_the_trainer_hands_over_the_due_epochs_before_the_callbacks_hear_of_them(tiny_data):
    saved = []
    heard = SavedEpochs(saved)
    trainer = make_trainer([heard], epochs=5, checkpointing=Checkpointing(saved.append, 2))
    result = trainer.fit(tiny_data)
    assert [state.epoch for state in saved] == [2, 4, 5]
    assert heard.seen == [[], [2], [2], [2, 4], [2, 4, 5]]
    last = saved[-1]
    assert last.history == result.history and last.stopped is None
    np.testing.assert_array_equal(last.params, trainer.network.params)


def test_a_stop_request_between_due_epochs_is_kept_with_its_epoch(tiny_data):
    saved = []
    make_trainer([StopAt(3, "pruned")], epochs=8, checkpointing=Checkpointing(saved.append, 2)).fit(tiny_data)
    assert [(state.epoch, state.stopped and state.stopped["status"]) for state in saved] == [(2, None), (3, "pruned")]
