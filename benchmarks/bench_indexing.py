"""Per-time-step slicing: ``sum(tanh(x[:, t]) for t in range(T))`` forward + backward.

x is (32, T=100, 256). Every slice's backward would naively allocate a full-size zero
gradient (torch does); narae's slices return a SparseGrad that the engine scatters into one
buffer, so the backward costs the size of the slices, not T full-size tensors.
"""
import numpy as np
import torch

import narae as nr
from harness import compare, report

B, T, H = 32, 100, 256


def loop(m, x):
    return sum(m.tanh(x[:, t]) for t in range(T)).sum()


def main():
    a = np.random.default_rng(0).standard_normal((B, T, H)).astype(np.float32)
    xn = nr.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)

    def ours():
        xn.grad = None
        loop(nr, xn).backward()

    def theirs():
        xt.grad = None
        loop(torch, xt).backward()

    ours()
    theirs()
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    report(f"x[:, t] loop over T={T} of ({B}, {T}, {H}), tanh, fwd+bwd", *compare(
        ours, theirs, rounds=9, threads=1), target=1.0)


if __name__ == "__main__":
    main()
