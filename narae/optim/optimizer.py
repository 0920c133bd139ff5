"""``Optimizer``: the bookkeeping every optimizer shares (param groups, state, checkpoints).

Subclasses only write ``step``. The update maths works on raw arrays (``p._data``), in
place, so an update costs a few array ops and no graph; after changing a parameter the
step bumps ``p._version`` so that a backward still holding the old values raises.
"""
import copy
import functools
from collections import OrderedDict, defaultdict
from itertools import chain

import numpy as np

from .. import _dtype
from .._dtype import is_floating
from ..tensor import Tensor
from ..autograd import grad_mode
from ..backend import capture, get_array_module, device_of, to_device
from ..sparse._coo import SparseCOOArray
from ..sparse._optim import reject_sparse_grad

__all__ = ["Optimizer", "required", "check_non_negative", "check_betas", "round_to_scalar_dtype",
           "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook",
           "real_pairs", "as_real_pairs"]


def real_pairs(a):
    """A complex array seen in place as real ``(re, im)`` pairs (shape ``a.shape + (2,)``,
    torch's ``view_as_real``); a real array or None as it is. Writing to the result writes
    ``a``: optimizers update complex parameters and their state through it."""
    if a is None or a.dtype.kind != "c":
        return a
    xp = get_array_module(a)
    half = a.real.dtype
    if a.flags.c_contiguous:  # the common case: a plain view, no stride arithmetic
        return a.reshape(a.shape or (1,)).view(half).reshape(a.shape + (2,))
    return xp.lib.stride_tricks.as_strided(a.real, a.shape + (2,),
                                           a.strides + (half.itemsize,))


def as_real_pairs(p, *arrays):
    """``arrays`` (a parameter's data, gradient and state) for an element-wise update: for a
    complex parameter ``p`` each one through ``real_pairs``, so that the real and imaginary
    parts are two independent coordinates (Adam's second moment is per part, not |g|^2),
    as torch's optimizers do; for a real parameter the arrays as given (one dtype check)."""
    if p._data.dtype.kind != "c":
        return arrays
    return tuple(real_pairs(a) for a in arrays)


class _Required:
    """Marks a hyper-parameter with no default: each param group must set it."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


def check_non_negative(**hyperparameters):
    """torch's constructor checks, in the order given: ``Invalid learning rate: -1`` etc."""
    labels = {"lr": "learning rate", "eps": "epsilon value"}
    for name, value in hyperparameters.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {labels.get(name, name + ' value')}: {value}")


def check_betas(betas):
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def round_to_scalar_dtype(value):
    """``value`` rounded as torch rounds the scalars it keeps in 0-d tensors of its "scalar
    dtype" (float64 when that is the default dtype, else float32): NAdam's momentum product,
    ASGD's eta and mu. Rounding the same way keeps the trajectories identical to torch's."""
    dt = _dtype.get_default_dtype().np.type
    if dt not in (np.float32, np.float64):
        dt = np.float32
    return float(dt(value))


