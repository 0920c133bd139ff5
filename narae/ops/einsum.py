"""einsum and tensordot: contractions by subscripts; chain_matmul and multi_dot.

``einsum`` first brings every operand to a normal form with ordinary differentiable ops
(repeated labels become diagonals, size-1 dims that broadcast are squeezed, labels found in
one operand only are summed out), so every label left occurs in the output or in another
operand. Two operands are then one batched matmul of permuted, reshaped views (torch's
strategy: BLAS, where NumPy's einsum would loop over batch dims); three or more go to the
backend's einsum (``optimize=True`` chooses the pairwise order) in the node ``Einsum``,
whose gradient with respect to one operand is again such an einsum, of the output gradient
with the other operands -- and so are the gradients of those gradients.
"""
import functools
import math
import string

import numpy as np

from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
from ..tensor import Tensor
from ._operands import normalize_dim
from .linalg import matmul
from .arith import _cj
from .matrix import Diagonal
from .shape import reshape, permute

__all__ = ["einsum", "tensordot", "chain_matmul"]  # multi_dot: narae.linalg

_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # torch's label order


class Einsum(Function):
    """``xp.einsum`` of operands in normal form (see the module docstring)."""

    def __init__(self, subs, out):
        self.subs, self.out = subs, out

    def forward(self, *xs):
        xp = get_array_module(xs[0])
        eq = ",".join(self.subs) + "->" + self.out
        if len(xs) == 1:
            return xp.einsum(eq, xs[0])
        return xp.einsum(eq, *xs, optimize=True)

    def backward(self, gy):
        xs, grads = self.inputs, []
        for k, x in enumerate(xs):
            if not x.requires_grad:
                grads.append(None)
                continue
            others = [_cj(t) for i, t in enumerate(xs) if i != k]  # (complex: conjugates)
            subs = [self.out] + [s for i, s in enumerate(self.subs) if i != k]
            grads.append(_contract([gy] + others, subs, self.subs[k]))
        return tuple(grads)


def _contract(operands, subs, out):
    """Einsum of operands in normal form: one operand is a permutation, two are one batched
    GEMM (as torch does it), three or more the backend's einsum, which picks the order."""
    if len(operands) == 1 and sorted(subs[0]) == sorted(out):
        return permute(operands[0], tuple(subs[0].index(c) for c in out))
    if len(operands) == 2:
        return _pair(operands[0], subs[0], operands[1], subs[1], out)
    return Einsum(tuple(subs), out)(*operands)


def _pair(a, sa, b, sb, out):
    """Two operands as ``(batch, rows, k) @ (batch, k, cols)``: labels of both that the
    output keeps are batch dims, the other shared ones are summed; a's own labels are rows,
    b's columns. Built from permute, reshape and matmul, so it is differentiable twice."""
    batch = [c for c in sa if c in sb and c in out]
    summed = [c for c in sa if c in sb and c not in out]
    rows = [c for c in sa if c not in sb]
    cols = [c for c in sb if c not in sa]
    size = dict(zip(sa, a.shape))
    size.update(zip(sb, b.shape))

    def numel(labels):
        return math.prod(size[c] for c in labels)
    lead = (numel(batch),) if batch else ()
    left = reshape(permute(a, tuple(sa.index(c) for c in batch + rows + summed)),
                   lead + (numel(rows), numel(summed)))
    right = reshape(permute(b, tuple(sb.index(c) for c in batch + summed + cols)),
                    lead + (numel(summed), numel(cols)))
    labels = batch + rows + cols
    y = reshape(matmul(left, right), tuple(size[c] for c in labels))
    return permute(y, tuple(labels.index(c) for c in out))


