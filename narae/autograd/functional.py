"""Autograd on whole functions: ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``, ``vhp``.

Each takes ``func`` and its ``inputs`` (a Tensor or a tuple of Tensors) and returns results
shaped like torch.autograd.functional's. Everything is reverse mode:

* ``vjp``: one backward pass, ``v^T J``.
* ``jvp``: the double-vjp trick. ``u -> J^T u`` is linear in ``u``, so differentiating
  ``<J^T u, v>`` with respect to ``u`` gives ``J v`` (two backward passes, no forward AD).
* ``jacobian``: one backward per output element (row of J), retaining the graph;
  ``strategy="forward-mode"`` (torch's checks: it needs ``vectorize=True``) runs one
  forward-AD pass per input element (column of J) instead. ``vectorize`` changes nothing
  else (same passes).
* ``hessian``: the jacobian of the gradient (computed with ``create_graph=True``);
  ``outer_jacobian_strategy="forward-mode"`` is forward-over-reverse.
* ``vhp``: ``v^T H`` as the vjp of the gradient; ``hvp``: ``H v`` by the double-vjp trick.
"""
from . import grad_mode
from .grad_mode import enable_grad, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _Tensor():
    from ..tensor import Tensor
    return Tensor


def _as_tuple(inp, arg_name, fn_name):
    """(was it a tuple, the tuple of Tensors); type errors name the argument as torch does."""
    Tensor = _Tensor()
    is_tuple = isinstance(inp, (tuple, list))
    items = tuple(inp) if is_tuple else (inp,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            if is_tuple:
                raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or "
                                f"a tuple of Tensors but the value at index {i} has type "
                                f"{type(el)}.")
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but the given {arg_name} has type {type(el)}.")
    return is_tuple, items


def _tuple_postprocess(res, to_unpack):
    """Undo ``_as_tuple``: single tensors come back as tensors, as the caller passed them."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs, create_graph, need_graph):
    """Fresh leaves for the inner computation; with create_graph, aliases that keep the
    link to the caller's graph so the result can be differentiated again. Inside a
    forward-AD level a leaf keeps its input's tangent (forward-over-reverse hessian)."""
    from . import forward_ad
    res = []
    for inp in inputs:
        if create_graph and inp.requires_grad:
            res.append(inp.view_as(inp))
        else:
            t = inp.detach()
            if need_graph:
                t.requires_grad_(True)
            if forward_ad._state.level is not None:
                tangent = forward_ad._get(inp)
                if tangent is not None:
                    forward_ad._set(t, tangent)
            res.append(t)
    return tuple(res)


def _grad_postprocess(inputs, create_graph):
    if isinstance(inputs[0] if inputs else None, (tuple, list)):
        return tuple(_grad_postprocess(el, create_graph) for el in inputs)
    if create_graph:
        return tuple(inputs)
    return tuple(None if t is None else t.detach() for t in inputs)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but "
                               f"got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.shape != el_other.shape:
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be "
                               f"{tuple(el_other.shape)} but got {tuple(el_v.shape)}.")


def _check_requires_grad(inputs, input_type, strict):
    if not strict:
        return
    if input_type not in ("outputs", "grad_inputs", "jacobian", "hessian"):
        raise RuntimeError("Invalid input_type to _check_requires_grad")
    for i, inp in enumerate(inputs):
        if inp is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if not inp.requires_grad:
            if input_type == "hessian":
                raise RuntimeError(f"The hessian of the user-provided function with respect "
                                   f"to input {i} is independent of the input. This is not "
                                   "allowed in strict mode. You should ensure that your "
                                   "function is thrice differentiable and that the hessian "
                                   "depends on the inputs.")
            if input_type == "jacobian":
                raise RuntimeError(f"While computing the hessian, found that the jacobian of "
                                   f"the user-provided function with respect to input {i} is "
                                   "independent of the input. This is not allowed in strict "
                                   "mode. You should ensure that your function is twice "
                                   "differentiable and that the jacobian depends on the "
                                   "inputs (this would be violated by a linear function for "
                                   "example).")
            if input_type == "grad_inputs":
                raise RuntimeError(f"The gradient with respect to input {i} is independent of "
                                   "the inputs of the user-provided function. This is not "
                                   "allowed in strict mode.")
            raise RuntimeError(f"Output {i} of the user-provided function does not require "
                               "gradients. The outputs must be computed in a differentiable "
                               "manner from the input when running in strict mode.")


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """autograd.grad over the outputs that are in a graph; None for inputs they miss."""
    from . import grad as _grad
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    new_outputs, new_grads = [], []
    for out, g in zip(outputs, grad_outputs):
        if out is not None and out.requires_grad:
            new_outputs.append(out)
            new_grads.append(g)
    if not new_outputs:
        return (None,) * len(inputs)
    return _grad(new_outputs, list(inputs), new_grads, retain_graph=retain_graph,
                 create_graph=create_graph, allow_unused=True)


