"""Transform objects, as in ``torchvision.transforms``, for (C, H, W) arrays or Tensors.

Random transforms draw from ``narae.random.default_generator`` at call time (or from their
own ``generator=``), so ``narae.manual_seed`` makes augmentation reproducible.
"""
import numbers

from .. import random as _random
from . import functional as F

__all__ = ["Compose", "ToTensor", "Normalize", "Lambda", "Pad", "CenterCrop", "RandomCrop",
           "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation", "RandomAffine",
           "PerImageStandardize"]


def _rng(generator):
    return (generator if generator is not None else _random.default_generator).rng


def _pair(size, name):
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    size = tuple(int(s) for s in size)
    if len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(f"{name}: size must be an int or a (height, width) pair, got {size}")
    return size


def _range(value, name, center=0.0):
    """A number d -> (center - d, center + d); a pair stays as it is."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"{name}: a single number must be non-negative, got {value}")
        return (center - value, center + value)
    value = tuple(float(v) for v in value)
    if len(value) != 2 or value[0] > value[1]:
        raise ValueError(f"{name}: expected a number or a (min, max) pair, got {value}")
    return value


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        body = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({body}\n)"


class ToTensor:
    """(H, W, C) uint8 array or PIL image -> float32 (C, H, W) Tensor in [0, 1]."""

    def __call__(self, pic):
        return F.to_tensor(pic)

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """Per-channel ``(x - mean) / std``."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, img):
        return F.normalize(img, self.mean, self.std, self.inplace)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Lambda:
    """Wrap any function as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)


class Pad:
    def __init__(self, padding, fill=0, padding_mode="constant"):
        F._padding(padding)
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)


class CenterCrop:
    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def __call__(self, img):
        arr, _ = F._unwrap(img)
        h, w = arr.shape[-2:]
        th, tw = self.size
        return F.crop(img, (h - th) // 2, (w - tw) // 2, th, tw)


class RandomCrop:
    """Pad by ``padding`` (optional), then crop a random ``size`` window.

    ``pad_if_needed`` pads an image smaller than ``size`` up to it first (as torchvision).
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0,
                 padding_mode="constant", generator=None):
        self.size = _pair(size, "RandomCrop")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode
        self.generator = generator

    def __call__(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = F._unwrap(img)[0].shape[-2:]
        if self.pad_if_needed and (h < th or w < tw):
            dh, dw = max(th - h, 0), max(tw - w, 0)
            img = F.pad(img, (dw, dh), self.fill, self.padding_mode)
            h, w = h + 2 * dh, w + 2 * dw
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: crop size {(th, tw)} is larger than the (padded) "
                             f"image size {(h, w)}")
        rng = _rng(self.generator)
        top = int(rng.integers(0, h - th + 1))
        left = int(rng.integers(0, w - tw + 1))
        return F.crop(img, top, left, th, tw)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p``."""

    def __init__(self, p=0.5, generator=None):
        self.p, self.generator = p, generator

    def __call__(self, img):
        return F.hflip(img) if _rng(self.generator).random() < self.p else img

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class RandomVerticalFlip:
    """Mirror top-bottom with probability ``p``."""

    def __init__(self, p=0.5, generator=None):
        self.p, self.generator = p, generator

    def __call__(self, img):
        return F.vflip(img) if _rng(self.generator).random() < self.p else img


class RandomRotation:
    """Rotate by an angle drawn uniformly from ``degrees`` (d -> (-d, d)), counter-clockwise
    for positive angles, about the centre; the size is kept and uncovered pixels get ``fill``.
    """

    def __init__(self, degrees, interpolation="nearest", expand=False, center=None, fill=0,
                 generator=None):
        if expand:
            raise NotImplementedError("RandomRotation: expand=True is not supported")
        self.degrees = _range(degrees, "RandomRotation degrees")
        self.interpolation, self.center, self.fill = interpolation, center, fill
        self.generator = generator

    def __call__(self, img):
        angle = float(_rng(self.generator).uniform(*self.degrees))
        return F.rotate(img, angle, self.interpolation, self.fill, self.center)

    def __repr__(self):
        return f"RandomRotation(degrees={self.degrees}, interpolation={self.interpolation})"


class RandomAffine:
    """Random rotation, translation, scale and shear (torchvision's parameter meaning).

    ``translate=(a, b)``: shifts up to ``a * W`` horizontally and ``b * H`` vertically
    (rounded to whole pixels); ``scale=(lo, hi)``; ``shear``: a number s -> x-shear in
    (-s, s) degrees, a pair -> x-shear range, four numbers -> x and y ranges.
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation="nearest", fill=0, center=None, generator=None):
        self.degrees = _range(degrees, "RandomAffine degrees")
        if translate is not None and not all(0 <= t <= 1 for t in translate):
            raise ValueError(f"RandomAffine: translate values must be in [0, 1], got {translate}")
        if scale is not None and (len(scale) != 2 or min(scale) <= 0):
            raise ValueError(f"RandomAffine: scale must be a positive (min, max), got {scale}")
        self.translate, self.scale = translate, scale
        if shear is None:
            self.shear = None
        elif isinstance(shear, numbers.Number) or len(shear) == 2:
            self.shear = (_range(shear, "RandomAffine shear"), (0.0, 0.0))
        elif len(shear) == 4:
            self.shear = (_range(shear[:2], "RandomAffine shear"),
                          _range(shear[2:], "RandomAffine shear"))
        else:
            raise ValueError(f"RandomAffine: shear must be a number or 2 or 4 numbers, got "
                             f"{shear}")
        self.interpolation, self.fill, self.center = interpolation, fill, center
        self.generator = generator

    def get_params(self, height, width):
        """(angle, (tx, ty), scale, (shear_x, shear_y)) drawn from this transform's ranges."""
        rng = _rng(self.generator)
        angle = float(rng.uniform(*self.degrees))
        tx = ty = 0
        if self.translate is not None:
            tx = int(round(rng.uniform(-1, 1) * self.translate[0] * width))
            ty = int(round(rng.uniform(-1, 1) * self.translate[1] * height))
        scale = float(rng.uniform(*self.scale)) if self.scale is not None else 1.0
        shear = (0.0, 0.0)
        if self.shear is not None:
            shear = (float(rng.uniform(*self.shear[0])), float(rng.uniform(*self.shear[1])))
        return angle, (tx, ty), scale, shear

    def __call__(self, img):
        h, w = F._unwrap(img)[0].shape[-2:]
        angle, translate, scale, shear = self.get_params(h, w)
        return F.affine(img, angle, translate, scale, shear, self.interpolation, self.fill,
                        self.center)


class PerImageStandardize:
    """Standardise each image by its own mean and std (floored at 1/sqrt(numel))."""

    def __call__(self, img):
        return F.per_image_standardize(img)

    def __repr__(self):
        return "PerImageStandardize()"
