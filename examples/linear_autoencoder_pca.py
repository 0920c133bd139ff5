"""A linear autoencoder learns PCA's subspace (Baldi & Hornik, 1989).

A 64 -> k -> 64 autoencoder with no non-linearity, trained on centred digits with squared
error, can do no better than the best rank-k projection, which is the projection onto the
top k principal components. So at the optimum the decoder's columns span exactly PCA's
subspace (though they are neither orthogonal nor the components themselves): the principal
angles between the two subspaces are ~0.

    python examples/linear_autoencoder_pca.py --k 4
"""
import argparse
import time

from narae.models.unsupervised_experiments import linear_autoencoder_pca


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=4, help="bottleneck size")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.time()
    r = linear_autoencoder_pca(k=args.k, seed=args.seed)
    print(f"k={r['k']}: principal angles (degrees) between the AE's and PCA's subspaces:")
    print("  " + ", ".join(f"{a:.4f}" for a in r["angles_deg"]))
    print(f"reconstruction MSE: autoencoder {r['ae_mse']:.6f}, PCA {r['pca_mse']:.6f}")
    print(f"({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    main()
