"""A small MNIST-size CNN, forward + backward, narae vs torch (same weights), plus each conv alone.

conv5x5(1->32, pad 2)-ReLU-maxpool2-conv5x5(32->64, pad 2)-ReLU-maxpool2-flatten-
linear(3136->1024)-ReLU-linear(1024->10) on a batch of 64 1x28x28 images.

    python benchmarks/bench_cnn.py [--threads N]    (default 1: the same for NumPy's BLAS and torch)

The time is mostly GEMMs (conv forward, input and weight gradients, the linear layers), so it
follows the BLAS kernels NumPy's OpenBLAS picked (printed on the first line).
"""
import argparse
import os
import sys


def _threads():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args().threads


THREADS = _threads()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)  # before NumPy loads its BLAS

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import narae as nr  # noqa: E402
import narae.nn.functional as F  # noqa: E402
from harness import compare, report  # noqa: E402

RNG = np.random.default_rng(0)


def _params():
    def w(*shape):
        fan_in = int(np.prod(shape[1:]))
        return (RNG.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
    return [w(32, 1, 5, 5), np.zeros(32, np.float32), w(64, 32, 5, 5), np.zeros(64, np.float32),
            w(1024, 3136), np.zeros(1024, np.float32), w(10, 1024), np.zeros(10, np.float32)]


def net(f, x, p):
    """The same expression for both libraries (f is torch.nn.functional or narae's)."""
    y = f.max_pool2d(f.relu(f.conv2d(x, p[0], p[1], padding=2)), 2)
    y = f.max_pool2d(f.relu(f.conv2d(y, p[2], p[3], padding=2)), 2)
    y = y.reshape(y.shape[0], -1)
    y = f.relu(f.linear(y, p[4], p[5]))
    return f.linear(y, p[6], p[7])


def _loss(f, logits, labels, probe):
    """Cross-entropy when narae has it, else a fixed random projection of the logits."""
    if hasattr(F, "cross_entropy"):
        return f.cross_entropy(logits, labels)
    return (logits * probe).sum()


def _step(lib, f, x, params, labels, probe):
    def step():
        for p in params:
            p.grad = None
        _loss(f, net(f, x, params), labels, probe).backward()
    return step


def _conv_step(lib, f, x, w, b, probe):
    def step():
        for t in (x, w, b):
            t.grad = None
        (f.conv2d(x, w, b, padding=2) * probe).sum().backward()
    return step


def _blas_arch():
    """OpenBLAS picks its kernels by CPU; on some AVX-512 CPUs it falls back to 'Haswell'
    (AVX2) and GEMMs run at about half speed: OPENBLAS_CORETYPE=SkylakeX selects AVX-512."""
    try:
        import threadpoolctl
        return ", ".join(str(i.get("architecture")) for i in threadpoolctl.threadpool_info()
                         if i.get("user_api") == "blas") or "unknown"
    except ImportError:
        return "unknown"


def main():
    torch.set_num_threads(THREADS)
    xa = RNG.standard_normal((64, 1, 28, 28)).astype(np.float32)
    probe_a = RNG.standard_normal((64, 10)).astype(np.float32)
    pa = _params()
    pn = [nr.tensor(a, requires_grad=True) for a in pa]
    pt = [torch.tensor(a, requires_grad=True) for a in pa]
    xn, xt = nr.tensor(xa), torch.tensor(xa)
    labels = RNG.integers(0, 10, 64)
    ours = _step(nr, F, xn, pn, nr.tensor(labels), nr.tensor(probe_a))
    theirs = _step(torch, torch.nn.functional, xt, pt, torch.tensor(labels),
                   torch.tensor(probe_a))
    ours()
    theirs()
    for a, b in zip(pn, pt):  # same weights, same gradients
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=2e-3, atol=2e-4)
    loss = "cross_entropy" if hasattr(F, "cross_entropy") else "(logits * probe).sum()"
    print(f"threads: {THREADS}, NumPy BLAS kernels: {_blas_arch()}, loss: {loss}")
    report("CNN step fwd+bwd (batch 64, 1x28x28)", *compare(ours, theirs, rounds=9), target=1.5)

    for name, xs, ws in [("conv1 5x5 1->32 on 28x28", (64, 1, 28, 28), (32, 1, 5, 5)),
                         ("conv2 5x5 32->64 on 14x14", (64, 32, 14, 14), (64, 32, 5, 5))]:
        a = RNG.standard_normal(xs).astype(np.float32)
        wa = (RNG.standard_normal(ws) * 0.1).astype(np.float32)
        ba = np.zeros(ws[0], np.float32)
        probe = RNG.standard_normal((xs[0], ws[0]) + xs[2:]).astype(np.float32)
        grad_x = xs[1] > 1  # the first layer's input is the data: no gradient, as in the net
        tn = [nr.tensor(a, requires_grad=grad_x), nr.tensor(wa, requires_grad=True),
              nr.tensor(ba, requires_grad=True)]
        tt = [torch.tensor(a, requires_grad=grad_x), torch.tensor(wa, requires_grad=True),
              torch.tensor(ba, requires_grad=True)]
        report(f"{name} fwd+bwd", *compare(_conv_step(nr, F, *tn, nr.tensor(probe)),
                                           _conv_step(torch, torch.nn.functional, *tt,
                                                      torch.tensor(probe)), rounds=9))


if __name__ == "__main__":
    main()
