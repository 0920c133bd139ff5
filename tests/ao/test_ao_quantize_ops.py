"""narae.ops.quantize: fake quantization (forward, straight-through and LSQ gradients) and
quantized tensors, against torch."""
import warnings

import numpy as np
import pytest
import torch

import narae as nr
from narae import _dtype
from narae.ops import quantize as Q
from helpers import check, randn, rand

warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*deprecated")
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated")


def lib(m):
    """The namespace holding the quantization functions: narae.ops.quantize or torch."""
    return Q if m is nr else torch


def halves(*shape, scale=0.25):
    """Values on and near rounding boundaries x / scale = k + 1/2 (half-to-even matters)."""
    a = randn(*shape) * 3
    flat = a.reshape(-1)
    k = np.arange(flat.size // 2) - flat.size // 4
    flat[:k.size] = (k + 0.5) * scale
    return a


@pytest.mark.parametrize("scale,zp,qmin,qmax", [(0.25, 3, 0, 255), (0.1, 0, -128, 127),
                                                 (0.3, -2, -8, 7), (0.5, 0, 0, 0),
                                                 (0.17, 5, -20, 20)])
def test_fake_quantize_per_tensor(scale, zp, qmin, qmax):
    check(lambda m, x: lib(m).fake_quantize_per_tensor_affine(x, scale, zp, qmin, qmax),
          halves(4, 6), double=True, gradcheck=False)


def test_fake_quantize_per_tensor_tensor_qparams_and_float64():
    x = halves(3, 8)
    for zp in (torch.tensor(2, dtype=torch.int32), torch.tensor(2), torch.tensor([2.0])):
        want = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), torch.tensor([0.25]),
                                                     zp, 0, 15)
        got = Q.fake_quantize_per_tensor_affine(nr.from_numpy(x), nr.tensor([0.25]),
                                                nr.from_numpy(zp.numpy()), 0, 15)
        assert got.dtype == nr.float64
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_fake_quantize_gradient_is_straight_through():
    x = nr.tensor([-3.0, -0.3, 0.0, 0.2, 0.9, 5.0], requires_grad=True)
    Q.fake_quantize_per_tensor_affine(x, 0.1, 0, -8, 7).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 1, 0, 0])


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("zp_dtype", [np.int32, np.float32])
def test_fake_quantize_per_channel(axis, zp_dtype):
    x = halves(3, 4, 5, scale=0.2)
    n = x.shape[axis]
    s = rand(n, low=0.05, high=0.4).astype(np.float32)
    shape = [1, 1, 1]
    shape[axis] = n
    k = np.round(x / s.reshape(shape))
    x[0] = ((k + 0.5) * s.reshape(shape))[0]  # halfway cases for every channel
    z = (np.arange(n) - 1).astype(zp_dtype) + (0.3 if zp_dtype is np.float32 else 0)
    check(lambda m, x, s, z: lib(m).fake_quantize_per_channel_affine(x, s, z, axis, -10, 10),
          x, s, z.astype(zp_dtype), diff=[0], double=True, gradcheck=False)


@pytest.mark.parametrize("zp", [3.0, 2.5, -3.7, 1.5, 9.0])
@pytest.mark.parametrize("scale", [0.25, 0.1])
def test_learnable_per_tensor(zp, scale):
    x = halves(5, 6, scale=scale)
    check(lambda m, x, s, z: lib(m)._fake_quantize_learnable_per_tensor_affine(
        x, s, z, -8, 7, 0.7), x, np.array([scale]), np.array([zp]), gradcheck=False)


@pytest.mark.parametrize("axis", [0, 1])
def test_learnable_per_channel(axis):
    n = (4, 5)[axis]
    s = rand(n, low=0.05, high=0.4)
    x = randn(4, 5) * 3
    k = np.round(x / s.reshape((n, 1) if axis == 0 else (1, n)))
    x[:2] = ((k + 0.5) * s.reshape((n, 1) if axis == 0 else (1, n)))[:2]
    z = np.array([0.2, 1.5, 2.5, -1.0, 12.0][:n])
    check(lambda m, x, s, z: lib(m)._fake_quantize_learnable_per_channel_affine(
        x, s, z, axis, -8, 7), x, s, z, gradcheck=False)


