"""narae.nn.utils.prune against torch.nn.utils.prune: masks, pruned tensors, stacking,
global pruning, removal, state_dict keys, gradients and errors."""
import math

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

import narae as nr
from narae.nn.utils import prune
from helpers import check, randn


def _np(t):
    return np.asarray(t.detach()._data) if isinstance(t, nr.Tensor) else t.detach().numpy()


def _copy_params(ours, theirs):
    """Give the torch module the narae module's values, parameter by parameter."""
    with torch.no_grad():
        for (n1, p1), (n2, p2) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert n1 == n2
            p2.copy_(torch.from_numpy(_np(p1).copy()))


def _twins(kind):
    if kind == "linear":
        ours, theirs = nr.nn.Linear(7, 5), torch.nn.Linear(7, 5)
    elif kind == "conv":
        ours, theirs = nr.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3)
    else:
        ours = nr.nn.Sequential(nr.nn.Linear(6, 5), nr.nn.ReLU(), nr.nn.Linear(5, 3))
        theirs = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(),
                                     torch.nn.Linear(5, 3))
    _copy_params(ours, theirs)
    return ours, theirs


def _input(kind):
    shape = {"linear": (2, 7), "conv": (2, 3, 6, 6), "seq": (2, 6)}[kind]
    return randn(*shape).astype(np.float32)


def _same_pruning(ours, theirs, name="weight", x=None):
    """Masks, originals, pruned tensors and (given x) outputs all equal torch's."""
    np.testing.assert_array_equal(_np(getattr(ours, name + "_mask")),
                                  _np(getattr(theirs, name + "_mask")))
    np.testing.assert_allclose(_np(getattr(ours, name + "_orig")),
                               _np(getattr(theirs, name + "_orig")))
    np.testing.assert_allclose(_np(getattr(ours, name)), _np(getattr(theirs, name)))
    if x is not None:
        np.testing.assert_allclose(_np(ours(nr.from_numpy(x.copy()))),
                                   _np(theirs(torch.from_numpy(x.copy()))),
                                   rtol=1e-5, atol=1e-5)


# -- torch parity ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 1.0, 0, 7, 20])
def test_l1_unstructured_matches_torch(kind, amount):
    ours, theirs = _twins(kind)
    assert prune.l1_unstructured(ours, "weight", amount=amount) is ours
    tprune.l1_unstructured(theirs, "weight", amount=amount)
    _same_pruning(ours, theirs, x=_input(kind))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]


def test_l1_unstructured_on_bias_and_importance_scores():
    ours, theirs = _twins("linear")
    prune.l1_unstructured(ours, "bias", amount=2)
    tprune.l1_unstructured(theirs, "bias", amount=2)
    _same_pruning(ours, theirs, "bias", x=_input("linear"))
    scores = randn(5, 7).astype(np.float32)
    prune.l1_unstructured(ours, "weight", 0.4, importance_scores=nr.from_numpy(scores))
    tprune.l1_unstructured(theirs, "weight", 0.4, importance_scores=torch.from_numpy(scores))
    _same_pruning(ours, theirs, x=_input("linear"))
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("n", [1, 2, math.inf, -math.inf, 3, "fro"])
def test_ln_structured_matches_torch(kind, dim, n):
    if n == "fro" and kind == "conv":  # torch refuses 'fro' over three dims
        with pytest.raises(RuntimeError):
            tprune.ln_structured(_twins(kind)[1], "weight", amount=0.5, n=n, dim=dim)
        with pytest.raises(RuntimeError, match="n='fro' over 3 dims"):
            prune.ln_structured(_twins(kind)[0], "weight", amount=0.5, n=n, dim=dim)
        return
    ours, theirs = _twins(kind)
    prune.ln_structured(ours, "weight", amount=0.5, n=n, dim=dim)
    tprune.ln_structured(theirs, "weight", amount=0.5, n=n, dim=dim)
    _same_pruning(ours, theirs, x=_input(kind))
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("amount", [0, 1, 3, 0.0, 0.25, 1.0])
def test_ln_structured_amounts(amount):
    ours, theirs = _twins("conv")
    scores = randn(4, 3, 3, 3).astype(np.float32)
    prune.ln_structured(ours, "weight", amount, 2, 0, importance_scores=nr.from_numpy(scores))
    tprune.ln_structured(theirs, "weight", amount, 2, 0,
                         importance_scores=torch.from_numpy(scores))
    _same_pruning(ours, theirs, x=_input("conv"))


