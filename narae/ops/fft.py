"""Differentiable FFT Functions behind ``narae.fft``.

Every transform here is linear, so its gradient is its adjoint (torch's convention for
complex gradients: ``grad_x = A^H grad_y``, and its real part for a real ``x``). The
Functions come in adjoint pairs, each one's backward being the other, which makes every
order of gradient a transform again:

  C2C          <->  C2C with the opposite direction (same scale)
  R2C          <->  R2CBackward   real -> complex (onesided or full), optionally conjugated
  C2R          <->  C2RBackward   Hermitian half -> real, optionally conjugating the input
  Resize       <->  Resize back   zero-padding / cropping of the transformed dims
  ToComplex    <->  RealPart

``mode`` is the scale applied to the unnormalised sum: "none", "by_root_n" (1/sqrt(n)) or
"by_n" (1/n), n being the product of the signal sizes along the transformed axes; the
adjoint of a transform keeps its scale and flips its direction.
"""
import numpy as np

from .. import _dtype
from ..autograd.function import Function

from ..backend import get_array_module

__all__ = []

# numpy.fft's ``norm`` argument that gives scale ``mode`` to a forward / inverse transform
_FORWARD_NORM = {"none": "backward", "by_n": "forward", "by_root_n": "ortho"}
_INVERSE_NORM = {"none": "forward", "by_n": "backward", "by_root_n": "ortho"}


def complex_of(dtype):
    """The complex NumPy dtype that keeps ``dtype``'s precision (float32 -> complex64)."""
    return np.dtype(np.complex128) if dtype in (np.float64, np.complex128) else \
        np.dtype(np.complex64)


def real_of(dtype):
    """The real NumPy dtype that keeps ``dtype``'s precision (complex64 -> float32)."""
    return np.dtype(np.float64) if dtype in (np.float64, np.complex128) else \
        np.dtype(np.float32)


# -- transforms on arrays ------------------------------------------------------------------
def c2c(x, axes, forward, mode):
    """Complex-to-complex DFT along ``axes`` (exp(-2 pi i kn/N) when ``forward``)."""
    xp = get_array_module(x)
    out = complex_of(x.dtype)
    if not axes:
        return x.astype(out, copy=True)
    if forward:
        y = xp.fft.fftn(x, axes=axes, norm=_FORWARD_NORM[mode])
    else:
        y = xp.fft.ifftn(x, axes=axes, norm=_INVERSE_NORM[mode])
    return y.astype(out, copy=False)


def r2c(x, axes, mode, onesided):
    """Forward DFT of a real array; ``onesided`` keeps bins 0..n//2 of the last axis only."""
    xp = get_array_module(x)
    out = complex_of(x.dtype)
    if onesided:
        y = xp.fft.rfftn(x, axes=axes, norm=_FORWARD_NORM[mode])
    else:
        y = xp.fft.fftn(x.astype(out), axes=axes, norm=_FORWARD_NORM[mode])
    return y.astype(out, copy=False)


def c2r(x, axes, mode, last_n):
    """Inverse DFT of a Hermitian half (last axis holds bins 0..last_n//2) to a real array.

    The imaginary parts of the bins that must be real (0, and last_n/2 for even last_n)
    are ignored, as pocketfft and cuFFT do; the other axes are inverse-transformed first.
    """
    xp = get_array_module(x)
    out = real_of(x.dtype)
    axes = tuple(axes)
    if len(axes) > 1:
        x = xp.fft.ifftn(x, axes=axes[:-1], norm=_INVERSE_NORM[mode])
    y = xp.fft.irfft(x, n=last_n, axis=axes[-1], norm=_INVERSE_NORM[mode])
    return y.astype(out, copy=False)


def resize(x, shape):
    """``x`` cropped or zero-padded (at the end) to ``shape``, axis by axis."""
    xp = get_array_module(x)
    if tuple(x.shape) == tuple(shape):
        return x
    crop = tuple(slice(0, min(a, b)) for a, b in zip(x.shape, shape))
    x = x[crop]
    if tuple(x.shape) == tuple(shape):
        return x.copy()
    y = xp.zeros(shape, dtype=x.dtype)
    y[tuple(slice(0, s) for s in x.shape)] = x
    return y


