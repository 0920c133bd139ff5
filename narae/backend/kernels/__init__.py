"""Hand-written CUDA kernels for the GPU paths NumPy-style array code cannot make fast.

Each ``*.cu`` file beside this module is CUDA C, compiled once per dtype with ``T`` defined as
that dtype (``typedef float T;``). Kernels are written in one restricted style -- one thread per
output element, grid-stride loops, no shared memory, no ``__syncthreads`` -- for two reasons:
they need no tuning per GPU, and the very same source runs on the CPU, compiled by g++ with a
sequential thread loop (``emulator.py``). The emulator lets the CPU test suite check every
kernel's index arithmetic and every op's GPU code path without a GPU.

Ops ask ``use_kernels(xp)`` and, when it is true, call the wrappers (``narae.backend.kernels.ops``
modules) instead of their array-module code. It is true for CuPy arrays (unless
``NARAE_CUDA_KERNELS=0``) and, for NumPy arrays, only while emulation is switched on
(``emulate()``; tests do this).
"""
import contextlib
import os

import numpy as np

from .signature import parse_kernels, convert_args

__all__ = ["use_kernels", "emulate", "emulating", "launch", "launch_1d", "source", "register",
           "kernel_sources", "BLOCK"]

BLOCK = 256
_MAX_GRID = 65535 * 16   # grid-stride loops cover the rest

_enabled_on_gpu = os.environ.get("NARAE_CUDA_KERNELS", "1") != "0"
_emulating = False
_HERE = os.path.dirname(os.path.abspath(__file__))
_sources = {}


def use_kernels(xp):
    """Should array code for arrays of module ``xp`` call the hand-written kernels?"""
    if xp is np:
        return _emulating
    return _enabled_on_gpu


def emulating():
    return _emulating


@contextlib.contextmanager
def emulate(on=True):
    """Within this block, NumPy arrays take the kernel paths too (run by the CPU emulator)."""
    global _emulating
    before, _emulating = _emulating, on
    try:
        yield
    finally:
        _emulating = before


def kernel_sources():
    """Names of the ``.cu`` files that ship with narae."""
    return sorted(f[:-3] for f in os.listdir(_HERE) if f.endswith(".cu"))


def source(name):
    """The text of ``<name>.cu`` and its kernels' signatures (read once)."""
    entry = _sources.get(name)
    if entry is None:
        with open(os.path.join(_HERE, name + ".cu")) as f:
            text = f.read()
        entry = _sources[name] = (text, parse_kernels(text))
    return entry


def register(name, text):
    """Add kernel source under ``name`` (for tests and extensions; files are found by name)."""
    _sources[name] = (text, parse_kernels(text))


def launch(module, kernel, dtype, grid, block, args):
    """Run ``kernel`` from ``<module>.cu`` compiled for ``dtype`` on the arrays in ``args``.

    Scalars are converted to the types the kernel declares (a Python int passed where the
    kernel takes ``int`` would otherwise be read as garbage on the GPU); array arguments must
    be C-contiguous and, where the kernel declares ``T*``, of ``dtype``.
    """
    text, signatures = source(module)
    try:
        params = signatures[kernel]
    except KeyError:
        raise KeyError(f"no kernel {kernel!r} in {module}.cu") from None
    dtype = np.dtype(dtype)
    args = convert_args(module, kernel, params, dtype, args)
    grid = grid if isinstance(grid, tuple) else (grid,)
    block = block if isinstance(block, tuple) else (block,)
    if isinstance(args[0], np.ndarray) or not any(hasattr(a, "__cuda_array_interface__")
                                                    for a in args):
        from . import emulator
        emulator.run(module, text, kernel, params, dtype, grid, block, args)
    else:
        from . import gpu
        gpu.run(module, text, kernel, dtype, grid, block, args)


def launch_1d(module, kernel, dtype, n, args):
    """Launch with enough 256-thread blocks for ``n`` grid-stride work items."""
    if n <= 0:
        return
    blocks = min((n + BLOCK - 1) // BLOCK, _MAX_GRID)
    launch(module, kernel, dtype, blocks, BLOCK, args)
