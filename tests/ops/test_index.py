import numpy as np
import pytest
import torch

import narae as nr
from narae.autograd import grad_mode
from narae.autograd.sparse import SparseGrad
from helpers import check, randn

I = np.array  # an int array becomes a constant int64 index tensor in check()


# --- __getitem__: each kind ----------------------------------------------------------------
@pytest.mark.parametrize("key", [
    0, -1, (1, 2), (-2, -3, 1), slice(1, None), slice(None, -1), slice(-3, -1),
    slice(None, None, 2), (slice(1, None, 2), slice(None, None, 3)), (Ellipsis, 1),
    (None, 1), (slice(None), None, -1), (0, Ellipsis, None), Ellipsis, (), slice(5, 9),
    (slice(2, 2),),
], ids=str)
def test_getitem_basic(key):
    check(lambda m, x: x[key], randn(3, 4, 2), double=True)


def test_getitem_size1_and_0d():
    check(lambda m, x: x[0], randn(1, 3))
    check(lambda m, x: x[..., 0], randn(4, 1))
    check(lambda m, x: x[()], randn())
    check(lambda m, x: x[None], randn())


def test_getitem_negative_steps():
    # torch refuses negative steps; NumPy semantics are a superset: compare with flip
    def f(m, x):
        return x[::-1, 1::-2] if m is nr else x.flip(0)[:, :2].flip(1)[:, ::2]
    check(f, randn(3, 4), double=True)
    check(lambda m, x: x[::-2] if m is nr else x.flip(0)[::2], randn(5))


@pytest.mark.parametrize("idx", [I([0, 2]), I([2, 0, 2, 2]), I([-1, 0]), I([[0, 1], [2, 2]]),
                                 I([], dtype=np.int64), I(1)], ids=str)
def test_getitem_int_tensor(idx):
    check(lambda m, x, i: x[i], randn(3, 4), idx, double=True)
    check(lambda m, x, i: x[:, i], randn(2, 3), idx, double=True)


def test_getitem_lists_arrays_int32():
    check(lambda m, x: x[[0, 2, 0]], randn(3, 2))
    check(lambda m, x: x[[]], randn(3, 2))
    check(lambda m, x: x[[1, 1], [0, 1]], randn(3, 2))
    x = randn(3, 2).astype(np.float32)
    ours = nr.tensor(x)[nr.tensor([2, 0], dtype=nr.int32)]
    np.testing.assert_array_equal(ours.numpy(), x[[2, 0]])
    np.testing.assert_array_equal(nr.tensor(x)[np.array([1, 1])].numpy(), x[[1, 1]])


def test_getitem_repeated_indices_accumulate():
    x = nr.zeros(4, requires_grad=True)
    x[nr.tensor([1, 1, 3, 1])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 3, 0, 1])
    check(lambda m, x, i: x[i, i], randn(3, 3), I([0, 0, 2]), double=True)


@pytest.mark.parametrize("shape,mshape", [((3, 4), (3, 4)), ((3, 4), (3,)), ((2, 3, 2), (2, 3))])
def test_getitem_bool_mask(shape, mshape):
    mask = np.random.default_rng(1).random(mshape) > 0.4
    check(lambda m, x, k: x[k], randn(*shape), mask, double=True)
    check(lambda m, x, k: x[k], randn(*shape), np.zeros(mshape, bool))  # empty result


def test_getitem_bool_list_and_scalar():
    check(lambda m, x: x[[True, False, True]], randn(3, 2))
    check(lambda m, x: x[True], randn(2))


@pytest.mark.parametrize("shape,key", [
    ((3, 4, 3), lambda i, k: (i, slice(None), 0)),
    ((3, 4, 3), lambda i, k: (slice(1, None), i)),
    ((3, 4, 3), lambda i, k: (i, None, slice(None, None, 2))),
    ((3, 4, 3), lambda i, k: (Ellipsis, i)),
    ((3, 4, 3), lambda i, k: (i, slice(None), i)),  # split advanced indices: their dims go first
    ((4, 3), lambda i, k: (k, i)),                  # mask, then an int tensor
    ((2, 4), lambda i, k: (0, k)),
    ((3, 4, 3), lambda i, k: (slice(None), k, i)),
], ids=range(8))
def test_getitem_mixed(shape, key):
    idx = I([1, 0, 1])
    mask = np.array([True, False, True, True])
    check(lambda m, x, i, k: x[key(i, k)], randn(*shape), idx, mask, double=True)


