"""stft / istft: torch parity (forward and backward), float64 gradchecks, round trips, errors."""
import warnings

import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn, rand


@pytest.fixture(autouse=True)
def _quiet():
    # the "no window given" and "return_complex=False is deprecated" warnings (both libraries)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def _cx(m, x):
    """A complex tensor from a real (..., 2) one."""
    return m.complex(x[..., 0], x[..., 1])


# -- stft ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(hop_length=3),
    dict(hop_length=5, center=False),
    dict(pad_mode="constant", normalized=True),
    dict(pad_mode="replicate", onesided=False),
    dict(pad_mode="circular", hop_length=4),
    dict(win_length=5, hop_length=2),
    dict(win_length=6, center=False, hop_length=3),
    dict(win_length=6, center=False, align_to_window=True, hop_length=2),
    dict(win_length=6, center=False, align_to_window=False, hop_length=3),
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "defaults")
def test_stft_real_no_window(kwargs):
    check(lambda m, x: m.view_as_real(m.stft(x, 8, return_complex=True, **kwargs)),
          randn(3, 21), double=not kwargs or "align_to_window" in kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(hop_length=2),
    dict(hop_length=3, center=False, normalized=True),
    dict(win_length=6, hop_length=2, pad_mode="constant"),
    dict(win_length=4, hop_length=3, center=False, align_to_window=True, onesided=False),
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_stft_window_gradient(kwargs):
    """The gradient reaches the signal and the window."""
    wl = kwargs.get("win_length", 8)
    check(lambda m, x, w: m.view_as_real(m.stft(x, 8, window=w, return_complex=True, **kwargs)),
          randn(2, 19), rand(wl, low=0.1), double=True)


def test_stft_1d_odd_nfft():
    check(lambda m, x, w: m.view_as_real(m.stft(x, 7, 2, window=w, return_complex=True)),
          randn(16), rand(7))


def test_stft_return_real_layout():
    check(lambda m, x: m.stft(x, 6, 2, return_complex=False), randn(2, 13))
    check(lambda m, x: m.stft(x, 6, 2, return_complex=False, onesided=False, center=False),
          randn(13))


@pytest.mark.parametrize("kwargs", [
    dict(hop_length=2),
    dict(hop_length=3, center=False, normalized=True),
    dict(win_length=5, hop_length=2, pad_mode="reflect"),
    dict(hop_length=2, return_complex=False),
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_stft_complex_input(kwargs):
    def fn(m, x, w):
        y = m.stft(_cx(m, x), 6, window=w, **kwargs)
        return m.view_as_real(y) if y.is_complex() else y
    check(fn, randn(2, 14, 2), rand(kwargs.get("win_length", 6), low=0.1))


def test_stft_complex_window():
    def fn(m, x, w):
        return m.view_as_real(m.stft(x, 6, 2, window=_cx(m, w), return_complex=True))
    check(fn, randn(15), randn(6, 2))


def test_stft_dtype_promotion():
    """A float64 window makes a float32 signal's spectrum complex128, as in torch."""
    x32, w64 = randn(20).astype(np.float32), rand(8)
    ours = nr.stft(nr.from_numpy(x32), 8, window=nr.from_numpy(w64), return_complex=True)
    theirs = torch.stft(torch.from_numpy(x32), 8, window=torch.from_numpy(w64),
                        return_complex=True)
    assert ours.dtype == nr.complex128 and theirs.dtype == torch.complex128
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-5)


def test_stft_shapes_match_torch():
    for n_fft, hop, center, onesided, length in [(8, 2, True, None, 20), (9, 4, False, True, 30),
                                                 (16, 1, True, False, 16), (5, 5, False, None, 5)]:
        x = randn(2, length).astype(np.float32)
        kw = dict(center=center, onesided=onesided, return_complex=True)
        ours = nr.stft(nr.from_numpy(x), n_fft, hop, window=nr.hann_window(n_fft), **kw)
        theirs = torch.stft(torch.from_numpy(x), n_fft, hop, window=torch.hann_window(n_fft),
                            **kw)
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-4)


def test_stft_tensor_method_and_signature():
    import inspect
    def params(f, skip=0):
        return [(p.name, p.default, p.kind) for p in
                list(inspect.signature(f).parameters.values())[skip:]]
    assert params(nr.stft) == params(torch.stft)
    assert params(nr.stft, 1) == params(torch.Tensor.stft, 1)
    assert params(nr.istft, 1) == params(torch.Tensor.istft, 1)
    x = nr.randn(2, 32)
    np.testing.assert_allclose(x.stft(8, window=nr.hann_window(8), return_complex=True).numpy(),
                               nr.stft(x, 8, window=nr.hann_window(8),
                                       return_complex=True).numpy())
    X = x.stft(8, window=nr.hann_window(8), return_complex=True)
    np.testing.assert_allclose(X.istft(8, window=nr.hann_window(8)).numpy(), x.numpy(),
                               atol=1e-5)


def test_stft_warnings():
    x = nr.randn(16)
    with pytest.warns(UserWarning, match="window"):
        nr.stft(x, 4, return_complex=True)
    with pytest.warns(UserWarning, match="deprecated"):
        nr.stft(x, 4, window=nr.ones(4), return_complex=False)


@pytest.mark.parametrize("call, exc, match", [
    (lambda x: nr.stft(x, 8), RuntimeError, "return_complex"),
    (lambda x: nr.stft(nr.complex(x, x), 8, return_complex=True, onesided=True),
     RuntimeError, "onesided"),
    (lambda x: nr.stft(x, 8, window=nr.ones(7), return_complex=True), RuntimeError,
     r"win_length=8.*\(7,\)"),
    (lambda x: nr.stft(x, 8, win_length=6, window=nr.ones(7), return_complex=True),
     RuntimeError, "win_length=6"),
    (lambda x: nr.stft(x, 8, win_length=9, return_complex=True), RuntimeError,
     "0 < win_length <= n_fft"),
    (lambda x: nr.stft(x, 8, hop_length=0, return_complex=True), RuntimeError, "hop_length > 0"),
    (lambda x: nr.stft(x, 2, return_complex=True), RuntimeError, "hop_length > 0"),
    (lambda x: nr.stft(x, 0, return_complex=True), RuntimeError, "n_fft"),
    (lambda x: nr.stft(x, 30, center=False, return_complex=True), RuntimeError,
     r"n_fft <= 20.*\(20,\)"),
    (lambda x: nr.stft(x, 50, return_complex=True), RuntimeError, "pad"),
    (lambda x: nr.stft(x, 8, pad_mode="foo", return_complex=True), NotImplementedError, "foo"),
    (lambda x: nr.stft(x.reshape(2, 2, 5), 4, return_complex=True), RuntimeError,
     r"1D or 2D.*\(2, 2, 5\)"),
    (lambda x: nr.stft(x.to(nr.int64), 4, return_complex=True), RuntimeError,
     "floating point or complex"),
    (lambda x: nr.stft(x, 4, return_complex=True, align_to_window=True), RuntimeError,
     "align_to_window"),
    (lambda x: nr.stft(x, 8.0, return_complex=True), TypeError, "n_fft"),
    (lambda x: nr.stft(x, 4, window=[1, 1, 1, 1], return_complex=True), TypeError, "window"),
    (lambda x: nr.stft(x, 4, window=nr.ones(2, 2), return_complex=True), RuntimeError,
     "1D window"),
])
def test_stft_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(nr.randn(20))


def test_stft_error_types_match_torch():
    x = torch.randn(20)
    with pytest.raises(RuntimeError, match="return_complex"):
        torch.stft(x, 8)
    with pytest.raises(RuntimeError, match="onesided"):
        torch.stft(x.to(torch.complex64), 8, onesided=True)


# -- istft -----------------------------------------------------------------------------------
def _spec(n_fft, hop, frames, onesided=True, batch=(2,)):
    """A random complex (re, im) spectrum of stft's shape."""
    bins = n_fft // 2 + 1 if onesided else n_fft
    return randn(*batch, bins, frames, 2)


@pytest.mark.parametrize("kwargs, frames", [
    (dict(), 6),
    (dict(hop_length=3, normalized=True), 6),
    (dict(length=15), 6),
    (dict(length=25), 5),
    (dict(center=False, hop_length=4), 5),
    (dict(center=False, hop_length=2, length=12), 6),
    (dict(win_length=6, hop_length=2), 6),
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) if isinstance(k, dict) else str(k))
def test_istft_hann(kwargs, frames):
    hop = kwargs.get("hop_length", 2)
    wl = kwargs.get("win_length", 8)

    def fn(m, z):
        w = m.hann_window(wl, periodic=False) if not kwargs.get("center", True) and \
            wl == 8 else m.hann_window(wl)
        if not kwargs.get("center", True):  # no zero end samples: NOLA holds everywhere
            w = w + 0.1
        return m.istft(_cx(m, z), 8, window=w, **kwargs)
    check(fn, _spec(8, hop, frames), double=True)


def test_istft_window_gradient():
    check(lambda m, z, w: m.istft(_cx(m, z), 8, 2, window=w), _spec(8, 2, 6),
          rand(8, low=0.2), double=True)
    check(lambda m, z, w: m.istft(_cx(m, z), 8, 3, window=w, center=False, length=10),
          _spec(8, 3, 4, batch=()), rand(8, low=0.2))


def test_istft_no_window_and_unbatched():
    check(lambda m, z: m.istft(_cx(m, z), 6, 2), _spec(6, 2, 7, batch=()))


def test_istft_two_sided():
    w = rand(8, low=0.3)
    check(lambda m, z, w: m.istft(_cx(m, z), 8, 2, window=w), _spec(8, 2, 5, onesided=False),
          w)
    check(lambda m, z, w: m.view_as_real(m.istft(_cx(m, z), 8, 2, window=w,
                                                 return_complex=True)),
          _spec(8, 2, 5, onesided=False), w, double=True)
    check(lambda m, z, w: m.view_as_real(m.istft(_cx(m, z), 8, 2, window=_cx(m, w),
                                                 onesided=False, return_complex=True)),
          _spec(8, 2, 5, onesided=False), randn(8, 2) * 0.2 + np.array([1.0, 0.0]))


def test_istft_odd_nfft_normalized():
    check(lambda m, z, w: m.istft(_cx(m, z), 7, 2, window=w, normalized=True, length=14),
          _spec(7, 2, 8, batch=(1,)), rand(7, low=0.2))


@pytest.mark.parametrize("n_fft, hop, win, center, batch, length", [
    (16, 4, 16, True, (3,), 50),
    (15, 5, 15, True, (), 41),
    (8, 2, 6, True, (2,), 33),
    (12, 3, 12, False, (2,), 39),
])
def test_round_trip(n_fft, hop, win, center, batch, length):
    x = nr.from_numpy(randn(*batch, length))
    w = nr.hann_window(win, dtype=nr.float64)
    if not center:
        w = w + 0.5  # the outer samples are then covered by a non-zero window
    X = nr.stft(x, n_fft, hop, win, w, center=center, return_complex=True)
    y = nr.istft(X, n_fft, hop, win, w, center=center, length=length)
    assert y.dtype == nr.float64 and tuple(y.shape) == tuple(x.shape)
    np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-10)


