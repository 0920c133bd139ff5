"""Making tensors: ``tensor``, ``zeros``, ``arange``, ``randn``... and in-place fills.

Randomness comes from ``narae.random.default_generator`` (or an explicit ``generator=``),
so ``narae.manual_seed`` makes every draw reproducible.
"""
import numpy as np

from . import _dtype
from .backend import as_device, to_device, get_array_module, gpu_available
from .backend.arrays import _load_cupy
from .random import default_generator
from .backend import capture as _capture
from .tensor import Tensor, register_methods
from .autograd import grad_mode

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange",
           "linspace", "logspace", "eye", "rand", "randn", "randint", "randperm", "normal",
           "bernoulli", "multinomial", "zeros_like", "ones_like", "full_like", "empty_like",
           "rand_like", "randn_like", "randint_like", "scalar_tensor", "poisson", "binomial"]


def _infer_numpy(data, dtype=None):
    """NumPy array for ``data`` with torch's default dtypes (floats -> float32). Given the
    ``dtype`` it will be cast to, Python floats are kept at full precision until then
    (``tensor(0.1, dtype=float64)`` is 0.1, not float32's 0.10000000149)."""
    if isinstance(data, Tensor):
        return data._data
    if get_array_module(data) is not np:
        return data  # a CuPy array: stays on its device with its dtype (np.asarray would raise)
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
        data = _nested_tolist(data)
    arr = np.asarray(data)
    if arr.dtype == np.float64 and not isinstance(data, np.ndarray) and \
            not isinstance(data, np.floating) and dtype is None:
        arr = arr.astype(_dtype.get_default_dtype().np)
    elif arr.dtype.kind in "iu" and arr.dtype not in (np.int8, np.int16, np.int32, np.uint8) \
            and not isinstance(data, np.ndarray):
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "c":
        _dtype.from_numpy_dtype(arr.dtype)  # (complex64/128 only; notes complex is in use)
        if arr.dtype == np.complex128 and not isinstance(data, (np.ndarray, np.complexfloating)) \
                and dtype is None:  # Python complex data: the default complex dtype
            arr = arr.astype(_dtype.default_complex().np)
    elif arr.dtype.kind not in "biuf" and not _dtype.is_floating(arr.dtype):
        raise TypeError(f"can't convert data of dtype {arr.dtype} to a tensor: expected numbers "
                        "or booleans")
    return arr


