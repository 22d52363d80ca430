"""Weight initialisers. Each draws a (fan_in, fan_out) weight matrix with the generator it is given
and states its distribution (normal or uniform, zero-mean) and standard deviation; biases always start at zero."""

from __future__ import annotations

import numpy as np


class Initializer:
    """``init(fan_in, fan_out, rng)`` -> float64 array of shape (fan_in, fan_out) drawn from
    ``distribution`` with σ = ``init.std(fan_in, fan_out)``:

        "normal":   W_ij ~ N(0, σ²)
        "uniform":  W_ij ~ U(-r, r),  r = √3 σ   (U(-r, r) has std r / √3)
    """

    distribution = "normal"

    def std(self, fan_in: int, fan_out: int) -> float:
        raise NotImplementedError

    def __call__(self, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
        std = self.std(fan_in, fan_out)
        if self.distribution == "uniform":
            limit = np.sqrt(3.0) * std
            return rng.uniform(-limit, limit, size=(fan_in, fan_out))
        return rng.normal(0.0, std, size=(fan_in, fan_out))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class RandomNormal(Initializer):
    """W_ij ~ N(0, std^2) with a fixed std (default 0.05, as keras.initializers.RandomNormal).

    Blind to the layer's width: deep sigmoid/tanh networks start with vanishing signals, which is
    what the assignment's "random" option is there to show.
    """

    def __init__(self, std: float = 0.05):
        if isinstance(std, bool) or not isinstance(std, (int, float)) or not std > 0:
            raise ValueError(f"std must be a number > 0, got {std!r}")
        self.fixed_std = std

    def std(self, fan_in, fan_out):
        return self.fixed_std


class Xavier(Initializer):
    """Glorot & Bengio (2010), uniform: W_ij ~ U(-r, r), r = sqrt(6 / (fan_in + fan_out)),
    so std = sqrt(2 / (fan_in + fan_out)). Keeps activations' variance for tanh/sigmoid."""

    distribution = "uniform"

    def std(self, fan_in, fan_out):
        return np.sqrt(2.0 / (fan_in + fan_out))


class He(Initializer):
    """He et al. (2015), normal: W_ij ~ N(0, 2 / fan_in). Keeps activations' variance for ReLU."""

    def std(self, fan_in, fan_out):
        return np.sqrt(2.0 / fan_in)
