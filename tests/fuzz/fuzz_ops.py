"""Differential fuzzer: random small programs run on narae and on torch, compared.

Run from the repository root:

    python tests/fuzz/fuzz_ops.py --seconds 300 --seed 0          # fuzz for 5 minutes
    python tests/fuzz/fuzz_ops.py --seed 1234 --count 1 --verbose  # replay one program
    python tests/fuzz/fuzz_ops.py --seconds 60 --only sort,topk     # only ops named so

Program ``k`` of a run started with ``--seed S`` uses seed ``S + k``, so every report names
the seed that reproduces it. A program draws 1-3 leaf tensors (random shapes with 0-size,
size-1 and 0-d cases; float32/float64/int64/bool; some non-contiguous), then a chain of 2-6
ops from the table below. Each op is picked by looking at the current torch value (so it
fits the shape and dtype) and recorded as a closure ``f(m, x, ctx)`` run once with
``m = torch`` and once with ``m = narae``. Checked at every step: error vs no error (when
torch raises narae must raise, when torch works narae must work), and at the end output
shape, dtype and values, plus the gradients of a random linear functional of the output
with respect to the floating leaves. Discrepancies are grouped by category and the op that
produced them; exit status 1 when any were found.

Categories: ``value``/``shape``/``dtype`` (forward differs), ``grad``/``grad-error``
(backward), ``error`` (narae raises, torch works), ``no-error`` (torch raises, narae works).
Listed only with ``--all``: ``permissive`` (torch refuses a dtype or argument form that narae
accepts and promotes), ``unsupported`` (narae's NotImplementedError) and ``error-empty``
(torch returns an empty result without its usual dtype/size checks).

Known differences that are not narae bugs (seen in the 2026-11 runs): torch 2.13 reads
garbage in ``median(dim)`` of expanded inputs (the generator gives torch a copy) and
corrupts the heap in the backward of dilated max-pooling whose window lies in the padding
(the generator avoids it); ``std/var(x, dim=())`` has an inf gradient in torch; signed
zeros (``relu(-0.)``, ``softshrink``) and the sign bit of NaN differ, visible through
``atan2``/``signbit``; the order of ties in ``topk``; float32 rounding amplified by
``floor``/``trunc``/``fmod`` or by normalising a constant (0 in narae, 1e-8 in torch);
``soft_margin_loss`` overflows to inf in torch, not in narae; ``x.view`` of a
non-viewable layout raises in torch and copies in narae (narae's array layouts differ from
torch's, so refusing would reject views torch accepts).

Not a test module: pytest does not collect it (no ``test_`` functions, no ``test_`` name).
"""
import argparse
import collections
import os
import sys
import time
import traceback
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import narae  # noqa: E402
import narae.nn.functional as NF  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(1)

DTYPES = ["float32", "float64", "int64", "bool"]


def F(m):
    return NF if m is narae else TF


def is_float(t):
    return t.dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def to_np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach()._data)


class Ctx:
    """Makes a library's tensor from a numpy array and remembers the differentiable leaves."""

    def __init__(self, m):
        self.m = m
        self.leaves = []

    def leaf(self, arr, grad=False):
        if self.m is torch:
            t = torch.from_numpy(np.array(arr))
        else:
            t = narae.from_numpy(np.array(arr))
        if grad:
            t.requires_grad_(True)
            self.leaves.append(t)
        return t

    def const(self, arr):
        return self.leaf(arr, False)


class Program:
    def __init__(self, seed):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.steps = []      # (name, description, fn)

    def describe(self):
        return "\n".join(f"  {d}" for _, d, _ in self.steps)


# --------------------------------------------------------------------------------------------
# random data
def rand_shape(rng, max_dims=4, allow_zero=True):
    nd = int(rng.choice([0, 1, 2, 2, 3, 3, 4][: max_dims + 3]))
    nd = min(nd, max_dims)
    sizes = []
    for _ in range(nd):
        r = rng.random()
        if r < 0.06 and allow_zero:
            sizes.append(0)
        elif r < 0.3:
            sizes.append(1)
        else:
            sizes.append(int(rng.integers(2, 5)))
    return tuple(sizes)


def rand_array(rng, shape, dtype):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype == "int64":
        return rng.integers(-4, 5, shape).astype(np.int64)
    a = rng.standard_normal(shape)
    return a.astype(dtype)


def bcast_shape(rng, shape):
    """A shape that broadcasts with ``shape`` (drops leading dims, sets some to 1)."""
    s = list(shape)
    if s and rng.random() < 0.3:
        s = s[int(rng.integers(0, len(s) + 1)):]
    s = [1 if (rng.random() < 0.3) else d for d in s]
    if rng.random() < 0.15:
        s = [1] + s
    return tuple(s)


def pick_dim(rng, nd, allow_none=False):
    if allow_none and rng.random() < 0.2:
        return None
    if nd == 0:
        return int(rng.choice([0, -1]))
    d = int(rng.integers(0, nd))
    return d - nd if rng.random() < 0.4 else d


def scalar(rng):
    r = rng.random()
    if r < 0.35:
        return int(rng.integers(-3, 4))
    if r < 0.5:
        return bool(rng.random() < 0.5)
    return float(np.round(rng.standard_normal(), 3))


def other_operand(rng, x, prog_leaves, allow_scalar=True):
    """Second operand of a binary op: scalar, 0-d tensor, broadcast tensor or self."""
    r = rng.random()
    if allow_scalar and r < 0.3:
        s = scalar(rng)
        return repr(s), (lambda m, ctx, s=s: s)
    if r < 0.4:
        return "x", None
    shape = bcast_shape(rng, tuple(x.shape)) if r < 0.9 else ()
    dt = str(rng.choice(DTYPES, p=[0.3, 0.4, 0.2, 0.1]))
    arr = rand_array(rng, shape, dt)
    grad = dt.startswith("float") and rng.random() < 0.7
    return f"leaf({dt}{list(shape)}, grad={grad})", (lambda m, ctx, a=arr, g=grad: ctx.leaf(a, g))


# --------------------------------------------------------------------------------------------
# the op table: each generator gets (rng, x) with x the current torch value and returns
# (description, fn(m, x, ctx)) or None when it does not apply.
GENS = {}


def gen(name, weight=1.0):
    def deco(f):
        GENS[name] = (f, weight)
        return f
    return deco


