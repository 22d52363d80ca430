"""The learning-rate schedule: the factor by which each epoch scales the optimiser's base rate
(what ``keras.callbacks.LearningRateScheduler`` computes per epoch), after an optional linear warmup."""
from __future__ import annotations

import math

LR_SCHEDULES = ("constant", "cosine")


def warmup_length(warmup_epochs: int | float, epochs: int) -> int:
    """W, the warmup's epochs: ``warmup_epochs`` itself (a whole number from 0 to epochs - 1), or a
    fraction f in (0, 1) of the epochs, W = ⌊f · epochs⌋ (0.05: 5 of 100 epochs, none of 10)."""
    if isinstance(warmup_epochs, float) and 0.0 < warmup_epochs < 1.0:
        return math.floor(warmup_epochs * epochs + 1e-9)  # 0.29 · 100 is 28.999999999999996 in floats
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) or not 0 <= warmup_epochs < epochs:
        raise ValueError(f"trainer.warmup_epochs must be a whole number of epochs from 0 to trainer.epochs - 1 = "
                         f"{epochs - 1}, or a fraction of the epochs in (0, 1) (e.g. 0.05); got {warmup_epochs!r}")
    return warmup_epochs


def learning_rate_factor(schedule: str, epoch: int, epochs: int, warmup_epochs: int | float = 0) -> float:
    """Multiplier of the base learning rate in ``epoch`` (1..epochs), after W epochs of linear warmup
    (Goyal et al. 2017; W from ``warmup_epochs`` by :func:`warmup_length`), epoch / W for epoch <= W;
    then, with e = epoch - W and E = epochs - W:

    constant: 1.  cosine: ½ (1 + cos(π (e - 1) / E)), from 1 in the first epoch after warmup down
    towards 0 in the last (SGDR, Loshchilov & Hutter 2017, one cycle without restarts, per epoch).
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"trainer.lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {schedule!r}")
    warmup = warmup_length(warmup_epochs, epochs)
    if epoch <= warmup:
        return epoch / warmup
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup - 1) / (epochs - warmup)))
    return 1.0
