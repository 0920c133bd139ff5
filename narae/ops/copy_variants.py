"""torch's ``*_copy`` variants of view ops (``permute_copy``...) and other top-level odds.

A ``*_copy`` op returns what the view op returns, but in fresh memory: narae composes the
view with ``clone`` so both halves stay differentiable. The rest are torch's global
switches (narae is deterministic and single-precision exact, so they are stored and
reported), deprecated aliases kept for old code, functional RNN cells, ``segment_reduce``
and the ``torch.Size`` tuple.
"""
import math

from ..autograd import grad_mode
from ..backend import get_array_module
from ..tensor import Tensor, register_methods
from ._operands import normalize_dim
from .convert import clone
from .recurrent import rnn_tanh_cell, rnn_relu_cell, lstm_cell, gru_cell
from .scatter import scatter_reduce, slice_scatter
from .shape import permute, unbind, split, reshape, broadcast_to

__all__ = ["alias_copy", "detach_copy", "expand_copy", "permute_copy", "slice_copy",
           "split_copy", "unbind_copy", "view_copy", "values_copy", "indices_copy",
           "fill_", "detach_", "dropout_", "alpha_dropout_", "feature_dropout",
           "feature_dropout_", "feature_alpha_dropout_", "constant_pad_nd", "frobenius_norm",
           "nuclear_norm", "matrix_rank", "eig", "symeig", "lstsq", "solve", "get_device",
           "typename", "is_distributed", "segment_reduce", "slice_inverse", "empty_permuted",
           "nonzero_static", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
           "set_deterministic_debug_mode", "get_deterministic_debug_mode",
           "set_float32_matmul_precision", "get_float32_matmul_precision", "set_warn_always",
           "is_warn_always_enabled", "get_num_interop_threads", "set_num_interop_threads",
           "set_flush_denormal", "is_inference_mode_enabled", "Size", "GradScaler",
           "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"]


# -- *_copy: a view op's result in its own memory ------------------------------------------
def alias_copy(input):
    return clone(input)


def detach_copy(input):
    return clone(input.detach())


def expand_copy(input, size, *, implicit=False):
    return clone(input.expand(*size))


def permute_copy(input, dims):
    return clone(permute(input, dims))


def _slice_bounds(n, start, end, step, what):
    if step <= 0:
        raise RuntimeError(f"{what}: slice step must be positive, got {step}")
    start, end, _ = slice(start, end).indices(n)
    return start, max(end, start), step


def slice_copy(input, dim=0, start=None, end=None, step=1):
    """``input[..., start:end:step, ...]`` along ``dim``, as a new tensor."""
    d = normalize_dim(dim, input.ndim)
    s, e, st = _slice_bounds(input.shape[d], start, end, step, "slice_copy")
    return clone(input[(slice(None),) * d + (slice(s, e, st),)])


def split_copy(input, split_size, dim=0):
    return [clone(p) for p in split(input, split_size, dim)]


def unbind_copy(input, dim=0):
    return [clone(p) for p in unbind(input, dim)]


def view_copy(input, size):
    """``input.view(size)`` (or a dtype reinterpretation) as a new tensor."""
    if not isinstance(size, (tuple, list)):
        return clone(input.view(size))
    return clone(reshape(input, tuple(size)))


def values_copy(input):
    return clone(input.values())


def indices_copy(input):
    return clone(input.indices())


# -- in-place functional forms ---------------------------------------------------------
def fill_(input, value):
    return input.fill_(value)


def detach_(input):
    return input.detach_()


def dropout_(input, p, train):
    from .dropout import dropout
    return dropout(input, p, train, inplace=True)


def alpha_dropout_(input, p, train):
    from .dropout import alpha_dropout
    return alpha_dropout(input, p, train, inplace=True)


def _feature_dropout(input, p, train, inplace, alpha):
    from . import dropout as D
    if input.ndim < 2:
        raise RuntimeError(f"Feature dropout requires at least 2 dimensions in the input "
                           f"(got shape {tuple(input.shape)})")
    if alpha:
        return D.feature_alpha_dropout(input, p, train, inplace)
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return D._dropout(input, p, train, inplace, shape, "feature_dropout")


