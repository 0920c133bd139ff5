"""Autoencoders: basic, stacked (greedy layer-wise), sparse, denoising and convolutional.

An autoencoder learns ``x -> code -> x_hat`` with a reconstruction loss; what it is forced
to keep in the code is what makes it useful. Each model here has ``encode``, ``decode``,
``forward`` (the reconstruction) and ``loss(x)`` (the training objective, which may add a
penalty or corrupt the input), so one ``train_autoencoder`` loop trains them all.

    ae = Autoencoder(64, [32], activation="sigmoid")
    history = train_autoencoder(ae, x, epochs=20)       # x: (N, 64) in [0, 1]
"""
import narae as nr

from .. import nn
from ..nn import functional as F

__all__ = ["Autoencoder", "LinearAutoencoder", "SparseAutoencoder", "DenoisingAutoencoder",
           "StackedAutoencoder", "ConvAutoencoder", "train_autoencoder", "minibatches",
           "kl_sparsity", "corrupt"]

_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU,
                "leaky_relu": nn.LeakyReLU}


def _activation(name):
    """A fresh activation module from a name, a module class, or None (identity)."""
    if name is None or name == "linear" or name == "identity":
        return None
    if isinstance(name, str):
        try:
            return _ACTIVATIONS[name]()
        except KeyError:
            raise ValueError(f"unknown activation {name!r}; known: {sorted(_ACTIVATIONS)}") \
                from None
    return name() if isinstance(name, type) else name


