"""Restricted Boltzmann machines: Bernoulli-Bernoulli and Gaussian-Bernoulli.

An RBM puts p(v, h) = exp(-E(v, h)) / Z on visible v and hidden h with no within-layer
connections, so both conditionals factorise and Gibbs sampling alternates whole layers.
Summing h out gives the free energy F(v) = -log sum_h exp(-E(v, h)), p(v) = exp(-F(v)) / Z,
and the log-likelihood gradient

    -d log p(v)/d theta = dF(v)/d theta - E_{v' ~ model}[dF(v')/d theta].

Contrastive divergence (Hinton, 2002) replaces the model expectation by v_k, k Gibbs steps
from the data; persistent CD (Tieleman, 2008) keeps the chains between updates instead of
restarting them at the data. Here both are one differentiable expression,
``cd_loss = mean F(v_0) - mean F(v_k)`` with v_k held constant, whose autograd gradient is
exactly the CD update <v h>_data - <v h>_model (with p(h|v) in place of sampled h).
"""
import itertools
import math

import narae as nr

from .. import nn
from ..nn import functional as F

__all__ = ["BernoulliRBM", "GaussianBernoulliRBM", "RBM", "all_binary_states"]


def all_binary_states(n, dtype=None):
    """The 2**n binary vectors of length n as rows of a Tensor, in counting order (the row
    index, read as a binary number with unit 0 most significant)."""
    if n > 24:
        raise ValueError(f"all_binary_states: 2**{n} states is too many to enumerate")
    rows = list(itertools.product((0.0, 1.0), repeat=n))
    return nr.tensor(rows, dtype=dtype or nr.get_default_dtype()).reshape(2 ** n, n)


class _RBM(nn.Module):
    """Shared machinery; subclasses define the visible units' energy and conditional."""

    def __init__(self, n_visible, n_hidden, init_std=0.01):
        super().__init__()
        self.n_visible, self.n_hidden = n_visible, n_hidden
        self.W = nn.Parameter(nr.randn(n_visible, n_hidden) * init_std)
        self.v_bias = nn.Parameter(nr.zeros(n_visible))
        self.h_bias = nn.Parameter(nr.zeros(n_hidden))
        self.register_buffer("chain", None, persistent=False)  # persistent CD's fantasy v

    # -- hidden units (Bernoulli in both models) ---------------------------------------
    def _check(self, v):
        if v.ndim != 2 or v.shape[1] != self.n_visible:
            raise RuntimeError(f"{type(self).__name__}: visible input of shape "
                               f"{tuple(v.shape)}, expected (batch, {self.n_visible})")

    def _visible_signal(self, v):
        """What the hidden units see: v (Bernoulli) or v / sigma (Gaussian)."""
        return v

    def hidden_input(self, v):
        return self.h_bias + self._visible_signal(v) @ self.W

    def prob_h(self, v):
        """p(h_j = 1 | v) = sigmoid(c_j + sum_i v_i W_ij)."""
        return self.hidden_input(v).sigmoid()

    def sample_h(self, v):
        p = self.prob_h(v)
        return p, nr.bernoulli(p)

    def forward(self, v):
        """Hidden probabilities: the features a DBN passes up."""
        self._check(v)
        return self.prob_h(v)

    transform = forward

    # -- Gibbs sampling ---------------------------------------------------------------------
    def gibbs_step(self, v):
        """One full step v -> h ~ p(h|v) -> v' ~ p(v|h); returns (v', mean of p(v|h))."""
        _, h = self.sample_h(v)
        return self.sample_v(h)

    def gibbs(self, v, k=1):
        """v_k after ``k`` Gibbs steps from ``v`` (no gradient); returns (sample, mean)."""
        mean = v
        with nr.no_grad():
            for _ in range(k):
                v, mean = self.gibbs_step(v)
        return v, mean

    def sample(self, n, steps=1000, init=None):
        """Run ``n`` chains for ``steps`` Gibbs steps from ``init`` (default: random visible
        states); returns (states, means) of the last step."""
        if init is None:
            init = self.random_visible(n)
        return self.gibbs(init, steps)

    # -- learning ---------------------------------------------------------------------------
    def cd_loss(self, v0, k=1, persistent=False):
        """Surrogate whose gradient is the CD-k (or PCD-k) estimate of -d log p(v0)/d theta.

        With ``persistent=True`` the negative chains start from ``self.chain`` (initialised
        from ``v0`` on first use) and their new state is stored back there.
        """
        self._check(v0)
        if persistent:
            start = self.chain if self.chain is not None else v0.detach()
        else:
            start = v0.detach()
        vk, _ = self.gibbs(start, k)
        if persistent:
            self.chain = vk.detach()
        return self.free_energy(v0).mean() - self.free_energy(vk.detach()).mean()

    def reconstruction_error(self, v):
        """Mean squared error of the mean-field reconstruction E[v | p(h|v)] (a rough
        progress monitor: it is not what CD optimises)."""
        with nr.no_grad():
            _, mean = self.sample_v(self.prob_h(v))
            return float(((v - mean) ** 2).sum(1).mean().item())

    def fit(self, data, epochs=10, batch_size=32, lr=0.05, k=1, persistent=False,
            momentum=0.5, weight_decay=1e-4, verbose=False):
        """Mini-batch SGD (momentum, L2 on W only) on ``cd_loss``. Returns the per-epoch
        reconstruction errors on ``data``."""
        from .autoencoder import minibatches
        self._check(data)
        opt = nr.optim.SGD([{"params": [self.W], "weight_decay": weight_decay},
                            {"params": [self.v_bias, self.h_bias]}], lr=lr, momentum=momentum)
        errors = [self.reconstruction_error(data)]
        for epoch in range(epochs):
            for idx in minibatches(data.shape[0], batch_size):
                loss = self.cd_loss(data[idx], k=k, persistent=persistent)
                opt.zero_grad()
                loss.backward()
                opt.step()
            errors.append(self.reconstruction_error(data))
            if verbose:
                print(f"epoch {epoch + 1}: reconstruction error {errors[-1]:.4f}")
        return errors

    # -- exact quantities for tiny models (tests, debugging) --------------------------------
    def log_partition(self):
        """log Z by summing exp(-F(v)) over all binary visible states (Bernoulli only;
        differentiable, so it also gives the exact gradient of log Z)."""
        raise NotImplementedError(f"{type(self).__name__} has no enumerable partition function")

    def log_likelihood(self, v):
        """Exact log p(v) = -F(v) - log Z per sample (tiny models only)."""
        return -self.free_energy(v) - self.log_partition()


