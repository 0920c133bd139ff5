"""Reading kernel signatures out of CUDA source, and converting launch arguments to them."""
import re

import numpy as np

__all__ = ["parse_kernels", "convert_args", "Param"]

_KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)
_SCALARS = {
    "int": np.int32, "unsigned int": np.uint32, "long long": np.int64,
    "unsigned long long": np.uint64, "float": np.float32, "double": np.float64,
    "bool": np.bool_, "char": np.int8, "unsigned char": np.uint8,
}
_POINTEES = {"float": np.float32, "double": np.float64, "int": np.int32,
             "long long": np.int64, "unsigned char": np.uint8, "char": np.int8,
             "bool": np.bool_, "unsigned int": np.uint32, "unsigned long long": np.uint64}


class Param:
    """One kernel parameter: its name, base type ('T', 'float', 'long long'...), pointer or not."""
    __slots__ = ("name", "base", "pointer")

    def __init__(self, name, base, pointer):
        self.name, self.base, self.pointer = name, base, pointer

    def __repr__(self):
        return f"Param({self.base}{'*' if self.pointer else ''} {self.name})"


def _parse_param(text):
    text = " ".join(text.replace("*", " * ").split())
    words = [w for w in text.split(" ") if w not in ("const", "__restrict__", "volatile")]
    pointer = "*" in words
    words = [w for w in words if w != "*"]
    if len(words) < 2:
        raise ValueError(f"cannot read kernel parameter {text!r}")
    return Param(words[-1], " ".join(words[:-1]), pointer)


def parse_kernels(source):
    """{kernel name: [Param, ...]} for every ``extern "C" __global__`` function in ``source``."""
    out = {}
    for name, params in _KERNEL.findall(source):
        params = params.strip()
        out[name] = [_parse_param(p) for p in params.split(",")] if params else []
    return out


def _array_dtype(a):
    return np.dtype(a.dtype)


def convert_args(module, kernel, params, dtype, args):
    """Check arrays and cast scalars to the declared C types (numpy scalars, as CuPy needs)."""
    where = f"{module}.cu:{kernel}"
    if len(args) != len(params):
        raise TypeError(f"{where} takes {len(params)} arguments, got {len(args)}")
    out = []
    for p, a in zip(params, args):
        if p.pointer:
            if not hasattr(a, "dtype") or not hasattr(a, "shape") or np.ndim(a) == 0 and \
                    not hasattr(a, "__cuda_array_interface__") and not isinstance(a, np.ndarray):
                raise TypeError(f"{where}: argument {p.name} must be an array, got {type(a)}")
            want = dtype if p.base == "T" else np.dtype(_POINTEES[p.base]) \
                if p.base in _POINTEES else None
            if want is not None and _array_dtype(a) != want:
                raise TypeError(f"{where}: argument {p.name} must be {want}, got {a.dtype}")
            if not a.flags.c_contiguous:
                raise ValueError(f"{where}: argument {p.name} must be C-contiguous")
            out.append(a)
        else:
            kind = dtype.type if p.base == "T" else _SCALARS.get(p.base)
            if kind is None:
                raise TypeError(f"{where}: unsupported scalar parameter type {p.base!r}")
            out.append(kind(a))
    return out