def feature_dropout(input, p, train):
    """Dropout of whole channels (dim 1) of an (N, C, ...) input."""
    return _feature_dropout(input, p, train, False, False)


def feature_dropout_(input, p, train):
    return _feature_dropout(input, p, train, True, False)


def feature_alpha_dropout_(input, p, train):
    return _feature_dropout(input, p, train, True, True)


def constant_pad_nd(input, pad, value=0):
    """Pad the last ``len(pad) // 2`` dims with ``value`` (pairs from the last dim back)."""
    from .shape import pad as _pad
    return _pad(input, tuple(pad), "constant", value)


# -- deprecated and removed functions ------------------------------------------------------
def frobenius_norm(input, dim, keepdim=False):
    """Deprecated alias: ``linalg.vector_norm(input, 2, dim, keepdim)``."""
    from ..linalg import vector_norm
    dim = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dim) > 2:
        raise RuntimeError(f"frobenius_norm: expected at most 2 dims, got {dim} for input of "
                           f"shape {tuple(input.shape)}")
    return vector_norm(input, 2, dim, keepdim)


def nuclear_norm(input, dim=None, keepdim=False):
    """Deprecated alias: ``linalg.matrix_norm(input, 'nuc', dim, keepdim)``; ``dim`` may be
    skipped (``nuclear_norm(x, keepdim)``, a 2-D input)."""
    from ..linalg import matrix_norm
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    if dim is None:
        if input.ndim != 2:
            raise RuntimeError(f"nuclear_norm: expected a 2-D tensor, got shape "
                               f"{tuple(input.shape)}")
        dim = (0, 1)
    return matrix_norm(input, "nuc", tuple(dim), keepdim)


_REMOVED = "This function was deprecated since version 1.9 and is now removed. "


def matrix_rank(input, tol=None, symmetric=False, *, out=None):
    raise RuntimeError(_REMOVED + "Please use the `narae.linalg.matrix_rank` function "
                       "instead. The parameter 'symmetric' was renamed in "
                       "`linalg.matrix_rank()` to 'hermitian'.")


def eig(self, eigenvectors=False, *, e=None, v=None):
    raise RuntimeError(_REMOVED + "`linalg.eig` returns complex tensors of dtype `cfloat` "
                       "or `cdouble` rather than real tensors mimicking complex tensors: use "
                       "`linalg.eigvals(A)` or `linalg.eig(A)`.")


def symeig(self, eigenvectors=False, upper=True, *, e=None, V=None):
    raise RuntimeError(_REMOVED + "The default behavior has changed from using the upper "
                       "triangular portion of the matrix by default to using the lower "
                       "triangular portion: use `linalg.eigvalsh(A, UPLO='U' if upper else "
                       "'L')` or `linalg.eigh`.")


def lstsq(self, A, *, out=None):
    raise RuntimeError(_REMOVED + "`lstsq` is deprecated in favor of `linalg.lstsq`, which "
                       "has reversed arguments and does not return the QR decomposition.")


def solve(self, A, *, out=None):
    raise RuntimeError(_REMOVED + "`solve` is deprecated in favor of `linalg.solve`, which "
                       "has its arguments reversed and does not return the LU factorization.")


# -- small facts -----------------------------------------------------------------------
def get_device(input):
    """The CUDA ordinal of a GPU tensor, -1 for a CPU tensor."""
    d = input.device
    return -1 if d.type == "cpu" else (d.index or 0)


_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half",
               "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
               "int8": "Char", "uint8": "Byte", "bool": "Bool", "complex64": "ComplexFloat",
               "complex128": "ComplexDouble"}


def typename(obj):
    """torch's type string: ``'torch.FloatTensor'`` for a CPU float tensor, the qualified
    class name for anything else."""
    if isinstance(obj, Tensor):
        kind = _TYPE_NAMES.get(obj.dtype.name, obj.dtype.name)
        where = "cuda." if obj.device.type == "cuda" else ""
        return f"torch.{where}{kind}Tensor"
    module = getattr(obj, "__module__", "") or ""
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    if module in ("", "builtins"):
        return name
    return f"{module}.{name}"


def is_distributed(input):
    return False


