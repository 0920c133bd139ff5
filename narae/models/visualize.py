"""Visualising what a CNN learns, for any narae CNN used as a fixed feature extractor.

* ``first_layer_filters`` / ``save_filter_grid``: the first convolution's kernels, which act
  directly on pixels and so can be drawn as images (edge and blob detectors when trained).
* ``feature_maps``: the activations of named layers, captured with forward hooks.
* ``saliency``: Simonyan et al. (2014), ``|d score_target / d x|`` maximised over colour
  channels: the pixels whose small change moves the class score most.
* ``deep_dream``: gradient *ascent* on the input to excite a layer (Mordvintsev et al., 2015),
  with normalised gradient steps, random jitter and an octave pyramid.
* ``style_transfer`` / ``gram_matrix``: Gatys et al. (2016): optimise an image so that its
  deep features match a content image and its feature *correlations* (Gram matrices) match a
  style image.
* ``vgg19_features``: torchvision's VGG-19 ``features`` (16 convolutions), optionally loaded
  from a safetensors file of torchvision-named weights (see its docstring for the recipe).

Layers are named as in ``model.named_modules()`` (``"features.3"``); for a VGG-19 ``features``
Sequential the usual names ``"relu4_2"``/``"conv1_1"`` work too (``VGG19_LAYERS``).
Analysis results (filters, feature maps, saliency) are NumPy arrays, ready to plot; optimised
images (DeepDream, style transfer) are narae Tensors, ready to feed back to a model. The model
is put in eval mode and its parameters are frozen while a function runs, then restored.
"""
import contextlib
import math

import numpy as np

from .. import creation, nn
from .. import optim as _optim
from ..autograd import grad as _grad, no_grad
from ..nn import functional as F
from ..tensor import Tensor
from .vgg import cfgs, make_layers

__all__ = ["first_layer_filters", "save_filter_grid", "feature_maps", "saliency", "deep_dream",
           "gram_matrix", "style_transfer", "vgg19_features", "VGG19_LAYERS", "IMAGENET_MEAN",
           "IMAGENET_STD", "FeatureExtractor"]

# the statistics torchvision's ImageNet weights were trained with (inputs in [0, 1])
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _vgg19_layer_names():
    """``conv{block}_{i}`` / ``relu{block}_{i}`` / ``pool{block}`` -> index in ``features``."""
    names, block, i, idx = {}, 1, 1, 0
    for v in cfgs["E"]:
        if v == "M":
            names[f"pool{block}"] = str(idx)
            block, i, idx = block + 1, 1, idx + 1
        else:
            names[f"conv{block}_{i}"], names[f"relu{block}_{i}"] = str(idx), str(idx + 1)
            i, idx = i + 1, idx + 2
    return names


VGG19_LAYERS = _vgg19_layer_names()  # relu4_2 -> "22", the Gatys content layer


# -- plumbing ---------------------------------------------------------------------------------
def _as_tensor(x, dtype=np.float32):
    if isinstance(x, Tensor):
        return x.detach()
    return creation.tensor(np.asarray(x, dtype=dtype))


def _module(model, name):
    """The submodule called ``name`` (a ``named_modules`` name, or a VGG-19 alias)."""
    modules = dict(model.named_modules())
    if name in modules:
        return modules[name]
    if name in VGG19_LAYERS and VGG19_LAYERS[name] in modules:
        return modules[VGG19_LAYERS[name]]
    raise KeyError(f"no layer {name!r} in {type(model).__name__}; layers are "
                   f"{[n for n in modules if n][:40]}")


@contextlib.contextmanager
def _frozen(model):
    """Eval mode, parameters not requiring grad (so backward touches only the image)."""
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


class _Done(Exception):
    """Raised by the last hook: layers after the deepest requested one need not run."""