UNARY = {
    "neg": lambda m, x: m.neg(x), "abs": lambda m, x: m.abs(x), "exp": lambda m, x: m.exp(x),
    "tanh": lambda m, x: m.tanh(x), "sigmoid": lambda m, x: m.sigmoid(x),
    "relu": lambda m, x: m.relu(x), "sin": lambda m, x: m.sin(x),
    "sqrt_abs": lambda m, x: m.sqrt(m.abs(x) + 0.5), "log1p_abs": lambda m, x: m.log1p(m.abs(x)),
    "square": lambda m, x: m.square(x), "sign": lambda m, x: m.sign(x),
    "floor": lambda m, x: m.floor(x), "round": lambda m, x: m.round(x),
    "trunc": lambda m, x: m.trunc(x), "frac": lambda m, x: m.frac(x),
    "rsqrt": lambda m, x: m.rsqrt(m.abs(x) + 1), "erf": lambda m, x: m.erf(x),
    "atan": lambda m, x: m.atan(x), "expm1": lambda m, x: m.expm1(x),
    "gelu": lambda m, x: F(m).gelu(x), "gelu_tanh": lambda m, x: F(m).gelu(x, approximate="tanh"),
    "softplus": lambda m, x: F(m).softplus(x, beta=2.0, threshold=1.0),
    "elu": lambda m, x: F(m).elu(x, alpha=0.7), "selu": lambda m, x: F(m).selu(x),
    "leaky_relu": lambda m, x: F(m).leaky_relu(x, 0.1), "silu": lambda m, x: F(m).silu(x),
    "hardtanh": lambda m, x: F(m).hardtanh(x, -0.5, 0.7), "mish": lambda m, x: F(m).mish(x),
    "hardswish": lambda m, x: F(m).hardswish(x), "hardsigmoid": lambda m, x: F(m).hardsigmoid(x),
    "logsigmoid": lambda m, x: F(m).logsigmoid(x), "softsign": lambda m, x: F(m).softsign(x),
    "relu6": lambda m, x: F(m).relu6(x), "celu": lambda m, x: F(m).celu(x, 1.3),
    "tanhshrink": lambda m, x: F(m).tanhshrink(x), "softshrink": lambda m, x: F(m).softshrink(x, 0.3),
    "hardshrink": lambda m, x: F(m).hardshrink(x, 0.3), "clamp": lambda m, x: m.clamp(x, -0.5, 0.8),
    "clamp_min": lambda m, x: m.clamp(x, min=0), "clamp_max_t": lambda m, x: x.clamp(max=1),
    "nan_to_num": lambda m, x: m.nan_to_num(x), "logit": lambda m, x: m.logit(m.sigmoid(x)),
    "sinc": lambda m, x: m.sinc(x), "deg2rad": lambda m, x: m.deg2rad(x),
    "logical_not": lambda m, x: m.logical_not(x), "bitwise_not": lambda m, x: m.bitwise_not(x),
    "isfinite": lambda m, x: m.isfinite(x), "signbit": lambda m, x: m.signbit(x),
    "pow_2": lambda m, x: x ** 2, "pow_3m": lambda m, x: m.pow(x, 3), "rpow": lambda m, x: 2 ** x,
    "float": lambda m, x: x.float(), "double": lambda m, x: x.double(), "long": lambda m, x: x.long(),
    "to_f64": lambda m, x: x.to(m.float64), "pos": lambda m, x: +x,
    "positive": lambda m, x: m.positive(x), "reciprocal": lambda m, x: m.reciprocal(m.abs(x) + 1),
    "xlogy_self": lambda m, x: m.xlogy(x, m.abs(x) + 1),
}


@gen("unary", 5)
def g_unary(rng, x):
    name = str(rng.choice(sorted(UNARY)))
    f = UNARY[name]
    return name, name, lambda m, x, ctx: f(m, x)


BINARY = {
    "add": lambda m, a, b: a + b, "sub": lambda m, a, b: a - b, "mul": lambda m, a, b: a * b,
    "div": lambda m, a, b: a / b, "radd": lambda m, a, b: b + a, "rsub": lambda m, a, b: b - a,
    "rmul": lambda m, a, b: b * a, "rdiv": lambda m, a, b: b / a,
    "add_alpha": lambda m, a, b: m.add(a, b, alpha=2),
    "sub_alpha": lambda m, a, b: m.sub(a, b, alpha=0.5),
    "maximum": lambda m, a, b: m.maximum(a, b), "minimum": lambda m, a, b: m.minimum(a, b),
    "eq": lambda m, a, b: a == b, "lt": lambda m, a, b: a < b, "ge": lambda m, a, b: a >= b,
    "ne": lambda m, a, b: m.ne(a, b),
    "floor_divide": lambda m, a, b: a // b, "remainder": lambda m, a, b: a % b,
    "fmod": lambda m, a, b: m.fmod(a, b), "atan2": lambda m, a, b: m.atan2(a, b),
    "pow": lambda m, a, b: m.pow(m.abs(a) + 0.5, b) if isinstance(a, m.Tensor) else m.pow(a, b),
    "hypot": lambda m, a, b: m.hypot(a, b),
    "logaddexp": lambda m, a, b: m.logaddexp(a, b), "copysign": lambda m, a, b: m.copysign(a, b),
    "true_divide": lambda m, a, b: m.true_divide(a, b), "div_floor": lambda m, a, b: m.div(a, b, rounding_mode="floor"),
    "div_trunc": lambda m, a, b: m.div(a, b, rounding_mode="trunc"),
    "logical_and": lambda m, a, b: m.logical_and(a, b), "bitwise_and": lambda m, a, b: a & b,
    "bitwise_or": lambda m, a, b: a | b, "bitwise_xor": lambda m, a, b: a ^ b,
    "lerp": lambda m, a, b: m.lerp(a, b, 0.3), "fmax": lambda m, a, b: m.fmax(a, b),
    "xlogy": lambda m, a, b: m.xlogy(a, b), "heaviside": lambda m, a, b: m.heaviside(a, b),
    "where_gt": lambda m, a, b: m.where(a > 0, a, b),
    "isclose": lambda m, a, b: m.isclose(a, b), "addcmul": lambda m, a, b: m.addcmul(a, a, b, value=0.5),
    "squared_diff": lambda m, a, b: (a - b) ** 2,
}
NEED_TENSOR_B = {"maximum", "minimum", "atan2", "hypot", "logaddexp", "fmax", "heaviside",
                 "isclose", "lerp", "addcmul", "logical_and"}


@gen("binary", 6)
def g_binary(rng, x):
    name = str(rng.choice(sorted(BINARY)))
    desc, mk = other_operand(rng, x, None, allow_scalar=True)
    f = BINARY[name]
    if mk is None:
        return name, f"{name}(x, x)", lambda m, x, ctx: f(m, x, x)
    return name, f"{name}(x, {desc})", lambda m, x, ctx: f(m, x, mk(m, ctx))


def _dims_arg(rng, nd):
    r = rng.random()
    if r < 0.2 or nd == 0:
        return None
    if r < 0.35 and nd >= 2:
        k = int(rng.integers(1, nd + 1))
        ds = rng.permutation(nd)[:k]
        return tuple(int(d - nd) if rng.random() < 0.4 else int(d) for d in ds)
    return pick_dim(rng, nd)


