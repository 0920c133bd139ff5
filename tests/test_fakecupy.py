"""The strict fake CuPy (tests/fakecupy.py) refuses what CuPy refuses and installs cleanly.

``NARAE_GPU_TEST_DEVICE=fake`` trusts these refusals to find host/device mistakes in the GPU
code paths; a fake that quietly computed with NumPy would pass everything and prove nothing.
"""
import copy
import pickle

import numpy as np
import pytest

import fakecupy
import narae as nr
import narae.backend.arrays as arrays

cp = fakecupy.cupy


def _gpu(*shape):
    return cp.asarray(np.arange(float(np.prod(shape))).reshape(shape))


@pytest.mark.parametrize("expr", [
    lambda a, h: a + h,                          # operator
    lambda a, h: h * a,                          # NumPy's operator defers to the device array
    lambda a, h: cp.maximum(a, h),               # cupy ufunc
    lambda a, h: np.exp(a) + np.array(1.0),      # 0-d host arrays too (CuPy takes scalars only)
    lambda a, h: np.concatenate([a, h[None]]),   # np.* function dispatched to cupy.*
    lambda a, h: cp.where(a > 0, a, h),
    lambda a, h: a.__iadd__(h),
], ids=["op", "rop", "ufunc", "0-d", "concatenate", "where", "inplace"])
def test_host_operands_raise_type_error(expr):
    with pytest.raises(TypeError, match="Unsupported type"):
        expr(_gpu(2, 3), np.ones(3))


@pytest.mark.parametrize("convert", [np.asarray, np.array, np.ascontiguousarray,
                                     lambda a: np.float64(a), lambda a: np.ones(3) + [a]])
def test_implicit_conversion_to_numpy_raises(convert):
    with pytest.raises(TypeError, match="Implicit conversion"):
        convert(_gpu(3))


def test_assignment_rules_follow_cupy():
    a = _gpu(2, 3)
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray"):
        a[0] = np.ones(3)                       # basic index: fill() takes scalars only
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray"):
        cp.copyto(a, np.ones((2, 3)))
    a[np.array([1])] = np.full((1, 3), 7.0)     # advanced index: the host values are copied over
    a[0] = cp.asarray(np.full(3, 5.0))
    a[..., 0] = np.float32(2)
    np.testing.assert_array_equal(a.get(), [[2, 5, 5], [2, 7, 7]])


def test_results_are_device_arrays_and_scalars_are_0d():
    a = _gpu(2, 3)
    for r in (np.exp(a), a.sum(axis=0), np.sum(a), a[1, 2], cp.add(1.0, 2.0), a.T @ a):
        assert type(r).__module__.startswith("cupy") and not isinstance(r, np.ndarray)
    v = a[0, 1]                                 # a 0-d view, as CuPy returns
    v[...] = 100
    assert float(a[0, 1]) == 100 and a.sum().ndim == 0
    assert cp.ascontiguousarray(a) is a and a.astype(a.dtype, copy=False) is a


def test_missing_cupy_features_are_refused():
    a = _gpu(4)
    with pytest.raises(AttributeError):
        a.ctypes
    with pytest.raises(NotImplementedError):
        cp.maximum.reduce(a)
    with pytest.raises(NotImplementedError):
        cp.multiply.at(a, cp.asarray([0]), 2.0)
    with pytest.raises(TypeError, match="scatter_add only supports"):
        cp.add.at(cp.zeros(3, np.int64), cp.asarray([0, 0]), 1)
    with pytest.raises(AttributeError):
        cp.frompyfunc
    z = cp.zeros(3, np.float32)
    cp.add.at(z, np.array([0, 0, 2]), 1.0)      # host indices are fine
    np.testing.assert_array_equal(z.get(), [2, 0, 1])


