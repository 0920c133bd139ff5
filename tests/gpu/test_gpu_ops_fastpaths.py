"""The ops whose CPU code got faster array paths (SciPy loops, GEMM resampling, fused
gathers, depth-split 3-D convolutions) still equal the CPU on the GPU, where they take
their device branches: triangular solves, Cholesky and LU, cdist (matmul and L1), fused
embedding bags, interpolate's taps, CTC's recursions, grid_sample's scatter, conv3d."""
import numpy as np
import pytest

import narae as nr
import narae.nn.functional as F
from test_gpu_ops import Case, randn, ints, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu


def _lower(*shape):
    n = shape[-1]
    return np.tril(randn(*shape)) / n + 2 * np.eye(n)


def _spd(x):
    n = x.shape[-1]
    return x @ x.mT + n * nr.eye(n, dtype=x.dtype, device=x.device)


CASES = [
    Case("solve_triangular_lower", lambda a, b: nr.linalg.solve_triangular(a, b, upper=False),
         _lower(3, 4, 4), randn(3, 4, 2)),
    Case("solve_triangular_upper_right_unit",
         lambda a, b: nr.linalg.solve_triangular(a, b, upper=True, left=False,
                                                 unitriangular=True),
         _lower(4, 4).T.copy(), randn(2, 3, 4)),
    Case("solve_triangular_many_small", lambda a, b: nr.linalg.solve_triangular(a, b,
                                                                               upper=True),
         _lower(40, 3, 3).transpose(0, 2, 1).copy(), randn(40, 3, 2)),
    Case("cholesky", lambda x: nr.linalg.cholesky(_spd(x)), randn(3, 4, 4), atol=1e-4),
    Case("lu", lambda x: nr.linalg.lu(x)[1] + nr.linalg.lu(x)[2], randn(3, 4, 4), atol=1e-4),
    Case("cdist_mm", lambda a, b: nr.cdist(a, b), randn(30, 3), randn(4, 3)),
    Case("cdist_l1", lambda a, b: nr.cdist(a, b, p=1), randn(5, 3), randn(4, 3)),
    Case("cdist_l1_loop", lambda a, b: nr.cdist(a, b, p=1), randn(70, 3), randn(60, 3),
         atol=1e-4),
    Case("pdist", lambda x: F.pdist(x), randn(6, 3)),
    Case("embedding_bag_2d_mean", lambda w, i: F.embedding_bag(i, w, mode="mean"),
         randn(7, 3), ints(7, 4, 5)),
    Case("embedding_bag_2d_padding",
         lambda w, i: F.embedding_bag(i, w, mode="sum", padding_idx=2), randn(7, 3),
         ints(7, 4, 5)),
    Case("interpolate_bilinear", lambda x: F.interpolate(x, scale_factor=2, mode="bilinear",
                                                         align_corners=False),
         randn(2, 2, 3, 4)),
    Case("interpolate_nearest", lambda x: F.interpolate(x, size=(5, 7)), randn(2, 2, 3, 4)),
    Case("ctc_short_inputs", lambda x, t: F.ctc_loss(x.log_softmax(2), t, [6, 5], [3, 2]),
         randn(8, 2, 5), ints(5, 2, 3, low=1)),
    Case("grid_sample_repeated_taps",
         lambda x, g: F.grid_sample(x, g.tanh(), align_corners=False),
         randn(2, 3, 2, 2), randn(2, 5, 4, 2)),
    Case("conv3d_padded", lambda x, w: F.conv3d(x, w, padding=1), randn(2, 2, 3, 4, 3),
         randn(3, 2, 3, 3, 3), atol=1e-4),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)
