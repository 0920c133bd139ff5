"""Connectionist Temporal Classification loss (Graves et al., 2006): ``ctc_loss``.

The target of each sample is spread onto an extended label sequence l' of length 2S + 1
(blanks between and around the labels). In log space, the forward variables are

    alpha_t(s) = logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), [alpha_{t-1}(s-2)]) + lp_t(l'_s)

(the s-2 term when l'_s is a label different from l'_{s-2}), and the loss is
-log p(target) = -logsumexp(alpha_{T-1}(L-1), alpha_{T-1}(L-2)). The backward variables beta
run the same recursion from the end; their product gives the gradient. Both recursions are
vectorized over the batch and the extended label axis: Python loops over time only.
"""
import numpy as np

from ..autograd import grad_mode
from ..autograd.function import Function, ShapeError
from ..backend import capture, get_array_module, to_device, cpu
from ..tensor import Tensor
from .index import _add_at

__all__ = ["ctc_loss"]


def _lse3(xp, a, b, c):
    """Elementwise log(exp(a) + exp(b) + exp(c)), -inf where all three are -inf."""
    m = xp.maximum(xp.maximum(a, b), c)
    safe = xp.where(xp.isneginf(m), 0, m)
    with np.errstate(divide="ignore"):
        return safe + xp.log(xp.exp(a - safe) + xp.exp(b - safe) + xp.exp(c - safe))


def _recursion(xp, lp_ext, mask2, out, override=None, steps=()):
    """The alpha (or, on time-reversed inputs, beta) recursion over t, in log space.

    ``out`` (T, N, L + 2) gets out[t, :, 2:] = logsumexp over the three predecessors s, s-1,
    s-2 of out[t-1] (``mask2`` (N, L) adds -inf where the s-2 transition is not allowed)
    plus lp_ext[t]; its first two columns stay -inf, so the shifted predecessors are views of
    the previous row. ``override`` = (use (T, N, 1), values (T, N, L)) replaces row t where
    ``use`` at the steps listed in ``steps`` (start and stop rules).
    Per step a dozen whole-array calls on (3, N, L) buffers allocated once: the Python loop
    runs over t only.
    """
    t_max, n, big_l = lp_ext.shape
    v = xp.empty((3, n, big_l), out.dtype)
    m = xp.empty((n, big_l), out.dtype)
    floor = np.finfo(out.dtype).min  # the max of an all -inf column: exp(-inf - floor) = 0
    steps = set(steps)
    for t in range(1, t_max):
        prev = out[t - 1]
        xp.copyto(v[0], prev[:, 2:])
        xp.copyto(v[1], prev[:, 1:-1])
        xp.add(prev[:, :-2], mask2, out=v[2])
        xp.maximum(v[0], v[1], out=m)
        xp.maximum(m, v[2], out=m)
        xp.maximum(m, floor, out=m)
        v -= m
        xp.exp(v, out=v)
        row = out[t, :, 2:]
        xp.add(v[0], v[1], out=row)
        row += v[2]
        xp.log(row, out=row)
        row += m
        row += lp_ext[t]
        if t in steps:
            xp.copyto(row, override[1][t], where=override[0][t])
    return out


