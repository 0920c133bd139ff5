import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn


# --- einsum --------------------------------------------------------------------------------
@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),                 # matmul
    ("ij,jk", [(2, 3), (3, 4)]),                     # implicit output
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),         # batched
    ("ij->ji", [(2, 3)]),                            # permutation
    ("ij->", [(2, 3)]),                              # full sum
    ("ij->j", [(2, 3)]),                             # partial sum
    ("i,j->ij", [(3,), (4,)]),                       # outer
    ("i,i->", [(3,), (3,)]),                         # dot
    ("ii", [(3, 3)]),                                # trace
    ("ii->i", [(3, 3)]),                             # diagonal
    ("iij->ji", [(2, 2, 3)]),                        # diagonal of a batch
    ("iji->j", [(2, 3, 2)]),                         # non-adjacent repeat
    ("...ij,...jk->...ik", [(5, 2, 3), (3, 4)]),     # ellipsis broadcast
    ("...ij,...jk", [(2, 1, 2, 3), (4, 3, 2)]),     # implicit ellipsis, size-1 batch
    ("i...->...", [(2, 3, 4)]),
    ("...ij->ij", [(2, 3, 4)]),                      # ellipsis summed out
    ("ij,jk->ik", [(2, 1), (3, 4)]),                 # size-1 contracted dim broadcasts
    ("ij,ij->ij", [(2, 1), (1, 3)]),                 # size-1 dims broadcast both ways
    ("ijk,jl,lk->il", [(2, 3, 4), (3, 5), (5, 4)]),  # three operands
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bA,Ab", [(2, 3), (3, 2)]),                     # upper-case labels sort first
    ("i j , j k -> i k", [(2, 3), (3, 4)]),          # spaces
    ("ab,cd->abcd", [(2, 1), (1, 3)]),
    ("ij,kj->k", [(2, 3), (4, 3)]),                  # label only in the first operand summed
])
def test_einsum(eq, shapes):
    arrays = [randn(*s) for s in shapes]
    check(lambda m, *xs: m.einsum(eq, *xs), *arrays, double=True)


def test_einsum_list_form_and_sublists():
    a, b = randn(2, 3), randn(3, 4)
    check(lambda m, x, y: m.einsum("ij,jk", [x, y]), a, b, double=True)
    check(lambda m, x, y: m.einsum("ij,jk->ik", (x, y)), a, b)
    check(lambda m, x, y: m.einsum(x, [0, 1], y, [1, 2], [0, 2]), a, b)
    check(lambda m, x, y: m.einsum(x, [0, 1], y, [1, 2]), a, b)
    check(lambda m, x: m.einsum(x, [Ellipsis, 0], [0, Ellipsis]), randn(2, 3, 4))


def test_einsum_scalars_empty_and_ints():
    check(lambda m, x: m.einsum("", x), randn())
    check(lambda m, x, y: m.einsum(",->", x, y), randn(), randn())
    check(lambda m, x, y: m.einsum("i,->i", x, y), randn(3), randn())
    check(lambda m, x: m.einsum("i->", x), randn(0))
    check(lambda m, x, y: m.einsum("ij,jk->ik", x, y), randn(2, 0), randn(0, 3))
    a = np.arange(6).reshape(2, 3)
    check(lambda m, x, y: m.einsum("ij,ij->", x, y), a, a + 1)


def test_einsum_double_backward_three_operands():
    x = nr.tensor(randn(2, 3), requires_grad=True)
    y = nr.tensor(randn(3, 3), requires_grad=True)
    z = nr.tensor(randn(3), requires_grad=True)
    f = lambda x, y, z: nr.einsum("ij,jj,j->i", x, y, z)  # noqa: E731
    nr.autograd.gradcheck(f, [x.double().detach().requires_grad_(),
                              y.double().detach().requires_grad_(),
                              z.double().detach().requires_grad_()])
    nr.autograd.gradgradcheck(f, [x.double().detach().requires_grad_(),
                                  y.double().detach().requires_grad_(),
                                  z.double().detach().requires_grad_()])


@pytest.mark.parametrize("args,match", [
    (("ij,jk->ik", (2, 3)), "fewer operands"),
    (("ij->ik", (2, 3), (3, 4)), "more operands"),
    (("ijk->ij", (2, 3)), r"number of subscripts.*\(3\).*\(2, 3\)"),
    (("ij,jk->ik", (2, 3), (2, 4)), r"subscript j has size 2 .*\(2, 3\), \(2, 4\)"),
    (("ii->i", (2, 3)), r"repeated .* 3 != 2|repeated .* 2 != 3"),
    (("ij->ii", (2, 2)), "more than once"),
    (("ij->k", (2, 2)), "does not appear"),
    (("i1", (2, 5)), "invalid subscript"),
    (("i.j", (2, 5)), "not part of any ellipsis"),
    (("......", (2, 5)), "more than one ellipsis"),
    (("ij...->ij", (2,)), r"more than the number of dimensions"),
])
def test_einsum_errors(args, match):
    eq, shapes = args[0], args[1:]
    ops = [nr.zeros(*s) for s in shapes]
    with pytest.raises(RuntimeError, match=match):
        nr.einsum(eq, *ops)


