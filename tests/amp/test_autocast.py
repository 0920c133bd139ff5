"""narae.amp.autocast: per-op dtypes (parity with torch's CPU autocast where its lists agree with
the CUDA ones), float32 gradients for float32 parameters, nesting, the decorator, the cast
cache, and that backward is not an autocast region."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import narae as nr
import narae.amp as amp
import narae.nn as nn
import narae.nn.functional as F
from narae.amp import autocast_mode
from narae.autograd import function as function_module
from helpers import randn


def fp16():
    return amp.autocast("cpu", dtype=nr.float16)


def _tensors(lib, arrays, grad=False):
    if lib is torch:
        return [torch.from_numpy(a.copy()).requires_grad_(grad and a.dtype.kind == "f")
                for a in arrays]
    return [nr.from_numpy(a.copy()).requires_grad_(grad and a.dtype.kind == "f")
            for a in arrays]


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


f32 = np.float32
X = randn(4, 6).astype(f32)
W = randn(5, 6).astype(f32)
B = randn(5).astype(f32)
IMG = randn(2, 3, 7, 7).astype(f32)
K = randn(4, 3, 3, 3).astype(f32)
KT = randn(3, 2, 3, 3).astype(f32)
SEQ = randn(2, 3, 9).astype(f32)
K1 = randn(4, 3, 3).astype(f32)
Q = randn(1, 2, 4, 8).astype(f32)
LABELS = np.array([0, 3, 1, 4])

# (name, f(lib, F, *tensors), arrays, expected dtype): ops on which torch's CPU and CUDA
# autocast lists agree, so torch.autocast("cpu", float16) is the reference.
PARITY = [
    ("linear", lambda m, f, x, w, b: f.linear(x, w, b), (X, W, B), "float16"),
    ("matmul", lambda m, f, x, w: x @ w.T, (X, W), "float16"),
    ("mm", lambda m, f, x, w: m.mm(x, w.T), (X, W), "float16"),
    ("bmm", lambda m, f, q: m.bmm(q[0], q[0].transpose(1, 2)), (Q,), "float16"),
    ("conv2d", lambda m, f, x, k: f.conv2d(x, k, padding=1), (IMG, K), "float16"),
    ("conv1d", lambda m, f, x, k: f.conv1d(x, k), (SEQ, K1), "float16"),
    ("conv_transpose2d", lambda m, f, x, k: f.conv_transpose2d(x, k, stride=2), (IMG, KT),
     "float16"),
    ("sdpa", lambda m, f, q: f.scaled_dot_product_attention(q, q * 0.5, q), (Q,), "float16"),
    ("sdpa_causal", lambda m, f, q: f.scaled_dot_product_attention(q, q, q, is_causal=True),
     (Q,), "float16"),
    ("cross_entropy", lambda m, f, x, w, y: f.cross_entropy(f.linear(x, w), y),
     (X, W, LABELS), "float32"),
    ("nll_loss", lambda m, f, x, w, y: f.nll_loss(f.linear(x, w), y), (X, W, LABELS),
     "float32"),
    ("mse_loss", lambda m, f, x, w, t: f.mse_loss(f.linear(x, w), t), (X, W, X[:, :5]),
     "float32"),
    ("l1_loss", lambda m, f, x, w, t: f.l1_loss(f.linear(x, w), t), (X, W, X[:, :5]),
     "float32"),
    ("bce_with_logits", lambda m, f, x, w, t:
     f.binary_cross_entropy_with_logits(f.linear(x, w), t), (X, W, np.abs(X[:, :5]) % 1),
     "float32"),
    ("kl_div", lambda m, f, x, w, t: f.kl_div(f.linear(x, w), t, reduction="batchmean"),
     (X, W, np.abs(X[:, :5]) % 1), "float32"),
    ("add_f16_f32", lambda m, f, x, w, b: f.linear(x, w) + b, (X, W, B), "float32"),
    ("mul_f16_f32", lambda m, f, x, w, b: f.linear(x, w) * b, (X, W, B), "float32"),
    ("relu_f16", lambda m, f, x, w: f.relu(f.linear(x, w)), (X, W), "float16"),
    ("float64_linear", lambda m, f, x, w: f.linear(x, w),
     (X.astype(np.float64), W.astype(np.float64)), "float64"),
    ("int_untouched", lambda m, f, x, y: f.linear(x, x) + y, (X, LABELS.reshape(4, 1)),
     "float16"),
]


@pytest.mark.parametrize("name,fn,arrays,expected", PARITY, ids=[p[0] for p in PARITY])
def test_dtype_and_values_match_torch_cpu_autocast(name, fn, arrays, expected):
    with torch.autocast("cpu", dtype=torch.float16):
        theirs = fn(torch, TF, *_tensors(torch, arrays))
    with fp16():
        ours = fn(nr, F, *_tensors(nr, arrays))
    assert str(theirs.dtype) == f"torch.{expected}"
    assert ours.dtype.name == expected
    np.testing.assert_allclose(_np(ours).astype(np.float64), _np(theirs).astype(np.float64),
                               rtol=2e-2, atol=2e-2)


# Ops where torch's CPU list differs from its CUDA list: narae follows CUDA's float32 list.
FP32_OPS = {
    "softmax": lambda h: F.softmax(h, -1),
    "log_softmax": lambda h: F.log_softmax(h, -1),
    "softmin": lambda h: F.softmin(h, -1),
    "exp": lambda h: h.exp(),
    "log": lambda h: h.abs().log(),
    "pow": lambda h: h ** 2,
    "rsqrt": lambda h: (h.abs() + 1).rsqrt(),
    "softplus": lambda h: F.softplus(h),
    "sum": lambda h: h.sum(),
    "prod": lambda h: h.prod(1),
    "cumsum": lambda h: h.cumsum(1),
    "logsumexp": lambda h: h.logsumexp(1),
    "norm": lambda h: h.norm(),
    "layer_norm": lambda h: F.layer_norm(h, (5,)),
    "group_norm": lambda h: F.group_norm(h, 1),
    "batch_norm": lambda h: F.batch_norm(h, None, None, training=True),
    "normalize": lambda h: F.normalize(h),
    "cosine_similarity": lambda h: F.cosine_similarity(h, h + 1),
    "mean (narae: float32 for the losses)": lambda h: h.mean(),
    "mse_loss f16 vs f16": lambda h: F.mse_loss(h, h.detach() * 0.5),
    "huber_loss": lambda h: F.huber_loss(h, h.detach() * 0.5),
    "binary_cross_entropy": lambda h: F.binary_cross_entropy(h.sigmoid(), h.detach() * 0 + 0.5),
}
KEEP_OPS = {
    "relu": lambda h: F.relu(h), "gelu": lambda h: F.gelu(h), "tanh": lambda h: h.tanh(),
    "sigmoid": lambda h: h.sigmoid(), "max": lambda h: h.amax(1), "var": lambda h: h.var(1),
    "reshape": lambda h: h.reshape(-1), "dropout": lambda h: F.dropout(h, 0.5),
    "max_pool": lambda h: F.max_pool1d(h.unsqueeze(0), 2), "sqrt": lambda h: h.abs().sqrt(),
    "mse_loss (no reduction)": lambda h: F.mse_loss(h, h.detach(), reduction="none"),
}


@pytest.mark.parametrize("name", list(FP32_OPS))
def test_float32_ops_follow_torch_cuda_list(name):
    x, w = _tensors(nr, (X, W), grad=True)
    with fp16():
        h = F.linear(x, w)
        assert h.dtype == nr.float16
        y = FP32_OPS[name](h)
    assert y.dtype == nr.float32
    y.sum().backward() if y.ndim else y.backward()
    assert w.grad.dtype == nr.float32 and np.isfinite(w.grad.numpy()).all()


@pytest.mark.parametrize("name", list(KEEP_OPS))
def test_other_ops_keep_float16(name):
    x, w = _tensors(nr, (X, W))
    with fp16():
        assert KEEP_OPS[name](F.linear(x, w)).dtype == nr.float16


def test_values_of_float32_ops_are_computed_from_the_float16_input():
    x, w = _tensors(nr, (X, W))
    with fp16():
        h = F.linear(x, w)
        y = F.softmax(h, -1)
    expected = torch.softmax(torch.from_numpy(h.numpy().astype(np.float32)), -1)
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)


# --- gradients ---------------------------------------------------------------------------
def _mlp_step(lib, arrays):
    x, w1, b1, w2, b2, y = _tensors(lib, arrays, grad=True)
    fn = TF if lib is torch else F
    ctx = torch.autocast("cpu", dtype=torch.float16) if lib is torch else fp16()
    with ctx:
        h = fn.relu(fn.linear(x, w1, b1))
        out = fn.linear(h, w2, b2)
        loss = fn.cross_entropy(out, y)
    loss.backward()
    return loss, out, [w1, b1, w2, b2]


def test_mlp_under_autocast_gives_float32_grads_close_to_torch():
    arrays = (randn(16, 8).astype(f32), (randn(32, 8) * 0.3).astype(f32),
              (randn(32) * 0.1).astype(f32), (randn(5, 32) * 0.3).astype(f32),
              (randn(5) * 0.1).astype(f32), np.arange(16) % 5)
    theirs = _mlp_step(torch, arrays)
    ours = _mlp_step(nr, arrays)
    assert ours[0].dtype == nr.float32 and ours[1].dtype == nr.float16
    assert str(theirs[1].dtype) == "torch.float16"
    np.testing.assert_allclose(ours[0].item(), theirs[0].item(), rtol=5e-3)
    for p, q in zip(ours[2], theirs[2]):
        assert p.grad.dtype == nr.float32
        scale = np.abs(q.grad.numpy()).max()
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-2 * scale)


def test_autocast_grads_are_close_to_float32_grads():
    x, w = nr.randn(8, 6), nr.randn(3, 6, requires_grad=True)
    ((F.linear(x, w) ** 2).sum()).backward()
    g32 = w.grad.numpy().copy()
    w.grad = None
    with fp16():
        loss = (F.linear(x, w) ** 2).sum()
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), g32, rtol=2e-2, atol=2e-2)


def test_conv_net_module_and_double_backward():
    conv, lin = nn.Conv2d(3, 4, 3), nn.Linear(4 * 5 * 5, 2)
    with fp16():
        h = conv(nr.from_numpy(IMG))
        out = lin(F.relu(h).reshape(2, -1))
        loss = F.cross_entropy(out, nr.tensor([0, 1]))
    (g,) = nr.autograd.grad(loss, [lin.weight], create_graph=True)
    assert g.dtype == nr.float32
    (g * g).sum().backward()
    assert conv.weight.grad.dtype == nr.float32
    assert np.isfinite(conv.weight.grad.numpy()).all()


def test_backward_is_not_an_autocast_region():
    seen = []
    x, w = nr.randn(4, 6), nr.randn(5, 6, requires_grad=True)
    with fp16():
        h = F.linear(x, w)
        h.register_hook(lambda g: seen.append((function_module._autocast_hook, g.dtype)))
        loss = h.exp().sum()  # exp is a float32 op: its backward must not recast to float32
        loss.backward()
        assert function_module._autocast_hook is not None  # restored after backward
    assert seen == [(None, nr.float16)]
    assert w.grad.dtype == nr.float32


# --- regions ---------------------------------------------------------------------------
def test_no_effect_outside_and_state_restored():
    x, w = nr.randn(4, 6), nr.randn(5, 6)
    assert not amp.is_autocast_enabled("cpu")
    with fp16() as region:
        assert region.fast_dtype == nr.float16
        assert amp.is_autocast_enabled("cpu") and not amp.is_autocast_enabled("cuda")
        assert amp.get_autocast_dtype("cpu") == nr.float16
    assert not amp.is_autocast_enabled("cpu")
    assert function_module._autocast_hook is None
    assert F.linear(x, w).dtype == nr.float32


def test_nested_disabled_region():
    x, w = nr.randn(4, 6), nr.randn(5, 6)
    with fp16():
        with amp.autocast("cpu", enabled=False):
            assert not amp.is_autocast_enabled("cpu")
            assert F.linear(x, w).dtype == nr.float32
            with fp16():
                assert F.linear(x, w).dtype == nr.float16
            assert F.linear(x, w).dtype == nr.float32
        assert F.linear(x, w).dtype == nr.float16
    assert F.linear(x, w).dtype == nr.float32


def test_state_restored_after_an_exception():
    with pytest.raises(ValueError):
        with fp16():
            raise ValueError("boom")
    assert not amp.is_autocast_enabled("cpu")
    assert function_module._autocast_hook is None


def test_decorator_form_and_reentrancy():
    x, w = nr.randn(4, 6), nr.randn(5, 6)
    region = amp.autocast("cpu", dtype=nr.float16)

    @region
    def forward(depth):
        if depth:
            forward(depth - 1)  # the same instance entered again
        return F.linear(x, w)

    assert forward(2).dtype == nr.float16
    assert forward.__name__ == "forward"
    assert not amp.is_autocast_enabled("cpu")


def test_float64_and_integer_inputs_are_left_alone():
    x64, w64 = nr.randn(4, 6).double(), nr.randn(5, 6).double()
    w32 = nr.randn(5, 6)
    with fp16():
        assert F.linear(x64, w64).dtype == nr.float64
        assert F.softmax(x64, -1).dtype == nr.float64
        h = F.linear(nr.randn(4, 6), w32)
        assert (h + x64[:, :5]).dtype == nr.float64  # float64 is never cast down
        assert (nr.arange(4) * 2).dtype == nr.int64


def test_cuda_region_does_not_touch_cpu_tensors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # without a GPU, torch-like: warns and disables
        region = amp.autocast("cuda")
    with region:
        assert F.linear(nr.randn(4, 6), nr.randn(5, 6)).dtype == nr.float32


def test_dtype_arguments():
    # torch's defaults: bfloat16 on cpu (ml_dtypes' type; see tests/amp/test_bfloat16.py for
    # narae without it), float16 on cuda
    assert amp.autocast("cpu").fast_dtype is nr.bfloat16
    assert amp.autocast("cpu", dtype="bfloat16").fast_dtype is nr.bfloat16
    assert amp.get_autocast_dtype("cpu") is nr.bfloat16
    assert amp.get_autocast_dtype("cuda") is nr.float16
    with amp.autocast("cpu", enabled=False):
        pass
    with pytest.warns(UserWarning, match="not supported"):
        region = amp.autocast("cpu", dtype=nr.float32)
    with region:
        assert not amp.is_autocast_enabled("cpu")
    with pytest.raises(RuntimeError, match="device_type"):
        amp.autocast("tpu", dtype=nr.float16)
    with pytest.raises(ValueError):
        amp.autocast(0)
    assert amp.autocast("cpu", dtype="float16").fast_dtype == nr.float16


# --- the cast cache --------------------------------------------------------------------
def _cast_of(out, i=1):
    """The input ``i`` that the Linear node producing ``out`` saw (the cast weight)."""
    return out._creator.inputs[i]


def test_weight_is_cast_once_per_region():
    x, w = nr.randn(4, 6), nr.randn(5, 6, requires_grad=True)
    with fp16():
        a, b = F.linear(x, w), F.linear(x * 2, w)
        cast_a = _cast_of(a)
        assert cast_a is _cast_of(b)
        assert _cast_of(a, 0) is not _cast_of(b, 0)  # activations are not cached
        (a.float().sum() + b.float().sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), np.broadcast_to(
        3 * x.numpy().sum(0), (5, 6)), rtol=2e-3, atol=2e-3)
    with fp16():
        c = F.linear(x, w)
    assert _cast_of(c) is not cast_a  # a new region casts again
    assert not autocast_mode._cache  # emptied when the outermost region exits


def test_cache_disabled_and_invalidated():
    x, w = nr.randn(4, 6), nr.randn(5, 6, requires_grad=True)
    with amp.autocast("cpu", dtype=nr.float16, cache_enabled=False):
        assert _cast_of(F.linear(x, w)) is not _cast_of(F.linear(x, w))
    with fp16():
        a = F.linear(x, w)
        with nr.no_grad():
            w.mul_(2.0)  # a new version: the cached cast is stale
        b = F.linear(x, w)
        assert _cast_of(a) is not _cast_of(b)
        np.testing.assert_allclose(_cast_of(b).detach().numpy(), w.detach().numpy().astype(np.float16))


def test_training_loop_inside_one_region():
    """A backward frees the cached cast's node: the next forward must cast again."""
    lin = nn.Linear(6, 3)
    opt = nr.optim.SGD(lin.parameters(), lr=0.1)
    x = nr.randn(4, 6)
    with fp16():
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(lin(x), nr.tensor([0, 1, 2, 0])).backward()
            opt.step()
    assert lin.weight.grad.dtype == nr.float32


def test_every_policy_class_exists():
    assert amp.policy.MISSING == []
    from narae.ops.linalg import MatMul
    from narae.ops.activation import Softmax
    assert MatMul._autocast == "lower" and Softmax._autocast == "fp32"


# --- waiting on dtype checks in other modules ----------------------------------------------
def test_conv_chain():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3))
    with fp16():
        assert net(nr.from_numpy(IMG)).dtype == nr.float16


def test_matmul_of_float16_activation_and_float32_weight():
    with fp16():
        h = F.linear(nr.randn(4, 6), nr.randn(5, 6))
        assert (h @ nr.randn(5, 2)).dtype == nr.float16
