"""``narae.train``: the Keras-like training loop over narae modules.

    from narae.train import fit, evaluate, predict, callbacks, metrics
    history = fit(model, (x, y), loss="cross_entropy", optimizer=opt, epochs=5,
                  metrics=["accuracy"], val_data=(xv, yv))

``fit`` runs ``callbacks`` at Keras's hook points and returns a ``History``; ``metrics`` are
stateful (update/compute/reset); ``progress`` draws the bar; ``tensorboard`` writes event
files without TensorFlow.
"""
from . import metrics, callbacks, progress, tensorboard
from .loop import fit, evaluate, predict
from .history import History
from .base import Callback, CallbackList
from .callbacks import (EarlyStopping, ModelCheckpoint, TensorBoard, CSVLogger,
                        LearningRateScheduler, GradientMonitor, TerminateOnNaN, LambdaCallback,
                        ProgbarLogger)
from .tensorboard import SummaryWriter
from .plot import plot_history

__all__ = ["fit", "evaluate", "predict", "History", "Callback", "CallbackList",
           "EarlyStopping", "ModelCheckpoint", "TensorBoard", "CSVLogger",
           "LearningRateScheduler", "GradientMonitor", "TerminateOnNaN", "LambdaCallback",
           "ProgbarLogger", "SummaryWriter", "plot_history", "metrics", "callbacks",
           "progress", "tensorboard"]
