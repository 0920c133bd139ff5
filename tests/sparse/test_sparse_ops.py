"""narae.sparse ops against torch's sparse COO layout: forward, backward (through the values
and the dense operands), float64 gradchecks, and the sparse gradients of sparse leaves."""
import warnings

import numpy as np
import pytest
import torch

import narae as nr
from helpers import check_gradcheck, randn, RNG

warnings.filterwarnings("ignore", message="Sparse invariant checks")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

IX = np.array([[0, 1, 1, 0, 2], [2, 0, 2, 2, 3]])          # (0, 2) repeats: uncoalesced
IX3 = np.array([[0, 1, 1, 0], [2, 0, 2, 1], [1, 1, 0, 1]])   # 3 sparse dims


def sp(m, v, ix=IX, size=(3, 4)):
    return m.sparse_coo_tensor(m.tensor(ix) if m is nr else torch.tensor(ix), v, size)


def dense(t):
    return t.to_dense() if t.is_sparse else t


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach()._data)


def same_sparse(ours, theirs, atol=1e-5):
    """Equal as sparse tensors: layout, shape, sparse/dense dims, coalesced parts."""
    assert ours.is_sparse and theirs.is_sparse
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.sparse_dim() == theirs.sparse_dim() and ours.dense_dim() == theirs.dense_dim()
    o, t = ours.coalesce(), theirs.coalesce()
    np.testing.assert_array_equal(_np(o.indices()), _np(t.indices()))
    np.testing.assert_allclose(_np(o.values()), _np(t.values()), atol=atol, rtol=1e-4)


def _dense_np(t):
    if t is None:
        return None
    t = t.to_dense() if t.is_sparse else t
    return _np(t)


def check(fn, *args, ref=None, grad=True, gradcheck=True, double=False, atol=1e-5):
    """Parity with torch (``ref(torch, ...)`` when torch's sparse op lacks a backward: its
    dense equivalent), comparing outputs and gradients in their dense form (torch gives
    some dense inputs sparse gradients), plus a float64 gradcheck of narae's op."""
    ref = ref or fn
    ours = [nr.tensor(a.astype(np.float32), requires_grad=grad) if a.dtype.kind == "f"
            else nr.tensor(a) for a in args]
    theirs = [torch.tensor(a.astype(np.float32), requires_grad=grad) if a.dtype.kind == "f"
              else torch.tensor(a) for a in args]
    o, t = fn(nr, *ours), ref(torch, *theirs)
    np.testing.assert_allclose(_dense_np(o), _dense_np(t), atol=atol, rtol=1e-4)
    assert o.dtype.name == str(t.dtype).replace("torch.", "")
    if not grad:
        return
    w = RNG.standard_normal(tuple(t.shape)).astype(np.float32)
    diff = [i for i, a in enumerate(args) if a.dtype.kind == "f"]
    go = nr.autograd.grad((dense(o) * nr.tensor(w)).sum(), [ours[i] for i in diff],
                          allow_unused=True, create_graph=double)
    gt = torch.autograd.grad((dense(t) * torch.tensor(w)).sum(), [theirs[i] for i in diff],
                             allow_unused=True, create_graph=double)
    for k, (a, b) in enumerate(zip(go, gt)):
        if b is None:
            assert a is None or not _dense_np(a).any()
            continue
        np.testing.assert_allclose(_dense_np(a), _dense_np(b), atol=atol, rtol=1e-4,
                                   err_msg=f"gradient of input {diff[k]}")
    if double:
        v = [RNG.standard_normal(tuple(b.shape)).astype(np.float32) for b in gt]
        go2 = nr.autograd.grad(sum((dense(a) * nr.tensor(x)).sum() for a, x in zip(go, v)),
                               [ours[i] for i in diff], allow_unused=True)
        gt2 = torch.autograd.grad(sum((dense(b) * torch.tensor(x)).sum() for b, x in zip(gt, v)),
                                  [theirs[i] for i in diff], allow_unused=True)
        for a, b in zip(go2, gt2):
            if b is not None:
                np.testing.assert_allclose(_dense_np(a), _dense_np(b), atol=1e-4, rtol=1e-3)
    if gradcheck:
        check_gradcheck(lambda m, *xs: dense(fn(m, *xs)), *args, double=double)


