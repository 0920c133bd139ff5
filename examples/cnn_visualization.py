"""What a CNN learns: LeNet-5 trained briefly on scikit-learn's 8x8 digits, then pictured.

Writes PNGs (no matplotlib needed) to ``--out``:

* ``filters.png``        the six 5x5 first-layer kernels (each scaled to its own range)
* ``feature_maps.png``   one test digit, then the maps of ``features.1`` (after conv1 + ReLU,
                         6 x 28x28) and ``features.4`` (after conv2 + ReLU, 16 x 10x10)
* ``saliency.png``       top row test digits, bottom row |d logit / d pixel| for the
                         predicted class: the strokes that decide the class light up
* ``dream_channels.png`` DeepDream from grey noise, one tile per conv2 channel: the pattern
                         each channel responds to
* ``dream_classes.png``  DeepDream on the logits, one tile per class 0..9: what the network
                         takes for a prototypical digit (blurry and partial: it only needs
                         enough evidence, not a pretty picture)
* ``dream_digit.png``    test digits, and the same digits after ascent on all of conv2

    python examples/cnn_visualization.py --epochs 5 --out cnn_visualization_out
"""
import argparse
import os

import numpy as np

import narae as nr
from narae import optim
from narae.models import lenet5
from narae.models.experiments import accuracy, digits_split, train_classifier
from narae.models.visualize import deep_dream, feature_maps, saliency, save_filter_grid
from narae.plotting import save_image


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--out", default="cnn_visualization_out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dream-steps", type=int, default=60)
    args = ap.parse_args()

    xtr, ytr, xte, yte = digits_split()
    mean, std = float(xtr.mean()), float(xtr.std())
    xtr, xte = (xtr - mean) / std, (xte - mean) / std       # standardised, as lenet_digits
    lo, hi = (0.0 - mean) / std, (1.0 - mean) / std         # pixel range after standardising
    nr.manual_seed(args.seed)
    model = lenet5(num_classes=10, in_channels=1, input_size=8)
    losses = train_classifier(model, xtr, ytr, optim.Adam(model.parameters(), lr=2e-3),
                              args.epochs, batch_size=32, seed=args.seed)
    print(f"lenet5, {args.epochs} epochs: train loss {losses[-1]:.3f}, "
          f"test accuracy {accuracy(model, xte, yte):.3f}")
    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, name)  # noqa: E731
    pix = dict(value_range=(lo, hi))

    save_filter_grid(model, out("filters.png"), scale=16)

    digit = xte[:1]
    maps = feature_maps(model, digit, ["features.1", "features.4"])
    m1 = maps["features.1"][0][:, None]                   # (6, 1, 28, 28)
    m2 = maps["features.4"][0][:, None]                   # (16, 1, 10, 10)
    m2 = np.repeat(np.repeat(m2, 3, 2), 3, 3)[..., 1:-1, 1:-1]   # 10x10 -> 28x28 tiles
    upsampled = np.repeat(np.repeat((digit - lo) / (hi - lo), 4, 2), 4, 3)[..., 2:30, 2:30]
    tiles = np.concatenate([upsampled, m1, m2], axis=0)   # 1 + 6 + 16 tiles of 28x28
    save_image(tiles, out("feature_maps.png"), nrow=8, scale=3, per_image=True)

    batch = xte[:10]
    sal = saliency(model, batch)
    sal = sal / np.maximum(sal.max(axis=(1, 2), keepdims=True), 1e-12)
    save_image(np.concatenate([(batch - lo) / (hi - lo), sal[:, None]], axis=0),
               out("saliency.png"), nrow=10, scale=8)

    rng = np.random.default_rng(args.seed)
    noise = (0.5 + 0.05 * rng.standard_normal((1, 1, 8, 8)) - mean) / std
    dreams = [deep_dream(model, noise, "features.4", steps=args.dream_steps, lr=0.05,
                         channel=c, clamp=(lo, hi)).numpy() for c in range(16)]
    save_image(np.concatenate(dreams), out("dream_channels.png"), nrow=8, scale=8, **pix)

    classes = [deep_dream(model, noise, "classifier.6", steps=args.dream_steps, lr=0.05,
                          channel=k, clamp=(lo, hi)).numpy() for k in range(10)]
    preds = model.eval()(nr.tensor(np.concatenate(classes))).argmax(-1).numpy()
    print(f"class dreams are classified as {preds.tolist()} (targets 0..9)")
    save_image(np.concatenate(classes), out("dream_classes.png"), nrow=10, scale=8, **pix)

    dreamt = deep_dream(model, batch[:8], "features.4", steps=args.dream_steps // 2, lr=0.03,
                        octaves=2, jitter=1, clamp=(lo, hi)).numpy()
    save_image(np.concatenate([batch[:8], dreamt]), out("dream_digit.png"), nrow=8, scale=8,
               **pix)
    print(f"wrote filters, feature maps, saliency and DeepDream PNGs to {args.out}/")


if __name__ == "__main__":
    main()