def test_iteration_uses_getitem():
    check(lambda m, x: m.stack([r * (i + 1) for i, r in enumerate(x)]), randn(3, 2))


# --- __getitem__: the two backward paths ---------------------------------------------------
def test_getitem_sparse_backward_path():
    x = nr.randn(3, 4, requires_grad=True)
    y = x[:, 1]
    y2 = x[nr.tensor([0, 0])]
    with nr.no_grad():
        g = y.grad_fn.backward(nr.ones(3))
        g2 = y2.grad_fn.backward(nr.ones(2, 4))
    assert type(g) is SparseGrad and not g.repeated
    assert type(g2) is SparseGrad and g2.repeated
    np.testing.assert_array_equal(g2.dense(), [[2] * 4, [0] * 4, [0] * 4])


def test_time_loop_matches_torch():
    a = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    xn, xt = nr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    sum(nr.tanh(xn[:, t]) * (t + 1) for t in range(5)).sum().backward()
    sum(torch.tanh(xt[:, t]) * (t + 1) for t in range(5)).sum().backward()
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    # sparse gradients meeting a dense one (x also used whole)
    xn.grad = xt.grad = None
    (sum(xn[:, t].sum() for t in range(0, 5, 2)) + (xn * xn).sum()).backward()
    (sum(xt[:, t].sum() for t in range(0, 5, 2)) + (xt * xt).sum()).backward()
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_getitem_sparse_grad_into_nonleaf():
    check(lambda m, x: sum(((x * 2.0)[i] ** 2).sum() for i in (0, 1, 1)), randn(3, 2))


def test_getitem_create_graph():
    x = nr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x[nr.tensor([0, 2, 2])] ** 2).sum()
    (g,) = nr.autograd.grad(y, [x], create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(g.numpy() if not g.requires_grad else g.detach().numpy(),
                               [2.0, 0.0, 12.0])
    (gg,) = nr.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), [2.0, 0.0, 4.0])
    # basic slices too
    (g,) = nr.autograd.grad((x[1:] ** 3).sum(), [x], create_graph=True)
    (gg,) = nr.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), [0.0, 12.0, 18.0])


# --- __getitem__: errors ---------------------------------------------------------------------
def test_getitem_errors():
    x = nr.zeros(3, 4)
    with pytest.raises(IndexError, match="float32"):
        x[nr.tensor([0.0, 1.0])]
    with pytest.raises(IndexError, match="float64"):
        x[np.array([0.5])]
    with pytest.raises(IndexError, match="size 3"):
        x[5]
    with pytest.raises(IndexError, match="size 4"):
        x[:, nr.tensor([1, 4])]
    with pytest.raises(IndexError, match="size 3"):
        x[[-4]]
    with pytest.raises(IndexError, match="mask"):
        x[nr.tensor([True, False])]
    with pytest.raises(IndexError, match="too many"):
        x[0, 0, 0]


# --- __setitem__ -----------------------------------------------------------------------------
def test_setitem_outside_graph():
    x = nr.zeros(3, 4)
    v0 = x._version_number
    x[1] = 2.0
    x[:, nr.tensor([0, 3])] = nr.ones(3, 2) * 5
    x[x > 4] = -1.0
    x[0, 1:3] = nr.tensor([7.0, 8.0])
    assert x._version_number == v0 + 4
    t = torch.zeros(3, 4)
    t[1] = 2.0
    t[:, torch.tensor([0, 3])] = torch.ones(3, 2) * 5
    t[t > 4] = -1.0
    t[0, 1:3] = torch.tensor([7.0, 8.0])
    np.testing.assert_array_equal(x.numpy(), t.numpy())
    with nr.no_grad():
        w = nr.zeros(2, requires_grad=True)
        w[0] = 1.0
    assert w.grad_fn is None and w.tolist() == [1.0, 0.0]
    i = nr.zeros(3, dtype=nr.int64)
    i[1] = 2.7
    assert i.tolist() == [0, 2, 0]


