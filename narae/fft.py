"""``narae.fft``: discrete Fourier transforms (torch.fft's API).

    import narae as nr
    x = nr.randn(8)
    X = nr.fft.rfft(x)              # complex64, bins 0..4
    nr.fft.irfft(X, n=8)            # x again

``norm`` picks where the 1/n goes: "backward" (default: on the inverse), "forward" (on the
forward transform) or "ortho" (1/sqrt(n) on both). ``n``/``s`` crop or zero-pad the input
along the transformed dims first. Real inputs of fft/fftn promote to complex; integer
inputs to the default float dtype. Gradients are the transforms' adjoints (see
``narae.ops.fft``), so double backward works.
"""
import numpy as np

from . import _dtype
from .autograd import grad_mode
from .ops import fft as _ops
from .ops._operands import normalize_dim
from .ops.shape import roll
from .tensor import Tensor
from .creation import _make

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq",
           "rfftfreq", "fftshift", "ifftshift"]


# -- arguments ---------------------------------------------------------------------------------
def _mode(norm, forward):
    """The scale of a forward (or inverse) transform under torch's ``norm`` string."""
    if norm is None or norm == "backward":
        return "none" if forward else "by_n"
    if norm == "forward":
        return "by_n" if forward else "none"
    if norm == "ortho":
        return "by_root_n"
    raise RuntimeError(f'Invalid normalization mode: "{norm}" (expected None, "backward", '
                       f'"forward" or "ortho")')


def _check_tensor(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"fft_{op}(): argument 'input' must be Tensor, not {type(x).__name__}")


def _promote(op, x, require_complex=False, require_real=False):
    """torch's promotion: integers/bools -> the default float dtype; half precision is
    refused (as torch on the CPU); complex only where the transform takes it."""
    dt = x._data.dtype
    if dt.kind in "biu":
        x = x.to(_dtype.get_default_dtype())
    elif dt.kind == "c":
        if require_real:
            raise RuntimeError(f"{op} expects a real input tensor, but got {x.dtype} "
                               f"(shape {tuple(x.shape)})")
    elif dt != np.float32 and dt != np.float64:
        raise RuntimeError(f"{op}: unsupported dtype {x.dtype} (FFTs take float32, float64, "
                           "complex64 or complex128)")
    if require_complex and x._data.dtype.kind != "c":
        x = _ops.ToComplex()(x)
    return x


def _n_arg(op, n):
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"fft_{op}(): argument 'n' must be int, not {type(n).__name__}")
    return int(n)


def _check_points(n):
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")


def _wrap_dim(op, dim, x):
    """A dim of a 1-D transform; a 0-d tensor has none (torch does not wrap scalars)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"fft_{op}(): argument 'dim' must be int, not {type(dim).__name__}")
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return normalize_dim(int(dim), x.ndim)


def _resized(x, dims, sizes):
    """``x`` cropped/zero-padded along ``dims`` to ``sizes`` (differentiably)."""
    shape = list(x.shape)
    for d, s in zip(dims, sizes):
        shape[d] = s
    if tuple(shape) == tuple(x.shape):
        return x
    return _ops.Resize(shape)(x)


def _as_list(op, name, v):
    if v is None:
        return None
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return [int(v)]
    if isinstance(v, (tuple, list)) and all(isinstance(i, (int, np.integer)) and
                                            not isinstance(i, bool) for i in v):
        return [int(i) for i in v]
    raise TypeError(f"fft_{op}(): argument '{name}' must be a tuple of ints, not {v!r}")


def _shape_and_dims(op, x, s, dim):
    """The dims to transform and their signal sizes, from torch's ``s`` and ``dim``: with only
    ``s``, its last len(s) dims; with neither, all dims; -1 in ``s`` keeps a dim's size."""
    s, dim = _as_list(op, "s", s), _as_list(op, "dim", dim)
    nd = x.ndim
    if dim is not None:
        if nd == 0 and dim:
            raise IndexError(f"Dimension specified as {dim[0]} but tensor has no dimensions")
        dim = [normalize_dim(d, nd) for d in dim]
        if len(set(dim)) != len(dim):
            raise RuntimeError(f"{op}: FFT dims must be unique, got {dim}")
    if s is not None:
        if dim is not None and len(dim) != len(s):
            raise RuntimeError(f"{op}: When given, dim and shape arguments must have the same "
                               f"length (s={tuple(s)}, dim={tuple(dim)})")
        if len(s) > nd:
            raise RuntimeError(f"{op}: Got shape with {len(s)} values but input tensor only has "
                               f"{nd} dimensions (shape {tuple(x.shape)}).")
        if dim is None:
            dim = list(range(nd - len(s), nd))
        sizes = [x.shape[d] if n == -1 else n for d, n in zip(dim, s)]
    else:
        if dim is None:
            dim = list(range(nd))
        sizes = [x.shape[d] for d in dim]
    for n in sizes:
        _check_points(n)
    return dim, sizes


