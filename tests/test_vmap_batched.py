"""The vectorized narae.func.vmap vs torch.func.vmap: one batched call, same results.

Each ``vcheck`` runs an expression ``fn(m, fm, *tensors)`` (``m`` narae or torch, ``fm``
their ``func``) through ``tests/helpers.check`` (forward and ``grad(vmap(f))`` parity in
float32, contiguous and not, and a float64 gradcheck through vmap), then once more on narae
alone to assert that vmap took the vectorized path and, for ops with a batching rule, that
no op needed the per-sample fallback.
"""
import numpy as np
import pytest
import torch
import torch.func as tfunc

import narae as nr
import narae.func as nfunc
from narae.autograd import engine
from narae.func import _batching
from helpers import check, randn, rand, assert_same_tree

pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning")

TOL = dict(rtol=1e-10, atol=1e-10)


def _fm(m):
    return nfunc if m is nr else tfunc


def _tensors(m, arrays):
    return [m.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]


def _assert_path(fallback_ok=False, path="vectorized"):
    s = _batching.stats()
    assert s["path"] == path, s
    if not fallback_ok:
        assert s["fallback"] == 0, s
    return s


def vcheck(fn, *arrays, double=False, fallback_ok=False, **kw):
    check(lambda m, *xs: fn(m, _fm(m), *xs), *arrays, double=double, **kw)
    fn(nr, nfunc, *_tensors(nr, arrays))
    return _assert_path(fallback_ok)


def both(fn, *arrays):
    """float64 results of narae and torch, compared; then the vectorized path is asserted."""
    ours = fn(nr, nfunc, *_tensors(nr, arrays))
    theirs = fn(torch, tfunc, *_tensors(torch, arrays))
    assert_same_tree(ours, theirs, **TOL)
    return ours


# -- elementwise ops ------------------------------------------------------------------------------
UNARY = {
    "sin": lambda m, t: m.sin(t),
    "exp": lambda m, t: m.exp(t),
    "tanh": lambda m, t: m.tanh(t),
    "relu": lambda m, t: m.nn.functional.relu(t),
    "sigmoid": lambda m, t: m.sigmoid(t),
    "gelu": lambda m, t: m.nn.functional.gelu(t),
    "softplus": lambda m, t: m.nn.functional.softplus(t),
    "silu": lambda m, t: m.nn.functional.silu(t),
    "clamp": lambda m, t: m.clamp(t, -0.5, 0.5),
    "pow_scalar": lambda m, t: t ** 3,
    "affine": lambda m, t: 1.5 - t * 2 + 1,
    "neg_div": lambda m, t: -t / 3,
    "log_abs": lambda m, t: m.log(t.abs() + 1),
    "sqrt_sq": lambda m, t: m.sqrt(t * t + 1),
    "to_double": lambda m, t: t.to(m.float64) * 2,
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name):
    op = UNARY[name]
    vcheck(lambda m, fm, x: fm.vmap(lambda t: op(m, t))(x), randn(4, 3))


BINARY = {
    "add": lambda m, a, b: a + b,
    "sub": lambda m, a, b: a - b,
    "mul": lambda m, a, b: a * b,
    "div": lambda m, a, b: a / (b * b + 1),
    "maximum": lambda m, a, b: m.maximum(a, b),
    "atan2": lambda m, a, b: m.atan2(a, b + 3),
    "where": lambda m, a, b: m.where(a > b, a, b * 2),
    "pow": lambda m, a, b: (a * a + 1) ** b,
}


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("dims,shapes", [
    ((0, 0), ((4, 3), (4, 3))),
    ((0, None), ((4, 3), (3,))),
    ((None, 0), ((2, 3), (4, 3))),
    ((0, None), ((4, 3), (2, 3))),   # the unmapped operand has more dims than a sample
    ((1, 0), ((3, 4), (4, 1))),      # mapped along dim 1, broadcast against (1,)
    ((0, 0), ((4,), (4, 2))),        # a 0-d sample against a (2,) sample
], ids=["same", "b-unb", "unb-b", "rank", "dim1", "scalar"])
def test_binary(name, dims, shapes):
    op = BINARY[name]
    vcheck(lambda m, fm, x, y: fm.vmap(lambda a, b: op(m, a, b), in_dims=dims)(x, y),
           randn(*shapes[0]), randn(*shapes[1]))


# -- reductions and ops along an axis -----------------------------------------------------------
REDUCE = {
    "sum_all": lambda m, t: t.sum(),
    "sum_0": lambda m, t: t.sum(0),
    "sum_keep": lambda m, t: t.sum(-1, keepdim=True),
    "sum_dims": lambda m, t: t.sum((0, 1)),
    "mean": lambda m, t: t.mean(1),
    "amax": lambda m, t: m.amax(t, -1),
    "logsumexp": lambda m, t: m.logsumexp(t, 0),
    "prod": lambda m, t: t.prod(1),
    "var": lambda m, t: t.var(1),
    "norm": lambda m, t: t.norm(dim=1),
    "cumsum": lambda m, t: t.cumsum(1),
    "softmax": lambda m, t: m.softmax(t, -1),
    "log_softmax": lambda m, t: m.log_softmax(t, 0),
    "max_dim": lambda m, t: t.max(dim=1).values,
}


