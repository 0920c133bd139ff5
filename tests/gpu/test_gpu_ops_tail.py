"""GPU == CPU for the top-level tail: *_copy ops, segment_reduce, Householder QR, RNN cells."""
import numpy as np
import pytest
import torch

import narae as nr
from test_gpu_ops import Case, randn, ints, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu

_Q = np.linalg.qr(np.random.default_rng(8).standard_normal((12, 12)))[0]
_SPD = _Q @ np.diag(np.linspace(1.0, 10.0, 12)) @ _Q.T
_X0 = np.random.default_rng(9).standard_normal((12, 2))
_A, _TAU = (t.numpy() for t in torch.geqrf(torch.tensor(np.random.default_rng(7)
                                                          .standard_normal((5, 3)))))

CASES = [
    Case("alias_copy", lambda x: nr.alias_copy(x), randn(3, 4)),
    Case("expand_copy", lambda x: nr.expand_copy(x, [3, 4]), randn(3, 1)),
    Case("permute_copy", lambda x: nr.permute_copy(x, (1, 0)), randn(3, 4)),
    Case("slice_copy", lambda x: nr.slice_copy(x, 1, 1, 4, 2), randn(3, 4)),
    Case("split_copy", lambda x: nr.split_copy(x, 2, 1)[1], randn(3, 4)),
    Case("unbind_copy", lambda x: nr.unbind_copy(x, 0)[2], randn(3, 4)),
    Case("view_copy", lambda x: nr.view_copy(x, [4, 3]), randn(3, 4)),
    Case("constant_pad_nd", lambda x: nr.constant_pad_nd(x, [1, 2, 0, 1], 0.5), randn(3, 4)),
    Case("frobenius_norm", lambda x: nr.frobenius_norm(x, (0, 1)), randn(3, 4)),
    Case("slice_inverse", lambda a, s: nr.slice_inverse(a, s, 0, 1, 5, 2), randn(2, 3),
         randn(5, 3)),
    Case("segment_reduce_sum", lambda d, l: nr.segment_reduce(d, "sum", lengths=l),
         randn(6, 2), np.array([2, 1, 3])),
    Case("segment_reduce_max", lambda d, l: nr.segment_reduce(d, "max", lengths=l),
         randn(6, 2), np.array([2, 0, 4])),
    Case("segment_reduce_mean_offsets",
         lambda d, o: nr.segment_reduce(d, "mean", offsets=o, initial=1.0), randn(6),
         np.array([0, 2, 2, 6])),
    Case("segment_reduce_prod_axis1",
         lambda d, l: nr.segment_reduce(d, "prod", lengths=l, axis=1), randn(2, 5),
         np.array([[2, 3], [5, 0]])),
    Case("nonzero_static", lambda x: nr.nonzero_static(x, size=5), ints(2, 3, 4)),
    Case("geqrf", lambda x: nr.geqrf(x).a, randn(5, 3), grad=False),
    Case("geqrf_tau", lambda x: nr.geqrf(x).tau, randn(3, 4, 4), grad=False),
    Case("orgqr", lambda a, t: nr.orgqr(a, t), _A, _TAU),
    Case("ormqr_left", lambda a, t, c: nr.ormqr(a, t, c), _A, _TAU, randn(5, 2)),
    Case("ormqr_right_t", lambda a, t, c: nr.ormqr(a, t, c, False, True), _A, _TAU,
         randn(2, 5)),
    Case("lstm_cell", lambda x, h, c, wi, wh: nr.lstm_cell(x, (h, c), wi, wh)[1],
         randn(2, 3), randn(2, 4), randn(2, 4), randn(16, 3), randn(16, 4)),
    Case("gru_cell", lambda x, h, wi, wh, bi: nr.gru_cell(x, h, wi, wh, bi),
         randn(2, 3), randn(2, 4), randn(12, 3), randn(12, 4), randn(12)),
    Case("lobpcg_eigenvalues", lambda a, x: nr.lobpcg(a, X=x)[0], _SPD, _X0, atol=1e-4,
         layouts=False),
    Case("lobpcg_vectors_sq", lambda a, x: nr.lobpcg(a, k=1, X=x)[1] ** 2, _SPD, _X0,
         atol=1e-4, layouts=False),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)
