"""torch's remaining top-level API: *_copy ops, low-rank methods, Householder QR, switches."""
import pickle

import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn, assert_close


def T(a):
    return nr.tensor(np.asarray(a))


# -- *_copy --------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda m, x: m.alias_copy(x),
    lambda m, x: m.expand_copy(x[:, :1], [3, 4]),
    lambda m, x: m.permute_copy(x, [1, 0]),
    lambda m, x: m.slice_copy(x, 1, 1, 4, 2),
    lambda m, x: m.slice_copy(x, -1, None, -1),
    lambda m, x: m.split_copy(x, 2, 1),
    lambda m, x: m.unbind_copy(x, -1),
    lambda m, x: m.view_copy(x, [4, 3]),
    lambda m, x: m.constant_pad_nd(x, [1, 2, 0, 1], 0.5),
    lambda m, x: m.frobenius_norm(x, (0, 1)),
    lambda m, x: m.frobenius_norm(x, (1,), True),
    lambda m, x: m.nuclear_norm(x),
    lambda m, x: m.nuclear_norm(x, (0, 1), True),
])
def test_copy_and_norm_variants(fn):
    check(fn, randn(3, 4))


def test_copy_variants_are_new_memory():
    x = nr.randn(3, 4)
    for y in (nr.alias_copy(x), nr.permute_copy(x, (1, 0)), nr.view_copy(x, (12,))):
        y.zero_()
    assert bool((x != 0).all())
    d = nr.detach_copy(x.requires_grad_())
    assert not d.requires_grad
    assert nr.view_copy(nr.ones(2, 2), nr.int32).dtype == nr.int32


# -- segment_reduce ------------------------------------------------------------------------
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "prod"])
def test_segment_reduce_lengths(reduce):
    lengths = np.array([2, 1, 3])
    check(lambda m, d, l: m.segment_reduce(d, reduce, lengths=l), randn(6, 2), lengths)
    offsets = np.array([0, 2, 3, 6])
    check(lambda m, d, o: m.segment_reduce(d, reduce, offsets=o, initial=0.5), randn(6),
          offsets)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "prod"])
def test_segment_reduce_empty_and_axis(reduce):
    lengths = np.array([[2, 0, 3], [1, 4, 0]])
    d = randn(2, 5, 3)
    ours = nr.segment_reduce(nr.tensor(d), reduce, lengths=nr.tensor(lengths), axis=1)
    theirs = torch.segment_reduce(torch.tensor(d), reduce, lengths=torch.tensor(lengths), axis=1)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    with_init = nr.segment_reduce(nr.tensor(d[0, :, 0]), reduce, lengths=nr.tensor(lengths[0]),
                                  initial=2.0)
    t_init = torch.segment_reduce(torch.tensor(d[0, :, 0]), reduce,
                                  lengths=torch.tensor(lengths[0]), initial=2.0)
    np.testing.assert_allclose(with_init.numpy(), t_init.numpy(), rtol=1e-6)


def test_segment_reduce_errors():
    d = nr.arange(6.0)
    with pytest.raises(RuntimeError, match="sum to"):
        nr.segment_reduce(d, "sum", lengths=nr.tensor([2, 3]))
    with pytest.raises(RuntimeError, match="indices"):
        nr.segment_reduce(d, "sum", indices=nr.tensor([0, 0, 1, 1, 1, 1]))
    with pytest.raises(RuntimeError, match="unsupported"):
        nr.segment_reduce(d, "median", lengths=nr.tensor([6]))


# -- placement, static shapes ---------------------------------------------------------
def test_slice_inverse_and_nonzero_static():
    # torch's result is a view of the storage ``a`` was sliced from: the same values as
    # scattering ``a`` into ``s``, which is what narae computes (and differentiates)
    check(lambda m, a, s: nr.slice_inverse(a, s, 0, 1, 5, 2) if m is nr else
          torch.slice_scatter(s, a, 0, 1, 5, 2), randn(2, 3), randn(5, 3))
    src = torch.tensor(randn(5, 3))
    theirs = torch.slice_inverse(src[1:5:2], src, 0, 1, 5, 2)
    ours = nr.slice_inverse(T(src[1:5:2].numpy()), T(src.numpy()), 0, 1, 5, 2)
    assert np.array_equal(ours.numpy(), theirs.numpy())
    x = np.array([[0.0, 1, 0], [2, 0, 3]])
    for size, fill in ((5, -1), (1, 7), (0, -1)):
        assert_close(nr.nonzero_static(T(x), size=size, fill_value=fill),
                     torch.nonzero_static(torch.tensor(x), size=size, fill_value=fill), 0, 0,
                     "nonzero_static")
    assert tuple(T(x).nonzero_static(size=2).shape) == (2, 2)
    with pytest.raises(RuntimeError, match=r"\(3, 3\)"):
        nr.slice_inverse(nr.zeros(3, 3), nr.zeros(5, 3), 0, 0, 2)