@pytest.mark.parametrize("name", list(REDUCE))
def test_reductions(name):
    op = REDUCE[name]
    vcheck(lambda m, fm, x: fm.vmap(lambda t: op(m, t), in_dims=1)(x), randn(2, 5, 3))


def test_reduction_of_a_0d_sample():
    vcheck(lambda m, fm, x: fm.vmap(lambda t: t.sum() * t.mean())(x), randn(5))


def test_argmax_values_equal_torch():
    x = randn(4, 3, 5)
    ours = nfunc.vmap(lambda t: t.argmax(1))(nr.tensor(x))
    theirs = tfunc.vmap(lambda t: t.argmax(1))(torch.tensor(x))
    assert np.array_equal(ours.numpy(), theirs.numpy())
    _assert_path()


# -- matmul / linear ----------------------------------------------------------------------------
MATMUL = [
    ("mm_b_unb", (0, None), (5, 2, 3), (3, 4)),
    ("mm_unb_b", (None, 0), (2, 3), (5, 3, 4)),
    ("mm_b_b", (0, 0), (5, 2, 3), (5, 3, 4)),
    ("bmm_rank", (0, 0), (5, 2, 3), (5, 6, 3, 4)),
    ("vec_mat", (0, None), (5, 3), (3, 4)),
    ("mat_vec", (0, 0), (5, 2, 3), (5, 3)),
    ("dot", (0, 0), (5, 3), (5, 3)),
    ("in_dim_1", (1, None), (2, 5, 3), (3, 4)),
]


@pytest.mark.parametrize("name,dims,sa,sb", MATMUL, ids=[c[0] for c in MATMUL])
def test_matmul(name, dims, sa, sb):
    vcheck(lambda m, fm, a, b: fm.vmap(lambda x, y: m.matmul(x, y), in_dims=dims)(a, b),
           randn(*sa), randn(*sb))


LINEAR = [
    ("x_batched", (0, None, None), (5, 2, 3), (4, 3), (4,)),
    ("x_1d", (0, None, None), (5, 3), (4, 3), (4,)),
    ("w_batched", (None, 0, None), (2, 3), (5, 4, 3), (4,)),
    ("all_batched", (0, 0, 0), (5, 2, 3), (5, 4, 3), (5, 4)),
    ("all_batched_1d", (0, 0, 0), (5, 3), (5, 4, 3), (5, 4)),
    ("b_batched", (0, None, 0), (5, 2, 3), (4, 3), (5, 4)),
    ("x_3d_w_batched", (0, 0, None), (5, 2, 6, 3), (5, 4, 3), (4,)),
]


@pytest.mark.parametrize("name,dims,sx,sw,sb", LINEAR, ids=[c[0] for c in LINEAR])
def test_linear(name, dims, sx, sw, sb):
    vcheck(lambda m, fm, x, w, b: fm.vmap(lambda a, c, d: m.nn.functional.linear(a, c, d),
                                          in_dims=dims)(x, w, b),
           randn(*sx), randn(*sw), randn(*sb))


def test_linear_without_bias_and_double_backward():
    vcheck(lambda m, fm, x, w: fm.vmap(lambda a, c: m.tanh(m.nn.functional.linear(a, c)),
                                       in_dims=(0, 0))(x, w),
           randn(4, 2, 3), randn(4, 5, 3), double=True)


# -- shape ops ----------------------------------------------------------------------------------
SHAPE = {
    "reshape_flat": lambda m, t: t.reshape(-1),
    "reshape": lambda m, t: t.reshape(2, 2, 3),
    "view": lambda m, t: m.flatten(t).view(3, 4),
    "flatten": lambda m, t: m.flatten(t),
    "unsqueeze": lambda m, t: t.unsqueeze(0) * t.unsqueeze(-1)[..., 0],
    "squeeze": lambda m, t: t.unsqueeze(1).squeeze(1),
    "transpose": lambda m, t: t.transpose(0, 1),
    "t": lambda m, t: t.t(),
    "permute": lambda m, t: t.reshape(2, 2, 3).permute(2, 0, 1),
    "expand": lambda m, t: t[:, :1].expand(4, 3) + 0,
    "expand_new": lambda m, t: t.expand(2, 4, 3) * 1,
    "movedim": lambda m, t: m.movedim(t, 0, 1),
    "index_int": lambda m, t: t[1],
    "index_slice": lambda m, t: t[:, 1:3],
    "index_none": lambda m, t: t[..., None],
    "index_mixed": lambda m, t: t[1, ::2],
    "cat_self": lambda m, t: m.cat([t, t * 2], 1),
    "stack_self": lambda m, t: m.stack([t, t * 2], -1),
    "chunk": lambda m, t: m.chunk(t, 2, 0)[1],
    "unbind": lambda m, t: t.unbind(1)[2],
    "select": lambda m, t: t.select(1, 0),
    "index_array": lambda m, t: t[m.tensor([0, 2, 2])],
    "index_array_dim1": lambda m, t: t[:, m.tensor([[1, 0], [2, 2]])],
    "index_int_array": lambda m, t: t[m.tensor([2, 0]), 1],
    "index_two_arrays": lambda m, t: t[m.tensor([2, 0]), m.tensor([1, 1])],
    "index_bool": lambda m, t: t[m.tensor([True, False, True, True])],
}


@pytest.mark.parametrize("name", list(SHAPE))
def test_shape_ops(name):
    op = SHAPE[name]
    vcheck(lambda m, fm, x: fm.vmap(lambda t: op(m, t))(x), randn(3, 4, 3))


