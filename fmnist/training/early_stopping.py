"""Early stopping: end a run once its validation metric has stopped improving (Keras's ``EarlyStopping``).

After each epoch t >= ``start_from_epoch`` + 1 the monitored value v_t (``val_accuracy``, higher is better,
or ``val_loss``, lower is better) is compared with the best so far, v*:

    improvement:  v_t - min_delta > v*  (val_accuracy)      v_t + min_delta < v*  (val_loss)

An improvement makes t the best epoch and resets the wait to 0; any other epoch adds 1 to it, and when
the wait reaches ``patience`` training ends after that epoch. The first monitored epoch always improves
(v* starts at -inf / +inf). The epochs before ``start_from_epoch`` + 1 are a warm-up, neither counted nor
eligible as the best. With ``restore_best``, the weights validated in the best epoch (the weight average,
when one is kept) become the model: validated, tested and saved, whether or not the run stopped early
(as ``keras.callbacks.EarlyStopping(restore_best_weights=True)`` in Keras 3).
"""

from __future__ import annotations

import math

import numpy as np

from fmnist.training.callbacks import StopRequest

#: What can be monitored, and whether higher is better.
MONITORS = {"val_accuracy": True, "val_loss": False}


class EarlyStopping:
    """Watches ``monitor`` after each epoch (:meth:`update`) and asks to stop after ``patience`` epochs
    without an improvement larger than ``min_delta``; keeps the best epoch's weights if ``restore_best``."""

    def __init__(
        self,
        monitor: str = "val_accuracy",
        patience: int = 10,
        min_delta: float = 0.0,
        start_from_epoch: int = 0,
        restore_best: bool = True,
    ):
        if monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {', '.join(MONITORS)}, got {monitor!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a whole number of epochs >= 1, got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not min_delta >= 0:
            raise ValueError(
                f"min_delta must be a number >= 0 (the smallest change that counts as an "
                f"improvement), got {min_delta!r}"
            )
        if isinstance(start_from_epoch, bool) or not isinstance(start_from_epoch, int) or start_from_epoch < 0:
            raise ValueError(f"start_from_epoch must be a whole number of epochs >= 0, got {start_from_epoch!r}")
        if not isinstance(restore_best, bool):
            raise ValueError(f"restore_best must be true or false, got {restore_best!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.start_from_epoch, self.restore_best = start_from_epoch, restore_best
        self.higher_is_better = MONITORS[monitor]
        self.wait = 0
        self.best = -math.inf if self.higher_is_better else math.inf
        self.best_epoch: int | None = None
        self.best_weights: np.ndarray | None = None

    def improves(self, value: float) -> bool:
        """Whether ``value`` beats the best so far by more than ``min_delta``."""
        if self.higher_is_better:
            return value - self.min_delta > self.best
        return value + self.min_delta < self.best

    def update(self, metrics: dict, weights: np.ndarray) -> StopRequest | None:
        """Take in one epoch's ``metrics`` (a history row) and the ``weights`` validated in it; a
        :class:`StopRequest` (status completed) when the patience has run out."""
        epoch, value = metrics["epoch"], metrics[self.monitor]
        if epoch <= self.start_from_epoch:
            return None
        self.wait += 1
        if self.improves(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_weights = weights.copy()
            return None
        if self.wait < self.patience:
            return None
        return StopRequest(
            "completed",
            f"early stopping: {self.monitor} did not improve by more than "
            f"{self.min_delta:g} for {self.patience} epoch(s) after its best, "
            f"{self.best:.4f} in epoch {self.best_epoch}",
            {
                "monitor": self.monitor,
                "best_epoch": self.best_epoch,
                "best_value": self.best,
                "patience": self.patience,
                "min_delta": self.min_delta,
            },
        )

    def state_dict(self) -> dict:
        """What a resumed run needs to stop at the same epoch with the same weights."""
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        self.wait, self.best, self.best_epoch = state["wait"], state["best"], state["best_epoch"]
        self.best_weights = None if state["best_weights"] is None else state["best_weights"].copy()
