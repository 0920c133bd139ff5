"""narae/ops/scatter.py against torch: index_copy/fill/put/reduce, scatter_reduce, take, put,
masked_scatter and select/slice/diagonal_scatter (forward, gradients, in-place variants)."""
import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn

REDUCES = ["sum", "prod", "mean", "amax", "amin"]
pytestmark = pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")


def _both(fn, *arrays):
    """fn on narae and torch with the same constant inputs: outputs must be equal."""
    ours = fn(nr, *[nr.from_numpy(a) for a in arrays])
    theirs = fn(torch, *[torch.from_numpy(a) for a in arrays])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")


# --- scatter_reduce -------------------------------------------------------------------------------
@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    idx = np.array([[0, 1, 0, 2], [2, 2, 1, 0]])
    check(lambda m, x, i, s: m.scatter_reduce(x, 1, i, s, reduce, include_self=include_self),
          randn(2, 3), idx, randn(2, 4), double=True)


@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_dim0_smaller_index_and_method(reduce):
    idx = np.array([[1, 0], [1, 1], [0, 3]])  # index smaller than input (4, 3) in dim 1
    check(lambda m, x, i, s: x.scatter_reduce(-2, i, s, reduce), randn(4, 3), idx, randn(3, 2))


def test_scatter_reduce_reads_only_the_index_corner_of_src():
    # (torch's backward rejects a src larger than index, so compare forward values only)
    idx = np.array([[1, 0], [1, 1]])
    _both(lambda m, x, i, s: m.scatter_reduce(x, 0, i, s, "sum"), randn(3, 3), idx, randn(3, 3))


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_with_zeros(include_self):
    x = randn(2, 4)
    x[0, 1] = 0.0
    src = randn(2, 5)
    src[0, 0] = 0.0   # single zero scattered onto position (0, 2)
    src[1, 1] = src[1, 3] = 0.0  # two zeros onto (1, 0)
    idx = np.array([[2, 1, 3, 3, 0], [0, 0, 2, 0, 1]])
    check(lambda m, x, i, s: m.scatter_reduce(x, 1, i, s, "prod", include_self=include_self),
          x, idx, src)


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_scatter_reduce_ties_share_gradient(reduce):
    x = np.array([[1.0, 2.0, 3.0]])
    src = np.array([[1.0, 1.0, 3.0, 3.0]]) * (1 if reduce == "amax" else -1)
    x = x * (1 if reduce == "amax" else -1)
    idx = np.array([[0, 0, 2, 2]])
    check(lambda m, x, i, s: m.scatter_reduce(x, 1, i, s, reduce), x, idx, src,
          gradcheck=False)


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_integers(reduce, include_self):
    x = np.arange(-6, 6).reshape(3, 4).astype(np.int64)
    src = np.array([[5, -7, 2], [3, 3, -1]], dtype=np.int64)
    idx = np.array([[0, 0, 3], [2, 2, 2]])
    _both(lambda m, x, i, s: m.scatter_reduce(x, 1, i, s, reduce, include_self=include_self),
          x, idx, src)


def test_scatter_reduce_errors():
    x, i = nr.zeros(2, 3), nr.tensor([[0, 1]])
    with pytest.raises(RuntimeError, match="reduce argument"):
        nr.scatter_reduce(x, 1, i, nr.ones(1, 2), "max2")
    with pytest.raises(RuntimeError, match="same dtype"):
        nr.scatter_reduce(x, 1, i, nr.ones(1, 2, dtype=nr.float64), "sum")
    with pytest.raises(IndexError, match="out of bounds"):
        nr.scatter_reduce(x, 1, nr.tensor([[0, 3]]), nr.ones(1, 2), "sum")
    with pytest.raises(RuntimeError, match=r"\(1, 2\)"):
        nr.scatter_reduce(x, 1, nr.tensor([[0, 1, 2]]), nr.ones(1, 2), "sum")


