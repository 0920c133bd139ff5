"""Distance, EmbeddingBag, normalization, adaptive-softmax and loss modules against torch.nn;
the in-place activations, gumbel_softmax and triplet_margin_with_distance_loss functionals;
nn.Buffer and the Uninitialized tensors."""
import copy
import pickle

import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nn
import narae.nn.functional as F
from helpers import check, randn
from nn_parity import check_layer

R = np.random.default_rng(11)


def data(*shape):
    return R.standard_normal(shape).astype(np.float32)


def ints(high, *shape):
    return R.integers(0, high, shape).astype(np.int64)


# --- layers against torch.nn -------------------------------------------------------------------
def _cos_dist(m):
    return lambda a, b: 1.0 - m.nn.functional.cosine_similarity(a, b)


LAYERS = [
    ("CosineSimilarity", lambda m: m.nn.CosineSimilarity(), [data(3, 4, 2), data(3, 4, 2)]),
    ("CosineSimilarity-dim", lambda m: m.nn.CosineSimilarity(dim=-1, eps=1e-3),
     [data(3, 4), data(1, 4)]),
    ("PairwiseDistance", lambda m: m.nn.PairwiseDistance(), [data(4, 3), data(4, 3)]),
    ("PairwiseDistance-p1", lambda m: m.nn.PairwiseDistance(p=1.0, eps=1e-3, keepdim=True),
     [data(4, 3), data(4, 3)]),
    ("EmbeddingBag-2d-mean", lambda m: m.nn.EmbeddingBag(7, 3), [ints(7, 4, 3)]),
    ("EmbeddingBag-offsets-sum", lambda m: m.nn.EmbeddingBag(7, 3, mode="sum"),
     [ints(7, 6), np.array([0, 2, 2, 5])]),
    ("EmbeddingBag-psw", lambda m: m.nn.EmbeddingBag(7, 3, mode="sum"),
     [ints(7, 6), np.array([0, 3]), data(6)]),
    ("EmbeddingBag-max", lambda m: m.nn.EmbeddingBag(7, 3, mode="max"), [ints(7, 3, 4)]),
    ("EmbeddingBag-last-offset",
     lambda m: m.nn.EmbeddingBag(7, 3, include_last_offset=True, padding_idx=2),
     [np.array([1, 2, 3, 2, 6, 0]), np.array([0, 2, 4, 6])]),
    ("EmbeddingBag-max-norm", lambda m: m.nn.EmbeddingBag(7, 3, max_norm=1.0, norm_type=1.5),
     [ints(7, 2, 3)]),
    ("LocalResponseNorm", lambda m: m.nn.LocalResponseNorm(3, alpha=0.1, beta=0.6, k=2.0),
     [data(2, 5, 3, 3)]),
    ("LocalResponseNorm-even", lambda m: m.nn.LocalResponseNorm(2), [data(2, 4, 5)]),
    ("InstanceNorm3d", lambda m: m.nn.InstanceNorm3d(3), [data(2, 3, 2, 3, 2)]),
    ("InstanceNorm3d-affine", lambda m: m.nn.InstanceNorm3d(3, affine=True,
                                                           track_running_stats=True),
     [data(2, 3, 2, 3, 2)]),
    ("InstanceNorm3d-unbatched", lambda m: m.nn.InstanceNorm3d(2, affine=True),
     [data(2, 2, 3, 2)]),
    ("SyncBatchNorm-3d", lambda m: m.nn.SyncBatchNorm(3), [data(4, 3, 5)]),
    ("SyncBatchNorm-2d", lambda m: m.nn.SyncBatchNorm(3, momentum=None, affine=False),
     [data(6, 3)]),
    ("SyncBatchNorm-4d", lambda m: m.nn.SyncBatchNorm(2, eps=1e-3), [data(2, 2, 3, 3)]),
    ("CTCLoss", lambda m: m.nn.CTCLoss(),
     [np.log(R.dirichlet(np.ones(5), (8, 2))).astype(np.float32),
      np.array([[1, 2, 2], [3, 1, 0]]), np.array([8, 6]), np.array([3, 2])]),
    ("CTCLoss-opts", lambda m: m.nn.CTCLoss(blank=4, reduction="none", zero_infinity=True),
     [np.log(R.dirichlet(np.ones(5), (4, 3))).astype(np.float32),
      np.array([1, 0, 0, 0, 2, 3, 1, 2]), (4, 4, 3), (2, 3, 3)]),
    ("TripletMarginWithDistanceLoss", lambda m: m.nn.TripletMarginWithDistanceLoss(),
     [data(4, 3), data(4, 3), data(4, 3)]),
    ("TripletMarginWithDistanceLoss-cos",
     lambda m: m.nn.TripletMarginWithDistanceLoss(distance_function=_cos_dist(m), margin=0.5,
                                                  swap=True, reduction="none"),
     [data(5, 3), data(5, 3), data(5, 3)]),
    ("TripletMarginWithDistanceLoss-module",
     lambda m: m.nn.TripletMarginWithDistanceLoss(distance_function=m.nn.PairwiseDistance(p=1),
                                                  reduction="sum"),
     [data(5, 3), data(5, 3), data(5, 3)]),
    ("AdaptiveLogSoftmaxWithLoss",
     lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0),
     [data(6, 8), np.array([0, 9, 4, 2, 7, 5])]),
    ("AdaptiveLogSoftmaxWithLoss-head-bias",
     lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(6, 12, [2, 5, 9], head_bias=True),
     [data(5, 6), np.array([1, 1, 0, 11, 3])]),
    ("AdaptiveLogSoftmaxWithLoss-unbatched",
     lambda m: m.nn.AdaptiveLogSoftmaxWithLoss(6, 8, [4]), [data(6), np.array(6)]),
    ("NLLLoss2d", lambda m: m.nn.NLLLoss2d(ignore_index=1),
     [np.log(R.dirichlet(np.ones(3), (2, 2, 2))).transpose(0, 3, 1, 2).astype(np.float32).copy(),
      ints(3, 2, 2, 2)]),
]