class FeatureExtractor:
    """Call ``model(x)`` and return ``{name: output}`` of the named layers via forward hooks.

    Outputs are cloned inside the hook, so a following ``ReLU(inplace=True)`` (as in VGG)
    cannot overwrite them; with ``stop_early`` the forward pass is cut after the last of them
    has run (a VGG-19 used only up to ``relu4_2`` skips its last 14 layers).
    """

    def __init__(self, model, layer_names, stop_early=True):
        self.model = model
        self.names = list(layer_names)
        if not self.names:
            raise ValueError("FeatureExtractor: give at least one layer name")
        self.stop_early = stop_early
        self._modules = [_module(model, n) for n in self.names]

    def __call__(self, x):
        out = {}
        handles = []

        def make_hook(name):
            def hook(module, args, output):
                out[name] = output.clone()
                if self.stop_early and len(out) == len(set(self.names)):
                    raise _Done
            return hook

        for name, m in zip(self.names, self._modules):
            handles.append(m.register_forward_hook(make_hook(name)))
        try:
            self.model(x)
        except _Done:
            pass
        finally:
            for h in handles:
                h.remove()
        missing = [n for n in self.names if n not in out]
        if missing:
            raise RuntimeError(f"FeatureExtractor: layers {missing} never ran in "
                               f"{type(self.model).__name__}'s forward")
        return out


