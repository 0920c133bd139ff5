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


# -- forward mode: jvp / jacfwd / linearize / hessian ------------------------------------
def test_jvp_is_forward_mode_and_matches_torch():
    from narae.autograd import engine
    seen = []

    def fn(m, x, y):
        if m is nr:
            seen.append(engine.is_instrumented("forward_ad"))
        return {"a": m.tanh(x) @ y, "b": (x * x).sum()}

    _both(lambda m, fm, x, y, tx, ty: fm.jvp(lambda a, b: fn(m, a, b), (x, y), (tx, ty)),
          randn(3, 4), randn(4, 2), randn(3, 4), randn(4, 2))
    assert seen == [True]
    assert not engine.is_instrumented("forward_ad")


def test_jvp_pytrees_has_aux_and_detached():
    _both(lambda m, fm, x, t: fm.jvp(lambda d: (d["p"].sin(), {"q": d["p"] * 2}),
                                     ({"p": x},), ({"p": t},)), randn(3), randn(3))
    _both(lambda m, fm, x, t: fm.jvp(lambda a: (a.exp().sum(), a * 3), (x,), (t,),
                                     has_aux=True), randn(4), randn(4))
    out, tan = nfunc.jvp(lambda a: a.sin(), (nr.randn(3),), (nr.randn(3),))
    assert not out.requires_grad and not tan.requires_grad


def test_jvp_errors_match_torch():
    x = nr.randn(3)
    with pytest.raises(RuntimeError, match="Expected primals to be a tuple"):
        nfunc.jvp(nr.sin, x, (x,))
    with pytest.raises(RuntimeError, match="same length as primals"):
        nfunc.jvp(nr.sin, (x,), (x, x))
    with pytest.raises(RuntimeError, match=r"different size.*\[3\].*\[2\]"):
        nfunc.jvp(nr.sin, (x,), (nr.randn(2),))
    with pytest.raises(ValueError, match="primal to be floating point"):
        nfunc.jvp(nr.sin, (nr.arange(3),), (nr.arange(3),))
    with pytest.raises(RuntimeError, match="return only tensors"):
        nfunc.jvp(lambda a: 3, (x,), (x,))


def test_nested_jvp_and_reverse_over_forward():
    # jvp of jvp: the inner one falls back to reverse mode (one forward level at a time)
    def inner(m, fm, x, t):
        return fm.jvp(lambda a: fm.jvp(lambda b: (b ** 3).sin(), (a,), (t,))[1], (x,), (t,))
    _both(inner, randn(3), randn(3))
    # grad of a jvp (reverse-over-forward)
    _both(lambda m, fm, x, t: fm.grad(lambda a: fm.jvp(lambda b: (b.sin() * b).sum(),
                                                       (a,), (t,))[1])(x), randn(4), randn(4))


def _jac_ops(m, x):
    F = m.nn.functional
    return (F.softmax(x, -1), F.log_softmax(x * 2, 0), F.layer_norm(x, (3,)),
            (x @ x.mT).exp(), x.sigmoid() * x.tanh(), F.gelu(x), x.abs().sqrt(),
            m.cat([x, x ** 2], 0)[1:], x.max(1).values, x.cumsum(1), x.prod(0))


def test_jacfwd_matches_torch_on_many_ops():
    _both(lambda m, fm, x: fm.jacfwd(lambda a: _jac_ops(m, a))(x), randn(2, 3))


def test_jacfwd_argnums_aux_and_nesting():
    _both(lambda m, fm, x, y: fm.jacfwd(lambda a, b: vec(m, a, b), argnums=(0, 1))(x, y),
          randn(2, 3), randn(2, 3))
    _both(lambda m, fm, x: fm.jacfwd(lambda a: (a.sin(), a.sum()), has_aux=True)(x), randn(3))
    _both(lambda m, fm, x: fm.jacfwd(fm.jacfwd(lambda a: (a ** 3).sum() * a.cos()))(x),
          randn(3))
    _both(lambda m, fm, x: fm.jacrev(fm.jacfwd(lambda a: a.exp() * a.sum()))(x), randn(3))


@pytest.mark.parametrize("name", ["tanh_sigmoid", "softmax", "norm_ops", "matmul", "pool"])
def test_hessian_forward_over_reverse_matches_torch(name):
    def h(m, x):
        F = m.nn.functional
        if name == "tanh_sigmoid":
            return (m.tanh(x) * m.sigmoid(x) + x.exp() / (1 + x * x)).sum()
        if name == "softmax":
            return (F.softmax(x, -1) * F.log_softmax(x, 0)).sum()
        if name == "norm_ops":
            return (F.layer_norm(x, (3,)) ** 2 * x).sum() + x.std() + x.norm()
        if name == "matmul":
            return (x @ x.mT).sin().sum() + F.linear(x, x).pow(2).mean()
        return F.max_pool1d(x.unsqueeze(0), 2).pow(3).sum() + F.elu(x).sum()
    _both(lambda m, fm, x: fm.hessian(lambda a: h(m, a))(x), randn(3, 3))


def test_hessian_of_mlp_loss_matches_torch():
    def loss(m, w1, w2, x, y):
        F = m.nn.functional
        return F.cross_entropy(F.linear(F.relu(F.linear(x, w1)), w2), y)
    x, y = randn(4, 3), np.array([0, 1, 1, 0])
    _both(lambda m, fm, w1, w2: fm.hessian(
        lambda a, b: loss(m, a, b, _t(m, x), m.tensor(y)), argnums=(0, 1))(w1, w2),
        randn(2, 3), randn(2, 2))