def _mlp(sizes, activation, last_activation):
    """Linear layers through ``sizes`` with ``activation`` between them, ``last_activation``
    after the last."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        act = _activation(last_activation if i == len(sizes) - 2 else activation)
        if act is not None:
            layers.append(act)
    return nn.Sequential(*layers)


def minibatches(n, batch_size, shuffle=True):
    """Index Tensors covering ``range(n)`` in batches (a fresh permutation if ``shuffle``)."""
    order = nr.randperm(n) if shuffle else nr.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def corrupt(x, kind="mask", level=0.3):
    """A corrupted copy of ``x`` for denoising: ``mask`` zeroes each input with probability
    ``level`` (Vincent et al., 2008), ``gaussian`` adds N(0, level^2), ``salt_pepper`` sets
    a ``level`` fraction of inputs to 0 or 1 at random."""
    if kind == "mask":
        return x * nr.bernoulli(nr.full_like(x, 1.0 - level))
    if kind == "gaussian":
        return x + level * nr.randn_like(x)
    if kind == "salt_pepper":
        hit = nr.bernoulli(nr.full_like(x, level))
        salt = nr.bernoulli(nr.full_like(x, 0.5))
        return x * (1 - hit) + salt * hit
    raise ValueError(f"corrupt: unknown kind {kind!r} (mask, gaussian, salt_pepper)")


def kl_sparsity(h, rho):
    """Sum over units of KL(rho || rho_hat_j), rho_hat_j = mean activation of unit j.

    KL(rho||q) = rho log(rho/q) + (1-rho) log((1-rho)/(1-q)) pushes each hidden unit's
    average firing rate towards ``rho`` (needs activations in (0, 1), i.e. sigmoid codes).
    """
    q = h.mean(0).clamp(1e-6, 1 - 1e-6)
    return (rho * (rho / q).log() + (1 - rho) * ((1 - rho) / (1 - q)).log()).sum()


class Autoencoder(nn.Module):
    """MLP autoencoder ``n_in -> hidden[0] -> ... -> hidden[-1]`` and the mirror back.

    ``output_activation="sigmoid"`` with ``loss="bce"`` suits inputs in [0, 1]; ``None`` with
    ``loss="mse"`` suits real-valued inputs. ``code_activation`` defaults to ``activation``.
    """

    def __init__(self, n_in, hidden, activation="sigmoid", output_activation="sigmoid",
                 code_activation="same", loss="mse"):
        super().__init__()
        hidden = [hidden] if isinstance(hidden, int) else list(hidden)
        if not hidden:
            raise ValueError("Autoencoder needs at least one hidden size")
        code_act = activation if code_activation == "same" else code_activation
        self.n_in, self.hidden = n_in, hidden
        self.encoder = _mlp([n_in] + hidden, activation, code_act)
        self.decoder = _mlp(hidden[::-1] + [n_in], activation, output_activation)
        if loss not in ("mse", "bce"):
            raise ValueError(f"Autoencoder: loss must be 'mse' or 'bce', got {loss!r}")
        self.loss_name = loss

    def encode(self, x):
        return self.encoder(x)

    def decode(self, h):
        return self.decoder(h)

    def forward(self, x):
        return self.decode(self.encode(x))

    def reconstruction_loss(self, x_hat, x):
        if self.loss_name == "bce":
            return F.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), x)
        return F.mse_loss(x_hat, x)

    def loss(self, x):
        return self.reconstruction_loss(self(x), x)


class LinearAutoencoder(Autoencoder):
    """No non-linearity anywhere, MSE loss: at the optimum the decoder's columns span the
    same k-dimensional subspace as PCA's top k components (Baldi & Hornik, 1989), though
    they need not be orthogonal nor the components themselves."""

    def __init__(self, n_in, k, bias=True):
        super().__init__(n_in, [k], activation=None, output_activation=None, loss="mse")
        if not bias:
            self.encoder[0].register_parameter("bias", None)
            self.decoder[0].register_parameter("bias", None)

    def subspace(self):
        """The decoder weight (n_in, k): its columns span the learned subspace."""
        return self.decoder[0].weight.detach()


class SparseAutoencoder(Autoencoder):
    """Adds a sparsity penalty on the code: ``l1`` (beta * mean |h|) or ``kl`` (beta * sum
    KL(rho || mean activation), Ng's sparse autoencoder; needs sigmoid codes).

    Often over-complete (more hidden units than inputs): without the penalty it could copy.
    """

    def __init__(self, n_in, n_hidden, sparsity="kl", beta=0.1, rho=0.05, **kwargs):
        kwargs.setdefault("activation", "sigmoid")
        super().__init__(n_in, [n_hidden], **kwargs)
        if sparsity not in ("l1", "kl"):
            raise ValueError(f"SparseAutoencoder: sparsity must be 'l1' or 'kl', got "
                             f"{sparsity!r}")
        self.sparsity, self.beta, self.rho = sparsity, beta, rho

    def penalty(self, h):
        if self.sparsity == "l1":
            return h.abs().sum(1).mean()
        return kl_sparsity(h, self.rho)

    def loss(self, x):
        h = self.encode(x)
        return self.reconstruction_loss(self.decode(h), x) + self.beta * self.penalty(h)


class DenoisingAutoencoder(Autoencoder):
    """Reconstructs the clean ``x`` from a corrupted copy (Vincent et al., 2008): the code
    must capture the dependencies between inputs in order to fill in what was destroyed.

    ``forward`` is the plain reconstruction (no corruption), used to denoise at test time.
    """

    def __init__(self, n_in, hidden, noise="mask", noise_level=0.3, **kwargs):
        super().__init__(n_in, hidden, **kwargs)
        self.noise, self.noise_level = noise, noise_level

    def corrupt(self, x):
        return corrupt(x, self.noise, self.noise_level)

    def loss(self, x):
        return self.reconstruction_loss(self(self.corrupt(x)), x)


class ConvAutoencoder(nn.Module):
    """Strided-conv encoder, transposed-conv decoder: each stage halves (doubles) H and W.

    ``channels=(16, 32)`` on 8x8 images: 1x8x8 -> 16x4x4 -> 32x2x2 -> 16x4x4 -> 1x8x8. A
    ConvTranspose2d(k=4, s=2, p=1) exactly inverts the spatial shape of Conv2d(k=4, s=2, p=1).
    """

    def __init__(self, in_channels=1, channels=(16, 32), activation="relu"):
        super().__init__()
        enc, dec = [], []
        widths = [in_channels] + list(channels)
        for a, b in zip(widths[:-1], widths[1:]):
            enc += [nn.Conv2d(a, b, 4, stride=2, padding=1), _activation(activation)]
        back = widths[::-1]
        for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
            dec.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1))
            dec.append(nn.Sigmoid() if i == len(back) - 2 else _activation(activation))
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)

    def encode(self, x):
        if x.ndim != 4:
            raise RuntimeError(f"ConvAutoencoder: expected input (N, C, H, W), got shape "
                               f"{tuple(x.shape)}")
        return self.encoder(x)

    def decode(self, h):
        return self.decoder(h)

    def forward(self, x):
        return self.decode(self.encode(x))

    def loss(self, x):
        return F.mse_loss(self(x), x)


class StackedAutoencoder(nn.Module):
    """Deep autoencoder built by greedy layer-wise pre-training, then fine-tuned end to end.

    ``pretrain`` trains one shallow autoencoder per layer (layer i reconstructs the codes of
    layer i-1, optionally as a denoising autoencoder) and keeps its encoder and decoder;
    ``fine_tune`` trains the whole stack on reconstruction; ``classifier(n_classes)``
    returns the encoder plus a Linear head for supervised fine-tuning (Bengio et al., 2007).
    """

    def __init__(self, sizes, activation="sigmoid", noise=None, noise_level=0.3):
        super().__init__()
        if len(sizes) < 2:
            raise ValueError("StackedAutoencoder needs sizes [n_in, h1, ...]")
        self.sizes = list(sizes)
        self.activation, self.noise, self.noise_level = activation, noise, noise_level
        self.layers = nn.ModuleList(
            Autoencoder(a, [b], activation=activation, output_activation=activation
                        if i > 0 else "sigmoid")
            for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:])))

    def encode(self, x):
        for ae in self.layers:
            x = ae.encode(x)
        return x

    def decode(self, h):
        for ae in reversed(self.layers):
            h = ae.decode(h)
        return h

    def forward(self, x):
        return self.decode(self.encode(x))

    def loss(self, x):
        return F.mse_loss(self(x), x)

    def pretrain(self, x, epochs=10, batch_size=64, lr=1e-2, verbose=False):
        """Greedy: train layer i alone on the (fixed) codes of layers < i. Returns the final
        reconstruction loss of each layer."""
        losses = []
        h = x.detach()
        for i, ae in enumerate(self.layers):
            loss_fn = None
            if self.noise is not None:
                def loss_fn(model, xb):  # denoising: reconstruct the clean input
                    return model.reconstruction_loss(
                        model(corrupt(xb, self.noise, self.noise_level)), xb)
            hist = train_autoencoder(ae, h, epochs=epochs, batch_size=batch_size, lr=lr,
                                     loss_fn=loss_fn)
            losses.append(hist[-1])
            if verbose:
                print(f"layer {i}: reconstruction loss {hist[-1]:.4f}")
            with nr.no_grad():
                h = ae.encode(h)
        return losses

    def fine_tune(self, x, epochs=10, batch_size=64, lr=1e-3):
        """End-to-end reconstruction training of the whole stack."""
        return train_autoencoder(self, x, epochs=epochs, batch_size=batch_size, lr=lr)

    def classifier(self, n_classes):
        """Encoder layers (shared Parameters) followed by a fresh Linear(n_code, n_classes)."""
        mods = []
        for ae in self.layers:
            mods.extend(ae.encoder)
        return nn.Sequential(*mods, nn.Linear(self.sizes[-1], n_classes))


def train_autoencoder(model, x, epochs=10, batch_size=64, lr=1e-3, optimizer=None,
                      loss_fn=None):
    """Mini-batch Adam on ``model.loss(xb)`` (or ``loss_fn(model, xb)``); returns the mean
    training loss of each epoch."""
    opt = optimizer or nr.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for idx in minibatches(x.shape[0], batch_size):
            xb = x[idx]
            loss = loss_fn(model, xb) if loss_fn is not None else model.loss(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.item()) * len(idx)
            count += len(idx)
        history.append(total / count)
    return history
