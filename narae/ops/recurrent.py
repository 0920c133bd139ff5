"""Recurrent networks' math: cells as op compositions, and whole sequences as one fused node.

Backpropagation through time is the gradient of the unrolled net. Unrolled op by op it costs
~15 graph nodes per step, so a layer runs the whole sequence as one node instead
(``RecurrentSequence``): forward computes ``x @ W_ih.T + b`` for every step in one GEMM, then
loops over time doing the recurrent GEMM and the gate math in place, keeping the activations
backward needs; backward is a hand-written reverse-time loop (one GEMM per step for dh) and
the weight gradients are one GEMM each over all steps at the end.

That node's backward is array code, not narae ops, so it cannot itself be differentiated.
When a graph is being recorded during backward (``create_graph=True``), it recomputes the
sequence with the cell compositions below (``fused=False``) and differentiates those: the
result is again differentiable, so double backward works, at the unrolled graph's cost.

Gate layouts are torch's: LSTM rows (i, f, g, o), GRU rows (r, z, n) with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

``mask`` (bool array (T, B), True at valid steps) makes variable-length batches exact: at a
masked step the state is carried unchanged and the output is zero, so padded steps affect
neither outputs nor gradients (padded inputs get zero gradient).

On the kernel path (``use_kernels``: CuPy, or NumPy under ``kernels.emulate()``) LSTM and GRU
steps keep their GEMMs but do all of a step's gate math, forward or backward, in one kernel
(``backend/kernels/rnn_cell_ops.py``).
"""
from ..autograd import grad_mode
from ..autograd import function as _function
from ..autograd.function import Function
from ..backend import get_array_module
from ..backend.kernels import rnn_cell_ops as cell_kernels
from ..tensor import Tensor
from .activation import relu, sigmoid, tanh
from .arith import where
from .linalg import linear
from .shape import chunk, stack

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "recurrent_sequence",
           "GATES"]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# -- cells: compositions of differentiable ops (any order of derivative) ----------------------
