"""Per-op overhead: forward + backward of a chain of 200 elementwise ops on a 16-element tensor."""
import numpy as np
import torch

import narae as nr
from harness import compare, report


def chain(m, x):
    y = x
    for i in range(50):
        y = y * 1.01
        y = y + 0.1
        y = m.tanh(y)
        y = y - x
    return y.sum()


def main():
    a = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    xn = nr.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)

    def ours():
        xn.grad = None
        chain(nr, xn).backward()

    def theirs():
        xt.grad = None
        chain(torch, xt).backward()

    ours()
    theirs()
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    report("200-op elementwise chain fwd+bwd (16 elems)", *compare(ours, theirs, threads=1),
           target=1.5)


if __name__ == "__main__":
    main()
