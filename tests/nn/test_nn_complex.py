"""nn on complex tensors, against torch: Module.to(complex), layers with complex weights,
nn.init on complex tensors, the losses, padding, dropout and (complex) convolutions."""
import warnings

import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nnn
import narae.nn.functional as F
import narae.ops.complex_conv as cconv
from helpers import check, check_gradcheck, check_parity, crandn, randn


# --- Module.to and friends ----------------------------------------------------------------
def test_module_to_complex_warns_and_casts_floating_only():
    m = nnn.BatchNorm1d(3)
    with pytest.warns(UserWarning, match="Complex modules"):
        m.to(nr.complex64)
    assert [p.dtype for p in m.parameters()] == [nr.complex64] * 2
    assert [b.dtype for b in m.buffers()] == [nr.complex64, nr.complex64, nr.int64]
    with pytest.warns(UserWarning, match="Complex modules"):
        m.to(dtype=nr.cdouble)
    assert m.weight.dtype == nr.complex128


def test_module_float_double_keep_complex():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = nnn.Linear(3, 2).to(nr.cfloat)
    for cast in ("double", "float", "half"):
        getattr(m, cast)()
        assert m.weight.dtype == nr.complex64
    t = torch.nn.Linear(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t.to(torch.cfloat)
    assert t.double().weight.dtype == torch.complex64


def test_module_to_real_drops_imaginary_part():
    m = nnn.Linear(3, 2, dtype=nr.cdouble)
    w = m.weight._data.copy()
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        m.to(nr.float64)
    assert m.weight.dtype == nr.float64
    np.testing.assert_array_equal(m.weight._data, w.real)


def test_module_to_rejects_integer_dtype():
    with pytest.raises(TypeError, match="floating point or complex"):
        nnn.Linear(3, 2).to(nr.int64)


def test_linear_complex_layer_matches_torch():
    lin = nnn.Linear(3, 2, dtype=nr.cfloat)
    assert lin.weight.dtype == nr.complex64 and lin.bias.dtype == nr.complex64
    assert np.abs(lin.weight._data.imag).sum() > 0  # init fills both parts, as torch
    tl = torch.nn.Linear(3, 2, dtype=torch.cfloat)
    with torch.no_grad():
        tl.weight.copy_(torch.from_numpy(lin.weight._data))
        tl.bias.copy_(torch.from_numpy(lin.bias._data))
    x = crandn(4, 3).astype(np.complex64)
    y, ty = lin(nr.tensor(x)), tl(torch.from_numpy(x))
    np.testing.assert_allclose(y._data, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    y.abs().sum().backward()
    ty.abs().sum().backward()
    np.testing.assert_allclose(lin.weight.grad._data, tl.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(lin.bias.grad._data, tl.bias.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_functional_linear_and_bilinear():
    check(lambda m, x, w, b: m.nn.functional.linear(x, w, b), crandn(4, 3), crandn(2, 3),
          crandn(2), double=True)
    check(lambda m, x, w: m.nn.functional.linear(x, w), crandn(2, 4, 3), crandn(5, 3))
    # torch has no complex autograd for bilinear: forward parity, our own gradcheck
    args = (crandn(3, 2), crandn(3, 4), crandn(5, 2, 4))
    check_parity(lambda m, x, y, w: m.nn.functional.bilinear(x, y, w), *args, grad=False, diff=())
    check_gradcheck(lambda m, x, y, w: m.nn.functional.bilinear(x, y, w), *args)


# --- nn.init ------------------------------------------------------------------------------
def _filled(name, *args, shape=(400, 300), dtype=nr.complex128):
    t = nr.zeros(*shape, dtype=dtype)
    out = getattr(nnn.init, name)(t, *args)
    assert out is t and t.dtype == dtype
    return t._data


def test_init_uniform_normal_fill_both_parts():
    u = _filled("uniform_", -1.0, 3.0)
    for part in (u.real, u.imag):
        assert -1 <= part.min() < -0.99 and 2.99 < part.max() <= 3
    z = _filled("normal_", 1.0, 2.0)
    for part in (z.real, z.imag):  # each part N(mean, std^2 / 2), as torch
        assert abs(part.mean() - 1.0) < 0.02
        assert abs(part.std() - 2.0 / np.sqrt(2)) < 0.02
    k = _filled("kaiming_normal_")
    assert abs(k.real.std() - np.sqrt(2 / 300) / np.sqrt(2)) < 0.002
    k = _filled("xavier_uniform_", shape=(40, 30), dtype=nr.complex64)
    a = np.sqrt(6 / 70)
    assert np.abs(k.real).max() <= a and np.abs(k.imag).max() <= a and k.imag.std() > 0


def test_init_sparse_zeroes_whole_elements():
    s = _filled("sparse_", 0.3, shape=(100, 20))
    assert ((s == 0).sum(axis=0) == 30).all()
    assert ((s.real == 0) == (s == 0)).all() and s.imag.std() > 0


def test_init_constant_family():
    t = nr.zeros(3, 3, dtype=nr.cfloat)
    nnn.init.constant_(t, 0.5)
    assert (t._data == 0.5).all()
    nnn.init.eye_(t)
    np.testing.assert_array_equal(t._data, np.eye(3))
    d = nr.zeros(2, 2, 3, dtype=nr.cfloat)
    nnn.init.dirac_(d)
    assert d._data[0, 0, 1] == 1 and d._data.sum() == 2


@pytest.mark.parametrize("name", ["trunc_normal_", "orthogonal_"])
def test_init_refuses_complex_like_torch(name):
    with pytest.raises(NotImplementedError):
        getattr(torch.nn.init, name)(torch.zeros(3, 3, dtype=torch.cfloat))
    with pytest.raises(NotImplementedError, match=rf"{name}.*complex.*\(3, 3\)"):
        getattr(nnn.init, name)(nr.zeros(3, 3, dtype=nr.cfloat))


# --- losses -------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_l1_loss_complex(reduction):
    check(lambda m, x, y: m.nn.functional.l1_loss(x, y, reduction=reduction),
          crandn(4, 3), crandn(4, 3))


def test_smooth_l1_beta0_and_soft_margin_complex():
    check(lambda m, x, y: m.nn.functional.smooth_l1_loss(x, y, beta=0.0), crandn(4, 3),
          crandn(4, 3))
    # torch computes it on complex input but has no complex autograd for it: narae does
    fn = lambda m, x: m.nn.functional.soft_margin_loss(  # noqa: E731
        x, m.tensor([[1.0, -1.0, 1.0]]).to(x.dtype))
    check_parity(fn, crandn(2, 3) * 0.5, grad=False, diff=())
    check_gradcheck(fn, crandn(2, 3) * 0.5, double=True)


def test_poisson_gaussian_nll_complex():
    check(lambda m, x, y: m.nn.functional.poisson_nll_loss(x, y), crandn(3, 2) * 0.5,
          crandn(3, 2))


@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("smooth_l1_loss", {}),
                                     ("huber_loss", {}), ("binary_cross_entropy", {}),
                                     ("binary_cross_entropy_with_logits", {}),
                                     ("multilabel_soft_margin_loss", {})])
def test_losses_refusing_complex(name, kw):
    x, y = crandn(4, 3), crandn(4, 3)
    with pytest.raises(NotImplementedError):
        getattr(torch.nn.functional, name)(torch.from_numpy(x), torch.from_numpy(y), **kw)
    with pytest.raises(NotImplementedError, match=rf"{name}.*complex.*\(4, 3\)"):
        getattr(F, name)(nr.tensor(x), nr.tensor(y), **kw)


def test_nll_kl_div_refuse_complex():
    x = nr.tensor(crandn(4, 3))
    with pytest.raises(NotImplementedError, match="nll_loss"):
        F.nll_loss(x, nr.tensor([0, 1, 2, 0]))
    with pytest.raises(RuntimeError, match="kl_div: Complex inputs not supported"):
        F.kl_div(x, x, reduction="batchmean")


# --- padding and dropout ------------------------------------------------------------------
def test_pad_complex():
    check(lambda m, x: m.nn.functional.pad(x, (1, 2), value=0.0), crandn(3, 4), double=True)
    check(lambda m, x: m.nn.functional.pad(x, (1, 2, 0, 1), value=1.5), crandn(2, 3, 4))
    for mode in ("reflect", "replicate", "circular"):
        check(lambda m, x: m.nn.functional.pad(x, (1, 1), mode=mode), crandn(1, 2, 4))


def test_dropout_complex_like_torch():
    x = nr.tensor(crandn(2, 3, 4))
    for name in ("dropout", "dropout1d", "alpha_dropout", "feature_alpha_dropout"):
        with pytest.raises(NotImplementedError, match=rf"{name}.*complex.*\(2, 3, 4\)"):
            getattr(F, name)(x, 0.5, training=True)
        assert getattr(F, name)(x, 0.0, training=True) is x
        assert (getattr(F, name)(x, 1.0, training=True)._data == 0).all()
        assert getattr(F, name)(x, 0.5, training=False) is x
    with pytest.raises(NotImplementedError, match="dropout2d"):
        F.dropout2d(nr.tensor(crandn(1, 2, 3, 3)), 0.5)
    d = nnn.Dropout(0.3).eval()
    assert d(x) is x


# --- complex convolution ------------------------------------------------------------------
def _cf(m):
    return cconv if m is nr else m.nn.functional


def test_complex_conv1d_2d_3d():
    check(lambda m, x, w, b: _cf(m).conv1d(x, w, b, stride=2, padding=1), crandn(1, 2, 6),
          crandn(3, 2, 3), crandn(3), double=True)
    check(lambda m, x, w: _cf(m).conv2d(x, w, padding="same", dilation=2), crandn(1, 2, 4, 4),
          crandn(2, 2, 3, 3))
    check(lambda m, x, w: _cf(m).conv2d(x, w, groups=2), crandn(1, 4, 3, 3),
          crandn(2, 2, 2, 2))
    check(lambda m, x, w, b: _cf(m).conv3d(x, w, b), crandn(1, 1, 2, 3, 3),
          crandn(2, 1, 2, 2, 2), crandn(2))
    check(lambda m, x, w: _cf(m).conv1d(x, w), crandn(3, 6), crandn(2, 3, 2))  # unbatched


def test_complex_conv_transpose():
    check(lambda m, x, w, b: _cf(m).conv_transpose1d(x, w, b, stride=2, output_padding=1),
          crandn(2, 3, 5), crandn(3, 2, 3), crandn(2), double=True)
    check(lambda m, x, w: _cf(m).conv_transpose2d(x, w, stride=2, padding=1),
          crandn(1, 2, 3, 3), crandn(2, 2, 3, 3))
    check(lambda m, x, w: _cf(m).conv_transpose3d(x, w), crandn(1, 2, 2, 2, 2),
          crandn(2, 1, 2, 2, 2))


def test_complex_conv_real_inputs_pass_through_and_errors():
    check(lambda m, x, w: _cf(m).conv2d(x, w), randn(1, 2, 4, 4), randn(3, 2, 2, 2))
    with pytest.raises(RuntimeError, match="same dtype"):
        cconv.conv2d(nr.tensor(crandn(1, 2, 4, 4)), nr.randn(3, 2, 2, 2, dtype=nr.float64))
    with pytest.raises(RuntimeError, match=r"\(3, 2, 2, 2\)"):
        cconv.complex_conv(lambda x, w, b: x, nr.tensor(crandn(1, 2, 4, 4)),
                           nr.randn(3, 2, 2, 2, dtype=nr.float64))
    with pytest.raises(Exception, match="channels"):
        cconv.conv2d(nr.tensor(crandn(1, 3, 4, 4)), nr.tensor(crandn(3, 2, 2, 2)))


def test_functional_and_module_conv_complex():
    check(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, padding=1), crandn(1, 2, 4, 4),
          crandn(3, 2, 3, 3), crandn(3))
    check(lambda m, x, w: m.nn.functional.conv_transpose1d(x, w, stride=2), crandn(2, 3, 5),
          crandn(3, 2, 3))
    conv = nnn.Conv1d(3, 4, 3, dtype=nr.cfloat)
    tconv = torch.nn.Conv1d(3, 4, 3, dtype=torch.cfloat)
    with torch.no_grad():
        tconv.weight.copy_(torch.from_numpy(conv.weight._data))
        tconv.bias.copy_(torch.from_numpy(conv.bias._data))
    x = crandn(2, 3, 6).astype(np.complex64)
    y, ty = conv(nr.tensor(x)), tconv(torch.from_numpy(x))
    np.testing.assert_allclose(y._data, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    y.abs().sum().backward()
    ty.abs().sum().backward()
    np.testing.assert_allclose(conv.weight.grad._data, tconv.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-4)
