"""ONNX mappings of the less common ops: inverse and hyperbolic functions, norms, einsum,
triangles and gathers along an axis."""
import math

import numpy as np

from ..ops import distance as Ds, einsum as Es, elementwise as El, norm as N, pool as P
from ..ops import matrix as Mx, reduce as R, shape as S
from ._graph import to_numpy
from ._registry import maps

_UNARY = {El.Acos: "Acos", El.Asin: "Asin", El.Atan: "Atan", El.Acosh: "Acosh",
          El.Asinh: "Asinh", El.Atanh: "Atanh", El.Sinh: "Sinh", El.Cosh: "Cosh"}


@maps(*_UNARY)
def unary(op):
    return op.g.node(_UNARY[type(op.fn)], [op.x(0)])


@maps(El.Erfc)
def erfc(op):
    return op.g.node("Sub", [op.scalar(1), op.g.node("Erf", [op.x(0)])])


@maps(El.Frac)
def frac(op):
    g, x = op.g, op.x(0)  # x - trunc(x), trunc(x) = sign(x) floor(|x|)
    trunc = g.node("Mul", [g.node("Sign", [x]), g.node("Floor", [g.node("Abs", [x])])])
    return g.node("Sub", [x, trunc])


@maps(El.Logit)
def logit(op):
    g, x = op.g, op.x(0)
    if op.fn.eps is not None:
        x = g.node("Clip", [x, op.scalar(op.fn.eps), op.scalar(1 - op.fn.eps)])
    return g.node("Log", [g.node("Div", [x, g.node("Sub", [op.scalar(1), x])])])


@maps(El.LogAddExp)
def logaddexp(op):
    """max(a, b) + log(1 + exp(-|a - b|)), in base 2 for logaddexp2."""
    g = op.g
    a, b = op.x(0), op.x(1)
    if op.fn.base2:
        a = g.node("Mul", [a, op.scalar(math.log(2))])
        b = g.node("Mul", [b, op.scalar(math.log(2))])
    gap = g.node("Neg", [g.node("Abs", [g.node("Sub", [a, b])])])
    y = g.node("Add", [g.node("Max", [a, b]), g.node("Softplus", [gap])])
    return g.node("Div", [y, op.scalar(math.log(2))]) if op.fn.base2 else y


def _p_norm(op, p, axes, keepdim):
    g, x = op.g, op.x(0)
    if p == 2:
        return g.reduce("ReduceL2", x, axes, keepdim)
    if p == 1:
        return g.reduce("ReduceL1", x, axes, keepdim)
    a = g.node("Abs", [x])
    if p == math.inf:
        return g.reduce("ReduceMax", a, axes, keepdim)
    if p == -math.inf:
        return g.reduce("ReduceMin", a, axes, keepdim)
    if p == 0:
        nz = g.node("Cast", [g.node("Not", [g.node("Equal", [a, op.scalar(0)])])], to=1)
        s = g.reduce("ReduceSum", nz, axes, keepdim)
        return s if op.out_dtype() == np.float32 else g.cast(s, op.out_dtype())
    s = g.reduce("ReduceSum", g.node("Pow", [a, op.scalar(p)]), axes, keepdim)
    return g.node("Pow", [s, op.scalar(1.0 / p)])


@maps(R.PNorm)
def p_norm(op):
    return _p_norm(op, op.fn.p, op.fn.axes, op.fn.keepdim)


@maps(Ds.VectorNorm)
def vector_norm(op):
    axis = op.fn.axis
    axes = list(axis) if isinstance(axis, (tuple, list)) else (None if axis is None else [axis])
    if axes is None:
        axes = list(range(len(op.in_shape(0))))
    return _p_norm(op, op.fn.p, axes, True)


@maps(Es.Einsum)
def einsum(op):
    eq = ",".join(op.fn.subs) + "->" + op.fn.out
    return op.g.node("Einsum", [op.x(i) for i in range(len(op.inputs))], equation=eq)


@maps(S.Tri)
def tri(op):
    g = op.g
    if g.opset < 14:  # no Trilu yet: keep the triangle of the last two dims by a mask
        rows, cols = op.in_shape(0)[-2:]
        keep = (np.tril if op.fn.lower else np.triu)(np.ones((rows, cols), bool), op.fn.k)
        return g.node("Where", [g.const(keep), op.x(0), op.scalar(0)])
    return g.node("Trilu", [op.x(0), g.const(np.asarray(int(op.fn.k), np.int64))],
                  upper=0 if op.fn.lower else 1)