# -- the Functions -----------------------------------------------------------------------
class Resize(Function):
    """Crop or zero-pad to ``shape``; the adjoint resizes back (crops what was padded and
    pads what was cropped)."""
    uses_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        return resize(x, self.shape)

    def backward(self, gy):
        return Resize(self.in_shape)(gy)


class ToComplex(Function):
    """A real array as complex (zero imaginary part); the gradient is the real part."""
    uses_inputs = False

    def forward(self, x):
        _dtype._note_complex()  # complex results from real inputs: arm the complex dtype checks
        return x.astype(complex_of(x.dtype))

    def backward(self, gy):
        return RealPart()(gy)


class RealPart(Function):
    """The real part of a complex array (a copy); the gradient is the real gradient as complex."""
    uses_inputs = False

    def forward(self, x):
        return x.real.copy()

    def backward(self, gy):
        return ToComplex()(gy)


class C2C(Function):
    """Complex DFT along ``axes``; its adjoint is the transform the other way, same scale."""
    uses_inputs = False

    def __init__(self, axes, forward, mode):
        self.axes, self.forward_dir, self.mode = tuple(axes), forward, mode

    def forward(self, x):
        return c2c(x, self.axes, self.forward_dir, self.mode)

    def backward(self, gy):
        return C2C(self.axes, not self.forward_dir, self.mode)(gy)


class R2C(Function):
    """Forward DFT of a real input (torch's ``_fft_r2c``), conjugated when ``conj`` (the
    inverse transforms of a real input: ifft, ihfft)."""
    uses_inputs = False

    def __init__(self, axes, mode, onesided, conj=False):
        _dtype._note_complex()  # complex results from real inputs: arm the complex dtype checks
        self.axes, self.mode, self.onesided, self.conj = tuple(axes), mode, onesided, conj

    def forward(self, x):
        self.last_n = x.shape[self.axes[-1]]
        y = r2c(x, self.axes, self.mode, self.onesided)
        return y.conj() if self.conj else y

    def backward(self, gy):
        return R2CBackward(self.axes, self.mode, self.onesided, self.last_n, self.conj)(gy)


class R2CBackward(Function):
    """Adjoint of ``R2C``: Re(inverse DFT of the gradient, zero-filled to the full length).

    A onesided transform drops bins n//2+1.., so their gradient is zero: the dropped half
    is filled with zeros, not by symmetry (torch's rule).
    """
    uses_inputs = False

    def __init__(self, axes, mode, onesided, last_n, conj):
        self.axes, self.mode, self.onesided = axes, mode, onesided
        self.last_n, self.conj = last_n, conj

    def forward(self, g):
        if self.conj:
            g = g.conj()
        if self.onesided:
            shape = list(g.shape)
            shape[self.axes[-1]] = self.last_n
            g = resize(g, shape)
        return c2c(g, self.axes, False, self.mode).real.copy()

    def backward(self, gy):
        return R2C(self.axes, self.mode, self.onesided, self.conj)(gy)


class C2R(Function):
    """Hermitian half -> real signal of length ``last_n`` on the last axis (torch's
    ``_fft_c2r``, an inverse DFT); ``conj`` conjugates the input first (hfft's forward
    transform). The input's last axis must hold last_n//2 + 1 bins."""
    uses_inputs = False

    def __init__(self, axes, mode, last_n, conj=False):
        self.axes, self.mode, self.last_n, self.conj = tuple(axes), mode, last_n, conj

    def forward(self, x):
        if self.conj:
            x = x.conj()
        return c2r(x, self.axes, self.mode, self.last_n)

    def backward(self, gy):
        return C2RBackward(self.axes, self.mode, self.last_n, self.conj)(gy)


class C2RBackward(Function):
    """Adjoint of ``C2R``: the onesided forward DFT of the gradient, with the bins that stand
    for two bins of the full spectrum (1 .. last_n - last_n//2 - 1) doubled."""
    uses_inputs = False

    def __init__(self, axes, mode, last_n, conj):
        self.axes, self.mode, self.last_n, self.conj = axes, mode, last_n, conj

    def forward(self, g):
        gi = r2c(g, self.axes, self.mode, True)
        ax = self.axes[-1]
        twice = self.last_n - gi.shape[ax]
        if twice > 0:
            key = (slice(None),) * ax + (slice(1, 1 + twice),)
            gi[key] *= 2
        return gi.conj() if self.conj else gi

    def backward(self, gy):
        return C2R(self.axes, self.mode, self.last_n, self.conj)(gy)
