"""F.ctc_loss against torch: values and gradients for every target layout and option, a
float64 gradcheck through log_softmax, and the error messages."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.nn.functional as F
from helpers import check, check_parity

R = np.random.default_rng(5)


def logits(t, n, c):
    return R.standard_normal((t, n, c))


def log_probs(t, n, c):
    return np.log(R.dirichlet(np.ones(c), (t, n)))


def ctc(**kw):
    return lambda m, x, *rest: m.nn.functional.ctc_loss(m.log_softmax(x, -1), *rest, **kw)


PADDED = (np.array([[1, 2, 2, 3], [3, 3, 0, 0], [2, 1, 3, 1]]), np.array([9, 7, 9]),
          np.array([4, 2, 3]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_padded_targets(reduction):
    check(ctc(reduction=reduction), logits(9, 3, 4), *PADDED)


def test_ctc_concatenated_targets_and_blank():
    targets = np.array([0, 1, 1, 3, 0, 3, 3, 1, 0])
    check(ctc(blank=2), logits(7, 3, 4), targets, np.array([7, 6, 5]), np.array([3, 4, 2]))


def test_ctc_lengths_as_tuples_and_lists():
    check(ctc(reduction="sum"), logits(6, 2, 5), np.array([[1, 4, 4], [2, 3, 1]]), (6, 5),
          [3, 2])


def test_ctc_empty_target_and_repeats():
    # an empty target, a target of repeated labels (needs blanks between), a full-length one
    targets = np.array([[0, 0, 0], [2, 2, 2], [1, 2, 1]])
    check(ctc(reduction="none"), logits(6, 3, 3), targets, np.array([4, 6, 3]),
          np.array([0, 3, 3]))


def test_ctc_unbatched():
    check(ctc(), logits(6, 1, 4)[:, 0], np.array([1, 3, 3]), np.array(6), np.array(3))
    check(ctc(reduction="none"), logits(5, 1, 4)[:, 0], np.array([2, 1]), (5,), (2,))


def test_ctc_infinite_losses_and_zero_infinity():
    # sample 0 needs 2*3 - 1 = 5 frames for "1 1 1" but has 4: an impossible alignment
    targets = np.array([[1, 1, 1], [1, 2, 0]])
    lengths = (np.array([4, 5]), np.array([3, 2]))
    check(ctc(zero_infinity=True, reduction="none"), logits(5, 2, 3), targets, *lengths)
    check(ctc(zero_infinity=True), logits(5, 2, 3), targets, *lengths)
    out = F.ctc_loss(nr.randn(5, 2, 3).log_softmax(2), nr.from_numpy(targets),
                     nr.from_numpy(lengths[0]), nr.from_numpy(lengths[1]), reduction="none")
    assert np.isinf(out.numpy()[0]) and np.isfinite(out.numpy()[1])


def test_ctc_gradient_with_respect_to_log_probs_is_torchs():
    """torch's gradient w.r.t. log_probs assumes they are normalised (it carries an extra
    exp(log_probs) that log_softmax's backward cancels); narae's matches it."""
    check_parity(lambda m, lp, *r: m.nn.functional.ctc_loss(lp, *r), log_probs(8, 3, 4),
                 *PADDED[:1], np.array([8, 6, 8]), PADDED[2])
    check_parity(lambda m, lp, *r: m.nn.functional.ctc_loss(lp, *r, reduction="sum", blank=3),
                 log_probs(6, 2, 4), np.array([[1, 0], [2, 2]]), np.array([6, 6]),
                 np.array([2, 2]))


def test_ctc_module_and_float64():
    x = nr.from_numpy(log_probs(7, 2, 5))
    targets, il, tl = nr.tensor([[1, 2, 3], [4, 4, 0]]), nr.tensor([7, 5]), nr.tensor([3, 2])
    loss = nr.nn.CTCLoss(reduction="sum")(x, targets, il, tl)
    assert loss.dtype == nr.float64
    ref = torch.nn.CTCLoss(reduction="sum")(torch.from_numpy(x.numpy()),
                                             torch.tensor([[1, 2, 3], [4, 4, 0]]),
                                             torch.tensor([7, 5]), torch.tensor([3, 2]))
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-10)


def test_ctc_has_no_double_backward():
    x = nr.from_numpy(log_probs(5, 1, 3)).requires_grad_()
    loss = F.ctc_loss(x, nr.tensor([[1, 2]]), [5], [2])
    (g,) = nr.autograd.grad(loss, [x], create_graph=True)
    with pytest.raises(RuntimeError, match="double backward"):
        g.sum().backward()


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_lengths=[6, 9]), "at most 6"),
    (dict(target_lengths=[2, 4]), "size at least 4"),
    (dict(blank=3), r"blank must be in label range \[0, 3\)"),
    (dict(reduction="avg"), "not a valid value"),
    (dict(input_lengths=[6]), "one value per batch element"),
    (dict(targets=nr.tensor([[1.0, 2.0], [1.0, 2.0]])), "integer"),
    (dict(targets=nr.tensor([[1, 5], [1, 2]])), r"target values must be in \[0, 3\)"),
    (dict(log_probs=nr.zeros(6)), r"\(6,\)"),
    (dict(log_probs=nr.zeros(0, 2, 3), input_lengths=[0, 0]), "must not be empty"),
])
def test_ctc_errors(kwargs, match):
    args = dict(log_probs=nr.zeros(6, 2, 3), targets=nr.tensor([[1, 2], [1, 2]]),
                input_lengths=[6, 5], target_lengths=[2, 2])
    args.update(kwargs)
    with pytest.raises((RuntimeError, ValueError), match=match):
        F.ctc_loss(**args)


def test_ctc_all_inputs_shorter_than_t_and_zero_length():
    # every sample ends before the last frame (the backward recursion starts mid-sequence),
    # one sample has no frames at all
    targets = np.array([[1, 2, 2], [3, 1, 0], [2, 0, 0]])
    check(ctc(reduction="none", zero_infinity=True), logits(8, 3, 4), targets,
          np.array([6, 5, 0]), np.array([3, 2, 0]))
    check(ctc(), logits(8, 2, 4), targets[:2], np.array([7, 4]), np.array([3, 2]))


def test_ctc_beta_in_backward_when_not_precomputed(monkeypatch):
    # forward runs the beta recursion beside alpha's when a gradient will follow; the
    # backward's own beta recursion (when forward did not) must give the same gradient
    import types
    import narae.ops.ctc as ctc_mod
    monkeypatch.setattr(ctc_mod, "grad_mode", types.SimpleNamespace(
        state=types.SimpleNamespace(enabled=False)))
    targets = np.array([[1, 2, 2], [3, 1, 0]])
    check(ctc(reduction="sum"), logits(7, 2, 4), targets, np.array([7, 5]), np.array([3, 2]))
