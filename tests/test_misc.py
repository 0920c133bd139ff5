"""torch's top-level odds and ends (narae/misc.py) and the functional aliases at the top
level, against torch."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.nn.functional as F
from helpers import check, randn

DTYPES = ["float16", "bfloat16", "float32", "float64", "int8", "uint8", "int16", "int32",
          "int64", "bool"]


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_finfo_matches_torch(name):
    ours, theirs = nr.finfo(getattr(nr, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr


@pytest.mark.parametrize("name", ["int8", "uint8", "int16", "int32", "int64"])
def test_iinfo_matches_torch(name):
    ours, theirs = nr.iinfo(getattr(nr, name)), torch.iinfo(getattr(torch, name))
    assert (ours.bits, ours.max, ours.min) == (theirs.bits, theirs.max, theirs.min)


def test_info_errors():
    with pytest.raises(TypeError, match="floating point"):
        nr.finfo(nr.int32)
    with pytest.raises(TypeError, match="integer"):
        nr.iinfo(nr.float32)


@pytest.mark.parametrize("a", DTYPES)
def test_promote_types_and_can_cast_match_torch(a):
    for b in DTYPES:
        ours = nr.promote_types(getattr(nr, a), getattr(nr, b))
        assert ours.name == str(torch.promote_types(getattr(torch, a), getattr(torch, b))) \
            .replace("torch.", ""), (a, b)
        assert nr.can_cast(getattr(nr, a), getattr(nr, b)) == \
            torch.can_cast(getattr(torch, a), getattr(torch, b)), (a, b)


@pytest.mark.parametrize("x,y", [(np.array([1, 2]), 1.5), (np.array([1.0], np.float32), 2),
                                 (np.array(3), np.array([1.0], np.float32)),
                                 (np.array([True]), 2), (np.array([1], np.int8), np.array(2))])
def test_result_type_matches_torch(x, y):
    def lib(m):
        a = m.tensor(x)
        b = m.tensor(y) if isinstance(y, np.ndarray) else y
        return m.result_type(a, b)
    assert lib(nr).name == str(lib(torch)).replace("torch.", "")


@pytest.mark.parametrize("name,kw", [("hann_window", {}), ("hamming_window", {}),
                                     ("hamming_window", dict(alpha=0.5, beta=0.5)),
                                     ("blackman_window", {}), ("bartlett_window", {}),
                                     ("kaiser_window", {}), ("kaiser_window", dict(beta=5.0))])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 16])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_torch(name, kw, n, periodic):
    ours = getattr(nr, name)(n, periodic, **kw, dtype=nr.float64)
    theirs = getattr(torch, name)(n, periodic, **kw, dtype=torch.float64)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-15)
    assert getattr(nr, name)(4).dtype == nr.float32


def test_dist_and_bilinear():
    check(lambda m, a, b: m.dist(a, b), randn(3, 4), randn(4))
    check(lambda m, a, b: m.dist(a, b, 3), randn(3, 4), randn(3, 4))
    check(lambda m, a, b, w, c: m.nn.functional.bilinear(a, b, w, c), randn(2, 3), randn(2, 4),
          randn(5, 3, 4), randn(5))
    with pytest.raises(RuntimeError, match="bilinear"):
        F.bilinear(nr.zeros(2, 3), nr.zeros(2, 5), nr.zeros(5, 3, 4))


def test_print_options():
    x = nr.tensor([1.23456, 2.5])
    try:
        nr.set_printoptions(precision=2)
        assert repr(x) == "tensor([1.23, 2.5 ])"
        nr.set_printoptions(sci_mode=True)
        assert "e+00" in repr(x)
    finally:
        nr.set_printoptions(profile="default")
    assert repr(x) == "tensor([1.2346, 2.5   ])"


def test_default_device_and_memory_sharing_constructors():
    assert nr.get_default_device() == nr.device("cpu")
    nr.set_default_device("cpu")
    try:
        assert nr.zeros(2).device == nr.device("cpu")
    finally:
        nr.set_default_device(None)
    buf = bytearray(np.arange(4, dtype=np.float32).tobytes())
    t = nr.frombuffer(buf, dtype=nr.float32)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    src = torch.arange(5.0)
    shared = nr.from_dlpack(src)
    src[0] = 42.0
    assert shared.tolist()[0] == 42.0  # the same memory
    a = np.arange(3.0)
    assert np.shares_memory(nr.asarray(a)._data, a)
    assert not np.shares_memory(nr.asarray(a, copy=True)._data, a)
    with pytest.raises(NotImplementedError, match="contiguous"):
        nr.empty_strided((2, 3), (1, 2))
    assert tuple(nr.empty_strided((2, 3), (3, 1)).shape) == (2, 3)
    assert nr.fill(nr.zeros(2), 3.0).tolist() == [3.0, 3.0]


def test_threads_round_trip():
    n = nr.get_num_threads()
    assert n >= 1
    try:
        nr.set_num_threads(1)
        assert nr.get_num_threads() == 1
    finally:
        nr.set_num_threads(n)  # the rest of the suite keeps its threads
    assert nr.get_num_threads() == n


@pytest.mark.parametrize("name", ["conv1d", "conv2d", "conv3d", "conv_transpose2d",
                                  "max_pool2d", "avg_pool1d", "batch_norm", "layer_norm",
                                  "group_norm", "dropout", "embedding", "cdist", "pdist",
                                  "cosine_similarity", "pixel_shuffle", "ctc_loss", "kl_div",
                                  "binary_cross_entropy_with_logits", "triplet_margin_loss",
                                  "relu_", "selu_", "threshold_", "channel_shuffle"])
def test_functional_ops_at_the_top_level_like_torch(name):
    assert callable(getattr(torch, name))
    assert getattr(nr, name) is getattr(F, name) or getattr(nr, name).__name__ == name


def test_vmap_and_anomaly_flags_at_the_top_level():
    out = nr.vmap(lambda v: (v * v).sum())(nr.arange(6.0).reshape(2, 3))
    assert out.tolist() == [5.0, 50.0]
    assert nr.is_anomaly_enabled() is False