def test_fake_quantize_errors():
    x = nr.randn(2, 3)
    with pytest.raises(RuntimeError, match="quant_min"):
        Q.fake_quantize_per_tensor_affine(x, 0.1, 0, 10, 5)
    with pytest.raises(RuntimeError, match="zero_point"):
        Q.fake_quantize_per_tensor_affine(x, 0.1, 300, 0, 255)
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        Q.fake_quantize_per_channel_affine(x, nr.tensor([0.1, 0.2]),
                                           nr.tensor([0, 1], dtype=nr.int32), 1, 0, 255)
    with pytest.raises(RuntimeError, match="Int32"):
        Q.fake_quantize_per_channel_affine(x, nr.tensor([0.1, 0.2, 0.3]), nr.tensor([0, 1, 2]),
                                           1, 0, 255)
    with pytest.raises(RuntimeError, match="axis"):
        Q.fake_quantize_per_channel_affine(x, nr.tensor([0.1, 0.2, 0.3]),
                                           nr.tensor([0, 1, 2], dtype=nr.int32), -1, 0, 255)
    with pytest.raises(IndexError):
        Q.fake_quantize_per_channel_affine(x, nr.tensor([0.1, 0.2, 0.3]),
                                           nr.tensor([0, 1, 2], dtype=nr.int32), 2, 0, 255)


QDTYPES = [(_dtype.quint8, torch.quint8), (_dtype.qint8, torch.qint8),
           (_dtype.qint32, torch.qint32)]


@pytest.mark.parametrize("ours,theirs", QDTYPES, ids=lambda d: str(d))
def test_quantize_per_tensor(ours, theirs):
    x = halves(5, 7, scale=0.13)
    t = torch.quantize_per_tensor(torch.from_numpy(x.astype(np.float32)), 0.1, 3, theirs)
    q = Q.quantize_per_tensor(nr.from_numpy(x.astype(np.float32)), 0.1, 3, ours)
    np.testing.assert_array_equal(q.int_repr().numpy(), t.int_repr().numpy())
    assert q.int_repr().dtype.name == str(t.int_repr().dtype)[6:]
    np.testing.assert_array_equal(q.dequantize().numpy(), t.dequantize().numpy())
    np.testing.assert_array_equal(Q.dequantize(q).numpy(), t.dequantize().numpy())
    assert q.dtype is ours and q.is_quantized and not q.is_floating_point()
    assert q.q_scale() == t.q_scale() and q.q_zero_point() == t.q_zero_point()
    assert q.qscheme() is _dtype.per_tensor_affine and q.shape == tuple(t.shape)
    assert not nr.randn(2).is_quantized


@pytest.mark.parametrize("ours,theirs", QDTYPES, ids=lambda d: str(d))
@pytest.mark.parametrize("axis", [0, 1])
def test_quantize_per_channel(ours, theirs, axis):
    x = randn(4, 5) * 2
    n = x.shape[axis]
    s = np.array([0.1, 0.2, 0.3, 0.05, 0.17][:n], np.float32)
    shape = [1, 1]
    shape[axis] = n
    x[:2] = ((np.round(x / s.reshape(shape)) + 0.5) * s.reshape(shape))[:2]
    x = x.astype(np.float32)
    z = np.arange(n) + 1
    t = torch.quantize_per_channel(torch.from_numpy(x), torch.from_numpy(s),
                                   torch.from_numpy(z), axis, theirs)
    q = Q.quantize_per_channel(nr.from_numpy(x), nr.from_numpy(s), nr.from_numpy(z), axis,
                               ours)
    np.testing.assert_array_equal(q.int_repr().numpy(), t.int_repr().numpy())
    np.testing.assert_array_equal(q.dequantize().numpy(), t.dequantize().numpy())
    np.testing.assert_array_equal(q.q_per_channel_scales().numpy(),
                                  t.q_per_channel_scales().numpy())
    assert q.q_per_channel_scales().dtype == nr.float64
    np.testing.assert_array_equal(q.q_per_channel_zero_points().numpy(),
                                  t.q_per_channel_zero_points().numpy())
    assert q.q_per_channel_zero_points().dtype == nr.int64
    assert q.q_per_channel_axis() == t.q_per_channel_axis()
    assert q.qscheme() is _dtype.per_channel_affine


def test_quantized_tensor_repr_and_views():
    x = nr.tensor([[0.5, 1.5, 2.5], [1.1, 3.9, 2.8]])
    q = Q.quantize_per_tensor(x, 0.1, 3, _dtype.quint8)
    assert repr(q) == ("tensor([[0.5, 1.5, 2.5],\n        [1.1, 3.9, 2.8]], size=(2, 3), "
                       "dtype=narae.quint8,\n       quantization_scheme=narae.per_tensor_affine, "
                       "scale=0.1, zero_point=3)")
    f = q.flatten()
    assert f.shape == (6,) and f.q_scale() == 0.1 and f.dtype is _dtype.quint8
    assert q.reshape(3, 2).shape == (3, 2) and q.view(-1).shape == (6,)
    np.testing.assert_array_equal(q.clone().int_repr().numpy(), q.int_repr().numpy())
    assert "axis=1" in repr(Q.quantize_per_channel(x, nr.tensor([0.1, 0.2, 0.3]),
                                                   nr.tensor([0, 0, 0]), 1, _dtype.qint8))
    assert Q.dequantize(x) is x and x.dequantize() is x
    with pytest.raises(RuntimeError, match="per-channel"):
        q.q_per_channel_scales()
    with pytest.raises(RuntimeError, match="to"):
        q.to(nr.float32)
    with pytest.raises(NotImplementedError, match=r"dequantize\(\).*|.*\(2, 3\)"):
        q + 1
    with pytest.raises(NotImplementedError, match=r"\(2, 3\)"):
        2 * q


