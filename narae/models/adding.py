"""The adding problem (Hochreiter & Schmidhuber 1997): memory over long time lags.

Each input step is (value ~ U(0, 1), marker in {0, 1}); exactly two steps are marked, one in
each half of the sequence, and the target is the sum of the two marked values. Predicting
the mean (1.0) always gives MSE = Var(U + U) = 1/6 ~ 0.167: a model only beats that if it
carries information across the whole sequence. At T >= 50 an LSTM gets well below 0.01,
while a tanh RNN of the same size stays near 0.167: its gradient d loss / d h_t vanishes
geometrically with the distance from the end, which the saved plot shows.

    narae demo adding-problem --out runs/adding       (or examples/adding_problem.py)
"""
import os
import time

import numpy as np

import narae as nr
from .. import nn, optim
from ..nn.rnn import LSTM, RNN
from ..ops.recurrent import lstm_cell, rnn_tanh_cell

BASELINE = 1.0 / 6.0


def adding_data(n, T, rng):
    """x (n, T, 2) float32, y (n, 1): one marker in each half, target = sum of marked values."""
    values = rng.uniform(0.0, 1.0, (n, T))
    markers = np.zeros((n, T))
    half = T // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, T, n)
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], -1).astype(np.float32)
    y = (values[rows, first] + values[rows, second]).astype(np.float32)[:, None]
    return x, y


class AddingModel(nn.Module):
    """A recurrent layer read out at the last step by a linear unit."""

    def __init__(self, cell="lstm", hidden_size=32):
        super().__init__()
        self.cell = cell
        self.rnn = (LSTM if cell == "lstm" else RNN)(2, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y[:, -1])


def train_adding(cell="lstm", T=50, hidden_size=32, steps=1500, batch_size=64, lr=1e-2,
                 seed=0, n_test=512, target=None, log_every=0):
    """Train on fresh batches; returns {"model", "test_mse", "losses", "steps", "seconds"}.

    ``target``: stop early once the running train MSE (and then the test MSE) is below it.
    """
    nr.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = AddingModel(cell, hidden_size)
    opt = optim.Adam(model.parameters(), lr=lr)
    xt, yt = adding_data(n_test, T, np.random.default_rng(seed + 12345))
    xt, yt = nr.tensor(xt), nr.tensor(yt)
    loss_fn = nn.MSELoss()
    losses, start, step = [], time.time(), 0
    test_mse = None
    for step in range(1, steps + 1):
        x, y = adding_data(batch_size, T, rng)
        loss = loss_fn(model(nr.tensor(x)), nr.tensor(y))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.item()))
        if log_every and step % log_every == 0:
            print(f"{cell} T={T} step {step}: train MSE {np.mean(losses[-log_every:]):.4f}",
                  flush=True)
        if target is not None and step % 50 == 0 and np.mean(losses[-50:]) < target / 2:
            test_mse = evaluate(model, xt, yt)
            if test_mse < target:
                break
    if test_mse is None or target is None or test_mse >= target:
        test_mse = evaluate(model, xt, yt)
    return {"model": model, "test_mse": test_mse, "losses": losses, "steps": step,
            "seconds": time.time() - start}


@nr.no_grad()
def evaluate(model, x, y):
    model.eval()
    mse = float(((model(x) - y) ** 2).mean().item())
    model.train()
    return mse


def hidden_gradient_norms(model, x, y):
    """||d loss / d h_t|| for t = 1..T (mean over the batch), through the unrolled cells.

    The layer's fused node only exposes the gradient of its *output* at each step; the
    gradient that flows back through the recurrence to h_t needs h_t as a graph node, so the
    same weights are run here step by step with the cell functions.
    """
    r = model.rnn
    w = (r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0)
    x = nr.tensor(x)
    B, T = x.shape[0], x.shape[1]
    h = nr.zeros(B, r.hidden_size)
    c = nr.zeros(B, r.hidden_size)
    hs = []
    for t in range(T):
        if model.cell == "lstm":
            h, c = lstm_cell(x[:, t], (h, c), *w)
        else:
            h = rnn_tanh_cell(x[:, t], h, *w)
        hs.append(h)
    loss = ((model.head(h) - nr.tensor(y)) ** 2).mean()
    grads = nr.autograd.grad(loss, hs)
    return np.array([float(np.sqrt((g.numpy() ** 2).sum(1)).mean()) for g in grads])


def plot_gradient_norms(norms, path, T):
    """Save gradient norm vs time step (log scale) for each model; needs matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, v in norms.items():
        ax.semilogy(np.arange(1, len(v) + 1), np.maximum(v, 1e-30), label=name)
    ax.set_xlabel("time step t")
    ax.set_ylabel("mean ||d loss / d h_t||")
    ax.set_title(f"adding problem, T={T}: gradient reaching each step")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def adding_demo(T=50, hidden_size=32, steps=1500, lr=1e-2, seed=0, out_dir=None, verbose=True):
    """LSTM vs tanh RNN on the adding problem; the gradient-norm plot goes to ``out_dir``."""
    results = {}
    for cell in ("lstm", "rnn"):
        r = train_adding(cell, T, hidden_size, steps, lr=lr, seed=seed,
                         target=0.01 if cell == "lstm" else None, log_every=100 if verbose else 0)
        results[cell] = r
        if verbose:
            print(f"{cell.upper()}: test MSE {r['test_mse']:.4f} after {r['steps']} steps "
                  f"({r['seconds']:.0f}s); baseline {BASELINE:.3f}", flush=True)
    x, y = adding_data(64, T, np.random.default_rng(7))
    norms = {}
    for cell, r in results.items():
        fresh = AddingModel(cell, hidden_size)
        norms[f"{cell.upper()} at init"] = hidden_gradient_norms(fresh, x, y)
        norms[f"{cell.upper()} trained"] = hidden_gradient_norms(r["model"], x, y)
    summary = {"T": T, "baseline_mse": BASELINE,
               "lstm_test_mse": results["lstm"]["test_mse"],
               "rnn_test_mse": results["rnn"]["test_mse"],
               "gradient_ratio_first_to_last": {k: float(v[0] / v[-1]) for k, v in norms.items()}}
    if out_dir:
        path = os.path.join(out_dir, "adding_gradients.png")
        try:
            plot_gradient_norms(norms, path, T)
            summary["plot"] = path
        except ImportError:
            summary["plot"] = "matplotlib not installed"
    summary["models"], summary["norms"] = {k: r["model"] for k, r in results.items()}, norms
    return summary
