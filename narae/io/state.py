"""``save(obj, path)`` / ``load(path)`` for nested state: dicts, lists, tuples, numbers, tensors.

One ``.safetensors`` file holds it: every tensor is a safetensors entry; the structure around
them is JSON kept in ``__metadata__["narae.structure"]``. A flat ``{str: Tensor}`` state dict
keeps its keys as the tensor names, so other safetensors readers see the usual layout.
JSON (not pickle) means loading a file can never run code.

    nr.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, "ck.safetensors")
    state = nr.load("ck.safetensors")

Structure nodes: JSON numbers/strings/bools/null stand for themselves; containers are
one-key objects: ``{"T": name}`` a Tensor, ``{"A": name}`` a NumPy array,
``{"S": [indices name, values name, shape, coalesced]}`` a sparse COO tensor,
``{"D": [[k, v]...]}`` a dict (keys keep their type: str, int, float, bool or None), ``{"L": [...]}`` a list and
``{"U": [...]}`` a tuple.
"""
import json
import math

import numpy as np

from . import safetensors as st

__all__ = ["save", "load", "STRUCTURE_KEY"]

STRUCTURE_KEY = "narae.structure"
FORMAT = "narae-state-v1"


class _Encoder:
    def __init__(self):
        self.tensors = {}

    def name_for(self, path):
        name = ".".join(str(p) for p in path) or "tensor"
        unique, n = name, 1
        while unique in self.tensors or unique == "__metadata__":
            unique, n = f"{name}#{n}", n + 1
        return unique

    def encode(self, obj, path):
        from ..tensor import Tensor
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return obj
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, Tensor) and _is_sparse(obj):
            # a sparse COO tensor: its indices and values are two entries; shape in JSON
            sp = obj._data
            ix = self.name_for(path + ("indices",))
            self.tensors[ix] = Tensor(sp.indices)
            vals = self.name_for(path + ("values",))
            self.tensors[vals] = Tensor(sp.values)
            return {"S": [ix, vals, list(sp.shape), sp.coalesced]}
        if isinstance(obj, Tensor):
            name = self.name_for(path)
            self.tensors[name] = obj
            return {"T": name}
        if isinstance(obj, np.ndarray):
            name = self.name_for(path)
            self.tensors[name] = obj
            return {"A": name}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not (k is None or isinstance(k, (str, int, float, bool))):
                    raise TypeError(f"save: dict key {k!r} at {_show(path)} must be a str, "
                                    "int, float, bool or None")
                items.append([k, self.encode(v, path + (k,))])
            return {"D": items}
        if isinstance(obj, (list, tuple)):
            key = "U" if isinstance(obj, tuple) else "L"
            return {key: [self.encode(v, path + (i,)) for i, v in enumerate(obj)]}
        raise TypeError(f"save: cannot store a {type(obj).__name__} at {_show(path)} "
                        "(only tensors, arrays, numbers, strings, None and dict/list/tuple)")


def _is_sparse(t):
    return type(t._data).__name__ == "SparseCOOArray"


def _show(path):
    return "the top level" if not path else "key " + "/".join(repr(p) for p in path)


def _decode(node, tensors, where):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict) and len(node) == 1:
        (kind, value), = node.items()
        if kind in ("T", "A"):
            if not isinstance(value, str) or value not in tensors:
                raise ValueError(f"{where}: structure refers to missing tensor {value!r}")
            t = tensors[value]
            return np.asarray(t) if kind == "A" else t
        if kind == "S" and isinstance(value, list) and len(value) == 4:
            ix, vals, shape, coalesced = value
            if ix not in tensors or vals not in tensors:
                raise ValueError(f"{where}: structure refers to missing sparse parts {value!r}")
            from ..sparse import SparseCOOArray, SparseTensor
            return SparseTensor(SparseCOOArray(tensors[ix]._data, tensors[vals]._data,
                                               tuple(shape), bool(coalesced)))
        if kind == "D" and isinstance(value, list):
            out = {}
            for item in value:
                if not (isinstance(item, list) and len(item) == 2):
                    raise ValueError(f"{where}: malformed dict entry {item!r} in structure")
                out[item[0]] = _decode(item[1], tensors, where)
            return out
        if kind == "L" and isinstance(value, list):
            return [_decode(v, tensors, where) for v in value]
        if kind == "U" and isinstance(value, list):
            return tuple(_decode(v, tensors, where) for v in value)
    raise ValueError(f"{where}: malformed structure node {node!r}")


def _json_float(token):
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[token]


def save(obj, path, metadata=None):
    """Write a nested state (e.g. ``{"model": sd, "optimizer": osd}``) atomically to ``path``."""
    enc = _Encoder()
    structure = enc.encode(obj, ())
    meta = dict(metadata or {})
    meta["format"] = FORMAT
    meta[STRUCTURE_KEY] = json.dumps(structure, separators=(",", ":"))
    st.save_file(enc.tensors, path, metadata=meta, complex128_pairs=True)


def load(path, device="cpu"):
    """Read what ``save`` wrote; a plain safetensors file comes back as ``{name: Tensor}``."""
    where = st._where(path)
    meta, tensors = st.load_file_with_metadata(path, device=device)
    if STRUCTURE_KEY not in meta:
        return tensors
    try:
        structure = json.loads(meta[STRUCTURE_KEY], parse_constant=_json_float)
    except ValueError as e:
        raise ValueError(f"{where}: {STRUCTURE_KEY} metadata is not valid JSON ({e})") from None
    return _decode(structure, tensors, where)
