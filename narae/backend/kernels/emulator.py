"""Running the CUDA kernels on the CPU: g++ compiles the same source with a sequential loop
over blocks and threads standing in for the GPU. Exact for kernels in our style (no shared
memory, no ``__syncthreads``, atomics only as plain read-modify-write), which is all of ours.
Used by the tests; compiled libraries are cached by source hash in the temp directory.
"""
import ctypes
import hashlib
import os
import subprocess
import tempfile

import numpy as np

__all__ = ["run", "compile_library"]

PRELUDE = r"""
#include <cmath>
#include <cstdint>
#include <algorithm>
using namespace std;
struct narae_dim3 { unsigned int x, y, z; };
static narae_dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
template <typename U> inline U atomicAdd(U* address, U value) {
    U old = *address; *address = old + value; return old; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
"""

_CTYPES = {"T": None, "int": ctypes.c_int32, "unsigned int": ctypes.c_uint32,
           "long long": ctypes.c_int64, "unsigned long long": ctypes.c_uint64,
           "float": ctypes.c_float, "double": ctypes.c_double, "bool": ctypes.c_bool,
           "char": ctypes.c_int8, "unsigned char": ctypes.c_uint8}
_CTYPE_NAMES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_libraries = {}


def _launcher(kernel, params):
    decl = ", ".join(f"{'const void*' if p.pointer else p.base} {p.name}" for p in params)
    call = ", ".join(f"({p.base}*){p.name}" if p.pointer else p.name for p in params)
    # const-qualified pointee types are accepted through the implicit conversion from T*
    sep = ", " if decl else ""
    return f"""
extern "C" void narae_launch_{kernel}(unsigned int narae_gx, unsigned int narae_gy,
        unsigned int narae_gz, unsigned int narae_bx, unsigned int narae_by,
        unsigned int narae_bz{sep}{decl}) {{
    gridDim = narae_dim3{{narae_gx, narae_gy, narae_gz}};
    blockDim = narae_dim3{{narae_bx, narae_by, narae_bz}};
    for (unsigned int narae_z = 0; narae_z < narae_gz; ++narae_z)
    for (unsigned int narae_y = 0; narae_y < narae_gy; ++narae_y)
    for (unsigned int narae_x = 0; narae_x < narae_gx; ++narae_x) {{
        blockIdx = narae_dim3{{narae_x, narae_y, narae_z}};
        for (unsigned int narae_tz = 0; narae_tz < narae_bz; ++narae_tz)
        for (unsigned int narae_ty = 0; narae_ty < narae_by; ++narae_ty)
        for (unsigned int narae_tx = 0; narae_tx < narae_bx; ++narae_tx) {{
            threadIdx = narae_dim3{{narae_tx, narae_ty, narae_tz}};
            {kernel}({call});
        }}
    }}
}}
"""


def compile_library(module, text, signatures, dtype):
    """Compile ``text`` for ``dtype`` with launchers for every kernel; returns a ctypes CDLL."""
    ctype = _CTYPE_NAMES.get(np.dtype(dtype))
    if ctype is None:
        raise TypeError(f"emulated kernels support float32/float64, not {dtype}")
    body = text.replace('extern "C" __global__', "static")
    code = (PRELUDE + f"typedef {ctype} T;\n" + body +
            "".join(_launcher(k, ps) for k, ps in signatures.items()))
    digest = hashlib.sha1(code.encode()).hexdigest()[:16]
    key = (module, digest)
    lib = _libraries.get(key)
    if lib is not None:
        return lib
    folder = os.path.join(tempfile.gettempdir(), f"narae-kernel-emulator-{os.getuid()}")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{module}-{ctype}-{digest}.so")
    if not os.path.exists(path):
        src = path[:-3] + ".cpp"
        with open(src, "w") as f:
            f.write(code)
        tmp = f"{path}.{os.getpid()}.tmp"
        result = subprocess.run(["g++", "-O2", "-std=c++17", "-shared", "-fPIC", "-w",
                                 "-o", tmp, src], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"emulator: g++ failed on {module}.cu:\n{result.stderr[-4000:]}")
        os.replace(tmp, path)
    lib = _libraries[key] = ctypes.CDLL(path)
    return lib


def run(module, text, kernel, params, dtype, grid, block, args):
    from . import source
    lib = compile_library(module, text, source(module)[1], dtype)
    fn = getattr(lib, f"narae_launch_{kernel}")
    grid = tuple(grid) + (1,) * (3 - len(grid))
    block = tuple(block) + (1,) * (3 - len(block))
    cargs = [ctypes.c_uint32(v) for v in grid + block]
    for p, a in zip(params, args):
        if p.pointer:
            cargs.append(ctypes.c_void_p(a.ctypes.data))
        else:
            ct = _CTYPES[p.base] or {"float": ctypes.c_float, "double": ctypes.c_double}[
                _CTYPE_NAMES[np.dtype(dtype)]]
            cargs.append(ct(a.item() if hasattr(a, "item") else a))
    fn(*cargs)
