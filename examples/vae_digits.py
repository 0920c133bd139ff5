"""A variational autoencoder on 8x8 digits: prior samples and latent interpolations.

    python examples/vae_digits.py --latent 4 --out vae_out
"""
import argparse
import time

from narae.models.unsupervised_experiments import vae_digits


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latent", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--out", default="vae_out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.time()
    r = vae_digits(latent_dim=args.latent, epochs=args.epochs, seed=args.seed,
                   out_dir=args.out)
    print(f"negative ELBO per digit: {r['history'][0]:.2f} -> {r['history'][-1]:.2f} nats")
    for name in ("quality", "interp_quality"):
        q = r[name]
        print(f"{name}: nearest-digit distance {q['nn_dist']:.3f} (real {q['real_nn_dist']:.3f}, "
              f"shuffled {q['noise_nn_dist']:.3f}); classifier confidence "
              f"{q['confidence']:.3f}; classes {q['n_classes']}")
    print(f"grids: {r['grid']}, {r['interp_grid']} ({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    main()
