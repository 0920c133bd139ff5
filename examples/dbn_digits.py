"""A deep belief network on 8x8 digits: greedy CD-1 pre-training, then fine-tuning.

Each RBM learns features of the layer below without labels; the stack is unrolled into a
sigmoid MLP with a fresh softmax layer and trained with backprop. Compare with
``--no-pretrain`` (the same MLP from the RBMs' small random initialisation).

    python examples/dbn_digits.py
"""
import argparse
import time

from narae.models.unsupervised_experiments import dbn_digits


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--pretrain-epochs", type=int, default=30)
    ap.add_argument("--finetune-epochs", type=int, default=30)
    ap.add_argument("--no-pretrain", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.time()
    r = dbn_digits(sizes=args.sizes, pretrain_epochs=args.pretrain_epochs,
                   finetune_epochs=args.finetune_epochs, pretrain=not args.no_pretrain,
                   seed=args.seed)
    for i, errs in enumerate(r["pretrain_errors"]):
        print(f"RBM {i}: reconstruction error {errs[0]:.3f} -> {errs[-1]:.3f}")
    print(f"test accuracy {r['test_accuracy']:.4f} ({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    main()