@pytest.mark.filterwarnings("ignore:Initializing zero-element")
@pytest.mark.parametrize("name,make,inputs", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(name, make, inputs):
    check_layer(make, *inputs, steps=2 if "Norm" in name else 1)


def test_layers_eval_mode():
    check_layer(lambda m: m.nn.SyncBatchNorm(3), data(4, 3, 2), train=False)
    check_layer(lambda m: m.nn.InstanceNorm3d(2, track_running_stats=True), data(2, 2, 2, 2, 3),
                train=False)


def test_embedding_bag_from_pretrained():
    w = data(5, 3)
    idx = np.array([[0, 4], [2, 2]])
    ours = nn.EmbeddingBag.from_pretrained(nr.from_numpy(w), mode="sum")
    theirs = torch.nn.EmbeddingBag.from_pretrained(torch.from_numpy(w), mode="sum")
    assert not ours.weight.requires_grad
    np.testing.assert_allclose(ours(nr.from_numpy(idx)).numpy(),
                               theirs(torch.from_numpy(idx)).numpy(), rtol=1e-6)
    assert nn.EmbeddingBag.from_pretrained(nr.from_numpy(w), freeze=False).weight.requires_grad
    assert repr(nn.EmbeddingBag(5, 3, max_norm=1.0, mode="sum", padding_idx=-1)) == \
        "EmbeddingBag(5, 3, max_norm=1.0, mode='sum', padding_idx=4)"
    with pytest.raises(AssertionError):
        nn.EmbeddingBag(5, 3, padding_idx=5)


def test_cross_map_lrn2d_forward_and_gradcheck():
    x = data(2, 7, 3, 2)
    for size in (1, 2, 3, 4, 5, 9):
        ours = nn.CrossMapLRN2d(size, alpha=0.5, beta=0.8, k=2)(nr.from_numpy(x))
        theirs = torch.nn.CrossMapLRN2d(size, alpha=0.5, beta=0.8, k=2)(torch.from_numpy(x))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    xs = nr.from_numpy(R.standard_normal((1, 5, 2, 2))).requires_grad_()
    nr.autograd.gradcheck(lambda a: nn.CrossMapLRN2d(3, alpha=0.3, beta=0.7)(a), [xs])
    assert repr(nn.CrossMapLRN2d(3)) == repr(torch.nn.CrossMapLRN2d(3))
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        nn.CrossMapLRN2d(3)(nr.zeros(2, 3, 4))


def test_convert_sync_batchnorm():
    def build(m):
        return m.nn.Sequential(m.nn.Conv2d(2, 3, 1), m.nn.BatchNorm2d(3),
                               m.nn.Sequential(m.nn.BatchNorm1d(4, affine=False)))
    ours = build(nr)
    bn_weight = ours[1].weight
    ours.eval()
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(ours)
    theirs = torch.nn.SyncBatchNorm.convert_sync_batchnorm(build(torch))
    assert [type(m).__name__ for m in conv.modules()] == \
        [type(m).__name__ for m in theirs.modules()]
    assert conv[1].weight is bn_weight and not conv[1].training
    assert list(conv.state_dict()) == list(theirs.state_dict())
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(3))
    assert type(single) is nn.SyncBatchNorm
    with pytest.raises(ValueError, match="at least 2D"):
        nn.SyncBatchNorm(3)(nr.zeros(3))


