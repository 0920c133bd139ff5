"""Shared behaviour of the image datasets: uint8 storage, float [0,1] CHW samples, transforms.

Images are kept as one uint8 array of shape (N, C, H, W) and converted per sample (or per
batch) to float32 in [0, 1], so a 60,000-image dataset costs 47 MB rather than 188 MB.
"""
import numpy as np

from ..utils.data import Dataset
from ..utils.data._arrays import wrap

__all__ = ["ImageDataset"]


class ImageDataset(Dataset):
    """Samples are ``(image, label)``: a float32 Tensor (C, H, W) in [0, 1] and a Python int.

    ``transform`` receives that image Tensor, ``target_transform`` the int label. Subclasses
    set ``_images`` (uint8, N x C x H x W), ``_labels`` (int64, N) and ``_scale`` (the
    pixel value that maps to 1.0).
    """

    classes = ()
    _scale = 255.0

    def __init__(self, transform=None, target_transform=None):
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        img = wrap(self._images[index].astype(np.float32) / np.float32(self._scale))
        target = int(self._labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _get_batch(self, indices):
        """Whole-batch conversion, valid only when no per-sample transform is set."""
        if self.transform is not None or self.target_transform is not None:
            return None
        imgs = self._images[indices].astype(np.float32) / np.float32(self._scale)
        return [wrap(imgs), wrap(self._labels[indices])]

    @property
    def targets(self):
        return self._labels

    def tensors(self):
        """All images (N, C, H, W) float32 in [0, 1] and labels (N,) int64, as Tensors
        (transforms are not applied): ready for ``TensorDataset`` or full-batch training."""
        return (wrap(self._images.astype(np.float32) / np.float32(self._scale)),
                wrap(self._labels.copy()))

    def __repr__(self):
        c, h, w = self._images.shape[1:]
        return (f"{type(self).__name__}(samples={len(self)}, image_shape=({c}, {h}, {w}), "
                f"classes={len(self.classes) or 'unknown'})")
