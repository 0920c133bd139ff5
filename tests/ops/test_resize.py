"""interpolate (nearest, nearest-exact, linear, bilinear), pixel_shuffle: parity, gradchecks."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.nn.functional as F
from helpers import check, randn


def _f(m):
    return F if m is nr else m.nn.functional


BILINEAR = [
    dict(scale_factor=2),
    dict(scale_factor=0.5),
    dict(scale_factor=(1.7, 0.6)),
    dict(size=(7, 3)),
    dict(size=(2, 9)),
    dict(size=1),
    dict(size=(5, 6)),  # unchanged size
]


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("kw", BILINEAR)
def test_bilinear(kw, align):
    check(lambda m, x: _f(m).interpolate(x, mode="bilinear", align_corners=align, **kw) ** 2,
          randn(2, 3, 5, 6), double=True)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("kw", BILINEAR + [dict(scale_factor=3), dict(size=(10, 12))])
def test_nearest(kw, mode):
    check(lambda m, x: _f(m).interpolate(x, mode=mode, **kw) ** 2, randn(2, 3, 5, 6),
          double=True)


@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(size=3), dict(size=11)])
@pytest.mark.parametrize("mode,align", [("linear", False), ("linear", True), ("nearest", None)])
def test_1d(kw, mode, align):
    check(lambda m, x: _f(m).interpolate(x, mode=mode, align_corners=align, **kw) ** 2,
          randn(2, 3, 7), double=True)


def test_recompute_scale_factor():
    check(lambda m, x: _f(m).interpolate(x, scale_factor=1.7, mode="bilinear",
                                         recompute_scale_factor=True), randn(1, 2, 5, 5))


def test_upsample_aliases():
    check(lambda m, x: _f(m).upsample(x, scale_factor=2, mode="nearest"), randn(1, 2, 3, 3))
    check(lambda m, x: _f(m).upsample_bilinear(x, size=(5, 4)), randn(1, 2, 3, 3))


def test_pixel_shuffle():
    check(lambda m, x: _f(m).pixel_shuffle(x, 2), randn(2, 8, 3, 4))
    check(lambda m, x: _f(m).pixel_unshuffle(x, 2), randn(2, 2, 4, 6))


@pytest.mark.parametrize("call,words", [
    (lambda x: F.interpolate(x), ["size", "scale_factor"]),
    (lambda x: F.interpolate(x, size=3, scale_factor=2), ["size", "scale_factor"]),
    (lambda x: F.interpolate(x, size=3, mode="nearest", align_corners=True), ["align_corners"]),
    (lambda x: F.interpolate(x[0], size=3, mode="bilinear"), ["(2, 5, 5)", "bilinear"]),
    (lambda x: F.interpolate(x, size=(3, 3, 3)), ["(1, 2, 5, 5)"]),
    (lambda x: F.pixel_shuffle(x, 2), ["(1, 2, 5, 5)"]),
])
def test_errors(call, words):
    x = nr.tensor(randn(1, 2, 5, 5).astype(np.float32))
    with pytest.raises((RuntimeError, ValueError)) as e:
        call(x)
    for w in words:
        assert w in str(e.value), str(e.value)


@pytest.mark.parametrize("scipy", [True, False])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_interpolate_tap_and_matrix_paths(monkeypatch, scipy, mode):
    # axes of up to _DENSE_MAX source rows resample by a GEMM, longer ones (and all of them
    # with _DENSE_MAX = 0) by gathered taps whose adjoint is a scatter-add (SciPy or add.at)
    import narae.ops.embedding as embedding
    import narae.ops.resize as resize
    if not scipy:
        monkeypatch.setattr(embedding, "_SPARSE", [None])
    kw = dict(align_corners=False) if mode == "bilinear" else {}
    for dense_max in (resize._DENSE_MAX, 0):
        monkeypatch.setattr(resize, "_DENSE_MAX", dense_max)
        check(lambda m, x: m.nn.functional.interpolate(x, size=(5, 140), mode=mode, **kw),
              randn(1, 2, 3, 130))
        check(lambda m, x: m.nn.functional.interpolate(x, scale_factor=0.5, mode=mode, **kw),
              randn(2, 1, 6, 8), double=True)


def test_interpolate_non_finite_values_stay_local():
    # the GEMM path would smear 0 * inf = nan over a line: non-finite inputs take the taps
    x = randn(1, 1, 4, 5).astype(np.float32)
    x[0, 0, 1, 2] = np.inf
    x[0, 0, 3, 0] = np.nan
    for mode, kw in (("bilinear", dict(align_corners=False)), ("nearest", {})):
        ours = nr.nn.functional.interpolate(nr.from_numpy(x), size=(7, 9), mode=mode, **kw)
        theirs = torch.nn.functional.interpolate(torch.from_numpy(x), size=(7, 9), mode=mode,
                                                 **kw)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