REDUCE_ANY = {  # accept dim=None | int | tuple
    "sum": lambda m, x, d, k: m.sum(x) if d is None else m.sum(x, dim=d, keepdim=k),
    "mean": lambda m, x, d, k: m.mean(x) if d is None else m.mean(x, dim=d, keepdim=k),
    "amax": lambda m, x, d, k: m.amax(x, dim=() if d is None else d, keepdim=k),
    "amin": lambda m, x, d, k: m.amin(x, dim=() if d is None else d, keepdim=k),
    "std": lambda m, x, d, k: m.std(x, dim=d, keepdim=k),
    "var_c0": lambda m, x, d, k: m.var(x, dim=d, keepdim=k, correction=0),
    "logsumexp": lambda m, x, d, k: m.logsumexp(x, dim=() if d is None else d, keepdim=k),
    "norm": lambda m, x, d, k: m.norm(x, dim=d, keepdim=k),
    "norm1": lambda m, x, d, k: m.norm(x, p=1, dim=d, keepdim=k),
    "linalg_vnorm": lambda m, x, d, k: m.linalg.vector_norm(x, ord=3, dim=d, keepdim=k),
    "all": lambda m, x, d, k: m.all(x) if d is None else m.all(x, dim=d, keepdim=k),
    "any": lambda m, x, d, k: m.any(x) if d is None else m.any(x, dim=d, keepdim=k),
    "count_nonzero": lambda m, x, d, k: m.count_nonzero(x, dim=d),
    "nansum": lambda m, x, d, k: m.nansum(x, dim=d, keepdim=k),
    "sum_method": lambda m, x, d, k: x.sum(d, k) if d is not None else x.sum(),
    "var_mean": lambda m, x, d, k: m.var_mean(x, dim=d, keepdim=k)[1],
    "std_mean": lambda m, x, d, k: m.std_mean(x, dim=d, keepdim=k)[0],
    "sum_dtype": lambda m, x, d, k: m.sum(x, dim=d, keepdim=k, dtype=m.float64),
}
REDUCE_INT = {  # dim must be a single int (or None where allowed)
    "prod": lambda m, x, d, k: m.prod(x) if d is None else m.prod(x, dim=d, keepdim=k),
    "max_dim": lambda m, x, d, k: m.max(x) if d is None else m.max(x, dim=d, keepdim=k).values,
    "min_dim_i": lambda m, x, d, k: m.min(x) if d is None else m.min(x, dim=d, keepdim=k)[1],
    "argmax": lambda m, x, d, k: m.argmax(x, dim=d, keepdim=k),
    "argmin": lambda m, x, d, k: m.argmin(x, dim=d, keepdim=k),
    # torch 2.13's median(dim) reads garbage on expanded (stride-0) inputs: give it a copy
    "median": lambda m, x, d, k: m.median(x) if d is None else m.median(
        x.contiguous() if m is torch else x, dim=d, keepdim=k).values,
    "cumsum": lambda m, x, d, k: m.cumsum(x, dim=0 if d is None else d),
    "cumprod": lambda m, x, d, k: m.cumprod(x, dim=0 if d is None else d),
    "cummax": lambda m, x, d, k: m.cummax(x, dim=0 if d is None else d).values,
    "cummin_i": lambda m, x, d, k: m.cummin(x, dim=0 if d is None else d).indices,
    "logcumsumexp": lambda m, x, d, k: m.logcumsumexp(x, dim=0 if d is None else d),
    "softmax": lambda m, x, d, k: m.softmax(x, dim=0 if d is None else d),
    "log_softmax": lambda m, x, d, k: F(m).log_softmax(x, dim=0 if d is None else d),
    "softmin": lambda m, x, d, k: F(m).softmin(x, dim=0 if d is None else d),
    "normalize": lambda m, x, d, k: F(m).normalize(x, dim=0 if d is None else d),
    "sort_v": lambda m, x, d, k: m.sort(x, dim=-1 if d is None else d, descending=k).values,
    "sort_i_stable": lambda m, x, d, k: m.sort(x, dim=-1 if d is None else d, descending=k,
                                               stable=True).indices,
    "argsort": lambda m, x, d, k: m.argsort(x, dim=-1 if d is None else d, stable=True),
    "msort": lambda m, x, d, k: m.msort(x),
    "diff": lambda m, x, d, k: m.diff(x, dim=-1 if d is None else d),
    "flip": lambda m, x, d, k: m.flip(x, dims=(0 if d is None else d,)),
    "roll": lambda m, x, d, k: m.roll(x, 2, dims=d),
    "aminmax": lambda m, x, d, k: m.aminmax(x, dim=d, keepdim=k).min,
    "kthvalue": lambda m, x, d, k: m.kthvalue(x, 1, dim=-1 if d is None else d, keepdim=k).values,
    "mode_v": lambda m, x, d, k: m.mode(x, dim=-1 if d is None else d, keepdim=k).values,
    "nanmean": lambda m, x, d, k: m.nanmean(x, dim=d, keepdim=k),
    "glu": lambda m, x, d, k: F(m).glu(x, dim=-1 if d is None else d),
    "unbind0": lambda m, x, d, k: m.unbind(x, dim=0 if d is None else d)[0],
}


@gen("reduce", 5)
def g_reduce(rng, x):
    if rng.random() < 0.5:
        name = str(rng.choice(sorted(REDUCE_ANY)))
        d = _dims_arg(rng, x.dim())
        f = REDUCE_ANY[name]
    else:
        name = str(rng.choice(sorted(REDUCE_INT)))
        d = pick_dim(rng, x.dim(), allow_none=True)
        f = REDUCE_INT[name]
    k = bool(rng.random() < 0.5)
    return name, f"{name}(x, dim={d}, keepdim={k})", lambda m, x, ctx: f(m, x, d, k)


@gen("topk", 1)
def g_topk(rng, x):
    d = pick_dim(rng, x.dim())
    n = x.shape[d] if x.dim() else 1
    kk = int(rng.integers(0, n + 1))
    largest = bool(rng.random() < 0.6)
    return "topk", f"topk(x, {kk}, dim={d}, largest={largest}).values", \
        lambda m, x, ctx: m.topk(x, kk, dim=d, largest=largest).values


def _factor_shape(rng, n, shape):
    """A random shape with ``n`` elements, sometimes with a -1."""
    if n == 0:
        return tuple(shape[::-1]) if rng.random() < 0.5 else (0, -1) if len(shape) and False else (0,)
    sizes = []
    rest = n
    for p in (2, 3, 5, 7):
        while rest % p == 0:
            sizes.append(p)
            rest //= p
    if rest > 1:
        sizes.append(rest)
    rng.shuffle(sizes)
    out = []
    for s in sizes:
        if out and rng.random() < 0.5:
            out[-1] *= s
        else:
            out.append(s)
    if rng.random() < 0.3:
        out.insert(int(rng.integers(0, len(out) + 1)), 1)
    if out and rng.random() < 0.4:
        out[int(rng.integers(0, len(out)))] = -1
    return tuple(out)


