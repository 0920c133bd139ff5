"""The spatial ops (narae.ops.spatial) on the GPU equal the same ops on the CPU."""
import pytest

import narae.nn.functional as F
from test_gpu_ops import Case, randn, unit, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu


def _grid(*shape):
    """Grid coordinates mostly inside [-1, 1], a few outside (padding modes matter)."""
    return unit(*shape, low=-1.2, high=1.2)


CASES = [
    Case("unfold", lambda x: F.unfold(x, 2), randn(2, 3, 5, 6)),
    Case("unfold_geometry", lambda x: F.unfold(x, (2, 3), dilation=(1, 2), padding=1,
                                               stride=(2, 1)), randn(2, 3, 5, 6)),
    Case("unfold_unbatched", lambda x: F.unfold(x, 3, padding=1), randn(2, 4, 4)),
    Case("fold", lambda c: F.fold(c, (5, 6), 2), randn(2, 12, 20)),
    Case("fold_geometry", lambda c: F.fold(c, (5, 6), (2, 3), dilation=(1, 2), padding=1,
                                           stride=(2, 1)), randn(2, 18, 12)),
    Case("fold_unbatched", lambda c: F.fold(c, 4, 3, padding=1), randn(18, 16)),
    Case("pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), randn(2, 8, 3, 4)),
    Case("pixel_shuffle_lead_dims", lambda x: F.pixel_shuffle(x, 3), randn(2, 1, 9, 2, 2)),
    Case("pixel_unshuffle", lambda x: F.pixel_unshuffle(x, 2), randn(2, 2, 4, 6)),
    Case("channel_shuffle", lambda x: F.channel_shuffle(x, 3), randn(2, 6, 3, 4)),
    Case("native_channel_shuffle", lambda x: F.native_channel_shuffle(x, 2), randn(2, 4, 5)),
    Case("affine_grid_2d", lambda th: F.affine_grid(th, (2, 3, 4, 5), align_corners=False),
         randn(2, 2, 3)),
    Case("affine_grid_3d", lambda th: F.affine_grid(th, (1, 2, 3, 4, 2), align_corners=True),
         randn(1, 3, 4)),
]
for _mode in ("bilinear", "nearest", "bicubic"):
    for _pad in ("zeros", "border", "reflection"):
        for _align in (False, True):
            CASES.append(Case(
                f"grid_sample_{_mode}_{_pad}{'_align' if _align else ''}",
                lambda x, g, mode=_mode, pad=_pad, align=_align:
                    F.grid_sample(x, g, mode, pad, align),
                randn(2, 2, 4, 5), _grid(2, 3, 2, 2)))
for _mode in ("bilinear", "nearest"):
    for _pad in ("zeros", "border", "reflection"):
        CASES.append(Case(
            f"grid_sample_3d_{_mode}_{_pad}",
            lambda x, g, mode=_mode, pad=_pad: F.grid_sample(x, g, mode, pad, False),
            randn(1, 2, 3, 4, 3), _grid(1, 2, 2, 2, 3)))
CASES.append(Case("affine_grid_then_grid_sample",
                  lambda x, th: F.grid_sample(x, F.affine_grid(th, (2, 2, 3, 4), False),
                                              align_corners=False),
                  randn(2, 2, 5, 5), randn(2, 2, 3)))

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)