def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh)."""
    return tanh(linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh))


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = relu(W_ih x + b_ih + W_hh h + b_hh)."""
    return relu(linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh))


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """(h', c') of an LSTM step; ``hx`` is (h, c), gates (i, f, g, o) as torch."""
    h, c = hx
    i, f, g, o = chunk(linear(input, w_ih, b_ih) + linear(h, w_hh, b_hh), 4, -1)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c), c


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' of a GRU step, torch's form: n = tanh(x_n + r * (W_hn h + b_hn))."""
    xr, xz, xn = chunk(linear(input, w_ih, b_ih), 3, -1)
    hr, hz, hn = chunk(linear(hx, w_hh, b_hh), 3, -1)
    r = sigmoid(xr + hr)
    z = sigmoid(xz + hz)
    n = tanh(xn + r * hn)
    return n + z * (hx - n)


_CELLS = {"RNN_TANH": rnn_tanh_cell, "RNN_RELU": rnn_relu_cell, "GRU": gru_cell}


def _unrolled(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, mask):
    """The sequence as a chain of cells: slow, but every op in it is differentiable again."""
    T = x.shape[0]
    h, c = h0, c0
    ys = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        if mode == "LSTM":
            hn, cn = lstm_cell(x[t], (h, c), w_ih, w_hh, b_ih, b_hh)
        else:
            hn, cn = _CELLS[mode](x[t], h, w_ih, w_hh, b_ih, b_hh), None
        if mask is None:
            ys[t], h, c = hn, hn, cn
        else:
            m = Tensor(mask[t][:, None])
            ys[t] = where(m, hn, 0.0)
            h = where(m, hn, h)
            c = where(m, cn, c) if cn is not None else None
    out = stack(ys, 0)
    return (out, h, c) if mode == "LSTM" else (out, h)


# -- the fused sequence node --------------------------------------------------------------------
class RecurrentSequence(Function):
    """One layer, one direction, all time steps: inputs (x, h0, [c0], w_ih, w_hh, [b_ih, b_hh]),
    outputs (y, h_n, [c_n]) with y of shape (T, B, H)."""

    def __init__(self, mode, reverse=False, mask=None):
        self.mode = mode
        self.reverse = reverse
        self.mask = mask  # bool (T, B) or None

    def _split(self, arrays):
        """(x, h0, c0, w_ih, w_hh, b_ih, b_hh) from the positional inputs."""
        x, h0, *rest = arrays
        c0 = rest.pop(0) if self.mode == "LSTM" else None
        w_ih, w_hh = rest[0], rest[1]
        b_ih, b_hh = (rest[2], rest[3]) if len(rest) == 4 else (None, None)
        return x, h0, c0, w_ih, w_hh, b_ih, b_hh

    def _order(self, T):
        return range(T - 1, -1, -1) if self.reverse else range(T)

    def _input_side(self, xp, G, dtype, b_ih, b_hh):
        """(row scale, bias) folded into the one input GEMM, so no extra pass over (T, B, G).

        LSTM/GRU compute sigmoid(a) as 0.5 + 0.5 tanh(a / 2): their sigmoid rows are halved
        (in W_ih, W_hh and the biases) so each step needs a single tanh. b_hh joins b_ih,
        except GRU's b_hn, which sits inside r * (W_hn h + b_hn).
        """
        scale = None
        if self.mode in ("LSTM", "GRU"):
            H = G // GATES[self.mode]
            scale = xp.full((G,), 0.5, dtype)
            scale[2 * H:3 * H] = 1
        if b_ih is None:
            return scale, None
        bias = b_ih + b_hh
        if self.mode == "GRU":
            bias[2 * H:] = b_ih[2 * H:]
        return scale, (bias if scale is None else bias * scale)

    def forward(self, *arrays):
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = self._split(arrays)
        xp = get_array_module(x)
        T, B, n_in = x.shape
        self.has_bias = b_ih is not None
        scale, bias = self._input_side(xp, w_ih.shape[0], x.dtype, b_ih, b_hh)
        w = w_ih if scale is None else w_ih * scale[:, None]
        xw = xp.matmul(x.reshape(T * B, n_in), w.T).reshape(T, B, -1)
        if bias is not None:
            xw += bias
        self.on_kernels = self.mode in ("LSTM", "GRU") and cell_kernels.applies(
            xp, x, *(a for a in (h0, c0, w_ih, w_hh, b_ih, b_hh) if a is not None))
        m = None
        if self.mask is not None and not self.on_kernels:
            m = self.mask[:, :, None]
            self.mf = m.astype(x.dtype)
        run = {"LSTM": self._lstm_forward, "GRU": self._gru_forward}.get(self.mode,
                                                                          self._elman_forward)
        return run(xp, xw, h0, c0, w_hh, b_hh, m, scale)

    def backward(self, gy, ghn, gcn=None):
        if grad_mode.state.enabled:  # create_graph=True: differentiate the unrolled cells
            return self._differentiable_backward(gy, ghn, gcn)
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = self._split([t._data for t in self.inputs])
        xp = get_array_module(x)
        dy = gy._data
        dh = ghn._data.copy()
        if self.mode == "LSTM":
            dG, (dh, dc) = self._lstm_backward(xp, dy, dh, gcn._data.copy(), w_hh)
            dH = dG
        elif self.mode == "GRU":
            dG, dH, dh = self._gru_backward(xp, dy, dh, w_hh)
        else:
            dG, dh = self._elman_backward(xp, dy, dh, w_hh)
            dH = dG
        return self._weight_grads(xp, x, w_ih, dG, dH, dh, dc if self.mode == "LSTM" else None)

    # -- shared pieces ---------------------------------------------------------------------
    def _weight_grads(self, xp, x, w_ih, dG, dH, dh0, dc0):
        """Input, state and parameter gradients from the per-step pre-activation gradients:
        dG for the input side (W_ih x + b_ih), dH for the recurrent side (W_hh h + b_hh)."""
        T, B, n_in = x.shape
        inp = self.inputs
        need = [t.requires_grad for t in inp]
        dG2 = dG.reshape(T * B, -1)
        dH2 = dH.reshape(T * B, -1)
        gx = Tensor(xp.matmul(dG2, w_ih).reshape(T, B, n_in)) if need[0] else None
        grads = [gx, Tensor(dh0) if need[1] else None]
        k = 2
        if self.mode == "LSTM":
            grads.append(Tensor(dc0) if need[2] else None)
            k = 3
        grads.append(Tensor(xp.matmul(dG2.T, x.reshape(T * B, n_in))) if need[k] else None)
        grads.append(Tensor(xp.matmul(dH2.T, self.hprev.reshape(T * B, -1)))
                     if need[k + 1] else None)
        if self.has_bias:
            grads.append(Tensor(dG2.sum(0)) if need[k + 2] else None)
            grads.append(Tensor(dH2.sum(0)) if need[k + 3] else None)
        return tuple(grads)

    def _differentiable_backward(self, gy, ghn, gcn):
        from ..autograd import grad as autograd_grad
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = self._split(list(self.inputs))
        outs = _unrolled(self.mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, self.reverse, self.mask)
        gys = (gy, ghn, gcn)[:len(outs)]
        pairs = [(o, g) for o, g in zip(outs, gys) if o.requires_grad]
        wanted = [t for t in self.inputs if t.requires_grad]
        got = iter(autograd_grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                 create_graph=True, allow_unused=True))
        return tuple(next(got) if t.requires_grad else None for t in self.inputs)

    # -- Elman RNN (tanh / relu) ------------------------------------------------------------
    def _elman_forward(self, xp, xw, h0, c0, w_hh, b_hh, m, scale):
        T, B, H = xw.shape
        y = xw  # each step's pre-activation is overwritten by its output
        self.hprev = hprev = xp.empty_like(xw)
        act = xp.tanh if self.mode == "RNN_TANH" else (lambda a, out: xp.maximum(a, 0, out=out))
        w_t = w_hh.T
        h = h0
        cell = xp.empty((B, H), xw.dtype) if m is not None else None
        for t in self._order(T):
            hprev[t] = h
            a = y[t]
            a += xp.matmul(h, w_t)
            if m is None:
                act(a, out=a)
                h = a
            else:
                act(a, out=cell)
                h = xp.where(m[t], cell, h)
                xp.multiply(cell, self.mf[t], out=a)
        self.y = y
        return y, h.copy()

    def _elman_backward(self, xp, dy, dh, w_hh):
        T = dy.shape[0]
        y = self.y
        if self.mode == "RNN_TANH":
            dact = 1 - y * y
        else:
            dact = (y > 0).astype(y.dtype)
        dG = xp.empty_like(y)
        m = self.mask
        for t in reversed(self._order(T)):
            d = dG[t]
            if m is None:
                dh += dy[t]
                xp.multiply(dh, dact[t], out=d)
                dh = xp.matmul(d, w_hh)
            else:
                mf = self.mf[t]
                keep = dh * (1 - mf)  # carried past a padded step untouched
                dh += dy[t]
                xp.multiply(dh, dact[t], out=d)
                d *= mf
                dh = xp.matmul(d, w_hh)
                dh += keep
        return dG, dh

    # -- LSTM ------------------------------------------------------------------------------
    def _lstm_forward(self, xp, xw, h0, c0, w_hh, b_hh, m, scale):
        if self.on_kernels:
            return self._lstm_forward_kernels(xw, h0, c0, w_hh, scale)
        T, B, G = xw.shape
        H = G // 4
        dtype = xw.dtype
        shift = xp.full((G,), 0.5, dtype)  # tanh -> sigmoid on the i, f, o rows
        shift[2 * H:3 * H] = 0
        w_t = (w_hh * scale[:, None]).T
        acts = xw  # overwritten in place by the activated gates (i, f, g, o)
        self.hprev = hprev = xp.empty((T, B, H), dtype)
        self.cprev = cprev = xp.empty((T, B, H), dtype)
        self.tc = tc = xp.empty((T, B, H), dtype)
        y = xp.empty((T, B, H), dtype)
        h, c = h0, c0
        for t in self._order(T):
            hprev[t] = h
            cprev[t] = c
            a = acts[t]
            a += xp.matmul(h, w_t)
            xp.tanh(a, out=a)
            a *= scale
            a += shift
            cn = a[:, H:2 * H] * c
            cn += a[:, :H] * a[:, 2 * H:3 * H]
            xp.tanh(cn, out=tc[t])
            hn = y[t]
            xp.multiply(a[:, 3 * H:], tc[t], out=hn)
            if m is None:
                h, c = hn, cn
            else:
                h = xp.where(m[t], hn, h)
                c = xp.where(m[t], cn, c)
                hn *= self.mf[t]
        self.acts = acts
        return y, h.copy(), c

    def _lstm_forward_kernels(self, xw, h0, c0, w_hh, scale):
        w_t = (w_hh * scale[:, None]).T
        y, self.hprev, self.cprev, self.tc, h, c = cell_kernels.lstm_forward(
            xw, h0, c0, w_t, self._order(xw.shape[0]), self.mask)
        self.acts = xw
        return y, h, c

    def _lstm_backward(self, xp, dy, dh, dc, w_hh):
        if self.on_kernels:
            dG, dh, dc = cell_kernels.lstm_backward(dy, dh, dc, self.acts, self.tc, self.cprev,
                                                    w_hh, self._order(dy.shape[0]), self.mask)
            return dG, (dh, dc)
        T, B, H = dy.shape
        acts, tc, cprev = self.acts, self.tc, self.cprev
        # activation derivatives for all steps at once: s(1 - s), and 1 - g^2 for the g gate
        dact = acts * (1 - acts)
        g = acts[:, :, 2 * H:3 * H]
        dact[:, :, 2 * H:3 * H] = 1 - g * g
        k_o = acts[:, :, 3 * H:] * (1 - tc * tc)  # dc/dh through h = o tanh(c)
        dG = xp.empty_like(acts)
        m = self.mask
        for t in reversed(self._order(T)):
            if m is not None:
                mf = self.mf[t]
                keep_h, keep_c = dh * (1 - mf), dc * (1 - mf)
                dh += dy[t]
                dh *= mf
                dc = dc * mf
            else:
                dh += dy[t]
            a, d = acts[t], dG[t]
            xp.multiply(dh, tc[t], out=d[:, 3 * H:])              # d o
            dc += dh * k_o[t]
            xp.multiply(dc, a[:, 2 * H:3 * H], out=d[:, :H])      # d i
            xp.multiply(dc, cprev[t], out=d[:, H:2 * H])          # d f
            xp.multiply(dc, a[:, :H], out=d[:, 2 * H:3 * H])      # d g
            d *= dact[t]
            dc *= a[:, H:2 * H]
            dh = xp.matmul(d, w_hh)
            if m is not None:
                dh += keep_h
                dc += keep_c
        return dG, (dh, dc)

    # -- GRU -------------------------------------------------------------------------------
    def _gru_forward(self, xp, xw, h0, c0, w_hh, b_hh, m, scale):
        if self.on_kernels:
            return self._gru_forward_kernels(xw, h0, w_hh, b_hh, scale)
        T, B, G = xw.shape
        H = G // 3
        dtype = xw.dtype
        w_t = (w_hh * scale[:, None]).T
        b_hn = b_hh[2 * H:] if b_hh is not None else None
        acts = xw  # overwritten by (r, z, n)
        self.hprev = hprev = xp.empty((T, B, H), dtype)
        self.hwn = hwn = xp.empty((T, B, H), dtype)  # W_hn h + b_hn, needed for dr
        y = xp.empty((T, B, H), dtype)
        h = h0
        for t in self._order(T):
            hprev[t] = h
            a = acts[t]
            hw = xp.matmul(h, w_t)
            rz = a[:, :2 * H]
            rz += hw[:, :2 * H]
            xp.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            hn_t = hwn[t]
            hn_t[...] = hw[:, 2 * H:]
            if b_hn is not None:
                hn_t += b_hn
            n = a[:, 2 * H:]
            n += a[:, :H] * hn_t
            xp.tanh(n, out=n)
            out = y[t]
            xp.subtract(h, n, out=out)
            out *= a[:, H:2 * H]
            out += n
            if m is None:
                h = out
            else:
                h = xp.where(m[t], out, h)
                out *= self.mf[t]
        self.acts = acts
        return y, h.copy()

    def _gru_forward_kernels(self, xw, h0, w_hh, b_hh, scale):
        H = xw.shape[2] // 3
        w_t = (w_hh * scale[:, None]).T
        b_hn = b_hh[2 * H:] if b_hh is not None else None
        y, self.hprev, self.hwn, h = cell_kernels.gru_forward(
            xw, h0, w_t, b_hn, self._order(xw.shape[0]), self.mask)
        self.acts = xw
        return y, h

    def _gru_backward(self, xp, dy, dh, w_hh):
        if self.on_kernels:
            return cell_kernels.gru_backward(dy, dh, self.acts, self.hprev, self.hwn, w_hh,
                                             self._order(dy.shape[0]), self.mask)
        T, B, H = dy.shape
        acts, hprev, hwn = self.acts, self.hprev, self.hwn
        r, z, n = acts[:, :, :H], acts[:, :, H:2 * H], acts[:, :, 2 * H:]
        # per-step factors, all steps at once
        k_n = (1 - z) * (1 - n * n)           # dh -> d n_pre
        k_z = (hprev - n) * z * (1 - z)       # dh -> d z_pre
        k_r = hwn * r * (1 - r)               # d n_pre -> d r_pre
        dG = xp.empty_like(acts)              # input side: (r, z, n) pre-activations
        dH = xp.empty_like(acts)              # recurrent side: r*... enters the n part
        m = self.mask
        for t in reversed(self._order(T)):
            if m is not None:
                mf = self.mf[t]
                keep = dh * (1 - mf)
                dh += dy[t]
                dh *= mf
            else:
                dh += dy[t]
            d, e = dG[t], dH[t]
            dn = d[:, 2 * H:]
            xp.multiply(dh, k_n[t], out=dn)
            xp.multiply(dh, k_z[t], out=d[:, H:2 * H])
            xp.multiply(dn, k_r[t], out=d[:, :H])
            e[:, :2 * H] = d[:, :2 * H]
            xp.multiply(dn, r[t], out=e[:, 2 * H:])
            dh_new = xp.matmul(e, w_hh)
            dh_new += dh * z[t]
            if m is not None:
                dh_new += keep
            dh = dh_new
        return dG, dH, dh


def _check(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    if mode not in GATES:
        raise ValueError(f"recurrent_sequence: unknown mode {mode!r} (one of {list(GATES)})")
    G = GATES[mode]
    if x.ndim != 3:
        raise RuntimeError(f"recurrent_sequence: input of shape {tuple(x.shape)} should be "
                           f"(seq_len, batch, input_size)")
    T, B, n_in = x.shape
    H = w_hh.shape[-1]
    if T == 0:
        raise RuntimeError(f"recurrent_sequence: input of shape {tuple(x.shape)} has no steps")
    if tuple(w_ih.shape) != (G * H, n_in) or tuple(w_hh.shape) != (G * H, H):
        raise RuntimeError(f"recurrent_sequence ({mode}): weights of shapes {tuple(w_ih.shape)} "
                           f"and {tuple(w_hh.shape)} do not fit input of shape {tuple(x.shape)} "
                           f"(expected ({G * H}, {n_in}) and ({G * H}, {H}))")
    for name, s in (("h0", h0), ("c0", c0)):
        if s is not None and tuple(s.shape) != (B, H):
            raise RuntimeError(f"recurrent_sequence: {name} of shape {tuple(s.shape)} does not "
                               f"fit input of shape {tuple(x.shape)} (expected ({B}, {H}))")
    for name, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b is not None and tuple(b.shape) != (G * H,):
            raise RuntimeError(f"recurrent_sequence: {name} of shape {tuple(b.shape)}, "
                               f"expected ({G * H},)")
    dt = x._data.dtype
    for t in (h0, c0, w_ih, w_hh, b_ih, b_hh):
        if t is not None and t._data.dtype != dt and _function._autocast_hook is None:
            raise RuntimeError(f"recurrent_sequence: all tensors must share the input's dtype "
                               f"{x.dtype}, got {t.dtype}")


def recurrent_sequence(mode, input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
                       reverse=False, mask=None, fused=True):
    """Run one recurrent layer in one direction over ``input`` (T, B, I).

    ``mode`` is ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``; ``hx`` is h0 (B, H),
    or (h0, c0) for LSTM. ``reverse`` runs from the last step to the first (the backward half
    of a bidirectional layer). ``mask``: bool array (T, B), False at padded steps.
    Returns ``(output, h_n)`` or, for LSTM, ``(output, (h_n, c_n))``; output is (T, B, H).

    ``fused=False`` builds the unrolled cell graph instead (slower; the fused node falls back
    to it by itself when a gradient of its gradient is being recorded).
    """
    h0, c0 = (hx if mode == "LSTM" else (hx, None))
    _check(mode, input, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)
    if (bias_ih is None) != (bias_hh is None):
        raise RuntimeError("recurrent_sequence: give both biases or neither")
    if mask is not None:
        mask = get_array_module(input._data).asarray(mask, dtype=bool)
        if mask.shape != tuple(input.shape[:2]):
            raise RuntimeError(f"recurrent_sequence: mask of shape {mask.shape} does not fit "
                               f"input of shape {tuple(input.shape)}")
    if fused:
        args = [input, h0] + ([c0] if mode == "LSTM" else []) + [weight_ih, weight_hh]
        if bias_ih is not None:
            args += [bias_ih, bias_hh]
        outs = RecurrentSequence(mode, reverse, mask)(*args)
    else:
        outs = _unrolled(mode, input, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, reverse,
                         mask)
    if mode == "LSTM":
        return outs[0], (outs[1], outs[2])
    return outs[0], outs[1]