# --- parsing -------------------------------------------------------------------------------
def _sublist_equation(args):
    """``einsum(a, [0, 1], b, [1, 2], [0, 2])`` as ``("AB,BC->AC", [a, b])``."""
    def labels(sub):
        out = ""
        for v in sub:
            if v is Ellipsis:
                out += "..."
            elif isinstance(v, (int, np.integer)) and 0 <= v < 52:
                out += _LETTERS[int(v)]
            else:
                raise ValueError(f"einsum(): subscript in subscript list is not within the valid "
                                 f"range [0, 52), got {v!r}")
        return out
    ops, terms = list(args[0::2]), [labels(s) for s in args[1::2]]
    if len(args) % 2:  # an odd count: the last list is the output
        ops = ops[:-1]
        return ",".join(terms) + "->" + labels(args[-1]), ops
    return ",".join(terms), ops


def _parse_term(term, k, what):
    """Labels of one term; the ellipsis becomes the placeholder '.'."""
    if term.count("...") > 1:
        raise RuntimeError(f"einsum(): found more than one ellipsis ('...') for {what} {k}")
    t = term.replace("...", ".")
    if "." in term.replace("...", ""):
        raise RuntimeError(f"einsum(): found '.' for {what} {k} that is not part of any "
                           f"ellipsis")
    for c in t:
        if c != "." and c not in _LETTERS:
            raise RuntimeError(f"einsum(): invalid subscript given at index {term.index(c)} in "
                               f"the equation string, subscripts must be in [a-zA-Z]")
    return t


def _normalize(equation, shapes):
    """Input label strings (ellipses spelt out with spare letters) and the output labels."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    terms = [_parse_term(t, k, "operand") for k, t in enumerate(terms)]
    ell = 0
    for k, (t, shape) in enumerate(zip(terms, shapes)):
        named = len(t.replace(".", ""))
        if "." in t:
            if len(shape) < named:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({named}) is more than the number of dimensions "
                                   f"({len(shape)}) for operand {k} of shape {shape}")
            ell = max(ell, len(shape) - named)
        elif len(shape) != named:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) "
                               f"does not match the number of dimensions ({len(shape)}) for "
                               f"operand {k} of shape {shape} and no ellipsis was "
                               f"given")
    used = set(eq)
    spare = [c for c in _LETTERS if c not in used]
    if ell > len(spare):
        raise RuntimeError(f"einsum(): too many dimensions ({ell}) under the ellipsis")
    ell_labels = "".join(spare[:ell])
    subs = []
    for t, shape in zip(terms, shapes):
        if "." in t:
            n = len(shape) - (len(t) - 1)
            t = t.replace(".", ell_labels[ell - n:])
        subs.append(t)
    if arrow:
        out = _parse_term(rhs, 0, "the output")
        for c in out.replace(".", ""):
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   f"the output")
            if not any(c in t for t in subs):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   f"equation for any input operand")
        out = out.replace(".", ell_labels)
    else:  # implicit: the ellipsis first, then the labels used once, in torch's order
        counts = {}
        for t in terms:
            for c in t.replace(".", ""):
                counts[c] = counts.get(c, 0) + 1
        out = ell_labels + "".join(c for c in _LETTERS if counts.get(c) == 1)
    return subs, out


def _sizes(subs, shapes):
    """Each label's size over all operands: equal, or 1 where it broadcasts."""
    size = {}
    for k, (s, shape) in enumerate(zip(subs, shapes)):
        for i, c in enumerate(s):
            n = shape[i]
            j = s.index(c)
            if j != i and shape[j] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but "
                                   f"the sizes don't match, {shape[j]} != {n} (shape "
                                   f"{shape})")
            seen = size.get(c, 1)
            if n != 1 and seen != 1 and n != seen:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {k} which "
                                   f"does not broadcast with previously seen size {seen} "
                                   f"(operand shapes: "
                                   f"{', '.join(str(o) for o in shapes)})")
            if n != 1:
                size[c] = n
            else:
                size.setdefault(c, 1)
    return size


def _parse_args(args):
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand, "
                        "or at least one operand and its subscripts list")
    if isinstance(args[0], str):
        equation, ops = args[0], list(args[1:])
        if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
            ops = list(ops[0])
    else:
        equation, ops = _sublist_equation(args)
    for i, x in enumerate(ops):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum(): expected Tensor as operand {i}, got "
                            f"{type(x).__name__}")
    if not ops:
        raise RuntimeError("einsum(): must provide at least one operand")
    return equation, ops


