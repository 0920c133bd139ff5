"""Interleaved timing of a narae step against the same PyTorch step, in one process.

The machines are shared and noisy, so the two are alternated round by round and the
median per-round time of each is compared. Every script prints one line:
``<name>: narae X ms, torch Y ms, ratio X/Y``.
"""
import statistics
import time

import torch

__all__ = ["compare", "report"]


def _time(fn, inner):
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def compare(ours, theirs, rounds=15, inner=None, warmup=3, threads=None):
    """Median seconds per call of ``ours`` and ``theirs``, alternating rounds."""
    if threads is not None:
        torch.set_num_threads(threads)
    for _ in range(warmup):
        ours()
        theirs()
    if inner is None:  # aim for ~50 ms per round
        one = max(_time(ours, 1), 1e-6)
        inner = max(1, min(1000, int(0.05 / one)))
    a, b = [], []
    for r in range(rounds):
        if r % 2:
            b.append(_time(theirs, inner))
            a.append(_time(ours, inner))
        else:
            a.append(_time(ours, inner))
            b.append(_time(theirs, inner))
    return statistics.median(a), statistics.median(b)


def report(name, ours_s, theirs_s, target=None):
    ratio = ours_s / theirs_s
    unit, scale = ("ms", 1e3) if max(ours_s, theirs_s) >= 1e-3 else ("us", 1e6)
    line = (f"{name}: narae {ours_s * scale:.3f} {unit}, torch {theirs_s * scale:.3f} {unit}, "
            f"ratio {ratio:.2f}")
    if target is not None:
        line += f" (target <= {target})"
    print(line, flush=True)
    return ratio
