"""A small fully-connected Boltzmann machine (Ackley, Hinton & Sejnowski, 1985).

Binary units s in {0, 1}^n (the first ``n_visible`` visible, the rest hidden), symmetric
weights with zero diagonal, p(s) = exp(-E(s)) / Z with E(s) = -1/2 s^T W s - b^T s.
Each unit's conditional is p(s_i = 1 | s_-i) = sigmoid(sum_j W_ij s_j + b_i), so Gibbs
sampling updates one unit at a time. The classic learning rule follows the log-likelihood
gradient of the visible data:

    dW_ij = lr * (<s_i s_j>_clamped - <s_i s_j>_free),   db_i = lr * (<s_i>_clamped - <s_i>_free)

("clamped": visible units fixed to data, hidden units sampled; "free": the model running
alone). With no hidden units the clamped statistics are just the data's.
"""
import narae as nr

from .. import nn
from .rbm import all_binary_states

__all__ = ["BoltzmannMachine", "state_index", "empirical_distribution"]


def state_index(s):
    """Each binary row's index in ``all_binary_states`` order (unit 0 most significant)."""
    n = s.shape[-1]
    powers = nr.tensor([2.0 ** (n - 1 - i) for i in range(n)], dtype=s.dtype)
    return (s @ powers).round().long()


def empirical_distribution(s):
    """Frequencies of the 2**n states among the rows of ``s`` (a Tensor of length 2**n)."""
    n = s.shape[-1]
    counts = nr.zeros(2 ** n)
    idx = state_index(s)
    counts = counts.index_add(0, idx, nr.ones(idx.shape[0]))
    return counts / idx.shape[0]


class BoltzmannMachine(nn.Module):
    """Fully-connected binary Boltzmann machine trained with the clamped/free learning rule
    (the update is applied directly to the Parameters; no autograd is needed)."""

    def __init__(self, n_visible, n_hidden=0, init_std=0.1):
        super().__init__()
        n = n_visible + n_hidden
        self.n_visible, self.n_hidden, self.n_units = n_visible, n_hidden, n
        w = nr.randn(n, n) * init_std
        w = (w + w.T) / 2 * (1 - nr.eye(n))
        self.W = nn.Parameter(w, requires_grad=False)
        self.b = nn.Parameter(nr.zeros(n), requires_grad=False)
        self.register_buffer("chain", None, persistent=False)

    def energy(self, s):
        """E(s) = -1/2 s^T W s - b^T s, per row."""
        return -0.5 * ((s @ self.W) * s).sum(-1) - s @ self.b

    def unit_prob(self, s, i):
        """p(s_i = 1 | all other units) for every row of ``s`` (W_ii = 0, so s_i drops)."""
        return (s @ self.W[:, i] + self.b[i]).sigmoid()

    def gibbs_sweep(self, s, units=None):
        """Update each unit in ``units`` (default all) in turn, in place on a copy."""
        s = s.clone()
        with nr.no_grad():
            for i in (range(self.n_units) if units is None else units):
                s[:, i] = nr.bernoulli(self.unit_prob(s, i))
        return s

    def random_states(self, n):
        return nr.bernoulli(nr.full((n, self.n_units), 0.5))

    def sample(self, n_chains=100, sweeps=100, init=None, collect_after=None):
        """Final states of ``n_chains`` chains after ``sweeps`` sweeps, or (with
        ``collect_after=t``) every chain's state after each sweep t+1..sweeps, stacked."""
        s = self.random_states(n_chains) if init is None else init
        kept = []
        for t in range(sweeps):
            s = self.gibbs_sweep(s)
            if collect_after is not None and t >= collect_after:
                kept.append(s)
        return nr.cat(kept, 0) if kept else s

    # -- exact quantities (enumeration: tiny models only) -------------------------------
    def exact_distribution(self):
        """p(s) for all 2**n states (``all_binary_states`` order)."""
        with nr.no_grad():
            return (-self.energy(all_binary_states(self.n_units, self.W.dtype))).softmax(0)

    def exact_visible_distribution(self):
        """p(v) for all 2**n_visible visible states, hidden units summed out."""
        p = self.exact_distribution()
        return p.reshape(2 ** self.n_visible, 2 ** self.n_hidden).sum(1)

    @staticmethod
    def _moments(s, weights=None):
        """(<s s^T>, <s>) over the rows of ``s``, optionally weighted."""
        if weights is None:
            return s.T @ s / s.shape[0], s.mean(0)
        return (s * weights[:, None]).T @ s, weights @ s

    def _exact_clamped(self, v):
        """Clamped moments with p(h | v) computed by enumerating the hidden states."""
        if self.n_hidden == 0:
            return self._moments(v)
        hs = all_binary_states(self.n_hidden, self.W.dtype)
        n, k = v.shape[0], hs.shape[0]
        full = nr.cat([v[:, None, :].expand(n, k, self.n_visible),
                       hs[None].expand(n, k, self.n_hidden)], 2).reshape(n * k, self.n_units)
        w = (-self.energy(full)).reshape(n, k).softmax(1).reshape(n * k) / n
        return self._moments(full, w)

    # -- learning ---------------------------------------------------------------------------
    def learning_step(self, v, lr=0.1, sweeps=10, n_chains=200, exact=False):
        """One application of the Boltzmann learning rule on the visible batch ``v``.

        ``exact=True`` computes both phases' statistics by enumeration; otherwise the
        clamped phase Gibbs-samples the hidden units with v fixed and the free phase runs
        ``n_chains`` persistent chains for ``sweeps`` sweeps.
        """
        with nr.no_grad():
            if exact:
                corr_c, mean_c = self._exact_clamped(v)
                states = all_binary_states(self.n_units, self.W.dtype)
                corr_f, mean_f = self._moments(states, self.exact_distribution())
            else:
                s = nr.cat([v, nr.bernoulli(nr.full((v.shape[0], self.n_hidden), 0.5))], 1)
                hidden = range(self.n_visible, self.n_units)
                for _ in range(sweeps if self.n_hidden else 0):
                    s = self.gibbs_sweep(s, hidden)
                corr_c, mean_c = self._moments(s)
                if self.chain is None or self.chain.shape[0] != n_chains:
                    self.chain = self.random_states(n_chains)
                self.chain = self.sample(init=self.chain, sweeps=sweeps)
                corr_f, mean_f = self._moments(self.chain)
            mask = 1 - nr.eye(self.n_units)
            self.W.add_(lr * (corr_c - corr_f) * mask)
            self.b.add_(lr * (mean_c - mean_f))

    def fit(self, data, epochs=100, lr=0.1, sweeps=10, n_chains=200, exact=False):
        """Full-batch learning steps; returns KL(data || model) over visible states after
        each step when the model is small enough to enumerate, else an empty list."""
        target = empirical_distribution(data) if self.n_units <= 16 else None
        history = []
        for _ in range(epochs):
            self.learning_step(data, lr=lr, sweeps=sweeps, n_chains=n_chains, exact=exact)
            if target is not None:
                history.append(kl_divergence(target, self.exact_visible_distribution()))
        return history


def kl_divergence(p, q, eps=1e-12):
    """KL(p || q) between two distributions over the same states (a float)."""
    mask = p > 0
    return float((p * ((p + eps).log() - (q + eps).log()) * mask).sum().item())