def test_cat_and_stack_with_unbatched_pieces():
    vcheck(lambda m, fm, x, y: fm.vmap(lambda a, b: m.cat([a, b], 0), in_dims=(0, None))(x, y),
           randn(3, 2, 4), randn(5, 4))
    vcheck(lambda m, fm, x, y: fm.vmap(lambda a, b: m.stack([b, a]), in_dims=(0, None))(x, y),
           randn(3, 4), randn(4))


MORE_SHAPE = {
    "tril": lambda m, t: m.tril(t, -1),
    "pad": lambda m, t: m.nn.functional.pad(t, (1, 2)),
    "roll": lambda m, t: t.roll(1, 0),
    "diagonal": lambda m, t: m.diagonal(t, 0, -2, -1),
    "flip": lambda m, t: t.flip(1),
    "repeat": lambda m, t: t.repeat(2, 1),
    "outer": lambda m, t: m.outer(t[0], t[1]),
    "einsum": lambda m, t: m.einsum("ij,kj->ik", t, t),
    "masked_fill": lambda m, t: t.masked_fill(t > 0, 0.5),
}


@pytest.mark.parametrize("name", list(MORE_SHAPE))
def test_more_shape_ops(name):
    op = MORE_SHAPE[name]
    vcheck(lambda m, fm, x: fm.vmap(lambda t: op(m, t))(x), randn(3, 4, 4))


# -- convolution, pooling, normalization, attention, embedding ------------------------------------
NN = [
    ("conv1d_3d", lambda F, t, w: F.conv1d(t, w, padding=1), (3, 2, 2, 7), (4, 2, 3)),
    ("conv1d_2d", lambda F, t, w: F.conv1d(t, w), (3, 2, 7), (4, 2, 3)),
    ("conv2d", lambda F, t, w: F.conv2d(t, w, stride=2), (3, 2, 2, 6, 6), (4, 2, 3, 3)),
    ("max_pool2d", lambda F, t, w: F.max_pool2d(t * w.sum(), 2), (3, 2, 2, 4, 6), (1,)),
    ("avg_pool1d", lambda F, t, w: F.avg_pool1d(t * w.sum(), 3, 2), (3, 2, 7), (1,)),
    ("layer_norm", lambda F, t, w: F.layer_norm(t, (4,), w), (3, 2, 4), (4,)),
    ("group_norm", lambda F, t, w: F.group_norm(t, 2, w), (3, 2, 4, 5), (4,)),
    ("sdpa", lambda F, t, w: F.scaled_dot_product_attention(t, t * w.sum(), t), (3, 2, 4, 5),
     (1,)),
]


@pytest.mark.parametrize("name,fn,sx,sw", NN, ids=[c[0] for c in NN])
def test_nn_ops(name, fn, sx, sw):
    vcheck(lambda m, fm, x, w: fm.vmap(lambda t: fn(m.nn.functional, t, w))(x),
           randn(*sx), randn(*sw), atol=1e-4)


def test_embedding_with_batched_indices():
    vcheck(lambda m, fm, i, w: fm.vmap(lambda j: m.nn.functional.embedding(j, w))(i),
           _ints(6, 4, 3), randn(6, 5))


# -- losses ---------------------------------------------------------------------------------------
def _ints(high, *shape):
    return np.random.default_rng(7).integers(0, high, shape).astype(np.int64)


