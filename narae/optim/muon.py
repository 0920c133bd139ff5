"""Muon: momentum SGD whose 2-D update is orthogonalized by a Newton–Schulz iteration.

The update direction of a weight matrix is replaced by (approximately) ``U V^T`` from the
SVD ``U S V^T`` of its momentum, so every singular direction moves by the same amount.
As torch does, the iteration runs in bfloat16; narae emulates that precision with float32
arrays rounded to bfloat16 after each operation, which gives torch's results bit for bit
on small matrices (larger products may differ in the last bfloat16 bit: the float32
summation order of the matrix products is the BLAS's).
"""
import math

from ..autograd import grad_mode
from ..backend import get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer
from .adam import lerp_

__all__ = ["Muon", "zeropower_via_newtonschulz"]

_ADJUST_LR_FNS = ("original", "match_rms_adamw")


def _round_bf16(x):
    """``x`` rounded to bfloat16 (nearest, ties to even), kept as a float32 array.

    A float64 input goes through float32 first, as torch's cast does."""
    xp = get_array_module(x)
    x32 = x.astype(xp.float32)
    bits = x32.view(xp.uint32)
    # add half an ulp of bfloat16 (minus one on an even mantissa: ties go to even), truncate
    bits = (bits + (xp.uint32(0x7FFF) + ((bits >> xp.uint32(16)) & xp.uint32(1)))) \
        & xp.uint32(0xFFFF0000)
    out = bits.view(xp.float32)
    return xp.where(xp.isnan(x32), x32, out)


def zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """``ns_steps`` quintic Newton–Schulz steps towards the orthogonal factor of ``grad``.

    With ``X = G / ||G||_F`` (the transpose of a tall G, so ``X X^T`` is the small Gram
    matrix), each step is ``X <- a X + (b A + c A^2) X`` where ``A = X X^T``; the
    coefficients push all singular values towards [0.7, 1.2] quickly rather than exactly
    to 1. Works on a raw 2-D array in emulated bfloat16; returns a float32 array holding
    bfloat16 values.
    """
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    xp = get_array_module(grad)
    a, b, c = ns_coefficients
    tall = grad.shape[0] > grad.shape[1]
    x = _round_bf16(grad)
    if tall:
        x = x.T
    # the Frobenius norm bounds the spectral norm: after the division every singular
    # value is at most 1, inside the iteration's basin
    norm = _round_bf16(xp.sqrt((x * x).sum(dtype=xp.float32)))
    norm = xp.maximum(norm, _round_bf16(xp.asarray(eps, dtype=xp.float32)))
    x = _round_bf16(x / norm)
    for _ in range(ns_steps):
        gram = _round_bf16(x @ x.T)
        poly = _round_bf16(c * (gram @ gram) + b * gram)
        x = _round_bf16(poly @ x + a * x)
    return x.T if tall else x


def _adjust_lr(lr, adjust_lr_fn, shape):
    """Scale the step so orthogonalized updates of rectangular matrices have a like RMS:
    ``sqrt(max(1, A/B))`` (Keller Jordan's "original") or ``0.2 sqrt(max(A, B))``
    ("match_rms_adamw", Moonshot's: reuses AdamW's learning rate)."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr


def muon_update(param, grad, momentum_buffer, *, lr, weight_decay, momentum, nesterov,
                ns_coefficients, ns_steps, eps, adjust_lr_fn):
    """One Muon step on raw arrays (the momentum buffer is updated in place)."""
    if grad.ndim != 2:
        raise ValueError("Param gradient must be a 2D matrix")
    # B <- mu B + (1 - mu) g, written as a lerp (as torch, so rounding matches)
    lerp_(momentum_buffer, grad, 1 - momentum)
    update = lerp_(grad.copy(), momentum_buffer, momentum) if nesterov else momentum_buffer
    ortho = zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps)
    step = _adjust_lr(lr, adjust_lr_fn, param.shape)
    param *= 1 - lr * weight_decay  # decoupled weight decay, with the unadjusted lr
    param += -step * ortho.astype(param.dtype)


class Muon(Optimizer):
    """Muon (Keller Jordan): orthogonalized momentum for 2-D hidden-layer weights.

    Give biases, embeddings and other non-matrix parameters to another optimizer (AdamW).
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5,
                 adjust_lr_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in _ADJUST_LR_FNS:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                        adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {p.size()}")

    @grad_mode.no_grad()
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            kw = dict(lr=group["lr"], weight_decay=group["weight_decay"],
                      momentum=group["momentum"], nesterov=group["nesterov"],
                      ns_coefficients=group["ns_coefficients"], ns_steps=group["ns_steps"],
                      eps=group["eps"], adjust_lr_fn=group["adjust_lr_fn"])
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                if p.is_complex():
                    raise RuntimeError("Muon does not support complex parameters")
            for p in params:
                grad = p.grad._data
                state = self.state[p]
                if "momentum_buffer" not in state:   # torch keeps no step count for Muon
                    state["momentum_buffer"] = Tensor(get_array_module(grad).zeros_like(grad))
                muon_update(p._data, grad, state["momentum_buffer"]._data, **kw)
                p._version[0] += 1
        return loss