class BernoulliRBM(_RBM):
    """Binary visible and hidden units.

    E(v, h) = -b.v - c.h - v^T W h,  F(v) = -b.v - sum_j softplus(c_j + (v^T W)_j),
    p(v_i = 1 | h) = sigmoid(b_i + (W h)_i).
    """

    def energy(self, v, h):
        return -(v @ self.v_bias) - (h @ self.h_bias) - ((v @ self.W) * h).sum(-1)

    def free_energy(self, v):
        return -(v @ self.v_bias) - F.softplus(self.hidden_input(v)).sum(-1)

    def prob_v(self, h):
        return (self.v_bias + h @ self.W.T).sigmoid()

    def sample_v(self, h):
        p = self.prob_v(h)
        return nr.bernoulli(p), p

    def random_visible(self, n):
        return nr.bernoulli(nr.full((n, self.n_visible), 0.5))

    def log_partition(self):
        if self.n_visible > 20:
            raise ValueError(f"log_partition: 2**{self.n_visible} visible states is too many")
        return nr.logsumexp(-self.free_energy(all_binary_states(self.n_visible, self.W.dtype)), 0)

    def pseudo_log_likelihood(self, v, stochastic=False):
        """sum_i log p(v_i | v_-i) per sample, with log p(v_i | v_-i) = log sigmoid(F(v with
        bit i flipped) - F(v)) (Besag's pseudo-likelihood: no partition function needed).

        ``stochastic=True`` uses one random bit per sample times ``n_visible`` (an unbiased
        estimate at one extra free-energy evaluation, as scikit-learn's ``score_samples``).
        """
        self._check(v)
        with nr.no_grad():
            fv = self.free_energy(v)
            if stochastic:
                i = nr.randint(0, self.n_visible, (v.shape[0],))
                flip = F.one_hot(i, self.n_visible).to(v.dtype)
                delta = self.free_energy(v + flip - 2 * v * flip) - fv
                return self.n_visible * F.logsigmoid(delta)
            total = nr.zeros(v.shape[0])
            eye = nr.eye(self.n_visible, dtype=v.dtype)
            for i in range(self.n_visible):
                flipped = v + eye[i] - 2 * v * eye[i]
                total = total + F.logsigmoid(self.free_energy(flipped) - fv)
            return total


RBM = BernoulliRBM


class GaussianBernoulliRBM(_RBM):
    """Real-valued visible units with fixed standard deviations ``sigma`` (Hinton's guide:
    standardise the data and use sigma = 1), binary hidden units.

    E(v, h) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - c.h - sum_ij (v_i / sigma_i) W_ij h_j,
    F(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(c_j + ((v / sigma)^T W)_j),
    p(v | h) = N(b + sigma * (W h), diag(sigma^2)),  p(h_j = 1 | v) = sigmoid(c_j + ...).
    """

    def __init__(self, n_visible, n_hidden, sigma=1.0, init_std=0.01):
        super().__init__(n_visible, n_hidden, init_std)
        self.register_buffer("sigma", nr.full((n_visible,), float(sigma)))

    def _visible_signal(self, v):
        return v / self.sigma

    def _quadratic(self, v):
        return (((v - self.v_bias) / self.sigma) ** 2).sum(-1) / 2

    def energy(self, v, h):
        return (self._quadratic(v) - (h @ self.h_bias)
                - ((self._visible_signal(v) @ self.W) * h).sum(-1))

    def free_energy(self, v):
        return self._quadratic(v) - F.softplus(self.hidden_input(v)).sum(-1)

    def mean_v(self, h):
        return self.v_bias + self.sigma * (h @ self.W.T)

    def sample_v(self, h):
        mean = self.mean_v(h)
        return mean + self.sigma * nr.randn_like(mean), mean

    def random_visible(self, n):
        return self.v_bias.detach() + self.sigma * nr.randn(n, self.n_visible)

    def log_partition(self):
        """Exact log Z by enumerating the hidden states: integrating v out of exp(-E)
        leaves a Gaussian integral, log Z = logsumexp_h [c.h + sum_i (b_i/sigma_i (Wh)_i +
        (Wh)_i^2 / 2)] + sum_i log(sigma_i sqrt(2 pi))."""
        if self.n_hidden > 20:
            raise ValueError(f"log_partition: 2**{self.n_hidden} hidden states is too many")
        h = all_binary_states(self.n_hidden, self.W.dtype)
        wh = h @ self.W.T                                          # (2^H, V)
        a = h @ self.h_bias + ((self.v_bias / self.sigma) * wh + wh * wh / 2).sum(-1)
        const = (self.sigma.log() + 0.5 * math.log(2 * math.pi)).sum()
        return nr.logsumexp(a, 0) + const
