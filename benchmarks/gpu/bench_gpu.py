"""Full training steps on the GPU, narae (CuPy) vs torch eager (cudnn.benchmark=True).

Both libraries run in this one process, interleaved round by round, on the same weights and
the same device-resident batch; every round is bracketed by a device synchronisation, so the
times are of finished GPU work, not of queued launches. Per workload it prints

    <name>: narae X ms, torch Y ms, ratio R (target <= T) | peak narae A MiB, torch B MiB, ratio M

and, when ``narae.compile`` exists, the same for the captured (CUDA-graph) step against torch
eager. A markdown table of everything follows at the end, for the README.

Workloads (issue 6): MLP 784-256-256-10 at batch 128 and 4096 (SGD momentum); the MNIST-style
CNN at batch 64 and 1024 (Adam); the character LSTM LM (batch 32, seq 64, hidden 256, Adam);
CIFAR ResNet-20 at batch 128 (SGD momentum, BN).

Without a usable GPU (no CuPy, no device, or a CPU-only torch) it prints why and exits with
status 2: nothing was measured, which a driver script can tell apart from success (0).
``--dry-run-cpu`` runs every code path on the CPU at tiny batches (no timing meaning) to
check the script itself on a machine without a GPU.

    python benchmarks/gpu/bench_gpu.py [--only cnn] [--rounds 15] [--strict-fp32]
"""
import argparse
import gc
import os
import statistics
import sys
import time

import numpy as np

EXIT_NO_GPU = 2
MiB = 1024 * 1024


# -- the workloads: each builds the same model in both libraries -------------------------------
# The MLP and the MNIST-style CNN are bench_train_step's (the CPU benchmark), one level up.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench_train_step import cnn, mlp  # noqa: E402

V, E, H, SEQ = 65, 128, 256, 64


def char_lstm(lib):
    """narae.models.CharLSTM, and a torch twin with the same state_dict keys."""
    if lib.__name__ == "narae":
        from narae.models import CharLSTM
        return CharLSTM(V, embed_dim=E, hidden_size=H)
    import torch

    class TorchCharLSTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(V, E)
            self.lstm = torch.nn.LSTM(E, H, batch_first=True)
            self.head = torch.nn.Linear(H, V)

        def forward(self, x):
            y, state = self.lstm(self.embed(x))
            return self.head(y), state
    return TorchCharLSTM()


