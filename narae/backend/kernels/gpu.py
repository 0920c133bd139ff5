"""Compiling kernels with CuPy (NVRTC) and launching them on the current stream."""
from ..arrays import _load_cupy

_modules = {}


def _module(name, text, dtype, device_id):
    key = (name, dtype.str, device_id)
    mod = _modules.get(key)
    if mod is None:
        cp = _load_cupy()
        ctype = {"f4": "float", "f8": "double", "f2": "__half"}.get(dtype.str[1:])
        if ctype is None:
            raise TypeError(f"{name}.cu kernels are built for float32/float64, not {dtype}")
        prefix = "#include <cuda_fp16.h>\n" if ctype == "__half" else ""
        code = f"{prefix}typedef {ctype} T;\n{text}"
        mod = _modules[key] = cp.RawModule(code=code, options=("--std=c++14",))
    return mod


def run(name, text, kernel, dtype, grid, block, args):
    cp = _load_cupy()
    device_id = cp.cuda.Device().id
    _module(name, text, dtype, device_id).get_function(kernel)(grid, block, tuple(args))