def test_einsum_dtype_and_type_errors():
    with pytest.raises(RuntimeError, match="same dtype"):
        nr.einsum("ij,jk", nr.zeros(2, 3), nr.zeros(3, 4, dtype=nr.float64))
    with pytest.raises(TypeError):
        nr.einsum("ij", np.zeros((2, 3)))
    with pytest.raises(TypeError):
        nr.einsum()


# --- tensordot -----------------------------------------------------------------------------
@pytest.mark.parametrize("dims,sa,sb", [
    (2, (3, 4, 5), (4, 5, 2)),
    (1, (3, 4), (4, 5)),
    (0, (3, 2), (2,)),
    (([2], [0]), (3, 4, 5), (5, 2)),
    (([1, 0], [0, 1]), (3, 4), (4, 3)),
    (([-1], [-2]), (2, 3), (3, 4)),
    ((1, 0), (2, 3), (3, 4)),
])
def test_tensordot(dims, sa, sb):
    tdims = dims if not isinstance(dims, tuple) or isinstance(dims[0], list) \
        else ([dims[0]], [dims[1]])
    check(lambda m, a, b: m.tensordot(a, b, dims=tdims if m is torch else dims),
          randn(*sa), randn(*sb), double=True)


def test_tensordot_tensor_dims():
    a, b = randn(3, 4, 5), randn(4, 5, 2)
    check(lambda m, x, y: m.tensordot(x, y, dims=m.tensor([[1, 2], [0, 1]])), a, b)
    check(lambda m, x, y: m.tensordot(x, y, dims=m.tensor(2)), a, b)


def test_tensordot_errors():
    with pytest.raises(RuntimeError, match=r"size 4 in dim 1 .* size 5 in dim 0"):
        nr.tensordot(nr.zeros(3, 4), nr.zeros(5, 6), dims=1)
    with pytest.raises(RuntimeError, match="dims >= 0"):
        nr.tensordot(nr.zeros(3, 4), nr.zeros(4, 6), dims=-1)
    with pytest.raises(RuntimeError, match="dims < ndim"):
        nr.tensordot(nr.zeros(3, 4), nr.zeros(4, 6), dims=3)
    with pytest.raises(RuntimeError, match="same length"):
        nr.tensordot(nr.zeros(3, 4), nr.zeros(4, 6), dims=([1], [0, 1]))


# --- multi_dot / chain_matmul --------------------------------------------------------------
@pytest.mark.parametrize("shapes", [
    [(2, 3), (3, 4)],
    [(2, 3), (3, 10), (10, 1), (1, 4)],
    [(3,), (3, 4), (4, 2)],
    [(3, 4), (4,)],
    [(3,), (3, 4), (4,)],
    [(3,), (3,)],
])
def test_multi_dot(shapes):
    check(lambda m, *xs: m.linalg.multi_dot(list(xs)),
          *[randn(*s) for s in shapes], double=True)


def test_chain_matmul():
    with pytest.warns(UserWarning):  # torch deprecates it
        check(lambda m, a, b, c: m.chain_matmul(a, b, c), randn(2, 5), randn(5, 1),
              randn(1, 3), double=True)
    check(lambda m, a: m.chain_matmul(a), randn(2, 3))


def test_chain_order_picks_the_cheap_split():
    from narae.ops.einsum import _chain_order
    # (10x100)(100x5)(5x50): (AB)C costs 7500, A(BC) 75000
    assert _chain_order([10, 100, 5, 50])[0][2] == 1
    assert _chain_order([50, 5, 100, 10])[0][2] == 0


def test_multi_dot_errors():
    with pytest.raises(RuntimeError, match="at least 2 tensors"):
        nr.linalg.multi_dot([nr.zeros(3)])
    with pytest.raises(RuntimeError, match=r"\[3, 2\] and \[3, 3\]"):
        nr.linalg.multi_dot([nr.zeros(3, 2), nr.zeros(3, 3)])
    with pytest.raises(RuntimeError, match="last tensor must be 1D or 2D"):
        nr.linalg.multi_dot([nr.zeros(3, 2), nr.zeros(2, 2, 3)])
    with pytest.raises(RuntimeError, match=r"tensor 1 must be 2D"):
        nr.linalg.multi_dot([nr.zeros(3, 2), nr.zeros(2), nr.zeros(2, 3)])
    with pytest.raises(RuntimeError, match="one or more matrices"):
        nr.chain_matmul()
    with pytest.raises(RuntimeError, match="expected 2"):
        nr.chain_matmul(nr.zeros(3), nr.zeros(3, 3))
