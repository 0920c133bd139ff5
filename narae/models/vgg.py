"""VGG (Simonyan & Zisserman, 2014): stacks of 3x3 convolutions and 2x2 max pools, then three
fully connected layers. Configurations A/B/D/E = vgg11/13/16/19, ``_bn`` adds BatchNorm.

Constructors, parameter counts (vgg11 132,863,336; vgg16 138,357,544) and state_dict keys
(``features.0.weight``, ``classifier.6.weight``) are torchvision's.
"""
from .. import nn

__all__ = ["VGG", "make_layers", "cfgs", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
           "vgg16_bn", "vgg19", "vgg19_bn"]

# channel widths of the 3x3 convolutions; "M" is a 2x2/2 max pool
cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm=False, in_channels=3):
    """The ``features`` Sequential: conv3x3 (padding 1) [-> BN] -> ReLU per width, pools at M."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """``features`` -> adaptive 7x7 average pool (any input >= 32x32 works) -> 3 FC layers."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(cfg, batch_norm, in_channels=3, **kwargs):
    return VGG(make_layers(cfgs[cfg], batch_norm, in_channels), **kwargs)


def vgg11(**kwargs):
    """VGG-11, configuration A (132,863,336 parameters)."""
    return _vgg("A", False, **kwargs)


def vgg11_bn(**kwargs):
    return _vgg("A", True, **kwargs)


def vgg13(**kwargs):
    """VGG-13, configuration B (133,047,848 parameters)."""
    return _vgg("B", False, **kwargs)


def vgg13_bn(**kwargs):
    return _vgg("B", True, **kwargs)


def vgg16(**kwargs):
    """VGG-16, configuration D (138,357,544 parameters)."""
    return _vgg("D", False, **kwargs)


def vgg16_bn(**kwargs):
    return _vgg("D", True, **kwargs)


def vgg19(**kwargs):
    """VGG-19, configuration E (143,667,240 parameters)."""
    return _vgg("E", False, **kwargs)


def vgg19_bn(**kwargs):
    return _vgg("E", True, **kwargs)