@pytest.mark.parametrize("steps", [
    [("l1", 0.3), ("l1", 0.5)],
    [("l1", 4), ("ln", 0.5, 2, 0)],
    [("ln", 2, 1, 1), ("l1", 0.4)],
    [("ln", 0.4, 2, 0), ("ln", 1, math.inf, 1)],
    [("ln", 1, 2, 0), ("ln", 0.5, 1, 0), ("l1", 3)],
    [("custom",), ("l1", 0.5)],
    [("identity",), ("ln", 2, 2, -1)],
])
@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_iterative_pruning_matches_torch(kind, steps):
    ours, theirs = _twins(kind)
    shape = tuple(ours.weight.shape)
    custom = (randn(*shape) > 0).astype(np.float32)
    for i, step in enumerate(steps):
        for lib, mod in ((prune, ours), (tprune, theirs)):
            conv = nr.from_numpy if lib is prune else torch.from_numpy
            if step[0] == "l1":
                lib.l1_unstructured(mod, "weight", amount=step[1])
            elif step[0] == "ln":
                lib.ln_structured(mod, "weight", amount=step[1], n=step[2], dim=step[3])
            elif step[0] == "custom":
                lib.custom_from_mask(mod, "weight", mask=conv(custom.copy()))
            else:
                lib.identity(mod, "weight")
        _same_pruning(ours, theirs, x=_input(kind))
        hooks = list(ours._forward_pre_hooks.values())
        assert len(hooks) == 1
        if i:
            assert isinstance(hooks[0], prune.PruningContainer) and len(hooks[0]) == i + 1
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_global_unstructured_matches_torch():
    ours, theirs = _twins("seq")
    conv_ours, conv_theirs = _twins("conv")
    # one tensor already pruned: global pruning must count only its live entries
    prune.l1_unstructured(ours[2], "weight", 3)
    tprune.l1_unstructured(theirs[2], "weight", 3)
    pairs_ours = [(ours[0], "weight"), (ours[2], "weight"), (ours[0], "bias"),
                  (conv_ours, "weight")]
    pairs_theirs = [(theirs[0], "weight"), (theirs[2], "weight"), (theirs[0], "bias"),
                    (conv_theirs, "weight")]
    assert prune.global_unstructured(iter(pairs_ours), prune.L1Unstructured, amount=0.4) is None
    tprune.global_unstructured(pairs_theirs, tprune.L1Unstructured, amount=0.4)
    for (mo, name), (mt, _) in zip(pairs_ours, pairs_theirs):
        _same_pruning(mo, mt, name)
    _same_pruning(ours[0], theirs[0], x=_input("seq"))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(conv_ours.state_dict()) == list(conv_theirs.state_dict())
    # counted over all of them, not per tensor
    total = sum(_np(getattr(m, n + "_mask")).size for m, n in pairs_ours)
    zeros = sum((_np(getattr(m, n + "_mask")) == 0).sum() for m, n in pairs_ours)
    live_before = total - 3
    assert zeros == 3 + round(0.4 * live_before)