_STRICT_MESSAGES = {
    "back": "The output of the user-provided function is independent of input {i}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    from ..creation import zeros_like
    res = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_STRICT_MESSAGES[stage].format(i=i))
            g = zeros_like(ref)
        res.append(g)
    return tuple(res)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product, one backward pass."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph, True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _grad_preprocess(v, create_graph, False)
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
    with set_grad_enabled(True if create_graph else grad_mode.state.enabled):
        grads = _autograd_grad(outputs, inputs, v, create_graph)
        res = _fill_in_zeros(grads, inputs, strict, create_graph, "back")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_inputs_tuple)


def _call_with_input_vector(func, inputs, v, create_graph, name):
    """The shared start of jvp/hvp/vhp: inputs and ``v`` (shaped like the inputs) checked
    and prepared, then ``func`` called; returns both tuple flags with the tuples."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
    inputs = _grad_preprocess(inputs, create_graph, True)
    if v is not None:
        _, v = _as_tuple(v, "v", name)
        v = _grad_preprocess(v, create_graph, False)
        _validate_v(v, inputs, is_inputs_tuple)
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided "
                           "function is a single Tensor with a single element.")
    outputs = func(*inputs)
    is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                          name)
    return is_inputs_tuple, inputs, v, is_outputs_tuple, outputs


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)`` by the double-vjp trick: ``J v = d<J^T u, v>/du``."""
    from ..creation import zeros_like
    with enable_grad():
        is_inputs_tuple, inputs, v, is_outputs_tuple, outputs = _call_with_input_vector(
            func, inputs, v, create_graph, "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        # u: a dummy cotangent; J^T u is linear in u, and its derivative along v is J v
        grad_outputs = tuple(zeros_like(out).requires_grad_(True) for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    with set_grad_enabled(True if create_graph else grad_mode.state.enabled):
        grads = _autograd_grad(grad_inputs, grad_outputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grads, outputs, strict, create_graph, "back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_outputs_tuple)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: shape ``output.shape + input.shape`` per pair.

    Computed row by row in reverse mode (one backward per output element, retaining the
    graph), or column by column with ``strategy="forward-mode"`` (forward AD).
    """
    from ..creation import zeros
    from ..ops.shape import stack
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                         'Hint: If your function has more outputs than inputs, "forward-mode" '
                         'tends to be more performant. Otherwise, prefer to use '
                         '"reverse-mode".')
    if strategy == "forward-mode":
        if strict:
            raise ValueError('torch.autograd.functional.jacobian: `strict=True` and '
                             '`strategy="forward-mode"` are not supported together (yet). '
                             'Please either set `strict=False` or `strategy="reverse-mode"`.')
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-"
                                      "reverse Hessian is only implemented for "
                                      "`vectorize=True`.")
    if vectorize and strict:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                           "`vectorized=True` are not supported together. Please either set "
                           "`strict=False` or `vectorize=False`.")
    from . import forward_ad
    if strategy == "forward-mode" and forward_ad._state.level is None:
        return _jacobian_forward(func, inputs, create_graph)
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph, True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        jac = []
        for i, out in enumerate(outputs):
            n = out.numel()
            rows = [[] for _ in inputs]
            if out.requires_grad and n:
                xp = _xp(out)
                eye = xp.eye(n, dtype=out._data.dtype)
                Tensor = _Tensor()
                for k in range(n):
                    onehot = Tensor(eye[k].reshape(out.shape))
                    vj = _autograd_grad((out,), inputs, (onehot,), retain_graph=True,
                                        create_graph=create_graph)
                    for j, (g, inp) in enumerate(zip(vj, inputs)):
                        if g is None:
                            if strict:
                                raise RuntimeError(f"Output {i} of the user-provided function "
                                                   f"is independent of input {j}. This is not "
                                                   "allowed in strict mode.")
                            g = zeros(inp.shape, dtype=inp.dtype, device=inp.device)
                        elif strict and create_graph and not g.requires_grad:
                            raise RuntimeError("The jacobian of the user-provided function is "
                                               f"independent of input {j}. This is not "
                                               "allowed in strict mode when create_graph=True.")
                        rows[j].append(g)
            elif strict and n:
                raise RuntimeError(f"Output {i} of the user-provided function is independent "
                                   "of input 0. This is not allowed in strict mode.")
            blocks = []
            for j, inp in enumerate(inputs):
                shape = tuple(out.shape) + tuple(inp.shape)
                if rows[j]:
                    blocks.append(stack(rows[j], 0).reshape(shape))
                else:
                    blocks.append(zeros(shape, dtype=inp.dtype, device=inp.device))
            jac.append(tuple(blocks))
        jac = _grad_postprocess(jac, create_graph)
        return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def _jacobian_forward(func, inputs, create_graph):
    """``jacobian`` by forward-mode AD: one dual pass per input element (a column of J)."""
    from . import forward_ad as fw
    from ..creation import zeros, zeros_like
    from ..ops.shape import stack
    Tensor = _Tensor()
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    with set_grad_enabled(True if create_graph else grad_mode.state.enabled):
        inputs = _grad_preprocess(inputs, create_graph, False)
        cols = [[] for _ in inputs]
        first = None
        with fw.dual_level():
            for j, inp in enumerate(inputs):
                n = inp.numel()
                if not n:
                    continue
                eye = _xp(inp).eye(n, dtype=inp._data.dtype)
                for k in range(n):
                    args = list(inputs)
                    args[j] = fw.make_dual(inp, Tensor(eye[k].reshape(inp.shape)))
                    outputs = func(*args)
                    is_outputs_tuple, outputs = _as_tuple(
                        outputs, "outputs of the user-provided function", "jacobian")
                    tans = []
                    for o in outputs:
                        t = fw.unpack_dual(o).tangent
                        tans.append(zeros_like(o.detach()) if t is None else t)
                    if first is None:
                        first = (is_outputs_tuple, outputs)
                    cols[j].append(tans)
        if first is None:
            first = _as_tuple(func(*inputs), "outputs of the user-provided function",
                              "jacobian")
        is_outputs_tuple, outputs = first
        jac = []
        for i, out in enumerate(outputs):
            blocks = []
            for j, inp in enumerate(inputs):
                shape = tuple(out.shape) + tuple(inp.shape)
                if cols[j]:
                    blocks.append(stack([c[i].reshape(-1) for c in cols[j]], -1).reshape(shape))
                else:
                    blocks.append(zeros(shape, dtype=out.dtype, device=out.device))
            jac.append(tuple(blocks))
    jac = _grad_postprocess(jac, create_graph)
    return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def _xp(t):
    from ..backend import get_array_module
    return get_array_module(t._data)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func``: the jacobian of its gradient (double backward)."""
    Tensor = _Tensor()
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def single_output(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict)
        if is_out_tuple or not isinstance(out, Tensor):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out.squeeze()

    def jac_func(*inp):
        jac = jacobian(single_output, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def _scalar_output(outputs, is_outputs_tuple, fn_name):
    Tensor = _Tensor()
    if is_outputs_tuple or not isinstance(outputs[0], Tensor):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                           "contain a single element")


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar ``func``: the vjp of its gradient."""
    with enable_grad():
        is_inputs_tuple, inputs, v, is_outputs_tuple, outputs = _call_with_input_vector(
            func, inputs, v, create_graph, "vhp")
        _check_requires_grad(outputs, "outputs", strict)
        _scalar_output(outputs, is_outputs_tuple, "vhp")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
    with set_grad_enabled(True if create_graph else grad_mode.state.enabled):
        grads = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grads, inputs, strict, create_graph, "double_back")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_inputs_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for a scalar ``func``, by the double-vjp trick on its gradient."""
    from ..creation import zeros_like
    with enable_grad():
        is_inputs_tuple, inputs, v, is_outputs_tuple, outputs = _call_with_input_vector(
            func, inputs, v, create_graph, "hvp")
        _check_requires_grad(outputs, "outputs", strict)
        _scalar_output(outputs, is_outputs_tuple, "hvp")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        grad_jac = tuple(zeros_like(inp).requires_grad_(True) for inp in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict)
    with set_grad_enabled(True if create_graph else grad_mode.state.enabled):
        grads = _autograd_grad(double_back, grad_jac, v, create_graph=create_graph)
        res = _fill_in_zeros(grads, inputs, strict, create_graph, "double_back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_inputs_tuple)
