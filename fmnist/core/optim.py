"""The optimisers, written by hand: SGD, momentum, Nesterov, RMSProp, Adam, AdamW, NAdam and Eve.

Each optimiser updates a list of float arrays in place: ``optimizer.step(params, grads, loss)``, where
``loss`` is the batch's objective (the rules that need it, such as Eve, read it; the others ignore it).
Its state (velocities, moment estimates, the step count t) is created on the first call, one
entry per parameter array; the network passes one flat buffer, so a step is a few vectorised
NumPy calls over one array. Every rule starts from the regularised gradient

    g_t = dL/dθ + λ θ_{t-1}                 (λ = ``weight_decay``: L2 added to the gradient; AdamW
                                             decays the weights apart from the gradient instead)

and the scratch buffers are allocated once, so a step allocates nothing.

Adding an optimiser: subclass :class:`Optimizer` (or the rule it varies: :class:`Eve` only overrides
two hooks of :class:`Adam`), state the rule and the range of each hyperparameter in the docstring,
implement ``update`` and add ``conf/optimizer/NAME.yaml``; the tests discover it there.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from fmnist.core.kernels import flush_floor, fused_adaptive_moment_step, fused_rmsprop_step


def _check(name: str, value: float, low: float, high: float = math.inf, low_inclusive: bool = True) -> float:
    """``value`` if it lies in [low, high) (or (low, high)), else a ValueError naming the argument."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and (value >= low if low_inclusive else value > low) and value < high):
        bracket = "[" if low_inclusive else "("
        raise ValueError(f"{name} must be a number in {bracket}{low:g}, {high:g}), got {value!r}")
    return float(value)


def _probability(name: str, value: float) -> float:
    return _check(name, value, 0.0, 1.0)


def _positive(name: str, value: float) -> float:
    return _check(name, value, 0.0, low_inclusive=False)


