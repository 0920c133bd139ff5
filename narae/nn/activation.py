"""Activation modules: thin wrappers over ``narae.nn.functional`` (torch's arguments and reprs).

``PReLU`` is the only one with a parameter (its learnable negative slope).
"""
from .. import creation
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "CELU", "SELU", "GELU", "SiLU",
           "Mish", "Sigmoid", "LogSigmoid", "Tanh", "Softplus", "Softsign", "Softmax",
           "Softmin", "LogSoftmax", "Softmax2d", "Hardtanh", "Hardsigmoid", "Hardswish",
           "Hardshrink", "Softshrink", "Tanhshrink", "Threshold", "GLU"]


def _inplace_str(inplace, lead=", "):
    return f"{lead}inplace=True" if inplace else ""


class _Inplace(Module):
    """An activation whose only option is ``inplace``."""
    _fname = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return getattr(F, self._fname)(input, inplace=self.inplace)

    def extra_repr(self):
        return _inplace_str(self.inplace, "")


class _Plain(Module):
    """An activation without options."""
    _fname = None

    def forward(self, input):
        return getattr(F, self._fname)(input)


class ReLU(_Inplace):
    """max(0, x)."""
    _fname = "relu"


class SELU(_Inplace):
    _fname = "selu"


class SiLU(_Inplace):
    """x * sigmoid(x) (a.k.a. swish)."""
    _fname = "silu"


class Mish(_Inplace):
    """x * tanh(softplus(x))."""
    _fname = "mish"


class Hardsigmoid(_Inplace):
    _fname = "hardsigmoid"


class Hardswish(_Inplace):
    _fname = "hardswish"


class Sigmoid(_Plain):
    _fname = "sigmoid"


class Tanh(_Plain):
    _fname = "tanh"


class LogSigmoid(_Plain):
    _fname = "logsigmoid"


class Softsign(_Plain):
    _fname = "softsign"


class Tanhshrink(_Plain):
    _fname = "tanhshrink"


class Hardtanh(Module):
    """x clamped to [min_val, max_val]."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace_str(self.inplace)


class ReLU6(Hardtanh):
    """min(max(0, x), 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_str(self.inplace, "")


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + _inplace_str(self.inplace)


class RReLU(Module):
    """Leaky ReLU with a random slope in [lower, upper] while training (their mean in eval)."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + _inplace_str(self.inplace)


class PReLU(Module):
    """Leaky ReLU whose slope is learnt: one (num_parameters=1) or one per channel (dim 1)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(creation.empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        if self.num_parameters != 1 and (input.ndim < 2 or
                                         input.shape[1] != self.num_parameters):
            raise self._shape_error(input, f"{self.num_parameters} channels in dim 1")
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + _inplace_str(self.inplace)


class CELU(ELU):
    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)


class GELU(Module):
    """x * Phi(x); ``approximate='tanh'`` uses the tanh formula."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear above ``threshold``."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardshrink(Module):
    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    def forward(self, input):
        return F.softshrink(input, self.lambd)


class Threshold(Module):
    """x if x > threshold else value."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + _inplace_str(self.inplace)


class GLU(Module):
    """First half of ``dim`` times sigmoid of the second half."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class _SoftmaxBase(Module):
    _fname = "softmax"

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return getattr(F, self._fname)(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """exp(x) / sum(exp(x)) along ``dim``."""


class LogSoftmax(_SoftmaxBase):
    _fname = "log_softmax"


class Softmin(_SoftmaxBase):
    _fname = "softmin"


class Softmax2d(Module):
    """Softmax over channels of (C, H, W) or (N, C, H, W) inputs."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise self._shape_error(input, "a 3D or 4D input")
        return F.softmax(input, -3)
