"""Functions the spawn tests start in child processes (importable by name under 'spawn')."""
import os
import sys


def write_rank(i, path):
    with open(os.path.join(path, f"rank{i}"), "w") as f:
        f.write(str(i))


def fail_on_one(i):
    if i == 1:
        raise ValueError(f"bad thing in child {i}")


def exit_three(i):
    if i == 0:
        sys.exit(3)


def all_reduce_world(i, port, path):
    import narae
    import narae.distributed as dist
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=i,
                            world_size=2)
    t = narae.tensor([i + 1.0])
    dist.all_reduce(t)
    with open(os.path.join(path, f"sum{i}"), "w") as f:
        f.write(str(t.item()))
    dist.destroy_process_group()
