"""A DCGAN (Radford et al., 2016) or an MLP GAN on 8x8 digits.

A grid of samples from one fixed noise batch is saved after every epoch in
``OUT/<kind>_epochs/``. Prints the balance of the game over the second half of training
(mean losses, how often either player "won" outright) and the quality of the samples.

    python examples/gan_digits.py --kind dcgan --epochs 25 --out gan_out
"""
import argparse
import time

from narae.models.unsupervised_experiments import gan_digits


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="dcgan", choices=["dcgan", "mlp"])
    ap.add_argument("--loss", default="non_saturating", choices=["non_saturating", "minimax"])
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--out", default="gan_out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.time()
    r = gan_digits(kind=args.kind, epochs=args.epochs, loss=args.loss, seed=args.seed,
                   out_dir=args.out)
    b, q = r["balance"], r["quality"]
    print(f"second half: D loss {b['d_loss']:.3f}, G loss {b['g_loss']:.3f}, "
          f"D(real) {b['d_real']:.2f}, D(fake) {b['d_fake']:.2f}, "
          f"collapsed steps {100 * b['collapsed_fraction']:.1f}%")
    print(f"samples: nearest-digit distance {q['nn_dist']:.3f} (real {q['real_nn_dist']:.3f}, "
          f"shuffled {q['noise_nn_dist']:.3f}); classifier confidence {q['confidence']:.3f}; "
          f"classes {q['n_classes']}")
    print(f"grid: {r['grid']}, per-epoch grids in {args.out}/{args.kind}_epochs "
          f"({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    main()
