"""The stock callbacks (Keras's names and arguments where Keras has them).

    fit(model, data, ..., callbacks=[
        EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
        ModelCheckpoint("ck/epoch{epoch:02d}-{val_loss:.3f}.safetensors", save_best_only=True),
        TensorBoard("runs/exp", histogram_freq=1),
        CSVLogger("log.csv"), GradientMonitor(), TerminateOnNaN()])
"""
import csv
import math
import os
import sys
import warnings

import numpy as np

from .base import Callback, CallbackList
from .history import History
from .progress import ProgressBar

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ModelCheckpoint", "TensorBoard", "CSVLogger", "LearningRateScheduler",
           "GradientMonitor", "TerminateOnNaN", "LambdaCallback"]


def _is_better_fn(monitor, mode, min_delta):
    """``better(current, best)`` for ``mode`` in min/max/auto (auto: max for accuracy-like)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        name = monitor[4:] if monitor.startswith("val_") else monitor
        maximize = any(s in name for s in ("acc", "auc", "f1", "precision", "recall"))
        mode = "max" if maximize else "min"
    delta = abs(min_delta)
    if mode == "min":
        return mode, (lambda cur, best: cur < best - delta)
    return mode, (lambda cur, best: cur > best + delta)


def _copy_state(model):
    """A detached copy of ``model.state_dict()`` (so later updates do not change it)."""
    from ..tensor import Tensor
    from ..backend import get_array_module
    out = {}
    for k, v in model.state_dict().items():
        if isinstance(v, Tensor):
            xp = get_array_module(v._data)
            out[k] = Tensor(xp.array(v._data, copy=True))
        else:
            out[k] = v
    return out


def _set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr


class ProgbarLogger(Callback):
    """Draws the per-epoch ProgressBar (added by ``fit`` when ``verbose > 0``)."""

    def __init__(self, verbose=1, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self.bar = ProgressBar(self.params.get("steps"), epoch, self.params.get("epochs"),
                               stream=self.stream, verbose=self.verbose)

    def on_train_batch_end(self, batch, logs=None):
        logs = dict(logs or {})
        n = logs.pop("size", 0)
        self.bar.update(batch + 1, logs, n)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.finish(logs or {})


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``restore_best_weights=True`` puts the best epoch's weights back at the end of training.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.mode, self._better = _is_better_fn(monitor, mode, min_delta)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = None
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"EarlyStopping: metric {self.monitor!r} is not in the logs "
                          f"(available: {sorted(logs or {})}); not stopping")
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _copy_state(self.model)  # something to restore, even if bad
            self.best_epoch = epoch
        self.wait += 1
        if self._better(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = _copy_state(self.model)
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch is not None and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping "
                  f"(best {self.monitor} = {self.best:.4f} at epoch {self.best_epoch + 1})")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from epoch {self.best_epoch + 1}")
            self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (and optimizer) after each epoch to ``filepath``, atomically.

    ``filepath`` may hold ``{epoch}`` (1-based) and log keys: ``"ck-{epoch:02d}-{val_loss:.3f}"``.
    ``save_best_only`` writes only when ``monitor`` improves. ``save_weights_only`` writes
    ``model.state_dict()`` alone (a plain safetensors file); otherwise a full checkpoint
    (``narae.io.save_checkpoint``: model, optimizer, epoch and logs).
    ``best_path``/``last_path`` tell where the best/latest file went.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch"):
        super().__init__()
        if save_freq != "epoch":
            raise ValueError("ModelCheckpoint: only save_freq='epoch' is supported")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode, self._better = _is_better_fn(monitor, mode, 0.0)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_path = None
        self.last_path = None

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} uses {e} which is "
                           f"not in the logs (available: {sorted(logs)})") from None

    def _save(self, path, epoch, logs):
        from ..io import save, save_checkpoint
        if self.save_weights_only:
            save(self.model.state_dict(), path)
        else:
            save_checkpoint(path, self.model, self.optimizer, epoch=epoch + 1,
                            logs={k: float(v) for k, v in logs.items()})
        self.last_path = path

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self._path(epoch, logs)
        if not self.save_best_only:
            self._save(path, epoch, logs)
            if self.monitor in logs and self._better(logs[self.monitor], self.best):
                self.best, self.best_path = logs[self.monitor], path
            return
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"ModelCheckpoint: can save best model only with {self.monitor!r} "
                          f"in the logs (available: {sorted(logs)}); skipping")
            return
        if self._better(current, self.best):
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
            self._save(path, epoch, logs)
            self.best_path = path


class CSVLogger(Callback):
    """Append each epoch's logs as a CSV row (``epoch`` first, then the keys sorted)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None
        self._file = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        d = os.path.dirname(os.path.abspath(self.filename))
        os.makedirs(d, exist_ok=True)
        self._file = open(self.filename, "a" if self.append else "w", newline="",
                          encoding="utf-8")
        self._has_header = exists
        if exists:
            with open(self.filename, encoding="utf-8") as f:
                self.keys = next(csv.reader(f, delimiter=self.sep))[1:]
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.writer(self._file, delimiter=self.sep, lineterminator="\n")
            if not self._has_header:
                self._writer.writerow(["epoch"] + self.keys)
        self._writer.writerow([epoch] + [logs.get(k, "NA") for k in self.keys])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start to ``schedule(epoch, lr)`` (or ``schedule(epoch)``)."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.optimizer.param_groups[0]["lr"]
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        new = float(new)
        if not math.isfinite(new):
            raise ValueError(f"LearningRateScheduler: schedule returned {new} at epoch {epoch}")
        _set_lr(self.optimizer, new)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {new}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = self.optimizer.param_groups[0]["lr"]


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite, naming the batch."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self.message = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = logs.get("batch_loss", logs.get("loss"))
        if loss is not None and not math.isfinite(loss):
            self.message = (f"TerminateOnNaN: loss is {loss} at epoch {self._epoch + 1}, "
                            f"batch {batch + 1}; stopping training")
            self.stopped_epoch, self.stopped_batch = self._epoch, batch
            print(self.message, file=self.stream or sys.stderr)
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``."""

    def __init__(self, **hooks):
        super().__init__()
        from .base import HOOKS
        for name, fn in hooks.items():
            if name not in HOOKS:
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; known: {HOOKS}")
            setattr(self, name, fn)


class GradientMonitor(Callback):
    """Record each layer's gradient L2 norm every ``every`` steps (after backward).

    ``norms[layer]`` is the list of norms, ``steps`` the global steps they were taken at; a
    layer is a module path (``fc1`` for ``fc1.weight`` and ``fc1.bias``). Norms below
    ``vanish`` or above ``explode`` are counted in ``warnings`` and, with ``verbose``,
    reported once per layer. ``log_dir`` or ``writer`` also sends them to TensorBoard as
    ``grad_norm/<layer>``; ``log=True`` puts them in the batch logs.
    """

    def __init__(self, every=1, vanish=1e-7, explode=1e3, log_dir=None, writer=None,
                 log=False, verbose=0):
        super().__init__()
        self.every = every
        self.vanish, self.explode = vanish, explode
        self.log_dir, self.writer = log_dir, writer
        self.log = log
        self.verbose = verbose
        self.norms = {}
        self.steps = []
        self.warnings = []
        self._step = 0
        self._warned = set()

    def on_train_begin(self, logs=None):
        if self.writer is None and self.log_dir is not None:
            from .tensorboard import SummaryWriter
            self.writer = SummaryWriter(self.log_dir)
            self._owns_writer = True
        else:
            self._owns_writer = False

    def layer_norms(self):
        """{layer: L2 norm of all its parameters' gradients} for the current gradients."""
        from ..backend import get_array_module
        sq = {}
        for name, p in self.model.named_parameters():
            if p.grad is None:
                continue
            layer = name.rsplit(".", 1)[0] if "." in name else name
            g = p.grad._data
            xp = get_array_module(g)  # reduce on the device; only a scalar comes back
            g = g.astype(xp.float64)
            sq[layer] = sq.get(layer, 0.0) + float((g * g).sum())
        return {k: math.sqrt(v) for k, v in sq.items()}

    def on_after_backward(self, batch, logs=None):
        step = self._step
        self._step += 1
        if step % self.every:
            return
        norms = self.layer_norms()
        self.steps.append(step)
        for layer, n in norms.items():
            self.norms.setdefault(layer, []).append(n)
            kind = ("vanishing" if n < self.vanish else
                    "exploding" if n > self.explode or not math.isfinite(n) else None)
            if kind:
                self.warnings.append((step, layer, kind, n))
                if self.verbose and (layer, kind) not in self._warned:
                    self._warned.add((layer, kind))
                    print(f"GradientMonitor: {kind} gradient in {layer!r} at step {step} "
                          f"(L2 norm {n:.3e})", file=sys.stderr)
            if self.writer is not None:
                self.writer.add_scalar(f"grad_norm/{layer}", n, step)
            if self.log and logs is not None:
                logs[f"grad_norm/{layer}"] = n

    def summary(self):
        """{layer: (min, mean, max)} of the recorded norms."""
        return {k: (min(v), sum(v) / len(v), max(v)) for k, v in self.norms.items() if v}

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.flush()
            if self._owns_writer:
                self.writer.close()
                self.writer = None


class TensorBoard(Callback):
    """Write TensorBoard logs: epoch scalars (``log_dir/train``, ``log_dir/validation``),
    batch scalars every ``update_freq`` batches (``"epoch"`` turns them off), weight and
    gradient histograms every ``histogram_freq`` epochs, weight images (``write_images``)
    and, optionally, a grid of ``sample_images`` (N, [C,] H, W) at the start.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_images=False,
                 update_freq="epoch", write_grads=True, sample_images=None):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_images = write_images
        self.update_freq = update_freq
        self.write_grads = write_grads
        self.sample_images = sample_images
        self._writers = {}
        self._step = 0

    def writer(self, kind):
        from .tensorboard import SummaryWriter
        if kind not in self._writers:
            self._writers[kind] = SummaryWriter(os.path.join(self.log_dir, kind))
        return self._writers[kind]

    def on_train_begin(self, logs=None):
        self._step = 0
        if self.sample_images is not None:
            from .tensorboard import make_grid
            self.writer("train").add_image("samples", make_grid(self.sample_images), 0,
                                           dataformats="HWC")

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        freq = self.update_freq
        if freq == "epoch" or not logs:
            return
        every = 1 if freq == "batch" else int(freq)
        if self._step % every == 0:
            w = self.writer("train")
            for k, v in logs.items():
                # "batch_loss" is this batch's loss; "loss" (the epoch's running mean) is
                # left to the epoch scalars; metrics are running values, as Keras logs them.
                if k in ("size", "loss") or not isinstance(v, (int, float)):
                    continue
                w.add_scalar(k if k.startswith("batch_") else f"batch_{k}", v, self._step)

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            if not isinstance(v, (int, float, np.floating)):
                continue
            if k.startswith("val_"):
                self.writer("validation").add_scalar(f"epoch_{k[4:]}", v, epoch)
            else:
                self.writer("train").add_scalar(f"epoch_{k}", v, epoch)
        if self.histogram_freq and (epoch + 1) % self.histogram_freq == 0:
            self._histograms(epoch)
        if self.write_images:
            self._weight_images(epoch)
        for w in self._writers.values():
            w.flush()

    def _histograms(self, epoch):
        w = self.writer("train")
        for name, p in self.model.named_parameters():
            w.add_histogram(name, p.detach(), epoch)
            if self.write_grads and p.grad is not None:
                w.add_histogram(f"{name}/grad", p.grad, epoch)

    def _weight_images(self, epoch):
        w = self.writer("train")
        for name, p in self.model.named_parameters():
            a = np.asarray(p.detach()).astype(np.float64)
            if a.ndim < 2:
                continue
            a = a.reshape(a.shape[0], -1)
            lo, hi = a.min(), a.max()
            a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
            w.add_image(f"{name}/image", a, epoch, dataformats="HW")

    def on_train_end(self, logs=None):
        for w in self._writers.values():
            w.close()
        self._writers = {}
