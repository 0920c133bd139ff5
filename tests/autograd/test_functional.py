"""narae.autograd.functional vs torch.autograd.functional, in float64."""
import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import narae as nr
import narae.autograd.functional as F
from helpers import assert_same_tree, randn

TOL = dict(rtol=1e-10, atol=1e-10)
# torch.func / autograd.functional trigger torch's own torch.jit.script deprecation warning
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _t(m, a):
    return m.tensor(a, dtype=m.float64)


def _same(ours, theirs):
    assert_same_tree(ours, theirs, **TOL)


def _both(fn, *arrays, **kw):
    """Run fn(m, functional_module, *inputs) on narae and torch; compare."""
    ours = fn(nr, F, *[_t(nr, a) for a in arrays], **kw)
    theirs = fn(torch, TF, *[_t(torch, a) for a in arrays], **kw)
    _same(ours, theirs)
    return ours, theirs


def f_single(m, x):
    return (m.sin(x) * x).sum(-1)


def f_multi(m, x, y):
    return m.tanh(x) * y, (x * x).sum() + y.exp().sum()


def f_scalar(m, x):
    return (x.exp() * x.sin()).sum() + (x ** 3).sum()


def f_scalar2(m, x, y):
    return (x * y.sum() * x).sum() + y.pow(3).sum()


def test_jacobian_single_input_output():
    _both(lambda m, Fm, x: Fm.jacobian(lambda t: f_single(m, t), x), randn(3, 4))


def test_jacobian_tuple_inputs_outputs():
    _both(lambda m, Fm, x, y: Fm.jacobian(lambda a, b: f_multi(m, a, b), (x, y)),
          randn(2, 3), randn(2, 3))
    # tuple of one input, single output: the result is a tuple over inputs
    _both(lambda m, Fm, x: Fm.jacobian(lambda t: f_single(m, t), (x,)), randn(2, 3))


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian_vectorize_and_forward_mode_strategy(strategy):
    # (compared with torch's loop: torch's vmap start-up would dominate the test's time)
    x = randn(2, 3)
    ours = F.jacobian(lambda t: f_single(nr, t), _t(nr, x), vectorize=True, strategy=strategy)
    _same(ours, TF.jacobian(lambda t: f_single(torch, t), _t(torch, x)))


def test_jacobian_create_graph_is_differentiable():
    def fn(m, Fm, x):
        xr = x.clone().requires_grad_(True)
        jac = Fm.jacobian(lambda t: f_single(m, t), xr, create_graph=True)
        assert jac.requires_grad
        (g,) = m.autograd.grad((jac * jac).sum(), xr)
        return jac, g
    _both(fn, randn(2, 3))


def test_jacobian_unused_input_strict_and_non_strict():
    _both(lambda m, Fm, x, y: Fm.jacobian(lambda a, b: a * 2, (x, y)), randn(3), randn(2))
    for m, Fm in ((nr, F), (torch, TF)):
        x, y = _t(m, randn(3)), _t(m, randn(2))
        with pytest.raises(RuntimeError, match="independent of input 1"):
            Fm.jacobian(lambda a, b: a * 2, (x, y), strict=True)


def test_jacobian_argument_errors():
    x = _t(nr, randn(3))
    with pytest.raises(ValueError, match="Expected strategy"):
        F.jacobian(lambda t: t, x, strategy="sideways")
    with pytest.raises(NotImplementedError):
        F.jacobian(lambda t: t, x, strategy="forward-mode")
    with pytest.raises(RuntimeError, match="not supported together"):
        F.jacobian(lambda t: t, x, strict=True, vectorize=True)
    with pytest.raises(TypeError, match="outputs of the user-provided function given to "
                                        "jacobian must be either a Tensor or a tuple"):
        F.jacobian(lambda t: 3.0, x)


def test_hessian_single_and_tuple_inputs():
    _both(lambda m, Fm, x: Fm.hessian(lambda t: f_scalar(m, t), x), randn(4))
    _both(lambda m, Fm, x: Fm.hessian(lambda t: f_scalar(m, t), x), randn(2, 2))
    _both(lambda m, Fm, x, y: Fm.hessian(lambda a, b: f_scalar2(m, a, b), (x, y)),
          randn(3), randn(2))


def test_hessian_create_graph_and_errors():
    def fn(m, Fm, x):
        xr = x.clone().requires_grad_(True)
        h = Fm.hessian(lambda t: f_scalar(m, t), xr, create_graph=True)
        (g,) = m.autograd.grad(h.sum(), xr)
        return h, g
    _both(fn, randn(3))
    x = _t(nr, randn(3))
    with pytest.raises(RuntimeError, match="should return a single Tensor"):
        F.hessian(lambda t: (t.sum(), t.sum()), x)
    with pytest.raises(RuntimeError, match="should contain a single element"):
        F.hessian(lambda t: t * 2, x)


def test_vjp():
    _both(lambda m, Fm, x, v: Fm.vjp(lambda t: f_single(m, t), x, v), randn(3, 4), randn(3))
    _both(lambda m, Fm, x, y, v1, v2: Fm.vjp(lambda a, b: f_multi(m, a, b), (x, y), (v1, v2)),
          randn(2, 3), randn(2, 3), randn(2, 3), randn(1).reshape(()))
    _both(lambda m, Fm, x: Fm.vjp(lambda t: f_scalar(m, t), x), randn(3))  # v=None: scalar


