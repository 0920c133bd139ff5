"""One declarative check per op: forward/backward parity with PyTorch and a float64 gradcheck.

    check(lambda m, x, w: m.matmul(x, w), randn(3, 4), randn(4, 5))

``m`` is ``narae`` or ``torch``: one expression serves both libraries. Float arrays become
differentiable tensors; integer/bool arrays become constant tensors; anything else is
passed through unchanged. Complex arrays (``crandn``) are differentiable too: complex64 in
the float32 parity run, complex128 in the gradcheck; a complex output enters the checked
loss as <Re out, r> + <Im out, s>, so gradients follow torch's complex convention.
"""
import numpy as np
import torch

import narae as nr

RNG = np.random.default_rng(1234)


def randn(*shape, low=None):
    a = RNG.standard_normal(shape)
    return a if low is None else np.abs(a) + low


def rand(*shape, low=0.0, high=1.0):
    return RNG.uniform(low, high, shape)


def crandn(*shape):
    """Complex normal samples (real and imaginary parts standard normal), complex128."""
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


_COMPLEX_OF = {np.float32: np.complex64, np.float64: np.complex128}


def _is_diff(a):
    return a.dtype.kind in "fc"


def _weights_like(t):
    """A random weight for one output: real, or a (re, im) pair of arrays for complex."""
    shape = tuple(t.shape)
    if t.dtype.is_complex:
        return (RNG.standard_normal(shape).astype(np.float32),
                RNG.standard_normal(shape).astype(np.float32))
    return RNG.standard_normal(shape).astype(np.float32)


def _weighted_sum(m, o, u):
    """sum(o * u), or sum(Re(o) u_re + Im(o) u_im) for a complex output."""
    if isinstance(u, tuple):
        return (o.real * m.from_numpy(u[0])).sum() + (o.imag * m.from_numpy(u[1])).sum()
    return (o * m.from_numpy(u)).sum()


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _noncontiguous(a):
    """Same values, Fortran order: a non-C-contiguous array (as a transposed view would be)."""
    return np.asfortranarray(a) if a.ndim >= 2 else a


def _make_inputs(args, lib, dtype, diff, noncontig):
    out = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            is_float = _is_diff(a)
            arr = a.astype(dtype if a.dtype.kind == "f" else _COMPLEX_OF[dtype]) if is_float \
                else a
            if noncontig and is_float:
                arr = _noncontiguous(arr)
            needs_grad = is_float and (diff is None or i in diff)
            if lib is torch:
                t = torch.from_numpy(np.array(arr))
                t.requires_grad_(needs_grad)
            else:
                t = nr.from_numpy(arr.copy(order="K") if not noncontig else arr)
                if needs_grad:
                    t.requires_grad_(True)
            out.append(t)
        else:
            out.append(a)
    return out


def _to_np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().resolve_conj().resolve_neg().numpy()
    return np.asarray(t.detach()._data if isinstance(t, nr.Tensor) else t)


