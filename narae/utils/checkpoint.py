"""Gradient checkpointing (``torch.utils.checkpoint``): keep a segment's inputs instead of
its activations and recompute the activations during backward — memory of one segment at a
time for the price of a second forward pass.

``checkpoint(fn, *args)`` runs ``fn`` once, notes which leaf tensors it used (parameters the
function reaches through closures or modules) and keeps only the outputs. The node it
records has the tensor arguments and those leaves as inputs; its backward re-runs ``fn``
with gradients on (random state restored, so dropout masks repeat) and differentiates the
recomputed graph. So gradients reach parameters through ``backward`` and ``autograd.grad``
alike, and with ``create_graph`` the recomputation is itself differentiable.
"""
from .. import random as _random
from ..autograd import grad_mode
from ..autograd.function import Function
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


def _leaves(outputs, exclude):
    """Leaf tensors requiring grad that ``outputs`` were computed from (graph walk)."""
    found, seen = [], set()
    stack = [t._creator for t in outputs if t._creator is not None]
    skip = {id(t) for t in exclude}
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for x in fn.inputs:
            if x._creator is not None:
                stack.append(x._creator)
            elif x.requires_grad and id(x) not in skip and id(x) not in seen:
                seen.add(id(x))
                found.append(x)
    return found


class _Recompute(Function):
    """The checkpointed segment as one node: forward hands back the outputs computed once;
    backward recomputes the segment and differentiates it."""
    uses_inputs = True

    def __init__(self, run, n_args, out_arrays, rng_state):
        self.run, self.n_args = run, n_args
        self.out_arrays, self.rng_state = out_arrays, rng_state

    def forward(self, *arrays):
        outs, self.out_arrays = self.out_arrays, None
        return outs if len(outs) > 1 else outs[0]

    def backward(self, *gys):
        from ..autograd import grad as autograd_grad
        # the recomputation starts from the node's real inputs, so with create_graph its
        # graph (and so the gradient returned) stays connected to them: double backward works
        args = list(self.inputs[:self.n_args])
        leaves = list(self.inputs[self.n_args:])
        saved = None
        if self.rng_state is not None:
            saved = _random.get_rng_state()
            _random.set_rng_state(self.rng_state)
        try:
            with grad_mode.enable_grad():
                outs = self.run(args)
        finally:
            if saved is not None:
                _random.set_rng_state(saved)
        pairs = [(o, g) for o, g in zip(outs, gys) if o.requires_grad and g is not None]
        wrt = [t for t in args + leaves]
        wanted = [t for t in wrt if t.requires_grad]
        if not pairs or not wanted:
            return (None,) * len(wrt) if len(wrt) > 1 else None
        grads = iter(autograd_grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                   allow_unused=True,
                                   create_graph=grad_mode.state.enabled))
        result = tuple(next(grads) if t.requires_grad else None for t in wrt)
        return result if len(result) > 1 else result[0]


def checkpoint(function, *args, use_reentrant=None, context_fn=None,
               determinism_check="default", debug=False, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its intermediate activations.

    ``use_reentrant`` is accepted for torch compatibility; narae has one implementation that
    behaves like torch's non-reentrant variant (works with ``autograd.grad`` and inputs that
    do not require grad). ``preserve_rng_state`` replays the random draws (dropout) exactly.
    """
    if context_fn is not None:
        raise NotImplementedError("checkpoint: context_fn is not supported")
    if not grad_mode.state.enabled:
        return function(*args, **kwargs)
    tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    tensors = [args[i] for i in tensor_pos]

    def call(fresh):
        """``function`` with the tensor arguments replaced by ``fresh`` (its raw result)."""
        full = list(args)
        for i, t in zip(tensor_pos, fresh):
            full[i] = t
        return function(*full, **kwargs)

    def run(fresh):
        out = call(fresh)
        return list(out) if isinstance(out, (tuple, list)) else [out]

    rng_state = _random.get_rng_state() if preserve_rng_state else None
    stand_ins = [Tensor(t._data, t.requires_grad) for t in tensors]
    raw = call(stand_ins)
    is_tuple = isinstance(raw, (tuple, list))
    outs = list(raw) if is_tuple else [raw]
    if not all(isinstance(o, Tensor) for o in outs):
        raise TypeError("checkpoint: the function must return a Tensor or a tuple of Tensors")
    leaves = _leaves(outs, stand_ins)
    node = _Recompute(run, len(tensors), tuple(o._data for o in outs), rng_state)
    result = node(*tensors, *leaves)
    results = list(result) if isinstance(result, tuple) else [result]
    for r, o in zip(results, outs):  # an output that cannot carry a gradient stays constant
        if not o.requires_grad:
            r.requires_grad = False
    return tuple(results) if is_tuple else results[0]


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a Sequential (or list of modules) in ``segments`` checkpointed chunks; the last
    chunk runs normally (its activations are needed at once by backward)."""
    if hasattr(functions, "children") and not isinstance(functions, (list, tuple)):
        functions = list(functions.children())
    functions = list(functions)
    per = max(len(functions) // segments, 1)

    def chunk(start, end):
        def forward(x):
            for f in functions[start:end]:
                x = f(x)
            return x
        return forward

    end = -1
    for start in range(0, per * (segments - 1), per):
        end = start + per - 1
        input = checkpoint(chunk(start, end + 1), input, use_reentrant=use_reentrant, **kwargs)
    return chunk(end + 1, len(functions))(input)
