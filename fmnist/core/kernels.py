"""Optional fused kernels, compiled by numba: the RMSProp update and that of Adam and its variants (NAdam,
Eve) as one loop each, and the softmax cross-entropy with its gradient as one pass over the logits.

NumPy spends an optimiser step in about a dozen passes over the parameter buffer (one per ufunc); for
the small networks of this project that is as long as the forward and backward pass together, and
for the default 1024-512 network it is a sixth of an epoch. The loss is a dozen small ufunc calls
on a (batch, 10) array, each costing more in call overhead than in arithmetic. Each loop below does
the same arithmetic in one pass. They are used when numba is installed (``pip install numba``) and
``FMNIST_KERNELS`` is not ``numpy``; otherwise, or for arrays that are not contiguous,
:mod:`fmnist.core.optim` and :mod:`fmnist.core.losses` run their NumPy code, which is the reference.
``benchmarks/speed.py`` times both.

The optimiser loops take 1-D arrays of one length and scalars of the arrays' dtype (float32 scalars
keep a float32 loop vectorised). ``error_model="numpy"`` drops Python's zero-division checks so LLVM
can vectorise; each element is loaded once into locals and stored once: reading m[i] back after
storing v[i] would force a scalar loop (the arrays might alias), about 2.5x slower.

Both loops keep every number they compute normal (never subnormal), with a floor per dtype,
τ = √(smallest normal / machine ε): 3.1e-16 for float32, 1.0e-146 for float64 (``flush_floor``).
flush(x) is x, or 0 where |x| < τ; the second moments (squares) flush below τ². Gradients below τ count
as 0 before they are squared. So g², (1 - β)g², η m and λ θ of flushed quantities are all normal for
every hyperparameter ≥ machine ε (1.2e-7 in float32).

Why: every operation that reads or yields a subnormal number costs a microcode assist on x86 (about
100 cycles instead of one vector lane), and quantities that only decay reach that range. The moments
of a weight whose gradient stays 0 (a pixel that is 0 in every image, a dead unit): m_t = 0.9^t m_0 is
subnormal after about 800 Adam steps; on the 3 x 128 network of ``benchmarks/speed.py`` workload B,
6 % of m was subnormal after two epochs and the Adam step took 0.85 ms instead of 0.06 ms. The weight
itself under Adam with L2 decay λ: once λ|θ| < ε its step is about η λ θ / ε, a geometric decay (2 %
per step for the Keras funnel's λ = 2e-3, η = 1e-3, ε = 1e-7); after 15 epochs 110,946 of that
network's 575,050 weights were below 1e-30, their squares underflowed, and the Adam step took 2.7 ms
instead of about 0.3 ms (the epoch grew from 2.1 s to 5.5 s). A weight below τ times an input of at
most 1 is below the rounding of any float32 pre-activation larger than about 10⁷ τ ≈ 3e-9, and a
moment below τ moves its weight by at most η τ / ε per step. The NumPy code keeps the textbook rule.
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np


def _compile_rmsprop_step():
    import numba  # optional: without it the NumPy code runs

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def rmsprop_step(param, grad, square_avg, weight_decay, one_minus_beta, epsilon, lr, floor):
        """For each i, with g = flush(grad + λ θ) and τ = ``floor``:
        s ← flush_τ²(s + (1 - β)(g² - s));   θ ← flush(θ - η g / (√s + ε))
        """
        zero = floor - floor
        floor_squared = floor * floor
        for i in range(param.size):
            theta = param[i]
            g = grad[i] + weight_decay * theta
            g = g if abs(g) >= floor else zero
            s = square_avg[i] + one_minus_beta * (g * g - square_avg[i])
            s = s if s >= floor_squared else zero
            square_avg[i] = s
            theta = theta - lr * g / (math.sqrt(s) + epsilon)
            param[i] = theta if abs(theta) >= floor else zero

    return rmsprop_step


def _compile_adaptive_moment_step():
    import numba  # optional: without it the NumPy code runs

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def adaptive_moment_step(
        param,
        grad,
        m,
        v,
        weight_decay,
        one_minus_beta1,
        one_minus_beta2,
        momentum_coefficient,
        gradient_coefficient,
        v_scale,
        epsilon,
        lr,
        floor,
    ):
        """For each i, with g = flush(grad + λ θ) and τ = ``floor``:
        m ← flush(m + (1 - β1)(g - m));   v ← flush_τ²(v + (1 - β2)(g² - v))
        θ ← flush(θ - η (c_m m + c_g g) / (√v · v_scale + ε))
        """
        zero = floor - floor
        floor_squared = floor * floor
        for i in range(param.size):
            theta = param[i]
            g = grad[i] + weight_decay * theta
            g = g if abs(g) >= floor else zero
            m_i = m[i] + one_minus_beta1 * (g - m[i])
            v_i = v[i] + one_minus_beta2 * (g * g - v[i])
            m_i = m_i if abs(m_i) >= floor else zero
            v_i = v_i if v_i >= floor_squared else zero
            m[i] = m_i
            v[i] = v_i
            theta = theta - lr * (momentum_coefficient * m_i + gradient_coefficient * g) / (
                math.sqrt(v_i) * v_scale + epsilon
            )
            param[i] = theta if abs(theta) >= floor else zero

    return adaptive_moment_step


def _compile_cross_entropy():
    import numba  # optional: without it the NumPy code runs

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def cross_entropy(logits, labels, smoothing, grad):
        """Mean label-smoothed cross-entropy of logits z (n, K) against classes y (n,), with α =
        ``smoothing``, and its gradient written into ``grad`` (n, K), one row at a time:
            μ_i = max_k z_ik,   s_i = Σ_k exp(z_ik - μ_i),   log p_ik = z_ik - μ_i - log s_i
            L = -(1/n) Σ_i [(1 - α) log p_{i,y_i} + (α/K) Σ_k log p_ik]
            dL/dz_ik = (p_ik - (1 - α) [k = y_i] - α/K) / n
        Sums are accumulated in float64.
        """
        n, k = logits.shape
        total = 0.0
        for i in range(n):
            label = labels[i]
            if label < 0 or label >= k:
                raise IndexError("a label is outside 0..K-1 for K = logits.shape[1]")
            top = logits[i, 0]
            for j in range(1, k):
                top = max(top, logits[i, j])
            exp_sum = 0.0
            log_p_sum = 0.0  # Σ_k (z_ik - μ_i); log s_i is subtracted K times below
            for j in range(k):
                shifted = float(logits[i, j] - top)
                exp_value = math.exp(shifted)
                grad[i, j] = exp_value
                exp_sum += exp_value
                log_p_sum += shifted
            log_exp_sum = math.log(exp_sum)
            log_p_label = float(logits[i, label] - top) - log_exp_sum
            total -= (1.0 - smoothing) * log_p_label + smoothing / k * (log_p_sum - k * log_exp_sum)
            for j in range(k):
                grad[i, j] = (grad[i, j] / exp_sum - smoothing / k) / n
            grad[i, label] -= (1.0 - smoothing) / n
        return total / n

    return cross_entropy


def _compiled(compile_kernel):
    """The kernel ``compile_kernel`` builds, or None when numba is missing or ``FMNIST_KERNELS=numpy``."""
    if os.environ.get("FMNIST_KERNELS", "auto").lower() == "numpy":
        return None
    try:
        return compile_kernel()
    except ImportError:
        return None


@functools.lru_cache
def flush_floor(dtype) -> float:
    """τ = √(smallest normal / machine ε) of ``dtype``: the kernels' flush threshold (module docstring)."""
    info = np.finfo(dtype)
    return float(np.sqrt(info.smallest_normal / info.eps))


def fused_rmsprop_step():
    """The compiled RMSProp loop, or None (see :func:`_compiled`)."""
    return _compiled(_compile_rmsprop_step)


def fused_adaptive_moment_step():
    """The compiled loop of Adam and its variants (NAdam, Eve), or None (see :func:`_compiled`)."""
    return _compiled(_compile_adaptive_moment_step)


def fused_cross_entropy():
    """The compiled cross-entropy pass, or None (see :func:`_compiled`)."""
    return _compiled(_compile_cross_entropy)
