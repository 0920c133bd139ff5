"""Per-example gradients with narae.func: ``vmap(grad(loss))`` over ``functional_call``.

Differential privacy (DP-SGD) clips each example's gradient before averaging, and some
diagnostics (gradient noise, influence of single examples) need them too. A normal
backward only gives the batch's sum. torch.func's recipe works unchanged: make the loss a
function of the parameters with ``functional_call``, differentiate it with ``grad`` and map
that over the batch with ``vmap``. The script checks the result against one backward per
example and then runs a few steps of clipped, noised (DP-SGD style) training on digits.

    python examples/per_sample_gradients.py
"""
import argparse

import numpy as np

import narae as nr
import narae.nn as nn
import narae.nn.functional as F
from narae.datasets import Digits
from narae.func import functional_call, grad, vmap


def per_example_grads(model, params, x, y):
    def loss_of_one(p, xi, yi):
        out = functional_call(model, p, (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))
    return vmap(grad(loss_of_one), in_dims=(None, 0, 0))(params, x, y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--clip", type=float, default=1.0, help="per-example gradient norm bound")
    ap.add_argument("--noise", type=float, default=0.5, help="noise std, in units of clip")
    args = ap.parse_args()
    nr.manual_seed(0)
    train = Digits(train=True)
    x_all = nr.tensor(np.stack([train[i][0].numpy().ravel() for i in range(len(train))]))
    y_all = nr.tensor([int(train[i][1]) for i in range(len(train))])
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    params = {k: v.detach() for k, v in model.named_parameters()}

    x, y = x_all[:8], y_all[:8]
    grads = per_example_grads(model, params, x, y)
    worst = 0.0
    for i in range(len(x)):  # the same numbers, one backward at a time
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        for name, p in model.named_parameters():
            worst = max(worst, float(np.abs(grads[name][i].numpy() - p.grad.numpy()).max()))
    print(f"vmap(grad) vs one backward per example: max |difference| = {worst:.2e}")

    opt_lr = 0.5
    for step in range(args.steps):
        idx = nr.randint(0, len(x_all), (args.batch,))
        g = per_example_grads(model, params, x_all[idx], y_all[idx])
        norms = sum((g[k].reshape(args.batch, -1) ** 2).sum(1) for k in g).sqrt()
        scale = (args.clip / (norms + 1e-6)).clamp(max=1.0)
        for k in params:
            clipped = (g[k] * scale.reshape((-1,) + (1,) * (g[k].ndim - 1))).sum(0)
            noisy = clipped + nr.randn(*clipped.shape) * args.noise * args.clip
            params[k] = params[k] - opt_lr * noisy / args.batch
        if step % 10 == 0 or step == args.steps - 1:
            with nr.no_grad():
                acc = (functional_call(model, params, (x_all,)).argmax(1) == y_all)
            print(f"step {step:3d}: median per-example grad norm {float(norms.median()):.3f}, "
                  f"train accuracy {float(acc.float().mean()):.3f}")


if __name__ == "__main__":
    main()
