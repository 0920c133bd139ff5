"""narae.bfloat16 (ml_dtypes' bfloat16) and bfloat16 autocast, against torch.bfloat16.

Covers: tensors and their dtype, gradients through bfloat16 (and back to float32 master
weights), torch's promotion rules, ops that must stay bfloat16 although NumPy would widen
them, the GEMM-like ops (computed in float32, rounded once), autocast("cpu") parity for a
small MLP and CNN, GradScaler with bfloat16, safetensors "BF16" files read and written by
the safetensors package, and narae without ml_dtypes (in a subprocess).
"""
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

ml_dtypes = pytest.importorskip("ml_dtypes")

import narae as nr  # noqa: E402
import narae.amp as amp  # noqa: E402
import narae.nn as nn  # noqa: E402
import narae.nn.functional as F  # noqa: E402
from narae.io import safetensors as st  # noqa: E402

BF16 = np.dtype(ml_dtypes.bfloat16)
RNG = np.random.default_rng(7)


def randn(*shape, low=None):
    a = RNG.standard_normal(shape).astype(np.float32)
    return a if low is None else np.abs(a) + low


def _bits(t):
    """The uint16 bit patterns of a narae or torch bfloat16 tensor."""
    if isinstance(t, torch.Tensor):
        return t.detach().view(torch.int16).numpy().view(np.uint16)
    return t.detach().numpy().view(np.uint16)


def _f32(t):
    if isinstance(t, torch.Tensor):
        return t.detach().float().numpy()
    return t.detach().float().numpy()


def _close(a, b, rel=2e-2):
    """Equal up to a few bfloat16 roundings, relative to the largest magnitude."""
    a, b = _f32(a), _f32(b)
    scale = max(np.abs(b).max(), 1e-3)
    assert np.abs(a - b).max() <= rel * scale, (np.abs(a - b).max(), scale)


def _tdt(t):
    """A torch dtype's name (torch.bfloat16 -> 'bfloat16')."""
    return str(t.dtype).split(".")[1]


# --- the dtype and tensors -----------------------------------------------------------------
def test_dtype_object():
    d = nr.bfloat16
    assert repr(d) == "narae.bfloat16" and d.is_floating_point and d.is_signed
    assert d.itemsize == 2 and d.np == BF16
    assert nr._dtype.to_dtype("bfloat16") is d
    assert nr._dtype.to_dtype(ml_dtypes.bfloat16) is d
    assert nr._dtype.to_dtype(BF16) is d
    assert nr._dtype.from_numpy_dtype(BF16) is d
    assert pickle.loads(pickle.dumps(d)) is d
    assert nr._dtype.finfo(BF16).eps == torch.finfo(torch.bfloat16).eps
    assert float(nr._dtype.finfo(BF16).max) == torch.finfo(torch.bfloat16).max


def test_tensor_round_trip():
    vals = [1.0, -2.5, 3.14159, 1e-3, 65504.0, 1e30, 0.0]
    t = nr.tensor(vals, dtype=nr.bfloat16)
    ref = torch.tensor(vals, dtype=torch.bfloat16)
    assert t.dtype is nr.bfloat16 and t.numpy().dtype == BF16
    np.testing.assert_array_equal(_bits(t), _bits(ref))  # the same rounding as torch
    assert t.is_floating_point() and t.element_size() == 2
    assert t[2].item() == ref[2].item() and isinstance(t[2].item(), float)
    assert t.tolist() == ref.tolist()
    assert "dtype=narae.bfloat16" in repr(t) and "3.1406" in repr(t)
    # from NumPy bfloat16 arrays, and back through float32 exactly
    arr = np.array(vals, dtype=BF16)
    for u in (nr.from_numpy(arr), nr.tensor(arr), nr.as_tensor(arr), nr.tensor(t)):
        assert u.dtype is nr.bfloat16
        np.testing.assert_array_equal(_bits(u), arr.view(np.uint16))
    assert t.float().dtype is nr.float32 and t.float().bfloat16().dtype is nr.bfloat16
    np.testing.assert_array_equal(_bits(t.float().bfloat16()), _bits(t))
    # creation functions
    for u in (nr.zeros(2, 3, dtype=nr.bfloat16), nr.ones(4, dtype="bfloat16"),
              nr.full((2,), 1.5, dtype=nr.bfloat16), nr.arange(5, dtype=nr.bfloat16),
              nr.randn(3, dtype=nr.bfloat16), nr.rand(3, dtype=nr.bfloat16),
              nr.zeros_like(t), nr.randn_like(t), nr.empty(2, dtype=nr.bfloat16)):
        assert u.dtype is nr.bfloat16