# -- construction and structure -------------------------------------------------------------
def test_construct_and_structure():
    v = randn(5).astype(np.float32)
    o, t = sp(nr, nr.tensor(v)), sp(torch, torch.tensor(v))
    assert o.layout is nr.sparse_coo and nr.strided is nr.zeros(1).layout
    assert o.is_sparse and not nr.zeros(1).is_sparse
    assert tuple(o.shape) == tuple(t.shape) and o.size() == tuple(t.size()) and o.size(1) == 4
    assert o.dtype == nr.float32 and o.device == nr.device("cpu")
    assert o._nnz() == t._nnz() == 5 and not o.is_coalesced()
    assert o.sparse_dim() == 2 and o.dense_dim() == 0
    np.testing.assert_array_equal(_np(o._indices()), _np(t._indices()))
    np.testing.assert_array_equal(_np(o._values()), _np(t._values()))
    np.testing.assert_allclose(_np(o.to_dense()), _np(t.to_dense()))
    same_sparse(o, t)
    c = o.coalesce()
    assert c.is_coalesced() and c.coalesce() is c and c._nnz() == 4
    with pytest.raises(RuntimeError, match="uncoalesced"):
        o.indices()
    with pytest.raises(RuntimeError, match="uncoalesced"):
        o.values()


def test_size_inferred_and_hybrid():
    v = randn(4, 2).astype(np.float32)
    o = nr.sparse_coo_tensor(nr.tensor(IX[:, :4]), nr.tensor(v))
    t = torch.sparse_coo_tensor(torch.tensor(IX[:, :4]), torch.tensor(v))
    assert tuple(o.shape) == tuple(t.shape) == (2, 3, 2)
    assert o.sparse_dim() == 1 + 1 and o.dense_dim() == 1
    same_sparse(o, t)
    np.testing.assert_allclose(_np(o.to_dense()), _np(t.to_dense()))


def test_dtype_device_requires_grad_and_empty():
    o = nr.sparse_coo_tensor([[0, 1], [1, 0]], [1.0, 2.0], (2, 2), dtype=nr.float64,
                             requires_grad=True)
    assert o.dtype == nr.float64 and o.requires_grad and o.is_leaf
    e = nr.sparse_coo_tensor(nr.zeros((2, 0), dtype=nr.int64), nr.zeros(0), (2, 2))
    assert e._nnz() == 0 and e.to_dense().sum().item() == 0
    assert e.is_coalesced()


@pytest.mark.parametrize("sd", [None, 1, 2])
def test_to_sparse(sd):
    a = randn(3, 4).astype(np.float32)
    a[a < 0.2] = 0
    o = nr.tensor(a).to_sparse(sd) if sd else nr.tensor(a).to_sparse()
    t = torch.tensor(a).to_sparse(sd) if sd else torch.tensor(a).to_sparse()
    same_sparse(o, t)
    assert o.is_coalesced() == t.is_coalesced()
    same_sparse(nr.tensor(a).to_sparse_coo(), torch.tensor(a).to_sparse_coo())
    assert o.to_sparse() is o


def test_repr_like_torch():
    v = np.array([3.0, 4.0, 5.0], np.float32)
    ix = np.array([[0, 1, 1], [2, 0, 2]])
    o = nr.sparse_coo_tensor(nr.tensor(ix), nr.tensor(v), (2, 3))
    t = torch.sparse_coo_tensor(torch.tensor(ix), torch.tensor(v), (2, 3))
    assert repr(o) == repr(t).replace("torch.", "narae.")
    o = o.double().requires_grad_()
    t = t.double().requires_grad_()
    assert repr(o) == repr(t).replace("torch.", "narae.")
    z, zt = nr.zeros(2, 2).to_sparse(), torch.zeros(2, 2).to_sparse()
    assert repr(z) == repr(zt).replace("torch.", "narae.")