LOSSES = {
    "ce_1d": (lambda F, x, t: F.cross_entropy(x, t), (4, 5), (4,)),
    "ce_2d": (lambda F, x, t: F.cross_entropy(x, t), (4, 3, 5), (4, 3)),
    "ce_sum": (lambda F, x, t: F.cross_entropy(x, t, reduction="sum"), (4, 3, 5), (4, 3)),
    "ce_none": (lambda F, x, t: F.cross_entropy(x, t, reduction="none"), (4, 3, 5), (4, 3)),
    "ce_spatial": (lambda F, x, t: F.cross_entropy(x, t), (4, 2, 5, 3), (4, 2, 3)),
    "ce_smooth": (lambda F, x, t: F.cross_entropy(x, t, label_smoothing=0.1), (4, 3, 5),
                  (4, 3)),
    "ce_ignore": (lambda F, x, t: F.cross_entropy(x, t, ignore_index=1), (4, 3, 5), (4, 3)),
    "nll": (lambda F, x, t: F.nll_loss(F.log_softmax(x, 1), t), (4, 3, 5), (4, 3)),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_class_index_losses(name):
    fn, sx, st = LOSSES[name]
    vcheck(lambda m, fm, x, t: fm.vmap(lambda a, b: fn(m.nn.functional, a, b))(x, t),
           randn(*sx), _ints(5, *st))


def test_cross_entropy_weight_unbatched_target_and_probabilities():
    w = rand(5, low=0.5, high=2.0)
    vcheck(lambda m, fm, x, t, c: fm.vmap(
        lambda a, b, c_: m.nn.functional.cross_entropy(a, b, weight=c_.detach()),
        in_dims=(0, 0, None))(x, t, c), randn(4, 3, 5), _ints(5, 4, 3), w, diff=(0,))
    vcheck(lambda m, fm, x, t: fm.vmap(lambda a: m.nn.functional.cross_entropy(a, t),
                                       in_dims=0)(x), randn(4, 3, 5), _ints(5, 3))
    vcheck(lambda m, fm, x, q: fm.vmap(
        lambda a, b: m.nn.functional.cross_entropy(a, m.softmax(b, 1)))(x, q),
        randn(4, 3, 5), randn(4, 3, 5))


def test_regression_losses():
    vcheck(lambda m, fm, x, y: fm.vmap(lambda a, b: m.nn.functional.mse_loss(a, b))(x, y),
           randn(4, 3), randn(4, 3))
    vcheck(lambda m, fm, x, y: fm.vmap(
        lambda a, b: m.nn.functional.binary_cross_entropy_with_logits(a, b))(x, y),
        randn(4, 3), rand(4, 3), fallback_ok=True)


# -- ops without a rule: the per-sample fallback (still one vmap call, still exact) ------------
def test_fallback_ops_are_exact_and_counted():
    s = vcheck(lambda m, fm, x: fm.vmap(lambda t: t[m.tensor([0, 2]), :, m.tensor([1, 0])])(x),
               randn(3, 4, 2, 2), fallback_ok=True)  # separated index arrays
    assert s["fallback"] >= 1 and "GetItem" in s["fallback_ops"], s
    s = vcheck(lambda m, fm, i, w: fm.vmap(lambda v: m.nn.functional.embedding(i, v))(w),
               _ints(6, 2), randn(3, 6, 4), fallback_ok=True)
    assert s["fallback_ops"].get("Gather", 0) >= 1, s


# -- in_dims / out_dims / chunks ------------------------------------------------------------------
def test_in_dims_out_dims_structures():
    both(lambda m, fm, x: fm.vmap(lambda t: t * 2, in_dims=-1, out_dims=-1)(x), randn(2, 3))
    both(lambda m, fm, x: fm.vmap(lambda t: (t.sum(), t * 3), out_dims=(0, 1))(x), randn(4, 3))
    both(lambda m, fm, x, y: fm.vmap(lambda a, b: (a * b, b.sum()), in_dims=(0, None),
                                     out_dims=(0, None))(x, y), randn(4, 3), randn(3))
    both(lambda m, fm, x, y: fm.vmap(lambda d: {"s": d["a"] + d["b"], "p": d["a"] * d["b"]},
                                     in_dims=({"a": 1, "b": None},))({"a": x, "b": y}),
         randn(3, 4), randn(3))
    both(lambda m, fm, x, y: fm.vmap(lambda p: p[0] @ p[1][0], in_dims=((0, [None]),))(
        (x, [y])), randn(4, 2, 3), randn(3, 5))
    # an output that does not depend on the batch is repeated (out_dims 0)
    both(lambda m, fm, x, y: fm.vmap(lambda a, b: b * 2, in_dims=(0, None))(x, y),
         randn(4, 3), randn(2))
    _assert_path()


def test_kwargs_and_non_tensor_arguments():
    both(lambda m, fm, x: fm.vmap(lambda t, k, scale=1.0: t * k * scale, in_dims=(0, None))(
        x, 3, scale=0.5), randn(4, 3))
    _assert_path()


@pytest.mark.parametrize("chunk", [1, 2, 3, 10])
def test_chunk_size_gives_the_same_result(chunk):
    vcheck(lambda m, fm, x, w: fm.vmap(lambda a: m.tanh(a @ w), chunk_size=chunk,
                                       out_dims=1)(x), randn(5, 2, 3), randn(3, 4))


def test_nested_vmap():
    vcheck(lambda m, fm, x, y: fm.vmap(fm.vmap(lambda a, b: a * b + a.sum(),
                                               in_dims=(0, None)), in_dims=(None, 0))(x, y),
           randn(3), randn(2))
    vcheck(lambda m, fm, x: fm.vmap(fm.vmap(lambda t: m.softmax(t, 0)), in_dims=1)(x),
           randn(3, 4, 5))


# -- autograd both ways ---------------------------------------------------------------------------
def _mlp(m, sizes=(6, 5, 3)):
    m.manual_seed(0)
    layers = []
    for i in range(len(sizes) - 1):
        layers += [m.nn.Linear(sizes[i], sizes[i + 1]), m.nn.Tanh()]
    return m.nn.Sequential(*layers[:-1]).double()


def _same_params(ours, theirs):
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        p.data = nr.tensor(q.detach().numpy().copy())


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_per_sample_gradients_vmap_of_grad(loss):
    nets = {nr: _mlp(nr), torch: _mlp(torch)}
    _same_params(nets[nr], nets[torch])
    x, y = randn(7, 6), _ints(3, 7)

    def run(m, fm, xs, ys):
        net = nets[m]
        params = {k: v.detach() for k, v in net.named_parameters()}

        def f(p, xi, yi):
            out = fm.functional_call(net, p, (xi.unsqueeze(0),))
            if loss == "ce":
                return m.nn.functional.cross_entropy(out, yi.unsqueeze(0))
            return ((out - yi.to(out.dtype)) ** 2).mean()
        return fm.vmap(fm.grad(f), in_dims=(None, 0, 0))(params, xs, ys)
    g = both(run, x, y)
    assert tuple(g["0.weight"].shape) == (7, 5, 6)
    _assert_path()


def test_vmap_of_grad_of_grad_and_jacrev():
    f = {m: (lambda t, m=m: (m.tanh(t) ** 3).sum() * t.prod()) for m in (nr, torch)}
    both(lambda m, fm, x: fm.vmap(fm.grad(f[m]))(x), randn(4, 3))
    _assert_path()
    both(lambda m, fm, x: fm.vmap(fm.grad(fm.grad(lambda t: f[m](t))))(x), randn(5))
    _assert_path()
    both(lambda m, fm, x: fm.vmap(fm.jacrev(lambda t: m.sin(t) * t.sum()))(x), randn(4, 3))
    _assert_path()


def test_vmap_of_vjp_fn_builds_the_jacobian():
    def jac(m, fm, x):
        _, vjp_fn = fm.vjp(lambda t: m.sin(t) * t.sum() + t @ t, x)
        return fm.vmap(vjp_fn)(m.eye(4, dtype=m.float64))
    both(jac, randn(4))
    _assert_path()


def test_forward_mode_transforms_around_and_inside_vmap():
    """Tangents (jvp, jacfwd) ride on tensors: vmap keeps to its loop there, and is exact."""
    def sin_sum(m):
        return lambda t: m.sin(t) * t.sum()
    both(lambda m, fm, x, v: fm.jvp(lambda t: fm.vmap(sin_sum(m))(t), (x,), (v,))[1],
         randn(3, 4), randn(3, 4))
    both(lambda m, fm, x: fm.jacfwd(lambda t: fm.vmap(sin_sum(m))(t))(x), randn(3, 2))
    both(lambda m, fm, x, v: fm.vmap(lambda p, q: fm.jvp(sin_sum(m), (p,), (q,))[1])(x, v),
         randn(3, 4), randn(3, 4))
    both(lambda m, fm, x: fm.vmap(fm.hessian(lambda t: (m.tanh(t) ** 3).sum()))(x),
         randn(3, 4))


def _custom_exp(m):
    class Exp(m.autograd.Function):
        @staticmethod
        def forward(x):
            return x.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

        @staticmethod
        def vmap(info, in_dims, x):  # torch needs a batching rule for custom Functions
            return Exp.apply(x), in_dims[0]
    return Exp


def test_custom_autograd_function_inside_vmap():
    exps = {nr: _custom_exp(nr), torch: _custom_exp(torch)}
    vcheck(lambda m, fm, x: fm.vmap(lambda t: exps[m].apply(t * 2).sum(0))(x), randn(3, 4, 2))
    both(lambda m, fm, x: fm.vmap(fm.grad(lambda t: (exps[m].apply(t) * t).sum()))(x),
         randn(3, 4))
    _assert_path()


def test_grad_of_vmap_with_unmapped_parameters():
    vcheck(lambda m, fm, x, w: fm.vmap(lambda a, c: (m.tanh(a @ c) ** 2).sum(),
                                       in_dims=(0, None))(x, w),
           randn(5, 2, 3), randn(3, 4), double=True)


def test_vmap_of_grad_with_a_tracked_input():
    # grad(vmap(grad(f))): the inner grad differentiates a tensor of the outer graph
    data = randn(3, 4)
    for m, fm in ((nr, nfunc), (torch, tfunc)):
        x = m.tensor(data).requires_grad_(True)
        g = fm.vmap(fm.grad(lambda t: (m.sin(t) * t).sum()))(x)
        (g ** 2).sum().backward()
        if m is nr:
            ours_g, ours_x = g.detach().numpy(), x.grad.numpy()
        else:
            np.testing.assert_allclose(ours_g, g.detach().numpy(), **TOL)
            np.testing.assert_allclose(ours_x, x.grad.numpy(), **TOL)


def test_gradients_of_closed_over_tensors():
    """A gradient per sample of an unbatched tensor: the loop (exact); other closed-over
    tensors that require grad (a model's parameters) leave the vectorized path alone."""
    xs, w = randn(3, 4), randn(4)
    both(lambda m, fm, x, v: fm.vmap(
        lambda a: fm.grad(lambda u: (m.sin(u * a) * (u * 2)).sum())(v))(x), xs, w)
    _assert_path(path="loop")
    nets = {nr: _mlp(nr, (4, 3, 2)), torch: _mlp(torch, (4, 3, 2))}
    _same_params(nets[nr], nets[torch])
    ours = nfunc.vmap(nfunc.grad(lambda a: nr.tanh(nets[nr](a)).sum()))(nr.tensor(xs))
    _assert_path()
    theirs = tfunc.vmap(tfunc.grad(lambda a: torch.tanh(nets[torch](a)).sum()))(
        torch.tensor(xs))
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **TOL)


