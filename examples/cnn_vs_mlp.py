"""Convolution vs dense layers on scikit-learn's digits, and LeNet-5.

A small CNN (9,930 parameters) and a one-hidden-layer MLP with the same budget, trained
identically: the CNN's weight sharing and locality generalise better, more so on less data.
Then LeNet-5 (the 8x8 digits upsampled to 28x28 inside the model), trained 40 epochs with
random affine distortions and dropout 0.3, reaches ~0.98-0.99.

    python examples/cnn_vs_mlp.py --seeds 0 1 2
    narae train --model lenet5 --dataset digits      # (once the CLI registers lenet5)
"""
import argparse

from narae.models.experiments import cnn_vs_mlp, lenet_digits


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n-train", type=int, default=None)
    ap.add_argument("--no-lenet", action="store_true")
    args = ap.parse_args()
    r = cnn_vs_mlp(epochs=args.epochs, n_train=args.n_train, seeds=tuple(args.seeds))
    for name, v in r.items():
        accs = ", ".join(f"{a:.3f}" for a in v["test_accuracy"])
        print(f"{name}: {v['params']:,} parameters, test accuracy {accs} "
              f"(mean {v['mean_test_accuracy']:.3f})")
    if not args.no_lenet:
        le = lenet_digits()
        print(f"lenet5: {le['params']:,} parameters, test accuracy {le['test_accuracy']:.3f}")


if __name__ == "__main__":
    main()
