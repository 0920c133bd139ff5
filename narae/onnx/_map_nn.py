"""ONNX mappings of the layer ops: linear algebra, convolution, pooling, resampling,
embedding, normalization, attention and the recurrent layers."""
import numpy as np

from ..ops import attention as At, conv as Cv, embedding as E, linalg as L, norm as N
from ..ops import pool as P, recurrent as Rc, resize as Rs
from ._graph import to_numpy
from ._registry import maps


@maps(L.MatMul)
def matmul(op):
    return op.g.node("MatMul", [op.x(0), op.x(1)])


@maps(L.Linear)
def linear(op):
    """x @ W.T + b: Gemm for a 2-D input (as torch exports it), else MatMul + Add."""
    g = op.g
    has_bias = len(op.inputs) == 3
    if len(op.in_shape(0)) == 2:
        ins = [op.x(0), op.x(1)] + ([op.x(2)] if has_bias else [])
        return g.node("Gemm", ins, alpha=1.0, beta=1.0, transB=1)
    y = g.node("MatMul", [op.x(0), g.node("Transpose", [op.x(1)], perm=[1, 0])])
    return g.node("Add", [y, op.x(2)]) if has_bias else y


def _onnx_pads(pad):
    """(b0, e0, b1, e1, ...) -> ONNX's [b0, b1, ..., e0, e1, ...]."""
    return [int(p) for p in pad[0::2]] + [int(p) for p in pad[1::2]]


@maps(Cv._Conv)
def conv(op):
    geom = op.fn.geom
    if op.fn.out_hw is not None:
        return op.unsupported("a convolution with an explicit output size")
    nd = len(geom.stride)
    if len(op.in_shape(0)) != nd + 2:
        return op.unsupported(f"input of shape {op.in_shape(0)}")
    ins = [op.x(i) for i in range(len(op.inputs))]
    return op.g.node("Conv", ins, kernel_shape=[int(k) for k in op.in_shape(1)[2:]],
                     strides=[int(s) for s in geom.stride], pads=_onnx_pads(geom.pad),
                     dilations=[int(d) for d in geom.dilation], group=int(geom.groups))


@maps(Cv._ConvTranspose)
def conv_transpose(op):
    geom = op.fn.geom
    nd = len(geom.stride)
    ksize = op.in_shape(1)[2:]
    in_hw = op.in_shape(0)[2:]
    if len(op.in_shape(0)) != nd + 2:
        return op.unsupported(f"input of shape {op.in_shape(0)}")
    extra = []
    for i in range(nd):
        s, d, k = geom.stride[i], geom.dilation[i], ksize[i]
        natural = s * (in_hw[i] - 1) + d * (k - 1) + 1 - geom.pad[2 * i] - geom.pad[2 * i + 1]
        extra.append(int(op.fn.size[i] - natural))
    if min(extra) < 0:
        return op.unsupported(f"output size {op.fn.size} below the natural one")
    ins = [op.x(i) for i in range(len(op.inputs))]
    return op.g.node("ConvTranspose", ins, kernel_shape=[int(k) for k in ksize],
                     strides=[int(s) for s in geom.stride], pads=_onnx_pads(geom.pad),
                     dilations=[int(d) for d in geom.dilation], group=int(geom.groups),
                     output_padding=extra if any(extra) else None)


@maps(P._MaxPool)
def max_pool(op):
    geom = op.fn.geom
    return op.g.node("MaxPool", [op.x(0)], kernel_shape=[int(k) for k in geom.kernel],
                     strides=[int(s) for s in geom.stride], pads=_onnx_pads(geom.pad),
                     dilations=[int(d) for d in geom.dilation])


@maps(P._AvgPool)
def avg_pool(op):
    """AveragePool counting the padding (sum / window size), then torch's own divisors."""
    g, geom = op.g, op.fn.geom
    y = g.node("AveragePool", [op.x(0)], kernel_shape=[int(k) for k in geom.kernel],
               strides=[int(s) for s in geom.stride], pads=_onnx_pads(geom.pad),
               count_include_pad=1)
    window = float(np.prod(geom.kernel))
    inv = to_numpy(op.fn.inv_div).astype(np.float64)
    if inv.ndim:
        inv = inv.reshape((1, 1) + tuple(geom.out_hw))
    fix = inv * window
    if np.allclose(fix, 1.0, rtol=0, atol=1e-12):
        return y
    return g.node("Mul", [y, g.const(fix.astype(op.out_dtype()))])


