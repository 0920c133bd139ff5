"""Convolution layers: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` (torch's arguments).

Weights are (out, in/groups, *kernel) for convolutions and (in, out/groups, *kernel) for
transposed ones, initialised as torch's: kaiming_uniform(a=sqrt(5)), bias U(+-1/sqrt(fan_in)).
"""
import math

from .. import creation
from . import functional as F
from . import init
from ._utils import _single, _pair, _triple
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _n = 2
    _ntuple = staticmethod(_pair)
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 output_padding, groups, bias, padding_mode, device=None, dtype=None):
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in self._ntuple(stride)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode='{padding_mode}'")
        nt = self._ntuple
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = nt(kernel_size)
        self.stride = nt(stride)
        self.padding = padding if isinstance(padding, str) else nt(padding)
        self.dilation = nt(dilation)
        self.transposed = self._transposed
        self.output_padding = nt(output_padding)
        self.groups = groups
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(creation.empty(*shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input):
        n = self._n
        if input.ndim not in (n + 1, n + 2) or input.shape[-n - 1] != self.in_channels:
            raise self._shape_error(
                input, f"a {n + 1}-D (unbatched) or {n + 2}-D (batched) input with "
                       f"{self.in_channels} channels in dim {-n - 1} (weight of shape "
                       f"{tuple(self.weight.shape)})")

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _fname = "conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0,
                         groups, bias, padding_mode, device, dtype)

    def _explicit_padding(self):
        """F.pad's (last dim first) amounts that reproduce ``padding`` for a padding_mode."""
        if self.padding == "valid":
            return (0,) * (2 * self._n)
        pads = []
        for d in reversed(range(self._n)):
            if self.padding == "same":
                total = self.dilation[d] * (self.kernel_size[d] - 1)
                pads += [total // 2, total - total // 2]
            else:
                pads += [self.padding[d]] * 2
        return tuple(pads)

    def forward(self, input):
        self._check_input(input)
        conv = getattr(F, self._fname)
        if self.padding_mode != "zeros":
            input = F.pad(input, self._explicit_padding(), mode=self.padding_mode)
            return conv(input, self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)
        return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                    self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, C, L) inputs."""
    _n, _ntuple, _fname = 1, staticmethod(_single), "conv1d"


class Conv2d(_Conv):
    """2-D convolution over (N, C, H, W) inputs."""
    _n, _ntuple, _fname = 2, staticmethod(_pair), "conv2d"


class Conv3d(_Conv):
    """3-D convolution over (N, C, D, H, W) inputs (volumes, video clips)."""
    _n, _ntuple, _fname = 3, staticmethod(_triple), "conv3d"


class _ConvTranspose(_ConvNd):
    _transposed = True
    _fname = "conv_transpose2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{type(self).__name__}')
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__} does not support string padding")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         output_padding, groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output ``output_size`` (its last n entries)."""
        if output_size is None:
            return self.output_padding
        n = self._n
        output_size = tuple(output_size)[-n:]
        if len(output_size) != n:
            raise ValueError(f"output_size must have {n} or {n + 2} elements (got "
                             f"{len(output_size)})")
        pads = []
        for d in range(n):
            in_size = input.shape[input.ndim - n + d]
            smallest = ((in_size - 1) * self.stride[d] - 2 * self.padding[d] +
                        self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            extra = output_size[d] - smallest
            if not 0 <= extra < max(self.stride[d], self.dilation[d]):
                raise ValueError(f"{self!r}: requested an output size of {output_size}, but "
                                 f"valid sizes for input of shape {tuple(input.shape)} start "
                                 f"at {smallest} in dim {d} (and span less than the stride)")
            pads.append(extra)
        return tuple(pads)

    def forward(self, input, output_size=None):
        self._check_input(input)
        output_padding = self._output_padding(input, output_size)
        return getattr(F, self._fname)(input, self.weight, self.bias, self.stride, self.padding,
                                       output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    _n, _ntuple, _fname = 1, staticmethod(_single), "conv_transpose1d"


class ConvTranspose2d(_ConvTranspose):
    """The gradient of Conv2d w.r.t. its input, as a layer (upsamples by ``stride``)."""
    _n, _ntuple, _fname = 2, staticmethod(_pair), "conv_transpose2d"


class ConvTranspose3d(_ConvTranspose):
    """The gradient of Conv3d w.r.t. its input, as a layer (upsamples volumes by ``stride``)."""
    _n, _ntuple, _fname = 3, staticmethod(_triple), "conv_transpose3d"