@pytest.mark.parametrize("key,vshape", [
    ((1,), (4,)), ((slice(None), 2), (3,)), ((slice(0, 2), slice(1, 3)), (2, 2)),
    ((slice(None), 1), (1,)), ((I([0, 2]),), (2, 4)), ((slice(None), I([3, 1])), (1, 2)),
    ((Ellipsis, slice(None, None, 2)), (2,)),
], ids=range(7))
def test_setitem_gradients(key, vshape):
    def f(m, x, v):
        y = x * 1.0  # torch: setitem needs a non-leaf; narae: same rule
        k = tuple(m.from_numpy(a) if isinstance(a, np.ndarray) else a for a in key)
        y[k] = v
        return y * y
    check(f, randn(3, 4), randn(*vshape), double=True)


def test_setitem_mask_and_scalar():
    mask = np.random.default_rng(2).random((3, 4)) > 0.5

    def f(m, x, k):
        y = x * 2.0
        y[k] = 0.5
        return y
    check(f, randn(3, 4), mask)

    def g(m, x, v, k):
        y = x + 0.0
        y[k] = v
        return y
    check(lambda m, x, v, k: g(m, x, v[0], k), randn(3, 4), randn(1), mask)


def test_setitem_value_only_needs_grad():
    def f(m, v):
        buf = m.zeros(2, 3, dtype=v.dtype)
        buf[1, 1:] = v
        return buf
    check(f, randn(2))


def test_setitem_leaf_in_graph_raises():
    x = nr.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x[0] = 1.0


def test_setitem_errors():
    x = nr.zeros(3)
    with pytest.raises(IndexError, match="float32"):
        x[nr.tensor([1.0])] = 1.0
    with pytest.raises(IndexError, match="size 3"):
        x[3] = 1.0


# --- gather / scatter / index_select ---------------------------------------------------------
@pytest.mark.parametrize("dim,idx", [
    (0, I([[0, 1, 2], [2, 2, 0]])), (1, I([[1, 0], [3, 3], [0, 2]])), (-1, I([[0], [1], [2]])),
    (0, I([[1]])), (1, np.zeros((3, 0), np.int64)),
], ids=range(5))
def test_gather(dim, idx):
    check(lambda m, x, i: m.gather(x, dim, i), randn(3, 4), idx, double=True)
    check(lambda m, x, i: x.gather(dim, i), randn(3, 4), idx)


def test_gather_int32_and_errors():
    x = nr.arange(6.0).reshape(2, 3)
    assert nr.gather(x, 1, nr.tensor([[2], [0]], dtype=nr.int32)).tolist() == [[2.0], [3.0]]
    with pytest.raises(RuntimeError, match="gather.*float32"):
        nr.gather(x, 1, nr.tensor([[0.0]]))
    with pytest.raises(IndexError, match="size 3"):
        nr.gather(x, 1, nr.tensor([[3]]))
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        nr.gather(x, 1, nr.tensor([0]))


@pytest.mark.parametrize("dim,idx", [(0, I([[0, 1, 2], [1, 2, 0]])), (1, I([[3, 0], [1, 2]])),
                                     (-1, I([[2], [0], [1]]))], ids=range(3))
def test_scatter(dim, idx):
    # distinct targets: scatter with repeated targets is order-dependent in torch
    check(lambda m, x, i, s: m.scatter(x, dim, i, s), randn(3, 4), idx, randn(*idx.shape),
          double=True)
    check(lambda m, x, i: x.scatter(dim, i, 2.5), randn(3, 4), idx)
    check(lambda m, x, i: m.scatter(x, dim, i, value=-1.0), randn(3, 4), idx)


@pytest.mark.parametrize("dim,idx", [(0, I([[0, 0, 2], [0, 2, 0]])), (1, I([[3, 3], [1, 3]])),
                                     (-1, I([[2, 2, 2]]))], ids=range(3))