_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """``hook(optimizer, args, kwargs)`` before every optimizer's ``step``."""
    return _add_hook(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """``hook(optimizer, args, kwargs)`` after every optimizer's ``step``."""
    return _add_hook(_global_step_post_hooks, hook)


def _add_hook(registry, hook, prepend=False):
    from ..nn.module import RemovableHandle
    handle = RemovableHandle(registry)
    registry[handle.id] = hook
    if prepend:
        registry.move_to_end(handle.id, last=False)
    return handle


def _with_step_hooks(step):
    """``step`` running the step pre/post hooks (once, even when a subclass's step calls
    its parent's)."""
    @functools.wraps(step)
    def hooked_step(self, *args, **kwargs):
        if SparseCOOArray.ever_made and not self._accepts_sparse_grads:
            _reject_sparse_grads(self)
        hooks = self.__dict__.get("_hooks")
        if (not hooks and not _global_step_pre_hooks and not _global_step_post_hooks) or \
                self.__dict__.get("_in_hooked_step"):
            return step(self, *args, **kwargs)
        own = hooks or {}
        args = (self,) + args  # torch's hooks see step's full positional arguments
        self.__dict__["_in_hooked_step"] = True
        try:
            for hook in chain(list(_global_step_pre_hooks.values()),
                              list(own.get("step_pre", {}).values())):
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"{hook} must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
            out = step(*args, **kwargs)
            for hook in chain(list(_global_step_post_hooks.values()),
                              list(own.get("step_post", {}).values())):
                hook(self, args, kwargs)
            return out
        finally:
            self.__dict__["_in_hooked_step"] = False
    hooked_step._with_hooks = True
    return hooked_step


def _reject_sparse_grads(optimizer):
    """torch's error when an optimizer without a sparse path meets a sparse gradient."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            reject_sparse_grad(type(optimizer).__name__, p)


class Optimizer:
    """Base class: ``params`` is an iterable of Tensors or of dicts (param groups)."""

    # SGD, Adagrad and SparseAdam update the rows of a sparse gradient; the others refuse it
    _accepts_sparse_grads = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_with_hooks", False):
            cls.step = _with_step_hooks(step)

    def _hook_registry(self, kind):
        return self.__dict__.setdefault("_hooks", {}).setdefault(kind, OrderedDict())

    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` before each ``step``; it may return new
        ``(args, kwargs)``."""
        return _add_hook(self._hook_registry("step_pre"), hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` after each ``step``."""
        return _add_hook(self._hook_registry("step_post"), hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer)`` before ``state_dict`` is built."""
        return _add_hook(self._hook_registry("sd_pre"), hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` after; a non-None result replaces the dict."""
        return _add_hook(self._hook_registry("sd_post"), hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` before loading; non-None replaces the dict."""
        return _add_hook(self._hook_registry("load_pre"), hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer)`` after ``load_state_dict``."""
        return _add_hook(self._hook_registry("load_post"), hook, prepend)

    def _run_hooks(self, kind, *args):
        """Run the hooks of ``kind``; the last non-None result (or None)."""
        result = None
        for hook in list(self.__dict__.get("_hooks", {}).get(kind, {}).values()):
            r = hook(self, *args)
            if r is not None:
                result = r
                if args:
                    args = (r,) + args[1:]
        return result

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        if defaults.get("differentiable"):
            raise NotImplementedError(f"{type(self).__name__}: differentiable=True (autograd "
                                      "through the update) is not supported")
        self.defaults = defaults
        self.state = defaultdict(dict)  # per parameter, filled at its first step
        self.param_groups = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}


    def __setstate__(self, state):
        self.__dict__.update(state)
        self.state = defaultdict(dict, self.state)

    # -- parameter groups -----------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group (a dict with ``params`` and optional per-group hyper-parameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        param_group["params"] = params
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + type(p).__name__)
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Drop every parameter's gradient (or zero it in place with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g._creator is not None:
                        g = p.grad = g.detach()
                    g.requires_grad = False
                    g._data[...] = 0
                    g._version[0] += 1

    def step(self, closure=None):
        raise NotImplementedError

    @staticmethod
    def _eval_closure(closure):
        """Re-evaluate the loss (with gradient recording on) when a closure is given."""
        if closure is None:
            return None
        with grad_mode.enable_grad():
            return closure()

    # -- multi-tensor (fused) updates: SGD and Adam(W) implement _fused_step and _hyper -----
    def _takes_fused_path(self, group, params):
        """Use the one-launch kernels? On CUDA by default (``fused=None``), never with
        ``fused=False``; on the CPU only under the kernel emulator (tests). Inside a
        ``narae.compile`` capture the fused path is required: it is the one whose step
        counts and hyper-parameters live on the device."""
        from . import _multi_tensor as mt
        # (kind "f", not is_floating: the fused kernels are built for NumPy's float types,
        # bfloat16 parameters take the array code)
        fused = params and group.get("fused") is not False and hasattr(self, "_fused_step") \
            and all(mt.fused_available(get_array_module(p._data)) and p._data.flags.c_contiguous
                    and p._data.dtype.kind == "f" for p in params)
        cap = capture.active()
        if not fused and params and cap is not None and cap.device == "cuda":
            raise RuntimeError(
                f"{type(self).__name__}.step() inside narae.compile needs the fused CUDA "
                "update (CUDA float parameters, fused not False; the first SGD momentum step "
                "must run before capture — narae.compile's warm-up steps do that)")
        return fused

    def _fused_partitions(self, group, params, n_hyper):
        """(FusedPartition, params) per device and dtype, hyper-parameters uploaded."""
        from . import _multi_tensor as mt
        cache = self.__dict__.setdefault("_fused_cache", {})
        for key, ps in mt.partitions(params).items():
            part = cache.get((id(group), key))
            if part is None:
                part = cache[(id(group), key)] = mt.FusedPartition(key[0], ps[0]._data.dtype,
                                                                   n_hyper)
                part.group = group
            part.set_hyper(self._hyper(group))
            capture.register(self, self._refresh_fused_hyper)
            yield part, ps

    def _refresh_fused_hyper(self):
        """Before a graph replay: upload the current learning rate etc. (schedulers work)."""
        for part in self.__dict__.get("_fused_cache", {}).values():
            part.set_hyper(self._hyper(part.group), upload=False)

    def _params_with_grad(self, group, *zero_buffers, **values):
        """``(param, state)`` for each parameter of ``group`` that has a gradient, its state
        made on first use (see ``_state_for``) and its ``step`` counted; after the caller's
        in-place update the parameter's version moves on."""
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state_for(p, *zero_buffers, **values)
            state["step"] += 1
            yield p, state
            p._version[0] += 1

    def _state_for(self, p, *zero_buffers, **values):
        """``p``'s state, made on first use: ``step`` 0, then ``values``, then a zero Tensor
        shaped like ``p`` (on its device) for each name in ``zero_buffers``."""
        state = self.state.get(p)
        if not state:
            zeros_like = get_array_module(p._data).zeros_like
            state = self.state[p] = {"step": 0, **values}
            for name in zero_buffers:
                state[name] = Tensor(zeros_like(p._data))
        return state

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.

        Parameters are named by their position over all groups, as in torch, so the dict
        can be loaded into a fresh optimizer built over other tensors of the same shapes.
        """
        self._run_hooks("sd_pre")
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v
                 for k, v in self.state.items()}
        out = {"state": state, "param_groups": groups}
        replaced = self._run_hooks("sd_post", out)
        return replaced if replaced is not None else out

    def load_state_dict(self, state_dict):
        """Load a ``state_dict()``: state is copied onto each parameter's device and dtype."""
        replaced = self._run_hooks("load_pre", state_dict)
        if replaced is not None:
            state_dict = replaced
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"])
               for g, s in zip(self.param_groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in self.param_groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v)
            else:
                state[k] = copy.deepcopy(v)
        self.state = state
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
        self.param_groups = saved_groups
        self._run_hooks("load_post")


def _cast(param, value, key=None):
    """A copy of ``value`` whose arrays live on ``param``'s device (floats in its dtype)."""
    if isinstance(value, Tensor):
        arr = to_device(value._data, device_of(param._data))
        xp = get_array_module(arr)
        if key != "step" and is_floating(arr.dtype) and is_floating(param._data.dtype):
            arr = arr.astype(param._data.dtype)
        return Tensor(xp.array(arr, copy=True))
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return copy.deepcopy(value)