def assert_close(ours, theirs, atol, rtol, what):
    ours, theirs = _to_np(ours), _to_np(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torch {theirs.shape}"
    if ours.dtype.kind in "biu" or theirs.dtype.kind in "biu":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
    else:
        np.testing.assert_allclose(ours, theirs, atol=atol, rtol=rtol, err_msg=what)


def check_parity(fn, *args, diff=None, atol=1e-5, rtol=1e-4, noncontig=False, grad=True,
                 double=False):
    """Forward, backward (and optionally double backward) parity with torch in float32."""
    ours_in = _make_inputs(args, nr, np.float32, diff, noncontig)
    torch_in = _make_inputs(args, torch, np.float32, diff, noncontig)
    ours_out = _as_tuple(fn(nr, *ours_in))
    torch_out = _as_tuple(fn(torch, *torch_in))
    assert len(ours_out) == len(torch_out), "number of outputs differs from torch"
    for k, (o, t) in enumerate(zip(ours_out, torch_out)):
        assert_close(o, t, atol, rtol, f"forward output {k}")
        if isinstance(o, nr.Tensor) and isinstance(t, torch.Tensor):
            assert o.dtype.name == str(t.dtype).replace("torch.", ""), \
                f"output {k} dtype {o.dtype} != torch {t.dtype}"
    if not grad:
        return
    diff_pairs = [(o, t) for o, t in zip(ours_in, torch_in)
                  if isinstance(o, nr.Tensor) and o.requires_grad]
    outs = [(o, t) for o, t in zip(ours_out, torch_out)
            if isinstance(t, torch.Tensor) and t.requires_grad]
    if not diff_pairs or not outs:
        return
    ups = [_weights_like(o) for o, _ in outs]
    ours_loss = sum(_weighted_sum(nr, o, u) for (o, _), u in zip(outs, ups))
    torch_loss = sum(_weighted_sum(torch, t, u) for (_, t), u in zip(outs, ups))
    ours_g = nr.autograd.grad(ours_loss, [o for o, _ in diff_pairs], allow_unused=True,
                              create_graph=double)
    torch_g = torch.autograd.grad(torch_loss, [t for _, t in diff_pairs], allow_unused=True,
                                  create_graph=double)
    for k, (og, tg) in enumerate(zip(ours_g, torch_g)):
        if tg is None:
            assert og is None or np.all(_to_np(og) == 0), f"grad {k}: torch has none"
            continue
        assert og is not None, f"grad of input {k} missing"
        assert_close(og, tg, atol, rtol, f"gradient of input {k}")
    if double:
        vs = [_weights_like(g) for g, t in zip(ours_g, torch_g) if t is not None]
        og2 = sum(_weighted_sum(nr, g, v) for g, v in
                  zip([g for g, t in zip(ours_g, torch_g) if t is not None], vs))
        tg2 = sum(_weighted_sum(torch, g, v) for g, v in
                  zip([t for t in torch_g if t is not None], vs))
        if not og2.requires_grad:  # ours is constant in the inputs: torch's must vanish too
            if tg2.requires_grad:
                for g in torch.autograd.grad(tg2, [t for _, t in diff_pairs], allow_unused=True):
                    assert g is None or np.all(g.detach().numpy() == 0), \
                        "torch has a non-zero second derivative where ours is constant"
            return
        if not tg2.requires_grad:  # the gradient is constant in the inputs (e.g. for add)
            if og2.requires_grad:
                for g in nr.autograd.grad(og2, [o for o, _ in diff_pairs], allow_unused=True):
                    assert g is None or np.all(_to_np(g) == 0), "torch: constant gradient"
            return
        ours_gg = nr.autograd.grad(og2, [o for o, _ in diff_pairs], allow_unused=True)
        torch_gg = torch.autograd.grad(tg2, [t for _, t in diff_pairs], allow_unused=True)
        for k, (og, tg) in enumerate(zip(ours_gg, torch_gg)):
            if tg is None:
                continue
            assert og is not None, f"double-backward grad of input {k} missing"
            assert_close(og, tg, atol * 10, rtol * 10, f"double-backward gradient of input {k}")


def check_gradcheck(fn, *args, diff=None, noncontig=False, double=False, **kwargs):
    """float64 central-difference check of fn's gradient (and of its gradient's gradient)."""
    inputs = _make_inputs(args, nr, np.float64, diff, noncontig)
    f = lambda *xs: fn(nr, *xs)  # noqa: E731
    nr.autograd.gradcheck(f, inputs, **kwargs)
    if double:
        nr.autograd.gradgradcheck(f, inputs, **kwargs)


def check(fn, *args, diff=None, atol=1e-5, rtol=1e-4, double=False, grad=True,
          gradcheck=True, **gc_kwargs):
    """Parity with torch (contiguous and non-contiguous inputs) plus a float64 gradcheck."""
    has_matrix = any(isinstance(a, np.ndarray) and a.ndim >= 2 and _is_diff(a) for a in args)
    for noncontig in ((False, True) if has_matrix else (False,)):
        check_parity(fn, *args, diff=diff, atol=atol, rtol=rtol, noncontig=noncontig, grad=grad,
                     double=double and not noncontig)
        if grad and gradcheck:
            check_gradcheck(fn, *args, diff=diff, noncontig=noncontig,
                            double=double and not noncontig, **gc_kwargs)


def assert_same_tree(ours, theirs, **tol):
    """Results nested alike (tuples, lists, dicts of Tensors) with equal values: for APIs
    such as narae.func and autograd.functional that return structures."""
    if isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), (type(ours), ours)
        for o, t in zip(ours, theirs):
            assert_same_tree(o, t, **tol)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs)
        for k in theirs:
            assert_same_tree(ours[k], theirs[k], **tol)
    else:
        assert isinstance(ours, nr.Tensor), f"expected a Tensor, got {type(ours)}"
        assert tuple(ours.shape) == tuple(theirs.shape), (ours.shape, theirs.shape)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), **tol)
