"""Deep belief network (Hinton, Osindero & Teh, 2006): stacked RBMs, pre-trained greedily.

Each RBM is trained (CD-k) on the hidden probabilities of the one below; every added layer
improves a variational bound on the data log-likelihood. For classification the stack is
then unrolled into a sigmoid MLP whose weights start at the RBMs' (W, hidden bias), a fresh
softmax layer is put on top, and everything is fine-tuned with backprop.
"""
import narae as nr

from .. import nn
from ..nn import functional as F
from .autoencoder import minibatches
from .rbm import BernoulliRBM, GaussianBernoulliRBM

__all__ = ["DBN"]


class DBN(nn.Module):
    """``sizes = [n_visible, h1, h2, ...]``; ``gaussian_visible`` makes the first RBM
    Gaussian-Bernoulli (for standardised real-valued inputs)."""

    def __init__(self, sizes, gaussian_visible=False):
        super().__init__()
        if len(sizes) < 2:
            raise ValueError("DBN needs sizes [n_visible, h1, ...]")
        self.sizes = list(sizes)
        rbms = []
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            cls = GaussianBernoulliRBM if (i == 0 and gaussian_visible) else BernoulliRBM
            rbms.append(cls(a, b))
        self.rbms = nn.ModuleList(rbms)

    def forward(self, v):
        """Top-layer hidden probabilities (deterministic up-pass)."""
        for rbm in self.rbms:
            v = rbm(v)
        return v

    def pretrain(self, data, epochs=10, batch_size=32, lr=0.05, k=1, persistent=False,
                 verbose=False, **fit_kwargs):
        """Greedy layer-wise CD training; ``epochs``/``lr`` may be per-layer lists.
        Returns each layer's list of reconstruction errors."""
        def per_layer(value, i):
            return value[i] if isinstance(value, (list, tuple)) else value
        histories = []
        x = data.detach()
        for i, rbm in enumerate(self.rbms):
            errs = rbm.fit(x, epochs=per_layer(epochs, i), batch_size=batch_size,
                           lr=per_layer(lr, i), k=k, persistent=persistent, **fit_kwargs)
            histories.append(errs)
            if verbose:
                print(f"RBM {i}: reconstruction error {errs[0]:.3f} -> {errs[-1]:.3f}")
            with nr.no_grad():
                x = rbm(x)
        return histories

    def to_mlp(self, n_classes, dropout=0.0, input_dropout=0.0):
        """A Sequential of Linear+Sigmoid layers initialised from the RBMs (Linear weight =
        W^T, bias = hidden bias; copies, so fine-tuning leaves the DBN intact) and a fresh
        Linear(h_top, n_classes) producing logits. Optional Dropout on the input and after
        each hidden layer (Hinton et al., 2012 fine-tuned pre-trained nets with dropout)."""
        layers = [nn.Dropout(input_dropout)] if input_dropout else []
        for rbm in self.rbms:
            lin = nn.Linear(rbm.n_visible, rbm.n_hidden)
            with nr.no_grad():
                lin.weight.copy_(rbm.W.T)
                lin.bias.copy_(rbm.h_bias)
            layers += [lin, nn.Sigmoid()] + ([nn.Dropout(dropout)] if dropout else [])
        layers.append(nn.Linear(self.sizes[-1], n_classes))
        return nn.Sequential(*layers)

    def fine_tune(self, x, y, n_classes, epochs=30, batch_size=32, lr=1e-3, dropout=0.0,
                  input_dropout=0.0, cosine=True, verbose=False):
        """Build ``to_mlp(n_classes, dropout, input_dropout)`` and train it with Adam on
        cross-entropy, the learning rate annealed to 0 along a cosine (``cosine``) so that
        the last epochs settle instead of rattling around the minimum; returns (mlp,
        per-epoch training losses)."""
        mlp = self.to_mlp(n_classes, dropout, input_dropout)
        opt = nr.optim.Adam(mlp.parameters(), lr=lr)
        sched = nr.optim.lr_scheduler.CosineAnnealingLR(opt, epochs) if cosine else None
        history = []
        for epoch in range(epochs):
            mlp.train()
            total = 0.0
            for idx in minibatches(x.shape[0], batch_size):
                loss = F.cross_entropy(mlp(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.item()) * len(idx)
            history.append(total / x.shape[0])
            if sched is not None:
                sched.step()
            if verbose:
                print(f"fine-tune epoch {epoch + 1}: loss {history[-1]:.4f}")
        return mlp, history

    def sample(self, n, steps=200):
        """Generate: Gibbs-sample the top RBM (the undirected associative memory), then run
        the directed down-pass with each lower RBM's p(v|h). Returns visible means."""
        top = self.rbms[-1]
        with nr.no_grad():
            h, mean = top.sample(n, steps)
            for rbm in reversed(list(self.rbms)[:-1]):
                h, mean = rbm.sample_v(h)
            return mean
