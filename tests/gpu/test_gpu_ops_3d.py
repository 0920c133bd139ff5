"""3-D convolutions and pools, the *_with_indices pools, max_unpool3d and fractional max
pooling on the GPU equal the same ops on the CPU (the harness of test_gpu_ops.py).

3-D ops take the channels-last array path on every device (no kernels), so this table is
what checks that path for host/device mixing on CuPy.
"""
import numpy as np
import pytest

import narae.nn.functional as F
from test_gpu_ops import Case, randn, pos, const, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu

CONV_TOL = dict(atol=1e-4, rtol=1e-3)
U2 = np.random.default_rng(5).uniform(size=(2, 3, 2))
U3 = np.random.default_rng(6).uniform(size=(2, 2, 3))


def _max_unpool3d(x):
    y, idx = F.max_pool3d(x, 2, return_indices=True)
    return F.max_unpool3d(y, idx, 2), idx


CASES = [
    Case("conv3d", F.conv3d, randn(2, 3, 4, 5, 4), randn(4, 3, 3, 3, 3), randn(4), **CONV_TOL),
    Case("conv3d_stride_pad_dil",
         lambda x, w: F.conv3d(x, w, stride=(2, 1, 2), padding=(1, 2, 0), dilation=(1, 2, 1)),
         randn(1, 2, 5, 6, 5), randn(3, 2, 2, 3, 2), **CONV_TOL),
    Case("conv3d_groups", lambda x, w, b: F.conv3d(x, w, b, groups=2, padding=1),
         randn(2, 4, 3, 4, 4), randn(6, 2, 3, 3, 3), randn(6), **CONV_TOL),
    Case("conv3d_same", lambda x, w: F.conv3d(x, w, padding="same"), randn(1, 2, 4, 5, 4),
         randn(2, 2, 2, 3, 2), **CONV_TOL),
    Case("conv3d_1x1x1", F.conv3d, randn(2, 6, 3, 3, 3), randn(4, 6, 1, 1, 1), **CONV_TOL),
    Case("conv3d_unbatched", lambda x, w: F.conv3d(x, w, padding=1), randn(2, 3, 4, 3),
         randn(3, 2, 3, 3, 3), **CONV_TOL),
    Case("conv_transpose3d", F.conv_transpose3d, randn(2, 3, 3, 2, 3), randn(3, 2, 3, 3, 3),
         randn(2), **CONV_TOL),
    Case("conv_transpose3d_stride_outpad_groups",
         lambda x, w: F.conv_transpose3d(x, w, stride=2, padding=1, output_padding=1, groups=2),
         randn(1, 4, 2, 3, 2), randn(4, 1, 3, 3, 3), **CONV_TOL),
    Case("max_pool3d", lambda x: F.max_pool3d(x, 2), randn(2, 3, 4, 4, 6)),
    Case("max_pool3d_overlap_ceil",
         lambda x: F.max_pool3d(x, 3, stride=2, padding=1, dilation=(1, 1, 2), ceil_mode=True),
         randn(1, 2, 5, 6, 7)),
    Case("max_pool3d_indices", lambda x: F.max_pool3d(x, 2, return_indices=True),
         randn(1, 2, 4, 4, 4)),
    Case("max_pool_with_indices", lambda x: (F.max_pool1d_with_indices(x[:, :, 0, 0], 2),
                                             F.max_pool2d_with_indices(x[:, :, 0], 3, 1, 1),
                                             F.max_pool3d_with_indices(x, 2)),
         randn(2, 2, 4, 4, 6)),
    Case("max_unpool3d", _max_unpool3d, randn(2, 2, 4, 4, 4)),
    Case("avg_pool3d", lambda x: F.avg_pool3d(x, 2), randn(2, 3, 4, 4, 4)),
    Case("avg_pool3d_pad_exclude_ceil",
         lambda x: F.avg_pool3d(x, 3, stride=2, padding=1, ceil_mode=True,
                                count_include_pad=False), randn(1, 2, 5, 6, 5)),
    Case("avg_pool3d_divisor", lambda x: F.avg_pool3d(x, 2, stride=1, divisor_override=3),
         randn(1, 2, 3, 4, 3)),
    Case("lp_pool3d", lambda x: F.lp_pool3d(x, 2, 2), pos(1, 2, 4, 4, 4)),
    Case("adaptive_avg_pool3d", lambda x: F.adaptive_avg_pool3d(x, (2, 3, None)),
         randn(2, 2, 5, 7, 4)),
    Case("adaptive_max_pool3d", lambda x: F.adaptive_max_pool3d(x, (2, 3, 2), True),
         randn(2, 2, 5, 7, 4)),
    Case("adaptive_max_pool_with_indices",
         lambda x: (F.adaptive_max_pool1d_with_indices(x[:, :, 0, 0], 3),
                    F.adaptive_max_pool2d_with_indices(x[:, :, 0], (3, 2)),
                    F.adaptive_max_pool3d_with_indices(x, 2)), randn(2, 2, 4, 5, 6)),
    Case("fractional_max_pool2d",
         lambda x, u: F.fractional_max_pool2d(x, 2, output_size=(4, 5), return_indices=True,
                                              _random_samples=u), randn(2, 3, 8, 9), const(U2)),
    Case("fractional_max_pool3d",
         lambda x, u: F.fractional_max_pool3d(x, (2, 3, 2), output_ratio=0.5,
                                              _random_samples=u), randn(2, 2, 6, 8, 7),
         const(U3)),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


@pytest.mark.parametrize("name", ["conv3d_groups", "conv_transpose3d"])
def test_conv3d_in_device_batch_blocks(name, device, monkeypatch):
    """The device path walks the batch in memory-capped blocks too: one image per block."""
    from narae.ops import conv
    monkeypatch.setattr(conv, "_DEVICE_BLOCK_BYTES", 64)
    check_case(next(c for c in CASES if c.name == name), False, device)
