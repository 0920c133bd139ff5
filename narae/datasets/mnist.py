"""MNIST and Fashion-MNIST from their standard IDX files (28x28 grey images, labels 0-9).

Files are looked for in ``root/<Name>/raw/`` (torchvision's layout) and then in ``root``
itself, each either gzipped (``.gz``) or not:

    train-images-idx3-ubyte  train-labels-idx1-ubyte  (60,000 training samples)
    t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte   (10,000 test samples)

Samples are ``(image, label)``: image a float32 Tensor of shape (1, 28, 28) in [0, 1].
"""
import os

import numpy as np

from ._base import ImageDataset
from ._download import download_file
from .idx import read_idx

__all__ = ["MNIST", "FashionMNIST"]

_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class MNIST(ImageDataset):
    """The MNIST handwritten digits (``train=True``: 60,000 images, else the 10,000 test ones).

    ``download=True`` fetches missing files from ``mirrors`` (MD5-checked); without a network
    it raises an error saying which files to put where.
    """

    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/")
    md5 = {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
           "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
           "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
           "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
    classes = ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine")

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(transform, target_transform)
        self.root = os.path.expanduser(str(root))
        self.train = train
        if download:
            self.download()
        img_name, lbl_name = _FILES[bool(train)]
        img_path, lbl_path = self._find(img_name), self._find(lbl_name)
        images = read_idx(img_path, ndim=3)
        labels = read_idx(lbl_path, ndim=1)
        for path, arr in ((img_path, images), (lbl_path, labels)):
            if arr.dtype != np.uint8:
                raise ValueError(f"{path}: expected unsigned bytes (IDX type 0x08), "
                                 f"found {arr.dtype}")
        if len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: {img_path} holds {len(images)} images but "
                             f"{lbl_path} holds {len(labels)} labels")
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(f"{lbl_path}: label {int(labels.max())} is out of range for "
                             f"{len(self.classes)} classes")
        self.data = images                      # (N, 28, 28) uint8, as torchvision's .data
        self._images = images[:, None]          # (N, 1, 28, 28)
        self._labels = labels.astype(np.int64)

    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    def _where_hint(self):
        names = ", ".join(n for pair in _FILES.values() for n in pair)
        return (f"Put the {type(self).__name__} files ({names}; each may be .gz) in "
                f"{self.raw_folder} or in {self.root}. They are available from "
                f"{' or '.join(self.mirrors)}.")

    def _find(self, name):
        for folder in (self.raw_folder, self.root):
            for candidate in (name, name + ".gz"):
                path = os.path.join(folder, candidate)
                if os.path.isfile(path):
                    return path
        raise RuntimeError(f"{type(self).__name__}: {name}(.gz) not found. "
                           f"{self._where_hint()} Or pass download=True with network access.")

    def download(self):
        """Fetch every file not already present into ``raw_folder``."""
        for pair in _FILES.values():
            for name in pair:
                try:
                    self._find(name)
                    continue
                except RuntimeError:
                    pass
                gz = name + ".gz"
                download_file([m + gz for m in self.mirrors], os.path.join(self.raw_folder, gz),
                              md5=self.md5.get(gz), where_hint=self._where_hint())


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: the same file format and sizes as MNIST, ten clothing classes."""

    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
               "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/"
               "fashion/")
    md5 = {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
           "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
           "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
           "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")
