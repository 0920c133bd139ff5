"""Reverse-mode automatic differentiation: ``grad``, ``backward``, grad-mode switches."""
from .grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode
from .function import Function
from . import engine
from .gradcheck import gradcheck, gradgradcheck
from .custom import FunctionCtx, once_differentiable
from .anomaly_mode import (detect_anomaly, set_detect_anomaly, is_anomaly_enabled,
                           is_anomaly_check_nan_enabled, set_anomaly_enabled)
from . import functional
from . import forward_ad

__all__ = ["grad", "backward", "gradcheck", "gradgradcheck", "Function", "no_grad", "enable_grad",
           "set_grad_enabled", "is_grad_enabled", "inference_mode", "FunctionCtx", "once_differentiable",
           "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "set_anomaly_enabled", "functional", "forward_ad"]


def _as_list(x):
    return [x] if not isinstance(x, (list, tuple)) else list(x)


def _root_grads(outputs, grad_outputs):
    from ..tensor import Tensor
    from ..backend import get_array_module
    from ..backend.arrays import check_same_device
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    grad_outputs = _as_list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(grad_outputs)} "
                           f"for {len(outputs)} outputs")
    grads = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs (got "
                                   f"shape {tuple(out.shape)}); pass grad_outputs")
            xp = get_array_module(out._data)  # (from the shape: under vmap _data is a stand-in)
            g = Tensor(xp.ones(tuple(out.shape), dtype=out._data.dtype))
        else:
            check_same_device(out._data, g._data, "autograd.grad (grad_outputs)")
            if g.shape != out.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output has a shape of "
                                   f"{tuple(g.shape)} and output has a shape of "
                                   f"{tuple(out.shape)}")
        grads.append(g)
    return grads


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, materialize_grads=False):
    """The gradients of ``outputs`` w.r.t. ``inputs``, returned (``.grad`` is left untouched).

    With ``create_graph=True`` the result is itself differentiable: Hessian-vector products,
    gradient penalties and second-order optimizers build on this.
    """
    outputs = _as_list(outputs)
    inputs_list = _as_list(inputs)
    for x in inputs_list:
        if not x.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    capture = {id(x): None for x in inputs_list}
    engine.run_backward(outputs, _root_grads(outputs, grad_outputs), retain_graph, create_graph,
                        capture=capture)
    result = []
    for x in inputs_list:
        g = capture[id(x)]
        if g is None:
            if materialize_grads:
                from ..creation import zeros_like
                g = zeros_like(x)
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
        elif not create_graph and g.requires_grad:
            g = g.detach()
        result.append(g)
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate the gradients of several outputs into the leaves' ``.grad`` in one pass."""
    tensors = _as_list(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    engine.run_backward(tensors, _root_grads(tensors, grad_tensors), retain_graph, create_graph)