# -- the loop fallback: Python reading batched values, randomness ---------------------------------
def test_python_control_flow_reruns_as_a_loop():
    def f(t):
        return t * 2 if float(t.sum()) > 0 else -t
    x = randn(6, 3)
    ours = nfunc.vmap(f)(nr.tensor(x))
    _assert_path(path="loop")
    expected = np.stack([r * 2 if r.sum() > 0 else -r for r in x])
    np.testing.assert_allclose(ours.numpy(), expected, **TOL)
    out = nfunc.vmap(lambda t: t * t.max().item())(nr.tensor(x))
    np.testing.assert_allclose(out.numpy(), x * x.max(1, keepdims=True), **TOL)


def test_randomness_modes():
    x = nr.tensor(randn(4, 3))
    with pytest.raises(RuntimeError, match="randomness error mode"):
        nfunc.vmap(lambda a: a + nr.randn(3, dtype=nr.float64))(x)
    same = nfunc.vmap(lambda a: a * 0 + nr.rand(3, dtype=nr.float64), randomness="same")(x)
    assert np.all(same.numpy() == same.numpy()[0])
    diff = nfunc.vmap(lambda a: nr.nn.functional.dropout(a * 0 + 1, 0.5),
                      randomness="different")(nr.ones(6, 50, dtype=nr.float64))
    assert not np.array_equal(diff.numpy()[0], diff.numpy()[1])


