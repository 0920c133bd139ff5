"""narae.fft against torch.fft: values, dtypes, gradients (float64 gradcheck, double backward),
n/s cropping and padding, dims, norms, and the errors.

Complex data enters and leaves the expressions as real arrays (``C`` builds a complex
tensor from a (..., 2) array, ``R`` turns a complex result into (..., 2)), so the real-valued
helpers check complex transforms too.
"""
import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn


def C(m, x):
    """Complex tensor from a real (..., 2) one (works on non-contiguous inputs too)."""
    return m.complex(x[..., 0], x[..., 1])


def R(m, y):
    return m.view_as_real(m.resolve_conj(y)) if y.is_complex() else y


NORMS = [None, "backward", "ortho", "forward"]
C2C = ["fft", "ifft"]
C2C_N = ["fftn", "ifftn", "fft2", "ifft2"]


# -- complex-to-complex ------------------------------------------------------------------------
@pytest.mark.parametrize("name", C2C)
@pytest.mark.parametrize("norm", NORMS)
def test_fft_complex_norms(name, norm):
    f = getattr
    check(lambda m, x: R(m, f(m.fft, name)(C(m, x), norm=norm)), randn(3, 6, 2), double=True)


@pytest.mark.parametrize("name", C2C)
@pytest.mark.parametrize("n,dim", [(4, -1), (9, -1), (2, 0), (1, -2)])
def test_fft_complex_n_dim(name, n, dim):
    """n below the size crops, above it zero-pads; dims may be negative."""
    f = getattr
    check(lambda m, x: R(m, f(m.fft, name)(C(m, x), n=n, dim=dim)), randn(3, 6, 2))


@pytest.mark.parametrize("name", C2C)
@pytest.mark.parametrize("norm", ["ortho", "forward", None])
def test_fft_real_input(name, norm):
    """A real input promotes to complex; its gradient is real."""
    f = getattr
    check(lambda m, x: R(m, f(m.fft, name)(x, n=7, norm=norm)), randn(3, 5), double=True)


@pytest.mark.parametrize("name", C2C_N)
@pytest.mark.parametrize("norm", NORMS)
def test_fftn_complex_norms(name, norm):
    f = getattr
    check(lambda m, x: R(m, f(m.fft, name)(C(m, x), norm=norm)), randn(2, 3, 2),
          double=norm == "ortho")


@pytest.mark.parametrize("name", C2C_N)
@pytest.mark.parametrize("kw", [dict(s=(3, 5)), dict(s=(1, -1), dim=(0, -1)),
                                dict(s=(4, 2), dim=(2, 1))])
def test_fftn_complex_s_dim(name, kw):
    f = getattr
    check(lambda m, x: R(m, f(m.fft, name)(C(m, x), **kw)), randn(2, 3, 3, 2))


@pytest.mark.parametrize("name", C2C_N)
def test_fftn_real_input(name):
    f = getattr
    check(lambda m, x: R(m, f(m.fft, name)(x, s=(4, 3), norm="ortho")), randn(2, 3, 4),
          double=True)


def test_fftn_defaults_and_single_dim():
    check(lambda m, x: R(m, m.fft.fftn(C(m, x))), randn(2, 3, 4, 2))   # all dims
    check(lambda m, x: R(m, m.fft.fftn(C(m, x), s=(3,))), randn(2, 3, 4, 2))  # last len(s)
    check(lambda m, x: R(m, m.fft.fftn(x, dim=1)), randn(2, 3, 4))     # an int dim
    check(lambda m, x: R(m, m.fft.fftn(C(m, x), dim=())), randn(2, 3, 2))  # no dim: identity


# -- real signals ----------------------------------------------------------------------------
@pytest.mark.parametrize("norm", NORMS)
def test_rfft_norms(norm):
    check(lambda m, x: R(m, m.fft.rfft(x, norm=norm)), randn(3, 6), double=True)
    check(lambda m, x: R(m, m.fft.rfft(x, norm=norm)), randn(3, 7))


@pytest.mark.parametrize("n,dim", [(4, -1), (9, -1), (3, 0), (8, 0)])
def test_rfft_n_dim(n, dim):
    check(lambda m, x: R(m, m.fft.rfft(x, n=n, dim=dim)), randn(5, 6))


@pytest.mark.parametrize("norm", NORMS)
def test_irfft_norms(norm):
    check(lambda m, x: m.fft.irfft(C(m, x), norm=norm), randn(3, 5, 2), double=True)