def test_adaptive_log_softmax_log_prob_and_predict():
    torch.manual_seed(0)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(6, 12, [2, 5, 9], div_value=2.0)
    ours = nn.AdaptiveLogSoftmaxWithLoss(6, 12, [2, 5, 9], div_value=2.0)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = data(40, 6) * 3
    lp_o = ours.log_prob(nr.from_numpy(x)).detach()
    lp_t = theirs.log_prob(torch.from_numpy(x))
    np.testing.assert_allclose(lp_o.numpy(), lp_t.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.exp(lp_o.numpy()).sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(ours.predict(nr.from_numpy(x)).numpy(),
                                  theirs.predict(torch.from_numpy(x)).numpy())
    one = ours.log_prob(nr.from_numpy(x[0])).detach()
    assert one.shape == (12,)
    out = ours(nr.from_numpy(x[:3]), nr.tensor([0, 11, 6]))
    assert out._fields == ("output", "loss") and out.output.shape == (3,)
    np.testing.assert_allclose(out.output.detach().numpy(), lp_o.numpy()[[0, 1, 2], [0, 11, 6]],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make,x,t,match", [
    (lambda: nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2]), (3, 4), [0, 6, 1], "Target values"),
    (lambda: nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2]), (3, 4), [0, 1], "batch dimension"),
    (lambda: nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2]), (3, 4, 1), [0, 1, 1], "2D input"),
    (lambda: nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2]), (3, 4), [[0, 1, 1]], "multi-target"),
])
def test_adaptive_log_softmax_errors(make, x, t, match):
    with pytest.raises(RuntimeError, match=match):
        make()(nr.zeros(*x), nr.tensor(t))


@pytest.mark.parametrize("cutoffs", [[], [3, 2], [0, 2], [2, 6], [2, 2]])
def test_adaptive_log_softmax_bad_cutoffs(cutoffs):
    with pytest.raises(ValueError):
        nn.AdaptiveLogSoftmaxWithLoss(4, 6, cutoffs)
    with pytest.raises(ValueError):
        torch.nn.AdaptiveLogSoftmaxWithLoss(4, 6, cutoffs)


# --- functionals ------------------------------------------------------------------------------
INPLACE = [
    ("relu_", lambda f, x: f.relu_(x)),
    ("elu_", lambda f, x: f.elu_(x, 0.7)),
    ("leaky_relu_", lambda f, x: f.leaky_relu_(x, 0.2)),
    ("hardtanh_", lambda f, x: f.hardtanh_(x, -0.5, 0.8)),
    ("threshold_", lambda f, x: f.threshold_(x, 0.1, -2.0)),
    ("rrelu_", lambda f, x: f.rrelu_(x, 0.1, 0.3)),
    ("selu_", lambda f, x: f.selu_(x)),
    ("celu_", lambda f, x: f.celu_(x, 1.5)),
]


