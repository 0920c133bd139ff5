"""stft / istft on the device equal the CPU (outputs and gradients, signal and window).

Complex spectra enter as real (..., 2) arrays and leave through view_as_real, so the
harness's real-valued comparison covers them; windows are inputs, so they live on the device.
"""
import warnings

import numpy as np
import pytest

import narae as nr
from test_gpu_ops import Case, randn, const, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu


def _c(x):
    return nr.complex(x[..., 0], x[..., 1])


def _r(y):
    return nr.view_as_real(y)


def _win(n, low=0.3):
    return np.abs(randn(n)) + low


CASES = [
    Case("stft", lambda x, w: _r(nr.stft(x, 8, 2, window=w, return_complex=True)),
         randn(2, 20), _win(8)),
    Case("stft_1d_no_window", lambda x: _r(nr.stft(x, 8, 3, return_complex=True)), randn(21)),
    Case("stft_win_length_norm", lambda x, w: _r(nr.stft(
        x, 8, 2, 6, w, pad_mode="constant", normalized=True, return_complex=True)),
        randn(2, 19), _win(6)),
    Case("stft_no_center_twosided", lambda x, w: nr.stft(
        x, 8, 3, window=w, center=False, onesided=False, return_complex=False),
        randn(2, 20), const(_win(8))),
    Case("stft_align", lambda x, w: _r(nr.stft(
        x, 8, 2, 4, w, center=False, align_to_window=True, return_complex=True)),
        randn(2, 17), _win(4)),
    Case("stft_replicate_circular", lambda x: _r(nr.stft(x, 6, 2, pad_mode="replicate",
                                                          return_complex=True)) +
         _r(nr.stft(x, 6, 2, pad_mode="circular", return_complex=True)), randn(2, 15)),
    Case("stft_complex", lambda x, w: _r(nr.stft(_c(x), 6, 2, window=w)), randn(2, 14, 2),
         _win(6)),
    Case("istft", lambda z, w: nr.istft(_c(z), 8, 2, window=w), randn(2, 5, 7, 2), _win(8)),
    Case("istft_no_window_length", lambda z: nr.istft(_c(z), 6, 2, length=20),
         randn(4, 8, 2)),
    Case("istft_no_center_norm", lambda z, w: nr.istft(
        _c(z), 8, 3, window=w, center=False, normalized=True, length=14),
        randn(2, 5, 4, 2), _win(8)),
    Case("istft_two_sided_complex", lambda z, w: _r(nr.istft(
        _c(z), 8, 2, window=w, return_complex=True)), randn(2, 8, 5, 2), _win(8)),
    Case("istft_win_length", lambda z, w: nr.istft(_c(z), 8, 2, 6, window=w),
         randn(5, 6, 2), const(_win(6))),
    Case("stft_istft_round_trip", lambda x, w: nr.istft(
        nr.stft(x, 8, 2, window=w, return_complex=True), 8, 2, window=w, length=18),
        randn(2, 18), _win(8)),
]

PAIRS = with_layouts(CASES)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no window given"
        yield


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)
