"""igamma/igammac on the device equal the CPU (values, and the gradient w.r.t. x)."""
import pytest

import narae as nr
from test_gpu_ops import Case, pos, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu

CASES = [
    Case("igamma", lambda x: nr.igamma(nr.full(x.shape, 2.5, device=x.device), x), pos(3, 4)),
    Case("igammac", lambda x: nr.igammac(nr.full(x.shape, 0.7, device=x.device), x),
         pos(3, 4, low=0.1)),
    Case("igamma_grid", lambda a: nr.igamma(a, nr.full(a.shape, 1.5, device=a.device)),
         pos(2, 5), grad=False),
]
PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)