def resnet20(lib):
    """narae.models.MODELS["resnet20"], and a torch twin (option-A shortcuts, same keys)."""
    if lib.__name__ == "narae":
        from narae.models import MODELS
        return MODELS["resnet20"]((3, 32, 32), 10)
    import torch
    import torch.nn.functional as TF
    tnn = torch.nn

    class Pad(tnn.Module):
        def __init__(self, extra):
            super().__init__()
            self.pad = (0, 0, 0, 0, extra // 2, extra - extra // 2)

        def forward(self, x):
            return TF.pad(x[:, :, ::2, ::2], self.pad)

    class Block(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.downsample = Pad(cout - cin) if (stride != 1 or cin != cout) else None

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class ResNet20(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(16)
            self.relu = tnn.ReLU(inplace=True)
            self.layer1 = tnn.Sequential(*[Block(16, 16, 1) for _ in range(3)])
            self.layer2 = tnn.Sequential(Block(16, 32, 2), Block(32, 32, 1), Block(32, 32, 1))
            self.layer3 = tnn.Sequential(Block(32, 64, 2), Block(64, 64, 1), Block(64, 64, 1))
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.fc = tnn.Linear(64, 10)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(torch.flatten(self.avgpool(x), 1))
    return ResNet20()


def sgd_momentum(o, params):
    return o.SGD(params, lr=0.01, momentum=0.9)


def sgd_resnet(o, params):
    return o.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)


def adam(o, params):
    return o.Adam(params, lr=1e-3)


# name, builder, batch, kind of input, optimizer, eager target, captured target
WORKLOADS = [
    ("MLP 784-256-256-10 bs128 SGD momentum", mlp, 128, "flat", sgd_momentum, None, 0.5),
    ("MLP 784-256-256-10 bs4096 SGD momentum", mlp, 4096, "flat", sgd_momentum, 1.5, None),
    ("CNN bs64 Adam", cnn, 64, "mnist", adam, None, 0.5),
    ("CNN bs1024 Adam", cnn, 1024, "mnist", adam, 1.5, None),
    ("char LSTM LM bs32 seq64 h256 Adam", char_lstm, 32, "text", adam, 1.5, None),
    ("ResNet-20 CIFAR bs128 SGD momentum", resnet20, 128, "cifar", sgd_resnet, 1.5, None),
]
MEMORY_TARGET = 1.5


# -- building one workload in both libraries -------------------------------------------------
def _batch(kind, batch, rng):
    if kind == "text":
        ids = rng.integers(0, V, (batch, SEQ + 1))
        return ids[:, :-1], ids[:, 1:]
    shape = {"flat": (784,), "mnist": (1, 28, 28), "cifar": (3, 32, 32)}[kind]
    return rng.standard_normal((batch,) + shape).astype(np.float32), rng.integers(0, 10, batch)


def _loss_fn(lib_F, kind):
    if kind == "text":
        return lambda out, y: lib_F.cross_entropy(out[0].reshape(-1, V), y.reshape(-1))
    return lib_F.cross_entropy


def build(workload, device, amp=False):
    """(ours_step, theirs_step): one full training step each, same weights, same batch.
    With ``amp`` both run forward and loss under float16 autocast and scale the loss with a
    GradScaler (torch.amp's and narae.amp's), the float32 weights updated as usual."""
    import torch
    import narae as nr
    import narae.nn.functional
    import narae.optim
    name, builder, batch, kind, make_opt, _, _ = workload
    torch.manual_seed(0)
    theirs = builder(torch)
    ours = builder(nr)
    ours.load_state_dict({k: v.detach().cpu().numpy() for k, v in theirs.state_dict().items()})
    ours.to(device)
    theirs.to(device)
    ours.train()
    theirs.train()
    x, y = _batch(kind, batch, np.random.default_rng(0))
    xo, yo = nr.tensor(x, device=device), nr.tensor(y, device=device)
    xt, yt = torch.tensor(x, device=device), torch.tensor(y, device=device)
    opt_o = make_opt(nr.optim, ours.parameters())
    opt_t = make_opt(torch.optim, theirs.parameters())
    loss_o, loss_t = _loss_fn(nr.nn.functional, kind), _loss_fn(torch.nn.functional, kind)

    if amp:
        dev_type = "cuda" if device != "cpu" else "cpu"
        scaler_o = nr.amp.GradScaler(dev_type)
        scaler_t = torch.amp.GradScaler(dev_type)

        def ours_step():
            opt_o.zero_grad()
            with nr.autocast(dev_type, dtype=nr.float16):
                loss = loss_o(ours(xo), yo)
            scaler_o.scale(loss).backward()
            scaler_o.step(opt_o)
            scaler_o.update()
            return loss

        def theirs_step():
            opt_t.zero_grad(set_to_none=True)
            with torch.autocast(dev_type, dtype=torch.float16):
                loss = loss_t(theirs(xt), yt)
            scaler_t.scale(loss).backward()
            scaler_t.step(opt_t)
            scaler_t.update()
            return loss
        return ours_step, theirs_step

    def ours_step():
        opt_o.zero_grad()
        loss = loss_o(ours(xo), yo)
        loss.backward()
        opt_o.step()
        return loss

    def theirs_step():
        opt_t.zero_grad(set_to_none=True)
        loss = loss_t(theirs(xt), yt)
        loss.backward()
        opt_t.step()
        return loss
    return ours_step, theirs_step


# -- timing and memory ----------------------------------------------------------------------
class Sync:
    """Device synchronisation for both libraries (a no-op pair in a CPU dry run)."""

    def __init__(self, device):
        import torch
        import narae as nr
        self.on_gpu = device != "cpu"
        self.ours = nr.cuda.synchronize if self.on_gpu else (lambda: None)
        self.theirs = torch.cuda.synchronize if self.on_gpu else (lambda: None)


def _round(step, sync, inner):
    sync()
    t0 = time.perf_counter()
    for _ in range(inner):
        step()
    sync()
    return (time.perf_counter() - t0) / inner


def compare(ours, theirs, sync, rounds, warmup, round_s=0.1):
    """Median seconds per step of each, alternating which goes first every round."""
    for _ in range(warmup):  # kernel compilation, cudnn autotuning, allocator pools
        ours()
        theirs()
    one = max(_round(ours, sync.ours, 1), _round(theirs, sync.theirs, 1), 1e-6)
    inner = max(1, min(500, int(round_s / one)))
    a, b = [], []
    for r in range(rounds):
        pair = [(ours, sync.ours, a), (theirs, sync.theirs, b)]
        for step, s, out in (pair if r % 2 == 0 else pair[::-1]):
            out.append(_round(step, s, inner))
    return statistics.median(a), statistics.median(b)


def torch_peak(step, steps=2):
    import torch
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated()


def narae_peak(step, steps=2):
    """Peak bytes in use during ``steps`` steps (parameters and optimizer state included, as
    torch's max_memory_allocated). narae's own counter if the backend has one, else the
    used bytes of CuPy's default pool sampled at every allocation (untimed pass)."""
    import narae as nr
    if hasattr(nr.cuda, "max_memory_allocated") and hasattr(nr.cuda, "reset_peak_memory_stats"):
        nr.cuda.synchronize()
        nr.cuda.reset_peak_memory_stats()
        for _ in range(steps):
            step()
        nr.cuda.synchronize()
        return nr.cuda.max_memory_allocated()
    import cupy as cp
    pool = cp.get_default_memory_pool()
    peak = [pool.used_bytes()]

    def malloc(size):
        mem = pool.malloc(size)
        peak[0] = max(peak[0], pool.used_bytes())
        return mem
    previous = cp.cuda.get_allocator()
    cp.cuda.set_allocator(malloc)
    try:
        for _ in range(steps):
            step()
        cp.cuda.Device().synchronize()
    finally:
        cp.cuda.set_allocator(previous)
    return peak[0]


def check_lockstep(ours, theirs, name, steps=3, rtol=2e-2):
    """The two runs do the same work: their first losses agree (TF32 and BN give torch a
    little drift, hence the loose tolerance). A mismatch is reported, not fatal."""
    for i in range(steps):
        lo, lt = float(ours().item()), float(theirs().item())
        if not np.isclose(lo, lt, rtol=rtol, atol=1e-3):
            print(f"  WARNING {name}: step {i} loss narae {lo:.5f} != torch {lt:.5f}: the "
                  "timings below compare different work", flush=True)
            return False
    return True


def _ms(s):
    return f"{s * 1e3:.3f} ms"


def _target(ratio, target):
    if target is None:
        return ""
    return f" (target <= {target}{'' if ratio <= target else ', MISSED'})"


def run(workload, device, args):
    import narae as nr
    name, _, batch, _, _, eager_target, graph_target = workload
    if args.dry_run_cpu:
        batch = min(batch, 8)
        workload = workload[:2] + (batch,) + workload[3:]
    ours, theirs = build(workload, device, amp=args.amp)
    if args.amp:
        name += " [fp16 amp]"
    sync = Sync(device)
    check_lockstep(ours, theirs, name)
    t_o, t_t = compare(ours, theirs, sync, args.rounds, args.warmup,
                       round_s=0.0 if args.dry_run_cpu else 0.1)
    ratio = t_o / t_t
    row = {"name": name, "ours": t_o, "torch": t_t, "ratio": ratio, "target": eager_target}
    line = f"{name}: narae {_ms(t_o)}, torch {_ms(t_t)}, ratio {ratio:.2f}" \
           f"{_target(ratio, eager_target)}"
    if sync.on_gpu:
        gc.collect()
        m_o, m_t = narae_peak(ours), torch_peak(theirs)
        row.update(mem_ours=m_o, mem_torch=m_t)
        line += (f" | peak narae {m_o / MiB:.1f} MiB, torch {m_t / MiB:.1f} MiB, ratio "
                 f"{m_o / m_t:.2f}{_target(m_o / m_t, MEMORY_TARGET)}")
    print(line, flush=True)
    if args.compile and hasattr(nr, "compile"):
        try:
            captured = nr.compile(ours)
            c_o, c_t = compare(captured, theirs, sync, args.rounds, args.warmup,
                               round_s=0.0 if args.dry_run_cpu else 0.1)
            row.update(captured=c_o, captured_torch=c_t)
            print(f"{name} [captured]: narae {_ms(c_o)}, torch eager {_ms(c_t)}, ratio "
                  f"{c_o / c_t:.2f}{_target(c_o / c_t, graph_target)}", flush=True)
        except Exception as e:  # report, and keep measuring the other workloads
            print(f"{name} [captured]: narae.compile failed: {type(e).__name__}: {e}",
                  flush=True)
    return row


def table(rows, device_name):
    print(f"\n| workload ({device_name}) | narae ms | torch ms | ratio | captured ms | "
          f"captured ratio | narae MiB | torch MiB | mem ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cap = (f"{r['captured'] * 1e3:.3f} | {r['captured'] / r['captured_torch']:.2f}"
               if "captured" in r else "- | -")
        mem = (f"{r['mem_ours'] / MiB:.1f} | {r['mem_torch'] / MiB:.1f} | "
               f"{r['mem_ours'] / r['mem_torch']:.2f}" if "mem_ours" in r else "- | - | -")
        print(f"| {r['name']} | {r['ours'] * 1e3:.3f} | {r['torch'] * 1e3:.3f} | "
              f"{r['ratio']:.2f} | {cap} | {mem} |")


# -- entry point ----------------------------------------------------------------------------
def no_gpu_reason():
    """Why this machine cannot run the benchmark, or None."""
    try:
        import narae as nr
    except Exception as e:
        return f"cannot import narae ({e})"
    if not nr.backend.cupy_available():
        return "CuPy is not installed (pip install narae[cuda])"
    if not nr.cuda.is_available():
        return "CuPy sees no CUDA GPU"
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed: it is the baseline"
    if not torch.cuda.is_available():
        return f"this PyTorch ({torch.__version__}) has no CUDA device: it is the baseline"
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="run the workloads whose name contains this (case-insensitive)")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="skip the captured (narae.compile) measurement")
    p.add_argument("--amp", action="store_true",
                   help="both libraries under float16 autocast with loss scaling")
    p.add_argument("--strict-fp32", action="store_true",
                   help="turn off torch's TF32 convolutions (cuBLAS/CuPy GEMMs are fp32)")
    p.add_argument("--dry-run-cpu", action="store_true",
                   help="exercise the script on the CPU at batch <= 8 (timings meaningless)")
    args = p.parse_args(argv)
    if args.dry_run_cpu:
        device, device_name = "cpu", "CPU dry run"
        args.rounds, args.warmup = 1, 1
        print("bench_gpu: CPU dry run at batch <= 8: checks the script, measures nothing",
              flush=True)
    else:
        reason = no_gpu_reason()
        if reason is not None:
            print(f"bench_gpu: no GPU benchmark on this machine: {reason}. Nothing was "
                  f"measured (exit status {EXIT_NO_GPU}).", file=sys.stderr)
            return EXIT_NO_GPU
        device = "cuda"
    import torch
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
        if args.strict_fp32:
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        device_name = torch.cuda.get_device_name(0)
        import cupy
        print(f"device {device_name}; torch {torch.__version__} (cudnn.benchmark=True, "
              f"cudnn TF32 {torch.backends.cudnn.allow_tf32}, matmul TF32 "
              f"{torch.backends.cuda.matmul.allow_tf32}); CuPy {cupy.__version__}", flush=True)
    rows = []
    for w in WORKLOADS:
        if args.only and args.only.lower() not in w[0].lower():
            continue
        rows.append(run(w, device, args))
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
    table(rows, device_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