class CTCLoss(Function):
    """Per-sample negative log-likelihood (N,) of ``labels`` (N, L) extended targets.

    ``input_lengths`` and ``label_lengths`` (= 2 S_n + 1) are (N,) integer arrays on the
    device of ``log_probs``. The gradient follows torch: it assumes ``log_probs`` are
    normalised (log_softmax outputs): it is exp(lp) - (label posterior at t), which differs
    from the plain derivative by exp(lp), a term that log_softmax's backward cancels.
    It has no double backward (as torch's).
    """

    def __init__(self, labels, input_lengths, label_lengths, blank, zero_infinity,
                 input_lengths_host, with_beta=False):
        self.labels, self.in_len, self.lab_len = labels, input_lengths, label_lengths
        self.with_beta = with_beta  # compute beta in forward (a gradient will follow)
        self.in_len_host = input_lengths_host  # (the same lengths in host memory)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, lp):
        xp = get_array_module(lp)
        t_max, n, _ = lp.shape
        labels, length = self.labels, self.lab_len
        big_l = labels.shape[1]
        # lp_t(l'_s) for every t, n, s in one gather
        self.lp_ext = lp_ext = xp.take_along_axis(lp, xp.broadcast_to(
            labels[None], (t_max, n, big_l)), axis=2)
        s = xp.arange(big_l)
        prev2 = xp.concatenate([labels[:, :2], labels[:, :-2]], axis=1)
        self.skip = skip = (s >= 2) & (labels != self.blank) & (labels != prev2)
        mask2 = xp.where(skip, 0, -xp.inf).astype(lp.dtype)  # s-2 where it is allowed
        self.beta = None
        if self.with_beta:
            # the gradient will need beta: run its recursion beside alpha's (as N more
            # sequences), which halves the Python steps of forward + backward
            rev_lp, mask_b, use, values, steps = self._beta_setup(xp, lp.dtype)
            lp2 = xp.concatenate([lp_ext, rev_lp], axis=1)
            mask2 = xp.concatenate([mask2, mask_b])
            use = xp.concatenate([xp.zeros_like(use), use], axis=1)
            values = xp.concatenate([xp.empty_like(values), values], axis=1)
        else:
            lp2, use, values, steps = lp_ext, None, None, ()
        buf = xp.full((t_max, lp2.shape[1], big_l + 2), -xp.inf, lp.dtype)
        buf[0, :n, 2:] = xp.where(s < 2, lp_ext[0], -xp.inf)
        if self.with_beta:
            xp.copyto(buf[0, :, 2:], values[0], where=use[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            _recursion(xp, lp2, mask2, buf, (use, values), steps)
        self.alpha = alpha = buf[:, :n, 2:]
        if self.with_beta:
            self.beta = buf[::-1, n:, :1:-1]
        rows = xp.arange(n)
        end = alpha[xp.maximum(self.in_len - 1, 0), rows]                    # (N, L)
        last = end[rows, length - 1]
        prev = xp.where(length >= 2, end[rows, xp.maximum(length - 2, 0)], -xp.inf)
        inf = xp.full_like(last, -xp.inf)
        nll = -_lse3(xp, last, prev, inf)
        nll = xp.where(self.in_len > 0, nll, xp.where(length == 1, 0, xp.inf)).astype(lp.dtype)
        self.nll = nll
        if self.zero_infinity:
            nll = xp.where(xp.isinf(nll), 0, nll).astype(lp.dtype)
        return nll

    def backward(self, gy):
        return CTCLossGrad(self)(self.inputs[0], gy)

    def _beta_setup(self, xp, dtype):
        """The backward variables as the alpha recursion on time- and label-reversed
        sequences (row r of the reversed buffer is frame T-1-r, column s label L-1-s):
        (reversed lp_ext, s-2 mask, override mask and values, the rows to override)."""
        lp_ext, skip, in_len, length = self.lp_ext, self.skip, self.in_len, self.lab_len
        t_max, n, big_l = lp_ext.shape
        s = xp.arange(big_l)
        at_end = (s[None] == (length - 1)[:, None]) | (s[None] == (length - 2)[:, None])
        rev_lp = lp_ext[::-1, :, ::-1]
        skip_ahead = xp.zeros_like(skip)  # may s jump to s + 2?
        skip_ahead[:, :-2] = skip[:, 2:]
        mask2 = xp.where(skip_ahead[:, ::-1], 0, -xp.inf).astype(dtype)
        # each sample's beta starts at its own last frame (in_len - 1) from its two end
        # states and is -inf after it
        frames = xp.arange(t_max - 1, -1, -1)[:, None]                 # (T, 1): t per row
        start = frames == (in_len - 1)[None]                          # (T, N)
        use = (start | (frames > (in_len - 1)[None]))[:, :, None]
        values = xp.where(start[:, :, None] & at_end[None, :, ::-1], rev_lp, -xp.inf)
        last = self.in_len_host - 1
        steps = [r for r in range(t_max) if (t_max - 1 - r >= last).any()]
        return rev_lp, mask2, use, values, steps

    def gradient(self, lp, gy):
        """torch's gradient of sum_n gy_n * nll_n with respect to log_probs (T, N, C)."""
        xp = get_array_module(lp)
        t_max, n, c = lp.shape
        labels, in_len = self.labels, self.in_len
        big_l = labels.shape[1]
        beta = self.beta
        if beta is None:
            rev_lp, mask2, use, values, steps = self._beta_setup(xp, lp.dtype)
            buf = xp.full((t_max, n, big_l + 2), -xp.inf, lp.dtype)
            xp.copyto(buf[0, :, 2:], values[0], where=use[0])
            with np.errstate(divide="ignore", invalid="ignore"):
                _recursion(xp, rev_lp, mask2, buf, (use, values), steps)
            beta = buf[::-1, :, :1:-1]                               # (T, N, L)
        ab = self.alpha + beta                                       # (T, N, L)
        m = ab.max(axis=2, keepdims=True)
        m = xp.where(xp.isneginf(m), 0, m)
        # acc[t, n, c] = sum over s with label c of exp(ab - m): one flat 1-D scatter-add
        flat = (xp.arange(t_max * n).reshape(t_max, n, 1) * c + labels[None]).reshape(-1)
        acc = xp.zeros(t_max * n * c, lp.dtype)
        _add_at(xp, acc, flat, xp.exp(ab - m).reshape(-1))
        acc = acc.reshape(t_max, n, c)
        with np.errstate(divide="ignore", invalid="ignore"):
            lcab = xp.log(acc) + m
            grad = xp.exp(lp) - xp.exp(lcab + self.nll[None, :, None] - lp)
        live = (xp.arange(t_max)[:, None] < in_len[None, :])[:, :, None]
        if self.zero_infinity:
            live = live & ~xp.isinf(self.nll)[None, :, None]
        grad = xp.where(live, grad, 0)
        return (grad * gy[None, :, None]).astype(lp.dtype, copy=False)


class CTCLossGrad(Function):
    """The gradient of ``CTCLoss`` for incoming ``gy`` (N,); it has no derivative itself."""
    uses_inputs = False

    def __init__(self, fn):
        self.fn = fn

    def forward(self, lp, gy):
        return self.fn.gradient(lp, gy)

    def backward(self, gg):
        raise RuntimeError("ctc_loss: double backward (the derivative of the CTC gradient) is "
                           "not implemented, as in torch")


def _host_ints(x, what):
    """Lengths (a Tensor, array, list, tuple or int) as a 1-D int64 NumPy array."""
    if isinstance(x, Tensor):
        if x._data.dtype.kind not in "iu":
            raise RuntimeError(f"ctc_loss: {what} must be integers, got {x.dtype}")
        x = to_device(x._data, cpu)
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss: {what} must be integers, got {arr.dtype}")
    return arr.astype(np.int64).reshape(-1)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """CTC loss of ``log_probs`` (T, N, C) (or (T, C) unbatched) against ``targets``.

    targets: (N, S) padded, or 1-D with the N targets concatenated; input_lengths and
    target_lengths: (N,) (tensors, lists or tuples). reduction 'mean' divides each loss by its
    target length (at least 1) and averages over the batch; ``zero_infinity`` turns the
    infinite losses of impossible alignments (and their gradients) into zeros.
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    unbatched = log_probs.ndim == 2
    if log_probs.ndim not in (2, 3):
        raise ShapeError(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got shape "
                         f"{tuple(log_probs.shape)}")
    if unbatched:
        log_probs = log_probs.reshape(log_probs.shape[0], 1, log_probs.shape[1])
        if targets.ndim == 1:
            targets = targets.reshape(1, -1)
    t_max, n, c = log_probs.shape
    if log_probs.numel() == 0:
        raise RuntimeError(f"ctc_loss: log_probs tensor must not be empty, got shape "
                           f"{tuple(log_probs.shape)}")
    if not 0 <= blank < c:
        raise RuntimeError(f"ctc_loss: blank must be in label range [0, {c}), got {blank} "
                           f"(log_probs of shape {tuple(log_probs.shape)})")
    in_len = _host_ints(input_lengths, "input_lengths")
    tg_len = _host_ints(target_lengths, "target_lengths")
    if in_len.shape != (n,) or tg_len.shape != (n,):
        raise ShapeError(f"ctc_loss: input_lengths ({in_len.size} values) and target_lengths "
                         f"({tg_len.size} values) must have one value per batch element "
                         f"(log_probs of shape {tuple(log_probs.shape)})")
    if (in_len > t_max).any() or (in_len < 0).any():
        raise RuntimeError(f"ctc_loss: Expected input_lengths to have value at most {t_max} "
                           f"(and at least 0), but got {in_len.tolist()}")
    if (tg_len < 0).any():
        raise RuntimeError(f"ctc_loss: target_lengths must be non-negative, got "
                           f"{tg_len.tolist()}")
    if not isinstance(targets, Tensor) or targets._data.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss: targets must be an integer tensor, got "
                           f"{getattr(targets, 'dtype', type(targets).__name__)}")
    xp = get_array_module(log_probs._data)
    tg = targets._data
    if get_array_module(tg) is not xp:
        tg = to_device(tg, log_probs.device)
    tg = tg.astype(xp.int64)
    if targets.ndim == 2:
        if targets.shape[0] != n:
            raise ShapeError(f"ctc_loss: targets of shape {tuple(targets.shape)} must have "
                             f"{n} rows (log_probs of shape {tuple(log_probs.shape)})")
        if (tg_len > targets.shape[1]).any():
            raise RuntimeError(f"ctc_loss: Expected tensor to have size at least "
                               f"{int(tg_len.max())} at dimension 1, but got size "
                               f"{targets.shape[1]} for targets of shape "
                               f"{tuple(targets.shape)}")
        padded = tg
    elif targets.ndim == 1:
        if int(tg_len.sum()) > targets.shape[0]:
            raise RuntimeError(f"ctc_loss: the target lengths sum to {int(tg_len.sum())} but "
                               f"the concatenated targets have {targets.shape[0]} values")
        s_max = int(tg_len.max()) if n else 0
        offsets = np.concatenate([[0], np.cumsum(tg_len)[:-1]])
        idx = offsets[:, None] + np.arange(s_max)[None]
        idx = np.minimum(idx, max(targets.shape[0] - 1, 0))
        padded = tg[xp.asarray(idx)] if targets.shape[0] else xp.zeros((n, s_max), xp.int64)
    else:
        raise ShapeError(f"ctc_loss: targets must be (N, S) or 1-D, got shape "
                         f"{tuple(targets.shape)}")
    s_max = padded.shape[1]
    tg_len_d = xp.asarray(tg_len)
    valid = xp.arange(s_max)[None] < tg_len_d[:, None]
    padded = xp.where(valid, padded, blank)
    if capture.can_read_back() and bool((((padded < 0) | (padded >= c)) & valid).any()):
        raise RuntimeError(f"ctc_loss: target values must be in [0, {c}) (log_probs of shape "
                           f"{tuple(log_probs.shape)})")
    labels = xp.full((n, 2 * s_max + 1), blank, xp.int64)
    labels[:, 1::2] = padded
    with_beta = grad_mode.state.enabled and log_probs.requires_grad
    nll = CTCLoss(labels, xp.asarray(in_len), 2 * tg_len_d + 1, blank, zero_infinity,
                  in_len, with_beta)(log_probs)
    if reduction == "none":
        return nll.reshape(()) if unbatched else nll
    if reduction == "sum":
        return nll.sum()
    return (nll / Tensor(xp.maximum(tg_len_d, 1).astype(log_probs._data.dtype))).mean()
