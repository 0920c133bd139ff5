"""Full training steps with nn modules and an optimizer, narae vs torch (same weights/data).

1. MLP 784-256-256-10 (ReLU), batch 128, cross-entropy, SGD momentum 0.9  (target <= 0.8)
2. CNN conv5x5(1->32)-pool-conv5x5(32->64)-pool-fc1024-fc10, batch 64, Adam (target <= 1.5)
3. DataLoader overhead: the time to iterate narae.utils.data.DataLoader over 60,000
   in-memory examples (shuffled, batch 128), as a share of one MLP training epoch.
"""
import time

import numpy as np
import torch

import narae as nr
import narae.nn as nn
import narae.optim as optim
from narae.utils.data import DataLoader, TensorDataset
from harness import compare, report


def mlp(lib):
    """MLP 784-256-256-10 in ``lib`` (narae or torch); the GPU benchmark uses it too."""
    m = lib.nn
    return m.Sequential(m.Linear(784, 256), m.ReLU(), m.Linear(256, 256), m.ReLU(),
                        m.Linear(256, 10))


def cnn(lib):
    """The MNIST-style CNN in ``lib``; the GPU benchmark uses it too."""
    m = lib.nn
    return m.Sequential(m.Conv2d(1, 32, 5, padding=2), m.ReLU(), m.MaxPool2d(2),
                        m.Conv2d(32, 64, 5, padding=2), m.ReLU(), m.MaxPool2d(2), m.Flatten(),
                        m.Linear(3136, 1024), m.ReLU(), m.Linear(1024, 10))


def _pair(build):
    """The same architecture in both libraries, torch's weights copied into ours."""
    torch.manual_seed(0)
    theirs = build(torch)
    ours = build(nr)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _stepper(model, opt, loss_fn, x, y):
    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def bench_step(name, build, batch, shape, make_opt, target):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + shape).astype(np.float32)
    y = rng.integers(0, 10, batch)
    ours, theirs = _pair(build)
    step_n = _stepper(ours, make_opt(optim, ours), nn.CrossEntropyLoss(), nr.tensor(x),
                      nr.tensor(y))
    step_t = _stepper(theirs, make_opt(torch.optim, theirs), torch.nn.CrossEntropyLoss(),
                      torch.tensor(x), torch.tensor(y))
    for _ in range(3):  # the two runs stay in lock-step: same losses
        np.testing.assert_allclose(step_n().item(), step_t().item(), rtol=2e-3)
    report(name, *compare(step_n, step_t, rounds=9), target=target)


def bench_loader_overhead(n=60000, batch=128):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 784)).astype(np.float32)
    y = rng.integers(0, 10, n)
    model = mlp(nr)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(nr.tensor(x), nr.tensor(y)), batch_size=batch,
                        shuffle=True)

    def train(batches):
        t0 = time.perf_counter()
        for xb, yb in batches:
            _stepper(model, opt, loss_fn, xb, yb)()
        return time.perf_counter() - t0

    def by_hand():
        order = np.random.default_rng(1).permutation(n)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            yield nr.from_numpy(x[idx]), nr.from_numpy(y[idx])

    def iterate(batches):
        t0 = time.perf_counter()
        for _ in batches:
            pass
        return time.perf_counter() - t0

    # Training times swing by tens of percent on a shared machine, so measure the loader's
    # own cost (iterating it, against slicing by hand) and compare it with an epoch's time.
    epoch_s = min(train(by_hand()) for _ in range(2))
    loader_s = min(iterate(loader) for _ in range(5))
    hand_s = min(iterate(by_hand()) for _ in range(5))
    print(f"DataLoader, MLP epoch of {n} examples (batch {batch}): epoch {epoch_s:.2f} s, "
          f"iterating the loader {loader_s * 1e3:.1f} ms ({100 * loader_s / epoch_s:.1f}% of "
          f"the epoch), slicing by hand {hand_s * 1e3:.1f} ms; loader overhead "
          f"{100 * (loader_s - hand_s) / epoch_s:.2f}% (target < 5%)", flush=True)


def main():
    bench_step("train step MLP 784-256-256-10 bs128 SGD momentum", mlp, 128, (784,),
               lambda o, m: o.SGD(m.parameters(), lr=0.01, momentum=0.9), 0.8)
    bench_step("train step CNN bs64 Adam", cnn, 64, (1, 28, 28),
               lambda o, m: o.Adam(m.parameters(), lr=1e-3), 1.5)
    bench_loader_overhead()


if __name__ == "__main__":
    main()
