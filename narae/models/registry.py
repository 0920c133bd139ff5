"""``MODELS``: the zoo's names for ``narae train --model`` as builders ``(input_shape,
num_classes, **options)``.

The ImageNet architectures keep their torchvision layers; only the input channels and the
class count follow the data. Inputs smaller than an architecture can take (AlexNet's 11x11/4
stem needs 63 pixels, the others 32) are upsampled in front of the model.
"""
from .. import nn
from .alexnet import alexnet
from .googlenet import googlenet
from .lenet import build_lenet5
from .resnet import build_resnet20, resnet18, resnet34, resnet50
from .vgg import vgg11, vgg11_bn, vgg16

__all__ = ["MODELS", "imagenet_style"]


def imagenet_style(constructor, min_size=32):
    """A CLI builder for a torchvision-style constructor taking ``in_channels``."""
    def build(input_shape, num_classes):
        channels, height, width = (1,) + tuple(input_shape) if len(input_shape) == 2 \
            else tuple(input_shape)
        model = constructor(num_classes=num_classes, in_channels=channels)
        if min(height, width) < min_size:
            model = nn.Sequential(nn.Upsample(size=(max(height, min_size),
                                                    max(width, min_size)), mode="bilinear"),
                                  model)
        return model
    build.__doc__ = (f"{constructor.__name__} (torchvision layers; inputs below {min_size}px "
                     "are upsampled)")
    return build


MODELS = {
    "lenet5": build_lenet5,
    "resnet20": build_resnet20,
    "alexnet": imagenet_style(alexnet, min_size=63),
    "vgg11": imagenet_style(vgg11),
    "vgg11_bn": imagenet_style(vgg11_bn),
    "vgg16": imagenet_style(vgg16),
    "resnet18": imagenet_style(resnet18),
    "resnet34": imagenet_style(resnet34),
    "resnet50": imagenet_style(resnet50),
    "googlenet": imagenet_style(googlenet),
}
