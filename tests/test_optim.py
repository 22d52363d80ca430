"""Optimisers. Every option in conf/optimizer/ gets the same checks, on every kernel path it has here:
YAML keys against the constructor, each hyperparameter's documented range enforced at its edges, state
created lazily, a convex problem minimised, a checkpointed state that continues bit-identically. Where a
reference exists: the first steps against the docstring formula in plain Python, fifty steps against
torch.optim, and Eve against a transcription of Algorithm 1 of its paper."""

from __future__ import annotations

import inspect
import json
import math
import re

import numpy as np
import pytest
from hydra.utils import get_class

from fmnist.core.kernels import flush_floor
from tests.conftest import build_option, group_options, load_option

OPTIMIZERS = group_options("optimizer")


def hyperparameters(name: str) -> dict:
    return {key: value for key, value in load_option("optimizer", name).items() if key != "_target_"}


def optimizer_class(name: str) -> type:
    return get_class(load_option("optimizer", name)._target_)


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


CURVATURE, CENTRE = np.array([1.0, 2.0, 3.0]), np.array([1.0, -2.0, 0.5])


def quadratic(theta: np.ndarray) -> tuple[float, np.ndarray]:
    """f(θ) = ½ Σ a_i (θ_i - c_i)² with a = CURVATURE, c = CENTRE: (f, ∇f)."""
    return float(0.5 * CURVATURE @ (theta - CENTRE) ** 2), CURVATURE * (theta - CENTRE)