def test_bfloat16_of_float32_gets_float32_gradients():
    w_np = randn(3, 4)
    for convert in (lambda w: w.bfloat16(), lambda w: w.to(nr.bfloat16),
                    lambda w: w.to("bfloat16"), lambda w: w.type_as(nr.zeros(1).bfloat16())):
        w = nr.tensor(w_np, requires_grad=True)
        h = convert(w)
        assert h.dtype is nr.bfloat16 and h.requires_grad and not h.is_leaf
        (h.sigmoid() * h).sum().backward()
        tw = torch.tensor(w_np, requires_grad=True)
        th = tw.bfloat16()
        (th.sigmoid() * th).sum().backward()
        assert w.grad.dtype is nr.float32
        np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-2, atol=1e-2)


def test_requires_grad_on_bfloat16_leaves():
    x_np, y_np = randn(4, 5), randn(4, 5)
    x = nr.tensor(x_np, dtype=nr.bfloat16, requires_grad=True)
    y = nr.tensor(y_np).bfloat16().requires_grad_()
    assert x.requires_grad and x.is_leaf and y.requires_grad
    z = (x * y + x.exp()).tanh()
    assert z.requires_grad and z.dtype is nr.bfloat16
    z.sum().backward()
    tx = torch.tensor(x_np, dtype=torch.bfloat16, requires_grad=True)
    ty = torch.tensor(y_np).bfloat16().requires_grad_()
    (tx * ty + tx.exp()).tanh().sum().backward()
    assert x.grad.dtype is nr.bfloat16 and y.grad.dtype is nr.bfloat16
    _close(x.grad, tx.grad)
    _close(y.grad, ty.grad)
    with pytest.raises(RuntimeError, match="floating point"):
        nr.tensor([1, 2]).requires_grad_()


# --- promotion -----------------------------------------------------------------------------
def _pair(lib, spec):
    kind, shape = spec
    if kind == "py_float":
        return 2.5
    if kind == "py_int":
        return 3
    dt = {"bf16": "bfloat16", "f16": "float16", "f32": "float32", "f64": "float64",
          "i64": "int64", "bool": "bool"}[kind]
    a = np.ones(shape, np.float32) * 1.5
    if lib is torch:
        return torch.tensor(a).to(getattr(torch, dt))
    return nr.tensor(a).to(getattr(nr, dt))


PROMOTION = [
    (("bf16", (3,)), ("f16", (3,))),     # -> float32, as torch (NumPy knows no common type)
    (("bf16", (3,)), ("f32", (3,))),     # -> float32
    (("bf16", (3,)), ("f64", (3,))),     # -> float64
    (("bf16", (3,)), ("py_float", None)),  # -> bfloat16
    (("bf16", (3,)), ("py_int", None)),  # -> bfloat16
    (("bf16", (3,)), ("i64", (3,))),     # -> bfloat16
    (("bf16", (3,)), ("bool", (3,))),    # -> bfloat16
    (("bf16", (3,)), ("f32", ())),       # 0-d float32 does not widen: bfloat16
    (("bf16", ()), ("f16", (3,))),       # -> float16
    (("bf16", ()), ("f32", ())),         # -> float32
    (("i64", (3,)), ("bf16", ())),       # -> bfloat16
    (("f16", ()), ("bf16", ())),         # -> float32
]