def test_clone_detach_to():
    v = randn(5).astype(np.float32)
    o = sp(nr, nr.tensor(v))
    c = o.clone()
    c._data.values[0] = 100
    assert o._data.values[0] != 100
    d = o.to(nr.float64)
    assert d.dtype == nr.float64 and d.is_sparse
    assert o.cpu().is_sparse and o.detach().is_sparse and o.to("cpu") is o
    assert o.float() is o


# -- ops: forward and backward through values and dense operands ----------------------------
def test_to_dense_grad():
    check(lambda m, v: sp(m, v).to_dense(), randn(5))


def test_to_dense_hybrid_grad():
    check(lambda m, v: sp(m, v, IX[:, :4], (3, 4, 2)).to_dense(), randn(4, 2))


def test_coalesce_grad():
    check(lambda m, v: sp(m, v).coalesce().to_dense() * 2, randn(5))
    check(lambda m, v: sp(m, v).coalesce().values(), randn(5))


@pytest.mark.parametrize("name", ["mm", "matmul", "at", "sparse_mm"])
def test_mm(name):
    f = {"mm": lambda m, a, b: m.mm(a, b), "matmul": lambda m, a, b: m.matmul(a, b),
         "at": lambda m, a, b: a @ b, "sparse_mm": lambda m, a, b: m.sparse.mm(a, b)}[name]
    check(lambda m, v, b: f(m, sp(m, v), b), randn(5), randn(4, 3))


def test_mm_vector_and_method():
    check(lambda m, v, b: sp(m, v).matmul(b), randn(5), randn(4))
    check(lambda m, v, b: sp(m, v).mm(b), randn(5), randn(4, 2))


def test_mm_double_backward():
    check(lambda m, v, b: m.sparse.mm(sp(m, v).coalesce(), b), randn(5), randn(4, 3),
          double=True, gradcheck=False)


@pytest.mark.parametrize("beta,alpha", [(1.0, 1.0), (0.5, -2.0)])
def test_addmm(beta, alpha):
    check(lambda m, c, v, b: m.sparse.addmm(c, sp(m, v), b, beta=beta, alpha=alpha),
          randn(3, 2), randn(5), randn(4, 2))


def test_sampled_addmm():
    # torch implements sampled_addmm for CSR only: compare with its dense definition
    ix = np.array([[0, 1, 2], [1, 3, 0]])
    v, a, b = (randn(*s).astype(np.float32) for s in ((3,), (3, 2), (2, 4)))
    out = nr.sparse.sampled_addmm(nr.sparse_coo_tensor(nr.tensor(ix), nr.tensor(v), (3, 4)),
                                  nr.tensor(a), nr.tensor(b), beta=0.5, alpha=2.0)
    mask = np.zeros((3, 4), np.float32)
    mask[tuple(ix)] = 1
    want = (0.5 * torch.sparse_coo_tensor(torch.tensor(ix), torch.tensor(v), (3, 4)).to_dense()
            + 2 * torch.tensor(a) @ torch.tensor(b)) * torch.tensor(mask)
    np.testing.assert_allclose(_np(out.to_dense()), want.numpy(), atol=1e-5)
    nr.autograd.gradcheck(
        lambda v, a, b: nr.sparse.sampled_addmm(
            nr.sparse_coo_tensor(nr.tensor(ix), v, (3, 4)), a, b).to_dense(),
        [nr.tensor(x.astype(np.float64), requires_grad=True) for x in (v, a, b)])


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), -1])
def test_sparse_sum(dim):
    check(lambda m, v: dense(m.sparse.sum(sp(m, v)) if dim is None else
                             m.sparse.sum(sp(m, v), dim)), randn(5))


