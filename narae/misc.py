"""torch's top-level odds and ends: dtype facts and promotion (``finfo``, ``result_type``),
settings (threads, printing, the default device), window functions, and functional forms of
a few Tensor methods."""
import math

import numpy as np

from . import _dtype
from .creation import _make, tensor, set_default_device, get_default_device
from .ops._operands import result_dtype, _CATEGORY, _scalar_dtype, _complex_of
from .tensor import Tensor, PRINT_OPTIONS
from ._dtype import complex64, cfloat, complex128, cdouble  # noqa: F401 (narae.complex64...)

__all__ = ["finfo", "iinfo", "result_type", "promote_types", "can_cast", "set_printoptions",
           "get_num_threads", "set_num_threads", "set_default_device", "get_default_device",
           "hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window", "detach", "dist", "is_same_size", "is_signed", "is_conj", "is_neg",
           "is_inference", "asarray", "complex64", "cfloat", "complex128", "cdouble",
           "frombuffer", "from_dlpack", "to_dlpack", "empty_strided", "fill", "zero_", "resize_as_"]


class finfo:
    """Machine limits of a floating dtype: ``bits, eps, max, min, tiny (smallest_normal),
    resolution, dtype`` as torch.finfo gives them."""

    def __init__(self, type=None):
        d = _dtype.to_dtype(type) if type is not None else _dtype.get_default_dtype()
        d = d.to_real()  # complex: the limits of its real and imaginary parts, as torch
        if not d.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type. Use "
                            f"torch.iinfo to handle '{d}'")
        info = _dtype.finfo(d.np)
        self.bits, self.dtype = int(info.bits), d.name
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.tiny)
        self.resolution = 10.0 ** -int(info.precision)  # (a float, as torch: not float32)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, "
                f"eps={self.eps}, smallest_normal={self.smallest_normal}, tiny={self.tiny}, "
                f"dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype: ``bits, max, min, dtype``."""

    def __init__(self, type):
        d = _dtype.to_dtype(type)
        if d.np.kind not in "iub":
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo "
                            f"to handle '{d}'")
        info = np.iinfo(d.np) if d.np.kind != "b" else None
        self.bits = info.bits if info else 8
        self.max, self.min = (int(info.max), int(info.min)) if info else (1, 0)
        self.dtype = d.name

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def result_type(tensor1, tensor2):
    """The dtype ``tensor1 + tensor2`` would have (numbers count as 0-d, as in torch)."""
    def arr(x):
        return x._data if isinstance(x, Tensor) else np.asarray(x, _scalar_dtype(x))
    return _dtype.from_numpy_dtype(result_dtype(arr(tensor1), arr(tensor2)))


def promote_types(type1, type2):
    """The smallest dtype both promote to: a higher category (bool < int < float) wins,
    within a category the wider type (torch: int64 with float32 is float32)."""
    a, b = _dtype.to_dtype(type1).np, _dtype.to_dtype(type2).np
    ca, cb = _CATEGORY.get(a.kind, 2), _CATEGORY.get(b.kind, 2)
    if ca != cb:
        if {ca, cb} == {2, 3}:  # complex meets float: the wider precision (f64+c64 -> c128)
            c, f = (a, b) if ca == 3 else (b, a)
            return _dtype.from_numpy_dtype(np.promote_types(c, _complex_of(f)))
        return _dtype.from_numpy_dtype(a if ca > cb else b)
    return _dtype.from_numpy_dtype(_dtype.promote_types(a, b))


def can_cast(from_, to):
    """Whether torch allows the cast in type promotion: not down a category (float to int,
    int to bool), but any width within one."""
    a, b = _dtype.to_dtype(from_).np, _dtype.to_dtype(to).np
    return _CATEGORY.get(a.kind, 2) <= _CATEGORY.get(b.kind, 2)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """How tensors print (torch's options and its 'default', 'short' and 'full' profiles)."""
    opts = PRINT_OPTIONS
    profiles = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
                "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
                "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}
    if profile is not None:
        opts.update(profiles[profile])
    for key, value in (("precision", precision), ("threshold", threshold),
                       ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            opts[key] = value
    opts["sci_mode"] = sci_mode


def _threadpool():
    try:
        import threadpoolctl
    except ImportError:
        raise RuntimeError("narae needs the threadpoolctl package to read or set the BLAS "
                           "thread count (pip install threadpoolctl)") from None
    return threadpoolctl


def get_num_threads():
    """Threads the BLAS library uses for matrix products (narae's parallel work)."""
    pools = _threadpool().threadpool_info()
    return max((p["num_threads"] for p in pools if p.get("user_api") == "blas"), default=1)


_thread_limits = []


def set_num_threads(int):
    """Limit the BLAS library to ``int`` threads for the rest of the process."""
    if int < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    _thread_limits.append(_threadpool().threadpool_limits(limits=int, user_api="blas"))


# -- window functions (signal processing: spectrograms, smoothing) -----------------------
def _window(name, values_of, window_length, periodic, dtype, device, requires_grad):
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window length, got "
                           f"window_length={window_length}")
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    if not d.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {d}")
    if window_length <= 1:
        return _make(np.ones(window_length, d.np), None, device, requires_grad)
    n = window_length + 1 if periodic else window_length
    values = values_of(np.arange(n, dtype=np.float64), n)[:window_length]
    return _make(values.astype(d.np), None, device, requires_grad)


