"""The ONNX graph under construction: nodes, initializers and opset-aware node helpers.

Nodes are kept as plain tuples until the end, so graph outputs can still be renamed; the
writer (``_writer``) turns them into an ``onnx.ModelProto``. Nothing here imports onnx.
"""
import numpy as np

__all__ = ["Graph", "to_numpy"]

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def to_numpy(a, copy=True):
    """A host NumPy copy of a NumPy or CuPy array (or a number); ``copy=False`` lets a NumPy
    array through as it is (parameters: large, and not changed while exporting)."""
    if hasattr(a, "get") and not isinstance(a, np.ndarray):
        return a.get()
    return np.array(a) if copy else np.asarray(a)


class Graph:
    """Nodes and initializers of one graph, with unique torch-style names ("/layer/Conv")."""

    def __init__(self, opset):
        self.opset = opset
        self.nodes = []          # [op_type, inputs, outputs, attrs, node name]
        self.initializers = {}   # name -> NumPy array (insertion order kept)
        self.scope = ""          # "/encoder/0": the module path of the op being mapped
        self._used = set()
        self._const_cache = {}

    def fresh(self, base):
        """A name no other value or node has yet: ``base``, ``base_1``, ..."""
        name, i = base, 0
        while name in self._used:
            i += 1
            name = f"{base}_{i}"
        self._used.add(name)
        return name

    def node(self, op_type, inputs, n_out=1, **attrs):
        """Add a node; returns its output name (or the list of them when ``n_out > 1``)."""
        attrs = {k: v for k, v in attrs.items() if v is not None}
        name = self.fresh(f"{self.scope}/{op_type}")
        outs = [self.fresh(f"{name}_output_{i}") for i in range(n_out)]
        self.nodes.append([op_type, list(inputs), outs, attrs, name])
        return outs[0] if n_out == 1 else outs

    def const(self, value, dtype=None, name=None):
        """An initializer holding ``value`` (cached for small arrays: one per distinct value)."""
        arr = np.asarray(value if dtype is None else np.asarray(value).astype(dtype))
        if arr.dtype == np.float64 and dtype is None and not isinstance(value, np.ndarray):
            arr = arr.astype(np.float32)
        key = None
        if name is None and arr.size <= 64:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            hit = self._const_cache.get(key)
            if hit is not None:
                return hit
        name = self.fresh(name or f"onnx::Constant_{len(self.initializers)}")
        self.initializers[name] = arr
        if key is not None:
            self._const_cache[key] = name
        return name

    def add_initializer(self, name, array):
        self._used.add(name)
        self.initializers[name] = array
        return name

    def i64(self, values):
        """A 1-D int64 initializer (axes, shapes, pads...)."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1), np.int64)

    # -- opset-aware helpers ------------------------------------------------------------------
    def reduce(self, op_type, x, axes, keepdims):
        """Reduce* over ``axes`` (None: all); the axes moved from attribute to input at 13
        (ReduceSum) or 18 (the others)."""
        keep = int(bool(keepdims))
        if axes is not None:
            axes = [int(a) for a in axes]
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if axes is None:
            return self.node(op_type, [x], keepdims=keep)
        if as_input:
            return self.node(op_type, [x, self.i64(axes)], keepdims=keep)
        return self.node(op_type, [x], axes=axes, keepdims=keep)

    def unsqueeze(self, x, axes):
        return self.node("Unsqueeze", [x, self.i64(axes)])

    def squeeze(self, x, axes):
        return self.node("Squeeze", [x, self.i64(axes)])

    def reshape(self, x, shape):
        return self.node("Reshape", [x, self.i64(shape)])

    def cast(self, x, np_dtype):
        from ._dtypes import onnx_type
        return self.node("Cast", [x], to=onnx_type(np_dtype))

    def slice(self, x, starts, ends, axes, steps=None):
        ins = [x, self.i64(starts), self.i64(ends), self.i64(axes)]
        if steps is not None and any(s != 1 for s in steps):
            ins.append(self.i64(steps))
        return self.node("Slice", ins)