@pytest.mark.parametrize("a,b", PROMOTION, ids=lambda s: f"{s[0]}{list(s[1] or [])}")
@pytest.mark.parametrize("op", ["add", "mul", "div"])
def test_promotion_matches_torch(a, b, op):
    f = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y, "div": lambda x, y: x / y}[op]
    for x, y in ((a, b), (b, a)):  # (a Python number first: __radd__, __rmul__, __rtruediv__)
        expected = f(_pair(torch, x), _pair(torch, y))
        got = f(_pair(nr, x), _pair(nr, y))
        assert got.dtype.name == _tdt(expected), (x, y)
        _close(got, expected, rel=1e-2)  # (torch divides by a number via its reciprocal)


def test_cat_and_where_promote_like_torch():
    a, b = np.ones((2, 2), np.float32), np.zeros((1, 2), np.float32)
    for other in ("float16", "float32", "int64"):
        got = nr.cat([nr.tensor(a).bfloat16(), nr.tensor(b).to(getattr(nr, other))])
        ref = torch.cat([torch.tensor(a).bfloat16(), torch.tensor(b).to(getattr(torch, other))])
        assert got.dtype.name == _tdt(ref)
    x = nr.tensor(a).bfloat16()
    assert nr.where(x > 0, x, 0.0).dtype is nr.bfloat16


# --- ops keep bfloat16 (NumPy alone would widen x * 0.5 to float32) ------------------------
X, P, Y = randn(4, 6), randn(4, 6, low=0.5), randn(4, 6)
OPS = {
    "mul_scalar": (lambda m, f, x: x * 2.5, (X,)),
    "radd_scalar": (lambda m, f, x: 1.5 + x, (X,)),
    "rsub_scalar": (lambda m, f, x: 1.0 - x, (X,)),
    "div_scalar": (lambda m, f, x: x / 3.0, (X,)),
    "rdiv_scalar": (lambda m, f, x: 3.0 / x, (P,)),
    "pow_float": (lambda m, f, x: x ** 1.5, (P,)),
    "sigmoid": (lambda m, f, x: x.sigmoid(), (X,)),
    "clamp": (lambda m, f, x: x.clamp(-0.5, 0.5), (X,)),
    "silu": (lambda m, f, x: f.silu(x), (X,)),
    "gelu": (lambda m, f, x: f.gelu(x), (X,)),
    "softplus": (lambda m, f, x: f.softplus(x), (X,)),
    "softmax": (lambda m, f, x: f.softmax(x, dim=-1), (X,)),
    "log_softmax": (lambda m, f, x: f.log_softmax(x, dim=-1), (X,)),
    "sum": (lambda m, f, x: x.sum(), (X,)),
    "mean": (lambda m, f, x: x.mean(dim=1), (X,)),
    "var": (lambda m, f, x: x.var(dim=1), (X,)),
    "layer_norm": (lambda m, f, x: f.layer_norm(x, (6,)), (X,)),
    "mse_loss": (lambda m, f, x, y: f.mse_loss(x, y), (X, Y)),
    "smooth_l1": (lambda m, f, x, y: f.smooth_l1_loss(x, y), (X, Y)),
    "bce_logits": (lambda m, f, x, y: f.binary_cross_entropy_with_logits(x, y.sigmoid()),
                   (X, Y)),
    "cross_entropy": (lambda m, f, x: f.cross_entropy(x, m.tensor([0, 3, 1, 4])), (X,)),
    "where": (lambda m, f, x: m.where(x > 0, x, x * 0.1), (X,)),
    "lerp": (lambda m, f, x, y: m.lerp(x, y, 0.3), (X, Y)),
    "normalize": (lambda m, f, x: f.normalize(x, dim=1), (X,)),
    "cosine_similarity": (lambda m, f, x, y: f.cosine_similarity(x, y), (X, Y)),
    "max_pool": (lambda m, f, x: f.max_pool2d(x.reshape(1, 1, 4, 6), 2), (X,)),
    "avg_pool": (lambda m, f, x: f.avg_pool2d(x.reshape(1, 1, 4, 6), 2), (X,)),
}


