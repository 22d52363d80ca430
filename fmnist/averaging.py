"""Weight averaging: an exponential moving average (EMA) of the weights over the optimiser's steps.

    θ̄_0 = θ_0,      θ̄_t = d θ̄_{t-1} + (1 - d) θ_t          (d = ``trainer.ema_decay``, in (0, 1))

The average forgets with a time constant of about 1 / (1 - d) steps (d = 0.999: the last ~1000
steps), smoothing out the noise of the last steps (Polyak & Juditsky 1992; the EMA form as in
Tarvainen & Valpola 2017 and timm's ModelEmaV2). When on, validation, test and the saved model use
the averaged weights; training steps use the raw ones.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np


class ExponentialAverage:
    """EMA of a flat parameter buffer; ``update`` after every optimiser step."""

    def __init__(self, decay: float):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 < decay < 1.0:
            raise ValueError(f"trainer.ema_decay must be in (0, 1), e.g. 0.999, or 0 for no averaging; got {decay!r}")
        self.decay = float(decay)
        self.average: np.ndarray | None = None
        self.scratch: np.ndarray | None = None

    def start(self, params: np.ndarray, average: np.ndarray | None = None) -> None:
        """Begin at θ̄_0 = ``params`` (or at a saved ``average``, when a run resumes)."""
        self.average = (params if average is None else average).copy()
        self.scratch = np.empty_like(self.average)

    def update(self, params: np.ndarray) -> None:
        """θ̄ ← θ̄ + (1 - d)(θ - θ̄), in place."""
        np.subtract(params, self.average, out=self.scratch)
        self.scratch *= 1.0 - self.decay
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