@pytest.mark.parametrize("dim", [0, 2, (0, 2), (1, 2), (0, 1)])
def test_sparse_sum_hybrid(dim):
    check(lambda m, v: dense(m.sparse.sum(sp(m, v, IX[:, :4], (3, 4, 2)), dim)), randn(4, 2))


def test_tensor_sum():
    check(lambda m, v: sp(m, v).sum(), randn(5))
    check(lambda m, v: sp(m, v).sum(1).to_dense(), randn(5), grad=False)  # (no torch backward)
    o = nr.sparse.sum(sp(nr, nr.tensor(randn(5).astype(np.float32))), 0)
    t = torch.sparse.sum(sp(torch, torch.tensor(randn(5).astype(np.float32))), 0)
    assert o.is_sparse and t.is_sparse and o.is_coalesced()


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax(fn, dim):
    # (torch's sparse softmax backward is wrong for a negative dim: compare with dim % 2)
    check(lambda m, v: getattr(m.sparse, fn)(sp(m, v), dim).to_dense(), randn(5),
          ref=lambda m, v: getattr(m.sparse, fn)(sp(m, v), dim % 2).to_dense())


@pytest.mark.parametrize("dim", [0, 2])
def test_softmax_hybrid(dim):
    check(lambda m, v: m.sparse.softmax(sp(m, v, IX3, (2, 3, 2)), dim).to_dense(), randn(4))
    check(lambda m, v: m.sparse.log_softmax(sp(m, v, IX[:, :4], (3, 4, 2)), dim).to_dense(),
          randn(4, 2))


def test_add_sub():
    ix2 = np.array([[2, 0, 1], [0, 3, 0]])
    check(lambda m, a, b: (sp(m, a) + sp(m, b, ix2)).to_dense(), randn(5), randn(3))
    check(lambda m, a, b: (sp(m, a) - sp(m, b, ix2)).to_dense(), randn(5), randn(3))
    check(lambda m, a, b: m.add(sp(m, a), sp(m, b, ix2), alpha=2.5).to_dense(), randn(5),
          randn(3))
    check(lambda m, a, b: m.sub(sp(m, a), sp(m, b, ix2)).to_dense(), randn(5), randn(3))
    check(lambda m, a, d: sp(m, a) + d, randn(5), randn(3, 4),
          ref=lambda m, a, d: sp(m, a).to_dense() + d)  # (torch: dense + sparse only)
    check(lambda m, a, d: d + sp(m, a), randn(5), randn(3, 4))
    check(lambda m, a, d: d - sp(m, a), randn(5), randn(3, 4))


def test_mul_div_neg():
    check(lambda m, a: (sp(m, a) * 2.5).to_dense(), randn(5))
    check(lambda m, a: (3 * sp(m, a)).to_dense(), randn(5))
    check(lambda m, a: (sp(m, a) / 4).to_dense(), randn(5))
    check(lambda m, a: (-sp(m, a)).to_dense(), randn(5))
    check(lambda m, a: sp(m, a).neg().to_dense(), randn(5))
    check(lambda m, a, d: (sp(m, a) * d).to_dense(), randn(5), randn(3, 4))
    check(lambda m, a, d: (d * sp(m, a)).to_dense(), randn(5), randn(3, 4))
    check(lambda m, a, d: m.mul(sp(m, a), d).to_dense(), randn(5), randn(3, 4))
    ix2 = np.array([[2, 0, 1], [0, 3, 0]])
    check(lambda m, a, b: (sp(m, a) * sp(m, b, ix2)).to_dense(), randn(5), randn(3))


def test_mul_hybrid_dense():
    check(lambda m, a, d: (sp(m, a, IX[:, :4], (3, 4, 2)) * d).to_dense(), randn(4, 2),
          randn(3, 4, 2))


UNARY = ["abs", "sqrt", "sin", "sinh", "tan", "tanh", "asin", "asinh", "atan", "expm1",
         "log1p", "square", "neg", "relu", "erf", "deg2rad", "rad2deg"]


