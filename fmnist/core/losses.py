"""Losses over the softmax of the network's logits.

Shapes: ``logits`` (n, k), ``labels`` (n,) integer classes, returned gradient (n, k) = dL/dlogits.
Both losses are means over the batch, so the gradient scale does not depend on the batch size.
"""

from __future__ import annotations

import numpy as np

from fmnist.core.kernels import fused_cross_entropy


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p_k = z_k - max(z) - log sum_j exp(z_j - max(z))  (log-sum-exp, stable for any z)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def softmax(logits: np.ndarray) -> np.ndarray:
    """p_k = exp(z_k - max z) / sum_j exp(z_j - max z)."""
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities


class Loss:
    """``value(logits, labels)`` gives the mean loss; ``value_and_grad`` also dL/dlogits."""

    def value(self, logits: np.ndarray, labels: np.ndarray) -> float:
        return self.value_and_grad(logits, labels)[0]

    def value_and_grad(self, logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CrossEntropy(Loss):
    """L = -(1/n) sum_i log p_{i, y_i}, with p = softmax(z).

    Fused softmax + cross-entropy gradient:  dL/dz = (p - onehot(y)) / n. The code is written for the
    smoothed targets of :class:`SmoothedCrossEntropy`; here α = ``smoothing`` = 0 and its terms are skipped.
    Training batches go through one compiled pass (:func:`fmnist.core.kernels.fused_cross_entropy`) when numba
    is installed; the NumPy code below is the reference it is tested against.
    """

    smoothing = 0.0

    def __init__(self):
        self.fused = fused_cross_entropy()

    def value(self, logits, labels):
        return self._value(log_softmax(logits), labels)

    def _value(self, log_p: np.ndarray, labels: np.ndarray) -> float:
        loss = -log_p[np.arange(len(labels)), labels].mean()
        if self.smoothing:
            loss = (1.0 - self.smoothing) * loss - self.smoothing / log_p.shape[1] * log_p.sum(axis=1).mean()
        return float(loss)

    def value_and_grad(self, logits, labels):
        if self.fused is not None and logits.flags.c_contiguous and isinstance(labels, np.ndarray):
            grad = np.empty_like(logits)
            return float(self.fused(logits, labels, self.smoothing, grad)), grad
        n = len(labels)
        log_p = log_softmax(logits)
        loss = self._value(log_p, labels)
        grad = np.exp(log_p, out=log_p)  # p, reusing the buffer
        if self.smoothing:
            grad -= self.smoothing / grad.shape[1]  # α / K, the target of every class
        grad[np.arange(n), labels] -= 1.0 - self.smoothing
        grad /= n
        return loss, grad


class SmoothedCrossEntropy(CrossEntropy):
    """Cross-entropy against smoothed targets (label smoothing: Szegedy et al., 2016, "Rethinking the
    Inception Architecture for Computer Vision", section 7), with α = ``smoothing`` and K classes:

        q_ik = (1 - α) onehot(y)_ik + α / K
        L = -(1/n) sum_i sum_k q_ik log p_ik,     dL/dz = (p - q) / n

    α = 0 is :class:`CrossEntropy`. Same numbers as ``torch.nn.CrossEntropyLoss(label_smoothing=α)``.
    """

    def __init__(self, smoothing: float = 0.1):
        if not (isinstance(smoothing, (int, float)) and 0.0 <= smoothing < 1.0):
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
        super().__init__()
        self.smoothing = float(smoothing)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(smoothing={self.smoothing:g})"


class MeanSquaredError(Loss):
    """L = (1/n) sum_i sum_k (p_ik - onehot(y)_ik)^2 on the softmax probabilities p = softmax(z).

    Exact gradient through the softmax, with g = dL/dp = 2 (p - onehot(y)) / n:
        dL/dz_ik = p_ik (g_ik - sum_j g_ij p_ij)        (the softmax Jacobian diag(p) - p p^T applied to g)
    """

    def value_and_grad(self, logits, labels):
        n = len(labels)
        probabilities = softmax(logits)
        error = probabilities.copy()
        error[np.arange(n), labels] -= 1.0
        loss = float((error * error).sum() / n)
        grad_p = error * (2.0 / n)
        grad = probabilities * (grad_p - (grad_p * probabilities).sum(axis=1, keepdims=True))
        return loss, grad
