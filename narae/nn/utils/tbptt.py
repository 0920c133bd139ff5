"""Truncated backpropagation through time: train on a long sequence in windows of k steps.

The hidden state is carried from one window to the next (so the model still sees the whole
past in its forward pass) but detached at every window boundary, so each backward pass
covers at most k steps: memory and time per update stay bounded however long the sequence.

    state = None
    for xw, yw in tbptt_windows(x, y, k=32, batch_first=True):
        out, state = model(xw, state)
        loss = loss_fn(out, yw); opt.zero_grad(); loss.backward(); opt.step()
        state = detach_state(state)

``train_tbptt`` (or the ``TruncatedBPTT`` object) is exactly that loop.
"""
from ...autograd import grad_mode
from ...tensor import Tensor

__all__ = ["tbptt_windows", "detach_state", "train_tbptt", "TruncatedBPTT"]


def tbptt_windows(x, y=None, k=32, batch_first=False):
    """Yield consecutive windows of ``k`` time steps of ``x`` (and ``y``): (x_w, y_w).

    Time is dim 0, or dim 1 with ``batch_first``. The last window may be shorter. Windows
    are views (slices): gradients of a window loss reach only that window's inputs.
    """
    if k <= 0:
        raise ValueError(f"tbptt_windows: k must be positive, got {k}")
    dim = 1 if batch_first else 0
    T = x.shape[dim]
    if y is not None and y.shape[dim] != T:
        raise ValueError(f"tbptt_windows: x of shape {tuple(x.shape)} and y of shape "
                         f"{tuple(y.shape)} differ in their time dimension {dim}")
    lead = (slice(None),) * dim
    for start in range(0, T, k):
        key = lead + (slice(start, min(start + k, T)),)
        yield x[key], (None if y is None else y[key])


def detach_state(state):
    """The same (nested tuple/list of) tensors cut from the graph; None stays None."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor or a tuple of Tensors, got "
                    f"{type(state).__name__}")


def train_tbptt(model, x, y, k, loss_fn, optimizer, state=None, batch_first=False,
                clip_grad_norm=None):
    """One pass of truncated BPTT over a long batch; returns (mean window loss, final state).

    ``model(x_w, state) -> (output, state)`` (an ``nn.LSTM``, or a model like ``CharLSTM``);
    ``loss_fn(output, y_w)`` gives the window's loss; one optimizer step per window. The
    returned state is detached, ready to continue on the next batch of the same streams.
    """
    from .clip_grad import clip_grad_norm_
    total, steps = 0.0, 0
    for xw, yw in tbptt_windows(x, y, k, batch_first):
        out, state = model(xw, state)
        loss = loss_fn(out, yw)
        optimizer.zero_grad()
        loss.backward()
        if clip_grad_norm is not None:
            clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        state = detach_state(state)
        total += float(loss.item())
        steps += 1
    return total / max(steps, 1), state


class TruncatedBPTT:
    """A stateful trainer: ``step(x, y)`` runs ``train_tbptt`` on the next chunk of the same
    streams, carrying the (detached) state from the previous call; ``reset()`` forgets it."""

    def __init__(self, model, loss_fn, optimizer, k, batch_first=False, clip_grad_norm=None):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.k, self.batch_first, self.clip_grad_norm = k, batch_first, clip_grad_norm
        self.state = None

    def reset(self):
        self.state = None

    def step(self, x, y):
        loss, self.state = train_tbptt(self.model, x, y, self.k, self.loss_fn, self.optimizer,
                                       self.state, self.batch_first, self.clip_grad_norm)
        return loss

    __call__ = step

    @grad_mode.no_grad()
    def forward_stateful(self, x):
        """Run ``x`` from the carried state without training (e.g. to warm up the state)."""
        out, self.state = self.model(x, self.state)
        return out