@pytest.mark.parametrize("name", UNARY)
def test_unary(name):
    low = {"sqrt": 0.5, "log1p": 0.1, "asin": None}.get(name)
    v = randn(5, low=low) if low else randn(5) * (0.4 if name in ("asin", "atanh") else 1)
    ref = lambda m, a: getattr(m, name)(sp(m, a).to_dense())  # noqa: E731 (zero stays zero)
    check(lambda m, a: getattr(sp(m, a), name)().to_dense(), v, ref=ref)
    check(lambda m, a: getattr(m, name)(sp(m, a)).to_dense(), v, ref=ref)


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round", "trunc", "frac"])
def test_unary_piecewise(name):
    check(lambda m, a: getattr(sp(m, a), name)().to_dense(), randn(5) * 3, gradcheck=False,
          ref=lambda m, a: getattr(m, name)(sp(m, a).to_dense()))


def test_pow():
    check(lambda m, a: sp(m, a).pow(2).to_dense(), randn(5))
    check(lambda m, a: (sp(m, a) ** 3).to_dense(), randn(5))
    with pytest.raises(RuntimeError, match="positive scalar"):
        sp(nr, nr.ones(5)).pow(-1)


@pytest.mark.parametrize("d0,d1", [(0, 1), (1, 0), (-1, -2)])
def test_transpose(d0, d1):
    check(lambda m, a: sp(m, a).transpose(d0, d1).to_dense(), randn(5))
    check(lambda m, a: sp(m, a).t().to_dense(), randn(5))
    check(lambda m, a, b: m.sparse.mm(sp(m, a).t(), b), randn(5), randn(3, 2))


def test_transpose_hybrid():
    # (torch transposes sparse dims only: its dense equivalent is the reference)
    check(lambda m, a: sp(m, a, IX[:, :4], (3, 4, 2, 2)).transpose(2, 3).to_dense(),
          randn(4, 2, 2),
          ref=lambda m, a: sp(m, a, IX[:, :4], (3, 4, 2, 2)).to_dense().transpose(2, 3))
    with pytest.raises(RuntimeError, match="sparse dimension with a dense"):
        sp(nr, nr.ones(4, 2), IX[:, :4], (3, 4, 2)).transpose(0, 2)


@pytest.mark.parametrize("dim,index", [(0, [2, 2, 0]), (1, [3, 0, 2, 2]), (-1, [1]),
                                       (0, [])])
def test_index_select(dim, index):
    idx = np.array(index, np.int64)
    # (torch has no backward for sparse index_select: its dense equivalent is the reference)
    check(lambda m, a, i: sp(m, a).index_select(dim, i).to_dense(), randn(5), idx,
          ref=lambda m, a, i: sp(m, a).to_dense().index_select(dim, i))
    o = sp(nr, nr.tensor(randn(5))).index_select(dim, nr.tensor(idx))
    t = sp(torch, torch.tensor(randn(5))).index_select(dim, torch.tensor(idx))
    assert o.is_sparse and t.is_sparse and o._nnz() == t._nnz()


def test_index_select_dense_dim():
    idx = np.array([1, 0, 1], np.int64)
    check(lambda m, a, i: sp(m, a, IX[:, :4], (3, 4, 2)).index_select(2, i).to_dense(),
          randn(4, 2), idx,
          ref=lambda m, a, i: sp(m, a, IX[:, :4], (3, 4, 2)).to_dense().index_select(2, i))


def test_spdiags():
    offs = np.array([0, -1, 2], np.int64)
    for shape in [(5, 5), (4, 6)]:  # (torch has no spdiags backward: gradcheck)
        f = lambda m, d, o: m.sparse.spdiags(d, o, shape).to_dense()  # noqa: E731
        check(f, randn(3, 5), offs, grad=False)
        check_gradcheck(f, randn(3, 5), offs)
    # more rows than columns: torch 2.13 corrupts memory there, so SciPy's rule by hand
    d = randn(3, 5)
    want = np.zeros((6, 3))
    for k, off in enumerate(offs):
        for j in range(3):
            if 0 <= j - off < 6:
                want[j - off, j] = d[k, j]
    got = nr.sparse.spdiags(nr.tensor(d), nr.tensor(offs), (6, 3)).to_dense()
    np.testing.assert_allclose(_np(got), want)
    o = nr.sparse.spdiags(nr.tensor(randn(3, 5)), nr.tensor(offs), (5, 5))
    t = torch.sparse.spdiags(torch.tensor(randn(3, 5)), torch.tensor(offs), (5, 5))
    assert o.is_sparse and t.is_sparse


