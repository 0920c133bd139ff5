"""Contractions, accumulating products, diagonals and index-pattern constructors: device ==
CPU (the harness of test_gpu_ops.py)."""
import pytest

import narae as nr
from test_gpu_ops import Case, randn, ints, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu

CASES = [
    # -- einsum / tensordot / chains ----------------------------------------------------------
    Case("einsum_matmul", lambda a, b: nr.einsum("ij,jk->ik", a, b), randn(3, 4), randn(4, 5)),
    Case("einsum_batched_ellipsis", lambda a, b: nr.einsum("...ij,...jk", a, b),
         randn(2, 3, 4), randn(4, 2)),
    Case("einsum_trace_diag", lambda a: nr.einsum("ii->i", a) + nr.einsum("ii", a), randn(4, 4)),
    Case("einsum_broadcast_size1", lambda a, b: nr.einsum("ij,jk->ik", a, b), randn(3, 1),
         randn(4, 2)),
    Case("einsum_three", lambda a, b, c: nr.einsum("ij,jk,kl", [a, b, c]), randn(2, 3),
         randn(3, 4), randn(4, 2)),
    Case("tensordot", lambda a, b: nr.tensordot(a, b, dims=([1, 2], [0, 1])), randn(3, 4, 2),
         randn(4, 2, 5)),
    Case("multi_dot", lambda a, b, c: nr.linalg.multi_dot([a, b, c]), randn(3), randn(3, 4),
         randn(4, 2)),
    Case("chain_matmul", lambda a, b: nr.chain_matmul(a, b), randn(2, 3), randn(3, 4)),
    # -- accumulating products ----------------------------------------------------------------
    Case("addmm", lambda c, a, b: nr.addmm(c, a, b, beta=0.5, alpha=2.0), randn(3), randn(2, 4),
         randn(4, 3)),
    Case("addmm_beta0", lambda c, a, b: nr.addmm(c, a, b, beta=0), randn(2, 3), randn(2, 4),
         randn(4, 3)),
    Case("addmv", lambda c, a, b: nr.addmv(c, a, b, alpha=-1), randn(2), randn(2, 4), randn(4)),
    Case("addbmm", nr.addbmm, randn(2, 3), randn(5, 2, 4), randn(5, 4, 3)),
    Case("baddbmm", lambda c, a, b: nr.baddbmm(c, a, b, beta=2), randn(5, 2, 3),
         randn(5, 2, 4), randn(5, 4, 3)),
    Case("addr", nr.addr, randn(2, 3), randn(2), randn(3)),
    Case("addmm_", lambda c, a, b: (c * 1.0).addmm_(a, b, alpha=3), randn(2, 3), randn(2, 4),
         randn(4, 3)),
    # -- vector products ------------------------------------------------------------------------
    Case("inner", nr.inner, randn(2, 3), randn(4, 3)),
    Case("vdot", nr.vdot, randn(5), randn(5)),
    Case("ger", nr.ger, randn(4), randn(3)),
    Case("linalg_cross", lambda a, b: nr.linalg.cross(a, b, dim=0), randn(3, 4), randn(3, 4)),
    Case("kron", nr.kron, randn(2, 3), randn(3, 2)),
    # -- diagonals ------------------------------------------------------------------------------
    Case("diagonal", lambda x: nr.diagonal(x, 1, 0, 2), randn(3, 2, 4)),
    Case("diag_embed", lambda x: nr.diag_embed(x, -1), randn(2, 3)),
    Case("diag_vector", lambda x: nr.diag(x, 1), randn(4)),
    Case("diag_matrix", lambda x: nr.diag(x, -1), randn(4, 3)),
    Case("diagflat", nr.diagflat, randn(2, 2)),
    Case("trace", nr.trace, randn(3, 4)),
    Case("fill_diagonal_", lambda x: (x * 1.0).fill_diagonal_(2.0, wrap=True), randn(7, 3)),
    # -- constructors ---------------------------------------------------------------------------
    Case("block_diag", nr.block_diag, randn(2, 2), randn(3), randn(1, 3)),
    Case("meshgrid", lambda a, b: nr.meshgrid(a, b, indexing="xy"), randn(2), randn(3)),
    Case("cartesian_prod", nr.cartesian_prod, randn(2), randn(3)),
    Case("combinations", lambda x: nr.combinations(x, 2, with_replacement=True), randn(4)),
    Case("combinations_int", lambda x: nr.combinations(x, 3), ints(9, 5)),
    Case("vander", lambda x: nr.vander(x, 4), randn(3)),
    Case("broadcast_tensors", nr.broadcast_tensors, randn(2, 1), randn(3)),
    Case("atleast_3d", lambda a: nr.atleast_3d(a), randn(2, 3)),
    Case("column_stack", lambda a, b: nr.column_stack([a, b]), randn(3), randn(3, 2)),
    Case("dstack", lambda a, b: nr.dstack([a, b]), randn(2, 3), randn(2, 3)),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


def test_index_constructors_on_device(device):
    for make in (nr.tril_indices, nr.triu_indices):
        t = make(4, 3, 1, device=device)
        assert t.device == nr.backend.as_device(device)
        assert (t.cpu().numpy() == make(4, 3, 1).numpy()).all()
