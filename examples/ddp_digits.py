"""Data-parallel training on 8x8 digits: 2 processes, each on its shard of every batch.

    python examples/ddp_digits.py --nprocs 2 --epochs 8

Each process joins a narae.distributed group over TCP (env:// rendezvous on localhost),
reads its own shard through DistributedSampler, and wraps the model in
DistributedDataParallel, which averages gradients across processes during backward. The
processes therefore hold identical weights after every step (checked at the end) and
each evaluates its own half of the test set; rank 0 all-reduces the counts for the total.
"""
import argparse
import os
import socket
import time

import numpy as np

import narae
import narae.distributed as dist
import narae.multiprocessing as mp
import narae.nn as nn
import narae.nn.functional as F
from narae.datasets import Digits
from narae.nn.parallel import DistributedDataParallel as DDP
from narae.utils.data import DataLoader, DistributedSampler


def worker(rank, world_size, port, epochs, batch_size, lr):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size))
    dist.init_process_group("gloo")
    narae.manual_seed(rank)  # different initial weights: DDP starts everyone from rank 0's
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    ddp = DDP(model)
    opt = narae.optim.SGD(ddp.parameters(), lr=lr, momentum=0.9)
    train, test = Digits(train=True), Digits(train=False)
    sampler = DistributedSampler(train, shuffle=True, seed=0)
    # the global batch is batch_size; each of the world_size processes sees its share
    loader = DataLoader(train, batch_size=batch_size // world_size, sampler=sampler)
    t0 = time.time()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        total = 0.0
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(ddp(x), y)
            loss.backward()
            opt.step()
            total += loss.item()
        if rank == 0:
            print(f"epoch {epoch + 1}: rank 0 mean loss {total / len(loader):.4f}", flush=True)
    model.eval()
    eval_sampler = DistributedSampler(test, shuffle=False)
    correct = seen = 0
    with narae.no_grad():
        for x, y in DataLoader(test, batch_size=128, sampler=eval_sampler):
            correct += int((model(x).argmax(1) == y).sum().item())
            seen += len(y)
    print(f"rank {rank}: accuracy on its {seen} test digits {correct / seen:.3f} "
          f"({time.time() - t0:.1f}s)", flush=True)
    counts = narae.tensor([float(correct), float(seen)])
    dist.all_reduce(counts)
    weights = [None] * world_size  # every rank must hold the same weights
    dist.all_gather_object(weights, float(np.abs(model[1].weight.detach().numpy()).sum()))
    if rank == 0:
        print(f"all ranks: test accuracy {counts[0].item() / counts[1].item():.3f}; "
              f"identical weights on every rank: {len(set(weights)) == 1}", flush=True)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nprocs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    args = ap.parse_args()
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, (args.nprocs, port, args.epochs, args.batch_size, args.lr),
             nprocs=args.nprocs)


if __name__ == "__main__":
    main()