@gen("shape", 6)
def g_shape(rng, x):
    nd = x.dim()
    shape = tuple(x.shape)
    n = x.numel()
    r = int(rng.integers(0, 22))
    if r == 0:
        s = _factor_shape(rng, n, shape)
        return "reshape", f"reshape(x, {s})", lambda m, x, ctx: m.reshape(x, s)
    if r == 1:
        s = _factor_shape(rng, n, shape)
        return "view", f"x.view({s})", lambda m, x, ctx: x.view(s)
    if r == 2:
        p = tuple(int(i) for i in rng.permutation(nd))
        if nd and rng.random() < 0.3:
            p = tuple(i - nd for i in p)
        return "permute", f"x.permute{p}", lambda m, x, ctx: x.permute(*p)
    if r == 3:
        a, b = pick_dim(rng, nd), pick_dim(rng, nd)
        return "transpose", f"transpose(x, {a}, {b})", lambda m, x, ctx: m.transpose(x, a, b)
    if r == 4:
        s = tuple(int(rng.integers(2, 4)) if d == 1 and rng.random() < 0.7 else
                  (-1 if rng.random() < 0.3 else d) for d in shape)
        if rng.random() < 0.3:
            s = (2,) + s
        return "expand", f"x.expand{s}", lambda m, x, ctx: x.expand(*s)
    if r == 5:
        d = pick_dim(rng, nd, allow_none=True)
        return "squeeze", f"squeeze(x, {d})", lambda m, x, ctx: m.squeeze(x) if d is None else m.squeeze(x, d)
    if r == 6:
        d = int(rng.integers(-nd - 1, nd + 1))
        return "unsqueeze", f"unsqueeze(x, {d})", lambda m, x, ctx: m.unsqueeze(x, d)
    if r == 7:
        a = pick_dim(rng, nd)
        b = pick_dim(rng, nd)
        return "flatten", f"flatten(x, {a}, {b})", lambda m, x, ctx: m.flatten(x, a, b)
    if r == 8 and nd:
        d = pick_dim(rng, nd)
        sz = shape[d]
        fs = _factor_shape(rng, sz, ()) if sz else (0, 3)
        if not fs:
            fs = (1,)
        return "unflatten", f"unflatten(x, {d}, {fs})", lambda m, x, ctx: m.unflatten(x, d, fs)
    if r == 9 and nd:
        d = pick_dim(rng, nd)
        sz = shape[d]
        st = int(rng.integers(-sz, sz + 1)) if sz else 0
        ln = int(rng.integers(0, sz - (st % sz if sz else 0) + 1)) if sz else 0
        return "narrow", f"narrow(x, {d}, {st}, {ln})", lambda m, x, ctx: m.narrow(x, d, st, ln)
    if r == 10 and nd:
        d = pick_dim(rng, nd)
        sz = shape[d]
        i = int(rng.integers(-sz, sz)) if sz else 0
        return "select", f"select(x, {d}, {i})", lambda m, x, ctx: m.select(x, d, i)
    if r == 11 and nd:
        d = pick_dim(rng, nd)
        c = int(rng.integers(1, 4))
        j = int(rng.integers(0, 3))
        return "chunk", f"chunk(x, {c}, {d})[-{j}]", lambda m, x, ctx: m.chunk(x, c, d)[-j if j else 0]
    if r == 12 and nd:
        d = pick_dim(rng, nd)
        sz = shape[d]
        if rng.random() < 0.5:
            s = int(rng.integers(1, 4))
        else:
            cut = sorted(rng.integers(0, sz + 1, 2)) if sz else [0, 0]
            s = [int(cut[0]), int(cut[1] - cut[0]), int(sz - cut[1])]
        return "split", f"split(x, {s}, {d})[-1]", lambda m, x, ctx: m.split(x, s, d)[-1]
    if r == 13:
        d = int(rng.integers(-nd - 1, nd + 1)) if rng.random() < 0.5 else pick_dim(rng, nd)
        desc, mk = other_operand(rng, x, None, allow_scalar=False)
        if mk is None:
            return "stack", f"stack([x, x], {d})", lambda m, x, ctx: m.stack([x, x], d)
        dt = str(rng.choice(DTYPES, p=[0.3, 0.5, 0.1, 0.1]))
        arr = rand_array(rng, shape, dt)
        return "stack", f"stack([x, {dt}{list(shape)}], {d})", \
            lambda m, x, ctx: m.stack([x, ctx.leaf(arr, dt.startswith('float'))], d)
    if r == 14 and nd:
        d = pick_dim(rng, nd)
        s2 = list(shape)
        s2[d] = int(rng.integers(0, 3))
        dt = str(rng.choice(DTYPES, p=[0.3, 0.5, 0.1, 0.1]))
        arr = rand_array(rng, tuple(s2), dt)
        return "cat", f"cat([x, {dt}{s2}], {d})", \
            lambda m, x, ctx: m.cat([x, ctx.leaf(arr, dt.startswith('float')), x], dim=d)
    if r == 15:
        reps = tuple(int(rng.integers(1, 3)) for _ in range(max(nd, int(rng.integers(0, 4)))))
        return "repeat", f"x.repeat{reps}", lambda m, x, ctx: x.repeat(*reps)
    if r == 16:
        reps = tuple(int(rng.integers(1, 3)) for _ in range(int(rng.integers(1, 4))))
        return "tile", f"tile(x, {reps})", lambda m, x, ctx: m.tile(x, reps)
    if r == 17 and nd:
        a, b = pick_dim(rng, nd), pick_dim(rng, nd)
        return "movedim", f"movedim(x, {a}, {b})", lambda m, x, ctx: m.movedim(x, a, b)
    if r == 18:
        return "mT", "x.mT", lambda m, x, ctx: x.mT
    if r == 19:
        return "contiguous", "x.contiguous()", lambda m, x, ctx: x.contiguous()
    if r == 20 and nd:
        d = pick_dim(rng, nd)
        sz = shape[d]
        k = int(rng.integers(1, max(sz, 1) + 2))
        return "tensor_split", f"tensor_split(x, {k}, {d})[0]", \
            lambda m, x, ctx: m.tensor_split(x, k, dim=d)[0]
    if r == 21 and nd >= 1:
        return "tril", "tril(x, 1)", lambda m, x, ctx: m.tril(x, 1) if x.dim() >= 2 else m.triu(x)
    return None


def _basic_index(rng, shape):
    idx = []
    i = 0
    nd = len(shape)
    while i < nd or (rng.random() < 0.1 and len(idx) < 6):
        r = rng.random()
        if i >= nd:
            idx.append(None)
            continue
        sz = shape[i]
        if r < 0.3 and sz:
            idx.append(int(rng.integers(-sz, sz)))
        elif r < 0.75:
            a = int(rng.integers(-sz - 1, sz + 2)) if rng.random() < 0.5 else None
            b = int(rng.integers(-sz - 1, sz + 2)) if rng.random() < 0.5 else None
            st = int(rng.integers(1, 4)) if rng.random() < 0.5 else None
            idx.append(slice(a, b, st))
        elif r < 0.85:
            idx.append(None)
            continue
        elif r < 0.9 and Ellipsis not in idx:
            idx.append(Ellipsis)
            i = nd - int(rng.integers(0, nd - i + 1))
            continue
        else:
            idx.append(slice(None))
        i += 1
        if rng.random() < 0.15:
            break
    return tuple(idx)


def _adv_index_parts(rng, shape, ctx_arrays):
    """An index mixing ints, slices and int/bool arrays (kept as numpy, made tensors at run)."""
    parts = []
    nd = len(shape)
    i = 0
    while i < nd:
        sz = shape[i]
        r = rng.random()
        if r < 0.3 and sz:
            k = int(rng.integers(0, 4))
            ishape = (k,) if rng.random() < 0.7 else (2, 2)
            parts.append(("int", rng.integers(-sz, sz, ishape).astype(np.int64)))
        elif r < 0.4 and i + 1 <= nd and rng.random() < 0.5:
            parts.append(("bool", rng.random(shape[i:i + 1]) < 0.5))
        elif r < 0.55 and sz:
            parts.append(("py", int(rng.integers(-sz, sz))))
        elif r < 0.6 and sz:
            parts.append(("list", [int(v) for v in rng.integers(-sz, sz, int(rng.integers(1, 3)))]))
        else:
            parts.append(("py", slice(None, None, int(rng.integers(1, 3)))))
        i += 1
        if rng.random() < 0.2:
            break
    if nd == 0:
        parts.append(("bool0", bool(rng.random() < 0.5)))
    if nd and rng.random() < 0.1:
        parts = [("bool", rng.random(shape) < 0.5)]
    return parts


def _materialise(m, ctx, parts):
    out = []
    for kind, v in parts:
        if kind in ("int", "bool"):
            out.append(ctx.const(v))
        elif kind == "bool0":
            out.append(ctx.const(np.array(v)))
        else:
            out.append(v)
    return tuple(out)


@gen("index", 5)
def g_index(rng, x):
    shape = tuple(x.shape)
    r = rng.random()
    if r < 0.4:
        idx = _basic_index(rng, shape)
        return "getitem_basic", f"x[{idx}]", lambda m, x, ctx: x[idx]
    parts = _adv_index_parts(rng, shape, None)
    desc = f"x[{[(k, v.tolist() if isinstance(v, np.ndarray) else v) for k, v in parts]}]"
    if r < 0.75:
        return "getitem_adv", desc, lambda m, x, ctx: x[_materialise(m, ctx, parts)]
    # setitem on a copy (clone keeps the graph): value scalar or broadcastable tensor
    sv = scalar(rng) if rng.random() < 0.5 else None
    vshape = None
    if sv is None:
        vshape = () if rng.random() < 0.5 else (1,)
    varr = rand_array(rng, vshape, "float64") if vshape is not None else None

    def f(m, x, ctx):
        y = x.clone()
        val = sv if varr is None else ctx.leaf(varr.astype(np.float64 if x.dtype == m.float64 else
                                                         np.float32), grad=is_float_any(m, x))
        if rng_basic:
            y[bidx] = val
        else:
            y[_materialise(m, ctx, parts)] = val
        return y
    rng_basic = rng.random() < 0.4
    bidx = _basic_index(rng, shape)
    return "setitem", f"y=x.clone(); y[{bidx if rng_basic else desc}] = {sv if varr is None else vshape}", f


def is_float_any(m, x):
    return x.dtype in (m.float32, m.float64)


