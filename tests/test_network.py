"""The network's structure, its flat parameter buffer, losses and initialisers."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.core.losses import CrossEntropy, SmoothedCrossEntropy, log_softmax, softmax
from fmnist.core.network import MLP
from tests.conftest import build_option, group_options, load_option


def test_parameters_are_views_into_one_flat_buffer():
    network = MLP([784, 512, 256, 10], build_option("activation", "relu"))
    assert network.num_params == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
    for weight in network.weights + network.biases:
        assert np.shares_memory(weight, network.params)
    for grad in network.weight_grads + network.bias_grads:
        assert np.shares_memory(grad, network.grads)
    network.params[:] = 1.0
    assert network.weights[1].sum() == 512 * 256


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_keeps_the_dtype_and_shape(dtype):
    network = MLP([20, 7, 3], build_option("activation", "tanh"), dropout=0.5, dtype=dtype)
    network.initialize(build_option("init", "xavier"), np.random.default_rng(0))
    logits, (_, masks) = network.forward(np.ones((5, 20), dtype=dtype), np.random.default_rng(1))
    assert logits.shape == (5, 3) and logits.dtype == np.dtype(dtype)
    assert network.params.dtype == network.grads.dtype == masks[0].dtype == np.dtype(dtype)


@pytest.mark.parametrize(
    "layer_sizes, dropout, message",
    [
        ([784], 0.0, "layer_sizes must hold at least input and output sizes, all >= 1; got [784]"),
        ([784, 0, 10], 0.0, "layer_sizes must hold at least input and output sizes, all >= 1; got [784, 0, 10]"),
        ([784, 10], 1.0, "dropout must be in [0, 1), got 1.0"),
        ([784, 10], -0.1, "dropout must be in [0, 1), got -0.1"),
    ],
)
def test_a_network_refuses_missing_or_empty_layers_and_dropout_outside_0_1(layer_sizes, dropout, message):
    with pytest.raises(ValueError) as error:
        MLP(layer_sizes, build_option("activation", "relu"), dropout=dropout)
    assert str(error.value) == message


def test_the_smallest_network_and_the_largest_dropout_are_allowed():
    network = MLP([1, 1, 1], build_option("activation", "relu"), dropout=float(np.nextafter(1.0, 0.0)))
    assert network.num_params == 4


def test_without_dropout_training_draws_nothing_from_the_generator():
    """A run without dropout shuffles the same way whatever the network: forward leaves the generator alone."""
    network = MLP([6, 5, 4], build_option("activation", "relu"), dropout=0.0)
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    _, (_, masks) = network.forward(np.ones((3, 6), dtype=np.float32), rng)
    assert masks == [] and rng.bit_generator.state == before


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predictions_in_chunks_equal_one_forward_pass_in_the_networks_dtype(dtype):
    network = MLP([6, 5, 4], build_option("activation", "relu"), dtype=dtype)
    network.initialize(build_option("init", "he"), np.random.default_rng(0))
    x = np.random.default_rng(1).random((7, 6))  # float64 images, 7 rows: chunks of 3, 3 and 1
    logits = network.predict_logits(x, batch_size=3)
    assert logits.dtype == np.dtype(dtype)
    np.testing.assert_allclose(logits, network.forward(x.astype(dtype))[0], rtol=1e-6)  # BLAS may sum per chunk
    np.testing.assert_array_equal(network.predict(x), logits.argmax(axis=1))


def test_gradient_of_a_partial_batch_is_the_mean_over_its_examples():
    """Backprop on a batch of 3 equals the average of the three single-example gradients."""
    rng = np.random.default_rng(0)
    network = MLP([6, 5, 4], build_option("activation", "sigmoid"), dtype="float64")
    network.initialize(build_option("init", "xavier"), rng)
    x, labels = rng.normal(size=(3, 6)), np.array([0, 3, 1])
    loss = CrossEntropy()
    network.loss_and_grad(x, labels, loss)
    batch_gradient = network.grads.copy()
    singles = []
    for index in range(3):
        network.loss_and_grad(x[index : index + 1], labels[index : index + 1], loss)
        singles.append(network.grads.copy())
    np.testing.assert_allclose(batch_gradient, np.mean(singles, axis=0), rtol=1e-12, atol=1e-15)


def test_log_softmax_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]])
    np.testing.assert_allclose(np.exp(log_softmax(logits)), softmax(logits))
    np.testing.assert_allclose(softmax(logits)[1], [1 / 3] * 3)
    assert np.isfinite(log_softmax(logits)).all()


@pytest.mark.parametrize("loss_name", group_options("loss"))
def test_loss_is_zero_only_for_confident_correct_predictions(loss_name):
    """With label smoothing off (a smoothed loss is smallest at its smoothed targets, see below)."""
    unsmoothed = {"smoothing": 0.0} if "smoothing" in load_option("loss", loss_name) else {}
    loss = build_option("loss", loss_name, **unsmoothed)
    labels = np.array([0, 2])
    confident = np.array([[50.0, 0.0, 0.0], [0.0, 0.0, 50.0]])
    wrong = confident[::-1].copy()
    assert loss.value(confident, labels) < 1e-12
    assert loss.value(wrong, labels) > 0.5


def test_dropout_is_inverted_and_only_in_training():
    network = MLP([50, 400, 3], build_option("activation", "identity"), dropout=0.5, dtype="float64")
    network.params[:] = 0.0
    network.weights[0][:] = np.eye(50, 400)
    x = np.ones((200, 50))
    _, (activations, masks) = network.forward(x, np.random.default_rng(0))
    hidden = activations[1][:, :50]
    assert set(np.unique(hidden)) == {0.0, 2.0}  # kept units are scaled by 1 / (1 - p)
    assert abs(hidden.mean() - 1.0) < 0.05  # so the expectation is unchanged
    _, (eval_activations, eval_masks) = network.forward(x)
    assert eval_masks == [] and np.all(eval_activations[1][:, :50] == 1.0)


def zero_mean_distribution(family: str, std: float):
    """The scipy distribution an initialiser documents: N(0, std²) or U(-√3 std, √3 std)."""
    from scipy import stats

    limit = np.sqrt(3.0) * std
    return {"normal": stats.norm(0.0, std), "uniform": stats.uniform(-limit, 2 * limit)}[family]


@pytest.mark.parametrize("init_name", group_options("init"))
def test_initialisers_draw_from_their_documented_distribution(init_name):
    """A Kolmogorov-Smirnov test against the documented family and std accepts the draw, and rejects the
    other family with the same std (so 120,000 weights are enough to tell a uniform from a normal)."""
    from scipy import stats

    init = build_option("init", init_name)
    fan_in, fan_out = 400, 300
    weights = init(fan_in, fan_out, np.random.default_rng(0))
    std = init.std(fan_in, fan_out)
    assert weights.shape == (fan_in, fan_out)
    assert stats.kstest(weights.ravel(), zero_mean_distribution(init.distribution, std).cdf).pvalue > 1e-3
    other = ({"normal", "uniform"} - {init.distribution}).pop()
    assert stats.kstest(weights.ravel(), zero_mean_distribution(other, std).cdf).pvalue < 1e-9


def test_initialisers_state_the_published_distributions():
    """Keras's RandomNormal(0.05), Glorot & Bengio's uniform U(-√(6/(in+out)), √(6/(in+out))), He's N(0, 2/in)."""
    published = {
        "random": ("normal", 0.05),
        "xavier": ("uniform", np.sqrt(6.0 / 700) / np.sqrt(3.0)),
        "he": ("normal", np.sqrt(2.0 / 400)),
    }
    for name, (family, std) in published.items():
        init = build_option("init", name)
        assert (init.distribution, init.std(400, 300)) == (family, pytest.approx(std))