def test_scatter_add(dim, idx):
    check(lambda m, x, i, s: m.scatter_add(x, dim, i, s), randn(3, 4), idx, randn(*idx.shape),
          double=True)
    check(lambda m, x, i, s: x.scatter_add(dim, i, s), randn(3, 4), idx, randn(*idx.shape))
    # a src larger than index: only its leading corner is read (torch has no gradient for it)
    check(lambda m, x, i, s: x.scatter_add(dim, i, s), randn(3, 4), idx, randn(3, 4),
          grad=False)


def test_scatter_inplace_and_errors():
    x = nr.zeros(2, 3)
    x.scatter_(1, nr.tensor([[2], [0]]), nr.ones(2, 1))
    x.scatter_add_(0, nr.tensor([[1, 1, 1]]), nr.ones(1, 3))
    assert x.tolist() == [[0, 0, 1], [2, 1, 1]]
    with pytest.raises(RuntimeError, match="scatter.*float32"):
        nr.scatter(x, 0, nr.tensor([[0.0]]), nr.ones(1, 1))
    with pytest.raises(IndexError, match="size 2"):
        nr.scatter_add(x, 0, nr.tensor([[2]]), nr.ones(1, 1))


@pytest.mark.parametrize("dim,idx", [(0, I([2, 0, 2])), (1, I([1])), (-1, I([], np.int64)),
                                     (1, I([3, 0, 3, 3]))], ids=range(4))
def test_index_select(dim, idx):
    check(lambda m, x, i: m.index_select(x, dim, i), randn(3, 4), idx, double=True)
    check(lambda m, x, i: x.index_select(dim, i), randn(3, 4), idx)


def test_index_select_errors():
    with pytest.raises(RuntimeError, match="index_select.*float32"):
        nr.index_select(nr.zeros(3), 0, nr.tensor([0.0]))
    with pytest.raises(IndexError, match="size 3"):
        nr.index_select(nr.zeros(3), 0, nr.tensor([3]))


@pytest.mark.parametrize("dim,idx", [(0, I([2, 0, 2])), (1, I([1, 1]))], ids=range(2))
def test_index_add(dim, idx):
    sshape = (3, 4) if dim == 0 else (3, 2)
    check(lambda m, x, i, s: m.index_add(x, dim, i, s), randn(3, 4), idx, randn(*sshape),
          double=True)
    check(lambda m, x, i, s: x.index_add(dim, i, s, alpha=2.0), randn(3, 4), idx, randn(*sshape))
    with pytest.raises(RuntimeError, match=r"\(3, 4\)"):
        nr.index_add(nr.zeros(3, 4), 0, nr.tensor([0]), nr.zeros(2, 4))


@pytest.mark.parametrize("dim,ishape", [(0, (2, 3)), (0, (4, 1)), (1, (1, 2)), (None, (5,)),
                                        (-1, (3, 1))])
def test_take_along_dim(dim, ishape):
    idx = np.random.default_rng(3).integers(0, 3, ishape)
    check(lambda m, x, i: m.take_along_dim(x.contiguous(), i, dim), randn(3, 3), idx)


# --- masks -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mshape", [(3, 4), (4,), (3, 1)])
def test_masked_fill(mshape):
    mask = np.random.default_rng(4).random(mshape) > 0.5
    check(lambda m, x, k: m.masked_fill(x, k, -2.0), randn(3, 4), mask, double=True)
    check(lambda m, x, k: x.masked_fill(k, 0.5), randn(3, 4), mask)
    check(lambda m, x, k, v: x.masked_fill(k, v[0]), randn(3, 4), mask, randn(1))


def test_masked_fill_inplace_and_errors():
    x = nr.arange(4.0)
    x.masked_fill_(x > 1.5, 9.0)
    assert x.tolist() == [0, 1, 9, 9]
    with pytest.raises(TypeError, match="bool"):
        x.masked_fill(nr.tensor([1, 0, 0, 0]), 1.0)
    check(lambda m, x, k: (x * 1.0).masked_fill_(k, 0.0), randn(2, 3), np.eye(2, 3, dtype=bool))


@pytest.mark.parametrize("mshape", [(3, 4), (4,), (1, 4)])
def test_masked_select(mshape):
    mask = np.random.default_rng(5).random(mshape) > 0.5
    check(lambda m, x, k: m.masked_select(x, k), randn(3, 4), mask, double=True)
    check(lambda m, x, k: x.masked_select(k), randn(3, 4), np.zeros(mshape, bool))


