"""GPU == CPU for the code paths changed by the fuzzer's fixes (tests/fuzz/test_fuzz_regressions.py):
ints mixed with index arrays, leading-1 values in setitem, integer powers, lerp, rounding
division, int avg-pooling, softmax on edge shapes, 0-d reductions, fills inside the graph."""
import numpy as np
import pytest
from test_gpu_ops import Case, randn, pos, ints, mask, with_layouts, layout_ids, check_case

import narae as nr
import narae.nn.functional as F

pytestmark = pytest.mark.gpu


def _assign(key, value=None):
    def fn(x, *v):
        y = x * 1
        y[key(x)] = v[0] if v else value
        return y
    return fn


def _fills(x, v):
    y, z, w = x * 1, x * 2, x * 3
    y.fill_(0.5)
    z.zero_()
    w.copy_(v)
    return y + z + w


def _idx(x, values):
    return nr.tensor(np.asarray(values)).to(x.device)


CASES = [
    Case("getitem_int_slice_array", lambda x: x[0, :, _idx(x, [2, 0, 2])], randn(3, 4, 5)),
    Case("getitem_int_mask_int", lambda x, m: x[1, m, -1], randn(3, 4, 5), mask(4)),
    Case("setitem_int_slice_array", _assign(lambda x: (0, slice(None), _idx(x, [1, 3])), 7.0),
         randn(3, 4, 5), layouts=False),
    Case("setitem_leading_ones", _assign(lambda x: 1), randn(3), randn(1, 1), layouts=False),
    Case("pow_int_float", lambda x: (x ** 0.5) + 2.5 ** x, ints(4, 3, 4, low=1), grad=False),
    Case("rpow_int_negative", lambda x: 3 ** x, ints(3, 5, low=-2), grad=False),
    Case("lerp_scalar", lambda a, b: nr.lerp(a, b, 0.7), randn(3, 4), randn(3, 4)),
    Case("lerp_tensor", lambda a, b, w: nr.lerp(a, b, w), randn(3, 4), randn(3, 4),
         randn(3, 4)),
    Case("div_trunc", lambda a, b: nr.div(a, b, rounding_mode="trunc") * a, randn(3, 4),
         pos(3, 4)),
    Case("div_trunc_int", lambda a, b: nr.div(a, b, rounding_mode="trunc"),
         ints(9, 5, low=-9), ints(4, 5, low=1), grad=False),
    Case("floor_grad_zero", lambda x: nr.floor(x) * x + nr.sign(x), randn(3, 4)),
    Case("avg_pool1d_int", lambda x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True),
         ints(9, 2, 3, 7, low=-9), grad=False),
    Case("softmax_0d", lambda x: nr.softmax(x, 0) * x, randn()),
    Case("softmax_empty", lambda x: nr.softmax(x, 1), randn(2, 0)),
    Case("sum_dim_of_scalar", lambda x: nr.sum(x, 0) + nr.amax(x, -1) + nr.prod(x, 0), randn()),
    Case("sum_empty_dims", lambda x: nr.sum(x, dim=()), randn(2, 3)),
    Case("nll_loss_inf", lambda x: F.nll_loss(nr.where(x > 1.0, float("inf"), x),
                                              _idx(x, [0, 1, 2])), randn(3, 4) * 0.3),
    Case("fills_in_graph", _fills, randn(3, 4), randn(4), layouts=False),
    Case("masked_fill_broadcast", lambda x, m: nr.masked_fill(x, m, 0.5), randn(3), mask(2, 3)),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)