@pytest.mark.parametrize("std", [0.0, -0.05])
def test_the_random_initialiser_refuses_a_std_that_is_not_positive(std):
    from fmnist.core.init import RandomNormal

    with pytest.raises(ValueError, match=f"std must be a number > 0, got {std}"):
        RandomNormal(std)


@pytest.mark.parametrize("group", ["init", "loss"])
def test_constructor_defaults_are_the_yaml_values(group):
    """Built in Python without arguments, or picked from conf/, an initialiser or loss has the same settings."""
    from hydra.utils import get_class

    def settings(part) -> dict:
        return {key: value for key, value in vars(part).items() if not callable(value)}

    for name in group_options(group):
        assert settings(get_class(load_option(group, name)._target_)()) == settings(build_option(group, name)), name


def test_initialisation_is_reproducible_from_the_seed():
    def params(seed):
        network = MLP([10, 8, 3], build_option("activation", "relu"))
        return network.initialize(build_option("init", "he"), np.random.default_rng(seed)).params.copy()

    np.testing.assert_array_equal(params(3), params(3))
    assert not np.array_equal(params(3), params(4))
    assert np.all(
        MLP([10, 8, 3], build_option("activation", "relu"))
        .initialize(build_option("init", "he"), np.random.default_rng(0))
        .biases[0]
        == 0
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_smoothed_cross_entropy_matches_torch_and_is_smallest_at_its_targets(smoothing):
    import torch

    rng = np.random.default_rng(3)
    logits, labels = rng.normal(size=(7, 5)) * 3, rng.integers(0, 5, size=7)
    loss = SmoothedCrossEntropy(smoothing)
    value, grad = loss.value_and_grad(logits.copy(), labels)
    reference_logits = torch.tensor(logits, requires_grad=True)
    reference = torch.nn.functional.cross_entropy(reference_logits, torch.tensor(labels), label_smoothing=smoothing)
    reference.backward()
    assert value == pytest.approx(reference.item(), rel=1e-12)
    np.testing.assert_allclose(grad, reference_logits.grad.numpy(), rtol=1e-10, atol=1e-14)
    targets = (1 - smoothing) * np.eye(5)[labels] + smoothing / 5
    if smoothing:  # logits log q give p = q exactly: the minimum, where the gradient (p - q) / n vanishes
        at_targets = loss.value_and_grad(np.log(targets), labels)
        np.testing.assert_allclose(at_targets[1], 0.0, atol=1e-15)
        assert at_targets[0] < value


@pytest.mark.parametrize("smoothing", [-0.1, 1.0, "0.1"])
def test_smoothed_cross_entropy_refuses_a_smoothing_outside_0_1(smoothing):
    with pytest.raises(ValueError, match=r"smoothing must be in \[0, 1\)"):
        SmoothedCrossEntropy(smoothing)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("batch", [1, 7, 16])
def test_fused_cross_entropy_follows_the_numpy_reference(batch, smoothing, dtype, monkeypatch):
    fused = SmoothedCrossEntropy(smoothing)
    if fused.fused is None:
        pytest.skip("numba is not installed: the NumPy code is the only one")
    monkeypatch.setenv("FMNIST_KERNELS", "numpy")
    reference = SmoothedCrossEntropy(smoothing)
    assert reference.fused is None
    rng = np.random.default_rng(batch)
    logits = (rng.normal(size=(batch, 10)) * 4).astype(dtype)
    logits[0, :2] = [300.0, -300.0]  # exp would overflow without the max shift
    labels = rng.integers(0, 10, size=batch)
    value, grad = fused.value_and_grad(logits, labels)
    expected_value, expected_grad = reference.value_and_grad(logits.copy(), labels)
    tolerance = 1e-6 if dtype == "float32" else 1e-13
    assert grad.dtype == np.dtype(dtype)
    assert value == pytest.approx(expected_value, rel=tolerance)
    np.testing.assert_allclose(grad, expected_grad, rtol=tolerance, atol=tolerance / batch)


@pytest.mark.parametrize("kernels", ["auto", "numpy"])
def test_cross_entropy_refuses_a_label_outside_the_classes(kernels, monkeypatch):
    monkeypatch.setenv("FMNIST_KERNELS", kernels)
    with pytest.raises(IndexError):
        CrossEntropy().value_and_grad(np.zeros((2, 3)), np.array([0, 3]))


def test_with_numba_the_training_loss_runs_its_compiled_pass(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.delenv("FMNIST_KERNELS", raising=False)
    for name in group_options("loss"):
        loss = build_option("loss", name)
        assert (getattr(loss, "fused", None) is not None) == isinstance(loss, CrossEntropy), name


def test_without_numba_the_cross_entropy_runs_in_numpy(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` raise ImportError
    loss = CrossEntropy()
    assert loss.fused is None
    value, grad = loss.value_and_grad(np.zeros((2, 4)), np.array([1, 3]))
    assert value == pytest.approx(np.log(4))  # uniform p = 1/4
    np.testing.assert_allclose(grad, (0.25 - np.eye(4)[[1, 3]]) / 2)