@pytest.mark.parametrize("n,dim", [(8, -1), (7, -1), (3, -1), (12, 0), (1, 0), (2, -1)])
def test_irfft_n_dim(n, dim):
    """Even and odd n (with and without a Nyquist bin), cropping and padding the half."""
    check(lambda m, x: m.fft.irfft(C(m, x), n=n, dim=dim), randn(4, 5, 2))


def test_irfft_real_input():
    check(lambda m, x: m.fft.irfft(x, n=6), randn(3, 4), double=True)


@pytest.mark.parametrize("name,kw", [
    ("rfftn", dict()), ("rfftn", dict(norm="ortho")), ("rfftn", dict(norm="forward")),
    ("rfftn", dict(s=(3, 5))), ("rfftn", dict(s=(5, -1), dim=(0, 2))),
    ("rfftn", dict(dim=(-1, -3))), ("rfft2", dict()), ("rfft2", dict(s=(1, 3), norm="ortho"))])
def test_rfftn(name, kw):
    f = getattr
    check(lambda m, x: R(m, f(m.fft, name)(x, **kw)), randn(2, 3, 4), double=not kw)


@pytest.mark.parametrize("name,kw", [
    ("irfftn", dict()), ("irfftn", dict(norm="ortho")), ("irfftn", dict(norm="forward")),
    ("irfftn", dict(s=(3, 5))), ("irfftn", dict(s=(4, 4))),
    ("irfftn", dict(s=(3, -1), dim=(2, 0))), ("irfftn", dict(dim=(0, 1))),
    ("irfft2", dict()), ("irfft2", dict(s=(2, 7), norm="forward"))])
def test_irfftn(name, kw):
    f = getattr
    check(lambda m, x: f(m.fft, name)(C(m, x), **kw), randn(2, 3, 4, 2), double=not kw)


# -- Hermitian signals -------------------------------------------------------------------------
@pytest.mark.parametrize("norm", NORMS)
def test_hfft_ihfft_norms(norm):
    check(lambda m, x: m.fft.hfft(C(m, x), norm=norm), randn(3, 5, 2), double=True)
    check(lambda m, x: R(m, m.fft.ihfft(x, norm=norm)), randn(3, 6), double=True)


@pytest.mark.parametrize("n,dim", [(8, -1), (7, -1), (3, 0), (10, 0)])
def test_hfft_ihfft_n_dim(n, dim):
    check(lambda m, x: m.fft.hfft(C(m, x), n=n, dim=dim), randn(4, 5, 2))
    check(lambda m, x: R(m, m.fft.ihfft(x, n=n, dim=dim)), randn(4, 5))


@pytest.mark.parametrize("name,kw", [
    ("hfftn", dict()), ("hfftn", dict(norm="ortho")), ("hfftn", dict(norm="forward")),
    ("hfftn", dict(s=(3, 5))), ("hfftn", dict(s=(4, -1), dim=(2, 0))),
    ("hfftn", dict(dim=(-2,))), ("hfft2", dict()), ("hfft2", dict(dim=(0, -2), norm="ortho"))])
def test_hfftn(name, kw):
    f = getattr
    check(lambda m, x: f(m.fft, name)(C(m, x), **kw), randn(2, 3, 4, 2), double=not kw)


@pytest.mark.parametrize("name,kw", [
    ("ihfftn", dict()), ("ihfftn", dict(norm="ortho")), ("ihfftn", dict(norm="forward")),
    ("ihfftn", dict(s=(3, 5))), ("ihfftn", dict(s=(4, -1), dim=(2, 0))),
    ("ihfftn", dict(dim=(1, 0))), ("ihfft2", dict()), ("ihfft2", dict(s=(2, 6), norm="forward"))])
def test_ihfftn(name, kw):
    f = getattr
    check(lambda m, x: R(m, f(m.fft, name)(x, **kw)), randn(2, 3, 4), double=not kw)


