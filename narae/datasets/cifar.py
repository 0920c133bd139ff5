"""CIFAR-10 from the *binary version* files (no pickle is ever loaded).

Expected in ``root/cifar-10-batches-bin/``: ``data_batch_1.bin`` ... ``data_batch_5.bin``
(training, 10,000 records each) and ``test_batch.bin``. Each record is 3,073 bytes: one label
byte (0-9), then 1,024 red, 1,024 green and 1,024 blue pixel bytes of a 32x32 image in row
order, which is already the (C, H, W) layout. Samples are ``(image, label)``: image a float32
Tensor of shape (3, 32, 32) in [0, 1].
"""
import os
import tarfile

import numpy as np

from ._base import ImageDataset
from ._download import download_file

__all__ = ["CIFAR10", "read_cifar_bin"]

RECORD = 1 + 3 * 32 * 32


def read_cifar_bin(path, num_classes=10):
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) from one binary batch file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) == 0 or len(raw) % RECORD:
        raise ValueError(f"{path}: size {len(raw)} bytes is not a positive multiple of the "
                         f"{RECORD}-byte CIFAR-10 record (1 label + 3072 pixel bytes); the file "
                         f"is truncated or is not a CIFAR-10 binary batch")
    records = np.frombuffer(raw, np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise ValueError(f"{path}: record {bad} has label {int(labels[bad])}, outside 0.."
                         f"{num_classes - 1}; the file is corrupt or not a CIFAR-10 batch")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


class CIFAR10(ImageDataset):
    """CIFAR-10: 50,000 training / 10,000 test colour images of 32x32 in ten classes."""

    base_folder = "cifar-10-batches-bin"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    archive_md5 = "c32a1d4ab5d03f1284b67883e8d87530"
    train_list = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
    test_list = ("test_batch.bin",)
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(transform, target_transform)
        self.root = os.path.expanduser(str(root))
        self.train = train
        if download:
            self.download()
        folder = os.path.join(self.root, self.base_folder)
        names = self.train_list if train else self.test_list
        missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
        if missing:
            raise RuntimeError(f"CIFAR10: {', '.join(missing)} not found in {folder}. "
                               f"{self._where_hint()} Or pass download=True with network "
                               f"access.")
        parts = [read_cifar_bin(os.path.join(folder, n), len(self.classes)) for n in names]
        self._images = np.concatenate([p[0] for p in parts])
        self._labels = np.concatenate([p[1] for p in parts])
        self.data = self._images.transpose(0, 2, 3, 1)   # (N, 32, 32, 3), as torchvision's

    def _where_hint(self):
        return (f"Extract the binary version ({self.url}) so that {self.base_folder}/ with "
                f"data_batch_1.bin..data_batch_5.bin and test_batch.bin is inside {self.root}.")

    def download(self):
        """Fetch the archive and extract only the six expected batch files (by name)."""
        folder = os.path.join(self.root, self.base_folder)
        wanted = self.train_list + self.test_list
        if all(os.path.isfile(os.path.join(folder, n)) for n in wanted):
            return
        archive = download_file([self.url], os.path.join(self.root, os.path.basename(self.url)),
                                md5=self.archive_md5, timeout=60, where_hint=self._where_hint())
        os.makedirs(folder, exist_ok=True)
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                name = os.path.basename(member.name)
                if member.isfile() and name in wanted + ("batches.meta.txt",):
                    with tar.extractfile(member) as src, \
                            open(os.path.join(folder, name), "wb") as dst:
                        dst.write(src.read())
