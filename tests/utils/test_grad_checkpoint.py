"""Gradient checkpointing gives the gradients of the plain computation (parameters included,
dropout replayed), works with autograd.grad and create_graph, and drops the activations."""
import gc
import weakref

import numpy as np
import pytest

import narae as nr
import narae.nn as nn
import narae.nn.functional as F
from narae.utils.checkpoint import checkpoint, checkpoint_sequential


def _model():
    nr.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 16),
                         nn.ReLU(), nn.Linear(16, 3)).double()


def _grads(model, loss_of):
    model.zero_grad()
    x = nr.tensor(np.random.default_rng(1).standard_normal((7, 5)), requires_grad=True)
    nr.manual_seed(42)
    loss_of(model, x).backward()
    return [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in model.parameters()]


def test_checkpoint_matches_plain_backward_with_dropout():
    model = _model()
    plain = _grads(model, lambda m, x: (m(x) ** 2).sum())
    ckpt = _grads(model, lambda m, x: (checkpoint(m, x, use_reentrant=False) ** 2).sum())
    for a, b in zip(plain, ckpt):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_checkpoint_sequential_matches_plain_backward():
    model = _model()
    plain = _grads(model, lambda m, x: m(x).sum())
    for segments in (1, 2, 3):
        ckpt = _grads(model, lambda m, x: checkpoint_sequential(m, segments, x).sum())
        for a, b in zip(plain, ckpt):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_autograd_grad_and_double_backward_through_checkpoint():
    w = nr.tensor([0.3, -0.7, 1.1], dtype=nr.float64, requires_grad=True)
    x = nr.tensor([1.0, 2.0, -1.5], dtype=nr.float64, requires_grad=True)

    def f(x):
        return nr.tanh(x * w).sum() ** 2

    (g_plain,) = nr.autograd.grad(f(x), w, create_graph=True)
    (g_ckpt,) = nr.autograd.grad(checkpoint(f, x), w, create_graph=True)
    np.testing.assert_allclose(g_ckpt.detach().numpy(), g_plain.detach().numpy(), rtol=1e-12)
    (h_plain,) = nr.autograd.grad(g_plain.sum(), x)
    (h_ckpt,) = nr.autograd.grad(g_ckpt.sum(), x)
    np.testing.assert_allclose(h_ckpt.numpy(), h_plain.numpy(), rtol=1e-12)


def test_multiple_outputs_non_tensor_args_and_kwargs():
    a = nr.randn(4, requires_grad=True)
    b = nr.randn(4, requires_grad=True)

    def f(a, scale, b, *, shift):
        return a * scale + shift, (a * b).sum()

    out1, out2 = checkpoint(f, a, 3.0, b, shift=1.0)
    (out1.sum() + out2).backward()
    np.testing.assert_allclose(a.grad.numpy(), 3.0 + b.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), a.detach().numpy(), rtol=1e-6)


def test_activations_are_not_kept():
    x = nr.randn(8, 8, requires_grad=True)
    kept = []

    def f(x):
        h = nr.tanh(x @ x)
        kept.append(weakref.ref(h))
        return F.relu(h).sum()

    y = checkpoint(f, x)
    gc.collect()
    assert kept[0]() is None  # the first run's intermediate is gone
    y.backward()
    assert x.grad is not None and len(kept) == 2  # recomputed once, in backward


def test_without_grad_mode_it_is_a_plain_call_and_errors_are_clear():
    with nr.no_grad():
        y = checkpoint(lambda x: x * 2, nr.ones(2))
    assert not y.requires_grad
    with pytest.raises(TypeError, match="must return a Tensor"):
        checkpoint(lambda x: 3, nr.ones(2, requires_grad=True))
