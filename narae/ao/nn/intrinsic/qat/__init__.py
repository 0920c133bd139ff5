"""QAT forms of the fused modules: fake-quantized weight, then the fused activation."""
from .....nn import functional as F
from .....ops.activation import relu
from .....nn.conv import Conv2d as _Conv2d
from ....nn import qat as _nnqat

__all__ = ["LinearReLU", "ConvReLU1d", "ConvReLU2d", "ConvBn2d", "ConvBnReLU2d"]


class LinearReLU(_nnqat.Linear):
    """QAT Linear followed by ReLU."""

    def forward(self, input):
        return relu(super().forward(input))


class ConvReLU1d(_nnqat.Conv1d):
    """QAT Conv1d followed by ReLU."""

    def forward(self, input):
        return relu(super().forward(input))


class ConvReLU2d(_nnqat.Conv2d):
    """QAT Conv2d followed by ReLU."""

    def forward(self, input):
        return relu(super().forward(input))


class ConvBn2d(_nnqat.Conv2d):
    """Conv2d + BatchNorm2d for QAT, as torch's approximate scheme: the weight is scaled by
    gamma / sqrt(running_var + eps) before fake quantization (the scale a fused int8 conv
    will use), the conv output unscaled again, then BatchNorm runs as usual (batch
    statistics in training)."""

    def __init__(self, conv, bn, qconfig):
        c = conv
        super().__init__(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding,
                         c.dilation, c.groups, c.bias is not None, c.padding_mode,
                         qconfig=qconfig)
        self.weight, self.bias = c.weight, c.bias
        self.bn = bn
        self.freeze_bn = False

    _relu = False

    def forward(self, input):
        bn = self.bn
        std = (bn.running_var + bn.eps).sqrt()
        factor = bn.weight / std
        shape = (-1,) + (1,) * (self.weight.ndim - 1)
        w = self.weight_fake_quant(self.weight * factor.reshape(shape))
        y = F.conv2d(input, w, None, self.stride, self.padding, self.dilation, self.groups)
        y = y / factor.reshape(1, -1, 1, 1)
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, 1, 1)
        y = bn(y)
        return relu(y) if self._relu else y

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        if getattr(mod, "qconfig", None) is None:
            raise ValueError(f"{cls.__name__}.from_float: input float module must have "
                             "qconfig defined")
        return cls(mod[0], mod[1], mod.qconfig)

    def fused_conv(self):
        """The float Conv2d with BatchNorm folded in (running statistics)."""
        from .....nn.utils.fusion import fuse_conv_bn_eval
        c = _Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride,
                    self.padding, self.dilation, self.groups, self.bias is not None,
                    self.padding_mode)
        c.weight, c.bias = self.weight, self.bias
        return fuse_conv_bn_eval(c.eval(), self.bn.eval())


class ConvBnReLU2d(ConvBn2d):
    """ConvBn2d followed by ReLU, for QAT."""
    _relu = True
