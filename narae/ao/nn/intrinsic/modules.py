"""Fused float modules (torch.ao.nn.intrinsic): a Sequential of layers that ``convert``
turns into one quantized module (conv + relu -> one requantization with a ReLU floor)."""
from ....nn.containers import Sequential
from ....nn.conv import Conv1d, Conv2d
from ....nn.linear import Linear
from ....nn.normalization import BatchNorm1d, BatchNorm2d
from ....nn.activation import ReLU

__all__ = ["_FusedModule", "ConvReLU1d", "ConvReLU2d", "LinearReLU", "ConvBn1d", "ConvBn2d",
           "ConvBnReLU1d", "ConvBnReLU2d", "BNReLU2d", "LinearBn1d"]


class _FusedModule(Sequential):
    _types = ()

    def __init__(self, *mods):
        for m, t in zip(mods, self._types):
            if not isinstance(m, t):
                raise TypeError(f"Incorrect types for input modules of {type(self).__name__}: "
                                f"{[type(x).__name__ for x in mods]}")
        super().__init__(*mods)


def _fused(name, types, doc):
    return type(name, (_FusedModule,), {"_types": types, "__doc__": doc})


ConvReLU1d = _fused("ConvReLU1d", (Conv1d, ReLU), "Conv1d followed by ReLU.")
ConvReLU2d = _fused("ConvReLU2d", (Conv2d, ReLU), "Conv2d followed by ReLU.")
LinearReLU = _fused("LinearReLU", (Linear, ReLU), "Linear followed by ReLU.")
ConvBn1d = _fused("ConvBn1d", (Conv1d, BatchNorm1d), "Conv1d followed by BatchNorm1d.")
ConvBn2d = _fused("ConvBn2d", (Conv2d, BatchNorm2d), "Conv2d followed by BatchNorm2d.")
ConvBnReLU1d = _fused("ConvBnReLU1d", (Conv1d, BatchNorm1d, ReLU),
                      "Conv1d, BatchNorm1d and ReLU.")
ConvBnReLU2d = _fused("ConvBnReLU2d", (Conv2d, BatchNorm2d, ReLU),
                      "Conv2d, BatchNorm2d and ReLU.")
BNReLU2d = _fused("BNReLU2d", (BatchNorm2d, ReLU), "BatchNorm2d followed by ReLU.")
LinearBn1d = _fused("LinearBn1d", (Linear, BatchNorm1d), "Linear followed by BatchNorm1d.")
for _cls in (ConvReLU1d, ConvReLU2d, LinearReLU, ConvBn1d, ConvBn2d, ConvBnReLU1d,
             ConvBnReLU2d, BNReLU2d, LinearBn1d):
    _cls.__module__ = __name__
