"""Finite-difference checks of gradients (``gradcheck``) and of gradients of gradients.

The checked quantity is the scalar L = sum_k <out_k, r_k> for fixed random r_k, so one
backward pass gives dL/dx. Small inputs are checked element by element; large ones along
random directions v (Chainer's trick): (L(x + eps v) - L(x - eps v)) / 2eps == <dL/dx, v>.

Complex tensors (as torch's gradcheck): a complex output contributes <Re out, r> + <Im out, s>,
and a complex input is perturbed along real and imaginary directions in turn; its gradient
g = dL/dRe + i dL/dIm must give Re(g).v and Im(g).v.
"""
import numpy as np

from .._dtype import is_differentiable
from ..backend import cpu, device_of, to_device

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    pass


def _outputs(func, inputs):
    out = func(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _scalar_loss(func, inputs, weights):
    from ..tensor import Tensor
    total = 0.0
    for o, w in zip(_outputs(func, inputs), weights):
        if o is not None and is_differentiable(o._data.dtype):
            if o._data.dtype.kind == "c":
                dev = device_of(o._data)
                total = total + (o.real * Tensor(to_device(w[..., 0], dev))).sum() + \
                    (o.imag * Tensor(to_device(w[..., 1], dev))).sum()
            else:
                total = total + (o * Tensor(to_device(w, device_of(o._data)))).sum()
    return total


def _weights(rng, func, inputs):
    """One random weight array per output (a trailing pair (re, im) for complex ones)."""
    return [None if o is None else
            rng.standard_normal(tuple(o.shape) + ((2,) if o._data.dtype.kind == "c" else ()))
            for o in _outputs(func, inputs)]


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, max_elements=64, n_directions=6,
              seed=0, raise_exception=True):
    """Compare autograd's gradient of ``func`` at ``inputs`` with central differences.

    ``inputs`` are float64 Tensors; those with ``requires_grad`` are checked.
    """
    from ..tensor import Tensor
    from .grad_mode import no_grad
    from . import grad as autograd_grad
    rng = np.random.default_rng(seed)
    inputs = [x if isinstance(x, Tensor) else x for x in inputs]
    diff_inputs = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    for x in diff_inputs:
        if x._data.dtype != np.float64 and x._data.dtype != np.complex128:
            raise GradcheckError(f"gradcheck needs float64 or complex128 inputs, got {x.dtype}")
    weights = _weights(rng, func, inputs)
    loss = _scalar_loss(func, inputs, weights)
    if isinstance(loss, Tensor) and loss.requires_grad:
        analytic = autograd_grad(loss, diff_inputs, allow_unused=True)
    else:  # no path to the inputs: the analytic gradient is zero, the numeric must be too
        analytic = [None] * len(diff_inputs)

    def numeric_loss():
        with no_grad():
            return float(_scalar_loss(func, inputs, weights))

    for idx, (x, g) in enumerate(zip(diff_inputs, analytic)):
        g = np.zeros(x.shape) if g is None else to_device(g._data, cpu)
        data = x._data
        device = device_of(data)    # directions are drawn on the host, moved to the input's
        if data.size <= max_elements:
            directions = []
            for i in range(data.size):
                v = np.zeros(data.shape)
                v.flat[i] = 1.0
                directions.append(v)
        else:
            directions = [rng.standard_normal(data.shape) for _ in range(n_directions)]
        original = data.copy()
        parts = ((1.0, g.real, "real"), (1j, g.imag, "imaginary")) if data.dtype.kind == "c" \
            else ((1.0, g, "real"),)
        for v in directions:
            for unit, g_part, part in parts:  # real, then imaginary directions
                step = eps * unit * to_device(v, device)
                data[...] = original + step
                plus = numeric_loss()
                data[...] = original - step
                minus = numeric_loss()
                data[...] = original
                numeric = (plus - minus) / (2 * eps)
                exact = float((g_part * v).sum())
                if abs(numeric - exact) <= atol + rtol * abs(numeric):
                    continue
                msg = (f"gradcheck failed for input {idx} (shape {tuple(x.shape)}): numeric "
                       f"{numeric:.8g} vs analytic {exact:.8g} along a "
                       f"{'unit' if data.size <= max_elements else 'random'} {part} "
                       "direction")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, **kwargs):
    """gradcheck applied to x -> d<func(x), r>/dx built with create_graph=True."""
    from ..tensor import Tensor
    from . import grad as autograd_grad
    rng = np.random.default_rng(seed + 1)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    weights = _weights(rng, func, inputs)

    from .grad_mode import enable_grad

    def first_grads(*xs):
        with enable_grad():  # also while gradcheck evaluates it numerically under no_grad
            loss = _scalar_loss(func, xs, weights)
            gs = autograd_grad(loss, [xs[i] for i in diff_idx], create_graph=True,
                               allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grads, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed, **kwargs)