@pytest.mark.parametrize("name", list(OPS))
def test_ops_stay_bfloat16_like_torch(name):
    fn, arrays = OPS[name]
    tt = [torch.tensor(a).bfloat16().requires_grad_() for a in arrays]
    nt = [nr.tensor(a, dtype=nr.bfloat16, requires_grad=True) for a in arrays]
    ref, out = fn(torch, TF, *tt), fn(nr, F, *nt)
    assert out.dtype.name == _tdt(ref) == "bfloat16"
    _close(out, ref)
    gy = RNG.standard_normal(tuple(ref.shape)).astype(np.float32)
    ref.backward(torch.tensor(gy).bfloat16())
    out.backward(nr.tensor(gy).bfloat16())
    for n, t in zip(nt, tt):
        assert n.grad.dtype is nr.bfloat16
        _close(n.grad, t.grad, rel=3e-2)


def test_explicit_widening_is_kept():
    x = nr.tensor(X, dtype=nr.bfloat16)
    assert x.float().dtype is nr.float32
    assert x.sum(dtype=nr.float32).dtype is nr.float32
    assert torch.tensor(X).bfloat16().sum(dtype=torch.float32).dtype == torch.float32
    assert x.double().dtype is nr.float64
    assert (x > 0).dtype is nr.bool and x.argmax().dtype is nr.int64


# --- the GEMM-like ops ---------------------------------------------------------------------
IMG, K, KT = randn(2, 3, 9, 9), randn(4, 3, 3, 3), randn(3, 2, 3, 3)
SEQ, K1, Q = randn(2, 3, 11), randn(4, 3, 3), randn(1, 2, 5, 8)
GEMMS = {
    "linear": (lambda m, f, x, w, b: f.linear(x, w, b), (X, randn(5, 6), randn(5))),
    "matmul": (lambda m, f, x, w: x @ w.T, (X, randn(5, 6))),
    "bmm": (lambda m, f, q: m.bmm(q[0], q[0].transpose(1, 2)), (Q,)),
    "matmul_vec": (lambda m, f, x, v: m.matmul(x, v), (X, randn(6))),
    "conv2d": (lambda m, f, x, k: f.conv2d(x, k, padding=1), (IMG, K)),
    "conv2d_stride": (lambda m, f, x, k, b: f.conv2d(x, k, b, stride=2), (IMG, K, randn(4))),
    "conv2d_groups": (lambda m, f, x, k: f.conv2d(x, k, groups=3), (IMG, randn(6, 1, 3, 3))),
    "conv1d": (lambda m, f, x, k: f.conv1d(x, k, padding=2), (SEQ, K1)),
    "conv_transpose2d": (lambda m, f, x, k: f.conv_transpose2d(x, k, stride=2), (IMG, KT)),
    "sdpa": (lambda m, f, q: f.scaled_dot_product_attention(q, q * 0.5, q), (Q,)),
    "sdpa_causal": (lambda m, f, q: f.scaled_dot_product_attention(q, q, q, is_causal=True),
                    (Q,)),
}


@pytest.mark.parametrize("name", list(GEMMS))
def test_gemm_ops_in_bfloat16_match_torch(name):
    fn, arrays = GEMMS[name]
    tt = [torch.tensor(a).bfloat16().requires_grad_() for a in arrays]
    nt = [nr.tensor(a).bfloat16().requires_grad_() for a in arrays]
    ref, out = fn(torch, TF, *tt), fn(nr, F, *nt)
    assert out.dtype is nr.bfloat16 and _tdt(ref) == "bfloat16"
    _close(out, ref)
    gy = RNG.standard_normal(tuple(ref.shape)).astype(np.float32)
    ref.backward(torch.tensor(gy).bfloat16())
    out.backward(nr.tensor(gy).bfloat16())
    for n, t in zip(nt, tt):
        assert n.grad.dtype is nr.bfloat16
        _close(n.grad, t.grad, rel=3e-2)


def test_conv_fft_path_in_bfloat16(monkeypatch):
    from narae.ops import conv
    monkeypatch.setattr(conv, "FFT_MODE", "always")
    x, k = randn(2, 4, 10, 10), randn(5, 4, 5, 5)
    out = F.conv2d(nr.tensor(x).bfloat16(), nr.tensor(k).bfloat16(), padding=2)
    ref = TF.conv2d(torch.tensor(x).bfloat16(), torch.tensor(k).bfloat16(), padding=2)
    assert out.dtype is nr.bfloat16
    _close(out, ref)