@pytest.mark.parametrize("name,fn", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_activation(name, fn):
    def expr(m, x):
        y = x * 1.0  # (in place on a non-leaf, as torch requires for a leaf needing grad)
        out = fn(m.nn.functional, y)
        assert out is y
        return y
    # (the piecewise-linear ones have a zero second derivative that torch returns as zeros
    # and narae as None: double backward is checked on the smooth ones)
    check(expr, randn(3, 4), double=name in ("elu_", "selu_", "celu_"))


def test_inplace_activation_on_leaf_without_grad():
    x = nr.tensor([-1.0, 2.0])
    F.relu_(x)
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0])
    with pytest.raises(RuntimeError):
        F.elu_(nr.tensor([1.0], requires_grad=True))


def test_rrelu_inplace_training_slopes():
    x = nr.from_numpy(-np.abs(data(1000)) - 0.1)
    before = x.numpy().copy()
    out = F.rrelu_(x, 0.1, 0.3, training=True)
    assert out is x
    slope = x.numpy() / before
    assert slope.min() >= 0.1 - 1e-6 and slope.max() <= 0.3 + 1e-6 and slope.std() > 0.03


def test_gumbel_softmax_fixed_noise(monkeypatch):
    """With the noise fixed, the soft and the straight-through samples and their gradients
    equal torch's formula."""
    from narae.ops import activation
    g = R.gumbel(size=(4, 5))
    monkeypatch.setattr(activation, "_gumbel_noise", lambda logits: nr.from_numpy(
        g.astype(logits._data.dtype)))

    def torch_gumbel(x, tau, hard, dim):
        y = torch.softmax((x + torch.from_numpy(g).to(x.dtype)) / tau, dim)
        if not hard:
            return y
        one = torch.zeros_like(y).scatter_(dim, y.argmax(dim, keepdim=True), 1.0)
        return one - y.detach() + y

    for tau, hard, dim in [(1, False, -1), (0.5, False, 0), (2.0, True, -1), (0.7, True, 0)]:
        # (the hard sample is piecewise constant: finite differences cannot see the
        # straight-through gradient, so it is checked against torch only)
        check(lambda m, x: m.nn.functional.gumbel_softmax(x, tau=tau, hard=hard, dim=dim)
              if m is nr else torch_gumbel(x, tau, hard, dim), randn(4, 5), double=not hard,
              gradcheck=not hard)


def test_gumbel_softmax_statistics():
    logits = nr.tensor(np.log([0.1, 0.2, 0.3, 0.4]), dtype=nr.float32)
    big = logits.reshape(1, 4).expand(20000, 4)
    hard = F.gumbel_softmax(big, tau=0.3, hard=True).numpy()
    assert set(np.unique(hard)) <= {0.0, 1.0} and np.all(hard.sum(1) == 1)
    np.testing.assert_allclose(hard.mean(0), [0.1, 0.2, 0.3, 0.4], atol=0.015)
    soft = F.gumbel_softmax(big, tau=1.0).numpy()
    np.testing.assert_allclose(soft.sum(1), 1, rtol=1e-5)
    assert F.gumbel_softmax(nr.zeros(3, 2, 4), dim=1).shape == (3, 2, 4)


