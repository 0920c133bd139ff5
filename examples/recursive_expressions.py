"""A recursive neural network evaluates arithmetic expression trees such as
((3 + 4) - 9) mod 10, composing child vectors with one shared set of weights.

    python examples/recursive_expressions.py                # ~15-60 s on one CPU core
    python examples/recursive_expressions.py --max-ops 4 --steps 4000
"""
import argparse

from narae.models.recursive import recursive_demo


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--max-ops", type=int, default=3, help="operators per expression (1..N)")
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--compose-hidden", type=int, default=128,
                   help="hidden width of the composition MLP (0: one tanh layer)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    summary = recursive_demo(seed=a.seed, steps=a.steps, max_ops=a.max_ops, dim=a.dim,
                             compose_hidden=a.compose_hidden or None, lr=a.lr)
    print("accuracy >= 95%:", "yes" if summary["test_accuracy"] >= 0.95 else "no")
    return summary


if __name__ == "__main__":
    main()
