"""Modules over narae.ops.spatial: PixelShuffle, PixelUnshuffle, ChannelShuffle, Fold, Unfold."""

__all__ = []
