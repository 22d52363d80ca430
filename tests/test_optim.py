"""Optimisers: first steps against their docstring formulas, the same trajectories as torch.optim,
convergence on a convex problem, validation. Every optimiser in conf/optimizer/ is picked up."""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from tests.conftest import build_option, group_options, load_option

OPTIMIZERS = group_options("optimizer")
BAD_VALUES = {  # hyperparameter -> values every optimiser must refuse
    "lr": [0.0, -1e-3], "weight_decay": [-1e-4], "epsilon": [0.0, -1e-8],
    "momentum": [1.0, -0.1], "beta": [1.0, -0.1], "beta1": [1.0, 1.5], "beta2": [1.0, -0.5],
}


def hyperparameters(name: str) -> dict:
    return {key: value for key, value in load_option("optimizer", name).items() if key != "_target_"}


def kernel_paths(name: str) -> list[str]:
    """How conf/optimizer/NAME.yaml can run here: "numpy" (the reference code) always, and "fused" when the
    rule has a compiled kernel and numba is installed (as in CI)."""
    return ["numpy"] + (["fused"] if build_option("optimizer", name).fused_step is not None else [])


def build_on_path(name: str, path: str, **overrides):
    """conf/optimizer/NAME.yaml built to run its fused kernel or, for path "numpy", its NumPy code."""
    optimizer = build_option("optimizer", name, **overrides)
    if path == "numpy":
        optimizer.fused_step = None
    return optimizer


def on_every_path(names) -> list:
    """pytest parameters (name, path) for every kernel path of each optimiser in ``names``."""
    return [pytest.param(name, path, id=f"{name}-{path}") for name in names for path in kernel_paths(name)]


def test_all_six_assignment_optimizers_are_configured():
    assert {"sgd", "momentum", "nag", "rmsprop", "adam", "nadam"} <= set(OPTIMIZERS)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_yaml_keys_are_exactly_the_constructor_arguments(name):
    optimizer = build_option("optimizer", name)
    arguments = set(inspect.signature(type(optimizer)).parameters)
    assert set(hyperparameters(name)) == arguments


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_is_created_on_the_first_step_and_params_change_in_place(name):
    optimizer = build_option("optimizer", name)
    params = [np.ones(5), np.ones((2, 3))]
    buffers = [param for param in params]
    assert optimizer.state is None
    optimizer.step(params, [np.full(5, 0.5), np.full((2, 3), -0.5)])
    assert len(optimizer.state) == 2
    assert all(param is buffer for param, buffer in zip(params, buffers))
    assert np.all(params[0] < 1) and np.all(params[1] > 1)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_gradients_are_not_modified_by_a_step(name):
    optimizer = build_option("optimizer", name, weight_decay=0.1)
    grad = np.linspace(-1, 1, 7)
    optimizer.step([np.ones(7)], [grad])
    np.testing.assert_array_equal(grad, np.linspace(-1, 1, 7))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_bad_hyperparameters_raise_value_error_naming_the_key(name):
    from hydra.utils import get_class

    settings = hyperparameters(name)
    optimizer_class = get_class(load_option("optimizer", name)._target_)
    cases = [(key, bad) for key in settings for bad in BAD_VALUES.get(key, [])]
    assert cases, f"no validation cases for {name}"
    for key, bad in cases:
        with pytest.raises(ValueError, match=rf"optimizer\.{key} must be .* got {bad!r}"):
            optimizer_class(**{**settings, key: bad})


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_drives_a_convex_quadratic_to_its_minimum(name, weight_decay):
    """f(θ) = ½ Σ a_i (θ_i - c_i)² + ½ λ |θ|² has its minimum at θ* = a c / (a + λ).

    Adaptive methods with a constant rate hover within about η of the minimum, so the rate is cut
    100-fold for the last steps, as a schedule would."""
    curvature, centre = np.array([1.0, 2.0, 3.0]), np.array([1.0, -2.0, 0.5])
    optimizer = build_option("optimizer", name, lr=0.01, weight_decay=weight_decay)
    theta = np.zeros(3)
    for step in range(6000):
        if step == 4000:
            optimizer.lr = 1e-4
        optimizer.step([theta], [curvature * (theta - centre)])  # weight decay adds λ θ itself
    np.testing.assert_allclose(theta, curvature * centre / (curvature + weight_decay), atol=1e-3)