def test_empty_permuted():
    t = nr.empty_permuted((2, 3, 4), (2, 0, 1))
    assert tuple(t.shape) == (2, 3, 4)
    assert t.stride() == torch.empty_permuted((2, 3, 4), (2, 0, 1)).stride()
    with pytest.raises(RuntimeError, match="permutation"):
        nr.empty_permuted((2, 3), (0, 0))


# -- in-place functional forms -----------------------------------------------------------
def test_inplace_functionals():
    x = nr.ones(2, 3)
    assert nr.fill_(x, 2.5) is x and float(x.sum()) == 15.0
    y = nr.ones(4, 5)
    nr.dropout_(y, 1.0, True)
    assert float(y.abs().sum()) == 0.0
    nr.manual_seed(0)
    z = nr.feature_dropout(nr.ones(4, 6, 3), 0.5, True)
    per_channel = z.numpy().reshape(4, 6, 3)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # whole channels kept or dropped
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    w = nr.ones(4, 6)
    assert nr.feature_dropout_(w, 0.5, False) is w
    assert nr.alpha_dropout_(nr.ones(3), 0.5, False).shape == (3,)
    assert nr.feature_alpha_dropout_(nr.ones(2, 3), 0.0, True).shape == (2, 3)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        nr.feature_dropout(nr.ones(3), 0.5, True)
    g = nr.ones(2, requires_grad=True) * 2
    nr.detach_(g)
    assert not g.requires_grad and g.grad_fn is None


# -- removed functions and dense-tensor sparse methods -------------------------------
def test_removed_and_sparse_only_errors():
    x = nr.randn(3, 3)
    for call in (lambda: nr.matrix_rank(x), lambda: x.eig(), lambda: x.symeig(),
                 lambda: x.lstsq(x), lambda: x.solve(x), lambda: nr.solve(x, x)):
        with pytest.raises(RuntimeError, match="deprecated since version 1.9"):
            call()
    for name in ("coalesce", "indices", "values", "is_coalesced"):
        with pytest.raises(RuntimeError, match="Strided"):
            getattr(x, name)()
    s = x.to_sparse()
    assert tuple(s.values().shape)[0] == 9  # sparse tensors keep their own methods


# -- Tensor methods --------------------------------------------------------------------
def test_tensor_methods():
    class Sub(nr.Tensor):
        pass
    x = nr.randn(2, 3, requires_grad=True)
    s = x.as_subclass(Sub)
    assert type(s) is Sub and s.requires_grad and np.array_equal(s.detach().numpy(), x.detach().numpy())
    with pytest.raises(TypeError, match="complex32"):
        x.chalf()
    a, b = (x * 1).unbind(0)
    assert x.output_nr == 0
    assert not x.is_distributed() and not nr.is_distributed(x)
    y, z = nr.zeros(3), nr.ones(2, 2)
    y.set_(z)
    assert y.is_set_to(z) and tuple(y.shape) == (2, 2)
    y[0, 0] = 5.0
    assert float(z[0, 0]) == 5.0
    base = nr.arange(6.0)
    v = nr.zeros(1).set_(base, 1, (2, 2))
    assert np.array_equal(v.numpy(), [[1, 2], [3, 4]])
    assert tuple(nr.zeros(3).set_().shape) == (0,)


def test_facts():
    assert nr.get_device(nr.ones(2)) == torch.get_device(torch.ones(2)) == -1
    for dt in ("float32", "float64", "int64", "bool", "uint8"):
        assert nr.typename(nr.ones(2, dtype=getattr(nr, dt))) == \
            torch.typename(torch.ones(2, dtype=getattr(torch, dt)))
    assert nr.typename(3) == torch.typename(3)
    assert nr.GradScaler is nr.amp.GradScaler


def test_size():
    s = nr.Size([2, 3, 4])
    assert isinstance(s, tuple) and s == (2, 3, 4) and s.numel() == 24
    assert repr(s) == repr(torch.Size([2, 3, 4])) and repr(nr.Size()) == "torch.Size([])"
    assert isinstance(s[1:], nr.Size) and isinstance(s + (5,), nr.Size) and s[0] == 2
    assert pickle.loads(pickle.dumps(s)) == s
    with pytest.raises(TypeError):
        nr.Size([2.5])


