"""``Parameter``: a Tensor that a Module registers as learnable when assigned as an attribute;
``Buffer``: one it registers as state (saved, moved, not learned); the ``Uninitialized``
forms that lazy modules hold until their first forward fixes the shapes.

They are Tensor subclasses (not wrappers) so that every op, optimizer and ``.grad`` works on
them unchanged; the subclass only marks "collect me in ``parameters()``" and changes the repr.
"""
import numpy as np

from ..tensor import Tensor

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"]


class Parameter(Tensor):
    """A learnable tensor: ``Parameter(data=None, requires_grad=True)`` (torch.nn.Parameter).

    The parameter shares ``data``'s array (as torch's does), so wrapping a tensor costs nothing.
    """
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), np.float32)
        elif isinstance(data, Tensor):
            data = data._data
        elif type(data) is not np.ndarray and not hasattr(data, "__cuda_array_interface__"):
            data = np.asarray(data)
            if data.dtype == np.float64:
                data = data.astype(np.float32)  # as torch.tensor(list) would be
        super().__init__(data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto):
        # pickling/deepcopy rebuild a Parameter (not a bare Tensor) and keep requires_grad
        return (_rebuild_parameter, (self._data, self.requires_grad, self.grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        p = Parameter(self._data.copy(), self.requires_grad)
        if self.grad is not None:
            p.grad = Tensor(self.grad._data.copy())
        memo[id(self)] = p
        return p


def _rebuild_parameter(data, requires_grad, grad):
    p = Parameter(data, requires_grad)
    p.grad = grad
    return p


class Buffer(Tensor):
    """A tensor that a Module registers as a buffer when assigned as an attribute
    (torch.nn.Buffer): ``Buffer(data=None, *, persistent=True)``; non-persistent buffers are
    left out of ``state_dict``. It shares ``data``'s array and keeps its requires_grad."""
    __slots__ = ("persistent",)

    def __init__(self, data=None, *, persistent=True):
        requires_grad = False
        if data is None:
            data = np.empty((0,), np.float32)
        elif isinstance(data, Tensor):
            requires_grad = data.requires_grad
            data = data._data
        super().__init__(data, requires_grad)
        self.persistent = persistent

    def __reduce_ex__(self, proto):
        return (_rebuild_buffer, (self._data, self.requires_grad, self.persistent))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        b = Buffer(Tensor(self._data.copy(), self.requires_grad), persistent=self.persistent)
        memo[id(self)] = b
        return b


def _rebuild_buffer(data, requires_grad, persistent):
    return Buffer(Tensor(data, requires_grad), persistent=persistent)


_UNINITIALIZED = ("Can't access the shape of an uninitialized parameter or buffer. This error "
                  "usually happens in `load_state_dict` when trying to load an uninitialized "
                  "parameter into an initialized one. Call `forward` to initialize the "
                  "parameters before accessing their attributes.")


def _empty_like_request(device, dtype):
    from .. import creation
    return creation.empty(0, device=device, dtype=dtype)._data


class _Uninitialized:
    """Shared behaviour: no shape until ``materialize(shape)`` gives the tensor its array
    (dtype and device are those of the placeholder, which ``Module.to`` converts) and turns
    it into ``cls_to_become`` in place, so references to it (an optimizer's) stay valid."""
    __slots__ = ()
    cls_to_become = None

    @property
    def shape(self):
        raise RuntimeError(_UNINITIALIZED)

    def size(self, dim=None):
        raise RuntimeError(_UNINITIALIZED)

    def numel(self):
        raise RuntimeError(_UNINITIALIZED)

    @property
    def ndim(self):
        raise RuntimeError(_UNINITIALIZED)

    def dim(self):
        raise RuntimeError(_UNINITIALIZED)

    def materialize(self, shape, device=None, dtype=None):
        """Allocate the array of ``shape`` (uninitialized values) and become a normal tensor."""
        from .. import creation
        from .._dtype import from_numpy_dtype
        if isinstance(shape, int):
            shape = (shape,)
        dtype = dtype if dtype is not None else from_numpy_dtype(self._data.dtype)
        device = device if device is not None else Tensor.device.__get__(self)
        self._data = creation.empty(*tuple(shape), device=device, dtype=dtype)._data
        self._version[0] += 1
        self.__class__ = self.cls_to_become

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        new = type(self).__new__(type(self))
        Tensor.__init__(new, self._data.copy(), self.requires_grad)
        if isinstance(self, Buffer):
            new.persistent = self.persistent
        memo[id(self)] = new
        return new

    def __reduce_ex__(self, proto):
        return (_rebuild_uninitialized, (type(self), self._data, self.requires_grad,
                                     getattr(self, "persistent", True)))


def _rebuild_uninitialized(cls, data, requires_grad, persistent):
    new = cls.__new__(cls)
    Tensor.__init__(new, data, requires_grad)
    if isinstance(new, Buffer):
        new.persistent = persistent
    return new


class UninitializedParameter(_Uninitialized, Parameter):
    """A Parameter whose shape is not known yet (held by lazy modules); it becomes a
    ``Parameter`` when materialized."""
    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        Parameter.__init__(self, _empty_like_request(device, dtype), requires_grad)


class UninitializedBuffer(_Uninitialized, Buffer):
    """A buffer whose shape is not known yet (held by lazy modules); it becomes a ``Buffer``
    (a plain tensor for every use) when materialized."""
    __slots__ = ()
    cls_to_become = Buffer

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        Buffer.__init__(self, Tensor(_empty_like_request(device, dtype), requires_grad),
                        persistent=persistent)
