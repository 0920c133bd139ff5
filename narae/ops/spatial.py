"""Spatial rearrangements and sampling: fold/unfold, pixel_shuffle, channel_shuffle, grid_sample."""

__all__ = []