# -- segment_reduce -------------------------------------------------------------------
_SEG_REDUCE = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin", "prod": "prod"}
_EMPTY = {"sum": 0.0, "mean": math.nan, "max": -math.inf, "min": math.inf, "prod": 1.0}


def segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0,
                   unsafe=False, initial=None):
    """Reduce consecutive segments of ``data`` along ``axis``: segment ``j`` of row ``b``
    holds ``lengths[b, j]`` elements (or ``offsets[b, j+1] - offsets[b, j]``). An empty
    segment gives ``initial`` (else sum 0, prod 1, max -inf, min inf, mean nan)."""
    if reduce not in _SEG_REDUCE:
        raise RuntimeError(f"segment_reduce(): unsupported reduction {reduce!r} (expected one "
                           f"of {sorted(_SEG_REDUCE)})")
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if (lengths is None) == (offsets is None):
        raise RuntimeError("segment_reduce(): expected exactly one of lengths or offsets")
    axis = normalize_dim(axis, data.ndim)
    seg = lengths if lengths is not None else offsets
    s = seg._data if isinstance(seg, Tensor) else seg
    xp = get_array_module(data._data)
    s = xp.asarray(s)
    if s.ndim - 1 != axis or tuple(s.shape[:-1]) != tuple(data.shape[:axis]):
        raise RuntimeError(f"segment_reduce(): {'lengths' if lengths is not None else 'offsets'}"
                           f" of shape {tuple(s.shape)} does not match data of shape "
                           f"{tuple(data.shape)} with axis={axis}")
    if offsets is not None:
        starts, lens = s[..., :-1], s[..., 1:] - s[..., :-1]
    else:
        lens = s
        starts = xp.cumsum(lens, axis=-1) - lens
    n = data.shape[axis]
    if not unsafe and lengths is not None and (bool((lens < 0).any())
                                               or bool((lens.sum(-1) != n).any())):
        raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to sum "
                           f"to data.size(lengths.dim()-1) when !unsafe (data of shape "
                           f"{tuple(data.shape)}, lengths of shape {tuple(s.shape)})")
    nseg = s.shape[-1] - (1 if offsets is not None else 0)
    # The segment of each position along axis: how many segment starts lie at or before it.
    pos = xp.arange(n)
    ends = (starts + lens)[..., None, :]  # (..., 1, nseg)
    seg_id = (pos[:, None] >= ends).sum(-1)  # (..., n): first segment whose end is after pos
    seg_id = xp.minimum(seg_id, max(nseg - 1, 0)).astype(xp.int64)
    trail = data.shape[axis + 1:]
    index = broadcast_to(Tensor(seg_id.reshape(seg_id.shape + (1,) * len(trail))),
                         tuple(data.shape))
    out_shape = tuple(data.shape[:axis]) + (nseg,) + tuple(trail)
    fill = _EMPTY[reduce] if initial is None else float(initial)
    base = Tensor(xp.full(out_shape, fill, data._data.dtype))
    if nseg == 0 or n == 0:
        return base
    counts = lens.reshape(lens.shape + (1,) * len(trail))
    if reduce == "mean":
        start = Tensor(xp.full(out_shape, 0.0 if initial is None else fill, data._data.dtype))
        total = scatter_reduce(start, axis, index, data, "sum", include_self=True)
        safe = Tensor(xp.maximum(counts, 1).astype(data._data.dtype))
        empty = Tensor(xp.broadcast_to(counts == 0, out_shape))
        from .arith import where
        return where(empty, fill, total / safe)
    # the base holds the empty-segment value, the identity of the reduction (or initial)
    return scatter_reduce(base, axis, index, data, _SEG_REDUCE[reduce], include_self=True)


