"""``fit`` / ``evaluate`` / ``predict``: the training loop, with Keras's callbacks and History.

    history = fit(model, (x_train, y_train), loss=nn.CrossEntropyLoss(),
                  optimizer=optim.Adam(model.parameters(), lr=1e-3), epochs=10,
                  val_data=(x_val, y_val), metrics=["accuracy"],
                  callbacks=[EarlyStopping(patience=3, restore_best_weights=True)])
    evaluate(model, (x_test, y_test), loss=nn.CrossEntropyLoss(), metrics=["accuracy"])
    probs = predict(model, x_test).softmax(1)

One training step is the PyTorch idiom: ``zero_grad``, forward, loss, ``backward``, (clip),
``optimizer.step()``. Evaluation runs under ``no_grad`` with ``model.eval()``.
"""
import contextlib
import copy
import inspect
import sys

import numpy as np

from .base import CallbackList
from .callbacks import ProgbarLogger
from .data import as_batches, split_batch
from .history import History
from .metrics import Mean, get_metric, to_numpy

__all__ = ["fit", "evaluate", "predict", "resolve_loss"]

_LOSS_NAMES = {"cross_entropy": "cross_entropy", "crossentropy": "cross_entropy",
               "categorical_crossentropy": "cross_entropy",
               "sparse_categorical_crossentropy": "cross_entropy",
               "nll": "nll_loss", "nll_loss": "nll_loss", "mse": "mse_loss",
               "mse_loss": "mse_loss", "mean_squared_error": "mse_loss", "mae": "l1_loss",
               "l1": "l1_loss", "l1_loss": "l1_loss", "mean_absolute_error": "l1_loss",
               "bce": "binary_cross_entropy", "binary_cross_entropy": "binary_cross_entropy",
               "bce_with_logits": "binary_cross_entropy_with_logits",
               "binary_cross_entropy_with_logits": "binary_cross_entropy_with_logits",
               "huber": "huber_loss", "smooth_l1": "smooth_l1_loss"}


def resolve_loss(loss):
    """A callable ``loss(output, target)`` from a callable or a name ("cross_entropy", "mse"...)."""
    if loss is None or callable(loss):
        return loss
    if isinstance(loss, str):
        from ..nn import functional as F
        name = _LOSS_NAMES.get(loss.lower())
        fn = getattr(F, name, None) if name else None
        if fn is None:
            raise ValueError(f"unknown loss {loss!r}; known names: {sorted(_LOSS_NAMES)}")
        return fn
    raise TypeError(f"loss must be a callable or a name, got {loss!r}")


def _move(x, device):
    from ..tensor import Tensor
    if device is None or not isinstance(x, Tensor):
        return x
    return x.to(device)


def _batch_size(inputs):
    x = inputs[0]
    return int(x.shape[0]) if getattr(x, "ndim", 0) else 1


def _forward(model, inputs, device):
    return model(*(_move(x, device) for x in inputs))


class _MetricSet:
    """The loss mean plus the metrics, updated from host copies of a batch's outputs."""

    def __init__(self, specs, prefix=""):
        self.metrics = [copy.deepcopy(m) for m in specs]
        names = [m.name for m in self.metrics]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"two metrics share the name(s) {sorted(dup)}; pass name=...")
        self.loss = Mean("loss")
        self.prefix = prefix

    def reset(self):
        self.loss.reset()
        for m in self.metrics:
            m.reset()

    def update(self, loss_value, out, target, n):
        if loss_value is not None:
            self.loss.update(loss_value, n)
        if self.metrics and target is not None:
            p, t = to_numpy(out), to_numpy(target)
            for m in self.metrics:
                m.update(p, t)

    def logs(self, scalars_only=True):
        out = {}
        if self.loss.weight:
            out[self.prefix + "loss"] = self.loss.compute()
        for m in self.metrics:
            if scalars_only and not getattr(m, "scalar", True):
                continue
            v = m.compute()
            out[self.prefix + m.name] = float(v) if getattr(m, "scalar", True) else v
        return out