def test_transfers_copy_and_pickling_keeps_the_device():
    h = np.ones(3)
    g = cp.asarray(h)
    h[0] = 5                                    # device memory is separate
    assert g.get()[0] == 1 and cp.asnumpy(g) is not h
    g.set(np.full(3, 2.0))
    with pytest.raises(TypeError):
        g.set(np.full(3, 2, np.int32))
    assert g.data.ptr == g.__cuda_array_interface__["data"][0] and g.device.id == 0
    for c in (copy.deepcopy(g), pickle.loads(pickle.dumps(g))):
        assert type(c) is fakecupy.FakeArray and c.get().tolist() == [2, 2, 2]


def test_install_makes_narae_use_it_and_uninstall_restores():
    before = (arrays._cupy, arrays._cupy_checked, fakecupy.is_installed())
    with fakecupy.installed():
        assert nr.cuda.is_available() and nr.cuda.device_count() == 1
        g = nr.ones(2, 3, device="cuda")
        assert g.is_cuda and type(g._data) is fakecupy.FakeArray
        assert (g * 2).sum().item() == 12 and g.cpu().numpy().tolist() == [[1] * 3] * 2
        with pytest.raises(TypeError, match="cpu"):
            g.numpy()
        with pytest.raises(RuntimeError, match="same device"):
            g + nr.ones(2, 3)
        import cupyx
        assert cupyx is fakecupy.cupyx
    assert (arrays._cupy, arrays._cupy_checked, fakecupy.is_installed()) == before


def test_kernels_run_through_raw_module_on_device_arrays_only(monkeypatch):
    import narae.nn.functional as F
    launched = []
    call = fakecupy.RawKernel.__call__
    monkeypatch.setattr(fakecupy.RawKernel, "__call__",
                        lambda self, *a, **k: launched.append(self.name) or call(self, *a, **k))
    with fakecupy.installed():
        x = nr.tensor([[-1.0, 2.0]], device="cuda", requires_grad=True)
        y = F.relu(x)                           # the fused activation kernel, via cupy.RawModule
        y.sum().backward()
        assert launched == ["relu_fwd", "relu_bwd"]
        assert y.detach().cpu().numpy().tolist() == [[0, 2]]
        assert x.grad.cpu().numpy().tolist() == [[0, 1]]
        kernel = cp.RawModule(code="typedef float T;\n" + _KERNEL).get_function("twice")
        out = cp.zeros(3, np.float32)
        kernel((1,), (3,), (cp.asarray(np.arange(3, dtype=np.float32)), out, np.int32(3)))
        assert out.get().tolist() == [0, 2, 4]
        with pytest.raises(TypeError, match="Unsupported type"):
            kernel((1,), (3,), (np.arange(3, dtype=np.float32), out, np.int32(3)))


_KERNEL = r'''
extern "C" __global__ void twice(const T* x, T* y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        y[i] = 2 * x[i];
}
'''


# -- CUDA-graph capture: recorded, not run; replayed on the same memory ---------------------------
def _capture(fn):
    """Run ``fn()`` while a fresh stream captures; (graph, what fn returned)."""
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        stream.begin_capture(mode=cp.cuda.runtime.streamCaptureModeRelaxed)
        try:
            out = fn()
        finally:
            graph = stream.end_capture()
    return graph, out


def test_capture_records_work_without_running_it():
    a = _gpu(3)
    acc = cp.zeros(3)

    def step():
        b = a * 2 + 1                      # new arrays: poisoned until a replay computes them
        acc[...] += b                      # in place: withheld until a replay
        a[1] = 10.0                        # __setitem__ too
        return b, a[1:], cp.sum(b), b.astype(np.int64)
    graph, (b, view, total, ints) = _capture(step)
    assert np.isnan(b._a).all() and np.isnan(total._a) and (ints._a == -1).all()
    assert acc.get().tolist() == [0, 0, 0] and a.get().tolist() == [0, 1, 2]
    assert view._a.base is not None and np.shares_memory(view._a, a._a)   # views stay views
    graph.upload()
    graph.launch()
    assert b.get().tolist() == [1, 3, 5] and total.item() == 9 and ints.get().tolist() == [1, 3, 5]
    assert acc.get().tolist() == [1, 3, 5] and a.get().tolist() == [0, 10, 2]
    assert view.get().tolist() == [10, 2]
    graph.launch()                         # the same work on the same memory, with a[1] == 10
    assert b.get().tolist() == [1, 21, 5] and acc.get().tolist() == [2, 24, 10]


