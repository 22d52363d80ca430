"""Element-wise activations of hidden layers.

Each activation maps pre-activations ``z`` to ``a = f(z)`` and back-propagates through itself
using only the output ``a`` (every derivative here is a function of ``a``), so the network caches
one array per layer. Both methods work in place on arrays the network owns.
"""

from __future__ import annotations

import numpy as np


class Activation:
    """``forward(z)`` overwrites ``z`` with ``f(z)``; ``backward(a, grad)`` overwrites ``grad``
    (dL/da) with dL/dz = dL/da * f'(z), where f'(z) is written in terms of ``a``."""

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, a: np.ndarray, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Identity(Activation):
    """f(z) = z;  f'(z) = 1."""

    def forward(self, z):
        return z

    def backward(self, a, grad):
        return grad


class Sigmoid(Activation):
    """f(z) = 1 / (1 + exp(-z));  f'(z) = a (1 - a).

    Evaluated as (1 + tanh(z / 2)) / 2, which is the same function without overflow in exp.
    """

    def forward(self, z):
        z *= 0.5
        np.tanh(z, out=z)
        z += 1.0
        z *= 0.5
        return z

    def backward(self, a, grad):
        grad *= a * (1.0 - a)
        return grad


class Tanh(Activation):
    """f(z) = tanh(z);  f'(z) = 1 - a^2."""

    def forward(self, z):
        return np.tanh(z, out=z)

    def backward(self, a, grad):
        grad *= 1.0 - a * a
        return grad


class ReLU(Activation):
    """f(z) = max(z, 0);  f'(z) = 1 if a > 0 else 0 (the subgradient 0 is taken at z = 0)."""

    def forward(self, z):
        return np.maximum(z, 0.0, out=z)

    def backward(self, a, grad):
        grad *= a > 0
        return grad