def test_mixed_bfloat16_float32_matmul_raises_like_torch():
    a, b = nr.tensor(X).bfloat16(), nr.tensor(randn(6, 2))
    with pytest.raises(RuntimeError, match="same dtype"):
        a @ b
    with pytest.raises(RuntimeError):
        torch.tensor(X).bfloat16() @ torch.tensor(randn(6, 2))


# --- modules -------------------------------------------------------------------------------
def test_module_bfloat16_and_back():
    m = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    assert m.bfloat16() is m
    assert all(p.dtype is nr.bfloat16 and p.requires_grad for p in m.parameters())
    assert m[1].running_mean.dtype is nr.bfloat16
    assert m[1].num_batches_tracked.dtype is nr.int64  # integer buffers keep their dtype
    out = m(nr.tensor(X).bfloat16())
    assert out.dtype is nr.bfloat16
    out.float().pow(2).mean().backward()
    assert all(p.grad.dtype is nr.bfloat16 for p in m.parameters())
    opt = nr.optim.AdamW(m.parameters(), lr=1e-2)
    before = [p.detach().float().numpy().copy() for p in m.parameters()]
    opt.step()
    assert all(p.dtype is nr.bfloat16 for p in m.parameters())
    assert any((p.detach().float().numpy() != b).any() for p, b in zip(m.parameters(), before))
    m.to(nr.float32)
    assert all(p.dtype is nr.float32 for p in m.parameters())
    m.to(dtype=nr.bfloat16)
    assert all(p.dtype is nr.bfloat16 for p in m.parameters())


# --- autocast ------------------------------------------------------------------------------
def test_autocast_defaults_like_torch():
    assert amp.autocast("cpu").fast_dtype is nr.bfloat16
    assert torch.autocast("cpu").fast_dtype == torch.bfloat16
    assert amp.autocast("cuda", enabled=False).fast_dtype is nr.float16
    with amp.autocast("cpu"):
        assert amp.is_autocast_enabled("cpu")
        assert amp.get_autocast_dtype("cpu") is nr.bfloat16
    for dtype in (nr.bfloat16, "bfloat16", ml_dtypes.bfloat16, BF16):
        assert amp.autocast("cpu", dtype=dtype).fast_dtype is nr.bfloat16


def test_autocast_bfloat16_op_dtypes():
    x, w, b = nr.tensor(X), nr.tensor(randn(5, 6), requires_grad=True), nr.tensor(randn(5))
    with amp.autocast("cpu", dtype=nr.bfloat16):
        h = F.linear(x, w)
        assert h.dtype is nr.bfloat16
        assert F.relu(h).dtype is nr.bfloat16
        assert (h + b).dtype is nr.float32            # meets float32: widest type
        assert (h * 2.0).dtype is nr.bfloat16
        assert F.cross_entropy(h, nr.tensor([0, 1, 2, 3])).dtype is nr.float32
        assert F.conv2d(nr.tensor(IMG), nr.tensor(K)).dtype is nr.bfloat16
        assert (x.double() @ x.double().T).dtype is nr.float64  # float64 untouched
        hh = nr.tensor(X).half()
        assert F.linear(hh, w).dtype is nr.bfloat16   # float16 inputs are eligible too
        # nested float16 region inside a bfloat16 one, and back
        with amp.autocast("cpu", dtype=nr.float16):
            assert F.linear(x, w).dtype is nr.float16
        assert F.linear(x, w).dtype is nr.bfloat16
    assert F.linear(x, w).dtype is nr.float32
    h.float().sum().backward()
    assert w.grad.dtype is nr.float32


def _mlp(lib):
    return lib.Sequential(lib.Linear(8, 16), lib.ReLU(), lib.Linear(16, 16), lib.GELU(),
                          lib.Linear(16, 4))


