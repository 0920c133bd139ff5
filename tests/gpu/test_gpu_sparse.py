"""Sparse COO ops on the device against the CPU: forward (dense form), the gradients of the
values and dense operands, and the sparse gradient of a sparse leaf.

    NARAE_GPU_TEST_DEVICE=fake python -m pytest -q -m gpu tests/gpu/test_gpu_sparse.py
"""
import numpy as np
import pytest

import narae as nr

pytestmark = pytest.mark.gpu

RNG = np.random.default_rng(7)
IX = np.array([[0, 1, 1, 0, 2], [2, 0, 2, 2, 3]])
IXH = IX[:, :4]


def sp(v, ix=IX, size=(3, 4)):
    return nr.sparse_coo_tensor(nr.tensor(ix, device=v.device), v, size)


def dense(t):
    return t.to_dense() if t.is_sparse else t


CASES = {
    "to_dense": (lambda v, b: sp(v).to_dense() * b, (5,), (3, 4)),
    "coalesce": (lambda v, b: sp(v).coalesce().to_dense() * b, (5,), (3, 4)),
    "mm": (lambda v, b: nr.sparse.mm(sp(v), b), (5,), (4, 3)),
    "matmul_op": (lambda v, b: sp(v) @ b, (5,), (4, 3)),
    "mm_t": (lambda v, b: nr.mm(sp(v).t(), b), (5,), (3, 2)),
    "addmm": (lambda v, b: nr.sparse.addmm(b[:3, :2], sp(v), b[:4, :2] * 2, beta=0.5), (5,),
              (4, 3)),
    "sum": (lambda v, b: nr.sparse.sum(sp(v)) * b.sum(), (5,), (2,)),
    "sum_dim": (lambda v, b: nr.sparse.sum(sp(v), 1).to_dense() * b, (5,), (3,)),
    "sum_hybrid": (lambda v, b: nr.sparse.sum(sp(v, IXH, (3, 4, 2)), (0, 2)).to_dense() * b,
                   (4, 2), (4,)),
    "softmax": (lambda v, b: nr.sparse.softmax(sp(v), 1).to_dense() * b, (5,), (3, 4)),
    "log_softmax": (lambda v, b: nr.sparse.log_softmax(sp(v), 0).to_dense() * b, (5,),
                    (3, 4)),
    "add": (lambda v, b: (sp(v) + sp(v * 2)).to_dense() + b, (5,), (3, 4)),
    "sub_dense": (lambda v, b: b - sp(v), (5,), (3, 4)),
    "mul_scalar": (lambda v, b: (sp(v) * 3 / 2).to_dense() * b, (5,), (3, 4)),
    "mul_dense": (lambda v, b: (sp(v) * b).to_dense(), (5,), (3, 4)),
    "mul_sparse": (lambda v, b: (sp(v) * sp(v + 1)).to_dense() * b, (5,), (3, 4)),
    "neg": (lambda v, b: (-sp(v)).to_dense() * b, (5,), (3, 4)),
    "sin": (lambda v, b: sp(v).sin().to_dense() * b, (5,), (3, 4)),
    "abs_fn": (lambda v, b: nr.abs(sp(v)).to_dense() * b, (5,), (3, 4)),
    "pow": (lambda v, b: sp(v).pow(2).to_dense() * b, (5,), (3, 4)),
    "transpose": (lambda v, b: sp(v).transpose(0, 1).to_dense() * b, (5,), (4, 3)),
    "index_select": (lambda v, b: sp(v).index_select(1, nr.tensor([3, 2, 2], device=v.device))
                     .to_dense() * b, (5,), (3, 3)),
    "spdiags": (lambda v, b: nr.sparse.spdiags(v.reshape(1, 5), nr.tensor([1], device=v.device),
                                               (4, 5)).to_dense() * b, (5,), (4, 5)),
    "to_sparse": (lambda v, b: nr.sparse.sum((b * 2).to_sparse(), 0).to_dense() * v[:4],
                  (5,), (3, 4)),
    "hybrid_to_dense": (lambda v, b: sp(v, IXH, (3, 4, 2)).to_dense() * b, (4, 2), (3, 4, 2)),
}