def test_nonzero_argwhere_where():
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    for arr in (a, a[0], np.array(3.0), np.array(0.0), a > 0):
        tn, tt = nr.tensor(arr), torch.tensor(arr)
        np.testing.assert_array_equal(nr.nonzero(tn).numpy(), torch.nonzero(tt).numpy())
        assert nr.nonzero(tn).dtype == nr.int64
        np.testing.assert_array_equal(nr.argwhere(tn).numpy(), torch.argwhere(tt).numpy())
        for o, t in zip(nr.nonzero(tn, as_tuple=True), torch.nonzero(tt, as_tuple=True)):
            np.testing.assert_array_equal(o.numpy(), t.numpy())
    for o, t in zip(nr.where(nr.tensor(a) > 0), torch.where(torch.tensor(a) > 0)):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    assert nr.tensor(a).nonzero().shape == (3, 2)


# --- sorting ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort(dim, descending):
    check(lambda m, x: m.sort(x, dim, descending), randn(3, 4), double=True)
    check(lambda m, x: x.sort(dim=dim, descending=descending).values, randn(3, 4))
    check(lambda m, x: m.argsort(x, dim, descending), randn(3, 4), grad=False)


def test_sort_stable_ties_and_0d():
    a = np.array([[2.0, 1.0, 2.0, 1.0, 3.0, 2.0], [0.0, 0.0, 0.0, 1.0, 1.0, 0.0]])
    for desc in (False, True):
        o = nr.sort(nr.tensor(a), descending=desc, stable=True)
        t = torch.sort(torch.tensor(a), descending=desc, stable=True)
        np.testing.assert_array_equal(o.indices.numpy(), t.indices.numpy())
        np.testing.assert_array_equal(o.values.numpy(), t.values.numpy())
    ints = np.array([3, 1, 2])
    np.testing.assert_array_equal(nr.sort(nr.tensor(ints))[0].numpy(), [1, 2, 3])
    check(lambda m, x: m.sort(x), randn())


@pytest.mark.parametrize("k,dim,largest", [(2, -1, True), (1, 0, False), (3, 1, False),
                                           (0, 1, True), (3, 0, True)])
def test_topk(k, dim, largest):
    check(lambda m, x: m.topk(x, k, dim, largest), randn(3, 4), double=True)
    check(lambda m, x: x.topk(k, dim=dim, largest=largest).values, randn(3, 4))


def test_topk_errors():
    with pytest.raises(RuntimeError, match="k=5.*size 4"):
        nr.topk(nr.zeros(3, 4), 5)


@pytest.mark.parametrize("k,dim,keepdim", [(1, -1, False), (2, 0, True), (4, 1, False)])
def test_kthvalue(k, dim, keepdim):
    check(lambda m, x: m.kthvalue(x, k, dim, keepdim), randn(3, 4))
    with pytest.raises(RuntimeError, match="out of range"):
        nr.kthvalue(nr.zeros(3), 4)


# --- one_hot -----------------------------------------------------------------------------------
def test_one_hot():
    F = torch.nn.functional
    for arr, n in ((np.array([0, 2, 1]), -1), (np.array([[1], [0]]), 4), (np.array(2), 3)):
        o, t = nr.one_hot(nr.tensor(arr), n), F.one_hot(torch.tensor(arr), n)
        assert o.dtype == nr.int64
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    with pytest.raises(RuntimeError, match="int64"):
        nr.one_hot(nr.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="num_classes"):
        nr.one_hot(nr.tensor([0, 3]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        nr.one_hot(nr.tensor([-1, 0]))


@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_with_reduce(reduce):
    index = np.array([[0, 1, 0], [2, 0, 1]])
    check(lambda m, x, s, i: m.scatter(x, 0, i, s, reduce=reduce), randn(3, 3), randn(2, 3),
          index, grad=False)
    check(lambda m, x, i: m.scatter(x, 1, i, 2.0, reduce=reduce), randn(2, 3), index,
          grad=False)