def _matrix(idx, wts, n):
    """The (out, n) interpolation matrix of gather indices and weights."""
    m = np.zeros((idx.shape[0], n))
    w = np.ones(idx.shape) if wts is None else wts
    np.add.at(m, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.ravel()), w.ravel())
    return m


def _onnx_resize_matrix(n, out, mode, coord):
    """What ONNX Resize computes along one axis (sizes given: scale = out / n)."""
    x = np.arange(out, dtype=np.float64)
    if coord == "align_corners":
        src = x * (n - 1) / (out - 1) if out > 1 else np.zeros(out)
    elif coord == "asymmetric":
        src = x * n / out
    else:  # half_pixel, pytorch_half_pixel
        src = (x + 0.5) * n / out - 0.5
        if coord == "pytorch_half_pixel" and out == 1:
            src = np.zeros(out)
    m = np.zeros((out, n))
    rows = np.arange(out)
    if mode == "nearest":
        i = np.floor(src) if coord == "asymmetric" else np.floor(src + 0.5)
        m[rows, np.clip(i, 0, n - 1).astype(np.int64)] = 1
        return m
    src = np.clip(src, 0, n - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n - 1)
    lam = src - i0
    np.add.at(m, (rows, i0), 1 - lam)
    np.add.at(m, (rows, i1), lam)
    return m


_RESIZE_RULES = [("nearest", "asymmetric", {"nearest_mode": "floor"}),
                 ("nearest", "half_pixel", {"nearest_mode": "round_prefer_ceil"}),
                 ("linear", "pytorch_half_pixel", {}), ("linear", "align_corners", {})]


def _resize_rule(idx, wts, n):
    """The ONNX Resize mode reproducing this resampling exactly, or None."""
    want = _matrix(idx, wts, n)
    out = idx.shape[0]
    for mode, coord, extra in _RESIZE_RULES:
        if (mode == "nearest") != (wts is None):
            continue
        if np.allclose(_onnx_resize_matrix(n, out, mode, coord), want, rtol=0, atol=1e-6):
            return dict(mode=mode, coordinate_transformation_mode=coord, **extra)
    return None


@maps(Rs._Resample)
def resample(op):
    """Interpolation and adaptive average pooling along one axis: y = sum_t w[o,t] x[idx[o,t]].

    Upsample/interpolate become Resize when one of ONNX's rules gives exactly narae's
    indices and weights (the output size comes from Shape, so the batch stays free); any
    other resampling is one Gather of the taps, a weighting and a sum (a whole-axis mean is
    a ReduceMean).
    """
    g, x = op.g, op.x(0)
    axis = int(op.fn.axis)
    idx = to_numpy(op.fn.idx).astype(np.int64)
    rank = len(op.in_shape(0))
    n = op.in_shape(0)[axis]
    wts = None if op.fn.wts is None else to_numpy(op.fn.wts).astype(np.float64)
    rule = _resize_rule(idx, wts, n)
    if rule is not None:
        shape = g.node("Shape", [x])
        parts = []
        if axis > 0:
            parts.append(g.slice(shape, [0], [axis], [0]))
        parts.append(g.i64([idx.shape[0]]))
        if axis < rank - 1:
            parts.append(g.slice(shape, [axis + 1], [rank], [0]))
        sizes = g.node("Concat", parts, axis=0)
        return g.node("Resize", [x, "", "", sizes], **rule)
    if wts is None:
        return g.node("Gather", [x, g.const(idx[:, 0])], axis=axis)
    wts = wts.astype(op.in_dtype(0))
    if idx.shape[0] == 1 and sorted(idx[0].tolist()) == list(range(n)) and \
            np.allclose(wts, 1.0 / n):
        return g.reduce("ReduceMean", x, [axis], True)
    taps = g.node("Gather", [x, g.const(idx)], axis=axis)  # [..., O, T, ...]
    w = wts.reshape(wts.shape + (1,) * (rank - axis - 1))
    return g.reduce("ReduceSum", g.node("Mul", [taps, g.const(w)]), [axis + 1], False)