def test_global_unstructured_importance_scores_and_int_amount():
    ours, theirs = _twins("seq")
    s0 = randn(5, 6).astype(np.float32)
    prune.global_unstructured([(ours[0], "weight"), (ours[2], "weight")],
                              pruning_method=prune.L1Unstructured, amount=9,
                              importance_scores={(ours[0], "weight"): nr.from_numpy(s0)})
    tprune.global_unstructured([(theirs[0], "weight"), (theirs[2], "weight")],
                               pruning_method=tprune.L1Unstructured, amount=9,
                               importance_scores={(theirs[0], "weight"): torch.from_numpy(s0)})
    _same_pruning(ours[0], theirs[0])
    _same_pruning(ours[2], theirs[2])
    x = _input("seq")
    np.testing.assert_allclose(_np(ours(nr.from_numpy(x))), _np(theirs(torch.from_numpy(x))),
                               rtol=1e-5, atol=1e-5)


def test_global_unstructured_random_counts():
    ours, _ = _twins("seq")
    prune.global_unstructured([(ours[0], "weight"), (ours[2], "weight")],
                              pruning_method=prune.RandomUnstructured, amount=0.5)
    zeros = (_np(ours[0].weight_mask) == 0).sum() + (_np(ours[2].weight_mask) == 0).sum()
    assert zeros == round(0.5 * (30 + 15))


def test_custom_from_mask_matches_torch():
    ours, theirs = _twins("conv")
    m = (randn(4, 3, 3, 3) > 0.3)
    prune.custom_from_mask(ours, "weight", mask=nr.from_numpy(m.copy()))
    tprune.custom_from_mask(theirs, "weight", mask=torch.from_numpy(m.copy()))
    _same_pruning(ours, theirs, x=_input("conv"))
    assert ours.weight_mask.dtype == nr.float32


def test_identity_prunes_nothing():
    ours, theirs = _twins("linear")
    prune.identity(ours, "weight")
    tprune.identity(theirs, "weight")
    _same_pruning(ours, theirs, x=_input("linear"))
    assert (_np(ours.weight_mask) == 1).all()


def test_pruning_method_prune_on_tensors():
    x = randn(4, 5).astype(np.float32)
    out = prune.L1Unstructured(amount=0.5).prune(nr.from_numpy(x.copy()))
    ref = tprune.L1Unstructured(amount=0.5).prune(torch.from_numpy(x.copy()))
    np.testing.assert_allclose(_np(out), _np(ref))
    s = randn(4, 5).astype(np.float32)
    out = prune.LnStructured(2, n=1, dim=1).prune(nr.from_numpy(x.copy()),
                                                  importance_scores=nr.from_numpy(s))
    ref = tprune.LnStructured(2, n=1, dim=1).prune(torch.from_numpy(x.copy()),
                                                   importance_scores=torch.from_numpy(s))
    np.testing.assert_allclose(_np(out), _np(ref))


def test_prune_is_differentiable():
    check(lambda m, x: m.nn.utils.prune.L1Unstructured(amount=0.4).prune(x.contiguous()),
          randn(4, 5),
          double=True)
    check(lambda m, x: m.nn.utils.prune.LnStructured(1, n=2, dim=0).prune(x), randn(3, 4, 2),
          double=True)


# -- remove, is_pruned, hooks, gradients ------------------------------------------------------
def test_remove_makes_pruning_permanent():
    ours, theirs = _twins("conv")
    orig = ours.weight
    prune.ln_structured(ours, "weight", 0.5, 2, 0)
    prune.l1_unstructured(ours, "weight", 0.3)
    tprune.ln_structured(theirs, "weight", 0.5, 2, 0)
    tprune.l1_unstructured(theirs, "weight", 0.3)
    assert ours.weight_orig is orig
    assert prune.remove(ours, "weight") is ours
    tprune.remove(theirs, "weight")
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight"]
    assert ours.weight is orig and isinstance(ours.weight, nr.nn.Parameter)
    np.testing.assert_allclose(_np(ours.weight), _np(theirs.weight))
    assert not prune.is_pruned(ours) and len(ours._forward_pre_hooks) == 0
    assert not hasattr(ours, "weight_orig") and not hasattr(ours, "weight_mask")
    x = _input("conv")
    np.testing.assert_allclose(_np(ours(nr.from_numpy(x))), _np(theirs(torch.from_numpy(x))),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="has to be pruned before pruning can be removed"):
        prune.remove(ours, "weight")


