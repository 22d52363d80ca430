"""The learning-rate schedule: the factor by which each epoch scales the optimiser's base rate, after an
optional linear warmup, and :class:`LearningRateScheduler`, the callback that sets the rate at the start of
each epoch (as ``keras.callbacks.LearningRateScheduler`` does)."""

from __future__ import annotations

import math

from fmnist.training.callbacks import Callback

LR_SCHEDULES = ("constant", "cosine")


def warmup_length(warmup_epochs: int | float, epochs: int) -> int:
    """W, the warmup's epochs: ``warmup_epochs`` itself (a whole number from 0 to epochs - 1), or a
    fraction f in (0, 1) of the epochs, W = ⌊f · epochs⌋ (0.05: 5 of 100 epochs, none of 10)."""
    if isinstance(warmup_epochs, float) and 0.0 < warmup_epochs < 1.0:
        return math.floor(warmup_epochs * epochs + 1e-9)  # 0.29 · 100 is 28.999999999999996 in floats
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) or not 0 <= warmup_epochs < epochs:
        raise ValueError(
            f"warmup_epochs must be a whole number of epochs from 0 to epochs - 1 = {epochs - 1}, "
            f"or a fraction of the epochs in (0, 1) (e.g. 0.05); got {warmup_epochs!r}"
        )
    return warmup_epochs


def learning_rate_factor(schedule: str, epoch: int, epochs: int, warmup_epochs: int | float = 0) -> float:
    """Multiplier of the base learning rate in ``epoch`` (1..epochs), after W epochs of linear warmup
    (Goyal et al. 2017; W from ``warmup_epochs`` by :func:`warmup_length`), epoch / W for epoch <= W;
    then, with e = epoch - W and E = epochs - W:

    constant: 1.  cosine: ½ (1 + cos(π (e - 1) / E)), from 1 in the first epoch after warmup down
    towards 0 in the last (SGDR, Loshchilov & Hutter 2017, one cycle without restarts, per epoch).
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(LR_SCHEDULES)}, got {schedule!r}")
    warmup = warmup_length(warmup_epochs, epochs)
    if epoch <= warmup:
        return epoch / warmup
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup - 1) / (epochs - warmup)))
    return 1.0


class LearningRateScheduler(Callback):
    """Sets ``optimizer.lr`` to η₀ · :func:`learning_rate_factor` (``schedule``, epoch, ``epochs``,
    ``warmup_epochs``) at the start of each epoch, η₀ being the optimiser's rate when the scheduler is built.

    Put it first among the trainer's callbacks, so that the others see the epoch's rate. Bad settings are
    refused here, before anything trains.
    """

    def __init__(self, optimizer, epochs: int, schedule: str = "constant", warmup_epochs: int | float = 0):
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
        learning_rate_factor(schedule, 1, epochs, warmup_epochs)  # refuses bad settings now, not after an epoch
        self.optimizer, self.epochs, self.schedule, self.warmup_epochs = optimizer, epochs, schedule, warmup_epochs
        self.base_lr = optimizer.lr

    def on_epoch_start(self, epoch: int) -> None:
        self.optimizer.lr = self.base_lr * learning_rate_factor(self.schedule, epoch, self.epochs, self.warmup_epochs)
