"""Weight averaging: an exponential moving average (EMA) of the weights over the optimiser's steps.

    θ̄_0 = θ_0,      θ̄_t = d_t θ̄_{t-1} + (1 - d_t) θ_t,      d_t = min(d, (1 + t) / (10 + t))

with d = ``trainer.ema_decay`` in (0, 1) and t the number of steps taken. The average forgets with a
time constant of about 1 / (1 - d) steps (d = 0.999: the last ~1000 steps), smoothing out the noise of
the last steps (Polyak & Juditsky 1992; the EMA form as in Tarvainen & Valpola 2017). The smaller
decay of the first steps (TensorFlow's ``ExponentialMovingAverage(num_updates=t)``) keeps a short run's
average close to its recent weights instead of its random start: after 200 steps d_t = 0.96 (a memory of
~25 steps); d_t reaches 0.999 at t = 8,990. When on, validation, test and the saved model use the
averaged weights; training steps use the raw ones.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np


class ExponentialAverage:
    """EMA of a flat parameter buffer; ``update`` after every optimiser step."""

    def __init__(self, decay: float):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), e.g. 0.999; got {decay!r}")
        self.decay = float(decay)
        self.average: np.ndarray | None = None
        self.scratch: np.ndarray | None = None

    def start(self, params: np.ndarray, average: np.ndarray | None = None) -> None:
        """Begin at θ̄_0 = ``params`` (or at a saved ``average``, when a run resumes)."""
        self.average = (params if average is None else average).copy()
        self.scratch = np.empty_like(self.average)

    def decay_at(self, step: int) -> float:
        """d_t = min(d, (1 + t) / (10 + t)) for the t-th step (t >= 1)."""
        return min(self.decay, (1.0 + step) / (10.0 + step))

    def update(self, params: np.ndarray, step: int) -> None:
        """θ̄ ← θ̄ + (1 - d_t)(θ - θ̄), in place, after the ``step``-th optimiser step (t = 1, 2, ...)."""
        np.subtract(params, self.average, out=self.scratch)
        self.scratch *= 1.0 - self.decay_at(step)
        self.average += self.scratch

    @contextmanager
    def swapped_into(self, params: np.ndarray):
        """Inside the block ``params`` holds the average; the raw weights come back afterwards."""
        raw = params.copy()
        params[...] = self.average
        try:
            yield
        finally:
            params[...] = raw
