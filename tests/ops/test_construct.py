import warnings

import numpy as np
import pytest
import torch

import narae as nr
from helpers import assert_close, check, check_gradcheck, randn


# --- triangle indices ----------------------------------------------------------------------
@pytest.mark.parametrize("row,col,offset", [(3, 3, 0), (3, 4, 1), (4, 3, -1), (0, 3, 0),
                                            (3, 3, 5), (3, 3, -5), (1, 1, 0)])
@pytest.mark.parametrize("name", ["tril_indices", "triu_indices"])
def test_tri_indices(name, row, col, offset):
    ours = getattr(nr, name)(row, col, offset)
    theirs = getattr(torch, name)(row, col, offset)
    assert ours.dtype == nr.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_tri_indices_dtype_and_errors():
    assert nr.tril_indices(3, 3, dtype=nr.int32).dtype == nr.int32
    assert nr.triu_indices(2, 2, device="cpu").device.type == "cpu"
    with pytest.raises(NotImplementedError, match="Float|float"):
        nr.tril_indices(3, 3, dtype=nr.float32)
    with pytest.raises(RuntimeError, match="non-negative"):
        nr.triu_indices(-1, 3)


# --- block_diag ----------------------------------------------------------------------------
def test_block_diag():
    check(lambda m, a, b, c: m.block_diag(a, b, c), randn(), randn(3), randn(2, 2), double=True)
    check(lambda m, a, b: m.block_diag(a, b), randn(2, 3), randn(0, 2))
    check(lambda m, a: m.block_diag(a), randn(2, 3))
    check(lambda m, a, b: m.block_diag(a, b), np.arange(4).reshape(2, 2), randn(1, 2))
    assert nr.block_diag().shape == torch.block_diag().shape


def test_block_diag_errors():
    with pytest.raises(RuntimeError, match="2 or fewer dimensions. Input 1 has 3"):
        nr.block_diag(nr.zeros(2), nr.zeros(2, 2, 2))


# --- meshgrid / cartesian_prod / combinations ----------------------------------------------
@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    check(lambda m, a, b, c: m.meshgrid(a, b, c, indexing=indexing), randn(2), randn(3),
          randn(4), double=True)
    check(lambda m, a, b: m.meshgrid([a, b], indexing=indexing), randn(2), randn(3))
    check(lambda m, a: m.meshgrid(a, indexing=indexing), randn(3))
    check(lambda m, a, b: m.meshgrid(a, b, indexing=indexing), randn(), randn(3))


def test_meshgrid_default_warns_and_errors():
    with pytest.warns(UserWarning, match="indexing"):
        x, y = nr.meshgrid(nr.arange(2), nr.arange(3))
    assert x.shape == (2, 3)
    with pytest.raises(RuntimeError, match="non-empty"):
        nr.meshgrid(indexing="ij")
    with pytest.raises(RuntimeError, match=r"0D or 1D .*\(2, 2\)"):
        nr.meshgrid(nr.zeros(2, 2), indexing="ij")
    with pytest.raises(RuntimeError, match="indexing must be one of"):
        nr.meshgrid(nr.zeros(2), indexing="foo")


def test_cartesian_prod():
    check(lambda m, a, b: m.cartesian_prod(a, b), randn(2), randn(3), double=True)
    check(lambda m, a, b, c: m.cartesian_prod(a, b, c), randn(2), randn(1), randn(3))
    check(lambda m, a: m.cartesian_prod(a), randn(3))
    check(lambda m, a, b: m.cartesian_prod(a, b), np.arange(3), np.arange(2))
    with pytest.raises(RuntimeError, match=r"1D vector.*\[2, 2\]"):
        nr.cartesian_prod(nr.zeros(2, 2))


