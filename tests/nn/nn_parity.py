"""Layer parity with torch.nn: same parameter names/shapes/state_dict keys, then torch's
weights copied in and forward outputs, input gradients and parameter gradients compared.

    check_layer(lambda m: m.nn.Conv2d(3, 4, 3), randn(2, 3, 5, 5))

``m`` is ``narae`` or ``torch``; float arrays become differentiable inputs, integer arrays
constant ones (wrap a float array in ``const`` to keep it constant).
"""
import numpy as np
import pytest
import torch

import narae as nr
import narae.nn.functional as F

RNG = np.random.default_rng(4321)


def needs(*names):
    """Skip a test while the functional ops it relies on are not written yet."""
    missing = [n for n in names if not hasattr(F, n)]
    return pytest.mark.skipif(bool(missing), reason=f"narae.nn.functional lacks {missing}")


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach()._data)


class const:
    """An input array that does not require grad (e.g. a float target)."""

    def __init__(self, array):
        self.array = array


def _inputs(arrays, lib):
    out = []
    for a in arrays:
        if isinstance(a, const):
            out.append(torch.from_numpy(a.array.copy()) if lib is torch
                       else nr.from_numpy(a.array.copy()))
        elif isinstance(a, np.ndarray):
            if lib is torch:
                t = torch.from_numpy(a.copy())
                if a.dtype.kind == "f":
                    t.requires_grad_(True)
            else:
                t = nr.from_numpy(a.copy())
                if a.dtype.kind == "f":
                    t.requires_grad_(True)
            out.append(t)
        else:
            out.append(a)
    return out


def same_structure(ours, theirs):
    """Parameter names and shapes, buffer names and state_dict keys equal torch's."""
    op = [(n, tuple(p.shape)) for n, p in ours.named_parameters()]
    tp = [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert op == tp, f"parameters {op} != torch {tp}"
    ob = [(n, tuple(b.shape)) for n, b in ours.named_buffers()]
    tb = [(n, tuple(b.shape)) for n, b in theirs.named_buffers()]
    assert ob == tb, f"buffers {ob} != torch {tb}"
    assert list(ours.state_dict()) == list(theirs.state_dict()), "state_dict keys differ"


def copy_weights(ours, theirs):
    res = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert not res.missing_keys and not res.unexpected_keys


def check_layer(make, *arrays, train=True, atol=1e-5, rtol=1e-4, grad=True, steps=1):
    """Build the layer in both libraries, copy torch's state in, compare ``steps`` calls."""
    torch.manual_seed(0)
    theirs = make(torch)
    ours = make(nr)
    same_structure(ours, theirs)
    copy_weights(ours, theirs)
    ours.train(train)
    theirs.train(train)
    assert repr(ours).replace("narae.", "torch.") == repr(theirs), \
        f"repr {ours!r} != torch {theirs!r}"
    for _ in range(steps):
        oi, ti = _inputs(arrays, nr), _inputs(arrays, torch)
        oo, to = ours(*oi), theirs(*ti)
        oo = oo if isinstance(oo, tuple) else (oo,)
        to = to if isinstance(to, tuple) else (to,)
        for k, (o, t) in enumerate(zip(oo, to)):
            assert tuple(o.shape) == tuple(t.shape), f"output {k}: {o.shape} != {t.shape}"
            np.testing.assert_allclose(_np(o), _np(t), atol=atol, rtol=rtol,
                                       err_msg=f"output {k}")
        if grad and to[0].requires_grad:
            up = RNG.standard_normal(tuple(to[0].shape)).astype(np.float32)
            (oo[0] * nr.from_numpy(up)).sum().backward()
            (to[0] * torch.from_numpy(up)).sum().backward()
            for k, (o, t) in enumerate(zip(oi, ti)):
                if isinstance(t, torch.Tensor) and t.requires_grad:
                    assert o.grad is not None, f"no gradient for input {k}"
                    np.testing.assert_allclose(_np(o.grad), _np(t.grad), atol=atol, rtol=rtol,
                                               err_msg=f"gradient of input {k}")
            tgrads = dict(theirs.named_parameters())
            for n, p in ours.named_parameters():
                tg = tgrads[n].grad
                if tg is None:
                    assert p.grad is None or not np.any(_np(p.grad)), f"{n}: torch has no grad"
                    continue
                assert p.grad is not None, f"no gradient for parameter {n}"
                np.testing.assert_allclose(_np(p.grad), _np(tg), atol=atol, rtol=rtol,
                                           err_msg=f"gradient of parameter {n}")
    # buffers (running statistics...) evolve the same way
    tstate = theirs.state_dict()
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(_np(v), _np(tstate[k]), atol=atol, rtol=rtol,
                                   err_msg=f"state {k} after forward")
    return ours, theirs
