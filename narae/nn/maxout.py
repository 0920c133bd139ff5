"""``Maxout`` (Goodfellow et al., 2013; not in torch): each output unit is the max of
``pool_size`` affine pieces, y_i = max_j (x W_ij^T + b_ij).

The pieces of unit i are rows i*k .. i*k+k-1 of one (out*k, in) weight, so the layer is one
fused ``F.linear`` followed by ``F.maxout`` (max over groups of k consecutive features).
"""
import math

from .. import creation
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Maxout"]


class Maxout(Module):
    """Maxout(in_features, out_features, pool_size): weight (out*pool, in), bias (out*pool),
    initialised like Linear (U(-1/sqrt(in), 1/sqrt(in)))."""

    def __init__(self, in_features, out_features, pool_size, bias=True, device=None,
                 dtype=None):
        super().__init__()
        if pool_size < 1:
            raise ValueError(f"Maxout: pool_size must be at least 1, got {pool_size}")
        self.in_features = in_features
        self.out_features = out_features
        self.pool_size = pool_size
        rows = out_features * pool_size
        self.weight = Parameter(creation.empty(rows, in_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(rows, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise self._shape_error(input, f"(*, {self.in_features}) to match weight of shape "
                                           f"{tuple(self.weight.shape)}")
        return F.maxout(F.linear(input, self.weight, self.bias), self.pool_size, dim=-1)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pool_size={self.pool_size}, bias={self.bias is not None}")