# -- views and placement --------------------------------------------------------------
def slice_inverse(input, src, dim=0, start=None, end=None, step=1):
    """The inverse of ``slice``: a tensor shaped like ``src`` whose ``[start:end:step]``
    slice along ``dim`` is ``input`` and whose other elements are ``src``'s (torch returns
    a view of the storage ``input`` was sliced from; narae gives the same values)."""
    d = normalize_dim(dim, src.ndim)
    s, e, st = _slice_bounds(src.shape[d], start, end, step, "slice_inverse")
    expected = list(src.shape)
    expected[d] = len(range(s, e, st))
    if tuple(input.shape) != tuple(expected):
        raise RuntimeError(f"slice_inverse: input of shape {tuple(input.shape)} is not the "
                           f"[{s}:{e}:{st}] slice along dim {d} of src of shape "
                           f"{tuple(src.shape)}")
    return slice_scatter(src, input, d, s, e, st)


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   pin_memory=False, requires_grad=False):
    """An uninitialized tensor of ``size`` laid out in memory in ``physical_layout`` order
    (outermost dim first): ``empty(size[layout]).permute(inverse layout)``."""
    from ..creation import empty
    size, order = tuple(size), tuple(physical_layout)
    if sorted(order) != list(range(len(size))):
        raise RuntimeError(f"empty_permuted: physical_layout {order} is not a permutation of "
                           f"the dims of size {size}")
    t = empty(*[size[i] for i in order], dtype=dtype, device=device)
    inverse = [0] * len(order)
    for k, i in enumerate(order):
        inverse[i] = k
    out = Tensor(t._data.transpose(inverse))
    return out.requires_grad_(True) if requires_grad else out


def nonzero_static(input, *, size, fill_value=-1):
    """``nonzero(input)`` cut or padded (with ``fill_value`` rows) to exactly ``size`` rows:
    a fixed output shape, as compiled graphs need."""
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be a non-negative integer, got {size}")
    x = input._data
    xp = get_array_module(x)
    idx = xp.stack(xp.nonzero(x), axis=1) if x.ndim else xp.zeros(
        (int(bool(x)), 0), xp.int64)
    idx = idx[:size].astype(xp.int64)
    pad = xp.full((size - idx.shape[0], max(x.ndim, 0)), fill_value, xp.int64)
    return Tensor(xp.concatenate([idx, pad], axis=0))


# -- global switches: stored and reported (narae's ops are already deterministic) -------
class _Flags:
    deterministic = False
    warn_only = False
    matmul_precision = "highest"
    warn_always = False
    interop_threads = None


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Record the request: every narae op is already deterministic on CPU and GPU."""
    _Flags.deterministic, _Flags.warn_only = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _Flags.deterministic


def is_deterministic_algorithms_warn_only_enabled():
    return _Flags.warn_only


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode):
    """0/'default': off, 1/'warn': deterministic with warnings, 2/'error': deterministic."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, "
                               f"`warn`, `error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    if not isinstance(debug_mode, int) or debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    if not _Flags.deterministic:
        return 0
    return 1 if _Flags.warn_only else 2


def set_float32_matmul_precision(precision):
    """'highest', 'high' or 'medium': recorded (narae's float32 matmuls are always full
    precision)."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision {precision!r}: expected 'highest', 'high' or "
                           f"'medium'")
    _Flags.matmul_precision = precision


def get_float32_matmul_precision():
    return _Flags.matmul_precision


def set_warn_always(b, /):
    _Flags.warn_always = bool(b)


def is_warn_always_enabled():
    return _Flags.warn_always


def get_num_interop_threads():
    """Threads for running independent ops at once: narae runs ops one after another, so
    this is the number set (torch's default is the core count)."""
    if _Flags.interop_threads is None:
        import os
        return os.cpu_count() or 1
    return _Flags.interop_threads


def set_num_interop_threads(num):
    if _Flags.interop_threads is not None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work "
                           "has started or set_num_interop_threads called")
    if num <= 0:
        raise RuntimeError(f"Expected positive number of threads, got {num}")
    _Flags.interop_threads = int(num)


def set_flush_denormal(mode):
    """Ask for denormal floats to be flushed to zero; NumPy cannot switch the CPU's FTZ mode,
    so nothing changes and False (unsupported) is returned unless ``mode`` is False."""
    return not mode


def is_inference_mode_enabled():
    """Whether an ``inference_mode()`` block is active (narae's inference mode is ``no_grad``,
    so this reports a disabled grad mode entered through ``inference_mode``)."""
    return bool(getattr(grad_mode.state, "inference", False))