def test_scatter_reduce_inplace_and_0d():
    x = nr.tensor([[1.0, 2.0, 3.0]])
    y = x.scatter_reduce_(1, nr.tensor([[0, 0, 2]]), nr.tensor([[5.0, 7.0, 1.0]]), "amax")
    assert y is x
    np.testing.assert_array_equal(x.numpy(), [[7.0, 2.0, 3.0]])
    out = nr.scatter_reduce(nr.tensor(2.0), 0, nr.tensor([0, 0]), nr.tensor([3.0, 4.0]), "prod")
    assert out.shape == () and out.item() == 24.0


def test_scatter_reduce_inplace_in_graph():
    a = nr.tensor([[1.0, 5.0, 3.0]], requires_grad=True)
    s = nr.tensor([[4.0, 2.0]], requires_grad=True)
    x = a * 1.0
    x.scatter_reduce_(1, nr.tensor([[0, 1]]), s, "prod")
    x.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [[4.0, 2.0, 1.0]])
    np.testing.assert_allclose(s.grad.numpy(), [[1.0, 5.0]])


# --- index_reduce ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce(reduce, include_self):
    idx = np.array([0, 2, 0, 3, 0])
    check(lambda m, x, i, s: m.index_reduce(x, 1, i, s, reduce, include_self=include_self),
          randn(3, 4), idx, randn(3, 5), double=True)


def test_index_reduce_dim0_negative_dim_and_method():
    check(lambda m, x, i, s: x.index_reduce(-3, i, s, "amax"), randn(3, 2, 2),
          np.array([2, 2]), randn(2, 2, 2))


def test_index_reduce_inplace_and_errors():
    x = nr.ones(2, 3)
    x.index_reduce_(0, nr.tensor([1, 1]), nr.full((2, 3), 2.0), "prod", include_self=False)
    np.testing.assert_array_equal(x.numpy(), [[1, 1, 1], [4, 4, 4]])
    with pytest.raises(RuntimeError, match="reduce argument"):
        nr.index_reduce(x, 0, nr.tensor([0]), nr.ones(1, 3), "sum")
    with pytest.raises(RuntimeError, match=r"\(3, 2\)"):
        nr.index_reduce(x, 1, nr.tensor([0, 1]), nr.ones(3, 2), "prod")
    with pytest.raises(IndexError, match="out of bounds"):
        nr.index_reduce(x, 1, nr.tensor([0, 3]), nr.ones(2, 2), "prod")
    with pytest.raises(RuntimeError, match="same dtype"):
        nr.index_reduce(x, 1, nr.tensor([0, 1]), nr.ones(2, 2, dtype=nr.float64), "prod")


# --- index_copy / index_fill ----------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_copy(dim):
    x = randn(3, 4)
    idx = np.array([2, 0])
    src = randn(2, 4) if dim == 0 else randn(3, 2)
    check(lambda m, x, i, s: m.index_copy(x, dim, i, s), x, idx, src, double=True)


def test_index_copy_inplace_method_and_errors():
    x = nr.zeros(2, 3)
    x.index_copy_(1, nr.tensor([2]), nr.ones(2, 1))
    np.testing.assert_array_equal(x.numpy(), [[0, 0, 1], [0, 0, 1]])
    with pytest.raises(RuntimeError, match=r"\(3, 2\)"):
        x.index_copy(1, nr.tensor([0, 1]), nr.ones(3, 2))
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_copy(1, nr.tensor([-1]), nr.ones(2, 1))
    with pytest.raises(IndexError, match="0 or 1 dimensions"):
        x.index_copy(1, nr.tensor([[0]]), nr.ones(2, 1))
    with pytest.raises(RuntimeError, match="same dtype"):
        x.index_copy(1, nr.tensor([0]), nr.ones(2, 1, dtype=nr.float64))


@pytest.mark.parametrize("dim,idx", [(0, [1]), (1, [0, -1, 0]), (-1, [2])])
def test_index_fill_number(dim, idx):
    check(lambda m, x, i: m.index_fill(x, dim, i, -2.5), randn(3, 4), np.array(idx))


def test_index_fill_tensor_value_gradient_counts_repeats_once():
    check(lambda m, x, i, v: x.index_fill(1, i, v), randn(3, 4), np.array([1, 1, 3]),
          randn(), double=True)


