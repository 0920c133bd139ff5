"""Variational autoencoder (Kingma & Welling, 2014).

The encoder gives q(z|x) = N(mu(x), diag(exp(logvar(x)))); the decoder gives Bernoulli
logits p(x|z). Training maximises the evidence lower bound

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)),

with the expectation estimated by one reparameterised sample z = mu + sigma * eps,
eps ~ N(0, I): the noise is an input, so gradients flow through mu and sigma.
"""
import narae as nr

from .. import nn
from ..nn import functional as F

__all__ = ["VAE", "kl_normal", "reparameterize", "train_vae"]


def kl_normal(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample, summed over latent dimensions.

    Closed form: -1/2 * sum(1 + logvar - mu^2 - exp(logvar)).
    """
    return -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum(-1)


def reparameterize(mu, logvar):
    """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) drawn from narae's generator."""
    return mu + (0.5 * logvar).exp() * nr.randn_like(mu)


class VAE(nn.Module):
    """MLP VAE for inputs in [0, 1] flattened to ``n_in`` values (Bernoulli likelihood)."""

    def __init__(self, n_in=64, hidden=(128,), latent_dim=2, activation=nn.ReLU):
        super().__init__()
        hidden = [hidden] if isinstance(hidden, int) else list(hidden)
        self.n_in, self.latent_dim = n_in, latent_dim
        enc, width = [], n_in
        for h in hidden:
            enc += [nn.Linear(width, h), activation()]
            width = h
        self.encoder = nn.Sequential(*enc)
        self.mu = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim)
        dec, width = [], latent_dim
        for h in reversed(hidden):
            dec += [nn.Linear(width, h), activation()]
            width = h
        dec.append(nn.Linear(width, n_in))
        self.decoder = nn.Sequential(*dec)

    def _flat(self, x):
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.n_in:
            raise RuntimeError(f"VAE: input of shape {tuple(x.shape)} does not flatten to "
                               f"{self.n_in} values per sample")
        return x

    def encode(self, x):
        """(mu, logvar) of q(z|x)."""
        h = self.encoder(self._flat(x))
        return self.mu(h), self.logvar(h)

    def decode_logits(self, z):
        return self.decoder(z)

    def decode(self, z):
        """Mean of p(x|z): pixel probabilities."""
        return self.decoder(z).sigmoid()

    def forward(self, x):
        """(reconstruction probabilities, mu, logvar) from one sample of q(z|x)."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar

    def loss(self, x, beta=1.0):
        """Negative ELBO per sample (nats): Bernoulli reconstruction NLL + beta * KL."""
        x = self._flat(x)
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        rec = F.binary_cross_entropy_with_logits(self.decode_logits(z), x, reduction="sum")
        return rec / x.shape[0] + beta * kl_normal(mu, logvar).mean()

    def sample(self, n):
        """``n`` images decoded from z ~ N(0, I) (pixel probabilities, shape (n, n_in))."""
        with nr.no_grad():
            return self.decode(nr.randn(n, self.latent_dim))

    def interpolate(self, x0, x1, steps=8):
        """Decodings of the straight line between the posterior means of ``x0`` and ``x1``
        (shape (steps, n_in)); both endpoints included."""
        with nr.no_grad():
            mu0, _ = self.encode(x0.reshape(1, -1))
            mu1, _ = self.encode(x1.reshape(1, -1))
            t = nr.linspace(0.0, 1.0, steps).reshape(steps, 1)
            return self.decode(mu0 * (1 - t) + mu1 * t)


def train_vae(model, x, epochs=20, batch_size=64, lr=1e-3, beta=1.0):
    """Mini-batch Adam on the negative ELBO; returns each epoch's mean loss per sample."""
    from .autoencoder import minibatches
    opt = nr.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for idx in minibatches(x.shape[0], batch_size):
            loss = model.loss(x[idx], beta=beta)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.item()) * len(idx)
            count += len(idx)
        history.append(total / count)
    return history