def test_roundtrips():
    x = nr.from_numpy(randn(4, 6))
    np.testing.assert_allclose(nr.fft.irfft(nr.fft.rfft(x), n=6).numpy(), x.numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(nr.fft.hfft(nr.fft.ihfft(x), n=6).numpy(), x.numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(nr.fft.irfftn(nr.fft.rfftn(x), s=(4, 6)).numpy(), x.numpy(),
                               atol=1e-12)
    z = nr.fft.ifft2(nr.fft.fft2(x))
    np.testing.assert_allclose(nr.real(z).numpy(), x.numpy(), atol=1e-12)


# -- dtypes ------------------------------------------------------------------------------------
ALL = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
       "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn"]
REAL_ONLY = {"rfft", "rfft2", "rfftn", "ihfft", "ihfft2", "ihfftn"}


@pytest.mark.parametrize("name", ALL)
def test_output_dtypes(name):
    """Like torch: float32 -> complex64, float64 -> complex128, integers/bools -> float32's,
    c2r transforms give the real dtype of their complex input."""
    base = np.arange(24).reshape(2, 3, 4) % 5
    dts = ["float32", "float64", "int64", "bool"]
    if name not in REAL_ONLY:
        dts += ["complex64", "complex128"]
    for dt in dts:
        a = (base % 2 == 1) if dt == "bool" else base.astype(dt)
        if dt.startswith("complex"):
            a = a + 1j * base[::-1].astype(dt)
        ours = getattr(nr.fft, name)(nr.tensor(a))
        theirs = getattr(torch.fft, name)(torch.from_numpy(a))
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", ""), (name, dt)
        assert tuple(ours.shape) == tuple(theirs.shape), (name, dt)
        tol = 1e-4 if dt != "float64" and dt != "complex128" else 1e-10
        np.testing.assert_allclose(ours.numpy(), theirs.resolve_conj().numpy(), rtol=tol,
                                   atol=tol * 10, err_msg=f"{name} {dt}")


def test_default_dtype_float64_for_integers():
    nr.set_default_dtype(nr.float64)
    try:
        assert nr.fft.fft(nr.arange(4)).dtype == nr.complex128
        assert nr.fft.irfft(nr.arange(4)).dtype == nr.float64
        assert nr.fft.fftfreq(4).dtype == nr.float64
    finally:
        nr.set_default_dtype(nr.float32)


def test_complex_gradient_dtype():
    """A complex64 input gets a complex64 gradient; a float32 input a float32 one."""
    z = nr.complex(nr.randn(5), nr.randn(5)).requires_grad_(True)
    nr.view_as_real(nr.fft.fft(z)).sum().backward()
    assert z.grad.dtype == nr.complex64
    x = nr.randn(6, requires_grad=True)
    nr.view_as_real(nr.fft.rfft(x)).sum().backward()
    assert x.grad.dtype == nr.float32
    xt = torch.from_numpy(x.detach().numpy()).requires_grad_(True)
    torch.view_as_real(torch.fft.rfft(xt)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)


# -- out= ----------------------------------------------------------------------------------------
def test_out():
    a = randn(3, 8)
    out = nr.empty(0, dtype=nr.complex128)
    r = nr.fft.rfft(nr.from_numpy(a), out=out)
    assert r is out and tuple(out.shape) == (3, 5)
    np.testing.assert_allclose(out.numpy(), np.fft.rfft(a), atol=1e-12)
    o2 = nr.empty(3, 8, dtype=nr.float64)
    nr.fft.irfft(nr.fft.rfft(nr.from_numpy(a)), out=o2)
    np.testing.assert_allclose(o2.numpy(), a, atol=1e-12)
    x = nr.randn(4, requires_grad=True)
    with pytest.raises(RuntimeError, match="out="):
        nr.fft.fft(x, out=nr.empty(4, dtype=nr.complex64))
    with pytest.raises(RuntimeError, match="dtype"):
        nr.fft.fft(nr.randn(4), out=nr.empty(4, dtype=nr.float32))


# -- frequencies and shifts ----------------------------------------------------------------------
@pytest.mark.parametrize("n,d", [(0, 1.0), (1, 0.1), (2, 3), (5, 0.1), (8, 1.0), (11, 0.3)])
def test_fftfreq_rfftfreq(n, d):
    for name in ("fftfreq", "rfftfreq"):
        for dt in (None, nr.float64):
            ours = getattr(nr.fft, name)(n, d, dtype=dt)
            theirs = getattr(torch.fft, name)(n, d, dtype=dt and torch.float64)
            assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)