def test_index_fill_inplace_and_errors():
    x = nr.zeros(2, 3)
    x.index_fill_(0, nr.tensor([1]), 4)
    np.testing.assert_array_equal(x.numpy(), [[0, 0, 0], [4, 4, 4]])
    with pytest.raises(RuntimeError, match="0-dimensional"):
        x.index_fill(0, nr.tensor([1]), nr.ones(1))
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_fill(1, nr.tensor([3]), 1.0)


# --- index_put --------------------------------------------------------------------------------
@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_int_indices(accumulate):
    rows, cols = np.array([0, 2, 0]), np.array([1, 3, 1])
    vals = randn(3)
    check(lambda m, x, r, c, v: m.index_put(x, (r, c), v, accumulate=accumulate),
          randn(3, 4), rows, cols, vals, diff=None if accumulate else [0])


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_broadcast_values_and_bool_mask(accumulate):
    check(lambda m, x, r, v: x.index_put((r,), v, accumulate), randn(3, 4),
          np.array([2, 0]), randn(4), double=True)
    check(lambda m, x, k, v: x.index_put((k,), v, accumulate), randn(3, 4),
          np.array([True, False, True]), randn(1, 4))


def test_index_put_none_is_a_full_slice():
    x = nr.zeros(2, 3)
    out = nr.index_put(x, (None, nr.tensor([0, 2])), nr.tensor(5.0))
    np.testing.assert_array_equal(out.numpy(), [[5, 0, 5], [5, 0, 5]])


def test_index_put_inplace_and_errors():
    x = nr.zeros(3)
    x.index_put_((nr.tensor([0, 0, 2]),), nr.tensor([1.0, 2.0, 3.0]), accumulate=True)
    np.testing.assert_array_equal(x.numpy(), [3, 0, 3])
    with pytest.raises(RuntimeError, match="same dtype"):
        x.index_put((nr.tensor([0]),), nr.tensor([1]))
    with pytest.raises(IndexError, match=r"shape \(3,\)"):
        x.index_put((nr.tensor([5]),), nr.tensor([1.0]))
    with pytest.raises(TypeError, match="tuple"):
        x.index_put(nr.tensor([0]), nr.tensor([1.0]))


# --- take / put -------------------------------------------------------------------------------
def test_take():
    check(lambda m, x, i: m.take(x, i), randn(3, 4), np.array([[0, -1], [5, 5]]), double=True)
    check(lambda m, x, i: x.take(i), randn(5), np.array(3))


def test_take_errors():
    with pytest.raises(IndexError, match="out of range"):
        nr.take(nr.zeros(3, 4), nr.tensor([12]))
    with pytest.raises(RuntimeError, match="int64"):
        nr.take(nr.zeros(3, 4), nr.tensor([1.0]))


@pytest.mark.parametrize("accumulate", [False, True])
def test_put(accumulate):
    check(lambda m, x, i, s: m.put(x, i, s, accumulate), randn(3, 4),
          np.array([[-1, 0], [5, 0 if accumulate else 6]]), randn(2, 2), double=True)


def test_put_inplace_and_errors():
    x = nr.zeros(2, 2)
    x.put_(nr.tensor([3, 3]), nr.tensor([1.0, 2.0]), accumulate=True)
    np.testing.assert_array_equal(x.numpy(), [[0, 0], [0, 3]])
    with pytest.raises(IndexError, match="same number of elements"):
        x.put(nr.tensor([0, 1]), nr.ones(3))
    with pytest.raises(IndexError, match="out of range"):
        x.put(nr.tensor([4]), nr.ones(1))


# --- masked_scatter ---------------------------------------------------------------------------
def test_masked_scatter():
    mask = np.array([[True, False, True, False], [False, False, True, True],
                     [True, True, True, False]])
    check(lambda m, x, k, s: m.masked_scatter(x, k, s), randn(3, 4), mask, randn(10),
          double=True)


def test_masked_scatter_broadcasts_input_and_mask():
    check(lambda m, x, k, s: x.masked_scatter(k, s), randn(4), np.array([[True], [False]]),
          randn(2, 3))
    check(lambda m, x, k, s: m.masked_scatter(x, k, s), randn(2, 1), np.array([True, False]),
          randn(5))


