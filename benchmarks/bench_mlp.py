"""MLP 784-256-256-10 (ReLU), batch 128: forward + cross-entropy + backward, narae vs torch."""
import numpy as np
import torch
import torch.nn.functional as TF

import narae as nr
import narae.nn.functional as F
from harness import compare, report


def main(batch=128):
    rng = np.random.default_rng(0)
    sizes = [784, 256, 256, 10]
    ws = [(rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32)
          for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(o, np.float32) for o in sizes[1:]]
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch)

    nw = [nr.tensor(w, requires_grad=True) for w in ws]
    nb = [nr.tensor(b, requires_grad=True) for b in bs]
    tw = [torch.tensor(w, requires_grad=True) for w in ws]
    tb = [torch.tensor(b, requires_grad=True) for b in bs]
    nx, ny = nr.tensor(x), nr.tensor(y)
    tx, ty = torch.tensor(x), torch.tensor(y)

    def step(m, f, x, y, w, b):
        for p in w + b:
            p.grad = None
        h = x
        for i in range(3):
            h = f.linear(h, w[i], b[i])
            if i < 2:
                h = f.relu(h)
        loss = f.cross_entropy(h, y)
        loss.backward()
        return loss

    ours = lambda: step(nr, F, nx, ny, nw, nb)  # noqa: E731
    theirs = lambda: step(torch, TF, tx, ty, tw, tb)  # noqa: E731
    np.testing.assert_allclose(ours().item(), theirs().item(), rtol=1e-5)
    np.testing.assert_allclose(nw[0].grad.numpy(), tw[0].grad.numpy(), rtol=1e-3, atol=1e-5)
    report(f"MLP 784-256-256-10 bs{batch} fwd+CE+bwd", *compare(ours, theirs), target=0.8)


if __name__ == "__main__":
    main()