def _run(name, device):
    fn, vs, bs = CASES[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    va, ba = rng.standard_normal(vs).astype(np.float32), rng.standard_normal(bs).astype(np.float32)
    v = nr.tensor(va, device=device, requires_grad=True)
    b = nr.tensor(ba, device=device, requires_grad=True)
    out = dense(fn(v, b))
    w = nr.tensor(rng.standard_normal(tuple(out.shape)).astype(np.float32), device=device)
    gv, gb = nr.autograd.grad((out * w).sum(), [v, b], allow_unused=True)
    host = [dense(x).cpu().detach().numpy() if x is not None else None for x in (out, gv, gb)]
    return out, host


@pytest.mark.parametrize("name", sorted(CASES))
def test_sparse_op_matches_cpu(name, device):
    _, cpu = _run(name, "cpu")
    out, dev = _run(name, device)
    assert out.device.type == nr.device(device).type
    for k, (d, c) in enumerate(zip(dev, cpu)):
        if c is None:
            assert d is None or not d.any()
            continue
        np.testing.assert_allclose(d, c, atol=1e-5, rtol=1e-4, err_msg=f"{name}: part {k}")


def test_sparse_leaf_and_moves(device):
    v = RNG.standard_normal(5).astype(np.float32)
    grads = []
    for dev in ("cpu", device):
        s = nr.sparse_coo_tensor(nr.tensor(IX), nr.tensor(v), (3, 4)).to(dev)
        s.requires_grad_()
        assert s.is_sparse and s.device.type == nr.device(dev).type
        assert s._indices().device.type == s.device.type
        b = nr.ones(4, 2, device=dev)
        (nr.sparse.mm(s, b) ** 2).sum().backward()
        (s.to_dense() * 2).sum().backward()   # a second sparse gradient, accumulated
        assert s.grad.is_sparse and s.grad.device.type == s.device.type
        grads.append(s.grad.coalesce().cpu())
        assert repr(s.cpu()).startswith("tensor(indices=")
    np.testing.assert_array_equal(grads[0]._indices().numpy(), grads[1]._indices().numpy())
    np.testing.assert_allclose(grads[0]._values().numpy(), grads[1]._values().numpy(),
                               rtol=1e-5)


def test_sparse_optim_updates_on_device(device):
    from narae.sparse import _optim as so
    from narae.sparse._embedding import SparseGather
    idx = np.array([[0, 1, 3], [3, 0, 4]])
    results = []
    for dev in ("cpu", device):
        w = nr.tensor(np.arange(15, dtype=np.float32).reshape(5, 3) / 10, device=dev,
                      requires_grad=True)
        d_idx = nr.tensor(idx, device=dev)._data
        (SparseGather(d_idx, 5)(w) ** 2).sum().backward()
        xp = nr.backend.get_array_module(w._data)
        m, s2 = xp.zeros((5, 3), xp.float32), xp.zeros((5, 3), xp.float32)
        with nr.no_grad():
            so.sparse_adam_sparse_update(w._data, w.grad._data, m, s2, 1, lr=0.1, beta1=0.9,
                                         beta2=0.999, eps=1e-8, maximize=False)
            so.adagrad_sparse_update(w._data, w.grad._data, s2, 1, lr=0.1, lr_decay=0,
                                     weight_decay=0, eps=1e-10, maximize=False)
            so.sgd_sparse_update(w._data, w.grad._data, None, lr=0.1, momentum=0, dampening=0,
                                 weight_decay=0, nesterov=False, maximize=False)
        results.append(w.detach().cpu().numpy())
        assert float(so.sparse_grad_norm(w.grad._data)) > 0
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5)