def test_in_place_ops_inside_vmap():
    both(lambda m, fm, x: fm.vmap(lambda t: t.clone().mul_(2).add_(t))(x), randn(4, 3))
    both(lambda m, fm, x: fm.vmap(lambda t: m.relu(t.clone().sub_(0.1)))(x), randn(4, 3))


# -- errors (the same as before vectorization) and the layer's lifetime -----------------------
def test_errors():
    x = nr.tensor(randn(3, 2))
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        nfunc.vmap(lambda a, b: a + b)(x, nr.tensor(randn(4, 2)))
    with pytest.raises(ValueError, match="at least one input must be batched"):
        nfunc.vmap(lambda a: a, in_dims=None)(x)
    with pytest.raises(ValueError, match="cannot vmap over non-Tensor"):
        nfunc.vmap(lambda a, k: a * k)(x, 2.0)
    with pytest.raises(ValueError, match="must only return Tensors"):
        nfunc.vmap(lambda a: 3.0)(x)
    with pytest.raises(ValueError, match="expected -2 <= out_dim < 2"):
        nfunc.vmap(lambda a: a, out_dims=2)(x)
    with pytest.raises(ValueError, match="in_dim to satisfy"):
        nfunc.vmap(lambda a: a, in_dims=2)(x)
    with pytest.raises(ValueError, match="in_dims is not compatible"):
        nfunc.vmap(lambda a: a, in_dims=(0, 0))(x)
    with pytest.raises(ValueError, match="chunk_size"):
        nfunc.vmap(lambda a: a, chunk_size=0)
    with pytest.raises(ValueError, match="expected in_dims to be int"):
        nfunc.vmap(lambda a: a, in_dims=1.0)
    # an error of the function itself is raised with per-sample shapes (by the loop)
    with pytest.raises(RuntimeError, match=r"\(2,\)"):
        nfunc.vmap(lambda a: a.reshape(3))(x)
    assert not engine.is_instrumented("vmap")


def test_layer_is_removed_and_functions_restored():
    F = nr.nn.functional
    ce = F.cross_entropy
    nfunc.vmap(lambda t: t * 2)(nr.ones(3, 2))
    assert not engine.is_instrumented("vmap") and _batching.current() is None
    assert F.cross_entropy is ce
    with pytest.raises(ZeroDivisionError):
        nfunc.vmap(lambda t: 1 / 0)(nr.ones(3, 2))
    assert not engine.is_instrumented("vmap") and F.cross_entropy is ce


def test_vmap_backward_through_nodes_an_earlier_vmap_recorded():
    """Nodes recorded by one vmap are ordinary nodes to a later vmap (jacrev of jacrev)."""
    nr.manual_seed(0)
    x = nr.randn(3, dtype=nr.float64, requires_grad=True)
    w = nr.randn(3, 3, dtype=nr.float64)
    eye = nr.eye(3, dtype=nr.float64)
    y = (x ** 3).sum() * nr.cos(x)

    def row(v):
        return nr.autograd.grad(y, x, v, retain_graph=True, create_graph=True)[0]
    out = (nr.func.vmap(row)(eye) * w).sum(1)

    def row2(v):
        return nr.autograd.grad(out, x, v, retain_graph=True)[0]
    looped = nr.stack([row2(eye[i]) for i in range(3)])
    np.testing.assert_allclose(nr.func.vmap(row2)(eye).numpy(), looped.numpy(), rtol=1e-12)


# -- nested vmaps: every level vectorized -------------------------------------------------------
def _assert_nested(count=None, inner_path="vectorized"):
    """The outermost vmap and every vmap nested in it took the vectorized path (no op
    needed the per-sample fallback at any level)."""
    s = _assert_path()
    assert s["nested"], s
    if count is not None:
        assert len(s["nested"]) == count, s
    for level in s["nested"]:
        assert level["path"] == inner_path, s
        if inner_path == "vectorized":
            assert level["fallback"] == 0, s
    if inner_path == "vectorized":
        assert any(level["fast"] > 0 for level in s["nested"]), s
    return s


