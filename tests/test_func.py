"""narae.func vs torch.func: functional_call, grad, vjp, jvp, jacrev/jacfwd, hessian, vmap."""
import numpy as np
import pytest
import torch
import torch.func as tfunc

import narae as nr
import narae.func as nfunc
from helpers import assert_same_tree, randn

TOL = dict(rtol=1e-10, atol=1e-10)
# torch.func / autograd.functional trigger torch's own torch.jit.script deprecation warning
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _t(m, a):
    return m.tensor(a, dtype=m.float64)


def _same(ours, theirs):
    assert_same_tree(ours, theirs, **TOL)


def _both(fn, *arrays):
    ours = fn(nr, nfunc, *[_t(nr, a) for a in arrays])
    theirs = fn(torch, tfunc, *[_t(torch, a) for a in arrays])
    _same(ours, theirs)
    return ours


def f(m, x):
    return (m.sin(x) * x).sum()


def g(m, x, y):
    return (m.tanh(x) * y).sum() + (x * x * y.sum()).sum()


def vec(m, x, y):
    return m.tanh(x) * y, (x * x).sum(-1)


# -- grad / grad_and_value ---------------------------------------------------------------
def test_grad_single_and_argnums():
    _both(lambda m, fm, x: fm.grad(lambda t: f(m, t))(x), randn(3, 4))
    _both(lambda m, fm, x, y: fm.grad(lambda a, b: g(m, a, b), argnums=1)(x, y),
          randn(3), randn(3))
    _both(lambda m, fm, x, y: fm.grad(lambda a, b: g(m, a, b), argnums=(0, 1))(x, y),
          randn(3), randn(3))
    _both(lambda m, fm, x, y: fm.grad(lambda a, b: g(m, a, b), argnums=-1)(x, y),
          randn(2), randn(2))


def test_grad_of_dict_and_has_aux_and_grad_and_value():
    def loss(m, p, x):
        return ((x @ p["w"] + p["b"]) ** 2).sum(), {"norm": p["w"].sum()}

    def fn(m, fm, w, b, x):
        p = {"w": w, "b": b}
        grads, aux = fm.grad(lambda q, z: loss(m, q, z), has_aux=True)(p, x)
        gv, (value, aux2) = fm.grad_and_value(lambda q, z: loss(m, q, z), has_aux=True)(p, x)
        g2, v2 = fm.grad_and_value(lambda q, z: loss(m, q, z)[0])(p, x)
        return grads, aux, gv, value, aux2, g2, v2
    ours = _both(fn, randn(3, 2), randn(2), randn(4, 3))
    assert not ours[0]["w"].requires_grad and not ours[3].requires_grad


def test_nested_grad_is_second_derivative():
    _both(lambda m, fm, x: fm.grad(lambda t: fm.grad(lambda u: (u ** 4).sum() * 1.0)(t)
                                   .sum())(x), randn(4))
    # a closure over the outer variable
    _both(lambda m, fm, x, y: fm.grad(lambda a: (fm.grad(lambda b: (m.sin(a * b)).sum())(y)
                                                  ** 2).sum())(x), randn(3), randn(3))


def test_grad_errors():
    x = _t(nr, randn(3))
    with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor, "
                                           "got tensor with 1 dims"):
        nfunc.grad(lambda t: t * 2)(x)
    with pytest.raises(RuntimeError, match="output of function f should be a tuple"):
        nfunc.grad(lambda t: t.sum(), has_aux=True)(x)
    with pytest.raises(RuntimeError, match="only 1 positional inputs"):
        nfunc.grad(lambda t: t.sum(), argnums=1)(x)


def test_grad_result_joins_outer_autograd():
    x = _t(nr, randn(3)).requires_grad_(True)
    gx = nfunc.grad(lambda t: (t ** 3).sum())(x)
    assert gx.requires_grad
    gx.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy(), **TOL)


# -- vjp / jvp ---------------------------------------------------------------------------
def test_vjp_and_jvp():
    def fn(m, fm, x, y, cx, cy):
        out, vjp_fn = fm.vjp(lambda a, b: vec(m, a, b), x, y)
        return out, vjp_fn((cx, cy))
    _both(fn, randn(2, 3), randn(2, 3), randn(2, 3), randn(2))

    def fn2(m, fm, x, y, tx, ty):
        return fm.jvp(lambda a, b: vec(m, a, b), (x, y), (tx, ty))
    _both(fn2, randn(2, 3), randn(2, 3), randn(2, 3), randn(2, 3))

    def fn3(m, fm, x, c):
        out, vjp_fn, aux = fm.vjp(lambda a: (m.exp(a), a.sum()), x, has_aux=True)
        return out, vjp_fn(c), aux
    _both(fn3, randn(3), randn(3))