def test_round_trip_complex_signal():
    z = nr.complex(nr.randn(2, 30, dtype=nr.float64), nr.randn(2, 30, dtype=nr.float64))
    w = nr.hann_window(10, dtype=nr.float64)
    X = nr.stft(z, 10, 3, window=w)
    assert X.dtype == nr.complex128 and X.shape[-2] == 10
    y = nr.istft(X, 10, 3, window=w, length=30, return_complex=True)
    np.testing.assert_allclose(y.numpy(), z.numpy(), atol=1e-10)


def test_istft_output_dtypes_match_torch():
    z = randn(5, 9, 2).astype(np.float32)
    for wdt, rc in [(np.float64, False), (np.float32, False)]:
        w = rand(8, low=0.5).astype(wdt)
        ours = nr.istft(_cx(nr, nr.from_numpy(z)), 8, 2, window=nr.from_numpy(w),
                        return_complex=rc)
        theirs = torch.istft(_cx(torch, torch.from_numpy(z)), 8, 2, window=torch.from_numpy(w),
                             return_complex=rc)
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)


def test_istft_length_warning():
    x = nr.randn(10)
    X = nr.stft(x, 4, 4, window=nr.ones(4), center=False, return_complex=True)  # 2 frames
    with pytest.warns(UserWarning, match="zero-padded"):
        y = nr.istft(X, 4, 4, window=nr.ones(4), length=11, center=False)
    assert tuple(y.shape) == (11,) and np.all(y.numpy()[8:] == 0)
    np.testing.assert_allclose(y.numpy()[:8], x.numpy()[:8], atol=1e-6)


