"""The same training code on the CPU and on an NVIDIA GPU, eager or captured, fp32 or mixed.

A LeNet-5 (resizing its 8x8 input inside) trains on scikit-learn's digits with the PyTorch
idiom.
The four variants differ only in arguments:

    python examples/gpu_training.py                          # CPU, eager
    python examples/gpu_training.py --device cuda            # GPU (CuPy), eager
    python examples/gpu_training.py --device cuda --compile  # one CUDA graph per step
    python examples/gpu_training.py --device cuda --amp      # float16 autocast + loss scaling
    python examples/gpu_training.py --device cuda --amp --compile   # both

It prints the test accuracy and the time per training step. On the CPU ``--compile`` runs
the step eagerly but checks it against the capture rules (no host syncs inside), and
``--amp`` is only a correctness demo: NumPy has no float16 BLAS, so it is ~25x slower there.
"""
import argparse
import time

import numpy as np

import narae as nr
import narae.nn.functional as F
from narae import optim
from narae.models import lenet5
from narae.models.experiments import digits_split


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--amp", action="store_true", help="float16 autocast and a GradScaler")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    if args.device.startswith("cuda") and not nr.cuda.is_available():
        raise SystemExit("no CUDA GPU here (pip install narae[cuda] on a machine with one)")

    nr.manual_seed(0)
    x_train, y_train, x_test, y_test = digits_split()
    model = lenet5(input_size=8).to(args.device)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    scaler = nr.amp.GradScaler(args.device.split(":")[0], enabled=args.amp)
    device_type = args.device.split(":")[0]

    def train_step(x, y):
        opt.zero_grad()
        with nr.autocast(device_type, dtype=nr.float16, enabled=args.amp):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss

    if args.compile:       # with --amp too: on a GPU the scaler never reads back to the host
        train_step = nr.compile(train_step)

    n = len(x_train) // args.batch_size * args.batch_size   # one batch shape: one graph
    rng = np.random.default_rng(0)
    steps, start = 0, None
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_train))[:n]
        for i in range(0, n, args.batch_size):
            idx = order[i:i + args.batch_size]
            x = nr.tensor(x_train[idx], device=args.device)
            y = nr.tensor(y_train[idx], device=args.device)
            loss = train_step(x, y)
            if epoch == 0 and i == 0:
                start = time.perf_counter()     # after the first (compiling) step
            else:
                steps += 1
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}")
    if device_type == "cuda":
        nr.cuda.synchronize()
    per_step = (time.perf_counter() - start) / max(steps, 1)
    model.eval()
    with nr.no_grad():
        logits = model(nr.tensor(x_test, device=args.device))
    acc = float((logits.argmax(1).cpu().numpy() == y_test).mean())
    print(f"test accuracy {acc:.4f}; {per_step * 1e3:.2f} ms per step on {args.device}"
          f"{' (compiled)' if args.compile else ''}{' (amp)' if args.amp else ''}")


if __name__ == "__main__":
    main()
