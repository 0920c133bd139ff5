"""Optimisers on an ill-conditioned problem, and Adagrad on sparse features.

1. Least squares whose Hessian has condition number 1000: steps for each optimiser (best
   learning rate from a grid) to cut the loss 1000-fold. SGD needs thousands, momentum
   ~10x fewer, RMSProp and Adam (per-coordinate scaling) fewer still.
2. Minibatch regression on binary features of frequencies 50% ... 0.5%: SGD's rate must
   suit the frequent features, so rare ones barely learn; Adagrad scales each rate by the
   feature's own gradient history.

    python examples/optimizers_conditioning.py --condition 1000
"""
import argparse

from narae.models.experiments import adagrad_sparse, optimizer_conditioning


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--condition", type=float, default=1e3)
    ap.add_argument("--max-steps", type=int, default=5000)
    args = ap.parse_args()
    r = optimizer_conditioning(condition=args.condition, max_steps=args.max_steps)
    print(f"condition number {r['condition']:.0f}: steps to loss <= {r['target_loss']:.2e}")
    for name in ("sgd", "momentum", "rmsprop", "adam"):
        steps = r[name]["steps"]
        shown = f"{steps}" if steps <= args.max_steps else f"> {args.max_steps}"
        print(f"  {name:>9}: {shown:>7} steps (lr {r[name]['lr']})")
    s = adagrad_sparse()
    print("sparse features (best lr each): final loss, mean |w - w*| on rare / frequent")
    for name, v in s.items():
        print(f"  {name:>9}: loss {v['loss']:.4f}, rare {v['rare_weight_error']:.3f}, "
              f"frequent {v['frequent_weight_error']:.3f} (lr {v['lr']})")


if __name__ == "__main__":
    main()