NESTED = {
    "map_map": (lambda m, fm, x: fm.vmap(fm.vmap(lambda t: m.tanh(t) * t.sum()))(x),
                ((3, 4, 5),)),
    "inner_dim1_out1": (lambda m, fm, x: fm.vmap(fm.vmap(lambda t: m.softmax(t, 0) * 2,
                                                        in_dims=1, out_dims=1))(x),
                        ((3, 4, 5),)),
    "outer_dim2": (lambda m, fm, x: fm.vmap(fm.vmap(lambda t: t.cumsum(0) * t[0]),
                                            in_dims=2)(x), ((3, 4, 5),)),
    "closed_over_outer": (lambda m, fm, a, b: fm.vmap(
        lambda u: fm.vmap(lambda v: m.sin(u * v) + u.sum())(b))(a), ((3, 4), (5, 4))),
    "unmapped_outer": (lambda m, fm, a, b: fm.vmap(
        lambda u, w: fm.vmap(lambda v, z: z @ v, in_dims=(0, None))(w, u))(a, b),
        ((3, 4, 2), (3, 5, 2))),
    "returns_outer": (lambda m, fm, a, b: fm.vmap(
        lambda u: fm.vmap(lambda v: (u * 2, v + u), out_dims=(0, 1))(b))(a),
        ((3, 4), (5, 4))),
    "matmul_linear": (lambda m, fm, x, w: fm.vmap(
        lambda xs, ws: fm.vmap(lambda xi: m.nn.functional.linear(m.tanh(xi), ws))(xs))(x, w),
        ((3, 5, 4), (3, 2, 4))),
    "triple": (lambda m, fm, x: fm.vmap(fm.vmap(fm.vmap(
        lambda t: m.log_softmax(t, 0) * t.mean())))(x), ((2, 3, 4, 5),)),
}


@pytest.mark.parametrize("name", list(NESTED))
def test_nested_vmaps_vectorize_every_level(name):
    fn, shapes = NESTED[name]
    vcheck(fn, *[randn(*s) for s in shapes])
    _assert_nested(2 if name == "triple" else None)


def _mlp_fn(m):
    g = np.random.default_rng(3)
    w1, b1, w2, b2 = [m.tensor(g.standard_normal(s) * 0.5) for s in
                      ((8, 5), (8,), (3, 8), (3,))]
    return lambda x: m.nn.functional.linear(m.tanh(m.nn.functional.linear(x, w1, b1)), w2, b2)


def test_vmap_of_jacrev_vectorizes_both_levels():
    nets = {nr: _mlp_fn(nr), torch: _mlp_fn(torch)}
    j = both(lambda m, fm, x: fm.vmap(fm.jacrev(nets[m]))(x), randn(6, 5))
    assert tuple(j.shape) == (6, 3, 5)
    _assert_nested(1)
    both(lambda m, fm, x, w: fm.vmap(fm.jacrev(lambda t, u: m.tanh(u @ t) * t.sum(),
                                               argnums=(0, 1)), in_dims=(0, None))(x, w),
         randn(4, 3), randn(2, 3))
    _assert_nested(1)
    # per-sample Jacobians of a vmap'd function, and vmap of vmap of jacrev
    both(lambda m, fm, x: fm.vmap(fm.jacrev(lambda t: fm.vmap(lambda s: m.sin(s) * t.sum())(t)))(
        x), randn(2, 3))
    _assert_nested(2)
    both(lambda m, fm, x: fm.vmap(fm.vmap(fm.jacrev(lambda t: m.exp(t) * t.prod())))(x),
         randn(2, 3, 4))
    _assert_nested(2)


def test_vmap_of_jacrev_of_jacrev():
    f = {m: (lambda t, m=m: (m.tanh(t) ** 3).sum() * t.prod()) for m in (nr, torch)}
    h = both(lambda m, fm, x: fm.vmap(fm.jacrev(fm.jacrev(f[m])))(x), randn(4, 3))
    assert tuple(h.shape) == (4, 3, 3)
    _assert_nested(2)
    both(lambda m, fm, x: fm.jacrev(fm.jacrev(f[m]))(x), randn(3))
    _assert_path()


def test_gradients_through_vmap_of_jacrev():
    vcheck(lambda m, fm, x: fm.vmap(fm.jacrev(lambda t: m.sin(t) * t.sum()))(x), randn(4, 3))
    vcheck(lambda m, fm, x, w: fm.vmap(fm.vmap(lambda a, c: (m.tanh(a @ c) ** 2).sum(),
                                               in_dims=(0, None)), in_dims=(0, None))(x, w),
           randn(3, 2, 4), randn(4, 2), double=True)


def test_vmap_of_grad_nested_in_vmap():
    f = {m: (lambda t, m=m: (m.sin(t) * t).sum()) for m in (nr, torch)}
    both(lambda m, fm, x: fm.vmap(fm.vmap(fm.grad(f[m])))(x), randn(3, 4, 2))
    _assert_nested(1)
    # the inner grad differentiates an outer sample, once per inner sample
    both(lambda m, fm, a, b: fm.vmap(lambda u: fm.vmap(
        lambda v: fm.grad(lambda w: m.sin(w * v).sum())(u))(b))(a), randn(3, 4), randn(5, 4))
    _assert_nested(1)
    both(lambda m, fm, x: fm.vmap(lambda t: fm.vmap(fm.vjp(lambda s: m.sin(s) * s.sum(), t)[1])(
        m.eye(3, dtype=m.float64)))(x), randn(4, 3))
    _assert_nested(1)


@pytest.mark.parametrize("outer,inner", [(None, 2), (2, None), (1, 3)])
def test_nested_chunk_sizes(outer, inner):
    both(lambda m, fm, a, b: fm.vmap(lambda u: fm.vmap(lambda v: m.tanh(u * v), chunk_size=inner)(
        b), chunk_size=outer)(a), randn(3, 4), randn(5, 4))
    s = _assert_path()
    assert s["nested"] and all(lv["path"] == "vectorized" for lv in s["nested"]), s


