"""Optional fused kernels: the Adam/NAdam update as one loop compiled by numba.

NumPy spends an Adam step in about a dozen passes over the parameter buffer (one per ufunc);
for the small networks of this project that is as long as the forward and backward pass
together. The loop below does the same arithmetic in one pass. It is used when numba is
installed (``pip install numba``) and ``FMNIST_KERNELS`` is not ``numpy``; otherwise, or for
arrays that are not contiguous, :mod:`fmnist.optim` runs its NumPy code, which is the reference.
``benchmarks/speed.py`` times both.
"""
from __future__ import annotations

import os


def _compile_adaptive_moment_step():
    import math

    import numba

    # error_model="numpy": no Python zero-division checks, so LLVM can vectorise the loop. Each element
    # is loaded once into locals and stored once: reading m[i] back after storing v[i] would force a
    # scalar loop (the arrays might alias), about 2.5x slower.
    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def adaptive_moment_step(param, grad, m, v, weight_decay, one_minus_beta1, one_minus_beta2,
                             momentum_coefficient, gradient_coefficient, v_scale, epsilon, lr):
        """For each i (arrays 1-D, same length; scalars of the arrays' dtype), with g = grad + λ θ:
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


def fused_adaptive_moment_step():
    """The compiled kernel, or None when numba is missing or ``FMNIST_KERNELS=numpy``."""
    if os.environ.get("FMNIST_KERNELS", "auto").lower() == "numpy":
        return None
    try:
        return _compile_adaptive_moment_step()
    except ImportError:
        return None
