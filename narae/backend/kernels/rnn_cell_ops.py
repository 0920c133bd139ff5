"""LSTM / GRU sequences on the kernel path (``rnn_cell.cu``): per time step one recurrent GEMM
(the array module's) and one kernel for all of the gate math, forward and backward.

The caller (``ops.recurrent.RecurrentSequence``) has already run the input GEMM for all steps:
``gates`` (T, B, K*H) holds x W_ih^T + bias with the sigmoid rows halved, and ``w_t`` is the
matching (scaled) W_hh^T. ``order`` lists the time steps in the direction of the recurrence;
``mask`` is bool (T, B) or None.
"""
import numpy as np

from . import launch_1d, use_kernels
from ..arrays import get_array_module

__all__ = ["applies", "lstm_forward", "lstm_backward", "gru_forward", "gru_backward"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def applies(xp, x, *arrays):
    """Take the kernel path? float32/float64 with every array of x's dtype."""
    dt = np.dtype(x.dtype)
    return use_kernels(xp) and dt in _FLOATS and all(np.dtype(a.dtype) == dt for a in arrays)


def _mask_rows(xp, mask, T):
    """(per-step mask rows to pass, has_mask); a placeholder row stands in without a mask."""
    if mask is None:
        return [xp.zeros((1,), bool)] * T, 0
    return xp.ascontiguousarray(mask, dtype=bool), 1


def _next_state(order, k, seq, final):
    """Where step ``order[k]`` writes the state: the slot of the next step, or the final one."""
    return seq[order[k + 1]] if k + 1 < len(order) else final


def lstm_forward(gates, h0, c0, w_t, order, mask):
    """Run the LSTM recurrence; ``gates`` is overwritten by the activations (i, f, g, o).

    Returns (y, hprev, cprev, tanh_c, h_n, c_n): hprev/cprev[t] are the states step t read.
    """
    xp = get_array_module(gates)
    T, B, G = gates.shape
    H = G // 4
    dt = gates.dtype
    hprev, cprev, tanh_c, y = (xp.empty((T, B, H), dt) for _ in range(4))
    h_n, c_n = xp.empty((B, H), dt), xp.empty((B, H), dt)
    order = list(order)
    rows, has_mask = _mask_rows(xp, mask, T)
    hprev[order[0]] = h0
    cprev[order[0]] = c0
    for k, t in enumerate(order):
        hw = xp.matmul(hprev[t], w_t)
        launch_1d("rnn_cell", "lstm_forward_step", dt, B * H,
                  [gates[t], hw, hprev[t], cprev[t], rows[t], has_mask, tanh_c[t], y[t],
                   _next_state(order, k, hprev, h_n), _next_state(order, k, cprev, c_n), B, H])
    return y, hprev, cprev, tanh_c, h_n, c_n


def lstm_backward(dy, dh, dc, gates, tanh_c, cprev, w_hh, order, mask):
    """Reverse-time loop: (dgates (T, B, 4H), dh0, dc0) from the output gradients."""
    xp = get_array_module(gates)
    T, B, G = gates.shape
    H = G // 4
    dt = gates.dtype
    dy = xp.ascontiguousarray(dy)
    dh, dc = xp.array(dh, dtype=dt, order="C"), xp.array(dc, dtype=dt, order="C")
    dgates = xp.empty_like(gates)
    rows, has_mask = _mask_rows(xp, mask, T)
    for t in reversed(list(order)):
        launch_1d("rnn_cell", "lstm_backward_step", dt, B * H,
                  [gates[t], tanh_c[t], cprev[t], dy[t], dh, dc, dgates[t], rows[t], has_mask,
                   B, H])
        if not has_mask:  # dh came back zero: the recurrent GEMM is all of dh_prev
            dh = xp.matmul(dgates[t], w_hh)
        else:
            dh += xp.matmul(dgates[t], w_hh)
    return dgates, dh, dc


def gru_forward(gates, h0, w_t, b_hn, order, mask):
    """Run the GRU recurrence; ``gates`` is overwritten by the activations (r, z, n).

    Returns (y, hprev, hwn, h_n): hwn[t] = W_hn h + b_hn of step t (for the r gradient).
    """
    xp = get_array_module(gates)
    T, B, G = gates.shape
    H = G // 3
    dt = gates.dtype
    hprev, hwn, y = (xp.empty((T, B, H), dt) for _ in range(3))
    h_n = xp.empty((B, H), dt)
    order = list(order)
    rows, has_mask = _mask_rows(xp, mask, T)
    hprev[order[0]] = h0
    bias = xp.ascontiguousarray(b_hn) if b_hn is not None else xp.zeros((1,), dt)
    for k, t in enumerate(order):
        hw = xp.matmul(hprev[t], w_t)
        launch_1d("rnn_cell", "gru_forward_step", dt, B * H,
                  [gates[t], hw, bias, b_hn is not None, hprev[t], rows[t], has_mask, hwn[t],
                   y[t], _next_state(order, k, hprev, h_n), B, H])
    return y, hprev, hwn, h_n


def gru_backward(dy, dh, gates, hprev, hwn, w_hh, order, mask):
    """Reverse-time loop: (dgates_x, dgates_h, dh0); dgates_x are the gradients of the
    input-side pre-activations, dgates_h of the recurrent side (they differ in the n rows)."""
    xp = get_array_module(gates)
    T, B, G = gates.shape
    H = G // 3
    dt = gates.dtype
    dy = xp.ascontiguousarray(dy)
    dh = xp.array(dh, dtype=dt, order="C")
    dgx, dgh = xp.empty_like(gates), xp.empty_like(gates)
    rows, has_mask = _mask_rows(xp, mask, T)
    for t in reversed(list(order)):
        launch_1d("rnn_cell", "gru_backward_step", dt, B * H,
                  [gates[t], hprev[t], hwn[t], dy[t], dh, dgx[t], dgh[t], rows[t], has_mask,
                   B, H])
        dh += xp.matmul(dgh[t], w_hh)
    return dgx, dgh, dh