@pytest.mark.parametrize("r", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("with_replacement", [False, True])
def test_combinations(r, with_replacement):
    check(lambda m, x: m.combinations(x, r, with_replacement), randn(4), double=True)
    check(lambda m, x: m.combinations(x, r=r, with_replacement=with_replacement), np.arange(4))


def test_combinations_errors():
    with pytest.raises(RuntimeError, match=r"1D vector.*\[2, 2\]"):
        nr.combinations(nr.zeros(2, 2))
    with pytest.raises(RuntimeError, match="non-negative"):
        nr.combinations(nr.zeros(3), -1)


# --- vander --------------------------------------------------------------------------------
@pytest.mark.parametrize("N", [None, 0, 1, 2, 4])
@pytest.mark.parametrize("increasing", [False, True])
def test_vander(N, increasing):
    x = randn(3)
    x[1] = 0.0  # the gradient at 0 must stay finite
    check(lambda m, x: m.vander(x, N, increasing), x, grad=False)
    # torch's vander cannot be differentiated (its backward trips over an in-place cumprod):
    # our gradients are checked by finite differences
    check_gradcheck(lambda m, x: m.vander(x, N, increasing), x, double=True)
    check(lambda m, x: m.vander(x, N=N, increasing=increasing), np.arange(-1, 3))


def test_vander_bool_and_errors():
    check(lambda m, x: m.vander(x), np.array([True, False, True]))
    with pytest.raises(RuntimeError, match=r"one-dimensional.*\(2, 2\)"):
        nr.vander(nr.zeros(2, 2))
    with pytest.raises(RuntimeError, match="non-negative"):
        nr.vander(nr.zeros(2), N=-1)


# --- broadcasting --------------------------------------------------------------------------
def test_broadcast_tensors():
    check(lambda m, a, b, c: m.broadcast_tensors(a, b, c), randn(2, 3), randn(4, 1, 3),
          randn(), double=True)
    check(lambda m, a: m.broadcast_tensors(a), randn(2, 3))
    with pytest.raises(RuntimeError, match=r"\(2, 3\), \(4, 3\)"):
        nr.broadcast_tensors(nr.zeros(2, 3), nr.zeros(4, 3))


@pytest.mark.parametrize("shapes", [(2, (3, 1), ()), ((2, 3), (4, 1, 3)), ((1,), [5, 1]), (),
                                    ((0, 1), (3,)), (0,)])
def test_broadcast_shapes(shapes):
    assert nr.broadcast_shapes(*shapes) == tuple(torch.broadcast_shapes(*shapes))


def test_broadcast_shapes_errors():
    with pytest.raises(RuntimeError, match="length 4 at -2"):
        nr.broadcast_shapes((2, 3), (4, 3))
    with pytest.raises(ValueError, match="negative length"):
        nr.broadcast_shapes((2, -1))


# --- stacking ------------------------------------------------------------------------------
def test_atleast_3d():
    for shape in [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 4)]:
        check(lambda m, x: m.atleast_3d(x), randn(*shape))
    check(lambda m, a, b: m.atleast_3d(a, b), randn(3), randn(2, 2))
    check(lambda m, a, b: m.atleast_3d([a, b]), randn(), randn(2, 2))
    ours = nr.atleast_3d([nr.zeros(2)])
    assert isinstance(ours, tuple) and ours[0].shape == (1, 2, 1)


def test_column_stack():
    check(lambda m, a, b, c: m.column_stack([a, b, c]), randn(3), randn(3, 2), randn(3),
          double=True)
    check(lambda m, a, b: m.column_stack((a, b)), randn(), randn(1, 2))
    with pytest.raises(RuntimeError, match=r"\(2, 1\).*\(3, 1\)|\(3, 1\).*\(2, 1\)"):
        nr.column_stack([nr.zeros(2), nr.zeros(3)])


def test_row_stack_dstack():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates row_stack
        check(lambda m, a, b: m.row_stack([a, b]), randn(3), randn(2, 3))
    check(lambda m, a, b, c: m.dstack([a, b, c]), randn(2, 3), randn(2, 3, 2), randn(2, 3),
          double=True)
    check(lambda m, a, b: m.dstack((a, b)), randn(3), randn(3))
    check(lambda m, a, b: m.dstack((a, b)), randn(), randn())
    with pytest.raises(RuntimeError, match="dim"):
        nr.dstack([nr.zeros(2, 3), nr.zeros(3, 3)])


def test_int_outputs_keep_dtype():
    a = np.arange(3)
    out = nr.cartesian_prod(nr.tensor(a), nr.tensor(a))
    assert_close(out, torch.cartesian_prod(torch.tensor(a), torch.tensor(a)), 0, 0, "cp")
    assert out.dtype == nr.int64


def test_atleast_1d_2d_take_several_tensors_like_torch():
    check(lambda m, a, b: m.atleast_1d(a, b), randn(), randn(2, 3))
    ours = nr.atleast_2d([nr.zeros(3), nr.zeros(())])
    theirs = torch.atleast_2d([torch.zeros(3), torch.zeros(())])
    assert [tuple(t.shape) for t in ours] == [tuple(t.shape) for t in theirs]
    assert tuple(nr.atleast_1d(nr.tensor(2.0)).shape) == (1,)
