"""Generative adversarial networks (Goodfellow et al., 2014) and DCGAN (Radford et al., 2016).

D maximises log D(x) + log(1 - D(G(z))); G plays the same game with the opposite sign
("minimax" loss: minimise log(1 - D(G(z)))), or, because that loss saturates when D rejects
G's samples early in training, maximises log D(G(z)) instead ("non_saturating"). D outputs
logits and the losses use the stable log-sigmoid forms.

DCGAN's architecture rules (section 3 of the paper), all followed by ``DCGANGenerator`` and
``DCGANDiscriminator``: strided convolutions (D) and fractionally-strided (transposed)
convolutions (G) instead of pooling; no fully-connected hidden layers (only G's first layer,
a projection of z reshaped to a small feature map; D's last conv is flattened into a single
output); batch norm in both, except on G's output layer and D's input layer; ReLU in G with
Tanh on the output; LeakyReLU(0.2) in D. Weights start at N(0, 0.02); Adam, lr 2e-4,
beta1 = 0.5.
"""
import os

import narae as nr

from .. import nn
from ..nn import functional as F
from .autoencoder import minibatches

__all__ = ["MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator",
           "GAN", "dcgan_init_", "discriminator_loss", "generator_loss"]


def discriminator_loss(real_logits, fake_logits):
    """-[log D(x) + log(1 - D(G(z)))], batch means (the same for both GAN variants)."""
    return (F.binary_cross_entropy_with_logits(real_logits, nr.ones_like(real_logits)) +
            F.binary_cross_entropy_with_logits(fake_logits, nr.zeros_like(fake_logits)))


def generator_loss(fake_logits, kind="non_saturating"):
    """``minimax``: mean log(1 - D(G(z))) = -softplus(logit); ``non_saturating``:
    -mean log D(G(z)) = softplus(-logit)."""
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    raise ValueError(f"generator_loss: kind must be 'minimax' or 'non_saturating', got {kind!r}")


