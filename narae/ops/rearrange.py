"""Splits, rotations and views: tensor_split, rot90, swapdims, Tensor.unfold..."""

__all__ = []
