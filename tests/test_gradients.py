"""Backprop against central finite differences, in float64, for every activation x loss in conf/."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.core.network import MLP
from tests.conftest import build_option, group_options

STEP = 1e-6
TOLERANCE = 1e-6


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    return float(np.abs(analytic - numeric).max() / max(np.abs(analytic).max(), np.abs(numeric).max(), 1e-12))


def numeric_gradient(objective, params: np.ndarray) -> np.ndarray:
    """dJ/dtheta_i ~ (J(theta + h e_i) - J(theta - h e_i)) / 2h, one coordinate at a time."""
    gradient = np.empty_like(params)
    for index in range(params.size):
        original = params[index]
        params[index] = original + STEP
        plus = objective()
        params[index] = original - STEP
        minus = objective()
        params[index] = original
        gradient[index] = (plus - minus) / (2 * STEP)
    return gradient


def make_network(activation: str, hidden: list[int], seed: int, dropout: float = 0.0) -> MLP:
    network = MLP([6, *hidden, 4], build_option("activation", activation), dropout=dropout, dtype="float64")
    return network.initialize(build_option("init", "xavier"), np.random.default_rng(seed))


def regularised_gradient(grads: np.ndarray, params: np.ndarray, weight_decay: float) -> np.ndarray:
    """The gradient an optimiser follows, g + weight_decay theta, read off one SGD step with lr = 1:
    theta_0 - theta_1 = 1 * (g + weight_decay theta_0)."""
    after = params.copy()
    build_option("optimizer", "sgd", lr=1.0, weight_decay=weight_decay).step([after], [grads.copy()])
    return params - after


@pytest.mark.parametrize("activation", group_options("activation"))
@pytest.mark.parametrize("loss_name", group_options("loss"))
@pytest.mark.parametrize("hidden, batch_size", [([], 1), ([5], 7), ([5, 3, 4], 3)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_backprop_and_weight_decay_match_finite_differences(activation, loss_name, hidden, batch_size, weight_decay):
    """J(theta) = L(theta) + weight_decay / 2 ||theta||^2: backprop's gradient, with the L2 term the
    optimisers add to it (``weight_decay`` in conf/optimizer/), is the gradient of J."""
    rng = np.random.default_rng(batch_size)
    network = make_network(activation, hidden, seed=len(hidden))
    loss = build_option("loss", loss_name)
    x = rng.normal(size=(batch_size, 6))
    labels = rng.integers(0, 4, size=batch_size)

    def objective() -> float:
        penalty = 0.5 * weight_decay * float(network.params @ network.params)
        return loss.value(network.forward(x)[0], labels) + penalty

    network.loss_and_grad(x, labels, loss)
    analytic = regularised_gradient(network.grads, network.params, weight_decay)
    assert relative_error(analytic, numeric_gradient(objective, network.params)) < TOLERANCE


@pytest.mark.parametrize("activation", group_options("activation"))
def test_backprop_through_dropout_matches_finite_differences(activation):
    """With the dropout mask held fixed (same generator seed), backprop is exact through it."""
    rng = np.random.default_rng(0)
    network = make_network(activation, [8, 8], seed=1, dropout=0.5)
    loss = build_option("loss", "cross_entropy")
    x = rng.normal(size=(5, 6))
    labels = rng.integers(0, 4, size=5)

    def objective() -> float:
        return loss.value(network.forward(x, np.random.default_rng(7))[0], labels)

    network.loss_and_grad(x, labels, loss, np.random.default_rng(7))
    assert relative_error(network.grads.copy(), numeric_gradient(objective, network.params)) < TOLERANCE
