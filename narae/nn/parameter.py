"""``Parameter``: a Tensor that a Module registers as learnable when assigned as an attribute.

It is a Tensor subclass (not a wrapper) so that every op, optimizer and ``.grad`` works on it
unchanged; the subclass only marks "collect me in ``parameters()``" and changes the repr.
"""
import numpy as np

from ..tensor import Tensor

__all__ = ["Parameter"]


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
