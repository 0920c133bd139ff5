"""Training checkpoints: model + optimizer (+ scheduler) state, epoch and extras in one file.

The file is a ``.safetensors`` written by ``narae.io.save`` (tensors as safetensors entries,
the rest as JSON metadata), written atomically so an interrupted save keeps the last good one.

    save_checkpoint("ck.safetensors", model, opt, epoch=5, best_acc=0.97)
    info = load_checkpoint("ck.safetensors", model, opt)   # info["epoch"] == 5
"""
from . import state as _state

__all__ = ["save_checkpoint", "load_checkpoint"]


def save_checkpoint(path, model, optimizer=None, epoch=None, *, scheduler=None, rng=True,
                    **extra):
    """Save ``model.state_dict()`` and, if given, optimizer/scheduler state and extras.

    ``extra`` values may be numbers, strings, lists, dicts or tensors (e.g. a config dict).
    ``rng=True`` also stores narae's random state so a resumed run shuffles the same way.
    """
    ckpt = {"model": model.state_dict(), "epoch": epoch, "extra": extra}
    if optimizer is not None:
        ckpt["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        ckpt["scheduler"] = scheduler.state_dict()
    if rng:
        from ..random import get_rng_state
        ckpt["rng"] = get_rng_state()
    _state.save(ckpt, path, metadata={"narae.kind": "checkpoint"})


def load_checkpoint(path, model=None, optimizer=None, *, scheduler=None, strict=True,
                    device="cpu", restore_rng=False):
    """Load a checkpoint into ``model``/``optimizer``/``scheduler``; return the whole dict.

    The returned dict has ``model``, ``epoch``, ``extra`` (and ``optimizer``, ``scheduler``,
    ``rng`` when saved), so callers can read ``ckpt["epoch"]`` to resume.
    """
    ckpt = _state.load(path, device=device)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        # A bare state dict saved with save_file/save(model.state_dict()) still loads.
        ckpt = {"model": ckpt, "epoch": None, "extra": {}}
    if model is not None:
        model.load_state_dict(ckpt["model"], strict=strict)
    if optimizer is not None:
        if "optimizer" not in ckpt:
            raise ValueError(f"load_checkpoint: {path!r} holds no optimizer state")
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None:
        if "scheduler" not in ckpt:
            raise ValueError(f"load_checkpoint: {path!r} holds no scheduler state")
        scheduler.load_state_dict(ckpt["scheduler"])
    if restore_rng and "rng" in ckpt:
        from ..random import set_rng_state
        set_rng_state(ckpt["rng"])
    return ckpt
