"""What a run continues from (:class:`TrainingState`) and when the trainer hands it over to be kept
(:class:`Checkpointing`, as ``keras.callbacks.BackupAndRestore(save_freq=...)`` decides, counted in epochs).

Where and how a state is written is the ``save`` function's business: :mod:`fmnist.runs.resume` writes
``checkpoints/last.npz``, and ``Trainer.fit(data, resume=state)`` continues from it exactly as if never stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class TrainingState:
    """Everything that decides the rest of a run, as it stands after ``epoch`` complete epochs.

    ``params`` (the flat weight buffer), ``optimizer`` (:meth:`fmnist.core.optim.Optimizer.state_dict`),
    ``rng`` (the bit generator's state: shuffling, dropout and augmentation draw from it), ``history``
    (one row of metrics per epoch), ``base_lr`` (the optimiser's rate as built, which a schedule scales) and
    ``averaged_params`` (the weight average, when one is kept); ``stopped`` is the record of the
    :class:`fmnist.training.callbacks.StopRequest` that ended training after this epoch
    (:meth:`~fmnist.training.callbacks.StopRequest.record`), if one did: a run resumed from it trains no more;
    ``early_stopping`` is :meth:`fmnist.training.early_stopping.EarlyStopping.state_dict` (its wait, best epoch
    and weights), when it is on.
    """

    epoch: int
    params: np.ndarray
    optimizer: dict
    rng: dict
    history: list[dict] = field(default_factory=list)
    base_lr: float = math.nan
    averaged_params: np.ndarray | None = None
    stopped: dict | None = None
    early_stopping: dict | None = None


class Checkpointing:
    """Hands the training state to ``save`` after every ``every_n_epochs``-th epoch, after the last epoch,
    and after an epoch that training stops after (so that a rerun trains no more).

    The trainer saves an epoch's state before any callback hears of the epoch: what is reported is kept.
    """

    def __init__(self, save: Callable[[TrainingState], None], every_n_epochs: int = 1):
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be a whole number >= 1, got {every_n_epochs!r}")
        self.save, self.every_n_epochs = save, every_n_epochs

    def due(self, epoch: int, epochs: int, stopping: bool) -> bool:
        """Whether the state after ``epoch`` of ``epochs`` is kept; ``stopping``: training ends after it."""
        return stopping or epoch % self.every_n_epochs == 0 or epoch == epochs