def test_remove_one_of_two_pruned_tensors():
    ours, _ = _twins("linear")
    prune.l1_unstructured(ours, "weight", 3)
    prune.random_unstructured(ours, "bias", 2)
    prune.remove(ours, "bias")
    assert prune.is_pruned(ours)
    assert list(ours.state_dict()) == ["weight_orig", "bias", "weight_mask"]
    assert (_np(ours.bias) == 0).sum() == 2


def test_is_pruned_and_state_dict_keys_nested():
    ours, theirs = _twins("seq")
    assert not prune.is_pruned(ours)
    prune.random_structured(ours[2], "weight", amount=1, dim=0)
    tprune.random_structured(theirs[2], "weight", amount=1, dim=0)
    prune.l1_unstructured(ours[0], "bias", amount=0.2)
    tprune.l1_unstructured(theirs[0], "bias", amount=0.2)
    assert prune.is_pruned(ours) and prune.is_pruned(ours[2]) and not prune.is_pruned(ours[1])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    # a saved state dict loads into another model pruned the same way
    other, _ = _twins("seq")
    prune.identity(other[2], "weight")
    prune.identity(other[0], "bias")
    other.load_state_dict(ours.state_dict())
    x = nr.from_numpy(_input("seq"))
    np.testing.assert_allclose(_np(other(x)), _np(ours(x)), rtol=1e-6)


def test_gradients_reach_only_unpruned_weights():
    ours, theirs = _twins("conv")
    prune.l1_unstructured(ours, "weight", 0.4)
    prune.ln_structured(ours, "weight", 1, 2, 1)
    tprune.l1_unstructured(theirs, "weight", 0.4)
    tprune.ln_structured(theirs, "weight", 1, 2, 1)
    x = _input("conv")
    ours(nr.from_numpy(x)).sum().backward()
    theirs(torch.from_numpy(x)).sum().backward()
    g, mask = _np(ours.weight_orig.grad), _np(ours.weight_mask)
    assert (g[mask == 0] == 0).all() and (g[mask == 1] != 0).any()
    np.testing.assert_allclose(g, _np(theirs.weight_orig.grad), rtol=1e-4, atol=1e-5)
    assert ours.weight_mask.grad is None and not ours.weight_mask.requires_grad


def test_forward_pre_hook_recomputes_after_update():
    ours, _ = _twins("linear")
    prune.l1_unstructured(ours, "weight", 0.5)
    opt = nr.optim.SGD(ours.parameters(), lr=0.5)
    x = nr.from_numpy(_input("linear"))
    before = _np(ours.weight).copy()
    ours(x).sum().backward()
    opt.step()
    np.testing.assert_array_equal(_np(ours.weight), before)  # refreshed only at next forward
    ours(x)
    mask = _np(ours.weight_mask)
    np.testing.assert_allclose(_np(ours.weight), _np(ours.weight_orig) * mask)
    assert not np.allclose(_np(ours.weight), before)
    assert (_np(ours.weight)[mask == 0] == 0).all()


def test_pruned_module_changes_dtype():
    ours, _ = _twins("linear")
    prune.l1_unstructured(ours, "weight", 0.5)
    ours.double()
    out = ours(nr.from_numpy(_input("linear").astype(np.float64)))
    assert out.dtype == nr.float64 and ours.weight.dtype == nr.float64


