"""Reusable layers of the vision zoo: ResNet's ``BasicBlock`` and ``Bottleneck``, GoogLeNet's
``BasicConv2d``/``Inception``/``InceptionAux``, the CIFAR ResNet's option-A shortcut, and
``count_parameters`` (a shape-only count that skips weight initialisation).

Attribute names follow torchvision's so ``state_dict`` keys match theirs
(``conv1``, ``bn1``, ``downsample.0``, ``branch2.0.conv``...).
"""
import contextlib
import threading

from .. import nn
from ..nn import functional as F
from ..ops.shape import cat

__all__ = ["conv3x3", "conv1x1", "BasicBlock", "Bottleneck", "PadShortcut", "BasicConv2d",
           "Inception", "InceptionAux", "skip_init", "count_parameters"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution, padding = dilation (keeps the size at stride 1), no bias (BN follows)."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution without bias: channel mixing / projection shortcuts."""
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers plus the input (He et al., 2015): y = relu(F(x) + shortcut(x)).

    ``downsample`` maps x to F(x)'s shape when the stride or width changes (None: identity).
    """
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride, "ResNet v1.5") -> 1x1 expand by 4, plus shortcut.

    The 1x1 layers keep the 3x3 cheap at large widths; ``groups``/``base_width`` give ResNeXt
    and wide ResNets (width = planes * base_width / 64 * groups).
    """
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class PadShortcut(nn.Module):
    """He et al. (2015)'s option A shortcut: subsample by ``stride`` and zero-pad the new
    channels (half before, half after). Parameter-free, so the CIFAR ResNets stay as small
    as the paper's (0.27M for ResNet-20)."""

    def __init__(self, in_planes, out_planes, stride=2):
        super().__init__()
        if out_planes < in_planes:
            raise ValueError(f"PadShortcut: out_planes ({out_planes}) < in_planes ({in_planes})")
        self.stride = stride
        extra = out_planes - in_planes
        self.pad = (extra // 2, extra - extra // 2)

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0) + self.pad)

    def extra_repr(self):
        return f"stride={self.stride}, pad={self.pad}"


class BasicConv2d(nn.Module):
    """GoogLeNet's conv unit: Conv2d (no bias) -> BatchNorm2d(eps=1e-3) -> ReLU."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated on channels (Szegedy et al., 2014): 1x1; 1x1 -> 3x3;
    1x1 -> "5x5"; 3x3 max pool -> 1x1. The 1x1 reductions make the wide layers affordable.

    As in torchvision (and its pretrained weights) the "5x5" branch uses a 3x3 kernel.
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj,
                 conv_block=None):
        super().__init__()
        conv_block = conv_block or BasicConv2d
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(conv_block(in_channels, ch3x3red, kernel_size=1),
                                     conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(conv_block(in_channels, ch5x5red, kernel_size=1),
                                     conv_block(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     conv_block(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on an intermediate map: pool to 4x4 -> 1x1 conv (128) -> FC 1024
    -> dropout -> FC. Adds gradient signal to the middle of the network during training."""

    def __init__(self, in_channels, num_classes, conv_block=None, dropout=0.7):
        super().__init__()
        conv_block = conv_block or BasicConv2d
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(self.dropout(x))


# -- counting without initialising -----------------------------------------------------------
_SKIPPED = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
            "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_",
            "orthogonal_")
_skip_lock = threading.Lock()


@contextlib.contextmanager
def skip_init():
    """Within the block ``narae.nn.init``'s fill functions do nothing, so building a model only
    allocates (untouched, hence nearly free) arrays: VGG-16's 138M weights in milliseconds.

    The weights are garbage: use it to count parameters or inspect shapes, never to train.
    Not thread-safe with respect to other threads initialising models at the same time.
    """
    init = nn.init
    with _skip_lock:
        saved = {name: getattr(init, name) for name in _SKIPPED}
        try:
            for name in _SKIPPED:
                setattr(init, name, lambda tensor, *args, **kwargs: tensor)
            yield
        finally:
            for name, fn in saved.items():
                setattr(init, name, fn)


def count_parameters(model_or_builder, *args, **kwargs):
    """The number of scalar parameters of a module, or of ``builder(*args, **kwargs)`` built
    under ``skip_init`` (fast even for the 100M-parameter models)."""
    if isinstance(model_or_builder, nn.Module):
        model = model_or_builder
    else:
        with skip_init():
            model = model_or_builder(*args, **kwargs)
    return sum(p.numel() for p in model.parameters())