# -- jacobians ---------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["jacrev", "jacfwd"])
def test_jacobians(which):
    _both(lambda m, fm, x: getattr(fm, which)(lambda t: m.sin(t) * t.sum())(x), randn(3))
    _both(lambda m, fm, x, y: getattr(fm, which)(lambda a, b: vec(m, a, b), argnums=(0, 1))(x, y),
          randn(2, 3), randn(2, 3))
    _both(lambda m, fm, x: getattr(fm, which)(lambda t: {"a": t.exp(), "b": t[0] * t})(x),
          randn(2))


def test_jacrev_has_aux_and_nested_hessian():
    _both(lambda m, fm, x: fm.jacrev(lambda t: (m.sin(t), t.sum()), has_aux=True)(x), randn(3))
    _both(lambda m, fm, x: fm.jacrev(fm.jacrev(lambda t: (t ** 3).sum() * m.cos(t)))(x),
          randn(3))


def test_hessian():
    _both(lambda m, fm, x: fm.hessian(lambda t: f(m, t))(x), randn(4))
    _both(lambda m, fm, x, y: fm.hessian(lambda a, b: g(m, a, b), argnums=(0, 1))(x, y),
          randn(2), randn(2))


# -- vmap --------------------------------------------------------------------------------
def test_vmap_in_dims_out_dims():
    _both(lambda m, fm, x: fm.vmap(lambda t: t.sum() * t)(x), randn(4, 3))
    _both(lambda m, fm, x, y: fm.vmap(lambda a, b: a @ b, in_dims=(1, None))(x, y),
          randn(3, 5, 4), randn(4, 2))
    _both(lambda m, fm, x: fm.vmap(lambda t: t * 2, in_dims=-1, out_dims=1)(x), randn(2, 3))
    _both(lambda m, fm, x, y: fm.vmap(lambda a, b: (a * b, b.sum()), in_dims=(0, None),
                                                 out_dims=(0, None))(
        x, m.ones(3, dtype=m.float64)), randn(4, 3), randn(1))
    _both(lambda m, fm, x, y: fm.vmap(lambda d: d["a"] + d["b"],
                                      in_dims=({"a": 0, "b": None},))({"a": x, "b": y}),
          randn(4, 3), randn(3))


def test_nested_vmap():
    _both(lambda m, fm, x, y: fm.vmap(fm.vmap(lambda a, b: a * b, in_dims=(0, None)),
                                      in_dims=(None, 0))(x, y), randn(3), randn(2))


def test_vmap_errors_and_randomness():
    x = _t(nr, randn(3, 2))
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        nfunc.vmap(lambda a, b: a + b)(x, _t(nr, randn(4, 2)))
    with pytest.raises(ValueError, match="at least one input must be batched"):
        nfunc.vmap(lambda a: a, in_dims=None)(x)
    with pytest.raises(ValueError, match="cannot vmap over non-Tensor"):
        nfunc.vmap(lambda a, k: a * k)(x, 2.0)
    with pytest.raises(ValueError, match="must only return Tensors"):
        nfunc.vmap(lambda a: 3.0)(x)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        nfunc.vmap(lambda a: a + nr.randn(2, dtype=nr.float64))(x)
    same = nfunc.vmap(lambda a: nr.randn(2, dtype=nr.float64), randomness="same")(x)
    assert np.array_equal(same.numpy()[0], same.numpy()[1])
    diff = nfunc.vmap(lambda a: nr.randn(2, dtype=nr.float64), randomness="different")(x)
    assert not np.array_equal(diff.numpy()[0], diff.numpy()[1])
    with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
        nfunc.vmap(lambda a: a, randomness="sometimes")


def test_gradient_flows_through_vmap():
    x = _t(nr, randn(3, 2)).requires_grad_(True)
    tx = _t(torch, x.detach().numpy()).requires_grad_(True)
    nfunc.vmap(lambda a: (a ** 3).sum())(x).sum().backward()
    tfunc.vmap(lambda a: (a ** 3).sum())(tx).sum().backward()
    _same(x.grad, tx.grad)


