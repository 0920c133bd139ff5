"""``Function``: one node of the computation graph.

A Function computes its ``forward`` on raw arrays and its ``backward`` on Tensors, written
with narae's own differentiable ops: with ``create_graph=True`` the backward pass itself
records a graph, which gives higher-order gradients without extra code.

Gradients returned by ``backward`` may keep the broadcast shape of the output; the engine
reduces them to each input's shape in one place (``sum_to``).
"""
import numpy as np

from . import grad_mode
from .. import _dtype as _dtype_mod
from .._dtype import is_differentiable as _is_differentiable
from ..backend.arrays import raise_if_mixed_devices

__all__ = ["Function", "ShapeError", "FunctionCtx", "once_differentiable"]


class ShapeError(RuntimeError, ValueError):
    """Inputs whose shapes do not fit an op (a RuntimeError, as torch raises, and a ValueError)."""

_ndarray = np.ndarray

# Set by narae.amp while an autocast region is active (and cleared by the engine during
# backward): ``hook(fn, inputs) -> inputs``. A module global keeps the cost when autocast is
# off to one global lookup per op.
_autocast_hook = None

# bfloat16 (ml_dtypes) is not one of NumPy's float types, so NumPy widens a bfloat16 array
# met with a Python float to float32 (``x * 0.5``, ``1 / (1 + exp(-x))``), and np.matmul of
# two bfloat16 arrays returns float32. torch keeps such results in bfloat16. Once bfloat16 is
# in use (``_dtype.on_bfloat16_use``), ``__call__`` passes the result of every op whose first
# input is not float16/32/64 through this hook, which rounds a float32 result back to
# bfloat16 when the op's floating inputs are all bfloat16. Ops that widen on purpose (Cast)
# set ``_widens``. Until bfloat16 is used the cost is one global lookup per op.
_bf16_hook = None
_F32 = np.dtype(np.float32)


def _round_to_bf16(fn, inputs, ys):
    """``ys`` with float32 results rounded to bfloat16 if every floating input is bfloat16."""
    if type(ys) is tuple:
        return _round_tuple_to_bf16(fn, inputs, ys)
    dt = getattr(ys, "dtype", None)  # (ys may be a NumPy scalar, or an odd object)
    if dt is not _F32 and dt != _F32:
        return ys
    if _only_bf16_floats(inputs) and not fn._widens:
        return ys.astype(_dtype_mod.BF16)
    return ys


def _only_bf16_floats(inputs):
    """Some input is bfloat16 and none is float16/32/64 (a float32 result was NumPy's)."""
    low = False
    for x in inputs:
        dt = x._data.dtype
        if dt.kind == "f":
            return False  # (the common case, float32 programs: decided at the first input)
        if dt == _dtype_mod.BF16:
            low = True
    return low


def _round_tuple_to_bf16(fn, inputs, ys):
    if not any(getattr(y, "dtype", None) == _F32 for y in ys) or fn._widens or \
            not _only_bf16_floats(inputs):
        return ys
    bf16 = _dtype_mod.BF16
    return tuple(y.astype(bf16) if getattr(y, "dtype", None) == _F32 else y for y in ys)


def _raise_if_mixed_devices(fn, inputs, cause):
    """After a failed forward: inputs on two devices get torch's clear error, not CuPy's."""
    raise_if_mixed_devices([x._data for x in inputs], type(fn).__name__, cause)


def _enable_bf16_hook():
    global _bf16_hook
    _bf16_hook = _round_to_bf16


_dtype_mod.on_bfloat16_use(_enable_bf16_hook)