def test_fftfreq_options():
    t = nr.fft.fftfreq(4, requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.dtype == nr.float32
    assert nr.fft.rfftfreq(4, device="cpu").device.type == "cpu"
    out = nr.empty(0)
    assert nr.fft.fftfreq(6, 0.5, out=out) is out
    np.testing.assert_array_equal(out.numpy(), torch.fft.fftfreq(6, 0.5).numpy())
    with pytest.raises(RuntimeError, match="floating point or complex dtype"):
        nr.fft.fftfreq(4, dtype=nr.int64)
    with pytest.raises(RuntimeError, match="negative dimension"):
        nr.fft.rfftfreq(-1)
    with pytest.raises(TypeError, match="'n' must be int"):
        nr.fft.fftfreq(2.5)


@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), [-2]])
def test_shifts(name, dim):
    f = getattr
    check(lambda m, x: f(m.fft, name)(x, dim=dim), randn(3, 4, 5))
    check(lambda m, x: R(m, f(m.fft, name)(C(m, x), dim)), randn(5, 2, 3, 2))
    a = np.arange(60).reshape(3, 4, 5)
    np.testing.assert_array_equal(f(nr.fft, name)(nr.tensor(a), dim=dim).numpy(),
                                  f(torch.fft, name)(torch.from_numpy(a), dim=dim).numpy())


def test_shift_undoes():
    x = nr.from_numpy(randn(5, 6))
    np.testing.assert_array_equal(nr.fft.ifftshift(nr.fft.fftshift(x)).numpy(), x.numpy())


# -- errors --------------------------------------------------------------------------------------
def _both(fn, match, exc=RuntimeError):
    """The same mistake fails in torch and in narae, with narae's message matching ``match``."""
    with pytest.raises(Exception):
        fn(torch)
    with pytest.raises(exc, match=match):
        fn(nr)


def test_errors():
    x = nr.randn(3, 4)
    xt = torch.randn(3, 4)
    z = nr.complex(x, x)
    zt = torch.complex(xt, xt)

    def on(m):
        return (x, z) if m is nr else (xt, zt)
    _both(lambda m: m.fft.fft(on(m)[0], norm="bad"), 'Invalid normalization mode: "bad"')
    _both(lambda m: m.fft.rfftn(on(m)[0], norm="Ortho"), "Invalid normalization mode")
    _both(lambda m: m.fft.fft(on(m)[0], dim=2), r"Dimension out of range.*\[-2, 1\].*2",
          IndexError)
    _both(lambda m: m.fft.fftn(on(m)[0], dim=(0, -3)), "Dimension out of range", IndexError)
    _both(lambda m: m.fft.irfft(on(m)[1], n=0), r"Invalid number of data points \(0\)")
    _both(lambda m: m.fft.fft(on(m)[0], n=0), r"Invalid number of data points \(0\)")
    _both(lambda m: m.fft.rfft(on(m)[0], n=-2), r"Invalid number of data points \(-2\)")
    _both(lambda m: m.fft.irfft(on(m)[1][:, :1]), r"Invalid number of data points \(0\)")
    _both(lambda m: m.fft.irfftn(on(m)[1], s=(3, 0)), r"Invalid number of data points \(0\)")
    _both(lambda m: m.fft.fftn(on(m)[0], s=(2, 3, 4)), "shape with 3 values.*2 dimensions")
    _both(lambda m: m.fft.fftn(on(m)[0], s=(2, 3), dim=(0,)), "same length")
    _both(lambda m: m.fft.fftn(on(m)[0], dim=(0, -2)), "FFT dims must be unique")
    _both(lambda m: m.fft.rfftn(on(m)[0], dim=()), "rfftn must transform at least one axis")
    _both(lambda m: m.fft.ihfftn(on(m)[0], dim=()), "ihfftn must transform at least one axis")
    _both(lambda m: m.fft.irfftn(on(m)[1], dim=()), "irfftn must transform at least one axis")
    _both(lambda m: m.fft.rfft(on(m)[1]), "rfft expects a real input tensor.*complex64")
    _both(lambda m: m.fft.ihfft2(on(m)[1]), "expects a real input tensor")
    _both(lambda m: m.fft.fft(on(m)[0].half()), "unsupported dtype.*float16")
    _both(lambda m: m.fft.fft(m.tensor(1.0)), "tensor has no dimensions", IndexError)
    _both(lambda m: m.fft.fft2(m.ones(4)), "Dimension out of range", IndexError)
    _both(lambda m: m.fft.fftshift(m.tensor(1.0)), "shifts")
    _both(lambda m: m.fft.fft(on(m)[0], n=2.5), "'n' must be int", TypeError)
    with pytest.raises(TypeError, match="must be Tensor"):
        nr.fft.fft([1.0, 2.0])
