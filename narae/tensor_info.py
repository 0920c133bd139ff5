"""Tensor facts torch code asks about: memory layout (``stride``, ``data_ptr``, ``nbytes``),
kind (``is_signed``, ``is_complex``, ``is_cpu``), and the complex/sparse/quantized queries a
real, dense, unquantized tensor answers trivially. Attached as Tensor methods on import."""
from . import _dtype
from .tensor import Tensor, register_methods
from .backend import get_array_module

__all__ = ["is_tensor", "is_storage", "is_floating_point", "is_complex", "is_nonzero",
           "numel", "strided", "sparse_coo", "layout"]


class layout:
    """A tensor's memory layout: dense ``strided``, or ``sparse_coo`` (narae.sparse)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"narae.{self.name}"


strided = layout("strided")
sparse_coo = layout("sparse_coo")


def _stride(self, dim=None):
    """Steps in elements between neighbours along each dim (NumPy/CuPy strides are bytes)."""
    item = self._data.itemsize
    strides = tuple(s // item for s in self._data.strides)
    if dim is None:
        return strides
    return strides[dim]


def _data_ptr(self):
    """The address of the first element (host or device memory)."""
    a = self._data
    if hasattr(a, "ctypes"):
        return a.ctypes.data
    return a.data.ptr


def _storage_offset(self):
    """Elements between the start of the base allocation and this view's first element."""
    a, base = self._data, self._data
    while getattr(base, "base", None) is not None:
        base = base.base
    if base is a or not hasattr(base, "ctypes") and not hasattr(base, "data"):
        return 0
    start = base.ctypes.data if hasattr(base, "ctypes") else base.data.ptr
    return (_data_ptr(self) - start) // a.itemsize


def _type(self, dtype=None, non_blocking=False):
    """Without an argument the type name (``narae.FloatTensor``...); with a dtype (or such a
    name) a converted copy, as torch's ``Tensor.type``."""
    names = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
             "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
             "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
             "bool": "BoolTensor", "complex64": "ComplexFloatTensor",
             "complex128": "ComplexDoubleTensor"}
    if dtype is None:
        prefix = "narae.cuda." if self.is_cuda else "narae."
        return prefix + names[self.dtype.name]
    if isinstance(dtype, str):
        wanted = dtype.rsplit(".", 1)[-1]
        by_name = {v: k for k, v in names.items()}
        if wanted not in by_name:
            raise ValueError(f"invalid type: {dtype!r}")
        dtype = getattr(_dtype, by_name[wanted])
    return self.to(dtype)


def _apply_(self, callable):
    """Replace every element by ``callable(element)`` in place (a Python loop: CPU only, as
    in torch; slow, for small tensors)."""
    if self.is_cuda:
        raise TypeError("apply_ is only implemented on CPU tensors")
    flat = self._data.reshape(-1)
    values = [callable(v) for v in flat.tolist()]
    self._data[...] = get_array_module(self._data).asarray(values, dtype=self._data.dtype) \
        .reshape(self._data.shape)
    self._version[0] += 1
    return self


def _map_(self, other, callable):
    """``self[i] = callable(self[i], other[i])`` in place, ``other`` broadcast (CPU only)."""
    if self.is_cuda:
        raise TypeError("map_ is only implemented on CPU tensors")
    xp = get_array_module(self._data)
    b = xp.broadcast_to(other._data, self._data.shape).reshape(-1).tolist()
    values = [callable(x, y) for x, y in zip(self._data.reshape(-1).tolist(), b)]
    self._data[...] = xp.asarray(values, dtype=self._data.dtype).reshape(self._data.shape)
    self._version[0] += 1
    return self


def is_tensor(obj):
    """True for narae Tensors (and Parameters)."""
    return isinstance(obj, Tensor)


def is_storage(obj):
    """narae has no separate storage objects."""
    return False


def is_floating_point(input):
    return input.is_floating_point()


def is_complex(input):
    """Whether ``input`` holds complex numbers (complex64 or complex128)."""
    return input._data.dtype.kind == "c"


def is_nonzero(input):
    """The truth of a one-element tensor; raises for other sizes, as torch."""
    if input.numel() == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if input.numel() > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.item())


def numel(input):
    return input.numel()


def _is_nonzero(self):
    return is_nonzero(self)


def _false(self):
    return False


def _same(self):
    return self


register_methods(
    stride=_stride, data_ptr=_data_ptr, const_data_ptr=_data_ptr,
    storage_offset=_storage_offset, type=_type, apply_=_apply_, map_=_map_,
    is_nonzero=_is_nonzero,
    is_signed=lambda self: self._data.dtype.kind in "fic" or self.dtype.name == "bfloat16",
    is_complex=is_complex, is_conj=_false, is_neg=_false, is_inference=_false,
    is_pinned=_false, is_shared=_false,
    is_same_size=lambda self, other: tuple(self.shape) == tuple(other.shape),
    get_device=lambda self: self.device.index if self.is_cuda and
    self.device.index is not None else (0 if self.is_cuda else -1),
    pin_memory=_same, share_memory_=_same, to_dense=_same,
    char=lambda self: self.to(_dtype.int8),
    dim_order=lambda self: tuple(sorted(range(self.ndim), key=lambda d: -abs(
        self._data.strides[d]))),
)
Tensor.is_cpu = property(lambda self: self.device.type == "cpu")
Tensor.nbytes = property(lambda self: self._data.nbytes)
Tensor.itemsize = property(lambda self: self._data.itemsize)
Tensor.layout = property(lambda self: strided)
for _name in ("is_quantized", "is_sparse", "is_sparse_csr", "is_meta", "is_nested",
              "is_mkldnn"):  # properties in torch, unlike is_conj() and friends
    setattr(Tensor, _name, property(_false))
