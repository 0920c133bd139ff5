"""Dropout layers: active in ``train()`` mode, the identity in ``eval()`` mode."""
from . import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class _DropoutNd(Module):
    _fname = "dropout"

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return getattr(F, self._fname)(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) inputs."""
    _fname = "dropout1d"


class Dropout2d(_DropoutNd):
    """Zero whole channels (feature maps) of (N, C, H, W) inputs."""
    _fname = "dropout2d"


class Dropout3d(_DropoutNd):
    _fname = "dropout3d"


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU's self-normalising mean and variance."""
    _fname = "alpha_dropout"


class FeatureAlphaDropout(_DropoutNd):
    _fname = "feature_alpha_dropout"