def einsum(*args):
    """Sum of products over the labels of an Einstein-summation equation.

    ``einsum("ij,jk->ik", a, b)`` is a @ b; ``einsum("ij,jk", [a, b])`` (implicit output:
    labels seen once, sorted) too; ``"ii"`` is a trace, ``"ii->i"`` a diagonal,
    ``"...ij,...jk"`` a batched product; size-1 dims broadcast. The sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` is accepted as well.
    """
    equation, operands = _parse_args(args)
    dt = operands[0]._data.dtype
    for x in operands[1:]:
        if x._data.dtype != dt:
            raise RuntimeError(f"einsum(): expected all operands to have the same dtype, but got "
                               f"{operands[0].dtype} and {x.dtype}")
    plan, subs, out = _plan(equation, tuple(tuple(x.shape) for x in operands))
    ops = list(operands)
    for k, steps in enumerate(plan):
        x = ops[k]
        for kind, arg in steps:
            if kind == "diagonal":
                x = Diagonal(0, *arg)(x)
            elif kind == "reshape":
                x = reshape(x, arg)
            else:
                x = x.sum(arg)
        ops[k] = x
    return _contract(ops, list(subs), out)


@functools.lru_cache(maxsize=512)
def _plan(equation, shapes):
    """The ops that bring each operand to normal form (a tuple of steps per operand), the
    operands' labels after them, and the output labels; checked once per equation and shapes."""
    subs, out = _normalize(equation, shapes)
    size = _sizes(subs, shapes)
    plan = []
    for k, (s, shape) in enumerate(zip(subs, shapes)):
        steps = []
        # 1. repeated labels: take the diagonal (it moves to the end)
        while len(set(s)) != len(s):
            c = next(c for c in s if s.count(c) > 1)
            i = s.index(c)
            j = s.index(c, i + 1)
            steps.append(("diagonal", (i, j)))
            s = s[:i] + s[i + 1:j] + s[j + 1:] + c
        # 2. size-1 dims that broadcast against a larger size: the operand is constant there
        drop = [i for i, c in enumerate(s) if size[c] != 1 and shape[subs[k].index(c)] == 1]
        if drop:
            steps.append(("reshape", tuple(size[c] for i, c in enumerate(s) if i not in drop)))
            s = "".join(c for i, c in enumerate(s) if i not in drop)
        plan.append(steps)
        subs[k] = s
    # 3. labels in one operand only and not in the output: sum them out first
    for k, s in enumerate(subs):
        alone = tuple(i for i, c in enumerate(s) if c not in out and
                      not any(c in t for j, t in enumerate(subs) if j != k))
        if alone:
            plan[k].append(("sum", alone))
            subs[k] = "".join(c for i, c in enumerate(s) if i not in alone)
    return tuple(tuple(p) for p in plan), tuple(subs), out


# --- tensordot -----------------------------------------------------------------------------
def _dims_lists(dims, a, b):
    if isinstance(dims, Tensor):
        if dims.ndim == 0:
            dims = int(dims.item())
        else:
            rows = dims.tolist()
            if len(rows) != 2:
                raise RuntimeError(f"tensordot expects dims to be a pair of lists, got a tensor "
                                   f"of shape {tuple(dims.shape)}")
            dims = (rows[0], rows[1])
    if isinstance(dims, (int, np.integer)):
        d = int(dims)
        if d < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={d}")
        if d > a.ndim or d > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={d} "
                               f"(shapes {tuple(a.shape)} and {tuple(b.shape)})")
        return list(range(a.ndim - d, a.ndim)), list(range(d))
    if not isinstance(dims, (list, tuple)) or len(dims) != 2:
        raise TypeError(f"tensordot(): dims must be an int, a pair of lists of ints or a "
                        f"tensor, got {dims!r}")
    da, db = dims
    da = [da] if isinstance(da, (int, np.integer)) else list(da)
    db = [db] if isinstance(db, (int, np.integer)) else list(db)
    if len(da) != len(db):
        raise RuntimeError(f"tensordot: both dimension lists should have same length, got "
                           f"{da} and {db}")
    return [normalize_dim(d, a.ndim) for d in da], [normalize_dim(d, b.ndim) for d in db]