@gen("scatter", 4)
def g_scatter(rng, x):
    nd = x.dim()
    shape = tuple(x.shape)
    d = pick_dim(rng, nd)
    r = int(rng.integers(0, 9))
    sz = shape[d] if nd else 1
    if r == 0:   # gather
        ishape = tuple(int(rng.integers(0, s + 1)) if i != (d % max(nd, 1)) else int(rng.integers(0, 4))
                   for i, s in enumerate(shape))
        idx = rng.integers(0, max(sz, 1), ishape).astype(np.int64)
        return "gather", f"gather(x, {d}, idx{list(ishape)})", \
            lambda m, x, ctx: m.gather(x, d, ctx.const(idx))
    if r == 1:   # take_along_dim
        idx = rng.integers(0, max(sz, 1), shape).astype(np.int64)
        return "take_along_dim", f"take_along_dim(x, idx, {d})", \
            lambda m, x, ctx: m.take_along_dim(x, ctx.const(idx), dim=d)
    if r in (2, 3):  # scatter / scatter_add (index smaller than self)
        ishape = tuple(int(rng.integers(0, s + 1)) for s in shape)
        idx = rng.integers(0, max(sz, 1), ishape).astype(np.int64)
        src = rng.standard_normal(shape)
        op = "scatter_add" if r == 3 else "scatter"

        def f(m, x, ctx):
            s = ctx.leaf(src.astype(np.float64 if x.dtype == m.float64 else np.float32),
                         grad=is_float_any(m, x) and r == 3)
            if x.dtype not in (m.float32, m.float64):
                s = s.to(x.dtype)
            return getattr(m, op)(x, d, ctx.const(idx), s)
        return op, f"{op}(x, {d}, idx{list(ishape)}, src)", f
    if r == 4:  # scatter_reduce
        ishape = tuple(int(rng.integers(0, s + 1)) for s in shape)
        idx = rng.integers(0, max(sz, 1), ishape).astype(np.int64)
        src = rng.standard_normal(ishape)
        red = str(rng.choice(["sum", "prod", "mean", "amax", "amin"]))
        inc = bool(rng.random() < 0.5)

        def f(m, x, ctx):
            s = ctx.const(src).to(x.dtype)
            return m.scatter_reduce(x, d, ctx.const(idx), s, red, include_self=inc)
        return "scatter_reduce", f"scatter_reduce(x, {d}, idx, src, {red}, include_self={inc})", f
    if r == 5:   # index_select / index_add
        k = int(rng.integers(0, 5))
        idx = rng.integers(0, max(sz, 1), (k,)).astype(np.int64)
        if rng.random() < 0.5:
            return "index_select", f"index_select(x, {d}, {idx.tolist()})", \
                lambda m, x, ctx: m.index_select(x, d, ctx.const(idx))
        sshape = list(shape)
        if nd:
            sshape[d] = k
        src = rng.standard_normal(tuple(sshape) if nd else ())

        def f(m, x, ctx):
            s = ctx.leaf(src.astype(np.float64 if x.dtype == m.float64 else np.float32),
                         grad=is_float_any(m, x))
            return m.index_add(x, d, ctx.const(idx), s, alpha=2)
        return "index_add", f"index_add(x, {d}, {idx.tolist()}, src, alpha=2)", f
    if r == 6:   # masked_fill / masked_select / masked_scatter
        mshape = bcast_shape(rng, shape)
        mask = rng.random(mshape) < 0.5
        v = scalar(rng)
        k = rng.random()
        if k < 0.5:
            return "masked_fill", f"masked_fill(x, mask{list(mshape)}, {v})", \
                lambda m, x, ctx: m.masked_fill(x, ctx.const(mask), v)
        if k < 0.8:
            return "masked_select", f"masked_select(x, mask{list(mshape)})", \
                lambda m, x, ctx: m.masked_select(x, ctx.const(mask))
        return "masked_fill_t", f"x.masked_fill(mask{list(mshape)}, 0-d tensor)", \
            lambda m, x, ctx: x.masked_fill(ctx.const(mask), ctx.const(np.array(0.5)).to(x.dtype))
    if r == 7:   # where with broadcasting and mixed dtypes
        cshape = bcast_shape(rng, shape)
        cond = rng.random(cshape) < 0.5
        desc, mk = other_operand(rng, x, None, allow_scalar=True)
        if mk is None:
            return "where", "where(c, x, -x)", lambda m, x, ctx: m.where(ctx.const(cond), x, -x)
        return "where", f"where(c{list(cshape)}, x, {desc})", \
            lambda m, x, ctx: m.where(ctx.const(cond), x, mk(m, ctx))
    # index_fill / index_copy
    k = int(rng.integers(0, 3))
    idx = rng.permutation(max(sz, 1))[:k].astype(np.int64) if sz else np.zeros(0, np.int64)
    v = scalar(rng)
    return "index_fill", f"index_fill(x, {d}, {idx.tolist()}, {v})", \
        lambda m, x, ctx: m.index_fill(x, d, ctx.const(idx), v)


@gen("matmul", 3)
def g_matmul(rng, x):
    shape = tuple(x.shape)
    nd = len(shape)
    r = int(rng.integers(0, 7))
    last = shape[-1] if nd else 1
    n = int(rng.integers(0, 4))
    dt = "float64" if rng.random() < 0.8 else str(rng.choice(DTYPES))
    if r <= 2:   # matmul with batch broadcasting (other on the right or left)
        k = int(rng.integers(0, 3))
        if nd == 0:
            return None
        if r == 0 or nd == 1:
            oshape = bcast_shape(rng, shape[:-2])[:k] + (last, n) if rng.random() < 0.8 else (last,)
        else:
            oshape = (last, n)
        arr = rand_array(rng, oshape, dt)
        left = r == 2 and nd >= 2
        if left:
            arr = rand_array(rng, (n, shape[-2]), dt)
            return "matmul", f"matmul({dt}{[n, shape[-2]]}, x)", \
                lambda m, x, ctx: m.matmul(ctx.leaf(arr, dt.startswith("float")), x)
        return "matmul", f"matmul(x, {dt}{list(oshape)})", \
            lambda m, x, ctx: x @ ctx.leaf(arr, dt.startswith("float"))
    if r == 3:
        arr = rand_array(rng, (n, last), dt)
        barr = rand_array(rng, (n,), dt) if rng.random() < 0.6 else None
        return "linear", f"F.linear(x, w[{n},{last}], bias={barr is not None})", \
            lambda m, x, ctx: F(m).linear(x, ctx.leaf(arr, dt.startswith("float")),
                                          None if barr is None else ctx.leaf(barr, dt.startswith("float")))
    if r == 4 and nd == 3:
        arr = rand_array(rng, (shape[0], last, n), dt)
        return "bmm", "bmm", lambda m, x, ctx: m.bmm(x, ctx.leaf(arr, dt.startswith("float")))
    if r == 5:
        if nd == 1:
            return "outer", "outer(x, x)", lambda m, x, ctx: m.outer(x, x)
        if nd == 2:
            return "mm_t", "mm(x, x.t())", lambda m, x, ctx: m.mm(x, x.t())
        return "einsum", "einsum('...i,...i->...', x, x)", lambda m, x, ctx: m.einsum("...i,...i->...", x, x)
    if r == 6 and nd >= 1:
        arr = rand_array(rng, (last,), dt)
        if nd == 1:
            return "dot", "dot", lambda m, x, ctx: m.dot(x, ctx.leaf(arr, dt.startswith("float")))
        if nd == 2:
            return "mv", "mv", lambda m, x, ctx: m.mv(x, ctx.leaf(arr, dt.startswith("float")))
        return "tensordot", "tensordot(x, v, 1)", \
            lambda m, x, ctx: m.tensordot(x, ctx.leaf(arr, dt.startswith("float")), dims=1)
    return None