def _flat(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flat(d)
        else:
            yield d


def _nested_tolist(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_nested_tolist(d) for d in data]
    return data


_default_device = None  # set_default_device: where factories put tensors without device=


def set_default_device(device):
    """Make factory functions (tensor, zeros, randn...) create tensors on ``device`` when
    they are not given one (``None`` restores the CPU)."""
    global _default_device
    _default_device = as_device(device) if device is not None else None


def get_default_device():
    return _default_device if _default_device is not None else as_device("cpu")


def _make(array, dtype, device, requires_grad):
    if device is None:
        device = _default_device
    if dtype is not None:
        np_dtype = _dtype.to_dtype(dtype).np
        if array.dtype != np_dtype:
            array = array.astype(np_dtype)
    if device is not None:
        array = to_device(array, as_device(device))
    t = Tensor(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, *, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays, tensors)."""
    arr = _infer_numpy(data, dtype)
    src_is_array = isinstance(data, (np.ndarray, Tensor)) or arr is data
    t = _make(arr, dtype, device, requires_grad)
    if src_is_array and t._data is arr or (isinstance(data, Tensor) and t._data is data._data):
        t._data = t._data.copy()
    return t


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array or Tensor when it can."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    return _make(_infer_numpy(data, dtype), dtype, device, False)


def from_numpy(ndarray):
    """A tensor sharing memory with ``ndarray`` (its dtype is kept)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtype.from_numpy_dtype(ndarray.dtype)
    return Tensor(ndarray)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return _make(np.asarray(s, dtype=(dtype and _dtype.to_dtype(dtype).np) or
                            _dtype.get_default_dtype().np), None, device, requires_grad)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    size = tuple(int(s) for s in size)
    if any(s < 0 for s in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(size)}")
    return size


def _np_dtype(dtype):
    return (_dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).np


def _filled(make, device, requires_grad):
    """``make(xp)`` built on ``device`` itself: a GPU array is filled there by a kernel (no
    host copy to wait for, and it can be recorded in a CUDA graph)."""
    if device is None:
        device = _default_device
    dev = as_device(device) if device is not None else None
    if dev is not None and dev.type == "cuda":
        cp = _load_cupy()
        if cp is not None and gpu_available():
            with cp.cuda.Device(dev.index):
                return _make(make(cp), None, None, requires_grad)
    return _make(make(np), None, device, requires_grad)   # (to_device explains a missing GPU)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    shape, dt = _size(size), _np_dtype(dtype)
    return _filled(lambda xp: xp.zeros(shape, dt), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    shape, dt = _size(size), _np_dtype(dtype)
    return _filled(lambda xp: xp.ones(shape, dt), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    shape, dt = _size(size), _np_dtype(dtype)
    return _filled(lambda xp: xp.empty(shape, dt), device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = _dtype.bool if isinstance(fill_value, bool) else \
            _dtype.int64 if isinstance(fill_value, int) else \
            _dtype.default_complex() if isinstance(fill_value, complex) else \
            _dtype.get_default_dtype()
    shape, dt = _size((size,)), _dtype.to_dtype(dtype).np
    return _filled(lambda xp: xp.full(shape, fill_value, dt), device, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = _dtype.int64 if is_int else _dtype.get_default_dtype()
    np_dtype = _dtype.to_dtype(dtype).np
    # compute in float64/int64 then cast, so float32 ranges have torch's length
    arr = np.arange(start, end, step, dtype=np.float64 if _dtype.is_floating(np_dtype) else None)
    return _make(arr.astype(np_dtype), None, device, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    if dtype is None and any(isinstance(v, complex) for v in (start, end)):
        dtype = _dtype.default_complex()
    work = np.complex128 if _np_dtype(dtype).kind == "c" else np.float64
    arr = np.linspace(start, end, int(steps), dtype=work).astype(_np_dtype(dtype))
    return _make(arr, None, device, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    arr = np.logspace(start, end, int(steps), base=base).astype(_np_dtype(dtype))
    return _make(arr, None, device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    return _make(np.eye(n, m, dtype=_np_dtype(dtype)), None, device, requires_grad)


def _rng(generator, device):
    gen = generator if generator is not None else default_generator
    return gen


def _random(draw, size, dtype, device, requires_grad, generator):
    """Draw on the CPU generator then move: the same seed gives the same numbers on any device."""
    _capture.forbid("drawing random numbers (on the host)")
    rng = _rng(generator, device).rng
    np_dtype = _np_dtype(dtype)
    if np_dtype.kind == "c":  # real and imaginary parts drawn independently, side by side
        pair = draw(rng, size + (2,), 0.5)
        arr = (pair[..., 0] + 1j * pair[..., 1]).astype(np_dtype)
    else:
        arr = draw(rng, size, 1.0).astype(np_dtype, copy=False)
    return _make(arr, None, device, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform [0, 1) samples; complex: real and imaginary parts each uniform [0, 1)."""
    return _random(lambda r, s, var: r.random(s), _size(size), dtype, device, requires_grad,
                   generator)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples; complex: real and imaginary parts each N(0, 1/2), so that
    E|z|^2 = 1 as torch."""
    return _random(lambda r, s, var: r.standard_normal(s) * var ** 0.5 if var != 1.0 else
                   r.standard_normal(s), _size(size), dtype, device, requires_grad, generator)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    rng = _rng(generator, device).rng
    arr = rng.integers(low, high, size=_size((size,)))
    return _make(arr.astype(_dtype.to_dtype(dtype or _dtype.int64).np), None, device,
                 requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    rng = _rng(generator, device).rng
    return _make(rng.permutation(n).astype(_dtype.to_dtype(dtype or _dtype.int64).np), None,
                 device, requires_grad)


def normal(mean, std, size=None, *, generator=None, dtype=None, device=None):
    """Samples of N(mean, std**2); mean/std may be numbers or tensors (broadcast)."""
    rng = _rng(generator, device).rng
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    shape = _size((size,)) if size is not None else np.broadcast_shapes(np.shape(m), np.shape(s))
    ref = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    arr = rng.standard_normal(shape) * np.asarray(to_device(s, as_device("cpu")) if ref is not None
                                                  else s) + np.asarray(
        to_device(m, as_device("cpu")) if ref is not None else m)
    if dtype is None and ref is not None:
        dtype = ref.dtype
    return _make(arr.astype(_np_dtype(dtype)), None,
                 device if device is not None else (ref.device if ref is not None else None),
                 False)


def bernoulli(input, p=None, *, generator=None):
    """0/1 samples with probabilities ``input`` (or the scalar ``p``)."""
    rng = _rng(generator, None).rng
    probs = to_device(input._data, as_device("cpu")) if p is None else np.full(input.shape, p)
    arr = (rng.random(input.shape) < probs).astype(input._data.dtype)
    return _make(arr, None, input.device, False)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Indices drawn from the rows of ``input`` (unnormalised non-negative weights)."""
    rng = _rng(generator, None).rng
    probs = np.asarray(to_device(input._data, as_device("cpu")), dtype=np.float64)
    rows = probs.reshape(-1, probs.shape[-1])
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           "without replacement")
    out = np.stack([rng.choice(rows.shape[1], size=num_samples, replace=replacement,
                               p=r / r.sum()) for r in rows])
    out = out.reshape(probs.shape[:-1] + (num_samples,))
    return _make(out.astype(np.int64), None, input.device, False)


def _like(factory):
    def like(input, *, dtype=None, device=None, requires_grad=False, **kwargs):
        return factory(*input.shape, dtype=dtype or input.dtype,
                       device=device or input.device, requires_grad=requires_grad, **kwargs)
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
rand_like = _like(rand)
randn_like = _like(randn)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    return full(input.shape, fill_value, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False):
    return randint(low, high, input.shape, dtype=dtype or input.dtype,
                   device=device or input.device, requires_grad=requires_grad)


# --- in-place fills (they write the array: outside the graph only, like torch's init) ----
def _fill_array(self, new_values):
    """Overwrite this tensor's values and bump its version. On a non-leaf in the graph the
    new values are a node whose gradient to the old ones is zero (torch's fill_ on a
    non-leaf); a leaf requiring grad raises, as torch."""
    self._check_inplace()
    if grad_mode.state.enabled and self.requires_grad:
        if getattr(self._data, "base", None) is not None:
            # a view: the new values would not reach the tensor it views (no view tracking)
            raise RuntimeError("a view of a tensor that is part of a graph cannot be filled in "
                               "place; fill the base tensor, or wrap the call in narae.no_grad()")
        from .ops.arith import _NoGrad
        shape, dtype = self._data.shape, self._data.dtype

        def overwrite(xp, old):
            vals = xp.asarray(new_values) if not isinstance(new_values, (int, float, bool)) \
                else new_values
            return xp.broadcast_to(xp.asarray(vals, dtype=dtype), shape).copy()
        return self._take_over(_NoGrad(overwrite, "fill")(self._previous()))
    xp = get_array_module(self._data)
    self._data[...] = xp.asarray(new_values) if not isinstance(new_values, (int, float, bool)) \
        else new_values
    self._version[0] += 1
    return self


def _cpu_draw(self, draw, generator):
    """Values drawn on the host for this tensor; complex tensors get independent real and
    imaginary parts (torch fills their real view)."""
    rng = _rng(generator, None).rng
    if self._data.dtype.kind == "c":
        pair = draw(rng, tuple(self.shape) + (2,))
        arr = (pair[..., 0] + 1j * pair[..., 1]).astype(self._data.dtype)
    else:
        arr = draw(rng, self.shape).astype(self._data.dtype, copy=False)
    return to_device(arr, self.device)


def zero_(self):
    return _fill_array(self, 0)


def fill_(self, value):
    if isinstance(value, Tensor) and value.requires_grad and grad_mode.state.enabled:
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions")
        return copy_(self, value)  # differentiable in the fill value, as torch's
    return _fill_array(self, value.item() if isinstance(value, Tensor) else value)


def copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast to this shape) into this tensor; differentiable w.r.t. src."""
    src_t = src if isinstance(src, Tensor) else tensor(src)
    if grad_mode.state.enabled and src_t.requires_grad:
        from .ops.shape import broadcast_to

        # clone(): a node of its own even when the cast and broadcast are no-ops, else the
        # result is ``src`` itself, a creator-less leaf that _take_over would only copy
        # values from (the old graph kept, src's gradient lost)
        return self._apply_inplace(lambda _self, s: broadcast_to(s.to(self.dtype).to(
            self.device), self.shape).clone(), src_t)
    src_arr = to_device(src_t._data, self.device)
    try:
        return _fill_array(self, get_array_module(self._data).broadcast_to(src_arr, self.shape))
    except ValueError:
        raise RuntimeError(f"copy_: the source of shape {tuple(src_t.shape)} cannot be "
                           f"broadcast to the destination of shape {tuple(self.shape)}") from None


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    return _fill_array(self, _cpu_draw(self, lambda r, s: r.uniform(a, b, s), generator))


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """N(mean, std^2) samples; complex: real and imaginary parts each N(mean, std^2 / 2), as
    torch (which fills the real view)."""
    if self._data.dtype.kind == "c":
        std = std * 0.5 ** 0.5
    return _fill_array(self, _cpu_draw(self, lambda r, s: r.normal(mean, std, s), generator))


def bernoulli_(self, p=0.5, *, generator=None):
    return _fill_array(self, _cpu_draw(self, lambda r, s: r.random(s) < p, generator))


def random_(self, from_=0, to=None, *, generator=None):
    if to is None:
        from_, to = 0, from_ if from_ else 2 ** 24
    return _fill_array(self, _cpu_draw(self, lambda r, s: r.integers(from_, to, s), generator))


def exponential_(self, lambd=1.0, *, generator=None):
    return _fill_array(self, _cpu_draw(self, lambda r, s: r.exponential(1.0 / lambd, s),
                                       generator))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    return _fill_array(self, _cpu_draw(self, lambda r, s: median + sigma * r.standard_cauchy(s),
                                       generator))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    return _fill_array(self, _cpu_draw(self, lambda r, s: r.lognormal(mean, std, s), generator))


def geometric_(self, p, *, generator=None):
    """Trials up to and including the first success (support 1, 2, ...), as torch."""
    return _fill_array(self, _cpu_draw(self, lambda r, s: r.geometric(p, s), generator))


def poisson(input, generator=None):
    """Poisson counts with rates ``input`` (same shape and dtype)."""
    rng = _rng(generator, None).rng
    rates = to_device(input._data, as_device("cpu"))
    if (rates < 0).any():
        raise RuntimeError("poisson: rates must be non-negative")
    return _make(rng.poisson(rates).astype(rates.dtype), None, input.device, False)


def binomial(count, prob, generator=None):
    """Successes in ``count`` trials of probability ``prob`` (broadcast), as floats."""
    rng = _rng(generator, None).rng
    n = to_device(count._data, as_device("cpu"))
    p = to_device(prob._data, as_device("cpu"))
    out = rng.binomial(n.astype(np.int64), p).astype(np.result_type(n.dtype, p.dtype))
    return _make(out, None, count.device, False)


register_methods(
    zero_=zero_, fill_=fill_, copy_=copy_, uniform_=uniform_, normal_=normal_,
    bernoulli_=bernoulli_, random_=random_, exponential_=exponential_, cauchy_=cauchy_,
    log_normal_=log_normal_, geometric_=geometric_,
    bernoulli=lambda self, p=None, *, generator=None: bernoulli(self, p, generator=generator),
    multinomial=lambda self, num_samples, replacement=False, *, generator=None: multinomial(
        self, num_samples, replacement, generator=generator),
    new_zeros=lambda self, *size, dtype=None, device=None, requires_grad=False: zeros(
        *size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad),
    new_ones=lambda self, *size, dtype=None, device=None, requires_grad=False: ones(
        *size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad),
    new_full=lambda self, size, fill_value, dtype=None, device=None, requires_grad=False: full(
        size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
        requires_grad=requires_grad),
    new_empty=lambda self, *size, dtype=None, device=None, requires_grad=False: empty(
        *size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad),
    new_tensor=lambda self, data, dtype=None, device=None, requires_grad=False: tensor(
        data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad),
)
