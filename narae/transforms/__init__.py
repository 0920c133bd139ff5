"""Image transforms, mirroring ``torchvision.transforms``, for (C, H, W) arrays and Tensors.

    import narae.transforms as T
    train_tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
                          T.Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))])

The datasets in ``narae.datasets`` already yield float32 (C, H, W) Tensors in [0, 1], so
``ToTensor`` is only needed for (H, W, C) uint8 arrays or PIL images (it passes Tensors
through). Randomness comes from narae's generator: ``narae.manual_seed`` reproduces it.
"""
from . import functional
from .transforms import (Compose, ToTensor, Normalize, Lambda, Pad, CenterCrop, RandomCrop,
                         RandomHorizontalFlip, RandomVerticalFlip, RandomRotation, RandomAffine,
                         PerImageStandardize)

__all__ = ["functional", "Compose", "ToTensor", "Normalize", "Lambda", "Pad", "CenterCrop",
           "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
           "RandomAffine", "PerImageStandardize"]
