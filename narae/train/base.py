"""``Callback``: hooks the training loop calls (Keras's names), and ``CallbackList``.

A callback sees ``self.model`` (the module), ``self.optimizer`` and ``self.params``
(``epochs``, ``steps``, ``batch_size``, ``verbose``, ``metrics``). To stop training it sets
``self.model.stop_training = True``; the loop checks the flag after every batch and epoch.
``logs`` are dicts of floats: running means during an epoch, epoch values at its end
(``loss``, metrics, ``val_loss``, ``val_<metric>``, ``lr``).
"""

__all__ = ["Callback", "CallbackList", "HOOKS"]

HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
         "on_train_batch_begin", "on_train_batch_end", "on_after_backward",
         "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_begin", "on_predict_end", "on_predict_batch_begin",
         "on_predict_batch_end")


class Callback:
    """Base class: override the hooks you need (all are no-ops here)."""

    def __init__(self):
        self.model = None
        self.optimizer = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    # narae's addition: gradients are fresh here (before clipping and the optimizer step)
    def on_after_backward(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


class CallbackList:
    """Calls a hook on every callback, in order. ``cbs.on_epoch_end(epoch, logs)``."""

    def __init__(self, callbacks=(), model=None, optimizer=None, params=None):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback) and not all(hasattr(cb, h) for h in HOOKS[:4]):
                raise TypeError(f"callbacks must be Callback instances, got {cb!r}")
            if model is not None:
                cb.set_model(model) if hasattr(cb, "set_model") else setattr(cb, "model", model)
            cb.optimizer = optimizer
            if params is not None:
                cb.set_params(params) if hasattr(cb, "set_params") else \
                    setattr(cb, "params", params)

    def __iter__(self):
        return iter(self.callbacks)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(*args)

    def __getattr__(self, hook):
        if hook not in HOOKS:
            raise AttributeError(hook)
        return lambda *args: self._call(hook, *args)
