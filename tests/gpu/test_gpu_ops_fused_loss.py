"""narae/ops/fused_loss.py on the GPU equals the CPU: chunked linear_cross_entropy."""
import pytest

import narae as nr
from test_gpu_ops import Case, randn, ints, const, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu

F = nr.nn.functional
T = ints(9, 7)
T_IGN = T.copy()
T_IGN[[0, 3]] = -100


def _opts(chunk):
    return nr.nn.LinearCrossEntropyOptions(batch_chunk_size=chunk)


CASES = [
    Case("lce_mean_chunk3", lambda x, w, b, t: F.linear_cross_entropy(
        x, w, t, linear_bias=b, options=_opts(3)), randn(7, 4), randn(9, 4), randn(9), T),
    Case("lce_sum_default", lambda x, w, t: F.linear_cross_entropy(x, w, t, reduction="sum"),
         randn(7, 4), randn(9, 4), T),
    Case("lce_none_ignore", lambda x, w, b, t: F.linear_cross_entropy(
        x, w, t, linear_bias=b, reduction="none", options=_opts(2)),
        randn(7, 4), randn(9, 4), randn(9), T_IGN),
    Case("lce_class_weight", lambda x, w, t, cw: F.linear_cross_entropy(
        x, w, t, weight=cw, ignore_index=4, options=_opts(4)),
        randn(7, 4), randn(9, 4), T, const(randn(9) ** 2 + 0.1)),
    Case("lce_unbatched", lambda x, w: F.linear_cross_entropy(x, w, nr.tensor(3, device=x.device)),
         randn(4), randn(9, 4)),
    Case("lce_reference_smoothing", lambda x, w, t: F.linear_cross_entropy(
        x, w, t, label_smoothing=0.1), randn(7, 4), randn(9, 4), T),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)