def test_global_switches():
    try:
        nr.use_deterministic_algorithms(True, warn_only=True)
        assert nr.are_deterministic_algorithms_enabled()
        assert nr.is_deterministic_algorithms_warn_only_enabled()
        assert nr.get_deterministic_debug_mode() == 1
        nr.set_deterministic_debug_mode("error")
        assert nr.get_deterministic_debug_mode() == 2
        with pytest.raises(RuntimeError):
            nr.set_deterministic_debug_mode("loud")
    finally:
        nr.set_deterministic_debug_mode(0)
    assert not nr.are_deterministic_algorithms_enabled()
    assert nr.get_float32_matmul_precision() == "highest"
    nr.set_float32_matmul_precision("high")
    assert nr.get_float32_matmul_precision() == "high"
    nr.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError):
        nr.set_float32_matmul_precision("low")
    nr.set_warn_always(True)
    assert nr.is_warn_always_enabled()
    nr.set_warn_always(False)
    assert nr.get_num_interop_threads() >= 1
    assert nr.set_flush_denormal(False) is True
    assert nr.is_inference_mode_enabled() is False
    with nr.inference_mode():
        assert nr.is_inference_mode_enabled() is True and not nr.is_grad_enabled()
        with nr.inference_mode(False):
            assert nr.is_inference_mode_enabled() is False
    assert nr.is_inference_mode_enabled() is False


# -- RNN cells --------------------------------------------------------------------------
def test_rnn_cells():
    x, h, c = randn(2, 3), randn(2, 4), randn(2, 4)
    check(lambda m, x, h, wi, wh, bi, bh: m.rnn_tanh_cell(x, h, wi, wh, bi, bh),
          x, h, randn(4, 3), randn(4, 4), randn(4), randn(4))
    check(lambda m, x, h, wi, wh: m.rnn_relu_cell(x, h, wi, wh), x, h, randn(4, 3), randn(4, 4))
    check(lambda m, x, h, c, wi, wh, bi, bh: m.lstm_cell(x, (h, c), wi, wh, bi, bh),
          x, h, c, randn(16, 3), randn(16, 4), randn(16), randn(16))
    check(lambda m, x, h, wi, wh, bi, bh: m.gru_cell(x, h, wi, wh, bi, bh),
          x, h, randn(12, 3), randn(12, 4), randn(12), randn(12))


# -- Householder QR ---------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_geqrf_matches_lapack(shape):
    a = randn(*shape)
    ours, theirs = nr.geqrf(T(a)), torch.geqrf(torch.tensor(a))
    np.testing.assert_allclose(ours.a.numpy(), theirs.a.numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.tau.numpy(), theirs.tau.numpy(), atol=1e-10)
    c = randn(*shape) + 1j * randn(*shape)
    ours, theirs = T(c).geqrf(), torch.geqrf(torch.tensor(c))
    np.testing.assert_allclose(ours[0].numpy(), theirs[0].numpy(), atol=1e-10)
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].numpy(), atol=1e-10)


def test_geqrf_errors():
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        nr.geqrf(nr.ones(3))


@pytest.mark.parametrize("left,transpose", [(True, False), (True, True), (False, False),
                                            (False, True)])
def test_ormqr_orgqr(left, transpose):
    a, tau = (t.numpy() for t in torch.geqrf(torch.tensor(randn(5, 3))))
    c = randn(5, 2) if left else randn(2, 5)
    check(lambda m, a, t, c: m.ormqr(a, t, c, left, transpose), a, tau, c, atol=1e-4)
    if left and not transpose:
        check(lambda m, a, t: m.orgqr(a, t), a, tau, atol=1e-4)
        with pytest.raises(RuntimeError, match=r"\(4, 2\)"):
            nr.ormqr(T(a), T(tau), nr.ones(4, 2))


# -- low-rank ----------------------------------------------------------------------------
def _low_rank(m, n, r):
    return randn(m, r) @ randn(r, n)


@pytest.mark.parametrize("shape", [(12, 8), (8, 12), (2, 10, 6)])
def test_svd_lowrank_recovers_low_rank(shape):
    a = _low_rank(*shape[-2:], 3) if len(shape) == 2 else np.stack(
        [_low_rank(*shape[-2:], 3) for _ in range(shape[0])])
    U, S, V = nr.svd_lowrank(T(a), q=4)
    assert U.shape == shape[:-1] + (4,) and V.shape == shape[:-2] + (shape[-1], 4)
    np.testing.assert_allclose((U @ nr.diag_embed(S) @ V.mT).numpy(), a, atol=1e-9)
    np.testing.assert_allclose(S.numpy()[..., :3], torch.linalg.svdvals(torch.tensor(a))
                               .numpy()[..., :3], rtol=1e-9)
    M = randn(*shape[-2:])
    U, S, V = nr.svd_lowrank(T(a + M), q=4, M=T(M))
    np.testing.assert_allclose((U @ nr.diag_embed(S) @ V.mT).numpy(), a, atol=1e-9)