def test_masked_scatter_inplace_empty_and_errors():
    x = nr.zeros(2, 2)
    x.masked_scatter_(nr.tensor([True, False]), nr.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.numpy(), [[1, 0], [2, 0]])
    out = nr.masked_scatter(x, nr.zeros(2, 2, dtype=nr.bool), nr.zeros(0))
    np.testing.assert_array_equal(out.numpy(), x.numpy())
    with pytest.raises(RuntimeError, match="number of ones in mask"):
        nr.masked_scatter(x, nr.ones(2, 2, dtype=nr.bool), nr.ones(3))
    with pytest.raises(TypeError, match="boolean"):
        nr.masked_scatter(x, nr.tensor([1, 0]), nr.ones(3))
    with pytest.raises(RuntimeError, match="same dtype"):
        nr.masked_scatter(x, nr.tensor([True, False]), nr.ones(3, dtype=nr.float64))
    with pytest.raises(RuntimeError, match="broadcast"):
        x.masked_scatter_(nr.ones(3, 2, 2, dtype=nr.bool), nr.ones(12))


# --- select / slice / diagonal scatter -------------------------------------------------------------
@pytest.mark.parametrize("dim,index", [(0, 1), (1, -1), (-1, 0)])
def test_select_scatter(dim, index):
    x = randn(3, 4)
    src = randn(4) if dim == 0 else randn(3)
    check(lambda m, x, s: m.select_scatter(x, s, dim, index), x, src, double=True)


@pytest.mark.parametrize("args", [(1, 0, 4, 2), (0, 1, None, 1), (1, -2, None, 1),
                                  (1, None, 10, 3)])
def test_slice_scatter(args):
    dim, start, end, step = args
    x = randn(3, 4)
    src_shape = torch.zeros(3, 4)[(slice(None),) * dim + (slice(start, end, step),)].shape
    check(lambda m, x, s: x.slice_scatter(s, dim, start, end, step), x, randn(*src_shape),
          double=True)


@pytest.mark.parametrize("offset,dim1,dim2", [(0, 0, 1), (1, 0, 1), (-2, 1, 0), (1, 2, 0),
                                              (0, -1, -3)])
def test_diagonal_scatter(offset, dim1, dim2):
    x = randn(3, 2, 4)
    length = torch.zeros(3, 2, 4).diagonal(offset, dim1, dim2).shape
    check(lambda m, x, s: m.diagonal_scatter(x, s, offset, dim1, dim2), x, randn(*length),
          double=True)


def test_embedding_scatter_casts_and_errors():
    x = nr.zeros(3, 4)
    out = nr.select_scatter(x, nr.ones(3, dtype=nr.float64), 1, 0)
    assert out.dtype == nr.float32
    with pytest.raises(RuntimeError, match=r"src size = \[4\], slice size = \[3\]"):
        nr.select_scatter(x, nr.ones(4), 1, 0)
    with pytest.raises(IndexError, match="out of range"):
        nr.select_scatter(x, nr.ones(3), 1, 4)
    with pytest.raises(RuntimeError, match="step must be positive"):
        nr.slice_scatter(x, nr.ones(3, 0), 1, 0, 4, -1)
    with pytest.raises(RuntimeError, match=r"slice size = \[3, 2\]"):
        nr.slice_scatter(x, nr.ones(3, 3), 1, 0, 4, 2)
    with pytest.raises(RuntimeError, match="cannot be identical"):
        nr.diagonal_scatter(x, nr.ones(3), 0, 0, 0)
    with pytest.raises(RuntimeError, match=r"slice size = \[2\]"):
        nr.diagonal_scatter(x, nr.ones(3), 2)


def test_index_put_top_level_inplace():
    x = nr.zeros(2, 2)
    assert nr.index_put_(x, (nr.tensor([1]), nr.tensor([0])), nr.tensor(3.0)) is x
    np.testing.assert_array_equal(x.numpy(), [[0, 0], [3, 0]])