def test_all_six_assignment_optimizers_are_configured():
    assert {"sgd", "momentum", "nag", "rmsprop", "adam", "nadam"} <= set(OPTIMIZERS)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_yaml_keys_are_exactly_the_constructor_arguments(name):
    assert set(hyperparameters(name)) == set(inspect.signature(optimizer_class(name)).parameters)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_constructor_defaults_are_the_yaml_values_but_rate_and_weight_decay(name):
    """Built in Python with only a rate and a weight decay, or picked with optimizer=NAME, a rule runs with
    the same settings; only ``lr`` and ``weight_decay`` are chosen per optimiser in conf/."""
    settings = hyperparameters(name)
    built = optimizer_class(name)(lr=settings["lr"], weight_decay=settings["weight_decay"])
    assert {key: getattr(built, key) for key in settings} == settings


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_rule_documented_with_a_fused_loop_gets_it_when_numba_is_installed(name, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.delenv("FMNIST_KERNELS", raising=False)
    documented = any("fused loop" in (cls.__doc__ or "") for cls in optimizer_class(name).__mro__)
    assert (build_option("optimizer", name).fused_step is not None) == documented


# ---- the range of each hyperparameter, as its docstring states it -----------------------------------

RANGE = re.compile(r"^\s*(\w+) ∈ ([\[(])([^,]+), ([^)\]]+)([)\]])", re.MULTILINE)


def documented_ranges(cls: type) -> dict[str, tuple[bool, str, str, bool]]:
    """name -> (low inclusive, low, high, high inclusive) from the lines "name ∈ [low, high)" of the
    docstrings of ``cls`` and its parents (a class's own line wins). A bound may name another hyperparameter."""
    ranges = {}
    for ancestor in reversed(cls.__mro__):
        for name, opening, low, high, closing in RANGE.findall(ancestor.__doc__ or ""):
            ranges[name] = (opening == "[", low, high, closing == "]")
    return ranges


def documented_bounds(name: str) -> dict[str, tuple[bool, float, float, bool]]:
    """The documented range of each key of conf/optimizer/NAME.yaml, bounds as numbers (a named bound
    takes the YAML's value of that hyperparameter)."""
    settings = hyperparameters(name)
    bounds = {}
    for key, (low_inclusive, *limits, high_inclusive) in documented_ranges(optimizer_class(name)).items():
        low, high = (
            float(settings[bound]) if bound in settings else float(bound.replace("∞", "inf")) for bound in limits
        )
        bounds[key] = (low_inclusive, low, high, high_inclusive)
    return bounds


def range_text(low_inclusive: bool, low: float, high: float, high_inclusive: bool) -> str:
    """How an error message writes a range: "[0, 1)", "(0.1, inf)"."""
    return f"{'[' if low_inclusive else '('}{low:g}, {high:g}{']' if high_inclusive else ')'}"


def edge_values(name: str) -> list[tuple[str, float, bool]]:
    """(hyperparameter, value, allowed) at the edges of each documented range of conf/optimizer/NAME.yaml:
    each bound and the float next to it on the other side, and NaN (never allowed)."""
    bounds = documented_bounds(name)
    cases = []
    for key in hyperparameters(name):
        low_inclusive, low, high, high_inclusive = bounds[key]
        cases.append((key, math.nan, False))
        for bound, inclusive, outwards in ((low, low_inclusive, -math.inf), (high, high_inclusive, math.inf)):
            if math.isfinite(bound):
                inside = bound if inclusive else float(np.nextafter(bound, -outwards))
                outside = float(np.nextafter(bound, outwards)) if inclusive else bound
                cases += [(key, inside, True), (key, outside, False)]
    return cases


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_hyperparameter_has_its_range_in_the_docstring(name):
    documented = documented_ranges(optimizer_class(name))
    missing = set(hyperparameters(name)) - set(documented)
    assert not missing, f"state the range of {sorted(missing)} in the docstring, as 'beta1 ∈ [0, 1)'"


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_constructor_refuses_exactly_what_lies_outside_the_documented_ranges(name):
    """... with a message that names the key, states the documented range and repeats the value."""
    settings, cls, bounds = hyperparameters(name), optimizer_class(name), documented_bounds(name)
    for key, value, allowed in edge_values(name):
        if allowed:
            assert getattr(cls(**{**settings, key: value}), key) == value
        else:
            with pytest.raises(ValueError) as error:
                cls(**{**settings, key: value})
            assert str(error.value) == f"{key} must be a number in {range_text(*bounds[key])}, got {value!r}"


# ---- what every optimiser does ---------------------------------------------------------------------


@pytest.mark.parametrize("name, path", on_every_path(OPTIMIZERS))
def test_state_is_created_on_the_first_step_and_params_change_in_place(name, path):
    optimizer = build_on_path(name, path)
    params = [np.ones(5), np.ones((2, 3))]
    buffers = [param for param in params]
    assert optimizer.state is None and optimizer.state_dict()["buffers"] == {}
    optimizer.step(params, [np.full(5, 0.5), np.full((2, 3), -0.5)], 1.0)
    assert len(optimizer.state) == 2 and optimizer.t == 1
    assert all(param is buffer for param, buffer in zip(params, buffers))
    assert np.all(params[0] < 1) and np.all(params[1] > 1)


@pytest.mark.parametrize("name, path", on_every_path(OPTIMIZERS))
def test_gradients_are_not_modified_by_a_step(name, path):
    optimizer = build_on_path(name, path, weight_decay=0.1)
    grad = np.linspace(-1, 1, 7)
    optimizer.step([np.ones(7)], [grad], 1.0)
    np.testing.assert_array_equal(grad, np.linspace(-1, 1, 7))


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_drives_a_convex_quadratic_to_its_minimum(name, weight_decay):
    """f(θ) + ½ λ |θ|², λ the rule's ``l2_coefficient``, has its minimum at θ* = a c / (a + λ) (the loss
    handed to ``step`` is f, as the trainer hands the batch loss without the L2 term).

    Adaptive methods with a constant rate hover within about η of the minimum, so the rate is cut
    100-fold for the last steps, as a schedule would."""
    optimizer = build_option("optimizer", name, lr=0.01, weight_decay=weight_decay)
    theta = np.zeros(3)
    for step in range(6000):
        if step == 4000:
            optimizer.lr = 1e-4
        loss, grad = quadratic(theta)
        optimizer.step([theta], [grad], loss)  # weight decay adds λ θ itself
    # Decoupled decay (AdamW, l2_coefficient 0) is balanced by Adam's normalised step m̂ / (√v̂ + ε), which stays
    # near ±1 however small the gradient: θ ends at the minimum of f itself (to within about λ |θ| ε).
    l2 = optimizer.l2_coefficient
    np.testing.assert_allclose(theta, CURVATURE * CENTRE / (CURVATURE + l2), atol=1e-3)


def take_steps(optimizer, params: list[np.ndarray], steps: range, seed: int = 0) -> None:
    """Steps number ``steps`` (from 0) of a fixed sequence of gradients and losses, one loss unchanged."""
    for step in steps:
        rng = np.random.default_rng([seed, step])
        loss = 2.0 if step in (3, 4) else float(rng.uniform(0.1, 3.0))
        optimizer.step(params, [rng.standard_normal(param.shape) + np.sin(param) for param in params], loss)


@pytest.mark.parametrize("name, path", on_every_path(OPTIMIZERS))
def test_a_step_after_the_first_allocates_no_array(name, path):
    """The module's promise: buffers are made on the first step, later steps only write into them."""
    import tracemalloc

    optimizer = build_on_path(name, path, weight_decay=0.01)
    params = [np.linspace(-1, 1, 100_000)]  # 800 kB: any array the size of the parameters would show
    take_steps(optimizer, params, range(2))
    grads = [np.cos(params[0])]
    tracemalloc.start()
    try:
        optimizer.step(params, grads, 1.5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < params[0].nbytes / 10, f"{peak / params[0].nbytes:.2f} parameter-sized arrays at once"


@pytest.mark.parametrize("name", [name for name in OPTIMIZERS if "fused" in kernel_paths(name)])
def test_the_fused_kernel_runs_on_contiguous_arrays_and_the_numpy_code_on_strided_views(name):
    fused, reference = build_on_path(name, "fused", weight_decay=0.01), build_on_path(name, "numpy", weight_decay=0.01)
    kernel, calls = fused.fused_step, []
    fused.fused_step = lambda *arguments: (calls.append(arguments[0].size), kernel(*arguments))
    storage = np.linspace(-1, 1, 14)
    strided, expected = storage[::2], storage[::2].copy()  # a view with a stride of two elements
    take_steps(fused, [strided], range(3))
    take_steps(reference, [expected], range(3))
    assert calls == []
    np.testing.assert_allclose(strided, expected, rtol=1e-12)
    contiguous = build_on_path(name, "fused")
    contiguous.fused_step = fused.fused_step
    take_steps(contiguous, [storage.copy()], range(1))
    assert calls == [14]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_repr_shows_the_hyperparameters_even_after_steps(name):
    optimizer = build_option("optimizer", name)
    take_steps(optimizer, [np.ones(3)], range(2))
    shown = repr(optimizer).removeprefix(f"{type(optimizer).__name__}(").removesuffix(")").split(", ")
    assert sorted(shown) == sorted(f"{key}={value:g}" for key, value in hyperparameters(name).items())


@pytest.mark.parametrize("name, path", on_every_path(OPTIMIZERS))
def test_a_restored_optimizer_continues_bit_identically(name, path):
    """Save after 5 steps, restore into a new optimiser built from the same file (the scalars through JSON
    and the buffers as copies, as fmnist.runs.resume stores them), take 5 more: the same bits as 10 steps
    in one go."""
    start = [np.linspace(-1, 1, 7), np.arange(6.0).reshape(2, 3)]
    uninterrupted = build_on_path(name, path, weight_decay=0.01)
    expected = [param.copy() for param in start]
    take_steps(uninterrupted, expected, range(10))

    first = build_on_path(name, path, weight_decay=0.01)
    params = [param.copy() for param in start]
    take_steps(first, params, range(5))
    saved = first.state_dict()
    saved = {**saved, "scalars": json.loads(json.dumps(saved["scalars"]))}
    take_steps(first, [param.copy() for param in params], range(5), seed=1)  # must not reach the saved copy
    restored = build_on_path(name, path, weight_decay=0.01)
    restored.load_state_dict(saved, params)
    take_steps(restored, params, range(5, 10))

    for got, want in zip(params, expected):
        np.testing.assert_array_equal(got, want)
    resumed, reference = restored.state_dict(), uninterrupted.state_dict()
    assert (resumed["t"], resumed["scalars"]) == (reference["t"], reference["scalars"])
    assert resumed["buffers"].keys() == reference["buffers"].keys()
    for key, array in reference["buffers"].items():
        np.testing.assert_array_equal(resumed["buffers"][key], array)


@pytest.mark.parametrize("name, path", on_every_path(OPTIMIZERS))
def test_an_optimizer_saved_before_its_first_step_restores_as_new(name, path):
    params = [np.linspace(-1, 1, 7)]
    restored = build_on_path(name, path)
    restored.load_state_dict(build_on_path(name, path).state_dict(), params)
    fresh, fresh_params = build_on_path(name, path), [params[0].copy()]
    take_steps(restored, params, range(3))
    take_steps(fresh, fresh_params, range(3))
    np.testing.assert_array_equal(params[0], fresh_params[0])


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
        theta = theta - lr * (m / (1 - beta1**t)) / (math.sqrt(v / (1 - beta2**t)) + epsilon)
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
        theta = theta - lr * numerator / (math.sqrt(v / (1 - beta2**t)) + epsilon)
    return theta


def adamw_reference(theta, grads, lr, weight_decay, beta1, beta2, epsilon):
    m = v = 0.0
    for t, grad in enumerate(grads, start=1):
        theta = theta - lr * weight_decay * theta  # decoupled decay; the moments see the raw gradient
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        theta = theta - lr * (m / (1 - beta1**t)) / (math.sqrt(v / (1 - beta2**t)) + epsilon)
    return theta


REFERENCES = {
    "sgd": sgd_reference,
    "momentum": momentum_reference,
    "nag": lambda *args, **kwargs: momentum_reference(*args, **kwargs, nesterov=True),
    "rmsprop": rmsprop_reference,
    "adam": adam_reference,
    "adamw": adamw_reference,
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
        "momentum": lambda: torch.optim.SGD(
            [parameter], lr=lr, momentum=settings["momentum"], weight_decay=weight_decay
        ),
        "nag": lambda: torch.optim.SGD(
            [parameter], lr=lr, momentum=settings["momentum"], nesterov=True, weight_decay=weight_decay
        ),
        "rmsprop": lambda: torch.optim.RMSprop(
            [parameter], lr=lr, alpha=settings["beta"], eps=settings["epsilon"], weight_decay=weight_decay
        ),
        "adam": lambda: torch.optim.Adam(
            [parameter],
            lr=lr,
            betas=(settings["beta1"], settings["beta2"]),
            eps=settings["epsilon"],
            weight_decay=weight_decay,
        ),
        "adamw": lambda: torch.optim.AdamW(
            [parameter],
            lr=lr,
            betas=(settings["beta1"], settings["beta2"]),
            eps=settings["epsilon"],
            weight_decay=weight_decay,
        ),
        "nadam": lambda: torch.optim.NAdam(
            [parameter],
            lr=lr,
            betas=(settings["beta1"], settings["beta2"]),
            eps=settings["epsilon"],
            weight_decay=weight_decay,
            momentum_decay=settings["momentum_decay"],
        ),
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


# ---- Eve against its paper ---------------------------------------------------------------------------


def eve_algorithm_1(
    theta, grads, losses, lr, weight_decay, beta1, beta2, beta3, lower_threshold, upper_threshold, epsilon
):
    """Algorithm 1 of Koushik & Hayashi (2016), line by line for one coordinate, in the paper's notation:
    f = f(θ_{t-1}), f_hat_2 = f̂_{t-2}, f_hat_1 = f̂_{t-1}. Yields (θ_t, d_t) after each step."""
    k, big_k = lower_threshold, upper_threshold
    m = v = 0.0
    d = f_hat_2 = None
    for t, (grad, f) in enumerate(zip(grads, losses), start=1):
        g = grad + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        m_hat = m / (1 - beta1**t)
        v = beta2 * v + (1 - beta2) * g * g
        v_hat = v / (1 - beta2**t)
        if t > 1:
            if f >= f_hat_2:
                delta, big_delta = k + 1, big_k + 1
            else:
                delta, big_delta = 1 / (big_k + 1), 1 / (k + 1)
            c = min(max(delta, f / f_hat_2), big_delta)
            f_hat_1 = c * f_hat_2
            r = abs(f_hat_1 - f_hat_2) / min(f_hat_1, f_hat_2)
            d = beta3 * d + (1 - beta3) * r
        else:
            f_hat_1 = f
            d = 1.0
        f_hat_2 = f_hat_1  # the next step's f̂_{t-2}
        theta = theta - lr * m_hat / (d * math.sqrt(v_hat) + epsilon)
        yield theta, d


#: Losses that take every branch: unchanged (f_2 = f̂_1), a fall and a rise within the thresholds, a rise
#: beyond K, a fall beyond k, a repeat of the last loss (which f̂ no longer equals), small changes.
EVE_LOSSES = [2.0, 2.0, 1.5, 2.9, 80.0, 0.01, 0.01, 0.5, 0.49, 0.51]


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("path", kernel_paths("eve"))
def test_eve_matches_algorithm_1_including_steps_where_the_loss_is_unchanged(path, weight_decay):
    settings = {**hyperparameters("eve"), "weight_decay": weight_decay}
    optimizer = build_on_path("eve", path, weight_decay=weight_decay)
    start = np.array([0.5, -1.0, 2.0])
    rng = np.random.default_rng(0)
    gradients = rng.standard_normal((len(EVE_LOSSES), 3))
    references = [eve_algorithm_1(float(start[i]), gradients[:, i], EVE_LOSSES, **settings) for i in range(3)]
    theta = start.copy()
    for gradient, loss, expected in zip(gradients, EVE_LOSSES, zip(*references)):
        optimizer.step([theta], [gradient.copy()], loss)
        np.testing.assert_allclose(theta, [theta_i for theta_i, _ in expected], rtol=1e-12, atol=1e-15)
        assert optimizer.d == pytest.approx(expected[0][1], rel=1e-12)


def test_eves_first_step_is_adams():
    """d_1 = 1: before there is a change of the objective to feed back, Eve takes Adam's step."""
    shared = {key: value for key, value in hyperparameters("eve").items() if key in hyperparameters("adam")}
    eve, adam = build_option("optimizer", "eve", **shared), build_option("optimizer", "adam", **shared)
    eve_theta, adam_theta = np.linspace(-1, 1, 5), np.linspace(-1, 1, 5)
    eve.step([eve_theta], [np.cos(eve_theta)], 3.0)
    adam.step([adam_theta], [np.cos(adam_theta)], 3.0)
    np.testing.assert_array_equal(eve_theta, adam_theta)


def test_eve_with_zero_losses_first_waits_for_a_positive_one():
    """f̂ = 0 would divide by zero: the feedback starts at the first positive loss, d untouched until then."""
    optimizer = build_option("optimizer", "eve")
    theta = np.ones(3)
    for loss in (0.0, 0.0, 2.0):
        optimizer.step([theta], [np.ones(3)], loss)
        assert optimizer.d == 1.0
    optimizer.step([theta], [np.ones(3)], 1.6)  # c = 0.8, f̂: 2 -> 1.6, r = 0.25
    assert optimizer.d == pytest.approx(optimizer.beta3 + (1 - optimizer.beta3) * 0.25, rel=1e-15)
    assert np.isfinite(theta).all()


def test_the_contributing_guide_shows_eves_real_code():
    """docs/contributing.md, "Adding an optimiser": every code line of the Eve example (its docstring is
    shortened) is in the class."""
    from fmnist.core.optim import Eve
    from tests.conftest import ROOT

    section = (ROOT / "docs" / "contributing.md").read_text().partition("## Adding an optimiser")[2]
    example = section.partition("```python\n")[2].partition("```")[0]
    code = example.split('    """\n', 1)[1]  # after the class docstring
    source = inspect.getsource(Eve)
    missing = [line for line in code.splitlines() if line.strip() and line not in source]
    assert not missing and "class Eve(Adam):" in example


def test_the_contributing_guide_shows_eves_real_yaml_file():
    from tests.conftest import CONF_DIR, ROOT

    section = (ROOT / "docs" / "contributing.md").read_text().partition("## Adding an optimiser")[2]
    example = section.partition("```yaml\n# conf/optimizer/eve.yaml\n")[2].partition("```")[0]
    assert example == (CONF_DIR / "optimizer" / "eve.yaml").read_text()


def test_eve_refuses_a_step_without_the_loss():
    with pytest.raises(ValueError, match="^Eve needs the batch loss: call optimizer.step"):
        build_option("optimizer", "eve").step([np.ones(3)], [np.ones(3)])


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
        loss = float(rng.uniform(0.1, 3.0))
        fused.step([fused_theta], [grad], loss)
        reference.step([reference_theta], [grad], loss)
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(fused_theta, reference_theta, rtol=tolerance, atol=tolerance)


SECOND_MOMENTS = {"v", "square_avg"}  # state buffers of squared gradients: the kernels flush them below τ²


def is_subnormal(array: np.ndarray) -> np.ndarray:
    return (array != 0) & (np.abs(array) < np.finfo(array.dtype).smallest_normal)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fused_kernel_keeps_moments_and_weights_normal_and_otherwise_follows_the_numpy_reference(
    name, dtype, monkeypatch
):
    fused = build_option("optimizer", name, weight_decay=0.0)
    if fused.fused_step is None:
        pytest.skip(f"{name} has no fused kernel here (numba missing, or a rule without one)")
    monkeypatch.setenv("FMNIST_KERNELS", "numpy")
    reference = build_option("optimizer", name, weight_decay=0.0)
    floor = flush_floor(dtype)
    # weights and gradients from about the smallest subnormal up to 1: the moments of the small ones
    # fall below the floor and below the smallest normal, as those of a weight whose gradient fades out;
    # the first weights are subnormal and get no gradient, as a weight that has decayed to nothing
    spectrum = (np.finfo(dtype).smallest_normal ** np.linspace(1.05, 0.0, 4000)).astype(dtype)
    grad = np.random.default_rng(0).permutation(spectrum)
    grad[:400] = 0
    fused_theta, reference_theta = spectrum.copy(), spectrum.copy()
    for _ in range(3):
        fused.step([fused_theta], [grad], 1.0)
        reference.step([reference_theta], [grad], 1.0)
    fused_buffers, reference_buffers = fused.state_dict()["buffers"], reference.state_dict()["buffers"]
    assert any(is_subnormal(buffer).any() for buffer in reference_buffers.values())  # the cases arise
    assert is_subnormal(reference_theta).any()
    assert not is_subnormal(fused_theta).any()
    assert np.all((fused_theta == 0) | (np.abs(fused_theta) >= floor))
    # far from the floor (every input, moment and result above 1e6 τ) the kernel is the textbook rule
    clear = (spectrum > 1e6 * floor) & (grad > 1e6 * floor) & (np.abs(reference_theta) > 1e6 * floor)
    for key, buffer in fused_buffers.items():
        assert not is_subnormal(buffer).any(), key
        buffer_floor = floor**2 if key.partition(".")[2] in SECOND_MOMENTS else floor
        assert np.all((buffer == 0) | (np.abs(buffer) >= buffer_floor)), key
        clear &= np.abs(reference_buffers[key]) > 1e6 * buffer_floor
    assert clear.sum() > 100
    rtol = 1e-5 if dtype == "float32" else 1e-12  # as for the fused kernel against the NumPy reference
    for key, buffer in fused_buffers.items():
        np.testing.assert_allclose(buffer[clear], reference_buffers[key][clear], rtol=rtol, err_msg=key)
    scale = np.maximum(np.abs(spectrum), np.abs(reference_theta))[clear]  # θ_3 may nearly cancel θ_0
    assert np.all(np.abs(fused_theta[clear] - reference_theta[clear]) <= rtol * scale)


FIRST_STEP_FROM_ONES = {  # θ_1 for θ_0 = 1 and g_1 = 1, from the docstring rules (ε negligible)
    "adam": lambda optimizer: 1 - optimizer.lr,  # m̂ = v̂ = 1
    "rmsprop": lambda optimizer: 1 - optimizer.lr / math.sqrt(1 - optimizer.beta),  # s_1 = (1 - β)
}


@pytest.mark.parametrize("name", sorted(FIRST_STEP_FROM_ONES))
def test_without_numba_the_numpy_code_runs(name, monkeypatch):
    import sys

    from fmnist.core import kernels

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
    optimizer.step([np.zeros(3)], [np.ones(3)], 1.0)
    with pytest.raises(
        ValueError,
        match="^optimizer.step got parameter arrays of other shapes than on its first "
        "call; an optimiser's state belongs to one set of parameters",
    ):
        optimizer.step([np.zeros(1000)], [np.ones(1000)], 1.0)
