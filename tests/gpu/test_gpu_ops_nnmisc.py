"""The padding modes, CTC loss, the in-place activations and the misc nn modules on the GPU
equal the CPU (table of test_gpu_ops.py), plus lazy modules materializing on the device."""
import numpy as np
import pytest

import narae as nr
import narae.nn as nn
import narae.nn.functional as F
from test_gpu_ops import Case, randn, pos, ints, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu


def _inplace(fn):
    def run(x):
        y = x * 1.0
        fn(y)
        return y
    return run


def _seeded(make):
    """A module built with the same weights on every device (made on the CPU, then moved)."""
    def build(device):
        nr.manual_seed(0)
        return make().to(device)
    return build


_ASM = _seeded(lambda: nn.AdaptiveLogSoftmaxWithLoss(6, 10, [3, 7], div_value=2.0))
_BAG = _seeded(lambda: nn.EmbeddingBag(7, 3, mode="sum"))

CTC_TARGETS = np.array([[1, 2, 2], [3, 1, 0]])

CASES = [
    Case("pad_reflect_1d", lambda x: F.pad(x, (2, 1), mode="reflect"), randn(2, 3, 4)),
    Case("pad_reflect_3d", lambda x: F.pad(x, (1, 0, 2, 1, 1, 1), mode="reflect"),
         randn(1, 2, 3, 3, 4)),
    Case("pad_replicate_2d", lambda x: F.pad(x, (3, 0, 1, 2), mode="replicate"),
         randn(1, 2, 3, 2)),
    Case("pad_replicate_3d", lambda x: F.pad(x, (2, 2, 1, 0, 0, 1), mode="replicate"),
         randn(2, 2, 2, 3)),
    Case("pad_circular_2d", lambda x: F.pad(x, (1, 2, 3, 0), mode="circular"),
         randn(1, 2, 3, 4)),
    Case("pad_circular_negative", lambda x: F.pad(x, (-1, 2), mode="circular"), randn(2, 3, 4)),
    Case("ReflectionPad2d", lambda x: nn.ReflectionPad2d(1)(x), randn(2, 3, 4)),
    Case("CircularPad3d", lambda x: nn.CircularPad3d(1)(x), randn(1, 1, 2, 3, 3)),
    Case("ConstantPad3d", lambda x: nn.ConstantPad3d((1, 0, 0, 1, 2, 0), 0.5)(x),
         randn(2, 2, 2, 3)),
    Case("CosineSimilarity", lambda a, b: nn.CosineSimilarity(dim=-1)(a, b), randn(3, 4),
         randn(3, 4)),
    Case("PairwiseDistance", lambda a, b: nn.PairwiseDistance(p=1.0, keepdim=True)(a, b),
         randn(4, 3), randn(4, 3)),
    Case("CrossMapLRN2d", lambda x: nn.CrossMapLRN2d(3, alpha=0.5, beta=0.7, k=2)(x),
         randn(2, 5, 3, 3)),
    Case("LocalResponseNorm", lambda x: nn.LocalResponseNorm(2)(x), randn(2, 4, 5)),
    Case("InstanceNorm3d", lambda x: nn.InstanceNorm3d(2).to(x.device)(x), randn(2, 2, 2, 3, 2)),
    Case("SyncBatchNorm", lambda x: nn.SyncBatchNorm(3).to(x.device)(x), randn(4, 3, 5)),
    Case("relu_", _inplace(F.relu_), randn(3, 4)),
    Case("elu_", _inplace(lambda y: F.elu_(y, 0.7)), randn(3, 4)),
    Case("leaky_relu_", _inplace(lambda y: F.leaky_relu_(y, 0.2)), randn(3, 4)),
    Case("hardtanh_", _inplace(lambda y: F.hardtanh_(y, -0.5, 0.8)), randn(3, 4)),
    Case("threshold_", _inplace(lambda y: F.threshold_(y, 0.1, -2.0)), randn(3, 4)),
    Case("rrelu_eval", _inplace(lambda y: F.rrelu_(y)), randn(3, 4)),
    Case("selu_", _inplace(F.selu_), randn(3, 4)),
    Case("celu_", _inplace(lambda y: F.celu_(y, 1.5)), randn(3, 4)),
    Case("ctc_loss_mean", lambda x, t: F.ctc_loss(x.log_softmax(2), t, [8, 6], [3, 2]),
         randn(8, 2, 5), CTC_TARGETS),
    Case("ctc_loss_none_blank", lambda x, t: F.ctc_loss(x.log_softmax(2), t, (7, 7), (3, 2),
                                                        blank=4, reduction="none"),
         randn(7, 2, 5), np.array([[1, 2, 2], [3, 1, 0]])),
    Case("ctc_loss_concat", lambda x, t: F.ctc_loss(x.log_softmax(2), t, [6, 5], [2, 3],
                                                    reduction="sum", zero_infinity=True),
         randn(6, 2, 4), np.array([1, 1, 2, 3, 2])),
    Case("ctc_loss_raw", lambda x, t: F.ctc_loss(x, t, [6, 6], [3, 2]), -pos(6, 2, 4),
         np.array([[1, 2, 1], [3, 3, 0]])),
    Case("triplet_with_distance", lambda a, p, n: F.triplet_margin_with_distance_loss(
        a, p, n, swap=True), randn(4, 3), randn(4, 3), randn(4, 3)),
    Case("TripletMarginWithDistanceLoss", lambda a, p, n: nn.TripletMarginWithDistanceLoss(
        distance_function=lambda u, v: 1 - F.cosine_similarity(u, v), reduction="none")(a, p, n),
         randn(4, 3), randn(4, 3), randn(4, 3)),
    Case("AdaptiveLogSoftmaxWithLoss", lambda x, t: tuple(_ASM(x.device)(x, t)), randn(6, 6),
         np.array([0, 9, 4, 2, 7, 5])),
    Case("AdaptiveLogSoftmax_log_prob", lambda x: _ASM(x.device).log_prob(x), randn(5, 6)),
    Case("AdaptiveLogSoftmax_predict", lambda x: _ASM(x.device).predict(x * 3), randn(9, 6),
         grad=False),
    Case("EmbeddingBag", lambda i, o: _BAG(i.device)(i, o), ints(7, 6), np.array([0, 2, 5])),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


@pytest.mark.parametrize("make,shape", [(lambda: nn.LazyLinear(3), (2, 5)),
                                        (lambda: nn.LazyConv2d(2, 3), (1, 3, 5, 5)),
                                        (lambda: nn.LazyBatchNorm1d(), (4, 3))])
def test_lazy_module_materializes_on_the_device(make, shape, device):
    m = make().to(device)
    x = nr.randn(*shape).to(device)
    y = m(x)
    assert not isinstance(m, nn.LazyModuleMixin)
    for p in m.parameters():
        assert p.device == nr.backend.as_device(device)
    assert y.device == nr.backend.as_device(device)


def test_gumbel_softmax_on_the_device(device):
    logits = nr.randn(64, 5).to(device).requires_grad_()
    soft = F.gumbel_softmax(logits, tau=0.5)
    hard = F.gumbel_softmax(logits, hard=True, dim=0)
    assert soft.device == hard.device == nr.backend.as_device(device)
    np.testing.assert_allclose(soft.detach().cpu().numpy().sum(1), 1, rtol=1e-5)
    h = hard.detach().cpu().numpy()
    assert set(np.unique(h)) <= {0.0, 1.0} and np.all(h.sum(0) == 1)
    (hard * nr.randn(64, 5).to(device)).sum().backward()
    assert logits.grad.device == nr.backend.as_device(device)
