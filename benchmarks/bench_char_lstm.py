"""Char-LSTM training step, narae vs torch: embedding 65->128, LSTM 128->256 (1 layer),
seq 64, batch 32, linear 256->65, cross-entropy, backward, Adam step.

``--profile`` prints where narae's step spends its time (cProfile, top functions).
"""
import sys

import numpy as np
import torch

import narae as nr
import narae.nn.functional as F
from narae import nn, optim
from narae.nn.rnn import LSTM
from harness import compare, report

V, E, H, T, B = 65, 128, 256, 64, 32


class Ours(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, E)
        self.lstm = LSTM(E, H, batch_first=True)
        self.head = nn.Linear(H, V)

    def forward(self, x):
        y, _ = self.lstm(self.embed(x))
        return self.head(y)


class Theirs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(V, E)
        self.lstm = torch.nn.LSTM(E, H, batch_first=True)
        self.head = torch.nn.Linear(H, V)

    def forward(self, x):
        y, _ = self.lstm(self.embed(x))
        return self.head(y)


def build():
    torch.manual_seed(0)
    theirs = Theirs()
    ours = Ours()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.integers(0, V, (B, T))
    y = rng.integers(0, V, (B, T))
    o_opt = optim.Adam(ours.parameters(), lr=1e-3)
    t_opt = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    nx, ny, tx, ty = nr.tensor(x), nr.tensor(y), torch.tensor(x), torch.tensor(y)

    def ours_step():
        o_opt.zero_grad()
        loss = F.cross_entropy(ours(nx).reshape(B * T, V), ny.reshape(B * T))
        loss.backward()
        o_opt.step()
        return loss

    def theirs_step():
        t_opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(theirs(tx).reshape(B * T, V), ty.reshape(B * T))
        loss.backward()
        t_opt.step()
        return loss

    return ours_step, theirs_step


def main():
    ours, theirs = build()
    np.testing.assert_allclose(ours().item(), theirs().item(), rtol=1e-4)
    if "--profile" in sys.argv:
        import cProfile
        import pstats
        cProfile.runctx("for _ in range(20): f()", {"f": ours}, {}, "/tmp/char_lstm.prof")
        pstats.Stats("/tmp/char_lstm.prof").sort_stats("tottime").print_stats(14)
        return
    report(f"char-LSTM E{E} H{H} T{T} B{B} fwd+CE+bwd+Adam", *compare(ours, theirs, rounds=9),
           target=1.5)


if __name__ == "__main__":
    main()