class Function:
    """Base class of every differentiable op.

    Subclasses implement ``forward(self, *arrays)`` returning an array (or a tuple of arrays)
    and ``backward(self, *grad_outputs)`` returning one Tensor (or None) per input.
    In ``forward`` they may keep arrays on ``self`` for the backward pass; they read their
    input Tensors through ``self.inputs`` and their outputs through ``self.output(i)``.

    Class attributes:
      uses_inputs  -- backward reads the inputs' values (enables the in-place check on them)
      uses_outputs -- backward reads the outputs (they are kept as arrays)
      _autocast    -- the op's mixed-precision policy, set by narae.amp.policy (None: promote)
      _widens      -- the op may turn bfloat16 inputs into a float32 result on purpose (Cast)
    """
    uses_inputs = True
    uses_outputs = False
    _autocast = None
    _widens = False

    # Set by __call__ when the node is recorded in a graph:
    inputs = ()
    generation = 0
    _released = False
    _versions = None
    _out_arrays = None
    _out_versions = None
    _hooks = None       # {output index: [hook, ...]} for non-leaf tensors' register_hook
    _retain = None      # {output index: weakref to tensor} for retain_grad()

    # Multi-output nodes: the engine fills missing output gradients with zeros unless a
    # torch-style custom Function turned this off (``ctx.set_materialize_grads(False)``).
    _materialize_grads = True
    # True on torch-style subclasses (static ``forward(ctx, ...)``), run by ``apply``.
    _torch_style = False

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *gys):
        raise NotImplementedError

    vjp = backward  # torch's alias: a torch-style Function may define ``vjp`` instead

    # -- torch-style custom Functions (the machinery lives in narae.autograd.custom) --------
    def __init_subclass__(cls, **kwargs):
        """Tell torch-style subclasses (static ``forward``, or ``setup_context``) apart."""
        super().__init_subclass__(**kwargs)
        d = cls.__dict__
        if cls._torch_style or isinstance(d.get("forward"), staticmethod) or \
                "setup_context" in d:
            cls._torch_style = True
            if "__call__" not in d:
                cls.__call__ = _legacy_call

    @staticmethod
    def setup_context(ctx, inputs, output):
        """torch-style: store what backward needs, given ``forward``'s inputs and output."""
        raise NotImplementedError("You must implement the setup_context() method of your "
                                  "custom autograd.Function to use it with apply()")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run a torch-style custom Function on ``args`` and record it for backward."""
        if not cls._torch_style:
            raise TypeError(f"{cls.__name__}.apply: only torch-style Functions (a static "
                            f"forward(ctx, ...)) use apply(); call narae's internal Functions "
                            f"as instances, {cls.__name__}()(*tensors)")
        return _custom_apply(cls, args, kwargs)

    def __call__(self, *inputs):
        """Run forward on ``inputs`` (Tensors) and, when gradients are needed, record the node."""
        if _autocast_hook is not None:  # inside narae.amp.autocast: cast inputs per policy
            inputs = _autocast_hook(self, inputs)
        try:
            if len(inputs) == 1:
                ys = self.forward(inputs[0]._data)
            else:
                ys = self.forward(*[x._data for x in inputs])
        except ValueError as e:  # NumPy's shape errors: say which op and which shapes
            r = _sparse_hook(self, inputs) if _sparse_hook is not None else None
            if r is not None:
                return r
            _raise_if_mixed_devices(self, inputs, e)
            shapes = ", ".join(str(tuple(x.shape)) for x in inputs)
            raise ShapeError(f"{type(self).__name__}: {e} (input shapes: {shapes})") from None
        except (TypeError, AttributeError) as e:  # CuPy refusing a NumPy operand: name devices
            r = _sparse_hook(self, inputs) if _sparse_hook is not None else None
            if r is not None:  # a sparse tensor met a dense op: rerouted, or a clear error
                return r
            _raise_if_mixed_devices(self, inputs, e)
            raise
        except Exception:
            r = _sparse_hook(self, inputs) if _sparse_hook is not None else None
            if r is not None:
                return r
            raise
        # bfloat16 is in use: keep NumPy from widening it (a float16/32/64 first input
        # rules the rounding out, so float32 ops skip the call)
        if _bf16_hook is not None and inputs and inputs[0]._data.dtype.kind != "f":
            ys = _bf16_hook(self, inputs, ys)
        if type(ys) is tuple:
            return self._finish_multi(inputs, ys)
        if type(ys) is not _ndarray and not hasattr(ys, "__cuda_array_interface__"):
            ys = np.asarray(ys)  # NumPy returns scalars from 0-d results
        if grad_mode.state.enabled:
            for x in inputs:
                if x.requires_grad:
                    break
            else:
                return _Tensor(ys)
            self._link(inputs)
            dt = ys.dtype  # (kind "f" first: bfloat16's kind is "V"; complex joins the graph too)
            t = _Tensor(ys, dt.kind == "f" or _is_differentiable(dt))
            t._creator = self
            t._gen = self.generation + 1
            self._out_meta = ((ys.shape, ys.dtype),)
            if self.uses_outputs:
                self._out_arrays = (ys,)
                self._out_versions = ((t._version, 0),)
            return t
        return _Tensor(ys)

    def _link(self, inputs):
        """Record the inputs, the generation and (when backward reads them) their versions."""
        self.inputs = inputs
        gen = 0
        for x in inputs:
            if x._gen > gen:
                gen = x._gen
        self.generation = gen
        if self.uses_inputs:
            self._versions = [x._version[0] for x in inputs]

    def _finish_multi(self, inputs, ys):
        ys = [y if type(y) is _ndarray or hasattr(y, "__cuda_array_interface__")
              else np.asarray(y) for y in ys]
        if not grad_mode.state.enabled or not any(x.requires_grad for x in inputs):
            return tuple(_Tensor(y) for y in ys)
        self._link(inputs)
        outs = []
        for i, y in enumerate(ys):
            t = _Tensor(y, _is_differentiable(y.dtype))
            t._creator = self
            t._out_idx = i
            t._gen = self.generation + 1
            outs.append(t)
        self._out_meta = [(y.shape, y.dtype) for y in ys]
        if self.uses_outputs:
            self._out_arrays = ys
            self._out_versions = [(t._version, 0) for t in outs]
        return tuple(outs)

    # -- helpers for backward -------------------------------------------------------------
    def output(self, i=0):
        """Output ``i`` as a Tensor in this graph (rebuilt from the kept array if it was freed)."""
        t = _Tensor(self._out_arrays[i], requires_grad=True)
        t._creator = self
        t._out_idx = i
        t._gen = self.generation + 1
        return t

    def check_versions(self):
        """Raise if a tensor this node needs was modified in place after the forward pass."""
        if self._versions is not None:
            for x, v in zip(self.inputs, self._versions):
                if x._version[0] != v:
                    raise RuntimeError(
                        f"one of the tensors needed for gradient computation has been modified "
                        f"by an in-place operation: an input of {type(self).__name__} of shape "
                        f"{tuple(x.shape)} is at version {x._version[0]}, expected version {v}")
        if self._out_versions is not None:
            for i, (counter, v) in enumerate(self._out_versions):
                if counter[0] != v:
                    raise RuntimeError(
                        f"one of the tensors needed for gradient computation has been modified "
                        f"by an in-place operation: output {i} of {type(self).__name__} is at "
                        f"version {counter[0]}, expected version {v}")

    def release(self):
        """Free what the backward pass needed (called after backward without retain_graph)."""
        self.__dict__.clear()
        self._released = True

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"


def _legacy_call(self, *args, **kwargs):
    raise RuntimeError("Legacy autograd function with non-static forward method is deprecated. "
                       "Please use new-style autograd function with static forward method. "
                       "(Example: https://pytorch.org/docs/stable/autograd.html"
                       "#torch.autograd.Function)")


_Tensor = None  # set by narae.tensor to avoid an import cycle
# Set by narae.sparse: ``hook(fn, inputs)`` is asked only after a forward has failed; it
# returns None when no input is sparse, else the op's sparse result (or raises a clear error).
_sparse_hook = None
_custom_apply = None  # set by narae.autograd.custom (torch-style Function.apply)

from .custom import FunctionCtx, once_differentiable  # noqa: E402,F401 (torch's location)
