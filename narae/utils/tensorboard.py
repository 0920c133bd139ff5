"""``narae.utils.tensorboard.SummaryWriter``, where torch users look for it (the writer
itself lives in narae.train.tensorboard: event files written by hand, no TensorFlow)."""
from ..train.tensorboard import SummaryWriter

__all__ = ["SummaryWriter"]