def test_jvp():
    _both(lambda m, Fm, x, v: Fm.jvp(lambda t: f_single(m, t), x, v), randn(3, 4), randn(3, 4))
    _both(lambda m, Fm, x, y, v1, v2: Fm.jvp(lambda a, b: f_multi(m, a, b), (x, y), (v1, v2)),
          randn(2, 3), randn(2, 3), randn(2, 3), randn(2, 3))
    _both(lambda m, Fm, x: Fm.jvp(lambda t: t.exp() * 3, x), randn(1))  # v=None: one element


def test_hvp_and_vhp():
    for name in ("hvp", "vhp"):
        _both(lambda m, Fm, x, v: getattr(Fm, name)(lambda t: f_scalar(m, t), x, v),
              randn(4), randn(4))
        _both(lambda m, Fm, x, y, v1, v2: getattr(Fm, name)(
            lambda a, b: f_scalar2(m, a, b), (x, y), (v1, v2)),
            randn(3), randn(2), randn(3), randn(2))


def test_create_graph_through_vjp_jvp_hvp():
    def fn(m, Fm, x, v):
        xr = x.clone().requires_grad_(True)
        _, a = Fm.vjp(lambda t: f_single(m, t), xr, v[:3], create_graph=True)
        _, b = Fm.jvp(lambda t: f_single(m, t), xr, v.reshape(3, 1).expand(3, 4) * 1,
                      create_graph=True)
        _, c = Fm.hvp(lambda t: f_scalar(m, t), xr, v.reshape(3, 1).expand(3, 4) * 1,
                      create_graph=True)
        (g,) = m.autograd.grad(a.sum() + b.sum() + c.sum(), xr)
        return a, b, c, g
    _both(fn, randn(3, 4), randn(3))


def test_v_validation_errors():
    x = _t(nr, randn(3))
    with pytest.raises(RuntimeError, match="v has invalid size"):
        F.vjp(lambda t: t * 2, x, _t(nr, randn(4)))
    with pytest.raises(RuntimeError, match="The vector v can only be None"):
        F.vjp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="The vector v can only be None"):
        F.jvp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="v is a tuple of invalid length"):
        F.hvp(lambda a, b: (a * b).sum(), (x, x), (x,))
    with pytest.raises(TypeError, match="inputs given to vjp must be either a Tensor"):
        F.vjp(lambda t: t, [x, 3.0], (x,))


def test_strict_mode_errors():
    x = _t(nr, randn(3))
    with pytest.raises(RuntimeError, match="does not require gradients"):
        F.vjp(lambda t: nr.ones(3, dtype=nr.float64), x, x, strict=True)
    with pytest.raises(RuntimeError, match="independent"):
        F.vhp(lambda t: (t * 2).sum(), x, x, strict=True)
    # non-strict: zeros
    _, r = F.vhp(lambda t: (t * 2).sum(), x, x)
    assert np.all(r.numpy() == 0)


def test_results_are_detached_without_create_graph():
    x = _t(nr, randn(3)).requires_grad_(True)
    out, g = F.vjp(lambda t: t.exp(), x, _t(nr, randn(3)))
    assert not out.requires_grad and not g.requires_grad
    assert not F.jacobian(lambda t: t.exp(), x).requires_grad
    assert x.grad is None


# -- forward-mode strategies (forward AD) --------------------------------------------------
def _fwd_used(fn):
    """Run fn and report whether a forward-AD level was entered meanwhile."""
    from narae.autograd import forward_ad
    entered = []
    orig = forward_ad.enter_dual_level

    def spy():
        entered.append(True)
        return orig()
    forward_ad.enter_dual_level = spy
    try:
        out = fn()
    finally:
        forward_ad.enter_dual_level = orig
    return out, bool(entered)


def test_jacobian_forward_mode_tuple_inputs_and_outputs():
    x, y = randn(2, 3), randn(2, 3)
    ours, used = _fwd_used(lambda: F.jacobian(lambda a, b: f_multi(nr, a, b),
                                              (_t(nr, x), _t(nr, y)), vectorize=True,
                                              strategy="forward-mode"))
    assert used
    _same(ours, TF.jacobian(lambda a, b: f_multi(torch, a, b), (_t(torch, x), _t(torch, y))))


def test_jacobian_forward_mode_create_graph():
    def fn(m, Fm, x):
        xr = x.clone().requires_grad_(True)
        kw = dict(vectorize=True, strategy="forward-mode") if m is nr else {}
        j = Fm.jacobian(lambda t: f_single(m, t), xr, create_graph=True, **kw)
        (g,) = m.autograd.grad((j * j).sum(), xr)
        return j, g
    _both(fn, randn(2, 3))
    j = F.jacobian(lambda t: t.sin(), _t(nr, randn(3)), vectorize=True, strategy="forward-mode")
    assert not j.requires_grad


def test_hessian_forward_over_reverse():
    def fn(m, Fm, x, y):
        kw = dict(vectorize=True, outer_jacobian_strategy="forward-mode")
        if m is nr:
            h, used = _fwd_used(lambda: Fm.hessian(lambda a, b: f_scalar2(m, a, b), (x, y),
                                                   **kw))
            assert used
            return h
        return Fm.hessian(lambda a, b: f_scalar2(m, a, b), (x, y))
    _both(fn, randn(3), randn(2))
    _both(lambda m, Fm, x: Fm.hessian(lambda t: f_scalar(m, t), x, vectorize=True,
                                      outer_jacobian_strategy="forward-mode"), randn(2, 2))