def tensordot(a, b, dims=2, out=None):
    """Sum over dims ``dims[0]`` of a and ``dims[1]`` of b (an int d: a's last d with b's
    first d); the result has a's free dims then b's. One GEMM on reshaped operands."""
    if out is not None:
        raise NotImplementedError("tensordot(): out= is not supported")
    da, db = _dims_lists(dims, a, b)
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(f"tensordot: contracted dimensions need to match, but first has size "
                             f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in dim "
                             f"{j} (shapes {tuple(a.shape)} and {tuple(b.shape)})")
    if len(set(da)) != len(da) or len(set(db)) != len(db):
        raise RuntimeError(f"tensordot: repeated dims in {da} or {db}")
    fa = [i for i in range(a.ndim) if i not in da]
    fb = [j for j in range(b.ndim) if j not in db]
    k = int(np.prod([a.shape[i] for i in da]))
    sa, sb = tuple(a.shape[i] for i in fa), tuple(b.shape[j] for j in fb)
    left = reshape(permute(a, tuple(fa + da)), (int(np.prod(sa)), k))
    right = reshape(permute(b, tuple(db + fb)), (k, int(np.prod(sb))))
    return reshape(matmul(left, right), sa + sb)


# --- chains of products --------------------------------------------------------------------
def _chain_order(dims):
    """Optimal parenthesisation of a matrix chain (textbook dynamic programme):
    ``split[i][j]`` is where the product of matrices i..j is cut."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            best = None
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if best is None or c < best:
                    best, split[i][j] = c, s
            cost[i][j] = best
    return split


def _chain(mats):
    dims = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    split = _chain_order(dims)

    def product(i, j):
        if i == j:
            return mats[i]
        s = split[i][j]
        return matmul(product(i, s), product(s + 1, j))
    return product(0, len(mats) - 1)


def multi_dot(tensors, *, out=None):
    """torch.linalg.multi_dot: the product of a chain of matrices in the cheapest order; the
    first may be a row vector (1-D) and the last a column vector (1-D), those dims dropped."""
    if out is not None:
        raise NotImplementedError("multi_dot(): out= is not supported")
    tensors = list(tensors)
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    for i, t in enumerate(tensors):
        where = "first" if i == 0 else "last" if i == n - 1 else None
        if where and t.ndim not in (1, 2):
            raise RuntimeError(f"multi_dot(): the {where} tensor must be 1D or 2D but got "
                               f"{t.ndim}D (shape {tuple(t.shape)})")
        if not where and t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D (shape "
                               f"{tuple(t.shape)})")
        if t._data.dtype != tensors[0]._data.dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have the same dtype, got "
                               f"{tensors[0].dtype} and {t.dtype}")
    first_vec, last_vec = tensors[0].ndim == 1, tensors[-1].ndim == 1
    mats = list(tensors)
    if first_vec:
        mats[0] = reshape(mats[0], (1, -1))
    if last_vec:
        mats[-1] = reshape(mats[-1], (-1, 1))
    for i in range(n - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise ShapeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                             f"{list(tensors[i].shape)} and {list(tensors[i + 1].shape)} "
                             f"cannot be multiplied")
    y = _chain(mats)
    shape = tuple(s for s, drop in zip(y.shape, (first_vec, last_vec)) if not drop)
    return reshape(y, shape)


def chain_matmul(*matrices, out=None):
    """The product of 2-D matrices in the cheapest order (torch's older multi_dot)."""
    if out is not None:
        raise NotImplementedError("chain_matmul(): out= is not supported")
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for i, m in enumerate(matrices):
        if m.ndim != 2:
            raise RuntimeError(f"chain_matmul(): tensor {i} has dimension {m.ndim}, expected 2 "
                               f"(shape {tuple(m.shape)})")
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(matrices)
