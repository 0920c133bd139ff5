"""torch.func-style function transforms: ``grad``, ``vjp``, ``jacrev``, ``vmap``...

Built on narae's reverse-mode autograd: ``grad``/``jacrev`` run ``autograd.grad`` on fresh
leaves (recording the backward when an outer transform needs it, so transforms nest),
``jacfwd`` is ``jacrev`` (no forward-mode AD here), and ``vmap`` is a Python loop over the
batch dimension whose results are stacked. ``functional_call`` runs a module with
parameters and buffers swapped for given tensors.
"""
from .functional_call import functional_call, stack_module_state
from .transforms import grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian
from .vmap import vmap

__all__ = ["functional_call", "stack_module_state", "grad", "grad_and_value", "vjp", "jvp",
           "jacrev", "jacfwd", "hessian", "vmap"]