def test_linearize_matches_torch():
    def fn(m, x, y):
        return m.sin(x) * y, (x @ y.mT).sum()
    x, y, tx, ty = randn(3, 2), randn(3, 2), randn(3, 2), randn(3, 2)
    for m, fm in ((nr, nfunc), (torch, tfunc)):
        out, jfn = fm.linearize(lambda a, b: fn(m, a, b), _t(m, x), _t(m, y))
        res = (out, jfn(_t(m, tx), _t(m, ty)), jfn(_t(m, ty), _t(m, tx)))
        if m is nr:
            ours = res
        else:
            theirs = res
    _same(ours, theirs)


def test_linearize_errors():
    _, jfn = nfunc.linearize(nr.sin, nr.randn(3))
    with pytest.raises(RuntimeError, match="Mismatch in shape or dtype"):
        jfn(nr.randn(2))
    with pytest.raises(RuntimeError, match="same argument structure"):
        jfn(nr.randn(3), nr.randn(3))


# -- functionalize / replace_all_batch_norm_modules_ ----------------------------------------
def test_functionalize_matches_torch_observable_behaviour():
    def f(m, a, b):
        c = a + 1
        c.view(-1).add_(1)
        a.mul_(2)
        b[0] = 7.0
        return c, a, b.sum()

    arrays = randn(2, 2), randn(3)
    res = []
    for m, fm in ((nr, nfunc), (torch, tfunc)):
        a, b = (_t(m, v) for v in arrays)
        out = fm.functionalize(lambda x, y: f(m, x, y))(a, b)
        assert out[1] is not a  # a mutated argument comes back as a new tensor
        assert fm.functionalize(lambda x: x)(a) is a
        res.append((out, a, b))
    _same(*res)


def test_functionalize_keeps_autograd_and_checks_remove():
    x = nr.randn(3, requires_grad=True)
    y = nfunc.functionalize(lambda a: (a * 2).sin(), remove="mutations_and_views")(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(2 * x.detach().numpy()), atol=1e-6)
    with pytest.raises(RuntimeError, match="invalid argument for remove=bad"):
        nfunc.functionalize(nr.sin, remove="bad")
    g = nfunc.grad(nfunc.functionalize(lambda a: (a.clone().add_(1) ** 2).sum()))(nr.ones(3))
    np.testing.assert_allclose(g.numpy(), 4.0)


def test_replace_all_batch_norm_modules_():
    def build(m):
        return m.nn.Sequential(m.nn.Linear(3, 3), m.nn.BatchNorm1d(3),
                               m.nn.Sequential(m.nn.BatchNorm2d(2, affine=False)))
    ours, theirs = build(nr), build(torch)
    assert nfunc.replace_all_batch_norm_modules_(ours) is ours
    tfunc.replace_all_batch_norm_modules_(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for mo, mt in ((ours[1], theirs[1]), (ours[2][0], theirs[2][0])):
        assert mo.running_mean is None and mo.running_var is None
        assert mo.num_batches_tracked is None and mo.track_running_stats is False
        assert mt.track_running_stats is False
    ours.eval()  # batch statistics even in eval mode, as torch
    out = ours[1](nr.randn(8, 3))
    np.testing.assert_allclose(out.detach().numpy().mean(0), 0, atol=1e-5)


# -- rearrange / debug_unwrap --------------------------------------------------------------
@pytest.mark.parametrize("pattern,kw", [
    ("a b c -> a (b c)", {}), ("a b c -> c a b", {}), ("a ... -> ... a", {}),
    ("... c -> c (...)", {}), ("a b c -> a b c 1", {}), ("a b c -> (c a) 1 b", {}),
    ("(a b) c d -> a b c d", {"a": 2}), ("a b (c d) -> a b c d", {"c": 4}),
    ("a (b) c -> c b a", {}), ("a b c -> a b () c", {}), ("a ... c -> (c a) ...", {}),
])
def test_rearrange_matches_torch(pattern, kw):
    x = randn(2, 3, 4)
    _both(lambda m, fm, t: fm.rearrange(t, pattern, **kw), x)


def test_rearrange_list_gradient_and_errors():
    _both(lambda m, fm, a, b: fm.rearrange([a, b], "n b c -> b (n c)"), randn(3, 4), randn(3, 4))
    _both(lambda m, fm, x: fm.grad(lambda t: (fm.rearrange(t, "a b -> b a") *
                                              m.arange(6.0, dtype=t.dtype).reshape(3, 2)).sum())(x),
          randn(2, 3))
    x = nr.randn(2, 3, 4)
    for pattern, kw, match in [
            ("a b c -> a d", {}, "only on one side"), ("a b c", {}, "single '->'"),
            ("a b c -> (a a) b c", {}, "duplicate dimension 'a'"),
            ("a b c -> a b c", {"e": 3}, "not found in rearrange expression"),
            ("(a b) c d -> a b c d", {"a": 3}, "does not evenly fit"),
            ("a b -> a b", {}, r"pattern \(2\) must be equal"),
            ("a b c d ... -> a b c d ...", {}, r"pattern \(4\) must be less than or equal")]:
        with pytest.raises(ValueError, match=match):
            nfunc.rearrange(x, pattern, **kw)
        with pytest.raises(Exception, match=match):  # (torch: ValueError or its own type)
            tfunc.rearrange(torch.randn(2, 3, 4), pattern, **kw)
    assert nfunc.debug_unwrap(x) is x


def test_linearize_output_keeps_graph_as_torch():
    x = nr.randn(3, requires_grad=True)
    out, jfn = nfunc.linearize(nr.sin, x)
    assert out.requires_grad and not nfunc.linearize(nr.sin, x.detach())[0].requires_grad
    np.testing.assert_allclose(jfn(nr.ones(3)).detach().numpy(), np.cos(x.detach().numpy()),
                               rtol=1e-6)