@maps(E.Gather)
def embedding(op):
    """Rows of the weight at the indices; the indices are the array the op kept, found by
    identity among the traced values (a graph input, or an op's output)."""
    g, tr = op.g, op.tracer
    idx = op.fn.idx
    name = tr.names.get(id(idx))
    if name is None:
        name = g.const(to_numpy(idx).astype(np.int64))
    y = g.node("Gather", [op.x(0), name], axis=0)
    if op.fn.scale is not None:
        y = g.node("Mul", [y, g.const(to_numpy(op.fn.scale)[..., None].astype(op.out_dtype()))])
    return y


@maps(N.Normalize)
def normalize(op):
    """(x - mean) / sqrt(var + eps) * w + b with the statistics over ``axes``: layer, group
    and instance norm (and batch norm with batch statistics)."""
    g, x = op.g, op.x(0)
    rank = len(op.in_shape(0))
    axes = sorted(int(a) % rank for a in op.fn.axes)
    first = axes[0] if axes else rank
    trailing = axes == list(range(first, rank)) and first > 0
    params = [op.in_shape(i) for i in range(1, len(op.inputs))]
    if g.opset >= 17 and trailing and all(p == op.in_shape(0)[first:] for p in params):
        # layer norm (as torch exports it at 17): ONNX's LayerNormalization
        ins = [x]
        if op.fn.has_weight:
            ins.append(op.x(1))
        else:
            ins.append(g.const(np.ones(op.in_shape(0)[first:], op.in_dtype(0))))
        if op.fn.has_bias:
            ins.append(op.x(len(op.inputs) - 1))
        return g.node("LayerNormalization", ins, axis=first, epsilon=float(op.fn.eps))
    d = g.node("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    var = g.reduce("ReduceMean", g.node("Mul", [d, d]), axes, True)
    y = g.node("Div", [d, g.node("Sqrt", [g.node("Add", [var, op.scalar(op.fn.eps)])])])
    k = 1
    if op.fn.has_weight:
        y = g.node("Mul", [y, op.x(k)])
        k += 1
    if op.fn.has_bias:
        y = g.node("Add", [y, op.x(len(op.inputs) - 1)])
    return y


@maps(N.BatchNormEval)
def batch_norm_eval(op):
    """The fused eval batch-norm op met outside ``_affine_eval`` (which the trace maps as a
    whole, below): its folded statistics as anonymous constants."""
    g, x = op.g, op.x(0)
    shape = (1, -1) + (1,) * (len(op.in_shape(0)) - 2)
    dt = op.in_dtype(0)
    mean = g.const(to_numpy(op.fn.mean).reshape(shape).astype(dt))
    invstd = g.const(to_numpy(op.fn.invstd).reshape(shape).astype(dt))
    y = g.node("Mul", [g.node("Sub", [x, mean]), invstd])
    if op.fn.has_weight:
        y = g.node("Mul", [y, op.x(1)])
    if op.fn.has_bias:
        y = g.node("Add", [y, op.x(len(op.inputs) - 1)])
    return y


@maps("batch_norm_eval")
def batch_norm_with_running_stats(op):
    """Eval-mode batch norm (and instance norm on running statistics): one ONNX
    BatchNormalization, y = (x - mean) / sqrt(var + eps) * scale + B, whose mean and var are
    the running statistics (named initializers ``bn.running_mean``...), traced as narae's
    scale-and-shift ops on the CPU or as the fused kernel op on the GPU alike."""
    present, eps = op.fn_args
    g = op.g
    c = op.in_shape(0)[1]
    dt = op.in_dtype(0)
    args, k = [], 0
    for have in present:  # (input, mean, var, weight, bias), None where absent
        args.append(k if have else None)
        k += int(have)
    _, mean, var, weight, bias = args

    def channel(i, default):
        if i is None:
            return g.const(np.full((c,), default, dt))
        name = op.x(i)
        if op.in_shape(i) != (c,):
            name = g.reshape(name, [c])
        if op.in_dtype(i) != dt:  # (opset 15 allows mixed types, onnxruntime not all)
            name = g.cast(name, dt)
        return name
    ins = [op.x(0), channel(weight, 1), channel(bias, 0), channel(mean, 0), channel(var, 1)]
    return g.node("BatchNormalization", ins, epsilon=float(eps))


@maps(At.Attention)
def attention(op):
    """softmax(q k^T * scale + bias) v, decomposed into MatMul / Softmax."""
    g = op.g
    rank = len(op.in_shape(1))
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    s = g.node("MatMul", [op.x(0), g.node("Transpose", [op.x(1)], perm=perm)])
    s = g.node("Mul", [s, op.scalar(op.fn.scale)])
    if op.fn.has_bias:
        s = g.node("Add", [s, op.x(3)])
    p = g.node("Softmax", [s], axis=-1)
    if op.fn.drop is not None:
        p = g.node("Mul", [p, g.const(to_numpy(op.fn.drop).astype(op.in_dtype(0)))])
    return g.node("MatMul", [p, op.x(2)])


# --- recurrent layers --------------------------------------------------------------------
_ONNX_RNN = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _gate_order(mode, H):
    """Row order taking torch's gate blocks to ONNX's: LSTM (i,f,g,o) -> (i,o,f,c),
    GRU (r,z,n) -> (z,r,h)."""
    blocks = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}.get(mode, [0])
    return np.concatenate([np.arange(b * H, (b + 1) * H) for b in blocks]).astype(np.int64)


