"""Optimizers (``SGD``, ``Adam``, ``LBFGS``...) and ``lr_scheduler``, mirroring torch.optim."""
from .optimizer import Optimizer
from .sgd import SGD
from .adagrad import Adagrad
from .adadelta import Adadelta
from .rmsprop import RMSprop
from .adam import Adam
from .adamw import AdamW
from .nadam import NAdam
from .radam import RAdam
from .adamax import Adamax
from .asgd import ASGD
from .rprop import Rprop
from .adafactor import Adafactor
from .lbfgs import LBFGS
from .conjugate_gradient import ConjugateGradient
from .muon import Muon
from .sparse_adam import SparseAdam
from . import lr_scheduler
from . import swa_utils

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "NAdam",
           "RAdam", "Adamax", "ASGD", "Rprop", "Adafactor", "LBFGS", "ConjugateGradient",
           "Muon", "SparseAdam", "lr_scheduler", "swa_utils"]
