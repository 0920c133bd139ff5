"""Short-time Fourier transforms (``stft``/``istft``) built on ``narae.fft``.

stft cuts the (optionally padded) signal into frames of ``n_fft`` samples, ``hop_length``
apart, multiplies each by the window (``win_length`` samples, zero-padded and centred to
``n_fft``) and takes its DFT:

    X[f, t] = sum_n w[n] x[t hop + n] exp(-2 pi i f n / n_fft)

istft inverts it in the least-squares sense: inverse DFT of each frame, multiplied by the
window again, overlap-added, and divided by the overlap-added squared window (the window
envelope). That needs the envelope to stay away from zero (the NOLA condition).

    x = nr.randn(2, 400)
    w = nr.hann_window(64)
    X = nr.stft(x, 64, window=w, return_complex=True)     # (2, 33, 26) complex64
    nr.istft(X, 64, window=w, length=400)                   # x again

Everything is composed of differentiable Functions (framing and overlap-add are each
other's adjoints, the DFTs come from ``narae.ops.fft``), so gradients of every order flow
to the signal and to the window.
"""
import warnings

import numpy as np

from .. import _dtype
from ..autograd.function import Function
from ..backend import get_array_module
from ..backend.capture import can_read_back
from ..backend.constants import cached_constant
from ..tensor import Tensor, register_methods
from . import fft as _fft
from .complex import complex as complex_, imag, real, view_as_real
from .shape import broadcast_to, pad as _pad, reshape, transpose

__all__ = ["stft", "istft"]


# -- framing and overlap-add: an adjoint pair -----------------------------------------------
class Frames(Function):
    """(..., L) -> (..., T, n): ``count`` windows of ``n`` samples, ``hop`` apart along the
    last dim (by default all that fit, (L - n) // hop + 1). The adjoint is ``OverlapAdd``."""
    uses_inputs = False

    def __init__(self, n, hop, count=None):
        self.n, self.hop, self.count = n, hop, count

    def forward(self, x):
        xp = get_array_module(x)
        self.length = length = x.shape[-1]
        n, hop = self.n, self.hop
        t = (length - n) // hop + 1 if self.count is None else self.count
        idx = cached_constant(xp, ("stft-frames", t, n, hop),
                              lambda: np.arange(t)[:, None] * hop + np.arange(n)[None, :])
        return x[..., idx]

    def backward(self, gy):
        return OverlapAdd(self.hop, self.length)(gy)