def test_quantize_errors():
    x = nr.randn(2, 3)
    with pytest.raises(RuntimeError, match="float"):
        Q.quantize_per_tensor(nr.tensor([1, 2]), 0.1, 0, _dtype.qint8)
    with pytest.raises(RuntimeError, match="dtype"):
        Q.quantize_per_tensor(x, 0.1, 0, nr.int8)
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        Q.quantize_per_channel(x, nr.tensor([0.1, 0.2]), nr.tensor([0, 0]), 1, _dtype.qint8)
    with pytest.raises(RuntimeError, match="axis"):
        Q.quantize_per_channel(x, nr.tensor([0.1, 0.2, 0.3]), nr.tensor([0, 0, 0]), -1,
                               _dtype.qint8)
    with pytest.raises(RuntimeError, match="zero_point -1"):
        Q.quantize_per_tensor(x, 0.1, -1, _dtype.quint8)
    with pytest.raises(RuntimeError, match="zero_point 300"):
        Q.quantize_per_channel(x, nr.tensor([0.1, 0.2, 0.3]), nr.tensor([0, 300, 0]), 1,
                               _dtype.qint8)
    qs = Q.quantize_per_tensor([x, x], nr.tensor([0.1, 0.2]), nr.tensor([0, 1]), _dtype.qint8)
    assert [q.q_scale() for q in qs] == pytest.approx([0.1, 0.2])


def test_quantized_dtypes_and_qschemes():
    assert repr(_dtype.qint8) == "narae.qint8" and not _dtype.quint8.is_floating_point
    assert _dtype.qint32.itemsize == 4
    assert repr(_dtype.per_channel_symmetric) == "narae.per_channel_symmetric"
    import copy
    assert copy.deepcopy(_dtype.qint8) is _dtype.qint8
    assert copy.deepcopy(_dtype.per_tensor_affine) is _dtype.per_tensor_affine
    assert nr.tensor([1], dtype=nr.int8).dtype is nr.int8  # int8 arrays stay int8 tensors


@pytest.mark.parametrize("scale", [1.0, 3.0, 1e-5])
@pytest.mark.parametrize("ours,theirs", QDTYPES[:2], ids=lambda d: str(d))
@pytest.mark.parametrize("reduce_range", [False, True])
def test_quantize_per_tensor_dynamic(scale, ours, theirs, reduce_range):
    x = (randn(40) * scale + 0.3).astype(np.float32)
    t = torch.quantize_per_tensor_dynamic(torch.from_numpy(x), theirs, reduce_range)
    q = Q.quantize_per_tensor_dynamic(nr.from_numpy(x), ours, reduce_range)
    assert q.q_scale() == t.q_scale() and q.q_zero_point() == t.q_zero_point()
    np.testing.assert_array_equal(q.int_repr().numpy(), t.int_repr().numpy())


def test_function_forms_and_quantized_max_pool():
    x = randn(1, 2, 6, 6).astype(np.float32)
    t = torch.quantize_per_tensor(torch.from_numpy(x), 0.1, 10, torch.quint8)
    q = Q.quantize_per_tensor(nr.from_numpy(x), 0.1, 10, _dtype.quint8)
    assert Q.q_scale(q) == 0.1 and Q.q_zero_point(q) == 10
    assert isinstance(q.qscheme(), Q.qscheme)
    np.testing.assert_array_equal(Q.int_repr(q).numpy(), torch.int_repr(t).numpy())
    for k, s in ((2, ()), (3, (2, 2))):
        want = torch.quantized_max_pool2d(t, [k, k], list(s))
        got = Q.quantized_max_pool2d(q, k, s)
        np.testing.assert_array_equal(got.int_repr().numpy(), want.int_repr().numpy())
        assert got.q_scale() == want.q_scale()
    want = torch.quantized_max_pool1d(t[0], [2])
    np.testing.assert_array_equal(Q.quantized_max_pool1d(q.reshape(2, 6, 6), 2)
                                  .int_repr().numpy(), want.int_repr().numpy())
    for name in ("int_repr", "q_scale", "q_per_channel_axis", "qscheme"):
        with pytest.raises(RuntimeError, match="quantized tensor"):
            getattr(nr.randn(2), name)()