def _cnn(lib):
    return lib.Sequential(lib.Conv2d(3, 8, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Conv2d(8, 8, 3), lib.ReLU(), lib.Flatten(), lib.Linear(8 * 2 * 2, 5))


@pytest.mark.parametrize("make,shape", [(_mlp, (6, 8)), (_cnn, (4, 3, 8, 8))],
                         ids=["mlp", "cnn"])
def test_autocast_cpu_bfloat16_matches_torch(make, shape):
    torch.manual_seed(0)
    tm, nm = make(tnn), make(nn)
    for (tn, tp), (nn_, np_) in zip(tm.named_parameters(), nm.named_parameters()):
        assert tn == nn_
        np_.data = nr.tensor(tp.detach().numpy().copy())
    x = RNG.standard_normal(shape).astype(np.float32)
    y = np.arange(shape[0]) % 4
    with torch.autocast("cpu", dtype=torch.bfloat16):
        t_out = tm(torch.tensor(x))
        t_loss = TF.cross_entropy(t_out, torch.tensor(y))
    t_loss.backward()
    with amp.autocast("cpu"):  # bfloat16 by default, as torch's
        n_out = nm(nr.tensor(x))
        n_loss = F.cross_entropy(n_out, nr.tensor(y))
    n_loss.backward()
    assert n_out.dtype is nr.bfloat16 and t_out.dtype == torch.bfloat16
    assert n_loss.dtype is nr.float32 and t_loss.dtype == torch.float32
    _close(n_out, t_out)
    assert abs(n_loss.item() - t_loss.item()) <= 1e-2 * abs(t_loss.item())
    for (name, tp), np_ in zip(tm.named_parameters(), nm.parameters()):
        assert np_.dtype is nr.float32 and np_.grad.dtype is nr.float32, name
        _close(np_.grad, tp.grad, rel=3e-2)


def test_grad_scaler_with_bfloat16_autocast():
    m = nn.Linear(6, 3)
    opt = nr.optim.SGD(m.parameters(), lr=0.1)
    scaler = amp.GradScaler("cpu", init_scale=2.0 ** 10)
    x, y = nr.tensor(X), nr.tensor([0, 1, 2, 0])
    before = m.weight.detach().numpy().copy()
    for _ in range(3):
        opt.zero_grad()
        with amp.autocast("cpu", dtype=nr.bfloat16):
            loss = F.cross_entropy(m(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    assert m.weight.dtype is nr.float32 and np.isfinite(m.weight.detach().numpy()).all()
    assert (m.weight.detach().numpy() != before).any()
    assert scaler.get_scale() == 2.0 ** 10  # nothing overflowed
    # bfloat16 gradients (of bfloat16 parameters) may be unscaled: only float16 ones may not
    w = nr.tensor(randn(3, 6)).bfloat16().requires_grad_()
    opt2 = nr.optim.SGD([w], lr=0.1)
    scaler2 = amp.GradScaler("cpu")
    scaler2.scale((w * 2.0).float().sum()).backward()
    scaler2.step(opt2)
    scaler2.update()
    assert w.dtype is nr.bfloat16 and np.isfinite(w.detach().float().numpy()).all()


# --- safetensors ---------------------------------------------------------------------------
def test_safetensors_bf16_read_by_the_safetensors_package(tmp_path):
    from safetensors.torch import load_file as torch_load_file
    x = nr.tensor(randn(3, 5)).bfloat16()
    path = tmp_path / "bf16.safetensors"
    st.save_file({"x": x, "y": nr.arange(4), "s": nr.tensor(1.5).bfloat16()}, path)
    assert st.read_header(path)[1]["x"] == ("BF16", (3, 5))
    theirs = torch_load_file(str(path))
    assert theirs["x"].dtype == torch.bfloat16 and tuple(theirs["x"].shape) == (3, 5)
    np.testing.assert_array_equal(_bits(theirs["x"]), _bits(x))
    assert theirs["s"].dtype == torch.bfloat16 and theirs["s"].item() == 1.5
    ours = st.load_file(path)
    assert ours["x"].dtype is nr.bfloat16
    np.testing.assert_array_equal(_bits(ours["x"]), _bits(x))


def test_safetensors_bf16_written_by_the_safetensors_package(tmp_path):
    from safetensors.torch import save_file as torch_save_file
    t = torch.randn(4, 3).bfloat16()
    path = tmp_path / "torch.safetensors"
    torch_save_file({"t": t}, str(path))
    ours = st.load_file(path)["t"]
    assert ours.dtype is nr.bfloat16
    np.testing.assert_array_equal(_bits(ours), _bits(t))
    assert st.load(st.save({"t": ours}))["t"].dtype is nr.bfloat16


def test_checkpoint_of_a_bfloat16_model(tmp_path):
    m = nn.Linear(4, 3).bfloat16()
    path = tmp_path / "ck.safetensors"
    nr.save({"model": m.state_dict(), "step": 3}, path)
    state = nr.load(path)
    for k, v in m.state_dict().items():
        assert state["model"][k].dtype is nr.bfloat16
        np.testing.assert_array_equal(_bits(state["model"][k]), _bits(v))
    m32 = nn.Linear(4, 3)
    m32.load_state_dict(state["model"])  # copied into the float32 parameters
    assert m32.weight.dtype is nr.float32
    np.testing.assert_array_equal(m32.weight.detach().numpy(), _f32(m.weight))


# --- without ml_dtypes, and the cost when bfloat16 is never used -----------------------------
def _run(code):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))] +
        [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_narae_without_ml_dtypes(tmp_path):
    path = tmp_path / "bf16.safetensors"
    bits = (np.array([1.0, -2.5], np.float32).view(np.uint32) >> 16).astype("<u2")
    st.save_file({"h": nr.tensor(bits.view(BF16))}, path)
    out = _run(f"""
        import sys
        sys.modules["ml_dtypes"] = None  # import ml_dtypes now raises ImportError
        import narae as nr
        import narae.amp as amp
        import narae.nn.functional as F
        from narae.autograd import function
        from narae.io import safetensors as st
        assert nr._dtype.BF16 is None
        assert repr(nr.bfloat16) == "narae.bfloat16" and nr.bfloat16.is_floating_point
        for use in (lambda: nr.zeros(2, dtype=nr.bfloat16), lambda: nr.ones(2).bfloat16(),
                    lambda: nr.ones(2).to("bfloat16"), lambda: nr.bfloat16.np,
                    lambda: amp.autocast("cpu"), lambda: amp.autocast("cpu", dtype="bfloat16"),
                    lambda: amp.get_autocast_dtype("cpu")):
            try:
                use()
            except RuntimeError as e:
                assert "pip install ml_dtypes" in str(e), e
            else:
                raise AssertionError("no error")
        with amp.autocast("cpu", dtype=nr.float16):
            assert F.linear(nr.randn(2, 3), nr.randn(4, 3)).dtype == nr.float16
        with amp.autocast("cpu", enabled=False):
            pass
        x = nr.randn(3, requires_grad=True)
        (x * 2.0).sum().backward()
        assert x.grad.dtype == nr.float32 and function._bf16_hook is None
        h = st.load_file({str(path)!r})["h"]  # BF16 files still load, as float32
        assert h.dtype == nr.float32 and h.tolist() == [1.0, -2.5]
        print("ok")
    """)
    assert out.strip() == "ok"


def test_bfloat16_hook_is_off_until_bfloat16_is_used():
    out = _run("""
        import narae as nr
        from narae.autograd import function
        x = nr.randn(3, requires_grad=True)
        (x * 2.0).sum().backward()
        nr.nn.Linear(3, 2).half()
        with nr.amp.autocast("cpu", dtype=nr.float16):
            nr.nn.functional.linear(x, nr.randn(2, 3))
        assert function._bf16_hook is None  # float32/float16 programs never pay for it
        y = nr.tensor([1.0, 2.0], dtype=nr.bfloat16)
        assert function._bf16_hook is not None
        assert (y * 0.5).dtype == nr.bfloat16
        print("ok")
    """)
    assert out.strip() == "ok"