# -- random methods and ties ------------------------------------------------------------------
def test_random_unstructured_counts_and_seed():
    masks = []
    for _ in range(2):
        nr.manual_seed(3)
        m, _ = _twins("conv")
        prune.random_unstructured(m, "weight", amount=0.3)
        masks.append(_np(m.weight_mask))
        assert (masks[-1] == 0).sum() == round(0.3 * 108)
    np.testing.assert_array_equal(masks[0], masks[1])
    prune.random_unstructured(m, "weight", amount=0.5)  # half of the 76 still alive
    assert (_np(m.weight_mask) == 0).sum() == 32 + 38


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_random_structured_prunes_whole_channels(dim):
    m, _ = _twins("conv")
    prune.random_structured(m, "weight", amount=0.5, dim=dim)
    mask = _np(m.weight_mask)
    axes = tuple(d for d in range(4) if d != dim % 4)
    per_channel = mask.sum(axis=axes)
    size = int(np.prod([mask.shape[a] for a in axes]))
    assert set(per_channel.tolist()) <= {0.0, float(size)}
    assert (per_channel == 0).sum() == round(0.5 * mask.shape[dim])
    # stacked: the amount counts the channels still alive
    alive = (per_channel != 0).sum()
    prune.random_structured(m, "weight", amount=1, dim=dim)
    assert (_np(m.weight_mask).sum(axis=axes) != 0).sum() == alive - 1


def test_ties_prune_the_requested_count():
    lin = nr.nn.Linear(4, 3)
    lin.weight.data = nr.from_numpy(np.array([[1, -1, 2, 2], [1, 1, 0, 0], [-2, 1, 0, 3]],
                                             dtype=np.float32))
    prune.l1_unstructured(lin, "weight", amount=5)
    assert (_np(lin.weight_mask) == 0).sum() == 5
    assert set(np.abs(_np(lin.weight_orig))[_np(lin.weight_mask) == 0]) <= {0.0, 1.0}
    conv = nr.nn.Conv2d(2, 4, 1)
    conv.weight.data = nr.ones(4, 2, 1, 1)
    prune.ln_structured(conv, "weight", amount=3, n=1, dim=0)
    assert (_np(conv.weight_mask).sum(axis=(1, 2, 3)) == 0).sum() == 3


# -- containers and method objects ----------------------------------------------------------
def test_pruning_container_api():
    a, b = prune.L1Unstructured(0.2), prune.RandomStructured(0.5, dim=0)
    a._tensor_name = b._tensor_name = "weight"
    c = prune.PruningContainer(a)
    c.add_pruning_method(b)
    assert len(c) == 2 and c[0] is a and list(c) == [a, b] and c._tensor_name == "weight"
    other = prune.Identity()
    other._tensor_name = "bias"
    with pytest.raises(ValueError, match="parameter named 'weight'"):
        c.add_pruning_method(other)
    with pytest.raises(TypeError, match="is not a BasePruningMethod subclass"):
        c.add_pruning_method(3)
    with pytest.raises(TypeError):
        prune.BasePruningMethod()
    hook = prune.L1Unstructured.apply(nr.nn.Linear(3, 2), "weight", amount=1)
    assert isinstance(hook, prune.L1Unstructured) and hook._tensor_name == "weight"


def test_custom_pruning_method_subclass():
    class EveryOther(prune.BasePruningMethod):
        PRUNING_TYPE = "unstructured"

        def compute_mask(self, t, default_mask):
            mask = default_mask.clone()
            flat = mask.reshape(-1)
            flat[::2] = 0
            return flat.reshape(tuple(t.shape))

    m, _ = _twins("linear")
    EveryOther.apply(m, "weight")
    assert (_np(m.weight_mask).reshape(-1)[::2] == 0).all()
    EveryOther.apply(m, "weight")  # on the 18 live entries: 9 more pruned
    assert (_np(m.weight_mask) == 0).sum() == 18 + 9


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("amount,err,msg", [
    ("0.5", TypeError, "Invalid type for amount"),
    (None, TypeError, "Invalid type for amount"),
    (-1, ValueError, "should either be a float in the range"),
    (1.5, ValueError, "should either be a float in the range"),
    (-0.1, ValueError, "should either be a float in the range"),
])
def test_bad_amounts(amount, err, msg):
    for cls in (prune.L1Unstructured, prune.RandomUnstructured):
        with pytest.raises(err, match=msg):
            cls(amount)
    with pytest.raises(err, match=msg):
        prune.LnStructured(amount, n=2, dim=0)
    m, _ = _twins("linear")
    with pytest.raises(err, match=msg):
        prune.l1_unstructured(m, "weight", amount)
    assert list(m.state_dict()) == ["weight", "bias"] and not prune.is_pruned(m)