def test_inner_loop_fallback_reruns_only_the_inner_vmap():
    x, y = randn(3, 2), randn(5, 2)

    def inner(v):  # branches on values that differ between the inner samples only
        return v * 2 if float(v.sum()) > 0 else -v
    ours = nfunc.vmap(lambda u: nfunc.vmap(inner)(nr.tensor(y)) * u.sum())(nr.tensor(x))
    s = _assert_nested(1, inner_path="loop")
    assert "differs between samples" in s["nested"][0]["reason"], s
    rows = np.where(y.sum(-1, keepdims=True) > 0, y * 2, -y)
    np.testing.assert_allclose(ours.numpy(), rows * x.sum(1)[:, None, None], **TOL)
    # values differing between outer samples too: the outer level loops, same numbers
    z = randn(3, 5, 2)
    ours = nfunc.vmap(lambda u: nfunc.vmap(inner)(u) * u.sum())(nr.tensor(z))
    assert _batching.stats()["path"] == "loop"
    rows = np.where(z.sum(-1, keepdims=True) > 0, z * 2, -z)
    np.testing.assert_allclose(ours.numpy(), rows * z.sum((1, 2))[:, None, None], **TOL)


def test_nested_randomness_modes():
    x = nr.ones(4, 3, 5, dtype=nr.float64)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        nfunc.vmap(nfunc.vmap(lambda a: a + nr.randn(5, dtype=nr.float64)))(x)
    out = nfunc.vmap(nfunc.vmap(lambda a: a * nr.rand(5, dtype=nr.float64), randomness="same"),
                     randomness="different")(x).numpy()
    assert np.all(out == out[:, :1]) and not np.array_equal(out[0], out[1])
    out = nfunc.vmap(nfunc.vmap(lambda a: a * nr.rand(5, dtype=nr.float64),
                                randomness="different"), randomness="same")(x).numpy()
    assert np.all(out == out[:1]) and not np.array_equal(out[0, 0], out[0, 1])
    assert not engine.is_instrumented("vmap") and _batching.current() is None


def test_nested_errors_and_the_layer_lifetime():
    x = nr.tensor(randn(3, 4, 2))
    with pytest.raises(RuntimeError, match=r"\(2,\)"):
        nfunc.vmap(nfunc.vmap(lambda a: a.reshape(3)))(x)
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        nfunc.vmap(lambda u: nfunc.vmap(lambda a, b: a + b)(u, nr.ones(5, 2)))(x)
    with pytest.raises(ZeroDivisionError):
        nfunc.vmap(nfunc.vmap(lambda t: 1 / 0))(x)
    assert not engine.is_instrumented("vmap") and _batching.current() is None
    ce = nr.nn.functional.cross_entropy
    nfunc.vmap(nfunc.vmap(lambda t: t * 2))(x)
    assert nr.nn.functional.cross_entropy is ce and _batching.current() is None


def test_indexing_backward_inside_vmap_is_batched():
    """GetItem's adjoint (dense or sparse) runs batched: jacrev of indexing stays vectorized."""
    both(lambda m, fm, x: fm.jacrev(lambda t: m.cat([t[1:] * t[0], t.flip(0), t[[2, 0, 2]]]))(x),
         randn(4))
    _assert_path()
    both(lambda m, fm, x: fm.vmap(fm.jacrev(lambda t: t[:, 1:] * t[0, :1] + t[[1, 1], 1:]))(x),
         randn(3, 2, 4))
    _assert_nested(1)
    # x[key] = v out of place, differentiated per sample
    both(lambda m, fm, x: fm.vmap(fm.grad(
        lambda t: (m.index_put(t, (m.tensor([0, 2]),), t[:2] * 3) ** 2).sum()))(x),
        randn(3, 4))


def test_sum_to_drops_leading_sample_dims():
    """A broadcast gradient summed back over a sample's leading dims keeps the batch dim."""
    both(lambda m, fm, x, c: fm.vmap(fm.grad(lambda u, d: (m.tanh(u + d) ** 2).sum()))(x, c),
         randn(4, 3), randn(4, 2, 3))
    _assert_path()
    both(lambda m, fm, x, c: fm.vmap(fm.grad(lambda u, d: (m.tanh(u * d) ** 2).sum()))(x, c),
         randn(4, 1, 3), randn(4, 5, 2, 3))
    _assert_path()
    # an unbatched expand's backward run on batched cotangents (jacrev: vmap of its vjp)
    both(lambda m, fm, x: fm.jacrev(lambda t: m.sin(t.expand(2, 4, 3)) * t)(x), randn(3))
    _assert_path()


def test_fused_backwards_run_batched_through_their_graph_formula():
    """layer_norm / cross_entropy backward read raw arrays; on batched cotangents (jacrev's
    vmap of the vjp) they run their differentiable formula instead, still vectorized."""
    F = {nr: nr.nn.functional, torch: torch.nn.functional}
    both(lambda m, fm, x, w: fm.jacrev(lambda t: F[m].layer_norm(t, (4,), w))(x),
         randn(3, 4), randn(4))
    _assert_path()
    both(lambda m, fm, x, y: fm.vmap(fm.jacrev(lambda t, c: F[m].cross_entropy(t, c)))(x, y),
         randn(4, 3, 5), _ints(5, 4, 3))
    _assert_nested(1)
    both(lambda m, fm, x: fm.vmap(fm.jacrev(lambda t: F[m].layer_norm(t * 2, (4,))))(x),
         randn(3, 2, 4))
    _assert_nested(1)
