"""Forward + backward of the ops added for torch API coverage, against the same torch calls.

One line per op (``narae X, torch Y, ratio``), interleaved rounds, one thread on both sides
(torch's intra-op threads and NumPy's BLAS, set before NumPy loads). No targets: these ops are
not on a training hot path of the zoo; the figures say where narae stands (einsum and the
linalg ops lean on BLAS/LAPACK, grid_sample and CTC are vectorised gathers, conv3d is an N-d
im2col + GEMM). ``python bench_api_ops.py grid conv3d`` runs only the cases whose names
contain one of the words.
"""
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its BLAS: a 2-thread BLAS on a shared
    # machine against a 1-thread torch is neither fair nor stable

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import narae as nr  # noqa: E402
from harness import compare, report  # noqa: E402

RNG = np.random.default_rng(0)


def _spd(*shape):
    """Well-conditioned symmetric positive definite batches."""
    a = RNG.standard_normal(shape).astype(np.float32)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1], dtype=np.float32)


def _lower(*shape):
    """Well-conditioned lower-triangular batches (a dominant diagonal)."""
    a = np.tril(RNG.standard_normal(shape).astype(np.float32)) / shape[-1]
    return a + np.eye(shape[-1], dtype=np.float32) * 2


def _ints(low, high, *shape):
    return lambda: RNG.integers(low, high, shape)


def _make(spec):
    """A float spec (a shape) becomes a normal sample; a callable makes its own array."""
    return spec() if callable(spec) else RNG.standard_normal(spec).astype(np.float32)


def _pair(a):
    floating = a.dtype.kind == "f"
    return nr.tensor(a, requires_grad=floating), torch.tensor(a, requires_grad=floating)


def _fwd_bwd(fn, *tensors):
    def run():
        for t in tensors:
            t.grad = None
        out = fn(*tensors)
        out = out[0] if isinstance(out, tuple) else out
        out.square().sum().backward()
    return run


def _F(m):
    return m.nn.functional


def _ctc(m, lp, tg, il, tl):
    return _F(m).ctc_loss(lp.log_softmax(2), tg, il, tl)


CASES = [
    ("einsum bij,bjk->bik (64x64x64, batch 32)", lambda m, a, b: m.einsum("bij,bjk->bik", a, b),
     ((32, 64, 64), (32, 64, 64))),
    ("einsum ij,jk,kl->il (128^2)", lambda m, a, b, c: m.einsum("ij,jk,kl->il", a, b, c),
     ((128, 128), (128, 128), (128, 128))),
    ("linalg.cholesky (64 of 32x32)", lambda m, a: m.linalg.cholesky(a),
     (lambda: _spd(64, 32, 32),)),
    ("linalg.solve (64 of 32x32)", lambda m, a, b: m.linalg.solve(a, b),
     (lambda: _spd(64, 32, 32), (64, 32, 4))),
    ("linalg.solve_triangular (64 of 32x32, 4 rhs)",
     lambda m, a, b: m.linalg.solve_triangular(a, b, upper=False),
     (lambda: _lower(64, 32, 32), (64, 32, 4))),
    ("linalg.lu (64 of 32x32)", lambda m, a: (lambda r: r[1] + r[2])(m.linalg.lu(a)),
     ((64, 32, 32),)),
    ("linalg.eigh (64 of 32x32)", lambda m, a: m.linalg.eigh(a)[0],
     (lambda: _spd(64, 32, 32),)),
    ("logcumsumexp (256x512, dim 1)", lambda m, a: m.logcumsumexp(a, 1), ((256, 512),)),
    ("quantile q=0.3 (256x512, dim 1)", lambda m, a: m.quantile(a, 0.3, dim=1), ((256, 512),)),
    ("grid_sample bilinear (8x16x32x32)",
     lambda m, x, g: _F(m).grid_sample(x, g.tanh(), align_corners=False),
     ((8, 16, 32, 32), (8, 32, 32, 2))),
    ("conv3d 8->16, 3^3, (4, 8, 16^3)", lambda m, x, w: _F(m).conv3d(x, w, padding=1),
     ((4, 8, 16, 16, 16), (16, 8, 3, 3, 3))),
    ("conv_transpose3d 16->8, 3^3, stride 2 (4, 16, 8^3)",
     lambda m, x, w: _F(m).conv_transpose3d(x, w, stride=2, padding=1),
     ((4, 16, 8, 8, 8), (16, 8, 3, 3, 3))),
    ("conv2d 32->32, 3x3 (8, 32, 32^2)", lambda m, x, w: _F(m).conv2d(x, w, padding=1),
     ((8, 32, 32, 32), (32, 32, 3, 3))),
    ("F.unfold 3x3 (16x32x32x32)", lambda m, x: _F(m).unfold(x, 3, padding=1),
     ((16, 32, 32, 32),)),
    ("F.fold 3x3 (16x288x1024 -> 32x32)", lambda m, c: _F(m).fold(c, (32, 32), 3, padding=1),
     ((16, 288, 1024),)),
    ("max_pool3d 3, stride 2 (4x16x16^3)",
     lambda m, x: _F(m).max_pool3d(x, 3, stride=2, padding=1), ((4, 16, 16, 16, 16),)),
    ("avg_pool3d 2 (4x16x16^3)", lambda m, x: _F(m).avg_pool3d(x, 2), ((4, 16, 16, 16, 16),)),
    ("adaptive_max_pool2d 7 (8x32x30x30)", lambda m, x: _F(m).adaptive_max_pool2d(x, 7),
     ((8, 32, 30, 30),)),
    ("interpolate bilinear x2 (8x16x32x32)",
     lambda m, x: _F(m).interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
     ((8, 16, 32, 32),)),
    ("interpolate nearest x2 (8x16x32x32)",
     lambda m, x: _F(m).interpolate(x, scale_factor=2, mode="nearest"), ((8, 16, 32, 32),)),
    ("embedding_bag mean (1000x64, 256 bags of 20)",
     lambda m, i, w: _F(m).embedding_bag(i, w, mode="mean"),
     (_ints(0, 1000, 256, 20), (1000, 64))),
    ("ctc_loss (T=50, N=16, C=20, S=10)", _ctc,
     ((50, 16, 20), _ints(1, 20, 16, 10), lambda: np.full(16, 50), _ints(5, 11, 16))),
    ("cdist p=2 (8x256x32, 8x256x32)", lambda m, a, b: m.cdist(a, b),
     ((8, 256, 32), (8, 256, 32))),
    ("cdist p=1 (4x128x16, 4x128x16)", lambda m, a, b: m.cdist(a, b, p=1),
     ((4, 128, 16), (4, 128, 16))),
    ("pdist p=2 (256x32)", lambda m, a: _F(m).pdist(a), ((256, 32),)),
]


def main(keys=()):
    torch.set_num_threads(1)
    for name, fn, specs in CASES:
        if keys and not any(k in name for k in keys):
            continue
        pairs = [_pair(_make(s)) for s in specs]
        ours = _fwd_bwd(lambda *t: fn(nr, *t), *[p[0] for p in pairs])
        theirs = _fwd_bwd(lambda *t: fn(torch, *t), *[p[1] for p in pairs])
        report(name, *compare(ours, theirs, rounds=7, threads=1))


if __name__ == "__main__":
    main(sys.argv[1:])