def test_gumbel_softmax_hard_gradient_is_the_soft_one(monkeypatch):
    from narae.ops import activation
    noise = nr.from_numpy(data(3, 4))
    monkeypatch.setattr(activation, "_gumbel_noise", lambda logits: noise)
    x1 = nr.from_numpy(data(3, 4)).requires_grad_()
    x2 = nr.from_numpy(x1.detach().numpy().copy()).requires_grad_()
    w = nr.from_numpy(data(3, 4))
    (F.gumbel_softmax(x1, tau=0.5, hard=True) * w).sum().backward()
    (F.gumbel_softmax(x2, tau=0.5) * w).sum().backward()
    np.testing.assert_allclose(x1.grad.numpy(), x2.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("swap,reduction", [(False, "mean"), (True, "sum"), (True, "none")])
def test_triplet_margin_with_distance_loss(swap, reduction):
    check(lambda m, a, p, n: m.nn.functional.triplet_margin_with_distance_loss(
        a, p, n, swap=swap, reduction=reduction, margin=1.5), randn(4, 3), randn(4, 3),
        randn(4, 3))
    check(lambda m, a, p, n: m.nn.functional.triplet_margin_with_distance_loss(
        a, p, n, distance_function=lambda u, v: (u - v).abs().sum(-1), swap=swap,
        reduction=reduction), randn(5), randn(5), randn(5))


def test_triplet_margin_with_distance_loss_errors():
    a = nr.zeros(3, 2)
    with pytest.raises(RuntimeError, match=r"anchor 2D, positive 2D, and negative 1D"):
        F.triplet_margin_with_distance_loss(a, a, nr.zeros(2))
    with pytest.raises(ValueError, match="margin"):
        F.triplet_margin_with_distance_loss(a, a, a, margin=0)
    with pytest.raises(ValueError, match="reduction"):
        F.triplet_margin_with_distance_loss(a, a, a, reduction="avg")
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginWithDistanceLoss(margin=-1.0)
    with pytest.raises(TypeError):
        F.triplet_margin_with_distance_loss(a, a, a, None)  # distance_function is keyword-only


# --- Buffer and the uninitialized tensors -----------------------------------------------------
def test_buffer_tensor():
    b = nn.Buffer(nr.ones(2), persistent=False)
    assert isinstance(b, nr.Tensor) and isinstance(b, nn.Buffer) and not b.persistent
    assert nn.Buffer().shape == (0,) and nn.Buffer().persistent
    g = nn.Buffer(nr.ones(2, requires_grad=True))
    assert g.requires_grad
    c = copy.deepcopy(b)
    assert isinstance(c, nn.Buffer) and not c.persistent and c._data is not b._data
    p = pickle.loads(pickle.dumps(b))
    assert isinstance(p, nn.Buffer) and not p.persistent


def test_buffer_assignment_registers_a_buffer():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = nn.Buffer(nr.ones(2))
            self.c = nn.Buffer(nr.zeros(1), persistent=False)

    m = M()
    assert list(m.state_dict()) == ["b"]
    assert [n for n, _ in m.named_buffers()] == ["b", "c"]
    m.double()
    assert m.c.dtype == nr.float64


def test_uninitialized_parameter_and_buffer():
    p = nn.UninitializedParameter(dtype=nr.float64)
    assert repr(p) == "<UninitializedParameter>" and p.requires_grad
    assert isinstance(p, nn.Parameter)
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        p.shape
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and p.shape == (2, 3) and p.dtype == nr.float64
    b = nn.UninitializedBuffer(persistent=False)
    assert repr(b) == "<UninitializedBuffer>" and not b.requires_grad
    b.materialize(4)
    assert isinstance(b, nn.Buffer) and b.shape == (4,) and not b.persistent
    q = copy.deepcopy(nn.UninitializedParameter(requires_grad=False))
    assert type(q) is nn.UninitializedParameter and not q.requires_grad
    r = pickle.loads(pickle.dumps(nn.UninitializedBuffer()))
    assert type(r) is nn.UninitializedBuffer


def test_nn_exports():
    for name in ["Buffer", "UninitializedParameter", "UninitializedBuffer", "EmbeddingBag",
                 "CTCLoss", "AdaptiveLogSoftmaxWithLoss", "TripletMarginWithDistanceLoss",
                 "LocalResponseNorm", "CrossMapLRN2d", "SyncBatchNorm", "InstanceNorm3d",
                 "CosineSimilarity", "PairwiseDistance", "ZeroPad3d", "CircularPad3d",
                 "NLLLoss2d", "LazyConv3d", "LazyBatchNorm3d", "LazyInstanceNorm3d"]:
        assert hasattr(nn, name), name
    for name in ["relu_", "elu_", "leaky_relu_", "hardtanh_", "threshold_", "rrelu_", "selu_",
                 "celu_", "gumbel_softmax", "ctc_loss", "triplet_margin_with_distance_loss"]:
        assert hasattr(F, name), name
