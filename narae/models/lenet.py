"""LeNet-5 (LeCun et al., 1998) with one feature extractor for every input size.

The classic network expects 32x32 images: C1 5x5 conv (6) -> S2 2x2 pool -> C3 5x5 conv (16)
-> S4 2x2 pool -> C5 (120) -> F6 (84) -> output. Other sizes are adapted, and the
parameters (61,706 at 10 classes) and state_dict keys are the same for all of them:

* 32x32: the classic layout, no padding.
* 28x28 (MNIST): C1 pads by 2, the usual adaptation, so C1 still yields 28x28 maps.
* anything else (e.g. scikit-learn's 8x8 digits): ``resize`` bilinearly upsamples the image
  to 28x28 first, then as for MNIST. Upsampling adds no information but lets the 5x5
  kernels and two poolings of the original design apply unchanged.

Defaults are the modern choices (ReLU, max pooling); ``activation="tanh", pool="avg"`` is
closer to the 1998 network (whose subsampling layers were trainable averages). ``dropout``
(default 0: the original has none) acts after C5 and F6; the Dropout modules are always
present, so the keys are ``classifier.0/3/6`` whatever ``dropout`` is.
"""
from .. import nn

__all__ = ["LeNet5", "lenet5", "build_lenet5"]

_ACTS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
_POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class LeNet5(nn.Module):
    """``resize`` (Identity or Upsample) -> ``features`` (C1..S4) -> ``classifier`` (C5..out)."""

    def __init__(self, num_classes=10, in_channels=1, input_size=28, activation="relu",
                 pool="max", dropout=0.0):
        super().__init__()
        if activation not in _ACTS or pool not in _POOLS:
            raise ValueError(f"lenet5: activation must be one of {sorted(_ACTS)} and pool one of "
                             f"{sorted(_POOLS)}, got {activation!r}, {pool!r}")
        act, pooling = _ACTS[activation], _POOLS[pool]
        self.input_size = input_size
        if input_size in (28, 32):
            self.resize = nn.Identity()
        else:
            self.resize = nn.Upsample(size=(28, 28), mode="bilinear", align_corners=False)
        pad = 0 if input_size == 32 else 2
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=pad), act(), pooling(2),
            nn.Conv2d(6, 16, kernel_size=5), act(), pooling(2))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), act(), nn.Dropout(dropout),
            nn.Linear(120, 84), act(), nn.Dropout(dropout),
            nn.Linear(84, num_classes))

    def forward(self, x):
        x = self.features(self.resize(x))
        return self.classifier(x.flatten(1))


def lenet5(num_classes=10, in_channels=1, input_size=28, **kwargs):
    """LeNet-5 for square ``input_size`` images (32 classic, 28 padded, other sizes resized)."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels, input_size=input_size,
                  **kwargs)


def build_lenet5(input_shape, num_classes, dropout=0.0):
    """CLI builder (``narae train --model lenet5 [--dropout p]``): input_shape is (C, H, W)
    with H == W (or (H, W) for one channel)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 2:
        shape = (1,) + shape
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"lenet5: expects (C, H, W) square images, got input shape {shape}")
    return lenet5(num_classes=num_classes, in_channels=shape[0], input_size=shape[1],
                  dropout=float(dropout or 0.0))
