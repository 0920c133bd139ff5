"""Tensor.register_post_accumulate_grad_hook against torch."""
import numpy as np
import pytest
import torch

import narae
from tests.helpers import randn


def _record(m, log, name):
    def hook(p):
        assert p.grad is not None  # .grad is already written when the hook runs
        log.append((name, p.grad.numpy().copy()))
    return hook


def _chain(m, a, b, c):
    """Leaves at three depths: c is nearest the loss, a the farthest."""
    ta = m.tensor(a, requires_grad=True)
    tb = m.tensor(b, requires_grad=True)
    tc = m.tensor(c, requires_grad=True)
    return ta, tb, tc, lambda: (((ta * 2).tanh() * tb).sin() * tc).sum()


def test_order_and_grad_set_match_torch():
    a, b, c = randn(3, 4), randn(3, 4), randn(3, 4)
    logs = {}
    for m in (narae, torch):
        log = logs[m] = []
        ta, tb, tc, f = _chain(m, a, b, c)
        for name, t in (("a", ta), ("b", tb), ("c", tc)):
            t.register_post_accumulate_grad_hook(_record(m, log, name))
        f().backward()
    assert [n for n, _ in logs[narae]] == [n for n, _ in logs[torch]] == ["c", "b", "a"]
    for (_, g1), (_, g2) in zip(logs[narae], logs[torch]):
        np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-6)


def test_accumulates_then_calls_once_per_backward():
    x = randn(5)
    for m in (narae, torch):
        t = m.tensor(x, requires_grad=True)
        seen = []
        t.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
        (t * t).sum().backward()       # t used twice: one call after both contributions
        (3 * t).sum().backward()
        assert len(seen) == 2
        np.testing.assert_allclose(seen[0], 2 * x, rtol=1e-6)
        np.testing.assert_allclose(seen[1], 2 * x + 3, rtol=1e-6)


def test_several_hooks_run_in_registration_order_and_remove():
    for m in (narae, torch):
        t = m.tensor(randn(3), requires_grad=True)
        calls = []
        h1 = t.register_post_accumulate_grad_hook(lambda p: calls.append(1))
        t.register_post_accumulate_grad_hook(lambda p: calls.append(2))
        t.sum().backward()
        assert calls == [1, 2]
        h1.remove()
        h1.remove()  # removing twice is harmless
        t.sum().backward()
        assert calls == [1, 2, 2]


def test_not_called_by_autograd_grad_but_by_backward_inputs():
    for m in (narae, torch):
        t = m.tensor(randn(3), requires_grad=True)
        calls = []
        t.register_post_accumulate_grad_hook(lambda p: calls.append(p.grad is None))
        m.autograd.grad((t * 2).sum(), t)
        assert calls == [] and t.grad is None
        (t * 2).sum().backward(inputs=[t])
        assert calls == [False]


def test_hook_runs_without_grad_recording():
    for m in (narae, torch):
        t = m.tensor(randn(3), requires_grad=True)
        seen = []
        t.register_post_accumulate_grad_hook(lambda p: seen.append(m.is_grad_enabled()))
        (t * t).sum().backward()
        assert seen == [False]


def test_in_place_update_inside_hook():
    x = randn(3)
    outs = []
    for m in (narae, torch):
        v = m.tensor(x, requires_grad=True)
        v.register_post_accumulate_grad_hook(lambda p: p.add_(p.grad, alpha=-0.1))
        (v * v).sum().backward()
        outs.append(v.detach().numpy().copy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    np.testing.assert_allclose(outs[0], x - 0.2 * x, rtol=1e-6)


def test_errors_match_torch():
    for m in (narae, torch):
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            m.zeros(3).register_post_accumulate_grad_hook(lambda p: None)
        with pytest.raises(RuntimeError, match="non-leaf"):
            (m.zeros(3, requires_grad=True) * 2).register_post_accumulate_grad_hook(
                lambda p: None)


def test_optimizer_step_in_backward_matches_normal_step():
    """torch's tutorial pattern: one optimizer per parameter, stepped from the hook."""
    net = narae.nn.Sequential(narae.nn.Linear(4, 8), narae.nn.Tanh(), narae.nn.Linear(8, 3))
    ref = narae.nn.Sequential(narae.nn.Linear(4, 8), narae.nn.Tanh(), narae.nn.Linear(8, 3))
    ref.load_state_dict(net.state_dict())
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    tnet.load_state_dict({k: torch.tensor(v.numpy()) for k, v in net.state_dict().items()})
    opts = {}
    for mod, m in ((net, narae), (tnet, torch)):
        for p in mod.parameters():
            opts[p] = m.optim.Adam([p], lr=0.01)

            def hook(p, opt=opts[p]):
                opt.step()
                opt.zero_grad()
            p.register_post_accumulate_grad_hook(hook)
    ref_opt = narae.optim.Adam(ref.parameters(), lr=0.01)
    for step in range(3):
        x, y = randn(6, 4).astype(np.float32), randn(6, 3).astype(np.float32)
        narae.nn.functional.mse_loss(net(narae.tensor(x)), narae.tensor(y)).backward()
        torch.nn.functional.mse_loss(tnet(torch.tensor(x)), torch.tensor(y)).backward()
        ref_opt.zero_grad()
        narae.nn.functional.mse_loss(ref(narae.tensor(x)), narae.tensor(y)).backward()
        ref_opt.step()
    for p, q, r in zip(net.parameters(), tnet.parameters(), ref.parameters()):
        assert p.grad is None
        np.testing.assert_allclose(p.detach().numpy(), r.detach().numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_hook_runs_as_soon_as_the_leafs_last_gradient_arrives():
    """A leaf's post-accumulate hook fires during the walk, before the nodes that do not
    lead to it (DDP starts a bucket's all-reduce while backward goes on), as in torch."""
    events = []

    class Probe(narae.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            events.append("probe backward")
            return g

    a = narae.randn(3, requires_grad=True)
    b = narae.randn(3, requires_grad=True)
    deep = Probe.apply(b).exp().exp()
    a.register_post_accumulate_grad_hook(lambda t: events.append("a hook"))
    b.register_post_accumulate_grad_hook(lambda t: events.append("b hook"))
    (a * deep).sum().backward()
    assert events == ["a hook", "probe backward", "b hook"]
    np.testing.assert_allclose(a.grad.numpy(), deep.detach().numpy(), rtol=1e-6)
    # and again through an edge that carries no gradient: the hook still runs once
    events.clear()
    a.grad = None
    (a * 2 + a.detach()).sum().backward()
    assert events == ["a hook"] and np.allclose(a.grad.numpy(), 2)