def dcgan_init_(module):
    """DCGAN's initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), zero
    biases. Use as ``model.apply(dcgan_init_)``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class MLPGenerator(nn.Module):
    """z -> ReLU MLP -> Sigmoid pixels in [0, 1] (flat, ``n_out`` values)."""
    tanh_output = False

    def __init__(self, latent_dim=16, hidden=(128,), n_out=64):
        super().__init__()
        layers, width = [], latent_dim
        for h in ([hidden] if isinstance(hidden, int) else hidden):
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers += [nn.Linear(width, n_out), nn.Sigmoid()]
        self.latent_dim = latent_dim
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """x (flattened) -> LeakyReLU MLP -> one logit per sample."""

    def __init__(self, n_in=64, hidden=(128,)):
        super().__init__()
        layers, width = [], n_in
        for h in ([hidden] if isinstance(hidden, int) else hidden):
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x.reshape(x.shape[0], -1)).reshape(-1)


def _stages(image_size, base_size):
    n, size = 0, image_size
    while size > base_size:
        if size % 2:
            raise ValueError(f"DCGAN: image_size {image_size} must be base_size {base_size} "
                             "times a power of two")
        size //= 2
        n += 1
    if size != base_size or n == 0:
        raise ValueError(f"DCGAN: image_size {image_size} must be base_size {base_size} times "
                         "a power of two (at least 2)")
    return n


class DCGANGenerator(nn.Module):
    """z -> Linear projection to (ngf * 2^(n-1), base, base) -> BN -> ReLU ->
    [ConvTranspose2d(4, 2, 1) -> BN -> ReLU] * (n - 1) -> ConvTranspose2d(4, 2, 1) -> Tanh.

    8x8 digits: base 2, n = 2 (2x2 -> 4x4 -> 8x8); the paper's 64x64: base 4, n = 4.
    """
    tanh_output = True

    def __init__(self, latent_dim=16, ngf=32, channels=1, image_size=8, base_size=None):
        super().__init__()
        base = base_size or (4 if image_size >= 32 else 2)
        n = _stages(image_size, base)
        width = ngf * 2 ** (n - 1)
        self.latent_dim = latent_dim
        layers = [nn.Linear(latent_dim, width * base * base, bias=False),
                  nn.Unflatten(1, (width, base, base)), nn.BatchNorm2d(width), nn.ReLU()]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init_)

    def forward(self, z):
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """x -> Conv2d(4, 2, 1) -> LeakyReLU (no BN on the input layer) ->
    [Conv2d(4, 2, 1) -> BN -> LeakyReLU] * (n - 1) -> Conv2d(base) to 1x1 -> one logit."""

    def __init__(self, channels=1, ndf=32, image_size=8, base_size=None):
        super().__init__()
        base = base_size or (4 if image_size >= 32 else 2)
        n = _stages(image_size, base)
        width = ndf
        layers = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        for _ in range(n - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2)]
            width *= 2
        layers += [nn.Conv2d(width, 1, base, 1, 0), nn.Flatten(0)]
        self.image_size, self.channels = image_size, channels
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init_)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.channels or x.shape[2] != self.image_size:
            raise RuntimeError(f"DCGANDiscriminator: input of shape {tuple(x.shape)}, expected "
                               f"(N, {self.channels}, {self.image_size}, {self.image_size})")
        return self.net(x)


class GAN(nn.Module):
    """A generator/discriminator pair and its training loop.

    Data given to ``fit`` and images returned by ``sample`` are in [0, 1] with the
    discriminator's input shape; a Tanh generator works in [-1, 1] internally.
    """

    def __init__(self, generator, discriminator, loss="non_saturating"):
        super().__init__()
        if loss not in ("minimax", "non_saturating"):
            raise ValueError(f"GAN: loss must be 'minimax' or 'non_saturating', got {loss!r}")
        self.generator, self.discriminator, self.loss_kind = generator, discriminator, loss
        self.latent_dim = generator.latent_dim
        self.tanh_output = getattr(generator, "tanh_output", False)

    def noise(self, n):
        return nr.randn(n, self.latent_dim)

    def _to_model(self, x):
        return 2 * x - 1 if self.tanh_output else x

    def _to_unit(self, x):
        return (x + 1) / 2 if self.tanh_output else x

    def forward(self, z):
        """Generated images in [0, 1]."""
        return self._to_unit(self.generator(z))

    def sample(self, n=None, z=None):
        with nr.no_grad():
            return self(self.noise(n) if z is None else z)

    def train_step(self, real, opt_d, opt_g):
        """One D update then one G update on a batch of data (model space); returns the
        losses and D's mean probabilities on real and fake."""
        n = real.shape[0]
        fake = self.generator(self.noise(n))
        real_logits = self.discriminator(real)
        fake_logits = self.discriminator(fake.detach())
        d_loss = discriminator_loss(real_logits, fake_logits)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = generator_loss(self.discriminator(fake), self.loss_kind)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return (float(d_loss.item()), float(g_loss.item()),
                float(real_logits.sigmoid().mean().item()),
                float(fake_logits.sigmoid().mean().item()))

    def fit(self, data, epochs=20, batch_size=64, lr=2e-4, betas=(0.5, 0.999),
            sample_dir=None, n_fixed=64, verbose=False):
        """Alternate D and G Adam steps over mini-batches of ``data`` (in [0, 1]).

        With ``sample_dir`` a grid of samples from one fixed noise batch is written to
        ``sample_dir/epoch_XXX.png`` after every epoch (so progress is comparable; the
        generator stays in train mode, so batch norm normalises over that batch, as in the
        DCGAN reference code). Returns
        a dict of per-step lists: d_loss, g_loss, d_real, d_fake, and ``grids`` (paths).
        """
        opt_d = nr.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas)
        opt_g = nr.optim.Adam(self.generator.parameters(), lr=lr, betas=betas)
        fixed = self.noise(n_fixed)
        history = {"d_loss": [], "g_loss": [], "d_real": [], "d_fake": [], "grids": []}
        x = self._to_model(data)
        self.train()
        for epoch in range(epochs):
            for idx in minibatches(x.shape[0], batch_size):
                if len(idx) < 2:  # batch norm needs two samples
                    continue
                for key, value in zip(("d_loss", "g_loss", "d_real", "d_fake"),
                                      self.train_step(x[idx], opt_d, opt_g)):
                    history[key].append(value)
            if sample_dir is not None:
                from ..plotting import save_image
                path = os.path.join(sample_dir, f"epoch_{epoch + 1:03d}.png")
                history["grids"].append(save_image(self.sample(z=fixed), path))
            if verbose:
                print(f"epoch {epoch + 1}: D {history['d_loss'][-1]:.3f} "
                      f"G {history['g_loss'][-1]:.3f}")
        return history