def _is_zero_constant(op, i):
    v = op.const(i)
    return v is not None and not np.any(v)


@maps(Rc.RecurrentSequence)
def recurrent(op):
    """One layer, one direction: ONNX's LSTM / GRU / RNN node with the gate rows reordered
    (by Gather on the weights, so they stay the named parameters)."""
    g, fn = op.g, op.fn
    mode = fn.mode
    lstm = mode == "LSTM"
    T, B, _ = op.in_shape(0)
    w_at = 3 if lstm else 2
    H = op.in_shape(w_at + 1)[1]
    order = g.const(_gate_order(mode, H))
    w = g.unsqueeze(g.node("Gather", [op.x(w_at), order], axis=0), [0])
    r = g.unsqueeze(g.node("Gather", [op.x(w_at + 1), order], axis=0), [0])
    bias = ""
    if len(op.inputs) > w_at + 2:
        b_ih = g.node("Gather", [op.x(w_at + 2), order], axis=0)
        b_hh = g.node("Gather", [op.x(w_at + 3), order], axis=0)
        bias = g.unsqueeze(g.node("Concat", [b_ih, b_hh], axis=0), [0])
    seq_lens = ""
    if fn.mask is not None:
        lengths = to_numpy(fn.mask).sum(axis=0).astype(np.int32)
        seq_lens = g.const(lengths)
    # a zero initial state is ONNX's default: leaving it out keeps the batch size free
    h0 = "" if _is_zero_constant(op, 1) else g.unsqueeze(op.x(1), [0])
    ins = [op.x(0), w, r, bias, seq_lens, h0]
    if lstm:
        ins.append("" if _is_zero_constant(op, 2) else g.unsqueeze(op.x(2), [0]))
    while ins and ins[-1] == "":
        ins.pop()
    attrs = {"hidden_size": int(H), "direction": "reverse" if fn.reverse else "forward"}
    if mode == "GRU":
        attrs["linear_before_reset"] = 1
    if mode == "RNN_RELU":
        attrs["activations"] = ["Relu"]
    elif mode == "RNN_TANH":
        attrs["activations"] = ["Tanh"]
    outs = g.node(_ONNX_RNN[mode], ins, n_out=3 if lstm else 2, **attrs)
    y = g.squeeze(outs[0], [1])
    hn = g.squeeze(outs[1], [0])
    if lstm:
        return [y, hn, g.squeeze(outs[2], [0])]
    return [y, hn]