def test_capture_records_kernels_uploads_scatters_and_copies():
    kernel = cp.RawModule(code="typedef float T;\n" + _KERNEL).get_function("twice")
    host = fakecupy.cupyx.empty_pinned(3, np.float32)
    host[...] = [1, 2, 3]
    x, y = cp.zeros(3, np.float32), cp.zeros(3, np.float32)
    hist = cp.zeros(2, np.float32)
    index = cp.asarray(np.array([0, 1, 1]))  # uploaded before: pageable copies cannot be captured
    seven = cp.asarray(np.float32(7))
    stream = cp.cuda.Stream(non_blocking=True)

    def step():
        x.set(host, stream=stream)         # reads the pinned buffer at every replay
        kernel((1,), (3,), (x, y, np.int32(3)))
        cp.add.at(hist, index, x[:3])
        return cp.array(y, copy=True), seven * 1
    with stream:
        stream.begin_capture()
        assert stream.is_capturing()
        try:
            copy_, const = step()
        finally:
            graph = stream.end_capture()
    assert not stream.is_capturing()
    assert y.get().tolist() == [0, 0, 0] and np.isnan(copy_._a).all() and np.isnan(const._a)
    graph.launch()
    assert copy_.get().tolist() == [2, 4, 6] and const.item() == 7
    assert hist.get().tolist() == [1, 5]
    host[...] = [5, 6, 7]
    graph.launch()
    assert y.get().tolist() == [10, 12, 14] and copy_.get().tolist() == [10, 12, 14]
    assert hist.get().tolist() == [6, 18]


@pytest.mark.parametrize("read", [
    lambda a: a.item(), lambda a: float(a[0]), lambda a: int(a[0]), lambda a: bool(a[0]),
    lambda a: a.get(), lambda a: cp.asnumpy(a), lambda a: a.tolist(), lambda a: repr(a),
    lambda a: f"{a[0]:.2f}", lambda a: a[a > 0], lambda a: cp.nonzero(a), lambda a: a.nonzero(),
    lambda a: cp.cuda.Device().synchronize(), lambda a: cp.cuda.get_current_stream().synchronize(),
    lambda a: a.set(np.zeros(3)),             # a synchronous copy (no stream=)
    lambda a: cp.asarray(np.zeros(3)),        # a copy from pageable host memory
    lambda a: range(10)[a[0].astype(np.int64)],
])
def test_host_reads_inside_a_capture_raise(read):
    a = _gpu(3)
    with pytest.raises(fakecupy.CUDARuntimeError, match="cudaErrorStreamCaptureUnsupported"):
        _capture(lambda: read(a))
    assert a.get().tolist() == [0, 1, 2]   # and the capture ended: reads work again


def test_capture_state_errors():
    s = cp.cuda.Stream()
    with pytest.raises(fakecupy.CUDARuntimeError, match="not capturing"):
        s.end_capture()
    s.begin_capture()
    try:
        with pytest.raises(fakecupy.CUDARuntimeError, match="capturing already"):
            cp.cuda.Stream().begin_capture()
    finally:
        s.end_capture()
    other = _gpu(2)

    def elsewhere():                           # work on another stream runs at once
        nonlocal other
        with cp.cuda.Stream.null:
            other += 1
    graph, _ = _capture(elsewhere)
    assert other.get().tolist() == [1, 2] and graph._ops == []