def _c2r_shape_and_dims(op, x, s, dim):
    """As ``_shape_and_dims`` for a Hermitian input: also the output length of the last dim
    (default 2 * (m - 1) for m input bins), whose input is resized to last_n//2 + 1 bins."""
    dims, sizes = _shape_and_dims(op, x, s, dim)
    if not dims:
        raise RuntimeError(f"{op} must transform at least one axis")
    s = _as_list(op, "s", s)
    if s is None or s[-1] == -1:
        last_n = 2 * (x.shape[dims[-1]] - 1)
    else:
        last_n = sizes[-1]
    _check_points(last_n)
    sizes[-1] = last_n // 2 + 1
    return dims, sizes, last_n


def _out(op, result, out, inputs):
    """torch's ``out=``: the result written into ``out`` (resized when its shape differs)."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"fft_{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if grad_mode.state.enabled and (out.requires_grad or any(
            isinstance(t, Tensor) and t.requires_grad for t in inputs)):
        raise RuntimeError(f"fft_{op}(): functions with out=... arguments don't support "
                           "automatic differentiation, but one of the arguments requires grad.")
    if out._data.dtype != result._data.dtype:
        raise RuntimeError(f"fft_{op}(): expected out= of dtype {result.dtype}, got "
                           f"{out.dtype}")
    with grad_mode.no_grad():
        if tuple(out.shape) != tuple(result.shape):
            out.resize_(tuple(result.shape))
        out._data[...] = result._data
        out._version[0] += 1
    return out


# -- complex input -> complex output, and real input of the same ---------------------------
def _fft_any(op, input, dims, sizes, norm, forward):
    """fft/ifft/fftn...: C2C for complex input; a full (not onesided) R2C for real input,
    conjugated for the inverse (ifft(x) = conj(fft(x)) / n for real x)."""
    mode = _mode(norm, forward)
    x = _promote(op, input)
    x = _resized(x, dims, sizes)
    if x._data.dtype.kind == "c":
        return _ops.C2C(dims, forward, mode)(x)
    if not dims:
        return _ops.ToComplex()(x)
    return _ops.R2C(dims, mode, False, conj=not forward)(x)


def _one(op, input, n, dim):
    _check_tensor(op, input)
    n = _n_arg(op, n)
    d = _wrap_dim(op, dim, input)
    size = input.shape[d] if n is None else n
    _check_points(size)
    return [d], [size]


def fft(input, n=None, dim=-1, norm=None, *, out=None):
    """1-D discrete Fourier transform: X[k] = sum_j x[j] exp(-2 pi i jk / n)."""
    dims, sizes = _one("fft", input, n, dim)
    return _out("fft", _fft_any("fft", input, dims, sizes, norm, True), out, (input,))


def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    """1-D inverse DFT: x[j] = (1/n) sum_k X[k] exp(+2 pi i jk / n)."""
    dims, sizes = _one("ifft", input, n, dim)
    return _out("ifft", _fft_any("ifft", input, dims, sizes, norm, False), out, (input,))


def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """2-D DFT over ``dim`` (the last two by default)."""
    return fftn(input, s, dim, norm, out=out)


def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """2-D inverse DFT over ``dim`` (the last two by default)."""
    return ifftn(input, s, dim, norm, out=out)


def fftn(input, s=None, dim=None, norm=None, *, out=None):
    """N-D DFT over ``dim`` (all dims by default, or the last len(s) when ``s`` is given)."""
    _check_tensor("fftn", input)
    dims, sizes = _shape_and_dims("fftn", input, s, dim)
    return _out("fftn", _fft_any("fftn", input, dims, sizes, norm, True), out, (input,))


def ifftn(input, s=None, dim=None, norm=None, *, out=None):
    """N-D inverse DFT over ``dim`` (all dims by default)."""
    _check_tensor("ifftn", input)
    dims, sizes = _shape_and_dims("ifftn", input, s, dim)
    return _out("ifftn", _fft_any("ifftn", input, dims, sizes, norm, False), out, (input,))


# -- real signals: rfft / irfft ----------------------------------------------------------------
def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    """DFT of a real signal, keeping the n//2 + 1 non-redundant bins (X[n-k] = conj X[k])."""
    dims, sizes = _one("rfft", input, n, dim)
    x = _resized(_promote("rfft", input, require_real=True), dims, sizes)
    y = _ops.R2C(dims, _mode(norm, True), True)(x)
    return _out("rfft", y, out, (input,))