# ---- first steps against the docstring formulas, in plain Python floats -------------------------

def sgd_reference(theta, grads, lr, weight_decay):
    for grad in grads:
        g = grad + weight_decay * theta
        theta = theta - lr * g
    return theta


def momentum_reference(theta, grads, lr, weight_decay, momentum, nesterov=False):
    velocity = 0.0
    for grad in grads:
        g = grad + weight_decay * theta
        velocity = momentum * velocity + g
        theta = theta - lr * (g + momentum * velocity if nesterov else velocity)
    return theta


def rmsprop_reference(theta, grads, lr, weight_decay, beta, epsilon):
    square_avg = 0.0
    for grad in grads:
        g = grad + weight_decay * theta
        square_avg = beta * square_avg + (1 - beta) * g * g
        theta = theta - lr * g / (math.sqrt(square_avg) + epsilon)
    return theta


def adam_reference(theta, grads, lr, weight_decay, beta1, beta2, epsilon):
    m = v = 0.0
    for t, grad in enumerate(grads, start=1):
        g = grad + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        theta = theta - lr * (m / (1 - beta1 ** t)) / (math.sqrt(v / (1 - beta2 ** t)) + epsilon)
    return theta


def nadam_reference(theta, grads, lr, weight_decay, beta1, beta2, epsilon, momentum_decay):
    def mu(t):
        return beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))

    m = v = 0.0
    product = 1.0
    for t, grad in enumerate(grads, start=1):
        g = grad + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        product *= mu(t)
        numerator = mu(t + 1) * m / (1 - product * mu(t + 1)) + (1 - mu(t)) * g / (1 - product)
        theta = theta - lr * numerator / (math.sqrt(v / (1 - beta2 ** t)) + epsilon)
    return theta


REFERENCES = {
    "sgd": sgd_reference,
    "momentum": momentum_reference,
    "nag": lambda *args, **kwargs: momentum_reference(*args, **kwargs, nesterov=True),
    "rmsprop": rmsprop_reference,
    "adam": adam_reference,
    "nadam": nadam_reference,
}


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("name, path", on_every_path(sorted(REFERENCES)))
def test_first_three_steps_match_the_docstring_formula(name, path, weight_decay):
    settings = {**hyperparameters(name), "weight_decay": weight_decay}
    optimizer = build_on_path(name, path, weight_decay=weight_decay)
    start = np.array([0.5, -1.0, 2.0])
    gradient_sequences = [[0.3, -0.1, 0.2], [-2.0, 1.0, 0.5], [1e-3, 0.0, -4.0]]  # per coordinate
    theta = start.copy()
    for t in range(3):
        optimizer.step([theta], [np.array([sequence[t] for sequence in gradient_sequences])])
    expected = [REFERENCES[name](float(start[i]), gradient_sequences[i], **settings) for i in range(3)]
    np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-15)


# ---- same trajectories as torch.optim ------------------------------------------------------------

