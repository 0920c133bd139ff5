"""ONNX mappings of elementwise ops: arithmetic, activations, comparisons, casts."""
import math

import numpy as np

from ..ops import activation as A, arith as M, convert as C, dropout as D, reduce as R
from ._dtypes import onnx_type
from ._registry import maps

_BINARY = {M.Add: "Add", M.Sub: "Sub", M.Mul: "Mul", M.Div: "Div", M.Pow: "Pow",
           M.Maximum: "Max", M.Minimum: "Min"}
_UNARY = {M.Neg: "Neg", M.Exp: "Exp", M.Log: "Log", M.Sqrt: "Sqrt", M.Abs: "Abs", M.Sin: "Sin",
          M.Cos: "Cos", M.Tan: "Tan", M.Erf: "Erf", A.ReLU: "Relu", A.Sigmoid: "Sigmoid",
          A.Tanh: "Tanh", C.Clone: "Identity", C.ToDevice: "Identity",
          R._StdFromVar: "Sqrt"}


@maps(*_BINARY)
def binary(op):
    return op.g.node(_BINARY[type(op.fn)], [op.x(0), op.x(1)])


@maps(*_UNARY)
def unary(op):
    return op.g.node(_UNARY[type(op.fn)], [op.x(0)])


@maps(M.AddScalar)
def add_scalar(op):
    return op.g.node("Add", [op.x(0), op.scalar(op.fn.c)])


@maps(M.MulScalar)
def mul_scalar(op):
    return op.g.node("Mul", [op.x(0), op.scalar(op.fn.c)])


@maps(M.DivScalar)
def div_scalar(op):
    return op.g.node("Div", [op.x(0), op.scalar(op.fn.c)])


@maps(M.RSubScalar)
def rsub_scalar(op):
    return op.g.node("Sub", [op.scalar(op.fn.c), op.x(0)])


@maps(M.PowScalar)
def pow_scalar(op):
    x = op.x(0)
    if op.fn.exponent == 2:
        return op.g.node("Mul", [x, x])
    return op.g.node("Pow", [x, op.scalar(op.fn.exponent)])


@maps(M.RPowScalar)
def rpow_scalar(op):
    return op.g.node("Pow", [op.scalar(op.fn.base), op.x(0)])


@maps(M.Rsqrt)
def rsqrt(op):
    return op.g.node("Reciprocal", [op.g.node("Sqrt", [op.x(0)])])


@maps(M.Log1p)
def log1p(op):
    return op.g.node("Log", [op.g.node("Add", [op.x(0), op.scalar(1)])])


@maps(M.Expm1)
def expm1(op):
    return op.g.node("Sub", [op.g.node("Exp", [op.x(0)]), op.scalar(1)])


@maps(M.Clamp)
def clamp(op):
    lo = "" if op.fn.lo is None else op.scalar(op.fn.lo)
    hi = "" if op.fn.hi is None else op.scalar(op.fn.hi)
    ins = [op.x(0), lo] + ([hi] if hi else [])
    return op.g.node("Clip", ins)


@maps(M.Where)
def where(op):
    return op.g.node("Where", [op.x(0), op.x(1), op.x(2)])


@maps(M._NoGrad)
def no_grad_fn(op):
    """sign, floor, ceil, round, trunc: told apart by the op's ``kind``."""
    name, g = op.fn.kind, op.g
    if name in ("sign", "floor", "ceil", "round"):
        if name == "round" and op.fn.params and op.fn.params[0] != 0:
            return op.unsupported("round with decimals")
        return g.node(name.capitalize(), [op.x(0)])
    if name == "trunc":  # trunc(x) = sign(x) * floor(|x|)
        x = op.x(0)
        return g.node("Mul", [g.node("Sign", [x]), g.node("Floor", [g.node("Abs", [x])])])
    return op.unsupported(name or "a piecewise-constant function with no ONNX mapping")


# --- activations -------------------------------------------------------------------------
@maps(A.Softmax)
def softmax(op):
    return op.g.node("Softmax", [op.x(0)], axis=int(op.fn.axis))


@maps(A.LogSoftmax)
def log_softmax(op):
    return op.g.node("LogSoftmax", [op.x(0)], axis=int(op.fn.axis))


@maps(A.PiecewiseLinear)
def piecewise(op):
    """leaky_relu, hardtanh, hardsigmoid, threshold, hard/softshrink: by the op's ``kind``."""
    kind, p, g, x = op.fn.kind, op.fn.params, op.g, op.x(0)
    if kind == "leaky_relu":
        return g.node("LeakyRelu", [x], alpha=float(p[0]))
    if kind == "hardtanh":
        return g.node("Clip", [x, op.scalar(p[0]), op.scalar(p[1])])
    if kind == "hardsigmoid":
        return g.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
    if kind == "threshold":
        keep = g.node("Greater", [x, op.scalar(p[0])])
        return g.node("Where", [keep, x, op.scalar(p[1])])
    if kind in ("hardshrink", "softshrink"):
        lambd = float(p[0])
        return g.node("Shrink", [x], lambd=lambd, bias=lambd if kind == "softshrink" else 0.0)
    if kind == "rrelu":
        return op.unsupported("rrelu in training mode (a random slope per element)")
    return op.unsupported(f"piecewise-linear function {kind or 'of unknown kind'}")


