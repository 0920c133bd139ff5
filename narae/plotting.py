"""Pictures of what unsupervised models learn: image, filter, reconstruction and sample grids.

Two layers:

* ``make_grid`` / ``save_image`` tile images into one array and write a PNG with narae's own
  zlib encoder, so a training loop (e.g. the GAN's per-epoch sample grid) never needs
  matplotlib;
* ``plot_images``, ``plot_filters``, ``plot_reconstructions``, ``plot_samples`` draw titled
  matplotlib figures to a PNG. They raise an ImportError naming the missing package when
  matplotlib is not installed (it is an optional dependency: ``pip install narae[plot]``).
"""
import os

import numpy as np

from .train.png import encode_png

__all__ = ["make_grid", "save_image", "plot_images", "plot_filters", "plot_reconstructions",
           "plot_samples", "require_matplotlib"]


def _to_numpy(images):
    from .tensor import Tensor
    if isinstance(images, Tensor):
        images = images.detach().cpu().numpy()
    return np.asarray(images, dtype=np.float64)


def _as_nchw(images, image_shape=None):
    """(N, C, H, W) from (N, C, H, W), (N, H, W), or flat (N, D) with ``image_shape``."""
    a = _to_numpy(images)
    if a.ndim == 2:
        if image_shape is None:
            side = int(round(np.sqrt(a.shape[1])))
            if side * side != a.shape[1]:
                raise ValueError(f"images of shape {a.shape}: pass image_shape=(H, W) to "
                                 "unflatten non-square rows")
            image_shape = (side, side)
        a = a.reshape((a.shape[0], 1) + tuple(image_shape)[-2:])
    elif a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, D), (N, H, W) or (N, C, H, W) with C in "
                         f"(1, 3), got shape {a.shape}")
    return a


def _normalise(a, value_range, per_image):
    """Map values into [0, 1]: by ``value_range`` (lo, hi), or by each image's own min/max."""
    if per_image:
        lo = a.min(axis=(1, 2, 3), keepdims=True)
        hi = a.max(axis=(1, 2, 3), keepdims=True)
    elif value_range is not None:
        lo, hi = value_range
    else:
        lo, hi = 0.0, 1.0
    return np.clip((a - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)


def make_grid(images, nrow=8, padding=1, pad_value=1.0, value_range=None, per_image=False,
              image_shape=None):
    """Tile N images into one (H', W') or (H', W', 3) float array in [0, 1].

    ``nrow`` images per row (as torchvision's ``make_grid``); ``value_range=(lo, hi)`` maps
    e.g. a tanh generator's [-1, 1] to [0, 1]; ``per_image=True`` rescales each tile to its
    own min/max (for filters, whose scale is arbitrary).
    """
    a = _normalise(_as_nchw(images, image_shape), value_range, per_image)
    n, c, h, w = a.shape
    ncol = min(nrow, n)
    nrows = (n + ncol - 1) // ncol
    grid = np.full((c, nrows * (h + padding) + padding, ncol * (w + padding) + padding),
                   pad_value, dtype=np.float64)
    for i in range(n):
        r, q = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[:, top:top + h, left:left + w] = a[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def save_image(images, path, nrow=8, padding=1, scale=4, **grid_kwargs):
    """Write ``make_grid(images)`` to a PNG at ``path``; needs no matplotlib.

    ``scale`` repeats each pixel (8x8 digits are unreadable at one screen pixel each).
    Returns the path.
    """
    grid = make_grid(images, nrow=nrow, padding=padding, **grid_kwargs)
    if scale > 1:
        grid = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    _makedirs_for(path)
    with open(path, "wb") as f:
        f.write(encode_png(grid))
    return path


def _makedirs_for(path):
    d = os.path.dirname(os.fspath(path))
    if d:
        os.makedirs(d, exist_ok=True)


def require_matplotlib():
    """``matplotlib.pyplot`` on the non-interactive Agg backend, or a clear ImportError."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("narae.plotting needs matplotlib for figures: pip install matplotlib "
                          "(save_image and make_grid work without it)") from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def _draw_grid(grid, path, title, figsize=None):
    plt = require_matplotlib()
    h, w = grid.shape[:2]
    if figsize is None:
        figsize = (max(3.0, w / 12), max(3.0, h / 12) + (0.4 if title else 0.0))
    fig, ax = plt.subplots(figsize=figsize)
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    _makedirs_for(path)
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path


def plot_images(images, path, nrow=8, title=None, value_range=None, image_shape=None):
    """A titled figure of an image grid, saved as PNG at ``path``."""
    grid = make_grid(images, nrow=nrow, value_range=value_range, image_shape=image_shape)
    return _draw_grid(grid, path, title)


def plot_filters(weight, path, nrow=8, title="filters", image_shape=None):
    """First-layer filters, each rescaled to its own range.

    ``weight`` is a Linear weight (hidden, D) (each row a filter over the D inputs), an RBM
    ``W`` of shape (D, hidden) (pass ``weight.T``), or a conv weight (out, in, kh, kw).
    """
    a = _to_numpy(weight)
    if a.ndim == 4 and a.shape[1] not in (1, 3):
        a = a[:, :1]  # show the first input channel of a multi-channel conv filter bank
    grid = make_grid(a, nrow=nrow, per_image=True, image_shape=image_shape)
    return _draw_grid(grid, path, title)


def plot_reconstructions(originals, reconstructions, path, corrupted=None, n=8,
                         title="reconstructions", value_range=None, image_shape=None):
    """Rows: originals, (corrupted inputs,) reconstructions, for the first ``n`` images."""
    rows = [_as_nchw(originals, image_shape)[:n]]
    if corrupted is not None:
        rows.append(_as_nchw(corrupted, image_shape)[:n])
    rows.append(_as_nchw(reconstructions, image_shape)[:n])
    k = min(len(r) for r in rows)
    stacked = np.concatenate([r[:k] for r in rows], axis=0)
    grid = make_grid(stacked, nrow=k, value_range=value_range)
    return _draw_grid(grid, path, title)


def plot_samples(samples, path, nrow=8, title="samples", value_range=None, image_shape=None):
    """Samples from a generative model (RBM, VAE, GAN), as a titled grid."""
    return plot_images(samples, path, nrow=nrow, title=title, value_range=value_range,
                       image_shape=image_shape)
