"""F.linear_cross_entropy and nn.LinearCrossEntropyLoss against torch."""
import warnings

import numpy as np
import pytest
import torch

import narae
from tests.helpers import check, randn


def _ints(high, *shape):
    return np.random.default_rng(sum(shape) + high).integers(0, high, shape).astype(np.int64)


def _lce(reduction="mean", chunk=None, ignore_index=None, bias=True, weighted=False, **kw):
    def fn(m, x, w, *rest):
        rest = list(rest)
        b = rest.pop(0) if bias else None
        t = rest.pop(0)
        cw = rest.pop(0) if weighted else None
        opts = None if chunk is None else m.nn.LinearCrossEntropyOptions(
            batch_chunk_size=chunk)
        return m.nn.functional.linear_cross_entropy(
            x, w, t, linear_bias=b, weight=cw, reduction=reduction, ignore_index=ignore_index,
            options=opts, **kw)
    return fn


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk", [None, 1, 3, 16])
def test_chunked_matches_torch(reduction, chunk):
    check(_lce(reduction, chunk), randn(7, 4), randn(9, 4), randn(9), _ints(9, 7))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_no_bias_double_backward(reduction):
    check(_lce(reduction, bias=False), randn(5, 3), randn(6, 3), _ints(6, 5), double=True)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_class_weight_and_ignore_index(reduction):
    t = _ints(6, 8)
    t[[1, 4]] = 2
    check(_lce(reduction, chunk=3, ignore_index=2, weighted=True),
          randn(8, 3), randn(6, 3), randn(6), t, np.abs(randn(6)) + 0.1, diff=(0, 1, 2))
    t[[0, 5]] = -100  # default ignore_index
    check(_lce(reduction, chunk=2), randn(8, 3), randn(6, 3), randn(6), t)


def test_all_ignored_mean_is_nan_like_torch():
    check(_lce("mean", chunk=2, ignore_index=1), randn(3, 2), randn(4, 2), randn(4),
          np.ones(3, np.int64), gradcheck=False)


def test_unbatched_input():
    for red in ("mean", "none"):
        check(_lce(red, chunk=4), randn(3), randn(5, 3), randn(5), np.array(2))


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_reference_paths_k_dim_and_smoothing(label_smoothing):
    # K-dimensional loss: weight (C, d1, F), logits (N, C, d1)
    check(_lce("mean", label_smoothing=label_smoothing), randn(4, 3), randn(5, 2, 3),
          randn(5, 2), _ints(5, 4, 2))
    check(_lce("sum", label_smoothing=label_smoothing), randn(4, 3), randn(5, 3), randn(5),
          _ints(5, 4))


def test_probability_targets():
    p = np.abs(randn(4, 5))
    p /= p.sum(1, keepdims=True)
    check(_lce("mean", bias=False), randn(4, 3), randn(5, 3), p, diff=(0, 1))


def test_options_ignored_warns():
    x, w, t = narae.randn(4, 3), narae.randn(5, 3), narae.tensor([0, 1, 2, 3])
    with pytest.warns(UserWarning, match="options"):
        narae.nn.functional.linear_cross_entropy(
            x, w, t, label_smoothing=0.1, options=narae.nn.LinearCrossEntropyOptions())


def test_retain_graph_backward_twice():
    x = narae.randn(6, 3, requires_grad=True)
    w = narae.randn(8, 3, requires_grad=True)
    loss = narae.nn.functional.linear_cross_entropy(
        x, w, narae.tensor(_ints(8, 6)), options=narae.nn.LinearCrossEntropyOptions(
            batch_chunk_size=4, allow_retain_graph=True))
    loss.backward(retain_graph=True)
    g = w.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * g, rtol=1e-6)


def test_options_validation_and_chunk_size():
    O = narae.nn.LinearCrossEntropyOptions
    for m in (narae, torch):
        for bad in (dict(acc_policy="fast"), dict(chunking_method="ratio"),
                    dict(batch_chunk_size=0)):
            with pytest.raises(ValueError):
                m.nn.LinearCrossEntropyOptions(**bad)
    assert O()._chunk_size(64, 8, 100) == 4  # next_pow2(ceil(64 / 13)) // 2
    assert O(chunking_method="aspect_ratio")._chunk_size(64, 8, 100) == 8
    assert O(batch_chunk_size=5)._chunk_size(64, 8, 100) == 5
    assert O(batch_chunk_size=100)._chunk_size(64, 8, 100) == 64
    with pytest.raises(ValueError, match="different chunk sizes"):
        O(batch_chunk_size=5, chunking_method="aspect_ratio")._chunk_size(64, 8, 100)


def test_errors_name_shapes():
    F = narae.nn.functional
    x, w, t = narae.randn(4, 3), narae.randn(5, 3), narae.tensor([0, 1, 2, 3])
    with pytest.raises(RuntimeError, match="dimensionality 1 or 2"):
        F.linear_cross_entropy(narae.randn(2, 2, 3), w, t)
    with pytest.raises(RuntimeError, match=r"\(4, 2\).*\(5, 3\)"):
        F.linear_cross_entropy(narae.randn(4, 2), w, t)
    with pytest.raises(RuntimeError, match=r"linear_bias shape \(5,\), got \(4,\)"):
        F.linear_cross_entropy(x, w, t, linear_bias=narae.randn(4))
    with pytest.raises(RuntimeError, match="requires batched input"):
        F.linear_cross_entropy(narae.randn(3), narae.randn(5, 2, 3), narae.tensor(1))
    with pytest.raises(IndexError, match="out of range"):
        F.linear_cross_entropy(x, w, narae.tensor([0, 1, 7, 3]))
    with pytest.raises(RuntimeError, match="target"):
        F.linear_cross_entropy(x, w, narae.tensor([0, 1]))
    p = narae.softmax(narae.randn(4, 5), 1)
    with pytest.raises(RuntimeError, match="ignore_index cannot be specified"):
        F.linear_cross_entropy(x, w, p, ignore_index=1)


@pytest.mark.parametrize("kw", [dict(), dict(bias=True, reduction="sum"),
                                dict(out_features=(2,), bias=True)])
def test_module_matches_torch(kw):
    ours = narae.nn.LinearCrossEntropyLoss(3, 5, **kw)
    theirs = torch.nn.LinearCrossEntropyLoss(3, 5, **kw)
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = randn(4, 3).astype(np.float32)
    t = _ints(5, 4, *kw.get("out_features", ()))
    a, b = ours(narae.tensor(x), narae.tensor(t)), theirs(torch.tensor(x), torch.tensor(t))
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    a.backward()
    b.backward()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6)
    assert "num_classes=5" in repr(ours)


def test_module_validation_and_weight_buffer():
    w = narae.ones(5)
    m = narae.nn.LinearCrossEntropyLoss(3, 5, weight=w, dtype=narae.float64)
    assert "weight" in dict(m.named_buffers()) and m.linear.weight.dtype == narae.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m(narae.randn(2, 3, dtype=narae.float64), narae.tensor([1, 4]))
    for mod in (narae, torch):
        with pytest.raises(RuntimeError, match="weight shape"):
            mod.nn.LinearCrossEntropyLoss(3, 5, weight=mod.ones(4))
        with pytest.raises(RuntimeError, match="label_smoothing"):
            mod.nn.LinearCrossEntropyLoss(3, 5, label_smoothing=1.5)
