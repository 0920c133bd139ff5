"""ONNX mappings of shape, indexing and reduction ops.

Shapes are written so a dynamic batch dimension keeps working: a reshape that keeps dim 0
copies it (``0``), one that merges or splits it computes it (``-1``), and squeezes and
unsqueezes become Squeeze/Unsqueeze, which never mention the other sizes.
"""
import numpy as np

from ..ops import index as I, reduce as R, shape as S
from ._graph import INT64_MAX, INT64_MIN, to_numpy
from ._registry import maps


def _without_ones(shape):
    return [n for n in shape if n != 1]


def _groups(src, dst):
    """Pair runs of input dims with runs of output dims of equal product (size-1 dims left
    out): [([input axes], [output axes]), ...], or None when the sizes do not pair up."""
    a = [i for i, n in enumerate(src) if n != 1 or i == 0]  # (a traced batch of 1 is still
    b = [j for j, n in enumerate(dst) if n != 1 or j == 0]  # the batch)
    groups, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        gi, gj = [a[i]], [b[j]]
        pi, pj = src[a[i]], dst[b[j]]
        i, j = i + 1, j + 1
        while pi != pj:
            if pi < pj and i < len(a):
                gi.append(a[i])
                pi *= src[a[i]]
                i += 1
            elif pj < pi and j < len(b):
                gj.append(b[j])
                pj *= dst[b[j]]
                j += 1
            else:
                return None
        groups.append((gi, gj))
    if i != len(a) or j != len(b) or 0 in src:
        return None
    return groups


def _reshape_target(src, dst):
    """The Reshape target for ``src -> dst`` that keeps a dynamic dimension working.

    A dim copied at the same position is 0 (Reshape copies it); the run of dims holding
    input dim 0 (the batch) when it is merged, split or moved becomes -1; everything else
    keeps its traced size.
    """
    shape = list(dst)
    groups = _groups(src, dst)
    if groups is None:
        return [-1] + shape[1:] if shape else shape
    carrier = None
    for gi, gj in groups:
        if len(gi) == 1 and len(gj) == 1 and gi[0] == gj[0]:
            shape[gj[0]] = 0
        elif 0 in gi and carrier is None:
            carrier = gj[0]
    if carrier is not None:
        shape[carrier] = -1
    return shape


@maps(S.Reshape)
def reshape(op):
    g, x = op.g, op.x(0)
    src, dst = op.in_shape(0), op.out_shape()
    if _without_ones(src) == _without_ones(dst):
        y = x  # only size-1 axes come or go: Squeeze/Unsqueeze never mention other sizes
        keep0 = bool(src and dst and src[0] == dst[0] == 1)  # (a traced batch of 1 stays)
        gone = [i for i, n in enumerate(src) if n == 1 and not (keep0 and i == 0)]
        if gone:
            y = g.squeeze(y, gone)
        new = [i for i, n in enumerate(dst) if n == 1 and not (keep0 and i == 0)]
        if new:
            y = g.unsqueeze(y, new)
        return y if y is not x else g.node("Identity", [x])
    dyn = op.dynamic_dims()
    if dyn is None:  # no dynamic axes asked for: the traced sizes are the sizes
        return g.reshape(x, _reshape_target(src, dst))
    alt_src = op.probe[1][0]
    alt_dst = op.probe[0][0]
    shape = list(dst)
    free = []
    for d in sorted(dyn):
        if d < len(src) and src[d] == dst[d] and alt_src[d] == alt_dst[d]:
            shape[d] = 0  # copied from the input at the same position
        else:
            free.append(d)
    if len(free) > 1:
        return _computed_reshape(op, x, src, dst, shape, free)
    if free:
        shape[free[0]] = -1
    return g.reshape(x, shape)


def _computed_reshape(op, x, src, dst, shape, free):
    """A reshape with several dynamic sizes that are not plain copies: each is the size of a
    graph input's dynamic axis, or is computed from Shape(x) as the product of the input dims
    it is made of (divided by the static sizes split off with it)."""
    g = op.g
    groups = _groups(src, dst)
    owner = {j: (gi, gj) for gi, gj in (groups or ()) for j in gj}
    alt_dst = op.probe[0][0]
    dims = g.node("Shape", [x])
    pieces = []
    for d, n in enumerate(shape):
        if d not in free:
            pieces.append(g.i64([n]))
            continue
        source = op.tracer.input_dims.get((dst[d], alt_dst[d]))
        if source is not None:  # the size of a graph input's dynamic axis
            name, axis = source
            pieces.append(g.node("Gather", [g.node("Shape", [name]), g.i64([axis])], axis=0))
            continue
        if d not in owner:
            return op.unsupported(f"a reshape {src} -> {dst} with several dynamic sizes {free}")
        gi, gj = owner[d]
        others = [j for j in gj if j != d]
        if any(j in free for j in others):
            return op.unsupported(f"a reshape {src} -> {dst} splitting one dim into several "
                                  "dynamic ones")
        size = None
        for i in gi:
            part = g.node("Gather", [dims, g.i64([i])], axis=0)
            size = part if size is None else g.node("Mul", [size, part])
        split = int(np.prod([dst[j] for j in others])) if others else 1
        if split != 1:
            size = g.node("Div", [size, g.i64([split])])
        pieces.append(size)
    return g.node("Reshape", [x, g.node("Concat", pieces, axis=0)])