class Size(tuple):
    """A tensor's shape as torch names it: a tuple of ints with ``numel()``."""

    def __new__(cls, sizes=()):
        values = tuple(sizes)
        for v in values:
            if not isinstance(v, int) and not (hasattr(v, "__index__") and not isinstance(
                    v, float)):
                raise TypeError(f"Size(): expected ints, got {type(v).__name__} in {values}")
        return super().__new__(cls, (v.__index__() for v in values))

    def numel(self):
        n = 1
        for v in self:
            n *= v
        return n

    def __getitem__(self, key):
        out = tuple.__getitem__(self, key)
        return Size(out) if isinstance(key, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def __mul__(self, n):
        return Size(tuple(self) * n)

    __rmul__ = __mul__

    def __repr__(self):
        return f"torch.Size({list(self)})"

    def __reduce__(self):
        return (Size, (tuple(self),))


from ..amp import GradScaler  # noqa: E402 (torch.GradScaler is torch.amp.GradScaler)


# -- Tensor methods torch has ---------------------------------------------------------
def _as_subclass(self, cls):
    """The same data (and graph) seen as an instance of the Tensor subclass ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass: expected a subclass of Tensor, got {cls!r}")
    out = Tensor.__new__(cls)
    Tensor.__init__(out, self._data, self.requires_grad)
    out._creator, out._out_idx, out._gen = self._creator, self._out_idx, self._gen
    out._version = self._version
    return out


def _chalf(self, memory_format=None):
    raise TypeError(f"chalf: narae has no complex32 (ComplexHalf) dtype; use cfloat() for "
                    f"complex64 (tensor of shape {tuple(self.shape)}, dtype {self.dtype})")


def _output_nr(self):
    return self._out_idx


def _is_set_to(self, tensor):
    """Whether both tensors are the same memory with the same shape and strides."""
    a, b = self._data, tensor._data
    return (a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype
            and _data_ptr(a) == _data_ptr(b))


def _data_ptr(a):
    if hasattr(a, "__array_interface__"):
        return a.__array_interface__["data"][0]
    return a.data.ptr


def _set_(self, source=None, storage_offset=0, size=None, stride=None):
    """Make this tensor use ``source``'s memory (an empty tensor when no source): later
    writes through either show in both."""
    self._check_inplace()
    xp = get_array_module(self._data)
    if source is None:
        data = xp.empty((0,), self._data.dtype)
    else:
        data = source._data if isinstance(source, Tensor) else source
        if size is not None:
            flat = data.reshape(-1) if data.flags.c_contiguous else None
            if flat is None:
                raise RuntimeError(f"set_: source of shape {tuple(data.shape)} must be "
                                   f"contiguous to be viewed with a size")
            size = tuple(size)
            count = 1
            for v in size:
                count *= v
            view = flat[storage_offset:storage_offset + count]
            if stride is not None and tuple(stride) != _contiguous_strides(size):
                itemsize = data.dtype.itemsize
                view = xp.lib.stride_tricks.as_strided(
                    flat[storage_offset:], size, tuple(s * itemsize for s in stride))
            else:
                view = view.reshape(size)
            data = view
    self._data = data
    self._version[0] += 1
    return self


def _contiguous_strides(size):
    out, acc = [], 1
    for v in reversed(size):
        out.append(acc)
        acc *= v
    return tuple(reversed(out))


def _not_sparse(what, layout="sparse coordinate tensor layout"):
    def method(self, *args, **kwargs):
        raise RuntimeError(f"{what} expected {layout} but got Strided (a dense tensor of "
                           f"shape {tuple(self.shape)}; call to_sparse() first)")
    method.__name__ = what
    return method


register_methods(as_subclass=_as_subclass, chalf=_chalf, nonzero_static=nonzero_static,
                 slice_inverse=slice_inverse, is_set_to=_is_set_to, set_=_set_,
                 eig=eig, symeig=symeig, lstsq=lstsq, solve=solve,
                 is_distributed=is_distributed,
                 coalesce=_not_sparse("coalesce"), indices=_not_sparse("indices"),
                 values=_not_sparse("values", "sparse tensor layout"),
                 is_coalesced=_not_sparse("is_coalesced"))
Tensor.output_nr = property(_output_nr)