def test_svd_lowrank_seeded_and_differentiable():
    a = T(_low_rank(10, 7, 3))
    nr.manual_seed(3)
    s1 = nr.svd_lowrank(a, q=3)[1]
    nr.manual_seed(3)
    s2 = nr.svd_lowrank(a, q=3)[1]
    assert np.array_equal(s1.numpy(), s2.numpy())
    # singular values are differentiable: compare d(sum S)/dA with torch's (both exact here)
    x = a.clone().requires_grad_()
    nr.svd_lowrank(x, q=3)[1].sum().backward()
    t = torch.tensor(a.numpy(), requires_grad=True)
    torch.svd_lowrank(t, q=3)[1].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-8)
    with pytest.raises(ValueError, match="min\\(m, n\\)"):
        nr.svd_lowrank(a, q=9)


def test_pca_lowrank():
    a = randn(30, 5) @ np.diag([5.0, 3, 1, 0.1, 0.01])
    U, S, V = nr.pca_lowrank(T(a), q=3, niter=4)
    tU, tS, tV = torch.pca_lowrank(torch.tensor(a), q=3, niter=4)
    np.testing.assert_allclose(S.numpy(), tS.numpy(), rtol=1e-3)
    np.testing.assert_allclose(np.abs(V.numpy().T @ tV.numpy()), np.eye(3), atol=1e-3)
    assert nr.pca_lowrank(T(a), center=False)[1].shape == (5,)
    with pytest.raises(ValueError):
        nr.pca_lowrank(T(a), q=6)


def _spd(n, seed_shift=0.0):
    q = np.linalg.qr(randn(n, n))[0]
    return q @ np.diag(np.linspace(1, 10, n) + seed_shift) @ q.T


@pytest.mark.parametrize("largest", [True, False])
def test_lobpcg_eigenpairs(largest):
    A = _spd(20)
    E, X = nr.lobpcg(T(A), k=2, largest=largest)
    tE, tX = torch.lobpcg(torch.tensor(A), k=2, largest=largest)
    np.testing.assert_allclose(E.numpy(), tE.numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.abs(X.numpy().T @ tX.numpy()), np.eye(2), atol=1e-5)
    B = np.diag(np.linspace(1, 2, 20))
    steps = []
    E, X = nr.lobpcg(T(A), k=2, B=T(B), n=3, largest=largest, tracker=lambda w: steps.append(
        w.ivars["istep"]))
    tE, _ = torch.lobpcg(torch.tensor(A), k=2, B=torch.tensor(B), n=3, largest=largest)
    np.testing.assert_allclose(E.numpy(), tE.numpy(), rtol=1e-6)
    assert steps and steps[0] == 0
    assert np.allclose(A @ X.numpy(), B @ X.numpy() * E.numpy(), atol=1e-5)


def test_lobpcg_gradients_and_errors():
    A = _spd(12)
    x = T(A).requires_grad_()
    E, X = nr.lobpcg(x, k=2)
    (E.sum() + (X ** 2 * nr.arange(12.0, dtype=nr.float64)[:, None]).sum()).backward()
    t = torch.tensor(A, requires_grad=True)
    tE, tX = torch.lobpcg(t, k=2)
    (tE.sum() + (tX ** 2 * torch.arange(12.0, dtype=torch.float64)[:, None]).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="3 x the number"):
        nr.lobpcg(T(A), k=5)
    with pytest.raises(ValueError, match="square"):
        nr.lobpcg(nr.ones(3, 4))


# -- DLPack ------------------------------------------------------------------------------
def test_dlpack_exchange():
    x = nr.tensor([[1.0, 2.0], [3.0, 4.0]])
    t = torch.from_dlpack(x)
    t[0, 0] = 9.0
    assert float(x[0, 0]) == 9.0
    assert np.from_dlpack(x)[0, 0] == 9.0
    assert torch.from_dlpack(nr.to_dlpack(x)).shape == (2, 2)
    assert x.__dlpack_device__() == (1, 0)
    back = nr.from_dlpack(torch.arange(3.0))
    assert np.array_equal(back.numpy(), [0, 1, 2])
    with pytest.raises(RuntimeError, match="detach"):
        x.requires_grad_().__dlpack__()