@maps(S.Permute)
def permute(op):
    return op.g.node("Transpose", [op.x(0)], perm=[int(a) for a in op.fn.axes])


@maps(S.BroadcastTo)
def broadcast_to(op):
    """Expand; a size the input already has is written as 1 (Expand broadcasts it back), so
    the batch dimension is never frozen."""
    src, dst = op.in_shape(0), op.out_shape()
    lead = len(dst) - len(src)
    shape = [1 if i >= lead and src[i - lead] == n else n for i, n in enumerate(dst)]
    return op.g.node("Expand", [op.x(0), op.g.i64(shape)])


@maps(S.SumTo)
def sum_to(op):
    src, dst = op.in_shape(0), op.out_shape()
    lead = len(src) - len(dst)
    axes = list(range(lead)) + [lead + i for i, n in enumerate(dst)
                                if n == 1 and src[lead + i] != 1]
    y = op.g.reduce("ReduceSum", op.x(0), axes, True) if axes else op.x(0)
    return op.g.squeeze(y, list(range(lead))) if lead else op.g.node("Identity", [y])


@maps(S.Cat)
def cat(op):
    names = [op.x(i) for i, t in enumerate(op.inputs) if not (t.ndim == 1 and t.shape[0] == 0)]
    return op.g.node("Concat", names, axis=int(op.fn.axis))


@maps(S.Stack)
def stack(op):
    axis = int(op.fn.axis)
    parts = [op.g.unsqueeze(op.x(i), [axis]) for i in range(len(op.inputs))]
    return op.g.node("Concat", parts, axis=axis)


@maps(S.ConstantPad)
def constant_pad(op):
    pads = [int(p[0]) for p in op.fn.pads] + [int(p[1]) for p in op.fn.pads]
    g = op.g
    return g.node("Pad", [op.x(0), g.i64(pads), op.scalar(op.fn.value)], mode="constant")


@maps(S.Roll)
def roll(op):
    g, y = op.g, op.x(0)
    dims = op.fn.dims
    shifts = op.fn.shifts
    if dims is None:  # roll of the flattened tensor
        flat = g.reshape(y, [-1])
        n = int(np.prod(op.in_shape(0)))
        s = int(shifts[0] if isinstance(shifts, (tuple, list)) else shifts) % max(n, 1)
        out = g.node("Concat", [g.slice(flat, [n - s], [n], [0]), g.slice(flat, [0], [n - s], [0])],
                     axis=0)
        return g.reshape(out, list(op.in_shape(0)))
    for s, d in zip(shifts, dims):
        n = op.in_shape(0)[d]
        s = int(s) % n if n else 0
        if s:
            y = g.node("Concat", [g.slice(y, [n - s], [n], [d]), g.slice(y, [0], [n - s], [d])],
                       axis=int(d))
    return y


# --- indexing ----------------------------------------------------------------------------
def _expand_key(key, ndim):
    key = key if isinstance(key, tuple) else (key,)
    used = sum(1 for k in key if k is not None and k is not Ellipsis and
               not (isinstance(k, np.ndarray) and k.dtype == np.bool_))
    out = []
    for k in key:
        if k is Ellipsis:
            out += [slice(None)] * (ndim - used)
        else:
            out.append(k)
    if not any(k is Ellipsis for k in key):
        out += [slice(None)] * (ndim - used)
    return out


def _is_index_array(k):
    return hasattr(k, "dtype") and hasattr(k, "shape") and k.dtype.kind in "iu" and \
        getattr(k, "ndim", 0) > 0


def _gather_nd(op, key):
    """x[a0, a1, ..., ak-1] with integer arrays on the leading axes (the rest whole):
    GatherND on the arrays broadcast and stacked. An array that is a traced value (a graph
    input's indices) stays an input of the graph."""
    g = op.g
    m = 0
    while m < len(key) and _is_index_array(key[m]):
        m += 1
    if any(k != slice(None) for k in key[m:]):
        return None
    arrays = key[:m]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    parts = []
    for a in arrays:
        name = op.tracer.names.get(id(a))
        if name is None:
            name = g.const(to_numpy(a).astype(np.int64))
        elif np.dtype(a.dtype) != np.int64:
            name = g.cast(name, np.int64)
        if tuple(a.shape) != tuple(shape):
            name = g.node("Expand", [name, g.i64(shape)])
        parts.append(g.unsqueeze(name, [len(shape)]))
    return g.node("GatherND", [op.x(0), g.node("Concat", parts, axis=-1)])