def test_istft_nola_error():
    X = nr.stft(nr.randn(20), 8, window=nr.hann_window(8), return_complex=True)
    with pytest.raises(RuntimeError, match="window overlap add min"):
        nr.istft(X, 8, window=nr.hann_window(8), center=False)
    with pytest.raises(RuntimeError, match="NOLA"):
        nr.istft(X, 8, hop_length=8, window=nr.hann_window(8))
    with pytest.raises(RuntimeError, match="window overlap add min"):
        torch.istft(torch.stft(torch.randn(20), 8, window=torch.hann_window(8),
                               return_complex=True), 8, window=torch.hann_window(8),
                    center=False)


@pytest.mark.parametrize("call, exc, match", [
    (lambda X: nr.istft(nr.view_as_real(X), 8), RuntimeError, "complex-valued"),
    (lambda X: nr.istft(X, 8, window=nr.ones(8), return_complex=True), RuntimeError,
     "onesided"),
    (lambda X: nr.istft(X, 8, onesided=False), RuntimeError, r"match n_fft = 8.*got 5"),
    (lambda X: nr.istft(X, 10), RuntimeError, r"n_fft / 2 \+ 1 = 6.*got 5"),
    (lambda X: nr.istft(X, 8, window=nr.ones(6)), RuntimeError, r"win_length=8.*\(6,\)"),
    (lambda X: nr.istft(X, 8, win_length=9), RuntimeError, "0 < win_length <= n_fft"),
    (lambda X: nr.istft(X, 8, hop_length=9), RuntimeError, "0 < hop_length <= win_length"),
    (lambda X: nr.istft(X, 8, hop_length=0), RuntimeError, "0 < hop_length <= win_length"),
    (lambda X: nr.istft(X.reshape(1, 1, 5, 11), 8), RuntimeError, r"\(1, 1, 5, 11\)"),
    (lambda X: nr.istft(X[:, :0], 8), RuntimeError, "empty"),
    (lambda X: nr.istft(X, 8, window=nr.complex(nr.ones(8), nr.zeros(8))), RuntimeError,
     "omplex windows"),
    (lambda X: nr.istft(X, 8, length=-1), RuntimeError, "length"),
    (lambda X: nr.istft(X, 8, length=2.5), TypeError, "length"),
])
def test_istft_errors(call, exc, match):
    X = nr.stft(nr.randn(20), 8, window=nr.hann_window(8), return_complex=True)  # (5, 11)
    with pytest.raises(exc, match=match):
        call(X)


def test_istft_errors_match_torch():
    X = torch.stft(torch.randn(20), 8, window=torch.hann_window(8), return_complex=True)
    for kw, match in [(dict(onesided=False), "onesided=False"), (dict(hop_length=9), "hop"),
                      (dict(window=torch.hann_window(8), return_complex=True), "onesided")]:
        with pytest.raises(RuntimeError, match=match):
            torch.istft(X, 8, **kw)
