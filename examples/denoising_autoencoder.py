"""A denoising autoencoder (Vincent et al., 2008) restores corrupted digits.

Trained to map a corrupted digit back to the clean one, the network's output on held-out
corrupted digits is much closer (MSE) to the clean digit than the corrupted input was.

    python examples/denoising_autoencoder.py --noise mask --level 0.5 --out dae_out
"""
import argparse
import os
import time

from narae.models.unsupervised_experiments import denoising_digits
from narae.plotting import plot_reconstructions


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", default="mask", choices=["mask", "gaussian", "salt_pepper"])
    ap.add_argument("--level", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--out", default="dae_out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.time()
    r = denoising_digits(noise=args.noise, level=args.level, epochs=args.epochs,
                         seed=args.seed, out_dir=args.out)
    print(f"MSE to the clean test digits: corrupted input {r['mse_corrupted']:.4f}, "
          f"denoised {r['mse_denoised']:.4f}")
    print(f"grid (clean / corrupted / denoised): {r['grid']} ({time.time() - t0:.1f}s)")
    try:
        clean, noisy, denoised = r["examples"]
        path = plot_reconstructions(clean, denoised, os.path.join(args.out, "figure.png"),
                                    corrupted=noisy, n=10,
                                    title="clean / corrupted / denoised")
        print(f"matplotlib figure: {path}")
    except ImportError as e:
        print(f"(no figure: {e})")


if __name__ == "__main__":
    main()
