"""``GradScaler``: dynamic loss scaling for float16 training, as torch.amp.GradScaler.

float16 gradients underflow to zero below ~6e-8. Multiplying the loss by a large scale lifts
them into range; the float32 gradients are divided by it again before the optimizer step.
When a step's gradients hold inf/NaN the scale was too large: the step is skipped and the
scale shrinks (``backoff_factor``); after ``growth_interval`` clean steps it grows again.

On the CPU the scale is kept as a Python float holding a float32 value and updated with
torch's float32 arithmetic, so scale trajectories match torch's exactly. On the GPU the scale,
the growth tracker and the inf flags live in device memory and are updated by device ops
("device mode"), and optimizers with a fused update take the inf flag as an argument and skip
the step on the device: nothing reads back to the host, so a whole float16 training step,
loss scaling included, can be captured by ``narae.compile``.
"""
import warnings
from collections import abc, defaultdict

import numpy as np

from ..backend import get_array_module, gpu_available
from ..tensor import Tensor

__all__ = ["GradScaler"]

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


def _fresh_state():
    return {"stage": _READY, "found_inf": None}


def _f32(v):
    return float(np.float32(v))


class GradScaler:
    """Scale the loss, unscale the gradients, skip steps with inf/NaN gradients.

    Usage, as in torch::

        scaler = narae.amp.GradScaler("cuda")
        with narae.amp.autocast("cuda"):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)      # unscales, then steps unless a gradient is inf/NaN
        scaler.update()

    With ``enabled=False`` every method is a pass-through.
    """

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000, enabled=True):
        self._device = str(device)
        self._enabled = bool(enabled)
        if self._enabled and self._device == "cuda" and not gpu_available():
            warnings.warn("GradScaler is enabled, but CUDA is not available.  Disabling.",
                          UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
        self._init_scale = float(init_scale)
        self._scale = None            # float32 value, set at the first scale()
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._init_growth_tracker = 0
        self._growth_tracker = None   # clean steps since the last change of scale
        self._per_optimizer_states = defaultdict(_fresh_state)
        self._dev = None              # device mode: (xp, scale 0-d f32, growth tracker 0-d i32)

    # -- device mode ----------------------------------------------------------------------
    def _start_device_mode(self, xp):
        scale = self._init_scale if self._scale is None else self._scale
        tracker = self._init_growth_tracker if self._growth_tracker is None else \
            self._growth_tracker
        self._dev = (xp, xp.asarray(scale, dtype=np.float32), xp.asarray(tracker, np.int32))

    def _unscale_on_device(self, optimizer):
        """In place ``g *= 1 / scale`` and a device flag (0-d float32) of any inf/NaN."""
        xp, scale, _ = self._dev
        inv = (1.0 / scale.astype(np.float64)).astype(np.float32)
        found = xp.zeros((), np.float32)
        for group in optimizer.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g._data.dtype == np.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                bad = xp.logical_not(xp.isfinite(g._data)).any().astype(np.float32)
                xp.maximum(found, bad, out=found)
                g._data *= inv.astype(g._data.dtype)
                g._version[0] += 1
        return found

    def _update_on_device(self, found):
        xp, scale, tracker = self._dev
        clean = tracker + 1
        grow = xp.logical_and(found == 0, clean == self._growth_interval)
        grown = scale * np.float32(self._growth_factor)
        grown = xp.where(xp.isfinite(grown), grown, scale)
        new = xp.where(found != 0, scale * np.float32(self._backoff_factor),
                       xp.where(grow, grown, scale))
        scale[...] = new.astype(np.float32)
        tracker[...] = xp.where(xp.logical_or(found != 0, grow), 0, clean).astype(np.int32)

    # -- scaling the loss -----------------------------------------------------------------
    def scale(self, outputs):
        """``outputs`` (a Tensor, or nested lists/tuples of them) times the scale."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale = _f32(self._init_scale)
            self._growth_tracker = self._init_growth_tracker
        if isinstance(outputs, Tensor):
            xp = get_array_module(outputs._data)
            if self._dev is None and xp is not np:
                self._start_device_mode(xp)
            if self._dev is not None:
                return outputs * Tensor(self._dev[1])
            return outputs * self._scale_tensor(outputs)
        if isinstance(outputs, abc.Iterable):
            scaled = map(self.scale, outputs)
            return type(outputs)(scaled) if isinstance(outputs, (list, tuple)) else scaled
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _scale_tensor(self, like):
        """The scale as a 0-d float32 tensor on ``like``'s device: a float16 loss times it
        is float32 (torch's promotion), so the scaled loss cannot overflow."""
        xp = get_array_module(like._data)
        return Tensor(xp.asarray(self._scale, dtype=np.float32))

    def _check_started(self, what):
        if self._scale is None:
            raise RuntimeError(f"Attempted {what} but the scale is not set. This may indicate "
                               "your script did not use scaler.scale(loss or outputs) earlier "
                               "in the iteration.")

    # -- unscaling the gradients ----------------------------------------------------------
    def unscale_(self, optimizer):
        """Divide ``optimizer``'s gradients by the scale in place and record whether any of
        them is inf/NaN. At most once per optimizer between two ``update()`` calls."""
        if not self._enabled:
            return
        self._check_started("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since "
                               "the last update().")
        if state["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        if self._dev is not None:
            state["found_inf"] = self._unscale_on_device(optimizer)
            state["stage"] = _UNSCALED
            return
        inv_scale = _f32(1.0 / np.float64(self._scale))  # torch: double reciprocal, as float
        found = None  # stays None when the optimizer has no gradients at all
        for group in optimizer.param_groups:
            grads = [p.grad for p in group["params"] if p.grad is not None]
            for g in grads:
                if g._data.dtype == np.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
            if grads:
                found = max(found or 0.0, 1.0 if _unscale_group(grads, inv_scale) else 0.0)
        state["found_inf"] = found
        state["stage"] = _UNSCALED

    # -- the optimizer step ---------------------------------------------------------------
    def step(self, optimizer, *args, **kwargs):
        """Unscale (unless done already) and run ``optimizer.step`` unless a gradient was
        inf/NaN. Returns what ``optimizer.step`` returned, or None when skipped."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        self._check_started("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        if state["found_inf"] is None:
            raise RuntimeError("No inf checks were recorded for this optimizer.")
        retval = None
        if self._dev is not None and getattr(optimizer, "_step_supports_amp_scaling", False):
            # the optimizer skips on the device when the flag is set: no host read
            retval = optimizer.step(*args, found_inf=state["found_inf"], **kwargs)
        elif not state["found_inf"]:
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return retval

    # -- adapting the scale ---------------------------------------------------------------
    def update(self, new_scale=None):
        """Back off after an inf/NaN step, grow after ``growth_interval`` clean steps (or set
        ``new_scale``); then start a new iteration for every optimizer."""
        if not self._enabled:
            return
        self._check_started("update")
        if new_scale is not None:
            if isinstance(new_scale, Tensor):
                if new_scale._data.size != 1 or new_scale.requires_grad:
                    raise ValueError("new_scale should be a float or a 1-element tensor with "
                                     "requires_grad=False.")
                new_scale = new_scale.item()
            self._scale = _f32(new_scale)
            if self._dev is not None:
                self._dev[1][...] = self._scale
        elif self._dev is not None:
            found = [s["found_inf"] for s in self._per_optimizer_states.values()
                     if s["found_inf"] is not None]
            if not found:
                raise RuntimeError("No inf checks were recorded prior to update.")
            total = found[0]
            for f in found[1:]:
                total = total + f
            self._update_on_device(total)
        else:
            found = [s["found_inf"] for s in self._per_optimizer_states.values()
                     if s["found_inf"] is not None]
            if not found:
                raise RuntimeError("No inf checks were recorded prior to update.")
            if sum(found):
                self._scale = _f32(self._scale * self._backoff_factor)
                self._growth_tracker = 0
            else:
                clean = self._growth_tracker + 1
                if clean == self._growth_interval:
                    with np.errstate(over="ignore"):
                        grown = np.float32(self._scale * self._growth_factor)
                    if np.isfinite(grown):
                        self._scale = float(grown)
                    clean = 0
                self._growth_tracker = clean
        self._per_optimizer_states = defaultdict(_fresh_state)

    # -- getters, setters, checkpoints ----------------------------------------------------
    def get_scale(self):
        if not self._enabled:
            return 1.0
        if self._dev is not None:
            return float(self._dev[1])          # a host read: not inside a captured step
        return self._init_scale if self._scale is None else self._scale

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = int(new_interval)

    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        if self._dev is not None:
            return int(self._dev[2])
        return self._init_growth_tracker if self._growth_tracker is None else \
            self._growth_tracker

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = _f32(state_dict["scale"])
        if self._dev is not None:
            self._dev[1][...] = _f32(state_dict["scale"])
            self._dev[2][...] = int(state_dict["_growth_tracker"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker = self._init_growth_tracker

    def __getstate__(self):
        if self._enabled and self._per_optimizer_states:
            raise RuntimeError("A GradScaler instance may only be pickled at the beginning of "
                               "an iteration, or at the end after scaler.update().")
        return self.__dict__.copy()


def _unscale_group(grads, inv_scale):
    """Multiply each gradient by ``inv_scale`` in place; True if any held inf/NaN.

    The finiteness flags stay on the device and are combined into one value per array
    module, so a CuPy group costs one host transfer, not one per parameter.
    """
    by_module = defaultdict(list)
    for g in grads:
        by_module[get_array_module(g._data)].append(g)
    found = False
    for xp, group in by_module.items():
        flags = [xp.isfinite(g._data).all() for g in group]  # checked before scaling
        for g in group:
            g._data *= inv_scale
            g._version[0] += 1
        if not bool(xp.stack(flags).all()):
            found = True
    return found