class Optimizer:
    """Base class: validates ``lr`` and ``weight_decay``, keeps per-parameter state and the step count.

    Hyperparameters (each subclass lists its own the same way; the constructor refuses values outside):
        lr ∈ (0, ∞)               η, the step size
        weight_decay ∈ [0, ∞)     λ, the L2 coefficient added to the gradient

    :meth:`state_dict` / :meth:`load_state_dict` carry that state through a checkpoint: the step count,
    every buffer except working space (:attr:`WORK_BUFFERS`) and the scalars named in
    :attr:`scalar_state`, so a resumed run takes exactly the steps an uninterrupted one would.
    """

    #: Buffers that only hold intermediate results of one update; not saved.
    WORK_BUFFERS = frozenset({"scratch", "regularised", "numerator"})
    #: Attributes (besides ``t``) that one step passes on to the next; a subclass with such state names them.
    scalar_state: tuple[str, ...] = ()

    def __init__(self, lr: float, weight_decay: float = 0.0):
        self.lr = _positive("lr", lr)
        self.weight_decay = _check("weight_decay", weight_decay, 0.0)
        self.t = 0  # number of steps taken
        self.state: list[dict[str, np.ndarray]] | None = None

    def init_state(self, param: np.ndarray) -> dict[str, np.ndarray]:
        """Buffers for one parameter array; ``scratch`` is working space for the update."""
        return {"scratch": np.empty_like(param)}

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], loss: float | None = None) -> None:
        """Update every array of ``params`` in place from the matching array of ``grads``; ``loss`` is
        the objective at the current parameters (the batch's mean loss), for rules that use it."""
        if self.state is None:
            self.state = [self.init_state(param) for param in params]
        elif [param.shape for param in params] != [state["scratch"].shape for state in self.state]:
            raise ValueError(
                "optimizer.step got parameter arrays of other shapes than on its first call; an "
                "optimiser's state belongs to one set of parameters: build a new one for another network"
            )
        self.t += 1
        self.begin_step(loss)
        for param, grad, state in zip(params, grads, self.state):
            self.update(param, grad, state)

    def begin_step(self, loss: float | None) -> None:
        """Compute the scalars of step ``t`` that every parameter array shares (none here)."""

    def state_dict(self) -> dict:
        """{"t": step count, "scalars": {name: value}, "buffers": {"INDEX.NAME": copy of the array}}."""
        buffers = (
            {}
            if self.state is None
            else {
                f"{index}.{name}": array.copy()
                for index, entry in enumerate(self.state)
                for name, array in entry.items()
                if name not in self.WORK_BUFFERS
            }
        )
        return {"t": self.t, "scalars": {name: getattr(self, name) for name in self.scalar_state}, "buffers": buffers}

    def load_state_dict(self, saved: dict, params: list[np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned, for the parameter arrays ``params``."""
        self.t = int(saved["t"])
        for name, value in saved["scalars"].items():
            setattr(self, name, value)
        self.state = None
        if saved["buffers"]:
            self.state = [self.init_state(param) for param in params]
            for key, array in saved["buffers"].items():
                index, _, name = key.partition(".")
                self.state[int(index)][name][...] = array

    @property
    def l2_coefficient(self) -> float:
        """λ of g_t = dL/dθ + λ θ: ``weight_decay`` (a rule with decoupled decay, AdamW, returns 0)."""
        return self.weight_decay

    def _regularised(self, param: np.ndarray, grad: np.ndarray, state: dict) -> np.ndarray:
        """g + λ θ, written into the parameter's ``regularised`` buffer (the gradient itself is left alone)."""
        if not self.l2_coefficient:
            return grad
        if "regularised" not in state:
            state["regularised"] = np.empty_like(param)
        out = state["regularised"]
        np.multiply(param, self.l2_coefficient, out=out)
        out += grad
        return out

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict) -> None:
        """Apply step ``t`` to one parameter array; ``grad`` is dL/dθ, without weight decay."""
        raise NotImplementedError

    fused_step = None  # a compiled kernel from fmnist.core.kernels, set by the rules that have one

    def _fused_update(self, param: np.ndarray, grad: np.ndarray, buffers: tuple, scalars: tuple) -> bool:
        """Run ``fused_step(param, grad, *buffers, *scalars, floor)`` on the flattened arrays, with the
        scalars in the arrays' dtype (float32 scalars keep a float32 loop vectorised; ``floor`` is the
        dtype's flush threshold, :func:`fmnist.core.kernels.flush_floor`); False, doing nothing, when
        there is no kernel or the arrays are not contiguous (the caller then runs its NumPy code)."""
        if self.fused_step is None or not (param.flags.c_contiguous and grad.flags.c_contiguous):
            return False
        scalar = param.dtype.type
        self.fused_step(
            param.reshape(-1),
            grad.reshape(-1),
            *(buffer.reshape(-1) for buffer in buffers),
            *map(scalar, (*scalars, flush_floor(param.dtype))),
        )
        return True

    def __repr__(self) -> str:
        """The class and its hyperparameters (the constructor's arguments), e.g. ``SGD(lr=0.01, weight_decay=0)``."""
        settings = ", ".join(f"{name}={getattr(self, name):g}" for name in inspect.signature(type(self)).parameters)
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    """Plain stochastic gradient descent (Robbins & Monro, 1951).

        θ_t = θ_{t-1} - η g_t

    Same numbers as ``torch.optim.SGD(lr=η, weight_decay=λ)``.
    """

    def update(self, param, grad, state):
        grad = self._regularised(param, grad, state)
        scratch = state["scratch"]
        np.multiply(grad, self.lr, out=scratch)  # η g_t
        param -= scratch


class Momentum(SGD):
    """Gradient descent with (heavy-ball) momentum (Polyak, 1964), in PyTorch's form.

        v_t = μ v_{t-1} + g_t,      v_0 = 0
        θ_t = θ_{t-1} - η v_t

    For a constant η this is the textbook u_t = μ u_{t-1} + η g_t, θ_t = θ_{t-1} - u_t with
    u_t = η v_t. Same numbers as ``torch.optim.SGD(lr=η, momentum=μ, weight_decay=λ)``.

    Hyperparameters:
        momentum ∈ [0, 1)         μ
    """

    def __init__(self, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.momentum = _probability("momentum", momentum)

    def init_state(self, param):
        return {**super().init_state(param), "velocity": np.zeros_like(param)}

    def advance_velocity(self, param, grad, state) -> tuple[np.ndarray, np.ndarray]:
        """v_t = μ v_{t-1} + g_t in place; returns (g_t, v_t)."""
        grad = self._regularised(param, grad, state)
        velocity = state["velocity"]
        velocity *= self.momentum
        velocity += grad
        return grad, velocity

    def update(self, param, grad, state):
        _, velocity = self.advance_velocity(param, grad, state)
        scratch = state["scratch"]
        np.multiply(velocity, self.lr, out=scratch)
        param -= scratch  # θ_t = θ_{t-1} - η v_t


class NAG(Momentum):
    """Nesterov accelerated gradient (Nesterov, 1983; Sutskever et al., 2013), look-ahead form.

    Nesterov evaluates the gradient at the look-ahead point θ - η μ v. Substituting the stored
    parameters for that look-ahead point (as PyTorch and Keras do) gives an update that uses only
    the gradient at the stored parameters, so no second forward pass is needed:

        v_t = μ v_{t-1} + g_t,      v_0 = 0
        θ_t = θ_{t-1} - η (g_t + μ v_t)

    Same numbers as ``torch.optim.SGD(lr=η, momentum=μ, nesterov=True, weight_decay=λ)``.
    """

    def update(self, param, grad, state):
        grad, velocity = self.advance_velocity(param, grad, state)
        scratch = state["scratch"]
        np.multiply(velocity, self.momentum, out=scratch)
        scratch += grad
        scratch *= self.lr  # η (g_t + μ v_t)
        param -= scratch


class RMSProp(Optimizer):
    """RMSProp (Hinton, Coursera lecture 6e, 2012).

        s_t = β s_{t-1} + (1 - β) g_t²,     s_0 = 0
        θ_t = θ_{t-1} - η g_t / (√s_t + ε)

    Same numbers as ``torch.optim.RMSprop(lr=η, alpha=β, eps=ε, weight_decay=λ)``. The step runs as
    one fused loop when :mod:`fmnist.core.kernels` is available.

    Hyperparameters:
        beta ∈ [0, 1)             β, decay of the mean square
        epsilon ∈ (0, ∞)          ε
    """

    def __init__(self, lr: float, beta: float = 0.9, epsilon: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.beta = _probability("beta", beta)
        self.epsilon = _positive("epsilon", epsilon)
        self.fused_step = fused_rmsprop_step()

    def init_state(self, param):
        return {**super().init_state(param), "square_avg": np.zeros_like(param)}

    def update(self, param, grad, state):
        square_avg = state["square_avg"]
        if self._fused_update(
            param, grad, (square_avg,), (self.l2_coefficient, 1.0 - self.beta, self.epsilon, self.lr)
        ):
            return
        grad = self._regularised(param, grad, state)
        scratch = state["scratch"]
        np.multiply(grad, grad, out=scratch)
        scratch -= square_avg
        scratch *= 1.0 - self.beta
        square_avg += scratch  # s_t = s_{t-1} + (1 - β)(g_t² - s_{t-1})
        np.sqrt(square_avg, out=scratch)
        scratch += self.epsilon
        np.divide(grad, scratch, out=scratch)
        scratch *= self.lr
        param -= scratch  # θ_t = θ_{t-1} - η g_t / (√s_t + ε)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015, Algorithm 1).

        m_t = β1 m_{t-1} + (1 - β1) g_t,     v_t = β2 v_{t-1} + (1 - β2) g_t²,     m_0 = v_0 = 0
        m̂_t = m_t / (1 - β1^t),              v̂_t = v_t / (1 - β2^t)
        θ_t = θ_{t-1} - η m̂_t / (√v̂_t + ε)

    Same numbers as ``torch.optim.Adam(lr=η, betas=(β1, β2), eps=ε, weight_decay=λ)``.
    Computed in the form its variants share, with three scalars of step t:

        θ_t = θ_{t-1} - η (c_m m_t + c_g g_t) / (s_t √v_t + ε)
        Adam: c_m = 1 / (1 - β1^t), c_g = 0        (:meth:`moment_coefficients`)
              s_t = 1 / √(1 - β2^t)                 (:meth:`root_v_scale`)

    A variant overrides the hook of what it changes (NAdam the coefficients, Eve s_t), never ``update``;
    the step runs as one fused loop when :mod:`fmnist.core.kernels` is available.

    Hyperparameters:
        beta1 ∈ [0, 1)            β1, decay of the first moment
        beta2 ∈ [0, 1)            β2, decay of the second moment
        epsilon ∈ (0, ∞)          ε
    """

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(lr, weight_decay)
        self.beta1 = _probability("beta1", beta1)
        self.beta2 = _probability("beta2", beta2)
        self.epsilon = _positive("epsilon", epsilon)
        self.fused_step = fused_adaptive_moment_step()

    def init_state(self, param):
        return {**super().init_state(param), "m": np.zeros_like(param), "v": np.zeros_like(param)}

    def begin_step(self, loss):
        """The scalars of step t that every array shares: (c_m, c_g) and s_t."""
        self.step_coefficients = self.moment_coefficients()
        self.v_scale = self.root_v_scale()

    def moment_coefficients(self) -> tuple[float, float]:
        """(c_m, c_g) of step t: (1 / (1 - β1^t), 0), so c_m m_t = m̂_t."""
        return 1.0 / (1.0 - self.beta1**self.t), 0.0

    def root_v_scale(self) -> float:
        """s_t = 1 / √(1 - β2^t), so s_t √v_t = √v̂_t."""
        return 1.0 / math.sqrt(1.0 - self.beta2**self.t)

    def update(self, param, grad, state):
        momentum_coefficient, gradient_coefficient = self.step_coefficients
        m, v = state["m"], state["v"]
        if self._fused_update(
            param,
            grad,
            (m, v),
            (
                self.l2_coefficient,
                1.0 - self.beta1,
                1.0 - self.beta2,
                momentum_coefficient,
                gradient_coefficient,
                self.v_scale,
                self.epsilon,
                self.lr,
            ),
        ):
            return
        grad = self._regularised(param, grad, state)
        scratch = state["scratch"]
        np.subtract(grad, m, out=scratch)
        scratch *= 1.0 - self.beta1
        m += scratch  # m_t = m_{t-1} + (1 - β1)(g_t - m_{t-1})
        np.multiply(grad, grad, out=scratch)
        scratch -= v
        scratch *= 1.0 - self.beta2
        v += scratch  # v_t = v_{t-1} + (1 - β2)(g_t² - v_{t-1})
        if "numerator" not in state:  # made once: setdefault would build (and drop) a new array every step
            state["numerator"] = np.empty_like(param)
        numerator = state["numerator"]
        np.multiply(m, momentum_coefficient, out=numerator)
        if gradient_coefficient:
            np.multiply(grad, gradient_coefficient, out=scratch)
            numerator += scratch  # c_m m_t + c_g g_t
        np.sqrt(v, out=scratch)
        scratch *= self.v_scale
        scratch += self.epsilon  # s_t √v_t + ε
        numerator /= scratch
        numerator *= self.lr
        param -= numerator


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019, "Decoupled Weight Decay
    Regularization", Algorithm 2, with the schedule multiplier folded into η as in PyTorch):

        θ'_{t-1} = θ_{t-1} - η λ θ_{t-1}          the decay, apart from the gradient
        g_t = dL/dθ                                 no L2 term: the moments see the loss's gradient only
        m_t, v_t, m̂_t, v̂_t as in Adam;   θ_t = θ'_{t-1} - η m̂_t / (√v̂_t + ε)

    With L2 in the gradient (Adam's ``weight_decay``) the decay of a weight is divided by its √v̂ like
    the rest of the step, so weights with large gradients are hardly regularised; decoupled, every
    weight shrinks by the same factor 1 - η λ per step. Same numbers as
    ``torch.optim.AdamW(lr=η, betas=(β1, β2), eps=ε, weight_decay=λ)``.

    Hyperparameters (PyTorch's default λ = 0.01; λ is multiplied by η, so it is larger than an L2 λ):
        weight_decay ∈ [0, ∞)     λ, the decoupled decay per unit of learning rate
    """

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.01,
    ):
        super().__init__(lr, beta1, beta2, epsilon, weight_decay)

    @property
    def l2_coefficient(self) -> float:
        return 0.0

    def update(self, param, grad, state):
        param *= 1.0 - self.lr * self.weight_decay  # θ'_{t-1} = (1 - η λ) θ_{t-1}
        super().update(param, grad, state)


class NAdam(Adam):
    """Nesterov-accelerated Adam (Dozat, 2016, "Incorporating Nesterov Momentum into Adam"), with
    Dozat's momentum schedule μ_t = β1 (1 - ½ · 0.96^(ψ t)), ψ = ``momentum_decay``:

        m_t, v_t, v̂_t as in Adam
        θ_t = θ_{t-1} - η [ μ_{t+1} m_t / (1 - Π_{i≤t+1} μ_i) + (1 - μ_t) g_t / (1 - Π_{i≤t} μ_i) ] / (√v̂_t + ε)

    The first term is the Nesterov look-ahead: next step's momentum applied to this step's moment.
    In Adam's form c_m = μ_{t+1} / (1 - Π_{i≤t+1} μ_i) and c_g = (1 - μ_t) / (1 - Π_{i≤t} μ_i).
    Same numbers as ``torch.optim.NAdam(lr=η, betas=(β1, β2), eps=ε, weight_decay=λ, momentum_decay=ψ)``.

    Hyperparameters:
        momentum_decay ∈ [0, ∞)   ψ
    """

    scalar_state = ("mu_product",)

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
    ):
        super().__init__(lr, beta1, beta2, epsilon, weight_decay)
        self.momentum_decay = _check("momentum_decay", momentum_decay, 0.0)
        self.mu_product = 1.0  # Π_{i≤t} μ_i, advanced once per step

    def mu(self, t: int) -> float:
        return self.beta1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def begin_step(self, loss):
        """Advance Π μ to step t, then Adam's scalars."""
        self.mu_product *= self.mu(self.t)
        super().begin_step(loss)

    def moment_coefficients(self):
        """(c_m, c_g) of step t: (μ_{t+1} / (1 - Π_{i≤t+1} μ_i), (1 - μ_t) / (1 - Π_{i≤t} μ_i))."""
        mu_t, mu_next = self.mu(self.t), self.mu(self.t + 1)
        return mu_next / (1.0 - self.mu_product * mu_next), (1.0 - mu_t) / (1.0 - self.mu_product)


class Eve(Adam):
    """Eve (Koushik & Hayashi, 2016, "Improving Stochastic Gradient Descent with Feedback",
    arXiv:1611.01505, Algorithm 1): Adam whose step shrinks while the objective f (the batch loss,
    ``step``'s ``loss``; f ≥ 0) changes much and grows while it changes little. With f_t the loss at
    θ_{t-1}, f̂ its smoothed value and d the feedback (the paper writes f(θ_{t-1}) and f̂_{t-2} where
    this says f_t and f̂_{t-1}):

        m_t, v_t, m̂_t, v̂_t as in Adam
        t = 1:  f̂_1 = f_1,  d_1 = 1
        t > 1:  (δ, Δ) = (k + 1, K + 1) if f_t ≥ f̂_{t-1}, else (1 / (K + 1), 1 / (k + 1))
                c_t = min(max(δ, f_t / f̂_{t-1}), Δ)             the change of f, clipped
                f̂_t = c_t f̂_{t-1}
                r_t = |f̂_t - f̂_{t-1}| / min(f̂_t, f̂_{t-1})       its relative size, k ≤ r_t ≤ K
                    = |c_t - 1| / min(c_t, 1)                    (computed so)
                d_t = β3 d_{t-1} + (1 - β3) r_t
        θ_t = θ_{t-1} - η m̂_t / (d_t √v̂_t + ε)

    An unchanged objective (f_t = f̂_{t-1}) takes the first branch: c_t = k + 1, r_t = k. In Adam's form
    only s_t changes, to d_t / √(1 - β2^t) (:meth:`root_v_scale`). Where f̂ = 0 the ratio f_t / f̂_{t-1} is
    undefined (losses of exactly 0 from the first step on, or f̂ shrunk below the smallest float by
    losses of 0): the feedback then starts afresh, f̂_t = f_t with d unchanged, as at t = 1.
    This is Algorithm 1 as printed in 2016. Elsewhere: the authors' Keras code of 2016 takes the first
    branch only when f_t > f̂_{t-1} and adds ε to d_t √v_t with Adam's bias corrections folded into η; the
    paper's later version replaces k and K by one c, clips |f_t - f_{t-1}| / (min(f_t, f_{t-1}) - f*) to
    [1/c, c] and divides the whole Adam step by the smoothed result.

    Hyperparameters (the paper's defaults: β3 = 0.999, k = 0.1, K = 10):
        beta3 ∈ [0, 1)                              β3, decay of the feedback d
        lower_threshold ∈ (0, ∞)                    k, the smallest relative change counted
        upper_threshold ∈ (lower_threshold, ∞)      K, the largest
    """

    scalar_state = ("d", "smoothed_loss")  # checkpoints carry them with the moment buffers

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        beta3: float = 0.999,
        lower_threshold: float = 0.1,
        upper_threshold: float = 10.0,
        epsilon: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(lr, beta1, beta2, epsilon, weight_decay)
        self.beta3 = _probability("beta3", beta3)
        self.lower_threshold = _positive("lower_threshold", lower_threshold)
        self.upper_threshold = _check("upper_threshold", upper_threshold, self.lower_threshold, low_inclusive=False)
        self.d = 1.0  # d_t
        self.smoothed_loss = 0.0  # f̂_t; 0 until the first (positive) loss

    def begin_step(self, loss):
        """Advance d and f̂ with the objective f_t = ``loss``, then Adam's scalars."""
        if loss is None:
            raise ValueError("Eve needs the batch loss: call optimizer.step(params, grads, loss)")
        loss = float(loss)
        if self.smoothed_loss > 0.0:
            k, big_k = self.lower_threshold, self.upper_threshold
            low, high = (k + 1.0, big_k + 1.0) if loss >= self.smoothed_loss else (1.0 / (big_k + 1.0), 1.0 / (k + 1.0))
            change = min(max(low, loss / self.smoothed_loss), high)  # c_t
            self.smoothed_loss *= change  # f̂_t = c_t f̂_{t-1}
            relative_change = abs(change - 1.0) / min(change, 1.0)  # r_t
            self.d = self.beta3 * self.d + (1.0 - self.beta3) * relative_change
        else:
            self.smoothed_loss = loss  # f̂_1 = f_1
        super().begin_step(loss)

    def root_v_scale(self):
        """s_t = d_t / √(1 - β2^t), so s_t √v_t = d_t √v̂_t."""
        return self.d * super().root_v_scale()
