"""narae.fft on the device equals the CPU (outputs and gradients).

Complex data enters as a real (..., 2) array and leaves as (real, imag) stacked, so the
harness's real-valued comparison covers the complex transforms.
"""
import pytest

import narae as nr
from test_gpu_ops import Case, randn, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu

F = nr.fft


def _c(x):
    return x[..., 0] + 1j * x[..., 1]


def _r(y):
    return nr.stack((nr.real(y), nr.imag(y)), -1)


CASES = [
    Case("fft", lambda x: _r(F.fft(_c(x))), randn(3, 6, 2)),
    Case("fft_real_n_pad", lambda x: _r(F.fft(x, n=8, norm="ortho")), randn(3, 5)),
    Case("ifft_crop_dim0", lambda x: _r(F.ifft(_c(x), n=2, dim=0)), randn(3, 6, 2)),
    Case("ifft_real", lambda x: _r(F.ifft(x, norm="forward")), randn(3, 5)),
    Case("fft2", lambda x: _r(F.fft2(_c(x), s=(4, 3))), randn(2, 3, 4, 2)),
    Case("ifft2", lambda x: _r(F.ifft2(_c(x), norm="ortho")), randn(3, 4, 2)),
    Case("fftn_dims", lambda x: _r(F.fftn(_c(x), dim=(0, -1))), randn(2, 3, 4, 2)),
    Case("ifftn_real", lambda x: _r(F.ifftn(x, s=(5, -1))), randn(3, 4)),
    Case("rfft", lambda x: _r(F.rfft(x)), randn(3, 6)),
    Case("rfft_n_odd", lambda x: _r(F.rfft(x, n=7, dim=0, norm="forward")), randn(5, 3)),
    Case("irfft", lambda x: F.irfft(_c(x)), randn(3, 5, 2)),
    Case("irfft_n_odd", lambda x: F.irfft(_c(x), n=7, norm="ortho"), randn(3, 5, 2)),
    Case("rfft2", lambda x: _r(F.rfft2(x)), randn(2, 4, 6)),
    Case("irfft2", lambda x: F.irfft2(_c(x), s=(3, 6)), randn(2, 4, 4, 2)),
    Case("rfftn", lambda x: _r(F.rfftn(x, dim=(-1, 0), norm="ortho")), randn(2, 3, 4)),
    Case("irfftn", lambda x: F.irfftn(_c(x)), randn(2, 3, 4, 2)),
    Case("hfft", lambda x: F.hfft(_c(x), n=8), randn(3, 4, 2)),
    Case("ihfft", lambda x: _r(F.ihfft(x)), randn(3, 6)),
    Case("hfft2", lambda x: F.hfft2(_c(x), norm="forward"), randn(2, 3, 4, 2)),
    Case("ihfft2", lambda x: _r(F.ihfft2(x, s=(4, 5))), randn(2, 3, 4)),
    Case("hfftn", lambda x: F.hfftn(_c(x), s=(3, 5)), randn(2, 3, 4, 2)),
    Case("ihfftn", lambda x: _r(F.ihfftn(x, norm="ortho")), randn(2, 3, 4)),
    Case("fftshift", lambda x: F.fftshift(x), randn(3, 4, 5)),
    Case("ifftshift_dim", lambda x: F.ifftshift(x, dim=(0, -1)), randn(3, 4, 5)),
    Case("fftshift_complex", lambda x: _r(F.fftshift(_c(x), dim=1)), randn(3, 5, 2)),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


def test_fftfreq_on_device(device):
    """Frequencies made on the device equal the CPU's."""
    for name in ("fftfreq", "rfftfreq"):
        d = getattr(F, name)(7, 0.5, device=device)
        c = getattr(F, name)(7, 0.5)
        assert d.device.type != "cpu" or str(device) == "cpu"
        assert (d.cpu().numpy() == c.numpy()).all()
