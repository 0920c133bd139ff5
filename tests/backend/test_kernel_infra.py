"""The kernel launcher and the CPU emulator: signatures, argument checks, grid-stride loops."""
import shutil
import subprocess

import numpy as np
import pytest

from narae.backend import kernels
from narae.backend.kernels.signature import parse_kernels

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")

DEMO = r'''
__device__ __forceinline__ T twice(T v) { return v + v; }

extern "C" __global__ void axpy(const T* __restrict__ x, T* y, T a, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        y[i] = a * x[i] + twice(y[i]);
}

extern "C" __global__ void count(const int* __restrict__ idx, T* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) atomicAdd(&out[idx[i]], (T)1);
}

extern "C" __global__ void grid2d(T* out, int w) {
    out[blockIdx.y * w + blockIdx.x * blockDim.x + threadIdx.x] = (T)(blockIdx.y * 100 + threadIdx.x);
}
'''
kernels.register("demo", DEMO)


def test_parse_signatures():
    sig = parse_kernels(DEMO)
    assert list(sig) == ["axpy", "count", "grid2d"]
    x, y, a, n = sig["axpy"]
    assert (x.base, x.pointer, y.pointer, a.base, n.base) == ("T", True, True, "T", "long long")
    assert sig["count"][0].base == "int" and sig["count"][0].pointer


@needs_gxx
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_emulated_grid_stride_loop(dtype):
    x = np.arange(1000, dtype=dtype)
    y = np.ones(1000, dtype=dtype)
    kernels.launch("demo", "axpy", dtype, 2, 64, [x, y, 3, 1000])  # 128 threads, 1000 items
    np.testing.assert_array_equal(y, 3 * x + 2)


@needs_gxx
def test_emulated_atomics_and_2d_grid():
    idx = np.array([0, 2, 2, 1, 2], dtype=np.int32)
    out = np.zeros(3, np.float32)
    kernels.launch_1d("demo", "count", np.float32, 5, [idx, out, 5])
    np.testing.assert_array_equal(out, [1, 1, 3])
    out = np.zeros((3, 8), np.float64)
    kernels.launch("demo", "grid2d", np.float64, (2, 3), 4, [out, 8])
    np.testing.assert_array_equal(out, np.tile(np.arange(4.0), 2) + 100 * np.arange(3)[:, None])


def test_argument_checks():
    x = np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="axpy takes 4 arguments"):
        kernels.launch("demo", "axpy", np.float32, 1, 32, [x, x, 1])
    with pytest.raises(TypeError, match="argument x must be float32"):
        kernels.launch("demo", "axpy", np.float32, 1, 32, [x.astype(np.float64), x, 1, 4])
    with pytest.raises(ValueError, match="argument y must be C-contiguous"):
        kernels.launch("demo", "axpy", np.float32, 1, 32, [x, np.zeros(8, np.float32)[::2], 1, 4])
    with pytest.raises(KeyError, match="no kernel 'nope'"):
        kernels.launch("demo", "nope", np.float32, 1, 32, [])


def test_use_kernels_switch():
    assert not kernels.use_kernels(np)
    with kernels.emulate():
        assert kernels.use_kernels(np)
    assert not kernels.use_kernels(np)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc (the CUDA toolkit)")
@pytest.mark.parametrize("name", kernels.kernel_sources() + ["demo"])
@pytest.mark.parametrize("ctype", ["float", "double"])
def test_sources_compile_with_nvcc(name, ctype, tmp_path):
    """Every shipped .cu file is valid CUDA C for both dtypes (NVRTC at run time sees the same
    text; nvcc here catches typos without a GPU)."""
    text = kernels.source(name)[0]
    src = tmp_path / "k.cu"
    src.write_text(f"typedef {ctype} T;\n{text}")
    r = subprocess.run(["nvcc", "-arch=sm_90", "-std=c++14", "--ptx", "-o", str(tmp_path / "k.ptx"),
                        str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
        return nvrtc
    except Exception:
        return None


@pytest.mark.skipif(_nvrtc() is None, reason="needs CuPy with the NVRTC library "
                    "(pip install 'cupy-cuda13x[ctk]'); no GPU needed")
@pytest.mark.parametrize("name", kernels.kernel_sources())
@pytest.mark.parametrize("ctype", ["float", "double"])
def test_sources_compile_with_nvrtc(name, ctype):
    """NVRTC is what CuPy's RawModule compiles with at run time: no host headers, so this is
    the stricter check (no GPU is needed to compile to PTX)."""
    nvrtc = _nvrtc()
    prog = nvrtc.createProgram(f"typedef {ctype} T;\n{kernels.source(name)[0]}", name + ".cu",
                               [], [])
    try:
        nvrtc.compileProgram(prog, ["--std=c++14", "--gpu-architecture=compute_90"])
        assert nvrtc.getPTX(prog)
    except Exception as e:
        pytest.fail(f"{name}.cu ({ctype}): {e}\n{nvrtc.getProgramLog(prog)}")
    finally:
        nvrtc.destroyProgram(prog)
