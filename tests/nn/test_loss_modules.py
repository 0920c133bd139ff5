"""Loss modules against torch.nn: options, buffers (class weights), values and gradients."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nn
from nn_parity import check_layer, const

R = np.random.default_rng(3)


def randn(*shape):
    return R.standard_normal(shape).astype(np.float32)


def probs(*shape):
    return R.uniform(0.05, 0.95, shape).astype(np.float32)


def labels(high, *shape):
    return R.integers(0, high, shape).astype(np.int64)


def signs(*shape):
    return (R.integers(0, 2, shape) * 2 - 1).astype(np.float32)


W3 = np.array([0.2, 1.0, 2.5], np.float32)


def weight(m, w=W3):
    return m.tensor(w)


LOGP = np.log(probs(4, 3) / probs(4, 3).sum(1, keepdims=True)).astype(np.float32)

CASES = [
    ("MSELoss", "mse_loss", lambda m: m.nn.MSELoss(), [randn(4, 3), randn(4, 3)]),
    ("MSELoss-sum", "mse_loss", lambda m: m.nn.MSELoss(reduction="sum"),
     [randn(4, 3), const(randn(4, 3))]),
    ("MSELoss-legacy", "mse_loss", lambda m: m.nn.MSELoss(size_average=False),
     [randn(4, 3), const(randn(4, 3))]),
    ("L1Loss", "l1_loss", lambda m: m.nn.L1Loss(reduction="none"),
     [randn(4, 3), const(randn(4, 3))]),
    ("SmoothL1Loss", "smooth_l1_loss", lambda m: m.nn.SmoothL1Loss(beta=0.5),
     [randn(4, 3), const(randn(4, 3))]),
    ("HuberLoss", "huber_loss", lambda m: m.nn.HuberLoss(delta=0.7),
     [randn(4, 3), const(randn(4, 3))]),
    ("CrossEntropyLoss", "cross_entropy", lambda m: m.nn.CrossEntropyLoss(),
     [randn(5, 3), labels(3, 5)]),
    ("CrossEntropyLoss-opts", "cross_entropy",
     lambda m: m.nn.CrossEntropyLoss(weight=weight(m), ignore_index=1, label_smoothing=0.1),
     [randn(6, 3), labels(3, 6)]),
    ("CrossEntropyLoss-2d", "cross_entropy", lambda m: m.nn.CrossEntropyLoss(reduction="sum"),
     [randn(2, 3, 2, 2), labels(3, 2, 2, 2)]),
    ("CrossEntropyLoss-probs", "cross_entropy", lambda m: m.nn.CrossEntropyLoss(),
     [randn(4, 3), const(probs(4, 3))]),
    ("NLLLoss", "nll_loss", lambda m: m.nn.NLLLoss(weight=weight(m)), [LOGP, labels(3, 4)]),
    ("BCELoss", "binary_cross_entropy", lambda m: m.nn.BCELoss(),
     [probs(4, 3), const(probs(4, 3))]),
    ("BCELoss-weight", "binary_cross_entropy", lambda m: m.nn.BCELoss(weight=weight(m)),
     [probs(4, 3), const(probs(4, 3))]),
    ("BCEWithLogitsLoss", "binary_cross_entropy_with_logits",
     lambda m: m.nn.BCEWithLogitsLoss(pos_weight=weight(m)), [randn(4, 3), const(probs(4, 3))]),
    ("KLDivLoss", "kl_div", lambda m: m.nn.KLDivLoss(reduction="batchmean"),
     [LOGP, const(probs(4, 3))]),
    ("KLDivLoss-log", "kl_div", lambda m: m.nn.KLDivLoss(reduction="sum", log_target=True),
     [LOGP, const(LOGP[::-1].copy())]),
    ("HingeEmbeddingLoss", "hinge_embedding_loss",
     lambda m: m.nn.HingeEmbeddingLoss(margin=0.5), [randn(4, 3), const(signs(4, 3))]),
    ("MultiMarginLoss", "multi_margin_loss", lambda m: m.nn.MultiMarginLoss(),
     [randn(5, 3), labels(3, 5)]),
    ("MultiMarginLoss-p2", "multi_margin_loss",
     lambda m: m.nn.MultiMarginLoss(p=2, margin=0.5, weight=weight(m)),
     [randn(5, 3), labels(3, 5)]),
    ("SoftMarginLoss", "soft_margin_loss", lambda m: m.nn.SoftMarginLoss(),
     [randn(4, 3), const(signs(4, 3))]),
    ("MarginRankingLoss", "margin_ranking_loss", lambda m: m.nn.MarginRankingLoss(0.2),
     [randn(5), randn(5), const(signs(5))]),
    ("CosineEmbeddingLoss", "cosine_embedding_loss", lambda m: m.nn.CosineEmbeddingLoss(0.1),
     [randn(4, 3), randn(4, 3), const(signs(4))]),
    ("TripletMarginLoss", "triplet_margin_loss", lambda m: m.nn.TripletMarginLoss(margin=2.0),
     [randn(4, 3), randn(4, 3), randn(4, 3)]),
    ("PoissonNLLLoss", "poisson_nll_loss", lambda m: m.nn.PoissonNLLLoss(),
     [randn(4, 3), const(probs(4, 3) * 4)]),
    ("MultiLabelSoftMarginLoss", "multilabel_soft_margin_loss",
     lambda m: m.nn.MultiLabelSoftMarginLoss(weight=weight(m)),
     [randn(4, 3), const((probs(4, 3) > 0.5).astype(np.float32))]),
    ("MultiLabelMarginLoss", "multilabel_margin_loss", lambda m: m.nn.MultiLabelMarginLoss(),
     [randn(2, 4), np.array([[3, 0, -1, 1], [1, 2, 3, -1]])]),
    ("GaussianNLLLoss", "gaussian_nll_loss", lambda m: m.nn.GaussianNLLLoss(),
     [randn(4, 3), const(randn(4, 3)), probs(4, 3)]),
]


@pytest.mark.filterwarnings("ignore:size_average and reduce")
@pytest.mark.parametrize("name,fname,make,inputs", CASES, ids=[c[0] for c in CASES])
def test_loss_matches_torch(name, fname, make, inputs):
    if not hasattr(nn.functional, fname):
        pytest.skip(f"narae.nn.functional lacks {fname}")
    check_layer(make, *inputs, atol=1e-5, rtol=1e-4)


def test_class_weight_is_a_buffer():
    w = nr.tensor(W3)
    loss = nn.CrossEntropyLoss(weight=w)
    assert list(loss.state_dict()) == list(torch.nn.CrossEntropyLoss(
        weight=torch.tensor(W3)).state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    loss.double()
    assert loss.weight.dtype == nr.float64


@pytest.mark.filterwarnings("ignore:size_average and reduce")
def test_legacy_reduction_flags():
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.MSELoss(reduce=False).reduction == "none"
    assert nn.L1Loss(size_average=True, reduce=True).reduction == "mean"


def test_multi_margin_rejects_p3():
    with pytest.raises(ValueError):
        nn.MultiMarginLoss(p=3)
