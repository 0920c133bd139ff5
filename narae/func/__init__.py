"""torch.func-style function transforms: ``grad``, ``vjp``, ``jacrev``, ``vmap``...

``grad``/``jacrev`` run ``autograd.grad`` on fresh leaves (recording the backward when an
outer transform needs it, so transforms nest); ``jvp``/``jacfwd``/``linearize`` run
forward-mode AD (narae.autograd.forward_ad); ``vmap`` runs the function once on batched
tensors (narae/func/_batching.py), falling back to a per-sample loop where it must;
``functional_call`` runs a module with parameters and buffers swapped for given tensors.
"""
from .functional_call import functional_call, stack_module_state
from .transforms import grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, linearize
from .functionalize import functionalize, replace_all_batch_norm_modules_
from .rearrange import rearrange, debug_unwrap
from .vmap import vmap

__all__ = ["functional_call", "stack_module_state", "grad", "grad_and_value", "vjp", "jvp",
           "jacrev", "jacfwd", "hessian", "vmap", "linearize", "functionalize",
           "replace_all_batch_norm_modules_", "rearrange", "debug_unwrap"]
