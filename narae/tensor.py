"""``Tensor``: an n-dimensional array that can record the operations applied to it.

The array lives in ``_data`` (a NumPy or CuPy array). A tensor produced by a recorded op
knows its ``_creator`` (the Function) and which of its outputs it is; ``backward`` hands
the graph to the engine. Math methods (``x.exp()``, ``x + y``...) are attached by the op
modules in ``narae.ops`` with ``register_methods``, next to the op they call.
"""
import sys
import weakref

import numpy as np

from . import _dtype
from .autograd import function as _function_mod, engine as _engine_mod, grad_mode
from .backend import device_of, to_device, as_device, get_array_module
from .backend import capture as _capture
from .backend.arrays import check_same_device

__all__ = ["Tensor", "register_methods"]


# narae.set_printoptions writes these (torch's defaults)
PRINT_OPTIONS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80,
                 "sci_mode": None}


class Tensor:
    __slots__ = ("_data", "grad", "requires_grad", "_creator", "_out_idx", "_gen", "_version",
                 "_hooks", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # make ``ndarray + Tensor`` call Tensor.__radd__

    def __init__(self, data, requires_grad=False):
        if type(data) is not np.ndarray and not hasattr(data, "__cuda_array_interface__"):
            if isinstance(data, Tensor):
                data = data._data
            else:
                is_python_data = not isinstance(data, np.generic)
                data = np.asarray(data)
                if is_python_data and type(self) is Tensor and data.dtype != np.float32:
                    if data.dtype.kind == "c":  # (torch.Tensor([...]) is a real float tensor)
                        raise TypeError("Tensor(): must be real number, not complex (use "
                                        "narae.tensor for complex data)")
                    data = data.astype(np.float32)  # torch.Tensor([...]) is a float tensor
        self._data = data
        self.grad = None
        self.requires_grad = requires_grad
        self._creator = None
        self._out_idx = 0
        self._gen = 0
        self._version = [0]
        self._hooks = None
        self._retains_grad = False

    # -- basic attributes ---------------------------------------------------------------
    @property
    def shape(self):
        return self._data.shape

    def size(self, dim=None):
        return self._data.shape if dim is None else self._data.shape[dim]

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        return device_of(self._data)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    def is_floating_point(self):
        return _dtype.is_floating(self._data.dtype)

    def element_size(self):
        return self._data.itemsize

    @property
    def is_leaf(self):
        return self._creator is None

    @property
    def grad_fn(self):
        return self._creator

    @property
    def data(self):
        """The same array, detached from the graph and from version tracking (as torch's)."""
        return Tensor(self._data)

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else value

    @property
    def _version_number(self):
        return self._version[0]

    # -- conversion -----------------------------------------------------------------------
    def __dlpack__(self, *args, **kwargs):
        """Share this tensor's memory through DLPack (``numpy.from_dlpack``,
        ``torch.from_dlpack``, ``cupy.from_dlpack`` read it without a copy)."""
        if self.requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use "
                               "tensor.detach()")
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def numpy(self):
        _capture.forbid("Tensor.numpy()")
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        if not isinstance(self._data, np.ndarray):
            raise TypeError(f"can't convert {self.device} tensor to numpy: "
                            "use Tensor.cpu() to copy the tensor to host memory first")
        return self._data

    def item(self):
        _capture.forbid("Tensor.item() (also float(), int(), bool() of a tensor)")
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        _capture.forbid("Tensor.tolist()")
        return to_device(self._data, as_device("cpu")).tolist()

    def __array__(self, dtype=None, copy=None):
        _capture.forbid("converting a tensor to a NumPy array")
        a = to_device(self._data, as_device("cpu"))
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} elements is "
                               "ambiguous")
        return bool(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    __hash__ = object.__hash__

    def __repr__(self):
        _capture.forbid("printing a tensor")
        a = to_device(self._data, as_device("cpu"))
        # NumPy prints bfloat16 unlike a float type: show its (exact) float32 values
        shown = a.astype(np.float32) if _dtype.is_floating(a.dtype) and a.dtype.kind != "f" \
            else a
        opts = PRINT_OPTIONS
        sci = opts["sci_mode"]
        formatter = None if not sci else {"float_kind": lambda v: f"{v:.{opts['precision']}e}"}
        if a.dtype.kind == "c":
            formatter = {"complex_kind": _complex_formatter(a, opts["precision"], sci)}
        body = np.array2string(
            shown, separator=", ", precision=opts["precision"], prefix="tensor(",
            threshold=opts["threshold"] if opts["threshold"] != float("inf") else sys.maxsize,
            edgeitems=opts["edgeitems"], max_line_width=opts["linewidth"],
            suppress_small=sci is False, formatter=formatter)
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if a.dtype not in (np.float32, np.int64, np.bool_, np.complex64) or a.size == 0:
            extras.append(f"dtype={self.dtype}")
        if self._creator is not None:
            extras.append(f"grad_fn={self._creator!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # -- autograd -----------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see torch.Tensor.backward)."""
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        if gradient is None:
            if self._data.dtype.kind == "c":
                raise RuntimeError("grad can be implicitly created only for real scalar outputs "
                                   f"(got a {self.dtype} tensor); pass `gradient=` to backward()")
            if self._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs "
                                   f"(got a tensor of shape {tuple(self.shape)}); pass "
                                   "`gradient=` to backward()")
            gradient = Tensor(get_array_module(self._data).ones_like(self._data))
        elif not isinstance(gradient, Tensor):
            xp = get_array_module(self._data)
            gradient = Tensor(xp.asarray(gradient, dtype=self._data.dtype))
        else:
            check_same_device(self._data, gradient._data, "backward")
        if gradient.shape != self.shape:
            raise RuntimeError(f"backward: gradient has shape {tuple(gradient.shape)} but the "
                               f"tensor has shape {tuple(self.shape)}")
        if retain_graph is None:
            retain_graph = create_graph
        if inputs is not None:
            from .autograd import grad as _grad
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            gs = _grad([self], inputs, [gradient], retain_graph=retain_graph,
                       create_graph=create_graph, allow_unused=True)
            for t, g in zip(inputs, gs):
                if g is not None:
                    t.grad = g if t.grad is None else t.grad + g
                    if _engine_mod._post_hooks and t._creator is None:
                        with grad_mode.set_grad_enabled(create_graph):
                            _engine_mod.run_post_accumulate_hooks(t)
            return
        _engine_mod.run_backward([self], [gradient], retain_graph, create_graph)

    def detach(self):
        t = Tensor(self._data)
        t._version = self._version  # a detached tensor shares the storage and its version counter
        return t

    def detach_(self):
        self._creator = None
        self._gen = 0
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        if requires_grad and not _dtype.is_differentiable(self._data.dtype):
            raise RuntimeError("only Tensors of floating point and complex dtype can require "
                               f"gradients (got {self.dtype})")
        self.requires_grad = requires_grad
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._creator is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            fn = self._creator
            if fn._hooks is None:
                fn._hooks = {}
            hooks = fn._hooks.setdefault(self._out_idx, [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` after backward has accumulated this leaf's ``.grad``.

        Used to step an optimizer inside backward (each parameter updated as soon as its
        gradient is ready). Runs in no-grad mode unless ``create_graph=True``; not called by
        ``autograd.grad``, which accumulates nothing. Returns a handle with ``remove()``.
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._creator is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        return _engine_mod.register_post_accumulate_grad_hook(self, hook)

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self._creator is None:
            return
        fn = self._creator
        if fn._retain is None:
            fn._retain = {}
        fn._retain[self._out_idx] = weakref.ref(self)
        self._retains_grad = True

    @property
    def retains_grad(self):
        return self._retains_grad

    # -- legacy resizing and constructors (torch.Tensor.resize_, new, ...) ---------------
    def resize_(self, *sizes, memory_format=None):
        """Give this tensor the shape ``sizes`` in place, keeping its leading elements.

        Elements are kept in row-major order (torch keeps storage order; the two agree for
        contiguous tensors). Shrinking keeps a view of the same memory; growing allocates:
        torch leaves the new elements uninitialized, narae fills them with zeros so the result
        is deterministic. Like torch, refuses tensors that require grad.
        """
        shape = _resize_sizes("resize_", sizes)
        if self.requires_grad:
            raise RuntimeError("cannot resize variables that require grad")
        old = self._data
        n = 1
        for s in shape:
            n *= s
        if n <= old.size:
            new = old.reshape(-1)[:n].reshape(shape)  # a view while the array is contiguous
        else:
            xp = get_array_module(old)
            new = xp.zeros(n, dtype=old.dtype)
            new[:old.size] = old.reshape(-1)
            new = new.reshape(shape)
        self._data = new
        self._version[0] += 1
        return self

    def resize_as_(self, tensor, memory_format=None):
        """``resize_`` to the shape of ``tensor``."""
        return self.resize_(tuple(tensor.shape), memory_format=memory_format)

    def resize(self, *sizes):
        """Deprecated out-of-place resize: a reshape that must keep the number of elements."""
        import warnings
        warnings.warn("non-inplace resize is deprecated", stacklevel=2)
        shape = _resize_sizes("resize", sizes)
        n = 1
        for s in shape:
            n *= s
        if n != self._data.size:
            raise RuntimeError(
                f"requested resize to {'x'.join(map(str, shape))} ({n} elements in total), but "
                f"the given tensor has a size of {'x'.join(map(str, self.shape))} "
                f"({self._data.size} elements). autograd's resize can only change the shape of "
                "a given tensor, while preserving the number of elements.")
        return self.contiguous().reshape(shape)

    def resize_as(self, tensor):
        """Deprecated out-of-place ``resize`` to the shape of ``tensor``."""
        import warnings
        warnings.warn("non-inplace resize_as is deprecated", stacklevel=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.resize(*tensor.shape)

    def new(self, *args, device=None):
        """Legacy constructor with this tensor's dtype (and device unless ``device`` is given).

        ``t.new(2, 3)`` or ``t.new(narae_shape)``: an uninitialized tensor of that size;
        ``t.new([1, 2])``: a tensor holding the data; ``t.new(other)``: ``other`` itself (it
        must have this dtype); ``t.new()``: an empty tensor. A tuple of ints is a size, since
        narae shapes are plain tuples (torch reads a plain tuple as data and only
        ``torch.Size`` as a size).
        """
        from .creation import empty, tensor as _tensor
        device = self.device if device is None else device
        if not args:
            return empty(0, dtype=self.dtype, device=device)
        if len(args) == 1 and isinstance(args[0], Tensor):
            other = args[0]
            if other.dtype != self.dtype:
                raise TypeError(f"new(): expected a tensor of dtype {self.dtype}, got "
                                f"{other.dtype}")
            return other.view(other.shape)
        ints = (int, np.integer)
        if len(args) == 1 and isinstance(args[0], tuple) and all(
                isinstance(a, ints) for a in args[0]):
            args = args[0]
        if all(isinstance(a, ints) and not isinstance(a, bool) for a in args):
            return empty(*args, dtype=self.dtype, device=device)
        if len(args) != 1:
            raise TypeError(f"new(): expected sizes (ints) or one data argument, got "
                            f"{tuple(type(a).__name__ for a in args)}")
        data = args[0]
        if not isinstance(data, (list, tuple)) and not hasattr(data, "__array__"):
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
        return _tensor(data, dtype=self.dtype, device=device)

    def new_empty_strided(self, size, stride, dtype=None, device=None, requires_grad=False,
                          layout=None, pin_memory=False):
        """``narae.empty_strided`` with this tensor's dtype and device by default."""
        from .misc import empty_strided
        return empty_strided(size, stride, dtype=dtype or self.dtype,
                             device=device or self.device, requires_grad=requires_grad)

    def dist(self, other, p=2):
        """The p-norm of ``self - other`` (see ``narae.dist``)."""
        from .misc import dist
        return dist(self, other, p)

    # -- in-place support ---------------------------------------------------------------
    def _check_inplace(self):
        if grad_mode.state.enabled and self.requires_grad and self._creator is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")

    def _take_over(self, result):
        """Become ``result`` (an out-of-place result computed from this tensor) in place.

        Outside the graph the array is overwritten in place (aliases see it); inside it, this
        tensor is re-pointed at the new node. Either way its version counter moves on, so a
        backward that needs the old values raises instead of using the new ones.
        """
        self._check_inplace()
        if result._creator is not None:
            if result._data.shape != self._data.shape:
                raise RuntimeError(f"in-place operation would change the shape "
                                   f"{tuple(self.shape)} to {tuple(result.shape)}")
            if result._data.dtype != self._data.dtype:  # keep this tensor's dtype, as torch
                if not np.can_cast(result._data.dtype, self._data.dtype, "same_kind"):
                    raise RuntimeError(f"result type {result.dtype} can't be cast to the "
                                       f"desired output type {self.dtype}")
                result = result.to(self.dtype)
            self._data = result._data
            self._creator = result._creator
            self._out_idx = result._out_idx
            self._gen = result._gen
            self.requires_grad = True
        else:
            if result._data.shape != self._data.shape:
                raise RuntimeError(f"in-place operation would change the shape "
                                   f"{tuple(self.shape)} to {tuple(result.shape)}")
            self._data[...] = result._data
        self._version[0] += 1
        return self

    def _apply_inplace(self, op, *args, **kwargs):
        """Run ``op(self, *args)`` and store the result in this tensor (torch's ``op_``)."""
        self._check_inplace()
        if grad_mode.state.enabled and (self.requires_grad or any(
                isinstance(a, Tensor) and a.requires_grad for a in args)):
            return self._take_over(op(self._previous(), *args, **kwargs))
        with grad_mode.no_grad():
            return self._take_over(op(self, *args, **kwargs))

    def _previous(self):
        """A tensor standing for this one's current value, as input of an in-place op."""
        t = Tensor(self._data, self.requires_grad)
        t._creator, t._out_idx, t._gen = self._creator, self._out_idx, self._gen
        return t


def _part_format(values, precision, sci):
    """torch's choice for one part (real or imaginary) of complex numbers: whole numbers as
    ``3.``, else fixed ``{:.4f}``, or scientific when magnitudes span more than 1000x or
    leave [1e-4, 1e8] (``sci`` True/False forces the choice)."""
    finite = values[np.isfinite(values)]
    nonzero = np.abs(finite[finite != 0])
    if sci is None:
        sci = nonzero.size > 0 and (nonzero.max() / nonzero.min() > 1000.0 or
                                    nonzero.max() > 1e8 or nonzero.min() < 1e-4)
    if sci:
        return lambda v: f"{v:.{precision}e}"
    if finite.size == 0 or (finite == np.round(finite)).all():
        return lambda v: f"{v:.0f}." if np.isfinite(v) else f"{v}"
    return lambda v: f"{v:.{precision}f}"


def _complex_formatter(a, precision, sci):
    """Format ``re+imj`` with a torch-like formatter for each part (widths aligned)."""
    re_fmt = _part_format(a.real.ravel(), precision, sci)
    im_fmt = _part_format(a.imag.ravel(), precision, sci)
    flat = a.ravel()
    width = max((len(re_fmt(v)) for v in flat.real[:1000]), default=0)

    def fmt(z):
        im = im_fmt(z.imag)
        return re_fmt(z.real).rjust(width) + ("" if im[0] in "+-" else "+") + im + "j"
    return fmt


def _resize_sizes(op, sizes):
    """``resize_(2, 3)`` or ``resize_((2, 3))``: the sizes as a tuple of non-negative ints."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{op}(): sizes must be ints, got {sizes}")
        if s < 0:
            raise RuntimeError(f"{op}(): sizes must be non-negative, got {tuple(sizes)}")
    return tuple(int(s) for s in sizes)


class _RemovableHandle:
    def __init__(self, container, item):
        self._container, self._item = container, item

    def remove(self):
        try:
            self._container.remove(self._item)
        except ValueError:
            pass


def register_methods(**methods):
    """Attach functions as Tensor methods (used by the op modules, beside the op)."""
    for name, fn in methods.items():
        setattr(Tensor, name, fn)


_function_mod._Tensor = Tensor
_engine_mod._Tensor = Tensor