def _irfft_like(op, input, dims, sizes, last_n, norm, forward):
    """C2R (irfft*, forward=False) or conj-then-C2R (hfft, forward=True)."""
    x = _resized(_promote(op, input, require_complex=True), dims, sizes)
    return _ops.C2R(dims, _mode(norm, forward), last_n, conj=forward)(x)


def _one_c2r(op, input, n, dim):
    _check_tensor(op, input)
    n = _n_arg(op, n)
    d = _wrap_dim(op, dim, input)
    last_n = 2 * (input.shape[d] - 1) if n is None else n
    _check_points(last_n)
    return [d], [last_n // 2 + 1], last_n


def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    """Inverse of rfft: the real signal of length n (default 2*(m-1)) whose half spectrum is
    the input's m bins (imaginary parts of bin 0, and of bin n/2 for even n, are ignored)."""
    dims, sizes, last_n = _one_c2r("irfft", input, n, dim)
    return _out("irfft", _irfft_like("irfft", input, dims, sizes, last_n, norm, False), out,
                (input,))


def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """2-D rfft: full DFT over the first dim, onesided over the last."""
    return rfftn(input, s, dim, norm, out=out)


def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """Inverse of rfft2."""
    return irfftn(input, s, dim, norm, out=out)


def rfftn(input, s=None, dim=None, norm=None, *, out=None):
    """N-D DFT of a real input, onesided in the last transformed dim."""
    _check_tensor("rfftn", input)
    dims, sizes = _shape_and_dims("rfftn", input, s, dim)
    if not dims:
        raise RuntimeError("rfftn must transform at least one axis")
    x = _resized(_promote("rfftn", input, require_real=True), dims, sizes)
    return _out("rfftn", _ops.R2C(dims, _mode(norm, True), True)(x), out, (input,))


def irfftn(input, s=None, dim=None, norm=None, *, out=None):
    """Inverse of rfftn: a real output whose last transformed dim has length s[-1]
    (default 2*(m-1))."""
    _check_tensor("irfftn", input)
    dims, sizes, last_n = _c2r_shape_and_dims("irfftn", input, s, dim)
    return _out("irfftn", _irfft_like("irfftn", input, dims, sizes, last_n, norm, False), out,
                (input,))


# -- Hermitian signals: hfft / ihfft -------------------------------------------------------------
def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """DFT of a signal with Hermitian symmetry given by its first half: a real spectrum of
    length n (default 2*(m-1)). hfft(x) = irfft(conj(x)) with the forward's scale."""
    dims, sizes, last_n = _one_c2r("hfft", input, n, dim)
    return _out("hfft", _irfft_like("hfft", input, dims, sizes, last_n, norm, True), out,
                (input,))


def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    """Inverse of hfft: the n//2 + 1 first bins of the inverse DFT of a real signal."""
    dims, sizes = _one("ihfft", input, n, dim)
    x = _resized(_promote("ihfft", input, require_real=True), dims, sizes)
    return _out("ihfft", _ops.R2C(dims, _mode(norm, False), True, conj=True)(x), out, (input,))


def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """2-D hfft."""
    return hfftn(input, s, dim, norm, out=out)


def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """2-D ihfft."""
    return ihfftn(input, s, dim, norm, out=out)


def hfftn(input, s=None, dim=None, norm=None, *, out=None):
    """N-D hfft: a forward DFT over all but the last dim, then hfft over the last."""
    _check_tensor("hfftn", input)
    dims, sizes, last_n = _c2r_shape_and_dims("hfftn", input, s, dim)
    mode = _mode(norm, True)
    x = _resized(_promote("hfftn", input, require_complex=True), dims, sizes)
    if len(dims) > 1:
        x = _ops.C2C(dims[:-1], True, mode)(x)
    y = _ops.C2R(dims[-1:], mode, last_n, conj=True)(x)
    return _out("hfftn", y, out, (input,))


def ihfftn(input, s=None, dim=None, norm=None, *, out=None):
    """N-D ihfft: ihfft over the last dim, then the inverse DFT of the others."""
    _check_tensor("ihfftn", input)
    dims, sizes = _shape_and_dims("ihfftn", input, s, dim)
    if not dims:
        raise RuntimeError("ihfftn must transform at least one axis")
    mode = _mode(norm, False)
    x = _resized(_promote("ihfftn", input, require_real=True), dims, sizes)
    y = _ops.R2C(dims[-1:], mode, True, conj=True)(x)
    if len(dims) > 1:
        y = _ops.C2C(dims[:-1], False, mode)(y)
    return _out("ihfftn", y, out, (input,))


# -- frequencies and shifts ----------------------------------------------------------------------
def _freqs(op, k, n, d, out, dtype, device, requires_grad):
    dt = _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(f"{op} requires a floating point or complex dtype, got {dt}")
    if dt.is_complex:
        raise NotImplementedError(f"{op}: arange is not implemented for {dt} (as in torch)")
    npd = dt.np
    # the bin numbers in the dtype, times 1/(n d) rounded to it (torch's arithmetic)
    if n:
        arr = k.astype(npd) * npd.type(1.0 / (n * float(d)))
    else:  # 1/(0 d) is infinite: rfftfreq(0)'s one bin is 0 * inf = nan, as in torch
        arr = np.full(k.shape, np.nan, dtype=npd)
    t = _make(arr, None, device, requires_grad)
    return _out(op, t, out, ())


def _freq_count(op, n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{op}(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"{op}: Trying to create tensor with negative dimension {n}: [{n}]")
    return int(n)


def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an n-point DFT with spacing d: [0, 1, ..., -(n//2), ..., -1]
    / (n d)."""
    n = _freq_count("fftfreq", n)
    k = np.arange(n, dtype=np.int64)
    k[(n + 1) // 2:] -= n
    return _freqs("fftfreq", k, n, d, out, dtype, device, requires_grad)


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of rfft's n//2 + 1 bins: [0, 1, ..., n//2] / (n d)."""
    n = _freq_count("rfftfreq", n)
    return _freqs("rfftfreq", np.arange(n // 2 + 1, dtype=np.int64), n, d, out, dtype, device,
                  requires_grad)


def _shift(op, input, dim, sign):
    _check_tensor(op, input)
    if dim is None:
        dims = list(range(input.ndim))
    else:
        dims = _as_list(op, "dim", dim)
        dims = [normalize_dim(d, input.ndim) for d in dims]
    if not dims:
        raise RuntimeError(f"{op}: `shifts` required (a 0-d tensor has no dim to shift)")
    # fftshift moves bin 0 to the middle, index n//2; ifftshift undoes it
    shifts = [sign * (input.shape[d] // 2) for d in dims]
    return roll(input, shifts, dims)


def fftshift(input, dim=None):
    """Reorder an FFT's bins so that frequency zero is in the middle (along ``dim``, all by
    default)."""
    return _shift("fftshift", input, dim, 1)


def ifftshift(input, dim=None):
    """Inverse of fftshift: frequency zero back to index 0."""
    return _shift("ifftshift", input, dim, -1)

