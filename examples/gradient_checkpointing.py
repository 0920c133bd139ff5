"""Gradient checkpointing: the memory of a deep network's activations for a second forward.

Backward needs every intermediate activation, so a deep network holds all of them at once.
``narae.utils.checkpoint`` keeps only each segment's input and recomputes the inside during
backward (Chen et al. 2016: sqrt(n) segments give O(sqrt(n)) memory for one more forward).
The script measures the peak memory that NumPy allocates (``tracemalloc``) and the time of a
training step for a 32-block MLP with and without checkpointing, and checks that the
gradients are the same.

    python examples/gradient_checkpointing.py
"""
import argparse
import time
import tracemalloc

import numpy as np

import narae as nr
import narae.nn as nn
from narae.utils.checkpoint import checkpoint_sequential


def step(model, x, segments):
    out = checkpoint_sequential(model, segments, x) if segments else model(x)
    (out ** 2).mean().backward()


def measure(model, x, segments):
    """Peak memory allocated during one step above what was held before it, and its time."""
    model.zero_grad(set_to_none=False)  # gradient arrays exist before: not counted
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    step(model, x, segments)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return [p.grad.numpy().copy() for p in model.parameters()], peak, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=32)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1024)
    args = ap.parse_args()
    nr.manual_seed(0)
    layers = []
    for _ in range(args.blocks):
        layers += [nn.Linear(args.width, args.width), nn.Tanh()]
    model = nn.Sequential(*layers)
    x = nr.randn(args.batch, args.width)
    measure(model, x, 0)  # warm up
    plain, peak_plain, t_plain = measure(model, x, 0)
    print(f"no checkpointing:      peak {peak_plain / 2**20:7.1f} MiB, step {t_plain * 1e3:6.0f} ms")
    for segments in (2, int(np.sqrt(2 * args.blocks)), args.blocks // 2):
        grads, peak, t = measure(model, x, segments)
        same = max(float(np.abs(a - b).max()) for a, b in zip(plain, grads))
        print(f"{segments:2d} checkpointed segments: peak {peak / 2**20:7.1f} MiB, step "
              f"{t * 1e3:6.0f} ms, max |gradient difference| {same:.1e}")


if __name__ == "__main__":
    main()