def torch_optimizer(name: str, parameter, settings: dict):
    torch = pytest.importorskip("torch")
    lr, weight_decay = settings["lr"], settings["weight_decay"]
    builders = {
        "sgd": lambda: torch.optim.SGD([parameter], lr=lr, weight_decay=weight_decay),
        "momentum": lambda: torch.optim.SGD([parameter], lr=lr, momentum=settings["momentum"],
                                            weight_decay=weight_decay),
        "nag": lambda: torch.optim.SGD([parameter], lr=lr, momentum=settings["momentum"], nesterov=True,
                                       weight_decay=weight_decay),
        "rmsprop": lambda: torch.optim.RMSprop([parameter], lr=lr, alpha=settings["beta"],
                                               eps=settings["epsilon"], weight_decay=weight_decay),
        "adam": lambda: torch.optim.Adam([parameter], lr=lr, betas=(settings["beta1"], settings["beta2"]),
                                         eps=settings["epsilon"], weight_decay=weight_decay),
        "nadam": lambda: torch.optim.NAdam([parameter], lr=lr, betas=(settings["beta1"], settings["beta2"]),
                                           eps=settings["epsilon"], weight_decay=weight_decay,
                                           momentum_decay=settings["momentum_decay"]),
    }
    return builders[name]()


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("name, path", on_every_path(sorted(REFERENCES)))
def test_fifty_steps_match_torch_optim(name, path, weight_decay):
    torch = pytest.importorskip("torch")
    settings = {**hyperparameters(name), "weight_decay": weight_decay}
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(64)
    parameter = torch.tensor(theta.copy(), requires_grad=True)
    reference = torch_optimizer(name, parameter, settings)
    optimizer = build_on_path(name, path, weight_decay=weight_decay)
    for _ in range(50):
        grad = rng.standard_normal(64) + np.sin(theta)  # gradients that depend on where we are
        optimizer.step([theta], [grad])
        parameter.grad = torch.tensor(grad)
        reference.step()
        np.testing.assert_allclose(theta, parameter.detach().numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fused_kernel_follows_the_numpy_reference(name, dtype, monkeypatch):
    fused = build_option("optimizer", name, weight_decay=0.01)
    if fused.fused_step is None:
        pytest.skip(f"{name} has no fused kernel here (numba missing, or a rule without one)")
    monkeypatch.setenv("FMNIST_KERNELS", "numpy")
    reference = build_option("optimizer", name, weight_decay=0.01)
    assert reference.fused_step is None
    rng = np.random.default_rng(1)
    fused_theta = rng.standard_normal(1000).astype(dtype)
    reference_theta = fused_theta.copy()
    for _ in range(20):
        grad = rng.standard_normal(1000).astype(dtype)
        fused.step([fused_theta], [grad])
        reference.step([reference_theta], [grad])
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(fused_theta, reference_theta, rtol=tolerance, atol=tolerance)


FIRST_STEP_FROM_ONES = {  # θ_1 for θ_0 = 1 and g_1 = 1, from the docstring rules (ε negligible)
    "adam": lambda optimizer: 1 - optimizer.lr,  # m̂ = v̂ = 1
    "rmsprop": lambda optimizer: 1 - optimizer.lr / math.sqrt(1 - optimizer.beta),  # s_1 = (1 - β)
}


@pytest.mark.parametrize("name", sorted(FIRST_STEP_FROM_ONES))
def test_without_numba_the_numpy_code_runs(name, monkeypatch):
    import sys

    from fmnist import kernels

    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` raise ImportError
    assert kernels.fused_adaptive_moment_step() is None and kernels.fused_rmsprop_step() is None
    optimizer = build_option("optimizer", name)
    assert optimizer.fused_step is None
    theta = np.ones(4, dtype=np.float32)
    optimizer.step([theta], [np.ones(4, dtype=np.float32)])
    np.testing.assert_allclose(theta, FIRST_STEP_FROM_ONES[name](optimizer), rtol=1e-5)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_step_on_other_arrays_than_the_first_is_refused(name):
    """The state (and a fused kernel's loop bounds) belong to the first arrays: others must not reach them."""
    optimizer = build_option("optimizer", name)
    optimizer.step([np.zeros(3)], [np.ones(3)])
    with pytest.raises(ValueError, match="other shapes than on its first call"):
        optimizer.step([np.zeros(1000)], [np.ones(1000)])