# -- filters and activations ------------------------------------------------------------------
def first_layer_filters(model):
    """The first ``Conv2d``'s weight as a NumPy array (out, in, kh, kw).

    Only the first layer sees pixels, so only its kernels are directly images; deeper ones
    act on feature maps and are better shown through ``feature_maps`` or ``deep_dream``.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return np.array(m.weight.detach().cpu().numpy(), dtype=np.float32)
    raise ValueError(f"first_layer_filters: {type(model).__name__} has no Conv2d layer")


def save_filter_grid(model, path, scale=8, padding=1):
    """PNG of the first-layer filters, each rescaled to its own range (their scale is
    arbitrary). RGB filters become colour tiles; other channel counts give one row per
    filter with one grey tile per input channel. Returns the path."""
    from ..plotting import save_image
    w = first_layer_filters(model)
    out, cin = w.shape[:2]
    if cin in (1, 3):
        nrow = int(math.ceil(math.sqrt(out)))
    else:
        w, nrow = w.reshape(out * cin, 1, *w.shape[2:]), cin
    return save_image(w, path, nrow=nrow, padding=padding, scale=scale, per_image=True)


def feature_maps(model, x, layer_names):
    """``{name: activations}`` (NumPy, e.g. (N, C, H, W)) of the named layers for input ``x``,
    captured by forward hooks during one no-grad forward pass in eval mode."""
    if isinstance(layer_names, str):
        layer_names = [layer_names]
    with _frozen(model), no_grad():
        feats = FeatureExtractor(model, layer_names)(_as_tensor(x))
    return {n: np.array(v.cpu().numpy()) for n, v in feats.items()}


# -- saliency ---------------------------------------------------------------------------------
def saliency(model, x, target=None):
    """Saliency maps (N, H, W): ``max_c |d s_target / d x[:, c]|`` (Simonyan et al., 2014).

    ``s_target`` is the model's unnormalised class score (the logit, not the softmax, whose
    gradient also depends on the other classes). ``target``: one class for all images, one
    per image, or None for each image's predicted class. Since the images of a batch do not
    interact (eval mode), the gradient of the summed scores gives every image's own gradient.
    """
    x = _as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"saliency: expects images (N, C, H, W), got shape {tuple(x.shape)}")
    x.requires_grad_(True)
    with _frozen(model):
        scores = model(x)
        n = scores.shape[0]
        if target is None:
            target = scores.detach().argmax(-1).numpy()
        target = np.broadcast_to(np.asarray(target, dtype=np.int64), (n,))
        onehot = np.zeros(tuple(scores.shape), dtype=np.float32)
        onehot[np.arange(n), target] = 1.0
        picked = (scores * creation.tensor(onehot, dtype=scores.dtype)).sum()
        g, = _grad(picked, [x])
    return np.abs(g.numpy()).max(axis=1)


# -- DeepDream --------------------------------------------------------------------------------
def _objective(feat, channel):
    """Mean activation of the layer, or of one of its channels (dimension 1)."""
    return (feat if channel is None else feat[:, channel]).mean()


def _resize(x, size):
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def deep_dream(model, x, layer, steps=20, lr=0.05, octaves=1, octave_scale=1.4, jitter=0,
               channel=None, clamp=None, seed=0):
    """Gradient ascent on the image ``x`` to maximise the mean activation of ``layer`` (or of
    its ``channel``), returning the dreamed image as a Tensor.

    Each step is ``x += lr * g / mean|g|``: normalising the gradient makes ``lr`` a step in
    pixel units whatever the layer's scale. ``jitter`` rolls the image by a random offset in
    [-jitter, jitter] before each step (and back after), which averages away the
    pixel-grid artefacts that plain ascent amplifies. With ``octaves > 1`` the ascent runs
    first on the image shrunk by ``octave_scale ** (octaves - 1)``, then on larger ones;
    the detail added at one scale is upsampled into the next, so large structures form on
    small images where they are cheap. ``clamp=(lo, hi)`` keeps pixels in a valid range.
    The model must accept every octave's size (LeNet-5 for 8x8 digits resizes internally).
    """
    base = _as_tensor(x)
    if base.ndim != 4:
        raise ValueError(f"deep_dream: expects images (N, C, H, W), got shape "
                         f"{tuple(base.shape)}")
    rng = np.random.default_rng(seed)
    h, w = base.shape[-2:]
    sizes = [(max(1, int(round(h / octave_scale ** k))), max(1, int(round(w / octave_scale ** k))))
             for k in reversed(range(octaves))]
    extractor = FeatureExtractor(model, [layer])
    detail = None
    with _frozen(model):
        for size in sizes:
            with no_grad():
                octave_base = _resize(base, size)
                img = octave_base if detail is None else octave_base + _resize(detail, size)
            img = img.detach().clone()
            for _ in range(steps):
                img.requires_grad_(True)
                shifted = img
                if jitter:
                    dy, dx = (int(v) for v in rng.integers(-jitter, jitter + 1, 2))
                    shifted = img.roll((dy, dx), (2, 3))
                obj = _objective(extractor(shifted)[layer], channel)
                g, = _grad(obj, [img])
                with no_grad():
                    img = img.detach() + lr * g / (g.abs().mean() + 1e-8)
                    if clamp is not None:
                        img = img.clamp(*clamp)
            with no_grad():
                detail = img - octave_base
    return img.detach()


# -- style transfer ---------------------------------------------------------------------------
def gram_matrix(features):
    """``G = F F^T / (C H W)`` per image, with F the (C, H*W) feature matrix: the channel
    correlations, which keep what textures co-occur but forget where (Gatys et al.).
    Dividing by the size makes layers of different sizes comparable. (N, C, H, W) ->
    (N, C, C); a single (C, H, W) map gives (C, C)."""
    single = features.ndim == 3
    if single:
        features = features.unsqueeze(0)
    if features.ndim != 4:
        raise ValueError(f"gram_matrix: expects features (N, C, H, W) or (C, H, W), got shape "
                         f"{tuple(features.shape)}")
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    g = f.matmul(f.transpose(1, 2)) / (c * h * w)
    return g[0] if single else g


def _tv_loss(x):
    """Total variation (squared neighbour differences): penalises high-frequency noise."""
    dh = x[:, :, 1:, :] - x[:, :, :-1, :]
    dw = x[:, :, :, 1:] - x[:, :, :, :-1]
    return (dh * dh).mean() + (dw * dw).mean()


def _weights(layers, given):
    if isinstance(given, dict):
        return [float(given[n]) for n in layers]
    return [1.0 / len(layers)] * len(layers)


def style_transfer(extractor, content, style, content_layers, style_layers, steps=100,
                   optimizer="lbfgs", style_weight=1e6, content_weight=1.0, tv_weight=0.0,
                   lr=None, init="content", normalize=None, clamp=(0.0, 1.0),
                   style_layer_weights=None, line_search="strong_wolfe", seed=0,
                   callback=None):
    """Neural style transfer (Gatys, Ecker & Bethge, 2016); returns ``(image, history)``.

    The image x minimises
    ``content_weight * sum_l MSE(F_l(x), F_l(content))
    + style_weight * sum_l w_l MSE(G(F_l(x)), G(F_l(style)))
    + tv_weight * TV(x)``
    over ``content_layers`` and ``style_layers`` (``w_l`` = 1 / #layers unless
    ``style_layer_weights`` maps names to weights), with ``G`` = ``gram_matrix``. The network
    ``extractor`` is fixed; only the pixels move. ``optimizer``: "lbfgs" (``narae.optim.LBFGS``,
    one iteration per step with a strong-Wolfe line search, ``line_search=None`` for the
    fixed step ``lr`` (default 1): the usual choice for this smooth problem) or "adam" (``lr``
    default 0.02, in pixel units). L-BFGS's convergence tolerances are off: ``steps`` says
    how long to run, and small-valued losses (Gram entries are tiny) would otherwise stop it
    at once. On tiny random networks with a large ``style_weight`` L-BFGS can stall after a
    few iterations (torch's LBFGS does too, step for step); Adam is the robust fallback.
    ``init``: "content", "noise", or an image. ``normalize=(mean, std)`` per-channel
    standardisation applied before the network (use ``IMAGENET_MEAN``/``IMAGENET_STD`` with
    ImageNet weights) while images stay in [0, 1]; ``clamp`` projects x back into range: after
    each Adam step, but only at the end for L-BFGS (moving the point between iterations
    breaks its curvature pairs, and it stalls against the bounds). ``content`` and ``style``
    may differ in size: Gram matrices are (C, C).

    ``history`` holds per-step lists ``"total"``, ``"content"``, ``"style"``, ``"tv"``
    (weighted), from the loss evaluated at the start of each step.
    """
    content, style = _as_tensor(content), _as_tensor(style)
    for name, im in (("content", content), ("style", style)):
        if im.ndim != 4:
            raise ValueError(f"style_transfer: {name} must be (N, C, H, W), got shape "
                             f"{tuple(im.shape)}")
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"style_transfer: optimizer must be 'lbfgs' or 'adam', got "
                         f"{optimizer!r}")
    content_layers, style_layers = list(content_layers), list(style_layers)
    names = list(dict.fromkeys(content_layers + style_layers))
    sw = _weights(style_layers, style_layer_weights)
    if normalize is not None:
        mean = creation.tensor(np.asarray(normalize[0], np.float32).reshape(1, -1, 1, 1))
        std = creation.tensor(np.asarray(normalize[1], np.float32).reshape(1, -1, 1, 1))
        prep = lambda im: (im - mean) / std  # noqa: E731
    else:
        prep = lambda im: im  # noqa: E731
    run = FeatureExtractor(extractor, names)

    with _frozen(extractor):
        with no_grad():
            c_feats = run(prep(content))
            s_feats = run(prep(style))
            c_targets = [c_feats[n] for n in content_layers]
            s_targets = [gram_matrix(s_feats[n]) for n in style_layers]
            if isinstance(init, str) and init == "content":
                start = content.clone()
            elif isinstance(init, str) and init == "noise":
                rng = np.random.default_rng(seed)
                start = creation.tensor(rng.uniform(0, 1, tuple(content.shape))
                                        .astype(np.float32))
            else:
                start = _as_tensor(init).clone()
        image = start.detach().clone().requires_grad_(True)
        if optimizer == "lbfgs":
            opt = _optim.LBFGS([image], lr=1.0 if lr is None else lr, max_iter=1,
                               history_size=50, line_search_fn=line_search,
                               tolerance_grad=0.0, tolerance_change=0.0)
        else:
            opt = _optim.Adam([image], lr=0.02 if lr is None else lr)
        history = {"total": [], "content": [], "style": [], "tv": []}
        evals = []

        def closure():
            opt.zero_grad()
            feats = run(prep(image))
            parts = {}
            if content_layers:
                parts["content"] = content_weight * sum(
                    F.mse_loss(feats[n], t) for n, t in zip(content_layers, c_targets))
            if style_layers:
                parts["style"] = style_weight * sum(
                    w * F.mse_loss(gram_matrix(feats[n]), t)
                    for n, w, t in zip(style_layers, sw, s_targets))
            if tv_weight:
                parts["tv"] = tv_weight * _tv_loss(image)
            total = sum(parts.values())
            total.backward()
            evals.append((float(total), {k: float(v) for k, v in parts.items()}))
            return total

        for step in range(steps):
            evals.clear()
            if optimizer == "lbfgs":
                opt.step(closure)
            else:
                closure()
                opt.step()
            total, parts = evals[0]            # the loss at the start of this step
            history["total"].append(total)
            for k in ("content", "style", "tv"):
                history[k].append(parts.get(k, 0.0))
            if clamp is not None and optimizer == "adam":
                with no_grad():
                    image.clamp_(*clamp)
            if callback is not None:
                callback(step, image, history)
    image = image.detach()
    if clamp is not None:
        image = image.clamp(*clamp)
    return image, history


# -- VGG-19 -----------------------------------------------------------------------------------
def vgg19_features(weights_path=None, upto=None):
    """VGG-19's ``features`` Sequential (16 conv3x3 + ReLU, 5 max pools; torchvision's layout,
    so ``"22"`` is ``relu4_2``), randomly initialised or loaded from ``weights_path``.

    ``upto`` (an index name like ``"11"`` or an alias like ``"relu3_1"``) keeps the layers up
    to and including that one: style transfer needs nothing past ``relu5_1``.

    The file is a safetensors file with torchvision's names ``features.0.weight``,
    ``features.0.bias``, ... (``classifier.*`` entries, as in a full state_dict, are
    ignored; F16/BF16 are cast to float32). narae never downloads or unpickles anything:
    produce the file once, on a machine with torch, torchvision and safetensors::

        import torchvision
        from safetensors.torch import save_file
        m = torchvision.models.vgg19(weights=torchvision.models.VGG19_Weights.IMAGENET1K_V1)
        save_file({"features." + k: v.contiguous()
                   for k, v in m.features.state_dict().items()}, "vgg19_features.safetensors")

    (about 80 MB). The weights expect images in [0, 1] standardised with ``IMAGENET_MEAN`` /
    ``IMAGENET_STD`` (``style_transfer(..., normalize=(IMAGENET_MEAN, IMAGENET_STD))``).
    """
    features = make_layers(cfgs["E"], batch_norm=False, in_channels=3)
    if upto is not None:
        key = VGG19_LAYERS.get(upto, upto)
        if not (isinstance(key, str) and key.isdigit() and int(key) < len(features)):
            raise KeyError(f"vgg19_features: unknown layer {upto!r}; use 0..{len(features) - 1} "
                           f"or one of {list(VGG19_LAYERS)}")
        features = nn.Sequential(*[features[i] for i in range(int(key) + 1)])
    if weights_path is None:
        for m in features.modules():          # VGG's own initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
        return features
    from ..io import load_file
    tensors = load_file(weights_path)
    own = features.state_dict()
    wanted = set(own)
    state = {}
    for k, v in tensors.items():
        name = k[len("features."):] if k.startswith("features.") else k
        if name in wanted:
            state[name] = v.float()
    missing = sorted(wanted - set(state), key=lambda s: (int(s.split(".")[0]), s))
    if missing:
        raise KeyError(f"vgg19_features: {weights_path!r} lacks "
                       f"{['features.' + m for m in missing][:6]}"
                       f"{' ...' if len(missing) > 6 else ''}; expected torchvision's names "
                       f"features.<i>.weight/bias")
    for name, v in state.items():
        expected = tuple(own[name].shape)
        if tuple(v.shape) != expected:
            raise ValueError(f"vgg19_features: features.{name} in {weights_path!r} has shape "
                             f"{tuple(v.shape)}, expected {expected}")
    features.load_state_dict(state)
    return features