# -- sparse leaves: their gradients are sparse ------------------------------------------------
def _leaves(v, ix=IX, size=(3, 4)):
    o = nr.sparse_coo_tensor(nr.tensor(ix), nr.tensor(v), size, requires_grad=True)
    t = torch.sparse_coo_tensor(torch.tensor(ix), torch.tensor(v), size, requires_grad=True)
    return o, t


LEAF_CASES = {
    "to_dense": lambda m, s, b: (s.to_dense() ** 2 * b).sum(),
    "mm": lambda m, s, b: (m.sparse.mm(s, b.t()) ** 2).sum(),
    "mm_t": lambda m, s, b: m.sparse.mm(s.t(), b).sum(),
    "sum": lambda m, s, b: m.sparse.sum(s) * 3,
    "sum_dim": lambda m, s, b: m.sparse.sum(s, 1).to_dense().pow(2).sum(),
    "sin": lambda m, s, b: (s.sin().to_dense() * b).sum() if m is nr else
    (s.to_dense().sin() * b).sum(),  # (torch: no backward of sparse sin; the same numbers)
    "softmax": lambda m, s, b: (m.sparse.softmax(s, 1).to_dense() * b).sum(),
    "mul_dense": lambda m, s, b: (s * b).to_dense().sum(),
    "add": lambda m, s, b: ((s + s * 2).to_dense() * b).sum(),
    "index_select": lambda m, s, b: (s.index_select(1, m.tensor([3, 2, 2])) if m is nr else
                                     s.to_dense().index_select(1, m.tensor([3, 2, 2]))
                                     ).to_dense().sum(),
    "two_uses": lambda m, s, b: (s.to_dense() * b).sum() + m.sparse.sum(s),
}


@pytest.mark.parametrize("case", sorted(LEAF_CASES))
def test_sparse_leaf_grad(case):
    v = randn(5).astype(np.float32)
    b = randn(3, 4).astype(np.float32)
    o, t = _leaves(v)
    f = LEAF_CASES[case]
    f(nr, o, nr.tensor(b)).backward()
    f(torch, t, torch.tensor(b)).backward()
    assert o.grad is not None and o.grad.is_sparse and t.grad.is_sparse
    same_sparse(o.grad, t.grad)
    np.testing.assert_allclose(_np(o.grad.to_dense()), _np(t.grad.to_dense()), atol=1e-5)


def test_sparse_grad_accumulates_sparse():
    v = randn(5).astype(np.float32)
    o, t = _leaves(v)
    for m, s in ((nr, o), (torch, t)):
        (s.to_dense() * 2).sum().backward()
        m.sparse.sum(s).backward()
    assert o.grad.is_sparse
    same_sparse(o.grad, t.grad)
    assert not o.grad.is_coalesced()   # concatenated, coalesced lazily (as torch)


def test_sparse_grad_meets_dense_becomes_dense():
    # a dense leaf: the sparse gradient from to_sparse's backward mixes with a dense one
    a = randn(3, 4).astype(np.float32)
    x = nr.tensor(a, requires_grad=True)
    y = torch.tensor(a, requires_grad=True)
    for m, z in ((nr, x), (torch, y)):
        (m.sparse.sum(z.to_sparse()) + (z * z).sum()).backward()
    assert not x.grad.is_sparse
    np.testing.assert_allclose(_np(x.grad), _np(y.grad), atol=1e-5)


