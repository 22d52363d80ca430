"""A multilayer perceptron whose parameters live in one flat buffer.

Layout of ``params`` (and of ``grads``, which mirrors it): for each layer l in order, the weights
W_l (fan_in, fan_out) row-major, then the bias b_l (fan_out,). ``weights[l]`` and ``biases[l]``
are views into the buffer, so an optimiser updates the whole network with a few vectorised calls
on one array, and backprop writes gradients straight into place.

Forward, for hidden layers l = 1..L-1 and the output layer L:
    a_0 = x                                  (n, 784)
    a_l = f(a_{l-1} W_l + b_l) * m_l / (1 - p)   (n, h_l); m_l ~ Bernoulli(1 - p) in training only
    z_L = a_{L-1} W_L + b_L                  (n, k) logits; the loss applies the softmax
Backward, from delta_L = dL/dz_L:
    dL/dW_l = a_{l-1}^T delta_l,   dL/db_l = sum_i delta_l[i]
    delta_{l-1} = (delta_l W_l^T) * m_{l-1} / (1 - p) * f'(z_{l-1})
"""

from __future__ import annotations

import numpy as np

from fmnist.core.activations import Activation
from fmnist.core.init import Initializer
from fmnist.core.losses import Loss


class MLP:
    """Fully connected network ``layer_sizes[0] -> ... -> layer_sizes[-1]`` with softmax output.

    ``layer_sizes`` includes input and output, e.g. ``[784, 128, 128, 10]``.
    """

    def __init__(
        self, layer_sizes: list[int], activation: Activation, dropout: float = 0.0, dtype: str | np.dtype = "float32"
    ):
        if len(layer_sizes) < 2 or min(layer_sizes) < 1:
            raise ValueError(f"layer_sizes must hold at least input and output sizes, all >= 1; got {layer_sizes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.layer_sizes = [int(size) for size in layer_sizes]
        self.activation = activation
        self.dropout = float(dropout)
        self.dtype = np.dtype(dtype)
        shapes = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))
        size = sum(fan_in * fan_out + fan_out for fan_in, fan_out in shapes)
        self.params = np.zeros(size, dtype=self.dtype)
        self.grads = np.zeros(size, dtype=self.dtype)
        self.weights, self.biases = self._views(self.params, shapes)
        self.weight_grads, self.bias_grads = self._views(self.grads, shapes)

    @staticmethod
    def _views(buffer: np.ndarray, shapes: list[tuple[int, int]]):
        weights, biases, offset = [], [], 0
        for fan_in, fan_out in shapes:
            weights.append(buffer[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out))
            offset += fan_in * fan_out
            biases.append(buffer[offset : offset + fan_out])
            offset += fan_out
        return weights, biases

    @property
    def num_params(self) -> int:
        return self.params.size

    def initialize(self, init: Initializer, rng: np.random.Generator) -> "MLP":
        """Draw every weight matrix with ``init``; biases start at zero."""
        for weight in self.weights:
            weight[...] = init(*weight.shape, rng)
        for bias in self.biases:
            bias[...] = 0.0
        return self

    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, list]:
        """Logits (n, k) and the cache backward needs. Pass ``rng`` to train (it draws dropout masks)."""
        activations, masks = [x], []
        hidden = x
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            z = hidden @ weight  # (n, fan_in) -> (n, fan_out), a fresh array we may overwrite
            z += bias
            if index == last:
                return z, (activations, masks)
            hidden = self.activation.forward(z)
            if rng is not None and self.dropout > 0.0:
                keep = 1.0 - self.dropout
                mask = (rng.random(hidden.shape, dtype=self.dtype) < keep) / self.dtype.type(keep)
                hidden *= mask
                masks.append(mask)
            activations.append(hidden)

    def backward(self, grad_logits: np.ndarray, cache) -> None:
        """Write dL/dparams into ``self.grads`` given dL/dlogits (n, k)."""
        activations, masks = cache
        delta = grad_logits.astype(self.dtype, copy=False)
        for index in range(len(self.weights) - 1, -1, -1):
            inputs = activations[index]
            np.matmul(inputs.T, delta, out=self.weight_grads[index])  # (fan_in, n) @ (n, fan_out)
            np.add.reduce(delta, axis=0, out=self.bias_grads[index])  # np.sum minus its Python wrapper
            if index == 0:
                return  # no gradient needed with respect to the input images
            delta = delta @ self.weights[index].T  # (n, fan_out) -> (n, fan_in)
            if masks:
                delta *= masks[index - 1]
                # f' needs a = f(z), but the cache holds a * m / keep: where a unit was kept that is
                # a / keep, and where it was dropped delta is already zero.
                inputs = inputs * (1.0 - self.dropout)
            self.activation.backward(inputs, delta)

    def loss_and_grad(
        self, x: np.ndarray, labels: np.ndarray, loss: Loss, rng: np.random.Generator | None = None
    ) -> tuple[float, np.ndarray]:
        """Forward, loss and backward on one batch: returns (mean loss, logits) and fills ``grads``."""
        logits, cache = self.forward(x, rng)
        value, grad_logits = loss.value_and_grad(logits, labels)
        self.backward(grad_logits, cache)
        return value, logits

    def predict_logits(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Logits (n, k) in evaluation mode (no dropout), computed in chunks to bound memory."""
        x = np.asarray(x, dtype=self.dtype)
        logits = np.empty((len(x), self.layer_sizes[-1]), dtype=self.dtype)
        for start in range(0, len(x), batch_size):
            logits[start : start + batch_size] = self.forward(x[start : start + batch_size])[0]
        return logits

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted classes (n,)."""
        return self.predict_logits(x).argmax(axis=1)

    def spec(self) -> dict:
        """What rebuilds this network's shape (the checkpoint stores it next to the weights)."""
        activation = type(self.activation)
        return {
            "layer_sizes": self.layer_sizes,
            "dropout": self.dropout,
            "dtype": self.dtype.name,
            "activation": f"{activation.__module__}.{activation.__qualname__}",
        }
