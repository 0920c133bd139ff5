"""ResNets: torchvision's ImageNet family (resnet18...152, ResNeXt, wide) and the CIFAR-10
ResNets of He et al. (2015, section 4.2): resnet20/32/56.

The ImageNet models reproduce torchvision's constructors, parameter counts and state_dict keys
(``conv1.weight``, ``layer1.0.bn1.running_mean``, ``layer2.0.downsample.0.weight``,
``fc.weight``), so a torchvision checkpoint converted to arrays loads without renaming.
"""
from .. import nn
from .blocks import BasicBlock, Bottleneck, PadShortcut, conv1x1, conv3x3

__all__ = ["ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2",
           "CifarResNet", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
           "build_resnet20"]


def _init_resnet(model, zero_init_residual):
    """He-normal (fan_out) convolutions, BN as identity; optionally zero each block's last BN
    scale so every residual branch starts as the identity (Goyal et al., 2017)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                nn.init.constant_(m.bn3.weight, 0)
            elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                nn.init.constant_(m.bn2.weight, 0)


class ResNet(nn.Module):
    """7x7/2 stem + 3x3/2 max pool, four stages (64..512 planes, stride 2 from stage 2), global
    average pool, fully connected layer. ``layers`` = blocks per stage."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, replace_stride_with_dilation=None, norm_layer=None,
                 in_channels=3):
        super().__init__()
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple, "
                             f"got {replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], 2, replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        _init_resnet(self, zero_init_residual)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        """One stage: the first block changes stride/width (projection shortcut), the rest keep
        them. With ``dilate`` the stride becomes dilation (keeps the resolution)."""
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(**kwargs):
    """ResNet-18 (11,689,512 parameters at 1000 classes)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)


def resnet34(**kwargs):
    """ResNet-34 (21,797,672 parameters)."""
    return ResNet(BasicBlock, [3, 4, 6, 3], **kwargs)


def resnet50(**kwargs):
    """ResNet-50 (25,557,032 parameters)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], **kwargs)


def resnet101(**kwargs):
    """ResNet-101 (44,549,160 parameters)."""
    return ResNet(Bottleneck, [3, 4, 23, 3], **kwargs)


def resnet152(**kwargs):
    """ResNet-152 (60,192,808 parameters)."""
    return ResNet(Bottleneck, [3, 8, 36, 3], **kwargs)


def resnext50_32x4d(**kwargs):
    """ResNeXt-50 32x4d: 32 groups of width 4 in each bottleneck (25,028,904 parameters)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], groups=32, width_per_group=4, **kwargs)


def resnext101_32x8d(**kwargs):
    return ResNet(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=8, **kwargs)


def wide_resnet50_2(**kwargs):
    """Wide ResNet-50-2: bottlenecks twice as wide (68,883,240 parameters)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], width_per_group=128, **kwargs)


def wide_resnet101_2(**kwargs):
    return ResNet(Bottleneck, [3, 4, 23, 3], width_per_group=128, **kwargs)


# -- CIFAR ResNets (6n + 2 layers) ------------------------------------------------------------
class CifarResNet(nn.Module):
    """He et al. (2015) section 4.2: 3x3 conv (16) then three stages of ``n`` BasicBlocks at
    16/32/64 planes on 32x32/16x16/8x8 maps, global average pool, FC: 6n + 2 layers.

    ``shortcut="A"`` (the paper's CIFAR choice, default): parameter-free subsample + zero-pad
    where the shape changes (ResNet-20: 269,722 parameters). ``"B"``: 1x1 conv + BN
    projection there (torchvision-style ``downsample.0/1``; ResNet-20: 272,474). Identity
    shortcuts everywhere else in both.
    """

    def __init__(self, depth=20, num_classes=10, shortcut="A", in_channels=3,
                 zero_init_residual=False):
        super().__init__()
        if (depth - 2) % 6 != 0 or depth < 8:
            raise ValueError(f"CifarResNet: depth must be 6n + 2 (20, 32, 44, 56...), got {depth}")
        if shortcut not in ("A", "B"):
            raise ValueError(f"CifarResNet: shortcut must be 'A' or 'B', got {shortcut!r}")
        n = (depth - 2) // 6
        self.shortcut = shortcut
        self.inplanes = 16
        self.conv1 = conv3x3(in_channels, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(16, n, 1)
        self.layer2 = self._make_layer(32, n, 2)
        self.layer3 = self._make_layer(64, n, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        _init_resnet(self, zero_init_residual)

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            if self.shortcut == "A":
                downsample = PadShortcut(self.inplanes, planes, stride)
            else:
                downsample = nn.Sequential(conv1x1(self.inplanes, planes, stride),
                                           nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def resnet20(**kwargs):
    """CIFAR ResNet-20 (n = 3)."""
    return CifarResNet(20, **kwargs)


def resnet32(**kwargs):
    """CIFAR ResNet-32 (n = 5)."""
    return CifarResNet(32, **kwargs)


def resnet44(**kwargs):
    return CifarResNet(44, **kwargs)


def resnet56(**kwargs):
    """CIFAR ResNet-56 (n = 9)."""
    return CifarResNet(56, **kwargs)


def resnet110(**kwargs):
    return CifarResNet(110, **kwargs)


def build_resnet20(input_shape, num_classes):
    """CLI builder (``narae train --model resnet20``): any (C, H, W) input, option A."""
    return resnet20(num_classes=num_classes, in_channels=int(input_shape[0]))

