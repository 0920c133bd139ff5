"""A perceptron cannot learn XOR; one hidden layer can (Minsky & Papert, 1969).

Rosenblatt's rule converges on AND (linearly separable) but keeps making mistakes on XOR
forever: no line puts (0,1), (1,0) on one side and (0,0), (1,1) on the other, so at most 3
of 4 points are right. An MLP 2-4-2 with tanh units, trained by backprop, gets all four.

    python examples/perceptron_xor.py
"""
import argparse

from narae.models.experiments import xor


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=100, help="perceptron epochs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    r = xor(hidden=args.hidden, perceptron_epochs=args.epochs, seed=args.seed)
    print(f"perceptron on AND: accuracy {r['perceptron_and_accuracy']:.2f}, "
          f"converged: {r['perceptron_and_converged']}")
    print(f"perceptron on XOR: accuracy {r['perceptron_xor_accuracy']:.2f}, "
          f"converged: {r['perceptron_xor_converged']} (mistakes in the last epochs: "
          f"{r['perceptron_xor_errors_last_epochs']})")
    print(f"MLP 2-{args.hidden}-2 on XOR: accuracy {r['mlp_xor_accuracy']:.2f}, "
          f"loss {r['mlp_xor_loss']:.4f}")


if __name__ == "__main__":
    main()
