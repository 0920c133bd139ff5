"""narae/ops/statistics.py on the GPU equals the CPU: scans, quantiles, counting, searching."""
import numpy as np
import pytest

import narae as nr
from test_gpu_ops import Case, randn, pos, ints, const, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu

NAN = float("nan")
SORTED = np.sort(randn(3, 7), -1)
WITH_NAN = np.array([[1.0, NAN, 3.0, 2.0], [NAN, NAN, NAN, NAN], [5.0, 4.0, 1.0, 0.0]])
TIES = np.array([[1.0, 2.0, 1.0, 3.0, 2.0, 1.0], [0.5, 0.5, -1.0, -1.0, 4.0, 4.0]])
GRID = np.array([[1, 2, 1, 2], [3, 0, 3, 0], [1, 2, 1, 2], [0, 0, 0, 1]])


def _inplace(op):
    def fn(x):
        y = x * 1
        getattr(y, op)(1)
        return y
    return fn


CASES = [
    # -- scans ------------------------------------------------------------------------------
    Case("cummax", lambda x: nr.cummax(x, 1), randn(4, 9)),
    Case("cummin_dim0", lambda x: nr.cummin(x, 0), randn(9, 3)),
    Case("cummax_ties_nan", lambda x: x.cummax(1), const(WITH_NAN)),
    Case("cummax_int", lambda x: nr.cummax(x, 0), ints(5, 12)),
    Case("logcumsumexp", lambda x: nr.logcumsumexp(x, 1), randn(3, 11)),
    Case("logcumsumexp_wide_range", lambda x: nr.logcumsumexp(x * 50, 0), randn(13)),
    Case("cumsum_", _inplace("cumsum_"), randn(3, 5), layouts=False),
    Case("cumprod_", _inplace("cumprod_"), randn(3, 5), layouts=False),
    # -- order statistics ---------------------------------------------------------------------
    Case("quantile_linear", lambda x: nr.quantile(x, 0.3, dim=1), randn(3, 6)),
    Case("quantile_q_tensor", lambda x, q: nr.quantile(x, q, dim=0, keepdim=True), randn(5, 4),
         const([0.0, 0.25, 0.9, 1.0])),
    Case("quantile_flat_nearest", lambda x: nr.quantile(x, 0.5, interpolation="nearest"),
         randn(4, 3)),
    Case("quantile_midpoint", lambda x: x.quantile(0.4, 0, interpolation="midpoint"),
         randn(6, 2)),
    Case("quantile_nan", lambda x: nr.quantile(x, 0.4, dim=1), const(WITH_NAN)),
    Case("nanquantile", lambda x: nr.nanquantile(x, 0.4, dim=1, interpolation="lower"),
         const(WITH_NAN)),
    Case("nanquantile_grad", lambda x: nr.nanquantile(x, 0.7, dim=-1), randn(3, 5)),
    Case("nanmedian", lambda x: nr.nanmedian(x), randn(4, 5)),
    Case("nanmedian_dim", lambda x: nr.nanmedian(x, 1, keepdim=True), randn(4, 5)),
    Case("nanmedian_nan", lambda x: nr.nanmedian(x, 1), const(WITH_NAN)),
    Case("mode", lambda x: nr.mode(x, 1), TIES),
    Case("mode_int", lambda x: nr.mode(x, 0), ints(3, 7, 4)),
    Case("msort", lambda x: nr.msort(x), randn(5, 3)),
    # -- differences and integrals ------------------------------------------------------------
    Case("diff", lambda x: nr.diff(x), randn(3, 6)),
    Case("diff_n2_dim0", lambda x, p, a: nr.diff(x, 2, 0, prepend=p, append=a), randn(4, 3),
         randn(1, 3), randn(2, 3)),
    Case("diff_bool", lambda m: nr.diff(m), np.array([True, True, False, True])),
    Case("trapezoid", lambda y: nr.trapezoid(y), randn(3, 6)),
    Case("trapezoid_x", lambda y, x: nr.trapezoid(y, x, dim=0), randn(4, 3), randn(4)),
    Case("trapz_dx", lambda y: nr.trapz(y, dx=0.25), randn(3, 6)),
    Case("cumulative_trapezoid", lambda y, x: nr.cumulative_trapezoid(y, x), randn(3, 6),
         randn(3, 6)),
    Case("gradient", lambda x: nr.gradient(x, spacing=[2.0, 0.5]), randn(4, 5)),
    Case("gradient_coords_order2", lambda x, c: nr.gradient(x, spacing=(c,), dim=1,
                                                            edge_order=2),
         randn(3, 5), const([0.0, 1.0, 3.0, 4.0, 7.0])),
    # -- counting ---------------------------------------------------------------------------
    Case("histc", lambda x: nr.histc(x, 7), const(randn(40))),
    Case("histc_range", lambda x: x.histc(5, -1, 1), const(randn(5, 8))),
    Case("histogram", lambda x: nr.histogram(x, 6), const(randn(30))),
    Case("histogram_weighted_density",
         lambda x, w: nr.histogram(x, 4, range=(-1.0, 1.0), weight=w, density=True),
         const(randn(6, 5)), const(pos(6, 5))),
    Case("histogram_edges", lambda x, e: nr.histogram(x, e), const(randn(20)),
         const([-2.0, -0.5, 0.0, 0.3, 1.5])),
    Case("histogramdd", lambda x: nr.histogramdd(x, [3, 2]), const(randn(20, 2))),
    Case("bincount", lambda i: nr.bincount(i), ints(6, 20)),
    Case("bincount_weights", lambda i, w: nr.bincount(i, w, minlength=9), ints(6, 20),
         const(pos(20))),
    Case("unique", lambda i: nr.unique(i, return_inverse=True, return_counts=True),
         ints(5, 4, 6, low=-2)),
    Case("unique_float", lambda x: nr.unique(x, return_inverse=True),
         const(np.round(randn(5, 4)))),
    Case("unique_dim", lambda i: nr.unique(i, dim=1, return_inverse=True, return_counts=True),
         GRID),
    Case("unique_consecutive", lambda i: nr.unique_consecutive(i, return_inverse=True,
                                                               return_counts=True),
         np.array([1, 1, 2, 2, 3, 1, 1, 2])),
    Case("unique_consecutive_dim", lambda i: nr.unique_consecutive(i, dim=0, return_counts=True),
         GRID),
    # -- searching --------------------------------------------------------------------------
    Case("searchsorted_1d", lambda s, v: nr.searchsorted(s, v), const(SORTED[0]),
         const(randn(4, 5))),
    Case("searchsorted_batched_right", lambda s, v: nr.searchsorted(s, v, right=True),
         const(SORTED), const(randn(3, 5))),
    Case("searchsorted_sorter", lambda s, o, v: nr.searchsorted(s, v, sorter=o, out_int32=True),
         const([3.0, 1.0, 2.0, 0.0]), np.array([3, 1, 2, 0]), const([0.5, 2.0, 9.0])),
    Case("searchsorted_scalar", lambda s: nr.searchsorted(s, 0.1, side="right"),
         const(SORTED[1])),
    Case("bucketize", lambda x, b: nr.bucketize(x, b), const(randn(3, 4)),
         const([-1.0, 0.0, 0.5])),
    Case("isin", lambda e, t: nr.isin(e, t), ints(6, 3, 4), np.array([1, 4, 4, 9])),
    Case("isin_invert_scalar", lambda e: nr.isin(e, 3, invert=True), ints(6, 3, 4)),
    # -- covariance and renorm ---------------------------------------------------------------
    Case("cov", lambda x: nr.cov(x), randn(3, 7)),
    Case("cov_weights", lambda x, f, a: nr.cov(x, correction=0, fweights=f, aweights=a),
         randn(2, 6), np.array([1, 2, 0, 3, 1, 1]), pos(6)),
    Case("corrcoef", lambda x: nr.corrcoef(x), randn(3, 7), atol=1e-4),
    Case("renorm", lambda x: nr.renorm(x, 2, 0, 1.0), randn(3, 4, 2)),
    Case("renorm_p1", lambda x: x.renorm(1, 1, 0.5), randn(3, 4)),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)