def _lr(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    return float(groups[0]["lr"]) if groups else None


def _step_schedulers(schedulers, logs, monitor):
    for s in schedulers:
        params = inspect.signature(s.step).parameters
        if "metrics" in params:  # ReduceLROnPlateau: driven by the monitored value
            key = monitor if monitor in logs else "loss"
            s.step(logs[key])
        else:
            s.step()


def _run_eval(model, batches, loss_fn, mset, cbs, device, prefix_logs=False):
    was_training = getattr(model, "training", False)
    model.eval()
    from ..autograd import no_grad
    mset.reset()
    cbs.on_test_begin({})
    with no_grad():
        for step, batch in enumerate(batches):
            inputs, target = split_batch(batch)
            cbs.on_test_batch_begin(step, {})
            out = _forward(model, inputs, device)
            target = _move(target, device)
            lv = None
            if loss_fn is not None and target is not None:
                lv = float(loss_fn(out, target).item())
            mset.update(lv, out, target, _batch_size(inputs))
            cbs.on_test_batch_end(step, mset.logs())
    logs = mset.logs()
    cbs.on_test_end(logs)
    model.train(was_training)
    return logs


def _make_train_step(model, optimizer, loss_fn, device, clip, after_backward, amp=None,
                     scaler=None):
    """One training step: zero_grad, forward, loss, backward, (clip), optimizer step.

    With ``amp`` (a dtype), forward and loss run under ``narae.autocast``; with a
    ``scaler`` (float16), the loss is scaled and the step skipped on overflowed gradients.
    Returns ``(loss, detached output, target)`` as tensors: nothing here reads a value back
    to the host (on the GPU the scaler keeps its scale and overflow flag on the device and
    the fused optimizers skip on the device), so ``narae.compile`` can capture the whole
    step as one CUDA graph.
    """
    def region():
        if amp is None:
            return contextlib.nullcontext()
        from ..amp import autocast
        return autocast(_device_type(model), dtype=amp)

    def train_step(inputs, target):
        optimizer.zero_grad()
        with region():
            out = _forward(model, inputs, device)
            target = _move(target, device)
            l = loss_fn(out, target) if target is not None else loss_fn(out)
        (scaler.scale(l) if scaler is not None else l).backward()
        if after_backward is not None:
            after_backward(l)
        if clip is not None:
            if scaler is not None:
                scaler.unscale_(optimizer)   # clip the true gradients
            clip()
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        return l, (out.detach() if hasattr(out, "detach") else out), target
    return train_step


def _device_type(model):
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    return "cuda" if params and params[0].device.type == "cuda" else "cpu"


def _amp_setup(amp, model):
    """(autocast dtype or None, GradScaler or None) for fit's ``amp`` argument."""
    if amp is None or amp is False:
        return None, None
    from .. import _dtype
    from ..amp import GradScaler
    dtype = _dtype.to_dtype({"fp16": "float16", "bf16": "bfloat16", True: "float16"}.get(
        amp, amp) if not isinstance(amp, bool) else "float16")
    if dtype.name not in ("float16", "bfloat16"):
        raise ValueError(f"fit: amp must be float16 or bfloat16, got {amp!r}")
    if dtype.name != "float16":
        return dtype, None        # bfloat16 has float32's range: no loss scaling, as in torch
    return dtype, GradScaler(_device_type(model))


def fit(model, train_data, *, loss, optimizer, epochs=1, val_data=None, metrics=(),
        callbacks=(), batch_size=None, shuffle=True, scheduler=None, device=None, verbose=1,
        grad_clip=None, initial_epoch=0, monitor="val_loss", stream=None, compile=False,
        amp=None):
    """Train ``model`` for ``epochs``; return a ``History`` of per-epoch logs.

    ``train_data``/``val_data``: a DataLoader, a Dataset, or a tuple ``(x, y)`` of arrays or
    Tensors (batched by ``batch_size``, default 32, shuffled when ``shuffle``).
    ``loss``: a callable ``loss(output, target)`` (``nn.CrossEntropyLoss()``) or a name.
    ``metrics``: names ("accuracy", "f1"...), Metric objects or functions.
    ``scheduler``: an LR scheduler (or a list), stepped once per epoch after validation;
    ``ReduceLROnPlateau`` gets ``logs[monitor]`` (``val_loss``, or ``loss`` without val data).
    ``grad_clip``: clip the global gradient L2 norm to this value before each step.
    ``verbose``: 0 silent, 1 progress bar (plain lines when not a terminal), 2 one line/epoch.
    ``compile``: run each training step through ``narae.compile`` (on a GPU: captured once
    per batch shape and replayed as a CUDA graph). Callbacks then see ``on_after_backward``
    after the optimizer step, with the same logs.
    ``amp``: mixed precision, ``"float16"`` (autocast plus dynamic loss scaling with a
    ``GradScaler``) or ``"bfloat16"`` (autocast only); weights stay float32.
    """
    if epochs < initial_epoch:
        raise ValueError(f"fit: epochs={epochs} is smaller than initial_epoch={initial_epoch}")
    loss_fn = resolve_loss(loss)
    if loss_fn is None:
        raise ValueError("fit: a loss is required")
    train = as_batches(train_data, batch_size, shuffle, "fit: train_data")
    val = as_batches(val_data, batch_size, False, "fit: val_data") \
        if val_data is not None else None
    if device is not None:
        model.to(device)
    specs = [get_metric(m) for m in metrics]
    train_set, val_set = _MetricSet(specs), _MetricSet(specs, prefix="val_")
    schedulers = [] if scheduler is None else \
        list(scheduler) if isinstance(scheduler, (list, tuple)) else [scheduler]
    clip = None
    if grad_clip is not None:
        from ..nn.utils import clip_grad_norm_
        params_list = [p for p in model.parameters()]
        clip = lambda: clip_grad_norm_(params_list, grad_clip)  # noqa: E731

    history = History()
    user_cbs = list(callbacks)
    seen_loss = {}

    def after_backward(l):  # eager: callbacks see the gradients before the optimizer step
        seen_loss["value"] = float(l.item())
        cbs.on_after_backward(step, {"batch_loss": seen_loss["value"], "size": n})
    amp_dtype, scaler = _amp_setup(amp, model)
    train_step = _make_train_step(model, optimizer, loss_fn, device, clip,
                                  None if compile else after_backward, amp_dtype, scaler)
    if compile:
        from ..graph_capture import compile as _compile
        train_step = _compile(train_step)
    progress = [ProgbarLogger(verbose, stream)] if verbose else []
    try:
        steps = len(train)
    except TypeError:
        steps = None
    params = {"epochs": epochs, "steps": steps, "verbose": verbose,
              "batch_size": getattr(train, "batch_size", batch_size),
              "metrics": [m.name for m in specs], "num_examples": train.num_examples,
              "do_validation": val is not None}
    cbs = CallbackList(progress + user_cbs + [history], model=model, optimizer=optimizer,
                       params=params)
    history.model = model
    model.stop_training = False

    cbs.on_train_begin({})
    epoch_logs = {}
    try:
        for epoch in range(initial_epoch, epochs):
            model.train()
            train_set.reset()
            cbs.on_epoch_begin(epoch, {})
            seen = 0
            for step, batch in enumerate(train):
                inputs, target = split_batch(batch)
                n = _batch_size(inputs)
                cbs.on_train_batch_begin(step, {"size": n})
                l, out, target = train_step(inputs, target)
                lv = seen_loss.pop("value") if seen_loss else float(l.item())
                if compile:
                    cbs.on_after_backward(step, {"batch_loss": lv, "size": n})
                train_set.update(lv, out, target, n)
                seen += 1
                batch_logs = train_set.logs()
                batch_logs["batch_loss"] = lv
                batch_logs["size"] = n
                cbs.on_train_batch_end(step, batch_logs)
                if model.stop_training:
                    break
            if seen == 0:
                raise ValueError("fit: train_data produced no batches")
            epoch_logs = train_set.logs()
            if val is not None:
                epoch_logs.update(_run_eval(model, val, loss_fn, val_set, cbs, device))
            lr = _lr(optimizer)
            if lr is not None:
                epoch_logs["lr"] = lr
            _step_schedulers(schedulers, epoch_logs, monitor)
            cbs.on_epoch_end(epoch, epoch_logs)
            if model.stop_training:
                break
    except KeyboardInterrupt:
        # Ctrl-C ends training cleanly: callbacks still close files and restore weights.
        print("\nTraining interrupted by the user.", file=stream or sys.stderr)
    cbs.on_train_end(epoch_logs)
    return history


def evaluate(model, data, loss=None, metrics=(), *, batch_size=None, device=None, verbose=0,
             callbacks=(), stream=None):
    """``{"loss": ..., <metric>: ...}`` over ``data`` (no gradients, ``model.eval()``).

    Array-valued metrics (a confusion matrix, per-class scores) appear as NumPy arrays.
    """
    loss_fn = resolve_loss(loss)
    batches = as_batches(data, batch_size, False, "evaluate: data")
    if device is not None:
        model.to(device)
    mset = _MetricSet([get_metric(m) for m in metrics])
    cbs = CallbackList(list(callbacks), model=model, params={"verbose": verbose})
    _run_eval(model, batches, loss_fn, mset, cbs, device)
    logs = mset.logs(scalars_only=False)
    if verbose:
        from .progress import format_value
        text = " - ".join(f"{k}: {format_value(v)}" for k, v in logs.items()
                          if np.ndim(v) == 0)
        print("evaluate - " + text, file=stream or sys.stdout)
    return logs


def predict(model, data, *, batch_size=None, device=None, callbacks=()):
    """The model's outputs over ``data``, concatenated along dim 0 (a Tensor, or a tuple).

    ``data`` is x (array/Tensor), ``(x, y)`` (y ignored), a Dataset or a DataLoader.
    """
    from ..tensor import Tensor
    from ..backend import get_array_module
    from ..autograd import no_grad
    batches = as_batches(data, batch_size, False, "predict: data")
    if device is not None:
        model.to(device)
    was_training = getattr(model, "training", False)
    model.eval()
    cbs = CallbackList(list(callbacks), model=model, params={})
    cbs.on_predict_begin({})
    chunks = []
    with no_grad():
        for step, batch in enumerate(batches):
            inputs, _ = split_batch(batch)
            cbs.on_predict_batch_begin(step, {})
            out = _forward(model, inputs, device)
            outs = out if isinstance(out, (tuple, list)) else (out,)
            chunks.append([o._data for o in outs])
            cbs.on_predict_batch_end(step, {"outputs": out})
    cbs.on_predict_end({})
    model.train(was_training)
    if not chunks:
        raise ValueError("predict: data produced no batches")
    result = []
    for parts in zip(*chunks):
        xp = get_array_module(parts[0])
        result.append(Tensor(xp.concatenate(parts, axis=0)))
    return result[0] if len(result) == 1 and not isinstance(out, (tuple, list)) \
        else tuple(result)