@maps(A.ELU)
def elu(op):
    alpha, scale, input_scale = (float(v) for v in op.fn.params)
    g, x = op.g, op.x(0)
    if scale == 1 and input_scale == 1:
        return g.node("Elu", [x], alpha=alpha)
    if input_scale == 1:
        return g.node("Selu", [x], alpha=alpha, gamma=scale)
    if scale == 1 and abs(input_scale * alpha - 1) < 1e-12:
        return g.node("Celu", [x], alpha=alpha)
    neg = g.node("Mul", [g.node("Sub", [g.node("Exp", [g.node("Mul", [x, op.scalar(input_scale)])]),
                                         op.scalar(1)]), op.scalar(alpha)])
    y = g.node("Where", [g.node("Greater", [x, op.scalar(0)]), x, neg])
    return g.node("Mul", [y, op.scalar(scale)])


@maps(A.GELU)
def gelu(op):
    g, x = op.g, op.x(0)
    approx = op.fn.approximate
    if g.opset >= 20:
        return g.node("Gelu", [x], approximate=approx)
    half = g.node("Mul", [x, op.scalar(0.5)])
    if approx == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, op.scalar(0.044715)])])
        t = g.node("Tanh", [g.node("Mul", [inner, op.scalar(math.sqrt(2 / math.pi))])])
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = g.node("Erf", [g.node("Mul", [x, op.scalar(1 / math.sqrt(2))])])
    return g.node("Mul", [half, g.node("Add", [t, op.scalar(1)])])


@maps(A.SiLU)
def silu(op):
    x = op.x(0)
    return op.g.node("Mul", [x, op.g.node("Sigmoid", [x])])


@maps(A.Softplus)
def softplus(op):
    """torch's softplus: log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    g, x = op.g, op.x(0)
    beta, th = float(op.fn.beta), float(op.fn.threshold)
    bx = x if beta == 1 else g.node("Mul", [x, op.scalar(beta)])
    sp = g.node("Softplus", [bx])
    if beta != 1:
        sp = g.node("Div", [sp, op.scalar(beta)])
    return g.node("Where", [g.node("Greater", [bx, op.scalar(th)]), x, sp])


@maps(A.Hardswish)
def hardswish(op):
    x = op.x(0)
    if op.g.opset >= 14:
        return op.g.node("HardSwish", [x])
    return op.g.node("Mul", [x, op.g.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)])


@maps(A._Halves)
def halves(op):
    """glu's split of one axis into two halves."""
    n = op.in_shape(0)[op.fn.axis] // 2
    g = op.g
    outs = g.node("Split", [op.x(0), g.i64([n, n])], n_out=2, axis=int(op.fn.axis))
    return outs


@maps(A._Join)
def join(op):
    return op.g.node("Concat", [op.x(0), op.x(1)], axis=int(op.fn.axis))


# --- casts and fixed masks ---------------------------------------------------------------
@maps(C.Cast)
def cast(op):
    return op.g.node("Cast", [op.x(0)], to=onnx_type(op.fn.np_dtype))


@maps(D.AffineMask)
def affine_mask(op):
    """A dropout mask drawn while tracing (training mode): exported as the fixed mask."""
    g = op.g
    y = g.node("Mul", [op.x(0), g.const(np.asarray(_host(op.fn.scale), op.in_dtype(0)))])
    if op.fn.shift is not None:
        y = g.node("Add", [y, g.const(np.asarray(_host(op.fn.shift), op.in_dtype(0)))])
    return y


def _host(a):
    from ._graph import to_numpy
    return to_numpy(a)


# --- comparisons and argmax (plain functions, traced through their Tensor methods) ------
_COMPARE = {"eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater",
            "ge": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or",
            "logical_xor": "Xor"}


@maps(*("cmp_" + k for k in list(_COMPARE) + ["ne"]))
def compare(op):
    kind = op.fn[4:]
    g = op.g
    a, b = op.inputs
    if kind.startswith("logical_"):
        x, y = (g.node("Cast", [op.x(i)], to=9) if op.in_dtype(i) != np.bool_ else op.x(i)
                for i in (0, 1))
        return g.node(_COMPARE[kind], [x, y])
    common = np.result_type(a._data.dtype, b._data.dtype)
    x, y = (op.x(i) if op.in_dtype(i) == common else g.cast(op.x(i), common) for i in (0, 1))
    if kind == "ne":
        return g.node("Not", [g.node("Equal", [x, y])])
    return g.node(_COMPARE[kind], [x, y])


@maps("logical_not")
def logical_not(op):
    x = op.x(0)
    if op.in_dtype(0) != np.bool_:
        x = op.g.node("Cast", [x], to=9)
    return op.g.node("Not", [x])


@maps("argmax", "argmin")
def arg_extreme(op):
    g = op.g
    dim, keepdim = op.fn_args
    x = op.x(0)
    kind = "ArgMax" if op.kind == "argmax" else "ArgMin"
    if dim is None:
        y = g.node(kind, [g.reshape(x, [-1])], axis=0, keepdims=0)
        if keepdim:
            y = g.reshape(y, [1] * len(op.in_shape(0)))
        return y
    return g.node(kind, [x], axis=int(dim), keepdims=int(bool(keepdim)))
