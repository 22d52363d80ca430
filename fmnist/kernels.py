"""Optional fused kernels: the RMSProp and Adam/NAdam updates as one loop each, compiled by numba.

NumPy spends such a step in about a dozen passes over the parameter buffer (one per ufunc); for
the small networks of this project that is as long as the forward and backward pass together, and
for the default 1024-512 network it is a sixth of an epoch. Each loop below does the same arithmetic
in one pass. They are used when numba is installed (``pip install numba``) and ``FMNIST_KERNELS`` is
not ``numpy``; otherwise, or for arrays that are not contiguous, :mod:`fmnist.optim` runs its NumPy
code, which is the reference. ``benchmarks/speed.py`` times both.

All arrays are 1-D and of one length; scalars are of the arrays' dtype (float32 scalars keep a
float32 loop vectorised). ``error_model="numpy"`` drops Python's zero-division checks so LLVM can
vectorise; each element is loaded once into locals and stored once: reading m[i] back after storing
v[i] would force a scalar loop (the arrays might alias), about 2.5x slower.
"""
from __future__ import annotations

import os


def _compile_rmsprop_step():
    import math

    import numba

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def rmsprop_step(param, grad, square_avg, weight_decay, one_minus_beta, epsilon, lr):
        """For each i, with g = grad + λ θ:
            s ← s + (1 - β)(g² - s);   θ ← θ - η g / (√s + ε)
        """
        for i in range(param.size):
            theta = param[i]
            g = grad[i] + weight_decay * theta
            s = square_avg[i] + one_minus_beta * (g * g - square_avg[i])
            square_avg[i] = s
            param[i] = theta - lr * g / (math.sqrt(s) + epsilon)

    return rmsprop_step


def _compile_adaptive_moment_step():
    import math

    import numba

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def adaptive_moment_step(param, grad, m, v, weight_decay, one_minus_beta1, one_minus_beta2,
                             momentum_coefficient, gradient_coefficient, v_scale, epsilon, lr):
        """For each i, with g = grad + λ θ:
            m ← m + (1 - β1)(g - m);   v ← v + (1 - β2)(g² - v)
            θ ← θ - η (c_m m + c_g g) / (√v · v_scale + ε)
        """
        for i in range(param.size):
            theta = param[i]
            g = grad[i] + weight_decay * theta
            m_i = m[i] + one_minus_beta1 * (g - m[i])
            v_i = v[i] + one_minus_beta2 * (g * g - v[i])
            m[i] = m_i
            v[i] = v_i
            param[i] = theta - lr * (momentum_coefficient * m_i + gradient_coefficient * g) / (
                math.sqrt(v_i) * v_scale + epsilon)

    return adaptive_moment_step


def _compiled(compile_kernel):
    """The kernel ``compile_kernel`` builds, or None when numba is missing or ``FMNIST_KERNELS=numpy``."""
    if os.environ.get("FMNIST_KERNELS", "auto").lower() == "numpy":
        return None
    try:
        return compile_kernel()
    except ImportError:
        return None


def fused_rmsprop_step():
    """The compiled RMSProp loop, or None (see :func:`_compiled`)."""
    return _compiled(_compile_rmsprop_step)


def fused_adaptive_moment_step():
    """The compiled Adam/NAdam loop, or None (see :func:`_compiled`)."""
    return _compiled(_compile_adaptive_moment_step)