def _cosine_sum(*coefficients):
    """Windows of the form sum_k (-1)^k a_k cos(2 pi k i / (N - 1))."""
    def values(i, n):
        x = 2 * math.pi * i / (n - 1)
        return sum((-1) ** k * a * np.cos(k * x) for k, a in enumerate(coefficients))
    return values


def hann_window(window_length, periodic=True, *, dtype=None, device=None,
                requires_grad=False):
    return _window("hann_window", _cosine_sum(0.5, 0.5), window_length, periodic, dtype,
                   device, requires_grad)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   device=None, requires_grad=False):
    return _window("hamming_window", _cosine_sum(alpha, beta), window_length, periodic, dtype,
                   device, requires_grad)


def blackman_window(window_length, periodic=True, *, dtype=None, device=None,
                    requires_grad=False):
    return _window("blackman_window", _cosine_sum(0.42, 0.5, 0.08), window_length, periodic,
                   dtype, device, requires_grad)


def bartlett_window(window_length, periodic=True, *, dtype=None, device=None,
                    requires_grad=False):
    return _window("bartlett_window", lambda i, n: 1 - np.abs(2 * i / (n - 1) - 1),
                   window_length, periodic, dtype, device, requires_grad)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, device=None,
                  requires_grad=False):
    def values(i, n):
        r = 2 * i / (n - 1) - 1
        return np.i0(beta * np.sqrt(np.clip(1 - r * r, 0, None))) / np.i0(beta)
    return _window("kaiser_window", values, window_length, periodic, dtype, device,
                   requires_grad)


# -- functional forms of Tensor methods --------------------------------------------------
def detach(input):
    return input.detach()


def dist(input, other, p=2):
    """The p-norm of ``input - other`` (broadcast), differentiable."""
    from .ops.reduce import norm
    return norm(input - other, p)


def is_same_size(input, other):
    return input.is_same_size(other)


def is_signed(input):
    return input.is_signed()


def is_conj(input):
    return False


def is_neg(input):
    return False


def is_inference(input):
    return False


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """A tensor from ``obj`` sharing its memory when possible (``copy=True`` forces a copy)."""
    if copy:
        return tensor(obj, dtype=dtype, device=device, requires_grad=requires_grad)
    if isinstance(obj, Tensor):
        out = obj.to(device=device, dtype=dtype) if (dtype or device) else obj
    else:
        from .creation import as_tensor
        out = as_tensor(obj, dtype=dtype, device=device)
    return out.requires_grad_(True) if requires_grad else out


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor over the bytes of ``buffer`` (shared, not copied)."""
    arr = np.frombuffer(buffer, dtype=_dtype.to_dtype(dtype).np, count=count, offset=offset)
    t = Tensor(arr)
    return t.requires_grad_(True) if requires_grad else t


def from_dlpack(ext_tensor):
    """A tensor sharing memory with any DLPack producer (a torch or CuPy tensor...)."""
    if hasattr(ext_tensor, "__dlpack_device__"):
        device_type = ext_tensor.__dlpack_device__()[0]
        if device_type == 2:  # kDLCUDA
            from .backend import _load_cupy
            return Tensor(_load_cupy().from_dlpack(ext_tensor))
    return Tensor(np.from_dlpack(ext_tensor))


def to_dlpack(tensor):
    """A DLPack capsule sharing ``tensor``'s memory (for libraries taking capsules)."""
    return tensor.__dlpack__()


def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False):
    """An uninitialized tensor of ``size``; narae arrays are laid out by NumPy/CuPy, so the
    requested ``stride`` is honoured only when it is the contiguous one (else an error)."""
    from .creation import empty
    t = empty(*size, dtype=dtype, device=device, requires_grad=requires_grad)
    if tuple(stride) != t.stride() and t.numel() > 1:
        raise NotImplementedError(f"empty_strided: only contiguous strides {t.stride()} are "
                                  f"supported, got {tuple(stride)}")
    return t


def fill(input, value):
    """A copy of ``input`` with every element ``value`` (out-of-place ``fill_``)."""
    from .creation import full_like
    return full_like(input, value)


def zero_(input):
    return input.zero_()



def resize_as_(input, the_template, *, memory_format=None):
    return input.resize_as_(the_template, memory_format=memory_format)