class OverlapAdd(Function):
    """(..., T, n) -> (..., length): frame t added into samples t hop .. t hop + n - 1; the
    samples past the last frame (up to ``length``) are zero. The adjoint is ``Frames``."""
    uses_inputs = False

    def __init__(self, hop, length):
        self.hop, self.length = hop, length

    def forward(self, f):
        xp = get_array_module(f)
        *lead, t, n = f.shape
        lead, hop = tuple(lead), self.hop
        k = -(-n // hop)  # a frame spans k blocks of hop samples
        blocks = max(-(-self.length // hop), t + k - 1)
        out = xp.zeros(lead + (blocks * hop,), dtype=f.dtype)
        if k <= t:
            # block j of every frame lands in output blocks j .. j + t - 1: k shifted adds
            if k * hop != n:
                wide = xp.zeros(lead + (t, k * hop), dtype=f.dtype)
                wide[..., :n] = f
                f = wide
            f = f.reshape(lead + (t, k, hop))
            view = out.reshape(lead + (blocks, hop))
            for j in range(k):
                view[..., j:j + t, :] += f[..., :, j, :]
        else:  # few long frames: add each where it goes
            for i in range(t):
                out[..., i * hop:i * hop + n] += f[..., i, :]
        return xp.ascontiguousarray(out[..., :self.length])

    def backward(self, gy):
        t = self.inputs[0].shape[-2]
        return Frames(self.inputs[0].shape[-1], self.hop, t)(gy)


# -- arguments -------------------------------------------------------------------------------
def _int_arg(op, name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(value).__name__}")
    return int(value)


def _check_window(op, window, win_length):
    if window is None:
        return
    if not isinstance(window, Tensor):
        raise TypeError(f"{op}(): argument 'window' must be Tensor, not {type(window).__name__}")
    if window.ndim != 1 or window.shape[0] != win_length:
        raise RuntimeError(f"{op}: expected a 1D window tensor of size equal to win_length="
                           f"{win_length}, but got window with shape {tuple(window.shape)}")


def _padded_window(window, win_length, n_fft, input, ones):
    """The window over n_fft samples, its win_length samples centred and zeros around;
    without a window, a rectangle of win_length (None when it covers all n_fft samples and
    ``ones`` is not asked for)."""
    left = (n_fft - win_length) // 2
    if window is None:
        if win_length == n_fft and not ones:
            return None
        xp = get_array_module(input._data)
        arr = xp.zeros(n_fft, dtype=_fft.real_of(input._data.dtype))
        arr[left:left + win_length] = 1
        return Tensor(arr)
    if win_length == n_fft:
        return window
    return _pad(window, (left, n_fft - win_length - left))


def _no_window_warning(op, hint):
    warnings.warn(f"{op}: no window was given, so a rectangular window is used{hint}. Pass the "
                  f"window explicitly (window=narae.ones(n_fft) keeps the rectangle and "
                  f"silences this warning).", UserWarning, stacklevel=3)


# -- stft ------------------------------------------------------------------------------------
def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
         pad_mode="reflect", normalized=False, onesided=None, return_complex=None,
         align_to_window=None):
    """Short-time Fourier transform of a (L,) or (B, L) signal: (B?, N, T) complex, with
    N = n_fft // 2 + 1 bins when onesided (real input and window), else n_fft, and
    T = 1 + L // hop_length frames when ``center`` (the signal padded by n_fft // 2 on both
    sides with ``pad_mode``), else 1 + (L - n_fft) // hop_length.

    ``normalized`` scales by 1/sqrt(n_fft); ``return_complex=False`` gives the deprecated
    real layout (..., 2); ``align_to_window`` (center=False only) starts each frame's
    window, rather than its n_fft samples, at t * hop_length.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"stft(): argument 'input' must be Tensor, not {type(input).__name__}")
    n_fft = _int_arg("stft", "n_fft", n_fft)
    hop_length = _int_arg("stft", "hop_length", hop_length)
    win_length = _int_arg("stft", "win_length", win_length)
    if center and align_to_window is not None:
        raise RuntimeError("stft: align_to_window should only be set when center = False")
    dt = input._data.dtype
    if dt.kind not in "fc" or dt.itemsize < 4 or dt.kind == "c" and dt.itemsize < 8:
        raise RuntimeError(f"stft: expected a tensor of floating point or complex values "
                           f"(float32, float64, complex64, complex128), got {input.dtype} "
                           f"of shape {tuple(input.shape)}")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, got shape {tuple(input.shape)}")
    if window is not None and not isinstance(window, Tensor):
        raise TypeError(f"stft(): argument 'window' must be Tensor, not "
                        f"{type(window).__name__}")
    if window is None:
        _no_window_warning("stft", ", which leaks spectral energy (a hann or hamming window "
                                   "leaks less)")
    complex_in = dt.kind == "c" or window is not None and window._data.dtype.kind == "c"
    if return_complex is None:
        if not complex_in:
            raise RuntimeError("stft requires the return_complex parameter be given for real "
                               "inputs (return_complex=True is recommended: "
                               "view_as_real(result) gives the old real layout)")
        return_complex = True
    elif not return_complex:
        warnings.warn("stft with return_complex=False is deprecated: a future release will "
                      "only return complex tensors. Use return_complex=True and "
                      "view_as_real(result) for the real (..., 2) layout.", UserWarning,
                      stacklevel=2)
    if n_fft <= 0:
        raise RuntimeError(f"stft: expected n_fft > 0, but got n_fft={n_fft}")
    _dtype._note_complex()
    batched = input.ndim == 2
    x = input if batched else reshape(input, (1, input.shape[0]))
    if center:
        half = n_fft // 2
        if dt.kind == "c" and pad_mode != "constant":
            # reflect & co. gather with repeated indices, whose gradient is a scatter-add that
            # CuPy cannot do on complex numbers: pad the two real parts instead
            x = complex_(_pad(real(x), (half, half), mode=pad_mode),
                         _pad(imag(x), (half, half), mode=pad_mode))
        else:
            x = _pad(x, (half, half), mode=pad_mode)
    length = x.shape[-1]
    if n_fft > length:
        what = "padded signal" if center else "signal"
        raise RuntimeError(f"stft: expected 0 < n_fft <= {length} (the {what} length), but got "
                           f"n_fft={n_fft} for input of shape {tuple(input.shape)}")
    if hop_length is None:
        hop_length = n_fft // 4
    if hop_length <= 0:
        raise RuntimeError(f"stft: expected hop_length > 0, but got hop_length={hop_length} "
                           f"(n_fft={n_fft})")
    if win_length is None:
        win_length = n_fft
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"stft: expected 0 < win_length <= n_fft, but got "
                           f"win_length={win_length} (n_fft={n_fft})")
    _check_window("stft", window, win_length)
    if align_to_window and win_length < n_fft:
        # frame t's window then covers x[t hop : t hop + win_length]: shift the signal right
        # by the window's offset inside the frame (zeros around are multiplied by 0 anyway)
        left = (n_fft - win_length) // 2
        x = _pad(x, (left, n_fft - win_length - left))
    frames = Frames(n_fft, hop_length)(x)  # (B, T, n_fft)
    w = _padded_window(window, win_length, n_fft, input, ones=False)
    if w is not None:
        frames = frames * w
    mode = "by_root_n" if normalized else "none"
    if frames._data.dtype.kind == "c":
        if onesided:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        out = _fft.C2C((2,), True, mode)(frames)
    else:
        out = _fft.R2C((2,), mode, True if onesided is None else bool(onesided))(frames)
    out = transpose(out, 1, 2)  # (B, N, T)
    if not batched:
        out = reshape(out, tuple(out.shape[1:]))
    return out if return_complex else view_as_real(out)


# -- istft -----------------------------------------------------------------------------------
def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
          normalized=False, onesided=None, length=None, return_complex=False):
    """Inverse of ``stft`` from its complex (B?, N, T) output: each frame's inverse DFT is
    windowed, the frames are overlap-added, and the sum is divided by the overlap-added
    squared window. ``center`` trims the n_fft // 2 samples stft padded on each side;
    ``length`` trims or zero-pads the result to that many samples. Real output unless
    ``return_complex`` (which needs the full, two-sided spectrum).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"istft(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input._data.dtype.kind != "c":
        raise RuntimeError(f"istft requires a complex-valued input tensor matching the output "
                           f"from stft with return_complex=True (got {input.dtype} of shape "
                           f"{tuple(input.shape)})")
    n_fft = _int_arg("istft", "n_fft", n_fft)
    hop_length = _int_arg("istft", "hop_length", hop_length)
    win_length = _int_arg("istft", "win_length", win_length)
    length = _int_arg("istft", "length", length)
    if window is None:
        _no_window_warning("istft", "; give the window stft used to invert it exactly")
    if hop_length is None:
        hop_length = n_fft // 4
    if win_length is None:
        win_length = n_fft
    shape = tuple(input.shape)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a 2D (n_freq, n_frames) or 3D (batch, n_freq, "
                           f"n_frames) complex tensor, but got shape {shape}")
    if input.numel() == 0:
        raise RuntimeError(f"istft: input tensor cannot be empty (shape {shape})")
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"istft: expected 0 < win_length <= n_fft, but got "
                           f"win_length={win_length} (n_fft={n_fft})")
    if not 0 < hop_length <= win_length:
        raise RuntimeError(f"istft: expected 0 < hop_length <= win_length, but got "
                           f"hop_length={hop_length} (win_length={win_length})")
    _check_window("istft", window, win_length)
    if length is not None and length < 0:
        raise RuntimeError(f"istft: expected length >= 0, but got length={length}")
    fft_size, n_frames = shape[-2:]
    onesided = fft_size != n_fft if onesided is None else bool(onesided)
    if onesided and fft_size != n_fft // 2 + 1:
        raise RuntimeError(f"istft: expected the frequency dimension (dim -2) of the input to "
                           f"match n_fft / 2 + 1 = {n_fft // 2 + 1} when onesided=True, but "
                           f"got {fft_size} (input shape {shape})")
    if not onesided and fft_size != n_fft:
        raise RuntimeError(f"istft: expected the frequency dimension (dim -2) of the input to "
                           f"match n_fft = {n_fft} when onesided=False, but got {fft_size} "
                           f"(input shape {shape})")
    x = input if input.ndim == 3 else reshape(input, (1,) + shape)
    x = transpose(x, 1, 2)  # (B, T, N)
    mode = "by_root_n" if normalized else "by_n"
    if return_complex:
        if onesided:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        frames = _fft.C2C((2,), False, mode)(x)
    else:
        if window is not None and window._data.dtype.kind == "c":
            raise RuntimeError("istft: complex windows are incompatible with "
                               "return_complex=False")
        if not onesided:  # a real signal: its spectrum's first half says it all
            x = x[..., :n_fft // 2 + 1]
        frames = _fft.C2R((2,), mode, n_fft)(x)  # (B, T, n_fft)
    w = _padded_window(window, win_length, n_fft, input, ones=True)
    expected = n_fft + hop_length * (n_frames - 1)
    y = OverlapAdd(hop_length, expected)(frames * w)
    envelope = OverlapAdd(hop_length, expected)(broadcast_to(w * w, (n_frames, n_fft)))
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + length
    else:
        end = -(n_fft // 2) if center else expected
    y, envelope = y[:, start:end], envelope[start:end]
    if envelope.numel() and can_read_back():
        xp = get_array_module(envelope._data)
        if bool((xp.abs(envelope._data) < 1e-11).any()):
            raise RuntimeError(
                f"istft: window overlap add min < 1e-11: the overlap-added squared window "
                f"vanishes somewhere, so the signal cannot be recovered there (NOLA condition "
                f"fails for n_fft={n_fft}, hop_length={hop_length}, win_length={win_length}, "
                f"center={center}, input shape {shape})")
    y = y / envelope
    if input.ndim == 2:
        y = reshape(y, tuple(y.shape[1:]))
    if end > expected:
        warnings.warn("istft: the signal is shorter than the requested length; the result is "
                      "zero-padded at the end (check center and hop_length)", UserWarning,
                      stacklevel=2)
        y = _pad(y, (0, end - expected))
    return y


register_methods(stft=stft, istft=istft)
