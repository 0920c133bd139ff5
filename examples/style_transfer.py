"""Neural style transfer (Gatys et al., 2016) with ``narae.models.visualize.style_transfer``.

Two modes:

* no ``--weights``: a small **randomly initialised** CNN is the feature extractor. Random
  convolution + ReLU features already carry texture statistics, so the Gram matrices still
  transfer colour and stripe patterns, but the result is far cruder than with a trained
  network: this mode shows the mechanics, offline and in seconds.
* ``--weights vgg19_features.safetensors``: VGG-19 with ImageNet weights, the paper's setup
  (content ``relu4_2``, style ``relu1_1 .. relu5_1``, inputs standardised with ImageNet's
  mean/std). narae never downloads or unpickles weights; make the file once, on a machine
  with torch, torchvision and safetensors::

      import torchvision
      from safetensors.torch import save_file
      m = torchvision.models.vgg19(weights=torchvision.models.VGG19_Weights.IMAGENET1K_V1)
      save_file({"features." + k: v.contiguous()
                 for k, v in m.features.state_dict().items()}, "vgg19_features.safetensors")

Images: ``--content``/``--style`` PNG or JPEG files (read with matplotlib, resized to
``--size``); without them, synthetic ones are drawn (a disc and a square as content,
coloured diagonal waves as style).

    python examples/style_transfer.py --steps 100 --out style_out
    python examples/style_transfer.py --weights vgg19_features.safetensors \\
        --content photo.jpg --style painting.jpg --size 256 --steps 300
"""
import argparse
import os

import numpy as np

import narae as nr
from narae import nn
from narae.models.visualize import (IMAGENET_MEAN, IMAGENET_STD, feature_maps, gram_matrix,
                                    style_transfer, vgg19_features)
from narae.nn import functional as F
from narae.plotting import save_image


def synthetic_images(size):
    """Content: a red disc and a blue square on a grey-green gradient; style: waves."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    content = np.stack([0.3 + 0.4 * yy, 0.5 + 0.2 * xx, 0.4 * np.ones_like(xx)])
    disc = (yy - 0.4) ** 2 + (xx - 0.35) ** 2 < 0.05
    content[:, disc] = np.array([0.9, 0.15, 0.1])[:, None]
    square = (np.abs(yy - 0.65) < 0.15) & (np.abs(xx - 0.7) < 0.15)
    content[:, square] = np.array([0.1, 0.2, 0.85])[:, None]
    t = 2 * np.pi * (xx + yy) * 6
    style = np.stack([0.5 + 0.45 * np.sin(t), 0.5 + 0.45 * np.sin(t + 2.1 + 8 * yy),
                      0.5 + 0.45 * np.cos(2 * np.pi * xx * 9)])
    return (content[None].astype(np.float32), style[None].astype(np.float32))


def read_image(path, size):
    """(1, 3, size, size) float32 in [0, 1] from an image file (needs matplotlib)."""
    from narae.plotting import require_matplotlib
    img = np.asarray(require_matplotlib().imread(path), dtype=np.float32)
    if img.max() > 1.0:
        img = img / 255.0
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    img = img[..., :3].transpose(2, 0, 1)[None]
    return F.interpolate(nr.tensor(np.ascontiguousarray(img)), size=(size, size),
                         mode="bilinear", align_corners=False).numpy()


def random_cnn(seed=0):
    """Three conv stages, random He-initialised weights (variance-preserving through the
    ReLUs, so deep layers' Gram matrices are not vanishingly small)."""
    nr.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),                          # 0, 1
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),       # 2, 3, 4
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),       # 5, 6, 7
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU())                       # 8, 9
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return net


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None, help="VGG-19 features safetensors file")
    ap.add_argument("--content", default=None)
    ap.add_argument("--style", default=None)
    ap.add_argument("--size", type=int, default=None, help="default 64, or 192 with VGG")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    ap.add_argument("--style-weight", type=float, default=None)
    ap.add_argument("--content-weight", type=float, default=1.0)
    ap.add_argument("--tv-weight", type=float, default=1e-2)
    ap.add_argument("--init", choices=["content", "noise"], default="content")
    ap.add_argument("--out", default="style_out")
    args = ap.parse_args()

    if args.weights:
        size = args.size or 192
        net = vgg19_features(args.weights, upto="relu5_1")
        content_layers = ["relu4_2"]
        style_layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
        normalize, style_weight = (IMAGENET_MEAN, IMAGENET_STD), args.style_weight or 1e6
        print(f"VGG-19 features from {args.weights}")
    else:
        size = args.size or 64
        net = random_cnn()
        content_layers, style_layers = ["6"], ["1", "3", "6", "9"]
        normalize, style_weight = None, args.style_weight or 1e5
        print("no --weights: using a small RANDOMLY INITIALISED CNN as the feature extractor "
              "(crude results; pass --weights for VGG-19)")
    if args.content or args.style:
        if not (args.content and args.style):
            ap.error("give both --content and --style, or neither")
        content, style = read_image(args.content, size), read_image(args.style, size)
    else:
        content, style = synthetic_images(size)

    def report(step, image, history):
        if step % 10 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  total {history['total'][-1]:.4g}  content "
                  f"{history['content'][-1]:.4g}  style {history['style'][-1]:.4g}  "
                  f"tv {history['tv'][-1]:.4g}")

    image, history = style_transfer(
        net, content, style, content_layers, style_layers, steps=args.steps,
        optimizer=args.optimizer, style_weight=style_weight, content_weight=args.content_weight,
        tv_weight=args.tv_weight, init=args.init, normalize=normalize, callback=report)

    # how far the Gram matrices moved toward the style's (relative squared distance)
    feats = {}
    for name, im in (("content", content), ("result", image), ("style", style)):
        prep = im if normalize is None else (
            (np.asarray(im) - np.reshape(normalize[0], (1, 3, 1, 1)))
            / np.reshape(normalize[1], (1, 3, 1, 1))).astype(np.float32)
        feats[name] = feature_maps(net, prep, style_layers)
    for layer in style_layers:
        gs = gram_matrix(nr.tensor(feats["style"][layer])).numpy()
        d = {k: float(((gram_matrix(nr.tensor(feats[k][layer])).numpy() - gs) ** 2).sum())
             for k in ("content", "result")}
        print(f"{layer}: Gram distance to style {d['content']:.3g} (content) -> "
              f"{d['result']:.3g} (result)")

    os.makedirs(args.out, exist_ok=True)
    path = save_image(np.concatenate([content, style, image.numpy()]),
                      os.path.join(args.out, "style_transfer.png"), nrow=3,
                      scale=max(1, 256 // size), value_range=(0.0, 1.0))
    print(f"wrote {path} (content | style | result)")


if __name__ == "__main__":
    main()