def test_amount_larger_than_tensor_leaves_module_intact():
    m, t = _twins("linear")
    with pytest.raises(ValueError, match="amount=36 should be smaller than the number of "
                                         "parameters to prune=35"):
        prune.l1_unstructured(m, "weight", 36)
    with pytest.raises(ValueError, match=r"prune=35"):
        tprune.l1_unstructured(t, "weight", 36)
    assert list(m.state_dict()) == list(t.state_dict())
    assert not prune.is_pruned(m) and isinstance(m.weight, nr.nn.Parameter)
    with pytest.raises(ValueError, match="prune=5"):
        prune.ln_structured(m, "weight", 6, 2, 0)
    # a failed second pruning keeps the first one working
    prune.l1_unstructured(m, "weight", 30)
    with pytest.raises(ValueError, match="prune=5"):
        prune.l1_unstructured(m, "weight", 6)
    assert prune.is_pruned(m) and (_np(m.weight_mask) == 0).sum() == 30
    prune.l1_unstructured(m, "weight", 5)
    assert (_np(m.weight) == 0).sum() == 35


def test_structured_errors():
    m, _ = _twins("linear")
    with pytest.raises(ValueError, match=r"multidimensional tensors. Found tensor of shape "
                                         r"\(5,\) with 1 dims"):
        prune.ln_structured(m, "bias", 1, 2, 0)
    with pytest.raises(ValueError, match="multidimensional"):
        prune.random_structured(m, "bias", 1, 0)
    with pytest.raises(IndexError, match=r"Invalid index 2 for tensor of size \(5, 7\)"):
        prune.ln_structured(m, "weight", 1, 2, 2)
    with pytest.raises(IndexError, match="Invalid index"):
        prune.random_structured(m, "weight", 1, -3)
    assert list(m.state_dict()) == ["bias", "weight"]  # restored after the failures (as torch)
    assert not prune.is_pruned(m)


def test_importance_score_and_mask_shape_errors():
    m, _ = _twins("linear")
    with pytest.raises(AssertionError, match=r"same shape as parameter weight.*\(5, 6\) vs "
                                             r"\(5, 7\)"):
        prune.l1_unstructured(m, "weight", 2, importance_scores=nr.zeros(5, 6))
    with pytest.raises(AssertionError, match="must match self.mask shape"):
        prune.custom_from_mask(m, "weight", mask=nr.ones(7, 5))
    with pytest.raises(AssertionError, match="same shape as tensor t"):
        prune.L1Unstructured(1).prune(nr.ones(3), importance_scores=nr.ones(4))
    with pytest.raises(AttributeError):
        prune.l1_unstructured(m, "nonexistent", 1)
    assert not prune.is_pruned(m)


def test_global_unstructured_errors():
    m, _ = _twins("linear")
    with pytest.raises(TypeError, match="parameters is not an Iterable"):
        prune.global_unstructured(5, prune.L1Unstructured, amount=0.1)
    with pytest.raises(TypeError, match="importance_scores must be of type dict"):
        prune.global_unstructured([(m, "weight")], prune.L1Unstructured,
                                  importance_scores=[1], amount=0.1)
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE'):
        prune.global_unstructured([(m, "weight")], prune.LnStructured, amount=0.1, n=2, dim=0)
    assert not prune.is_pruned(m)
