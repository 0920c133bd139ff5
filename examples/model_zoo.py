"""A tour of the vision zoo: parameter counts against torchvision's published figures, then a
CIFAR-style ResNet-20 trained briefly on the digits.

    python examples/model_zoo.py [--epochs 5]

Every model here can also be trained from the command line, e.g.
``narae train --model resnet18 --dataset cifar10 --data-dir data`` (with the CIFAR-10
binary files in data/cifar-10-batches-bin) or ``narae train --model resnet20``.
"""
import argparse

import narae as nr
from narae import models, nn, optim
from narae.datasets import Digits
from narae.train import evaluate, fit

TORCHVISION = {"alexnet": 61_100_840, "vgg11": 132_863_336, "vgg16": 138_357_544,
               "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
               "resnet101": 44_549_160, "resnet152": 60_192_808, "googlenet": 6_624_904}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args(argv)
    for name, published in TORCHVISION.items():
        n = models.count_parameters(getattr(models, name))
        print(f"{name:10s} {n:>12,} parameters (torchvision: {published:,}) "
              f"{'ok' if n == published else 'DIFFERENT'}")
    nr.manual_seed(0)
    model = models.MODELS["resnet20"]((1, 8, 8), 10)
    history = fit(model, Digits(train=True), loss=nn.CrossEntropyLoss(),
                  optimizer=optim.Adam(model.parameters(), lr=2e-3), epochs=args.epochs,
                  batch_size=64, metrics=["accuracy"])
    result = evaluate(model, Digits(train=False), metrics=["accuracy"])
    print(f"resnet20 on digits after {len(history.epoch)} epochs: test accuracy "
          f"{result['accuracy']:.4f}")
    return result


if __name__ == "__main__":
    main()