@maps(I.GetItem)
def getitem(op):
    g = op.g
    key = _expand_key(op.fn.key, len(op.in_shape(0)))
    if sum(1 for k in key if _is_index_array(k)) > 1:
        y = _gather_nd(op, key)
        if y is not None:
            return y
    starts, ends, axes, steps = [], [], [], []
    picks, nones, arrays = [], [], []
    axis = out_axis = 0
    for k in key:
        if k is None:
            nones.append(out_axis)
            out_axis += 1
            continue
        if isinstance(k, slice):
            if k != slice(None) and k != slice(None, None, 1):
                step = 1 if k.step is None else int(k.step)
                start = k.start if k.start is not None else (0 if step > 0 else INT64_MAX)
                stop = k.stop if k.stop is not None else (INT64_MAX if step > 0 else INT64_MIN)
                starts.append(int(start))
                ends.append(int(stop))
                axes.append(axis)
                steps.append(step)
            axis += 1
            out_axis += 1
            continue
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            picks.append((axis, int(k)))
            axis += 1
            continue
        arr = np.asarray(to_numpy(k) if not isinstance(k, (list, tuple)) else k)
        if arr.dtype.kind not in "iu" or arrays:
            return op.unsupported(f"index key {op.fn.key!r}: only ints, slices, None, "
                                  "'...' and integer arrays are exported")
        name = op.tracer.names.get(id(k))  # indices computed by the graph stay in it
        if name is None:
            name = g.const(arr.astype(np.int64))
        elif arr.dtype != np.int64:
            name = g.cast(name, np.int64)
        arrays.append((axis, name))
        axis += 1
        out_axis += arr.ndim
    y = op.x(0)
    if starts:
        y = g.slice(y, starts, ends, axes, steps)
    if arrays and (picks or nones):
        return op.unsupported(f"index key {op.fn.key!r} mixes an integer array with ints or "
                              "None")
    for ax, name in arrays:
        y = g.node("Gather", [y, name], axis=ax)
    for ax, i in sorted(picks, reverse=True):
        y = g.node("Gather", [y, g.const(np.asarray(i, np.int64))], axis=ax)
    if nones:
        y = g.unsqueeze(y, nones)
    if y == op.x(0):
        y = g.node("Identity", [y])
    return y


# --- reductions --------------------------------------------------------------------------
def _reduce(op, onnx_op, axes, keepdim):
    axes = tuple(axes) if axes is not None else None
    if axes == ():
        return op.g.node("Identity", [op.x(0)])
    return op.g.reduce(onnx_op, op.x(0), axes, keepdim)


@maps(R.Sum)
def sum_(op):
    return _reduce(op, "ReduceSum", op.fn.axes, op.fn.keepdim)


@maps(R.Mean)
def mean(op):
    return _reduce(op, "ReduceMean", op.fn.axes, op.fn.keepdim)


@maps(R.Prod)
def prod(op):
    return _reduce(op, "ReduceProd", op.fn.axes, op.fn.keepdim)


@maps(R.LogSumExp)
def logsumexp(op):
    return _reduce(op, "ReduceLogSumExp", op.fn.axes, op.fn.keepdim)


@maps(R.Extreme)
def extreme(op):
    return _reduce(op, "ReduceMax" if op.fn.is_max else "ReduceMin", op.fn.axes, op.fn.keepdim)


@maps(R.Select)
def select(op):
    """max/min along a dim: (values, indices) as ReduceMax + ArgMax (first index wins)."""
    kind = op.fn.kind
    if kind not in ("max", "min"):
        return op.unsupported(f"only max/min along a dim are exported (not {kind or 'this'})")
    is_max = kind == "max"
    g, x, axis, keep = op.g, op.x(0), int(op.fn.axis), int(bool(op.fn.keepdim))
    vals = g.reduce("ReduceMax" if is_max else "ReduceMin", x, [axis], keep)
    idx = g.node("ArgMax" if is_max else "ArgMin", [x], axis=axis, keepdims=keep)
    return [vals, idx]


@maps(R.Var)
def var(op):
    g, x = op.g, op.x(0)
    axes = list(op.fn.axes)
    n = 1
    for a in axes:
        n *= op.in_shape(0)[a]
    dof = max(n - op.fn.correction, 0)
    d = g.node("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    ss = g.reduce("ReduceSum", g.node("Mul", [d, d]), axes, op.fn.keepdim)
    return g.node("Div", [ss, op.scalar(dof)])


@maps(R.CumSum)
def cumsum(op):
    g = op.g
    return g.node("CumSum", [op.x(0), g.const(np.asarray(int(op.fn.axis), np.int64))],
                  reverse=int(bool(op.fn.reverse)))
