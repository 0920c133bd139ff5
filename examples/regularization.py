"""Dropout and weight penalties on an over-parameterised MLP trained on 150 digits.

Without regularisation the network memorises its training set (loss ~0) and its test loss
is far higher; dropout and L2 shrink that gap. L1 drives a large fraction of the weights to
(nearly) zero, L2 only shrinks them.

    python examples/regularization.py --n-train 150 --epochs 150
"""
import argparse

from narae.models.experiments import regularization


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=150)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--l2", type=float, default=3e-3)
    ap.add_argument("--l1", type=float, default=3e-4)
    args = ap.parse_args()
    r = regularization(n_train=args.n_train, hidden=args.hidden, epochs=args.epochs,
                       l2=args.l2, l1=args.l1)
    print(f"{'':>8} {'train loss':>10} {'test loss':>10} {'gap':>7} {'train acc':>9} "
          f"{'test acc':>9} {'|w|<1e-3':>9}")
    for name, v in r.items():
        print(f"{name:>8} {v['train_loss']:>10.4f} {v['test_loss']:>10.4f} "
              f"{v['loss_gap']:>7.3f} {v['train_accuracy']:>9.3f} {v['test_accuracy']:>9.3f} "
              f"{v['near_zero_fraction']:>9.1%}")


if __name__ == "__main__":
    main()
