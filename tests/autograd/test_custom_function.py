"""torch-style custom Functions (``narae.autograd.Function`` with static methods) vs torch.

Each custom Function body is written once and built on both libraries (``_make(lib)``), so
the same code runs on narae and torch and the results are compared.
"""
import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn


def _lib(m):
    return "narae" if m is nr else "torch"


def _cache(factory):
    made = {}

    def get(m):
        if _lib(m) not in made:
            made[_lib(m)] = factory(m)
        return made[_lib(m)]
    return get


@_cache
def MyExp(m):
    class MyExp(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y
    return MyExp


@_cache
def ScaledMul(m):
    """Two tensor inputs, a Python scalar between them, a keyword argument."""
    class ScaledMul(m.autograd.Function):
        @staticmethod
        def forward(ctx, x, k, y, shift=0.0):
            ctx.save_for_backward(x, y)
            ctx.k = k
            return x * y * k + shift

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            gx = g * y * ctx.k if ctx.needs_input_grad[0] else None
            gy = g * x * ctx.k if ctx.needs_input_grad[2] else None
            return gx, None, gy, None
    return ScaledMul


@_cache
def SinCos(m):
    """Two outputs; the backward uses both gradients."""
    class SinCos(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, gs, gc):
            (x,) = ctx.saved_tensors
            return gs * x.cos() - gc * x.sin()
    return SinCos


@_cache
def NewStyleCube(m):
    """forward without ctx, setup_context(ctx, inputs, output)."""
    class NewStyleCube(m.autograd.Function):
        @staticmethod
        def forward(x, power=3):
            return x ** power

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, power = inputs
            ctx.save_for_backward(x)
            ctx.power = power

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * ctx.power * x ** (ctx.power - 1), None
    return NewStyleCube


@_cache
def VjpSquare(m):
    class VjpSquare(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def vjp(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g
    return VjpSquare


@_cache
def InplaceDouble(m):
    """An in-place custom op: modifies its input, marks it dirty and returns it."""
    class InplaceDouble(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return 2 * g
    return InplaceDouble


@_cache
def SortNonDiff(m):
    """A differentiable output plus an integer index output marked non-differentiable."""
    class SortNonDiff(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, idx = x.sort(dim=-1)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            ctx.shape = x.shape
            return values, idx

        @staticmethod
        def backward(ctx, gv, gi):
            (idx,) = ctx.saved_tensors
            out = m.zeros(ctx.shape, dtype=gv.dtype)
            return out.scatter(-1, idx, gv)
    return SortNonDiff


def test_exp_matches_torch_with_double_backward():
    check(lambda m, x: MyExp(m).apply(x), randn(3, 4), double=True)


def test_grad_fn_name_and_repr():
    x = nr.randn(3, requires_grad=True)
    y = MyExp(nr).apply(x)
    assert type(y.grad_fn).__name__ == "MyExpBackward"
    assert y.grad_fn.name == "MyExpBackward"
    assert "MyExpBackward" in repr(y.grad_fn)
    assert y.requires_grad and not y.is_leaf


def test_non_tensor_args_keyword_and_needs_input_grad():
    check(lambda m, x, y: ScaledMul(m).apply(x, 2.5, y, shift=1.0), randn(2, 3), randn(2, 3),
          double=True)
    check(lambda m, x, y: ScaledMul(m).apply(x, -1.5, y), randn(2, 3), randn(3), diff=[0])
    seen = {}

    class Probe(nr.autograd.Function):
        @staticmethod
        def forward(ctx, a, k, b):
            seen["forward"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            seen["backward"] = ctx.needs_input_grad
            return g, None, None
    a = nr.randn(3, requires_grad=True)
    Probe.apply(a, 3, nr.randn(3)).sum().backward()
    assert seen == {"forward": (True, False, False), "backward": (True, False, False)}


def test_broadcast_gradient_is_summed_back():
    # y broadcasts over x's rows: the custom backward returns a (2, 3) gradient for y (3,)
    check(lambda m, x, y: ScaledMul(m).apply(x, 1.0, y), randn(2, 3), randn(3))


def test_multiple_outputs_and_materialized_zero_grads():
    check(lambda m, x: SinCos(m).apply(x), randn(4), double=True)
    # only one output used: the other's gradient arrives as zeros (materialized)
    check(lambda m, x: SinCos(m).apply(x)[1] * 3, randn(2, 3))


def test_set_materialize_grads_false_passes_none():
    received = []

    def make(m):
        class Two(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                received.append((g1 is None, g2 is None))
                out = 0
                if g1 is not None:
                    out = out + 2 * g1
                if g2 is not None:
                    out = out + 3 * g2
                return out
        return Two
    for m in (nr, torch):
        x = m.ones(3, requires_grad=True) if m is torch else nr.ones(3, requires_grad=True)
        make(m).apply(x)[1].sum().backward()
        assert x.grad.tolist() == [3.0, 3.0, 3.0]
    assert received == [(True, False), (True, False)]


def test_new_style_setup_context():
    check(lambda m, x: NewStyleCube(m).apply(x), randn(3, 2), double=True)
    check(lambda m, x: NewStyleCube(m).apply(x, power=2), randn(3))


def test_vjp_alias_of_backward():
    check(lambda m, x: VjpSquare(m).apply(x), randn(5), double=True)


def test_mark_dirty_in_place_custom_op():
    def fn(m, x):
        y = x * 1.5
        z = InplaceDouble(m).apply(y)
        return z * x
    check(fn, randn(2, 3))
    x = nr.randn(3, requires_grad=True)
    y = x.clone()
    z = InplaceDouble(nr).apply(y)
    assert z is y and type(y.grad_fn).__name__ == "InplaceDoubleBackward"
    assert y._version_number == 1


def test_mark_dirty_on_leaf_requiring_grad_raises():
    for m in (nr, torch):
        x = m.randn(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            InplaceDouble(m).apply(x)


def test_mark_non_differentiable_and_integer_outputs():
    check(lambda m, x: SortNonDiff(m).apply(x)[0], randn(3, 5))
    x = nr.randn(2, 4, requires_grad=True)
    values, idx = SortNonDiff(nr).apply(x)
    assert values.requires_grad and not idx.requires_grad and idx.grad_fn is None
    np.testing.assert_array_equal(idx.numpy(), np.argsort(x.detach().numpy(), axis=-1))

    class FloatNonDiff(nr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            ctx.mark_non_differentiable(y)
            return y, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return 3 * g2
    a, b = FloatNonDiff.apply(x)
    assert not a.requires_grad and b.requires_grad
    b.sum().backward()
    assert np.allclose(x.grad.numpy(), 3)


def test_returning_none_gradient():
    for m in (nr, torch):
        class NoGrad(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return None
        x = m.ones(3, requires_grad=True)
        (g,) = m.autograd.grad(NoGrad.apply(x).sum(), x, allow_unused=True)
        assert g is None


def test_gradcheck_float64_and_retain_graph():
    x = nr.tensor(randn(4), dtype=nr.float64, requires_grad=True)
    assert nr.autograd.gradcheck(lambda t: MyExp(nr).apply(t), (x,))
    assert nr.autograd.gradgradcheck(lambda t: MyExp(nr).apply(t), (x,))
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    y, ty = MyExp(nr).apply(x * 0.5), MyExp(torch).apply(tx * 0.5)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    ty.sum().backward(retain_graph=True)
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_no_graph_without_grad():
    x = nr.randn(3, requires_grad=True)
    with nr.no_grad():
        y = MyExp(nr).apply(x)
    assert y.grad_fn is None and not y.requires_grad
    y = MyExp(nr).apply(nr.randn(3))
    assert y.grad_fn is None and not y.requires_grad


def test_once_differentiable_raises_on_double_backward():
    from narae.autograd.function import once_differentiable as nr_once
    from torch.autograd.function import once_differentiable as torch_once

    def make(m, once):
        class Sq(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            @once
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g
        return Sq
    for m, once in ((nr, nr_once), (torch, torch_once)):
        Sq = make(m, once)
        x = m.ones(3, requires_grad=True) if m is torch else nr.ones(3, requires_grad=True)
        (g,) = m.autograd.grad(Sq.apply(x).sum(), x)  # single backward is fine
        assert g.tolist() == [2.0, 2.0, 2.0]
        v = m.ones(3, requires_grad=True) if m is torch else nr.ones(3, requires_grad=True)
        (g,) = m.autograd.grad(Sq.apply(x), x, v, create_graph=True)
        assert g.requires_grad
        with pytest.raises(RuntimeError, match="once_differentiable"):
            g.sum().backward()


def test_wrong_number_of_gradients():
    class Bad(nr.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g
    x = nr.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"function BadBackward returned an incorrect number "
                                           r"of gradients \(expected 2, got 1\)"):
        Bad.apply(x, 2.0).sum().backward()

    class ExtraNone(Bad):
        @staticmethod
        def backward(ctx, g):
            return g * 2, None, None  # trailing Nones are accepted, as in torch
    ExtraNone.apply(x, 2.0).sum().backward()
    assert np.allclose(x.grad.numpy(), 2)

    class Extra(Bad):
        @staticmethod
        def backward(ctx, g):
            return g, None, g
    with pytest.raises(RuntimeError, match=r"expected 2, got 3"):
        Extra.apply(x, 2.0).sum().backward()


def test_invalid_gradient_shape_and_non_tensor_gradient():
    class BadShape(nr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum()
    x = nr.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Function BadShapeBackward returned an invalid "
                                           r"gradient at index 0 - got \[\] but expected shape "
                                           r"compatible with \[3\]"):
        BadShape.apply(x).sum().backward()

    class GradForScalar(nr.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, 1.0
    with pytest.raises(RuntimeError, match="returned a gradient different than None at "
                                           "position 2, but the corresponding forward input "
                                           "was not a Variable"):
        GradForScalar.apply(x, 2.0).sum().backward()


def test_saved_tensor_modified_in_place_raises():
    for m in (nr, torch):
        x = m.randn(3, requires_grad=True)
        y = MyExp(m).apply(x)
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation.*is at "
                                               "version 1; expected version 0 instead"):
            y.sum().backward()


def test_saved_tensors_after_backward_are_freed():
    x = nr.randn(3, requires_grad=True)
    y = MyExp(nr).apply(x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()


def test_legacy_call_raises_but_internal_functions_still_work():
    x = nr.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Legacy autograd function with non-static forward"):
        MyExp(nr)()(x)
    from narae.ops.arith import Exp
    y = Exp()(x)
    assert np.allclose(y.detach().numpy(), np.exp(x.detach().numpy()))
    with pytest.raises(TypeError, match="only torch-style Functions"):
        Exp.apply(x)


def test_subclass_of_custom_function_inherits_style():
    class Child(MyExp(nr)):
        pass
    x = nr.randn(3, requires_grad=True)
    y = Child.apply(x)
    assert type(y.grad_fn).__name__ == "ChildBackward"
    y.sum().backward()
    assert np.allclose(x.grad.numpy(), np.exp(x.detach().numpy()))


@_cache
def LinearFn(m):
    class LinearFn(m.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b):
            ctx.save_for_backward(x, w)
            return x @ w.t() + b

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return g @ w, g.t() @ x, g.sum(0)
    return LinearFn


def test_linear_custom_function_gradcheck():
    check(lambda m, x, w, b: LinearFn(m).apply(x, w, b), randn(4, 3), randn(2, 3), randn(2),
          double=True)


def test_custom_function_in_module_trained_by_optimizer():
    w0, b0 = randn(2, 3).astype(np.float32), randn(2).astype(np.float32)
    x, t = randn(8, 3).astype(np.float32), randn(8, 2).astype(np.float32)
    results = []
    for m in (nr, torch):
        class Layer(m.nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = m.nn.Parameter(m.tensor(w0.copy()))
                self.bias = m.nn.Parameter(m.tensor(b0.copy()))

            def forward(self, inp):
                return MyExp(m).apply(LinearFn(m).apply(inp, self.weight, self.bias) * 0.1)

        layer = Layer()
        opt = m.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
        xs, ts = m.tensor(x), m.tensor(t)
        for _ in range(5):
            opt.zero_grad()
            loss = ((layer(xs) - ts) ** 2).mean()
            loss.backward()
            opt.step()
        results.append((layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy(),
                        float(loss.detach())))
    (w1, b1, l1), (w2, b2, l2) = results
    np.testing.assert_allclose(w1, w2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b2, rtol=1e-5, atol=1e-6)
    assert abs(l1 - l2) < 1e-5
