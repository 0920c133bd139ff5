"""GPU == CPU for narae/ops/scatter.py and narae/ops/rearrange.py (outputs and gradients).

The scatter reductions take three different array paths on a device (CuPy's atomic scatters,
the segmented scan for prod and for dtypes without atomics), so each reduction is here, with
repeated targets, and once with integer tensors."""
import numpy as np
import pytest

import narae as nr
from test_gpu_ops import Case, randn, pos, ints, mask, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu

IDX = np.array([[0, 1, 0, 2], [2, 2, 1, 0]])
ZEROS = np.array([[0.0, 1.5, 2.0, 0.5], [1.0, 0.0, 0.0, 3.0]])  # zeros in prod's way
ISRC = np.array([[5, -7, 2, 1], [3, 3, -1, 4]], dtype=np.int64)
IX = np.arange(-3, 3).reshape(2, 3).astype(np.int64)


def _sr(reduce, include_self=True):
    return lambda x, i, s: nr.scatter_reduce(x, 1, i, s, reduce, include_self=include_self)


def _ir(reduce, include_self=True):
    return lambda x, i, s: nr.index_reduce(x, 1, i, s, reduce, include_self=include_self)


CASES = [
    # -- scatter.py ------------------------------------------------------------------------------
    *[Case(f"scatter_reduce_{r}{'' if inc else '_exclude'}", _sr(r, inc), randn(2, 3), IDX,
           randn(2, 4)) for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)],
    Case("scatter_reduce_prod_zeros", _sr("prod"), pos(2, 3), IDX, ZEROS),
    *[Case(f"scatter_reduce_int_{r}", _sr(r, False), IX, IDX, ISRC, grad=False)
      for r in ("sum", "prod", "mean", "amax", "amin")],
    *[Case(f"index_reduce_{r}", _ir(r), randn(3, 4), np.array([0, 2, 0, 3, 0]), randn(3, 5))
      for r in ("prod", "mean", "amax", "amin")],
    Case("index_reduce_amax_exclude", _ir("amax", False), randn(3, 4), np.array([1, 1, 3]),
         randn(3, 3)),
    Case("index_copy", lambda x, i, s: nr.index_copy(x, 1, i, s), randn(3, 4), np.array([3, 0]),
         randn(3, 2)),
    Case("index_fill", lambda x, i: x.index_fill(0, i, -1.5), randn(3, 4), np.array([2, -3])),
    Case("index_fill_tensor", lambda x, i, v: x.index_fill(1, i, v), randn(3, 4),
         np.array([1, 1]), randn()),
    Case("index_put", lambda x, r, c, v: nr.index_put(x, (r, c), v), randn(3, 4),
         np.array([0, 2]), np.array([1, 3]), randn(2)),
    Case("index_put_accumulate", lambda x, r, v: x.index_put((r,), v, accumulate=True),
         randn(3, 4), np.array([2, 0, 2]), randn(4)),
    Case("index_put_mask", lambda x, k, v: x.index_put((k,), v), randn(3, 4),
         mask(3, 4, p=0.5), randn()),
    Case("take", lambda x, i: nr.take(x, i), randn(3, 4), np.array([[0, -1], [5, 5]])),
    Case("put", lambda x, i, s: x.put(i, s), randn(3, 4), np.array([-1, 0, 6]), randn(3)),
    Case("put_accumulate", lambda x, i, s: nr.put(x, i, s, accumulate=True), randn(3, 4),
         np.array([[1, 1], [11, -12]]), randn(2, 2)),
    Case("masked_scatter", lambda x, k, s: nr.masked_scatter(x, k, s), randn(3, 4),
         np.array([[True, False, True, False], [False, False, True, True],
                   [True, True, True, False]]), randn(10)),
    Case("masked_scatter_broadcast", lambda x, k, s: x.masked_scatter(k, s), randn(4),
         np.array([[True], [False]]), randn(2, 3)),
    Case("select_scatter", lambda x, s: nr.select_scatter(x, s, 1, -1), randn(3, 4), randn(3)),
    Case("slice_scatter", lambda x, s: nr.slice_scatter(x, s, 1, 0, 4, 2), randn(3, 4),
         randn(3, 2)),
    Case("diagonal_scatter", lambda x, s: nr.diagonal_scatter(x, s, 1, 2, 0), randn(3, 2, 4),
         randn(2, 2)),
    # -- rearrange.py -------------------------------------------------------------------------
    Case("select", lambda x: nr.select(x, 1, -1), randn(2, 3, 4)),
    Case("tensor_split_sections", lambda x: nr.tensor_split(x, 3, dim=1), randn(2, 7)),
    Case("tensor_split_indices", lambda x: x.tensor_split([1, 5]), randn(7, 2)),
    Case("hsplit", lambda x: nr.hsplit(x, [1, 4]), randn(2, 6)),
    Case("vsplit", lambda x: nr.vsplit(x, 2), randn(4, 3)),
    Case("dsplit", lambda x: nr.dsplit(x, [1]), randn(2, 2, 4)),
    Case("split_with_sizes", lambda x: nr.split_with_sizes(x, [1, 4], 1), randn(3, 5)),
    Case("swapdims", lambda x: nr.swapdims(x, 0, -1), randn(2, 3, 4)),
    Case("rot90", lambda x: nr.rot90(x, 1, (0, 2)), randn(2, 3, 4)),
    Case("rot90_k3", lambda x: x.rot90(3), randn(3, 4)),
    Case("ravel", lambda x: nr.ravel(x), randn(3, 4)),
    Case("narrow_copy", lambda x: nr.narrow_copy(x, 1, -3, 2), randn(3, 4)),
    Case("repeat_interleave_int", lambda x: nr.repeat_interleave(x, 2, dim=1), randn(2, 3)),
    Case("repeat_interleave_tensor", lambda x, r: x.repeat_interleave(r, 0), randn(3, 2),
         ints(3, 3)),
    Case("repeat_interleave_flat", lambda x, r: nr.repeat_interleave(x, r), randn(2, 2),
         np.array([2, 0, 1, 3])),
    Case("repeat_interleave_indices", lambda r: nr.repeat_interleave(r), np.array([2, 0, 1, 3]),
         grad=False),
    Case("unfold", lambda x: x.unfold(1, 3, 2), randn(3, 6, 2)),
    Case("unfold_overlap", lambda x: x.unfold(-1, 2, 1), randn(2, 5)),
    Case("unravel_index", lambda i: nr.unravel_index(i, (3, 4)), np.array([4, -1, 11, 7]),
         grad=False),
    # (as_strided reads memory order, which a copy to another device need not keep)
    Case("as_strided", lambda x: nr.as_strided(x, (3, 3), (1, 1), 1), randn(3, 4),
         layouts=False),
    Case("as_strided_scatter", lambda x, s: nr.as_strided_scatter(x, s, (2, 2), (1, 2), 1),
         randn(12), randn(2, 2)),
    Case("t_inplace", lambda x: (x * 1).t_(), randn(3, 4)),
    Case("squeeze_unsqueeze_inplace", lambda x: (x * 1).squeeze_(1).unsqueeze_(0), randn(3, 1)),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)