@gen("nn", 4)
def g_nn(rng, x):
    shape = tuple(x.shape)
    nd = len(shape)
    r = int(rng.integers(0, 12))
    if r == 0 and nd in (3, 4):   # convolution, odd geometry
        c = shape[1]
        groups = int(rng.choice([g for g in (1, 2, 3) if c % g == 0] or [1]))
        oc = groups * int(rng.integers(1, 3))
        k = int(rng.integers(1, 4))
        stride, pad, dil = int(rng.integers(1, 3)), int(rng.integers(0, 3)), int(rng.integers(1, 3))
        ks = (k,) * (nd - 2)
        w = rng.standard_normal((oc, c // groups) + ks)
        b = rng.standard_normal(oc) if rng.random() < 0.5 else None
        fn = "conv1d" if nd == 3 else "conv2d"
        padm = str(rng.choice(["zeros", "same"])) if stride == 1 and rng.random() < 0.2 else None

        def f(m, x, ctx):
            wt = ctx.leaf(w.astype(np.float64 if x.dtype == m.float64 else np.float32), True)
            bt = None if b is None else ctx.leaf(b.astype(np.float64 if x.dtype == m.float64 else np.float32), True)
            return getattr(F(m), fn)(x, wt, bt, stride=stride, padding="same" if padm == "same" else pad,
                                     dilation=dil, groups=groups)
        return fn, f"{fn}(x, w{list(w.shape)}, b={b is not None}, stride={stride}, padding={'same' if padm == 'same' else pad}, dilation={dil}, groups={groups})", f
    if r == 1 and nd in (3, 4):   # conv_transpose
        c = shape[1]
        oc = int(rng.integers(1, 3))
        k = int(rng.integers(1, 4))
        stride, pad, dil = int(rng.integers(1, 3)), int(rng.integers(0, 2)), int(rng.integers(1, 3))
        op = int(rng.integers(0, max(stride, dil)))
        w = rng.standard_normal((c, oc) + (k,) * (nd - 2))
        fn = "conv_transpose1d" if nd == 3 else "conv_transpose2d"

        def f(m, x, ctx):
            wt = ctx.leaf(w.astype(np.float64 if x.dtype == m.float64 else np.float32), True)
            return getattr(F(m), fn)(x, wt, None, stride=stride, padding=pad, output_padding=op,
                                     dilation=dil)
        return fn, f"{fn}(x, w{list(w.shape)}, stride={stride}, padding={pad}, output_padding={op}, dilation={dil})", f
    if r == 2 and nd in (3, 4):   # pools
        k = int(rng.integers(1, 4))
        s = int(rng.integers(1, 3)) if rng.random() < 0.7 else None
        p = int(rng.integers(0, k // 2 + 1))
        ceil = bool(rng.random() < 0.4)
        typ = str(rng.choice(["max", "avg", "avg_nopad", "lp", "max_dil"]))
        dim = nd - 2
        fname = {"max": "max_pool", "avg": "avg_pool", "avg_nopad": "avg_pool", "lp": "lp_pool",
                 "max_dil": "max_pool"}[typ] + f"{dim}d"

        def f(m, x, ctx):
            fn = getattr(F(m), fname)
            if typ == "max":
                return fn(x, k, s, p, ceil_mode=ceil)
            if typ == "max_dil":
                # no padding, no ceil_mode: torch 2.13's backward corrupts the heap ("double
                # free") when a dilated window lies wholly in the padding
                return fn(x, k, s, 0, dilation=2)
            if typ == "avg":
                return fn(x, k, s, p, ceil_mode=ceil)
            if typ == "avg_nopad":
                return fn(x, k, s, p, ceil_mode=ceil, count_include_pad=False)
            return fn(m.abs(x) + 0.1, 2, k, s, ceil_mode=ceil)
        return fname, f"{fname}[{typ}](x, k={k}, s={s}, p={p}, ceil={ceil})", f
    if r == 3 and nd in (3, 4):
        o = tuple(int(rng.integers(1, 5)) for _ in range(nd - 2))
        typ = str(rng.choice(["avg", "max"]))
        fname = f"adaptive_{typ}_pool{nd - 2}d"
        return fname, f"{fname}(x, {o})", lambda m, x, ctx: getattr(F(m), fname)(x, o)
    if r == 4 and nd >= 1:   # layer_norm / group_norm / batch_norm / instance_norm
        k = int(rng.integers(1, nd + 1))
        ns = shape[nd - k:]
        w = rng.standard_normal(ns) if rng.random() < 0.6 else None

        def f(m, x, ctx):
            wt = None if w is None else ctx.leaf(w.astype(np.float64 if x.dtype == m.float64 else np.float32), True)
            return F(m).layer_norm(x, ns, wt, None, eps=1e-5)
        return "layer_norm", f"layer_norm(x, {ns}, w={w is not None})", f
    if r == 5 and nd >= 2:
        c = shape[1]
        typ = str(rng.choice(["batch_train", "batch_eval", "instance", "group", "rms", "local"]))
        if typ == "group":
            g = int(rng.choice([d for d in (1, 2, 3) if c % d == 0] or [1]))
            return "group_norm", f"group_norm(x, {g})", lambda m, x, ctx: F(m).group_norm(x, g)
        if typ == "rms":
            return "rms_norm", "rms_norm(x, last)", lambda m, x, ctx: F(m).rms_norm(x, shape[-1:])
        if typ == "local":
            return "local_response_norm", "lrn(x, 2)", lambda m, x, ctx: F(m).local_response_norm(x, 2)
        if typ == "instance":
            return "instance_norm", "instance_norm(x)", lambda m, x, ctx: F(m).instance_norm(x)
        rm = rng.standard_normal(c)
        rv = rng.random(c) + 0.5
        train = typ == "batch_train"

        def f(m, x, ctx):
            dt = np.float64 if x.dtype == m.float64 else np.float32
            return F(m).batch_norm(x, ctx.const(rm.astype(dt)), ctx.const(rv.astype(dt)),
                                   training=train, momentum=0.3)
        return "batch_norm", f"batch_norm(x, training={train})", f
    if r == 6:   # losses against a random target of the same shape
        red = str(rng.choice(["mean", "sum", "none"]))
        loss = str(rng.choice(["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
                               "binary_cross_entropy_with_logits", "soft_margin_loss",
                               "binary_cross_entropy", "kl_div", "poisson_nll_loss",
                               "gaussian_nll_loss", "hinge_embedding_loss"]))
        tshape = shape if rng.random() < 0.85 else bcast_shape(rng, shape)
        tgt = rng.random(tshape)

        def f(m, x, ctx):
            dt = np.float64 if x.dtype == m.float64 else np.float32
            t = ctx.leaf(tgt.astype(dt), grad=loss in ("mse_loss", "l1_loss", "kl_div"))
            fn = getattr(F(m), loss)
            if loss == "binary_cross_entropy":
                return fn(m.sigmoid(x), t, reduction=red)
            if loss == "smooth_l1_loss":
                return fn(x, t, reduction=red, beta=0.5)
            if loss == "kl_div":
                return fn(F(m).log_softmax(x, -1), t, reduction=red, log_target=False)
            if loss == "gaussian_nll_loss":
                return fn(x, t, m.ones_like(x) * 0.5, reduction=red)
            if loss == "hinge_embedding_loss":
                return fn(x, m.sign(t - 0.5), reduction=red)
            return fn(x, t, reduction=red)
        return loss, f"{loss}(x, t{list(tshape)}, reduction={red})", f
    if r == 7 and nd in (1, 2, 3, 4):   # cross_entropy / nll with class dim 1
        c = shape[1] if nd >= 2 else shape[0]
        red = str(rng.choice(["mean", "sum", "none"]))
        tshape = (shape[0],) + shape[2:] if nd >= 2 else ()
        tgt = rng.integers(0, max(c, 1), tshape).astype(np.int64)
        if rng.random() < 0.2 and tgt.size:
            tgt.flat[0] = -100
        ls = float(rng.choice([0.0, 0.0, 0.2]))
        wts = rng.random(c) + 0.1 if rng.random() < 0.3 else None
        loss = str(rng.choice(["cross_entropy", "nll_loss", "cross_entropy_prob"]))

        def f(m, x, ctx):
            dt = np.float64 if x.dtype == m.float64 else np.float32
            w = None if wts is None else ctx.const(wts.astype(dt))
            if loss == "cross_entropy":
                return F(m).cross_entropy(x, ctx.const(tgt), weight=w, reduction=red, label_smoothing=ls)
            if loss == "cross_entropy_prob":
                return F(m).cross_entropy(x, m.softmax(x * 0.5, dim=1 if nd >= 2 else 0).detach(),
                                          weight=w, reduction=red, label_smoothing=ls)
            return F(m).nll_loss(F(m).log_softmax(x, 1 if nd >= 2 else 0), ctx.const(tgt), weight=w,
                                 reduction=red)
        return loss, f"{loss}(x, tgt{list(tshape)}, w={wts is not None}, red={red}, ls={ls})", f
    if r == 8 and nd >= 1:   # pad
        k = int(rng.integers(1, min(nd, 3) + 1))
        pads = tuple(int(rng.integers(-1, 3)) for _ in range(2 * k))
        mode = str(rng.choice(["constant", "constant", "reflect", "replicate", "circular"]))
        v = 0.5 if mode == "constant" else None
        if mode != "constant":
            pads = tuple(abs(p) for p in pads)
        return "pad", f"pad(x, {pads}, {mode})", \
            lambda m, x, ctx: F(m).pad(x, pads, mode=mode, value=v) if mode == "constant" \
            else F(m).pad(x, pads, mode=mode)
    if r == 9 and nd in (3, 4):   # interpolate
        mode = str(rng.choice(["nearest", "linear" if nd == 3 else "bilinear", "nearest-exact",
                               "area"] + (["bicubic"] if nd == 4 else [])))
        sf = float(rng.choice([0.5, 1.5, 2.0, 0.7]))
        ac = bool(rng.random() < 0.5) if mode in ("linear", "bilinear", "bicubic") else None
        return "interpolate", f"interpolate(x, scale_factor={sf}, mode={mode}, align_corners={ac})", \
            lambda m, x, ctx: F(m).interpolate(x, scale_factor=sf, mode=mode, align_corners=ac)
    if r == 10 and nd == 4:
        k = int(rng.integers(1, 3))
        return "unfold", f"unfold(x, {k}, padding=1, stride=2)", \
            lambda m, x, ctx: F(m).unfold(x, k, padding=1, stride=2)
    if r == 11 and nd >= 1:
        # tensor.unfold (sliding windows)
        d = pick_dim(rng, nd)
        size = int(rng.integers(0, 3))
        step = int(rng.integers(1, 3))
        return "Tensor.unfold", f"x.unfold({d}, {size}, {step})", lambda m, x, ctx: x.unfold(d, size, step)
    return None


INPLACE = {
    "add_": lambda m, y, o: y.add_(o), "mul_": lambda m, y, o: y.mul_(o),
    "sub_": lambda m, y, o: y.sub_(o, alpha=2), "div_": lambda m, y, o: y.div_(o),
    "clamp_": lambda m, y, o: y.clamp_(-0.3, 0.5), "relu_": lambda m, y, o: y.relu_(),
    "neg_": lambda m, y, o: y.neg_(), "exp_": lambda m, y, o: y.exp_(),
    "pow_": lambda m, y, o: y.pow_(2), "fill_": lambda m, y, o: y.fill_(1.5),
    "zero_": lambda m, y, o: y.zero_(), "masked_fill_": lambda m, y, o: y.masked_fill_(y > 0, 0.25),
    "copy_": lambda m, y, o: y.copy_(o), "addcmul_": lambda m, y, o: y.addcmul_(o, o),
    "lerp_": lambda m, y, o: y.lerp_(o, 0.5), "sigmoid_": lambda m, y, o: y.sigmoid_(),
    "F.relu_inplace": lambda m, y, o: F(m).relu(y, inplace=True),
    "floor_divide_": lambda m, y, o: y.floor_divide_(o), "t_": lambda m, y, o: y.t_() if y.dim() <= 2 else y.squeeze_(),
    "unsqueeze_": lambda m, y, o: y.unsqueeze_(0), "abs_": lambda m, y, o: y.abs_(),
    "index_put_": lambda m, y, o: y.index_put_((m.zeros(1, dtype=m.int64),), o) if y.dim() else y,
    "iadd": lambda m, y, o: _iadd(y, o), "imul": lambda m, y, o: _imul(y, o),
}


def _iadd(y, o):
    y += o
    return y


def _imul(y, o):
    y *= o
    return y


@gen("inplace", 3)
def g_inplace(rng, x):
    name = str(rng.choice(sorted(INPLACE)))
    f = INPLACE[name]
    where = str(rng.choice(["nonleaf", "clone", "view_nograd", "leaf_nograd"]))
    desc, mk = other_operand(rng, x, None, allow_scalar=True)

    def run(m, x, ctx):
        o = x if mk is None else mk(m, ctx)
        if where == "nonleaf":
            y = x * 1
            r = f(m, y, o)
            return y if r is y else r
        if where == "clone":
            y = x.clone()
            f(m, y, o)
            return y
        if where == "view_nograd":   # in-place through a view, outside autograd: base must see it
            base = x.detach().clone()
            v = base[:] if base.dim() else base
            with m.no_grad():
                f(m, v, o.detach() if isinstance(o, m.Tensor) else o)
            return base
        leaf = ctx.leaf(to_np(x).copy(), grad=False) if True else None
        f(m, leaf, o.detach() if isinstance(o, m.Tensor) else o)
        return leaf
    return name, f"{name}[{where}](x, {desc})", run


# --------------------------------------------------------------------------------------------
def make_leaf(rng, idx):
    shape = rand_shape(rng)
    dt = str(rng.choice(DTYPES, p=[0.3, 0.45, 0.15, 0.1]))
    layout = str(rng.choice(["contig", "contig", "transposed", "stepped", "expanded", "fortran"]))
    arr = rand_array(rng, shape, dt)
    return shape, dt, layout, arr


def layout_fn(layout, shape):
    def f(m, t):
        if layout == "transposed" and t.dim() >= 2:
            return t.transpose(0, -1).contiguous().transpose(0, -1) if False else t.mT.contiguous().mT
        if layout == "stepped" and t.dim() >= 1:
            return m.repeat_interleave(t, 2, dim=-1)[..., ::2]
        if layout == "expanded" and t.dim() >= 1 and t.shape[0] == 1:
            return t.expand(3, *t.shape[1:])
        return t
    return f


def build(seed, only=None):
    prog = Program(seed)
    rng = prog.rng
    leaf = make_leaf(rng, 0)
    prog.leaf = leaf
    names = sorted(GENS)
    weights = np.array([GENS[n][1] for n in names], float)
    weights /= weights.sum()
    prog.n_steps = int(rng.integers(2, 7))
    prog.names = names
    prog.weights = weights
    prog.only = only
    return prog


def start(prog, m, ctx):
    shape, dt, layout, arr = prog.leaf
    grad = dt.startswith("float")
    if m is narae and layout == "fortran" and arr.ndim >= 2:
        t = narae.from_numpy(np.asfortranarray(arr))
        if grad:
            t.requires_grad_(True)
            ctx.leaves.append(t)
    else:
        t = ctx.leaf(arr, grad)
    return layout_fn(layout, shape)(m, t)


PERMISSIVE = ("not implemented for", "must be Tensor", "with a bool tensor is not supported",
              "same dtype", "expected dtype", "can't be cast", "mixed dtype", "did not match",
              "expected scalar type", "must have the same dtype", "invalid combination of arguments",
              "expected both", "is not supported for", "should be the same",
              "does not support bool", "same scalar type", "dtypes match", "expected a floating",
              "inputs not supported", "on a bool tensor is not supported", "not supported for Bool",
              "Expected a floating point", "expected floating", "is only supported for floating")


def permissive(err):
    """torch refuses a dtype combination or argument form that narae accepts (promotes)."""
    msg = str(err)
    return isinstance(err, (NotImplementedError, TypeError)) or any(p in msg for p in PERMISSIVE)


def tctx_has_f32(ctx):
    return any(t.dtype == torch.float32 for t in ctx.leaves)


class Mismatch(Exception):
    def __init__(self, category, op, detail):
        super().__init__(f"[{category}] {op}: {detail}")
        self.category, self.op, self.detail = category, op, detail


def compare_values(step_name, o, t, atol, rtol, where="forward"):
    if isinstance(t, torch.Tensor):
        if not isinstance(o, narae.Tensor):
            raise Mismatch("type", step_name, f"{where}: narae gave {type(o).__name__}, torch a Tensor")
        if tuple(o.shape) != tuple(t.shape):
            raise Mismatch("shape", step_name, f"{where}: narae {tuple(o.shape)} != torch {tuple(t.shape)}")
        if str(o.dtype).split(".")[-1] != str(t.dtype).split(".")[-1]:
            raise Mismatch("dtype", step_name, f"{where}: narae {o.dtype} != torch {t.dtype}")
        a, b = to_np(o), to_np(t)
        if a.dtype.kind in "biu":
            if not np.array_equal(a, b):
                raise Mismatch("value", step_name, f"{where}: {a.ravel()[:8]} != {b.ravel()[:8]}")
        else:
            # scale atol with the magnitude: float32 steps can cancel (a mean of +-values)
            fin = np.isfinite(b)
            scale = float(np.abs(b[fin]).max()) if fin.any() else 1.0
            bad = ~np.isclose(a, b, atol=atol * max(1.0, scale), rtol=rtol, equal_nan=True)
            if not bad.any():
                return
            raise Mismatch("value", step_name, f"{where}: narae {a[bad][:5]} != torch {b[bad][:5]} "
                           f"({int(bad.sum())}/{a.size} differ)")


def run_program(prog, verbose=False):
    """Run ``prog`` on torch (choosing the ops) then narae; raise Mismatch on a difference."""
    rng = prog.rng
    tctx, nctx = Ctx(torch), Ctx(narae)
    try:
        tx = start(prog, torch, tctx)
    except Exception:
        return "skip"
    nx = start(prog, narae, nctx)
    prog.steps.append(("leaf", f"leaf {prog.leaf[1]}{list(prog.leaf[0])} layout={prog.leaf[2]}", None))
    compare_values("leaf", nx, tx, 0, 0)
    f32 = tx.dtype == torch.float32
    for _ in range(prog.n_steps):
        for _attempt in range(10):
            gname = str(rng.choice(prog.names, p=prog.weights))
            got = GENS[gname][0](rng, tx)
            if got is None:
                continue
            if prog.only and got[0] not in prog.only and gname not in prog.only:
                continue
            break
        else:
            continue
        name, desc, fn = got
        prog.steps.append((name, desc, fn))
        if verbose:
            print("  ", desc, flush=True)
        try:
            ty = fn(torch, tx, tctx)
            terr = None
        except Exception as e:    # torch raises: narae must raise too
            terr = e
        try:
            ny = fn(narae, nx, nctx)
            nerr = None
        except Mismatch:
            raise
        except Exception as e:
            nerr = e
        if terr is not None and nerr is None:
            cat = "permissive" if permissive(terr) else "no-error"
            raise Mismatch(cat, name, f"torch raised {type(terr).__name__}: "
                           f"{str(terr).splitlines()[0][:160]}")
        if terr is None and nerr is not None:
            cat = "unsupported" if isinstance(nerr, NotImplementedError) else "error"
            if isinstance(ty, torch.Tensor) and ty.numel() == 0:
                cat = "error-empty"   # torch skips its checks (dtypes, sizes) on empty results
            raise Mismatch(cat, name, f"narae raised {type(nerr).__name__}: "
                           f"{str(nerr).splitlines()[0][:200]}")
        if terr is not None:
            return "torch-error"
        if not isinstance(ty, torch.Tensor):
            return "non-tensor"
        f32 = f32 or ty.dtype == torch.float32 or tctx_has_f32(tctx)
        tol = (1e-4, 1e-3) if f32 else (1e-7, 1e-6)
        compare_values(name, ny, ty, *tol)
        tx, nx = ty, ny
    # gradients of a random linear functional of the output
    if not (is_float(tx) and tx.requires_grad) or not tctx.leaves:
        return "ok-nograd"
    w = rng.standard_normal(tuple(tx.shape))
    tl = (tx.double() * torch.from_numpy(w)).sum()
    try:
        tg = torch.autograd.grad(tl, tctx.leaves, allow_unused=True)
    except Exception:
        return "torch-backward-error"
    if not getattr(nx, "requires_grad", False):
        # fine when torch's gradient is identically zero (floor_divide, sign, ...)
        if all(g is None or not bool(g.ne(0).any()) for g in tg):
            return "ok-zero-grad"
        raise Mismatch("grad", prog.steps[-1][0], "narae output does not require grad")
    nl = (nx.double() * narae.from_numpy(w)).sum()
    try:
        ng = narae.autograd.grad(nl, nctx.leaves, allow_unused=True)
    except Exception as e:
        raise Mismatch("grad-error", prog.steps[-1][0], f"narae backward raised {type(e).__name__}: "
                       f"{str(e).splitlines()[0][:200]}")
    for k, (a, b) in enumerate(zip(ng, tg)):
        if b is None:
            if a is not None and np.any(to_np(a) != 0):
                raise Mismatch("grad", "backward", f"leaf {k}: torch has no grad, narae non-zero")
            continue
        if a is None:   # (torch's nan from 0 * nan through a cut graph counts as zero)
            if np.any(np.nan_to_num(b.numpy(), nan=0.0) != 0):
                raise Mismatch("grad", "backward", f"leaf {k}: narae grad missing")
            continue
        tol = (1e-4, 1e-3) if f32 else (1e-7, 1e-6)
        compare_values("backward", a, b, *tol, where=f"grad of leaf {k}")
    return "ok"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, default=None, help="stop after this many programs")
    ap.add_argument("--only", default="", help="comma-separated op or generator names")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--show", type=int, default=3, help="examples printed per category")
    ap.add_argument("--all", action="store_true",
                    help="also list 'permissive' (torch refuses a dtype narae accepts), "
                         "'unsupported' (narae NotImplementedError) and 'error-empty' (narae "
                         "raises where torch returns an empty result) findings in detail")
    args = ap.parse_args(argv)
    only = set(s for s in args.only.split(",") if s) or None
    t0 = time.time()
    outcomes = collections.Counter()
    found = collections.defaultdict(list)
    k = 0
    while time.time() - t0 < args.seconds and (args.count is None or k < args.count):
        seed = args.seed + k
        k += 1
        prog = build(seed, only)
        if args.verbose:
            print(f"seed {seed}", flush=True)
        try:
            outcomes[run_program(prog, args.verbose)] += 1
        except Mismatch as e:
            outcomes["MISMATCH"] += 1
            found[(e.category, e.op)].append((seed, e.detail, prog.describe()))
        except Exception as e:   # the harness itself failed
            outcomes["harness-error"] += 1
            if args.verbose:
                traceback.print_exc()
            found[("harness", type(e).__name__)].append((seed, str(e)[:200], prog.describe()))
    print(f"{k} programs in {time.time() - t0:.0f}s: {dict(outcomes)}")
    minor = collections.Counter()
    for (cat, op), items in sorted(found.items(), key=lambda kv: -len(kv[1])):
        if cat in ("permissive", "unsupported", "error-empty") and not args.all:
            minor[f"{cat}:{op}"] += len(items)
            continue
        print(f"\n== {cat} in {op}: {len(items)} programs (seeds {[s for s, _, _ in items[:8]]})")
        for seed, detail, desc in items[: args.show]:
            print(f"-- seed {seed}: {detail}\n{desc}")
    if minor:
        print(f"\nminor (use --all to list): {dict(minor.most_common())}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