def test_autograd_grad_sparse():
    v = randn(5).astype(np.float32)
    o, t = _leaves(v)
    go, = nr.autograd.grad(nr.sparse.mm(o, nr.ones(4, 2)).sum(), [o])
    gt, = torch.autograd.grad(torch.sparse.mm(t, torch.ones(4, 2)).sum(), [t])
    same_sparse(go, gt)


def test_values_grad_of_sparse_leaf():
    v = randn(5).astype(np.float32)
    o, t = _leaves(v)
    (o.coalesce().values() ** 2).sum().backward()
    (t.coalesce().values() ** 2).sum().backward()
    same_sparse(o.grad, t.grad)


# -- errors ---------------------------------------------------------------------------------
def test_errors():
    s = sp(nr, nr.ones(5))
    with pytest.raises(RuntimeError, match=r"Exp: sparse tensors .*not supported.*\(3, 4\)"):
        s.exp()
    with pytest.raises(RuntimeError, match="sparse.*not supported"):
        nr.cumsum(s, 0)
    with pytest.raises(RuntimeError, match=r"sparse.mm: shapes \(3, 4\) and \(3, 2\)"):
        nr.sparse.mm(s, nr.ones(3, 2))
    with pytest.raises(RuntimeError, match="same dtype"):
        nr.sparse.mm(s, nr.ones(4, 2, dtype=nr.float64))
    with pytest.raises(RuntimeError, match="expected a sparse COO tensor"):
        nr.sparse.mm(nr.ones(3, 4), nr.ones(4, 2))
    with pytest.raises(RuntimeError, match=r"same shape.*\(3, 4\) and \(3, 5\)"):
        s + sp(nr, nr.ones(5), size=(3, 5))
    with pytest.raises(RuntimeError, match="scalar"):
        s + 1
    with pytest.raises(RuntimeError, match="size is inconsistent with indices"):
        nr.sparse_coo_tensor(nr.tensor(IX), nr.ones(5), (2, 4))
    with pytest.raises(RuntimeError, match=r"number of nnz"):
        nr.sparse_coo_tensor(nr.tensor(IX), nr.ones(4), (3, 4))
    with pytest.raises(RuntimeError, match="sparse_dim x nnz"):
        nr.sparse_coo_tensor(nr.tensor([[[0]]]), nr.ones(1))
    with pytest.raises(TypeError, match="to_dense"):
        s.numpy()
    with pytest.raises(IndexError, match="out of range"):
        s.index_select(0, nr.tensor([5]))


def test_dense_path_untouched():
    x = nr.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    assert not x.grad.is_sparse and x.grad.layout is nr.strided


def test_module_level_functions_dispatch():
    v = randn(5)
    check(lambda m, a: m.sum(sp(m, a)), v)
    check(lambda m, a: dense(m.sum(sp(m, a), 1)), v, grad=False)
    check(lambda m, a: m.transpose(sp(m, a), 0, 1).to_dense(), v)
    check(lambda m, a: m.t(sp(m, a)).to_dense(), v)
    check(lambda m, a: m.square(sp(m, a)).to_dense(), v,
          ref=lambda m, a: m.square(sp(m, a).to_dense()))
    check(lambda m, a: m.mul(sp(m, a), 2.0).to_dense(), v)
    with pytest.raises(RuntimeError, match="positive scalar"):
        nr.pow(sp(nr, nr.ones(5)), -2.0)


def test_sparse_mask():
    check(lambda m, d, v: d.sparse_mask(sp(m, v)).to_dense(), randn(3, 4), randn(5))
    o = nr.tensor(randn(3, 4)).sparse_mask(sp(nr, nr.tensor(randn(5))))
    t = torch.tensor(randn(3, 4)).sparse_mask(sp(torch, torch.tensor(randn(5))))
    assert o.is_coalesced() == t.is_coalesced() and o._nnz() == t._nnz() == 5
    with pytest.raises(RuntimeError, match="incompatible sizes"):
        nr.ones(2, 2).sparse_mask(sp(nr, nr.ones(5)))
