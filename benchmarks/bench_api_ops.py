"""Forward + backward of the ops added for torch API coverage, against the same torch calls.

One line per op (``narae X, torch Y, ratio``), interleaved rounds, one thread. No targets:
these ops are not on a training hot path of the zoo; the figures say where narae stands
(einsum and the linalg ops lean on BLAS/LAPACK through NumPy, grid_sample and CTC are
vectorised gathers, conv3d is an N-d im2col + GEMM).
"""
import numpy as np
import torch

import narae as nr
from harness import compare, report

RNG = np.random.default_rng(0)


def _pair(*shape, spd=False):
    a = RNG.standard_normal(shape).astype(np.float32)
    if spd:  # well-conditioned symmetric positive definite batches
        a = a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1], dtype=np.float32)
    return nr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _fwd_bwd(fn, *tensors):
    def run():
        for t in tensors:
            t.grad = None
        out = fn(*tensors)
        out = out[0] if isinstance(out, tuple) else out
        out.square().sum().backward()
    return run


CASES = [
    ("einsum bij,bjk->bik (64x64x64, batch 32)", lambda m, a, b: m.einsum("bij,bjk->bik", a, b),
     ((32, 64, 64), (32, 64, 64)), {}),
    ("einsum ij,jk,kl->il (128^2)", lambda m, a, b, c: m.einsum("ij,jk,kl->il", a, b, c),
     ((128, 128), (128, 128), (128, 128)), {}),
    ("linalg.cholesky (64 of 32x32)", lambda m, a: m.linalg.cholesky(a), ((64, 32, 32),),
     {"spd": True}),
    ("linalg.solve (64 of 32x32)", lambda m, a, b: m.linalg.solve(a, b),
     ((64, 32, 32), (64, 32, 4)), {"spd": True}),
    ("linalg.eigh (64 of 32x32)", lambda m, a: m.linalg.eigh(a)[0], ((64, 32, 32),),
     {"spd": True}),
    ("logcumsumexp (256x512, dim 1)", lambda m, a: m.logcumsumexp(a, 1), ((256, 512),), {}),
    ("quantile q=0.3 (256x512, dim 1)", lambda m, a: m.quantile(a, 0.3, dim=1),
     ((256, 512),), {}),
    ("grid_sample bilinear (8x16x32x32)",
     lambda m, x, g: m.nn.functional.grid_sample(x, g.tanh(), align_corners=False),
     ((8, 16, 32, 32), (8, 32, 32, 2)), {}),
    ("conv3d 8->16, 3^3, (4, 8, 16^3)",
     lambda m, x, w: m.nn.functional.conv3d(x, w, padding=1), ((4, 8, 16, 16, 16),
                                                                (16, 8, 3, 3, 3)), {}),
    ("F.unfold 3x3 (16x32x32x32)", lambda m, x: m.nn.functional.unfold(x, 3, padding=1),
     ((16, 32, 32, 32),), {}),
]


def main():
    torch.set_num_threads(1)
    for name, fn, shapes, kw in CASES:
        pairs = [_pair(*s, spd=kw.get("spd", False) and i == 0) for i, s in enumerate(shapes)]
        ours = _fwd_bwd(lambda *t: fn(nr, *t), *[p[0] for p in pairs])
        theirs = _fwd_bwd(lambda *t: fn(torch, *t), *[p[1] for p in pairs])
        report(name, *compare(ours, theirs, rounds=7, threads=1))


if __name__ == "__main__":
    main()
