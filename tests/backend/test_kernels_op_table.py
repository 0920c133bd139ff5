"""The GPU op table (tests/gpu/test_gpu_ops.py) run on the CPU with the CUDA kernels emulated:
every op's kernel path (what CuPy arrays take) equals its NumPy path, forward and gradients.

On a machine without a GPU this is the strongest check of the GPU code that can run: the
kernels' index arithmetic and the ops' dispatch to them are exercised on every table entry.
What it cannot see is CuPy itself (NVRTC compilation, which nvcc stands in for, and launch).
"""
import shutil

import numpy as np
import pytest

import narae as nr
from narae.backend import kernels
from gpu.test_gpu_ops import LAYOUT_CASES, _close, _numpy, _run

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")


@pytest.mark.parametrize("case,fortran", LAYOUT_CASES,
                         ids=[f"{c.name}{'-noncontig' if f else ''}" for c, f in LAYOUT_CASES])
def test_kernel_path_matches_numpy_path(case, fortran):
    nr.manual_seed(0)
    want_outs, want_grads = _run(case, "cpu", fortran)
    nr.manual_seed(0)
    with kernels.emulate():
        got_outs, got_grads = _run(case, "cpu", fortran)
    assert len(got_outs) == len(want_outs)
    for k, (g, w) in enumerate(zip(got_outs, want_outs)):
        if isinstance(w, nr.Tensor):
            _close(_numpy(g), _numpy(w), case, f"output {k}")
        else:
            assert g == w
    for k, (g, w) in enumerate(zip(got_grads, want_grads)):
        if w is None:
            assert g is None or not np.any(_numpy(g))
        else:
            assert g is not None, f"{case}: gradient of input {k} missing on the kernel path"
            _close(_numpy(g), _numpy(w), case, f"gradient of input {k}")
