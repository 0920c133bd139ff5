"""Quantization-aware training modules (torch.ao.nn.qat): float layers whose weight passes
through a fake-quantize module (``weight_fake_quant``) on every forward, so training sees
the int8 rounding; ``convert`` turns them into narae.ao.nn.quantized modules."""
from ....nn import functional as F
from ....nn.conv import Conv1d as _Conv1d, Conv2d as _Conv2d
from ....nn.linear import Linear as _Linear

__all__ = ["Linear", "Conv1d", "Conv2d"]


def _check_qconfig(cls, mod):
    if getattr(mod, "qconfig", None) is None:
        raise ValueError(f"{cls.__name__}.from_float: input float module must have qconfig "
                         "defined")


class Linear(_Linear):
    """nn.Linear with a fake-quantized weight."""
    _FLOAT_MODULE = _Linear

    def __init__(self, in_features, out_features, bias=True, qconfig=None, device=None,
                 dtype=None):
        super().__init__(in_features, out_features, bias, device, dtype)
        if qconfig is None:
            raise ValueError("qconfig must be provided for QAT module")
        self.qconfig = qconfig
        self.weight_fake_quant = qconfig.weight()

    def forward(self, input):
        return F.linear(input, self.weight_fake_quant(self.weight), self.bias)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        _check_qconfig(cls, mod)
        lin = mod[0] if hasattr(mod, "_types") else mod
        q = cls(lin.in_features, lin.out_features, bias=lin.bias is not None,
                qconfig=mod.qconfig)
        q.weight = lin.weight
        q.bias = lin.bias
        return q

    def to_float(self):
        lin = _Linear(self.in_features, self.out_features, self.bias is not None)
        lin.weight, lin.bias = self.weight, self.bias
        return lin


def _conv_qat(name, base):
    class _QATConv(base):
        _FLOAT_MODULE = base

        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                     dilation=1, groups=1, bias=True, padding_mode="zeros", qconfig=None,
                     device=None, dtype=None):
            super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                             dilation, groups, bias, padding_mode, device, dtype)
            if qconfig is None:
                raise ValueError("qconfig must be provided for QAT module")
            self.qconfig = qconfig
            self.weight_fake_quant = qconfig.weight()

        def forward(self, input):
            fn = F.conv2d if self._n == 2 else F.conv1d
            return fn(input, self.weight_fake_quant(self.weight), self.bias, self.stride,
                      self.padding, self.dilation, self.groups)

        @classmethod
        def from_float(cls, mod, use_precomputed_fake_quant=False):
            _check_qconfig(cls, mod)
            c = mod[0] if hasattr(mod, "_types") else mod
            q = cls(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding,
                    c.dilation, c.groups, c.bias is not None, c.padding_mode,
                    qconfig=mod.qconfig)
            q.weight, q.bias = c.weight, c.bias
            return q

        def to_float(self):
            c = base(self.in_channels, self.out_channels, self.kernel_size, self.stride,
                     self.padding, self.dilation, self.groups, self.bias is not None,
                     self.padding_mode)
            c.weight, c.bias = self.weight, self.bias
            return c
    _QATConv.__name__ = _QATConv.__qualname__ = name
    _QATConv.__doc__ = f"nn.{name} with a fake-quantized weight."
    return _QATConv


Conv1d = _conv_qat("Conv1d", _Conv1d)
Conv2d = _conv_qat("Conv2d", _Conv2d)