# -- functional_call ---------------------------------------------------------------------
def _mlp(m):
    m.manual_seed(0)
    net = m.nn.Sequential(m.nn.Linear(3, 4), m.nn.Tanh(), m.nn.Linear(4, 2)).double()
    return net


def _copy_weights(ours, theirs):
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        p.data = nr.tensor(q.detach().numpy().copy())


def test_functional_call_swaps_and_restores():
    net = _mlp(nr)
    before = {k: v for k, v in net.named_parameters()}
    new = {k: nr.zeros_like(v) for k, v in before.items()}
    x = _t(nr, randn(5, 3))
    out = nfunc.functional_call(net, new, (x,))
    assert np.all(out.detach().numpy() == 0)
    assert all(p is before[k] for k, p in net.named_parameters())
    # restored even when the call raises
    with pytest.raises(Exception):
        nfunc.functional_call(net, new, (_t(nr, randn(5, 7)),))
    assert all(p is before[k] for k, p in net.named_parameters())
    # a single tensor as args, a partial dict, a tuple of dicts
    out1 = nfunc.functional_call(net, {"2.bias": nr.ones(2, dtype=nr.float64)}, x)
    out2 = nfunc.functional_call(net, ({"2.bias": nr.ones(2, dtype=nr.float64)}, {}), x)
    np.testing.assert_array_equal(out1.detach().numpy(), out2.detach().numpy())


def test_functional_call_strict_and_duplicate_keys():
    net = _mlp(nr)
    with pytest.raises(RuntimeError, match="Missing key\\(s\\)"):
        nfunc.functional_call(net, {"0.weight": nr.zeros(4, 3)}, (nr.zeros(1, 3),), strict=True)
    with pytest.raises(RuntimeError, match="Unexpected key\\(s\\): 'nope'"):
        params = dict(net.named_parameters())
        params["nope"] = nr.zeros(1)
        nfunc.functional_call(net, params, (nr.zeros(1, 3),), strict=True)
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        nfunc.functional_call(net, ({"0.bias": nr.zeros(4)}, {"0.bias": nr.zeros(4)}),
                              (nr.zeros(1, 3),))


def test_functional_call_tied_weights():
    for m, fm in ((nr, nfunc), (torch, tfunc)):
        net = m.nn.Sequential(m.nn.Linear(2, 2, bias=False), m.nn.Linear(2, 2, bias=False))
        net[1].weight = net[0].weight
        w = m.eye(2) * 3
        out = fm.functional_call(net, {"0.weight": w}, (m.ones(1, 2),))
        assert out.detach().numpy().tolist() == [[9.0, 9.0]]
        out = fm.functional_call(net, {"0.weight": w}, (m.ones(1, 2),), tie_weights=False)
        assert out.detach().numpy().tolist() != [[9.0, 9.0]]


def test_per_sample_gradients_match_torch():
    nets = {"narae": _mlp(nr), "torch": _mlp(torch)}
    _copy_weights(nets["narae"], nets["torch"])
    data, targets = randn(6, 3), randn(6, 2)

    def run(m, fm, x, t):
        net = nets["narae" if m is nr else "torch"]
        params = {k: v.detach() for k, v in net.named_parameters()}

        def loss(p, xi, ti):
            out = fm.functional_call(net, p, (xi.unsqueeze(0),))
            return ((out - ti.unsqueeze(0)) ** 2).mean()
        return fm.vmap(fm.grad(loss), in_dims=(None, 0, 0))(params, x, t)
    grads = _both(run, data, targets)
    assert list(grads) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert tuple(grads["0.weight"].shape) == (6, 4, 3)


def test_stack_module_state():
    models = [_mlp(nr) for _ in range(3)]
    params, buffers = nfunc.stack_module_state(models)
    assert tuple(params["0.weight"].shape) == (3, 4, 3) and buffers == {}
    x = _t(nr, randn(2, 3))
    out = nfunc.vmap(lambda p, xx: nfunc.functional_call(models[0], p, (xx,)),
                     in_dims=(0, None))(params, x)
    np.testing.assert_allclose(out.detach().numpy()[1], models[1](x).detach().numpy(), **TOL)
