"""Automatic mixed precision, as torch.amp: ``autocast`` regions run GEMM-like ops in float16
or bfloat16 and accuracy-sensitive ops in float32; ``GradScaler`` scales the loss so that
float16 gradients do not underflow, and skips steps whose gradients overflowed.

    scaler = narae.amp.GradScaler("cuda")
    with narae.amp.autocast("cuda"):           # float16 by default on cuda
        loss = loss_fn(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()

    with narae.amp.autocast("cpu"):            # bfloat16 by default on cpu (needs ml_dtypes);
        loss = loss_fn(model(x), y)            # bfloat16 needs no GradScaler
    loss.backward()
"""
from .autocast_mode import (autocast, is_autocast_enabled, get_autocast_dtype,
                       is_autocast_cache_enabled, clear_autocast_cache)
from .grad_scaler import GradScaler
from . import policy  # registers the op policies

__all__ = ["autocast", "GradScaler", "is_autocast_enabled", "get_autocast_dtype",
           "is_autocast_cache_enabled", "clear_autocast_cache", "policy"]