@maps(R.TakeAlong)
def take_along(op):
    """gather / take_along_dim: GatherElements with the index array (traced or constant)."""
    g = op.g
    idx = op.fn.index
    name = op.tracer.names.get(id(idx))
    if name is None:
        name = g.const(to_numpy(idx).astype(np.int64))
    return g.node("GatherElements", [op.x(0), name], axis=int(op.fn.axis))


@maps(N.ChannelWindowSum)
def channel_window_sum(op):
    """local_response_norm's window sum over channels: zero-pad axis 1, add the shifts."""
    g, x = op.g, op.x(0)
    rank = len(op.in_shape(0))
    channels = op.in_shape(0)[1]
    before, after = int(op.fn.before), int(op.fn.after)
    pads = [0] * (2 * rank)
    pads[1], pads[rank + 1] = before, after
    padded = g.node("Pad", [x, g.i64(pads), op.scalar(0)], mode="constant")
    total = None
    for k in range(before + after + 1):
        part = g.slice(padded, [k], [k + channels], [1])
        total = part if total is None else g.node("Add", [total, part])
    return total


def _adaptive_windows(n, out):
    """[floor(i n / out), ceil((i + 1) n / out)) for each output i (torch's windows)."""
    starts = [(i * n) // out for i in range(out)]
    ends = [-((-(i + 1) * n) // out) for i in range(out)]
    taps = max(e - s for s, e in zip(starts, ends))
    return np.asarray([[min(s + t, e - 1) for t in range(taps)] for s, e in zip(starts, ends)],
                      dtype=np.int64)


@maps(P._PlaneGather)
def plane_gather(op):
    """adaptive_max_pool: the max over each adaptive window, one spatial axis at a time
    (a Gather of the window's taps and a ReduceMax). The argmax indices the op kept are data
    dependent, so the windows are rebuilt from the sizes. The op's ``kind`` says which pool
    made it; fractional max pooling, whose windows are random, is refused. (Without a kind
    the rebuilt windows are checked against the traced result instead.)"""
    g = op.g
    kind = getattr(op.fn, "kind", None)
    if kind == "fractional_max":
        return op.unsupported("fractional max pooling (random windows)")
    if kind is not None and kind != "adaptive_max":
        return op.unsupported(f"a gather of kind {kind}, not an adaptive max pool")
    in_hw, out_hw = op.in_shape(0)[2:], op.out_shape()[2:]
    if len(in_hw) != len(out_hw):
        return op.unsupported("a gather that is not an adaptive max pool")
    y = op.x(0)
    check = to_numpy(op.inputs[0]._data) if kind is None else None
    for i, (n, o) in enumerate(zip(in_hw, out_hw)):
        if n == o:
            continue
        axis = 2 + i
        table = _adaptive_windows(n, o)
        y = g.reduce("ReduceMax", g.node("Gather", [y, g.const(table)], axis=axis),
                     [axis + 1], False)
        if check is not None:
            check = np.take(check, table, axis=axis).max(axis=axis + 1)
    if check is not None and (check.shape != op.out_shape() or not np.array_equal(
            check, to_numpy(op.outputs[0]._data), equal_nan=True)):
        return op.unsupported("a gather that is not an adaptive max pool (random windows)")
    return y


@maps(Mx.ScaledAdd)
def scaled_add(op):
    """addmm / addbmm / baddbmm / addmv: beta * input + alpha * product (beta 0 ignores
    input, NaN included)."""
    g = op.g
    beta, alpha = op.fn.beta, op.fn.alpha
    y = op.x(1)
    if alpha != 1:
        y = g.node("Mul", [y, op.scalar(alpha, 1)])
    if beta == 0:
        return y if y != op.x(1) else g.node("Identity", [y])
    a = op.x(0)
    if beta != 1:
        a = g.node("Mul", [a, op.scalar(beta, 0)])
    y = g.node("Add", [a, y])
    return y if op.in_dtype(0) == op.out_dtype() else g.cast(y, op.out_dtype())
