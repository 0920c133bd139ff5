"""Character-level language model: embedding -> LSTM -> linear over the vocabulary.

``CharLSTM`` predicts the next character at every step; ``sample`` generates text from a
prefix (temperature and top-k, reproducible under ``narae.manual_seed``); ``train_char_lstm``
trains it on ``narae.datasets.TextCorpus`` (the stdlib docstrings) and reports validation
bits per character (cross-entropy in base 2) and a generated sample.
"""
import math
import time

import numpy as np

from ..autograd import grad_mode
from ..backend import to_device, as_device
from ..nn.dropout import Dropout
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.rnn import LSTM
from ..nn.sparse import Embedding
from .. import random as _random
from ..tensor import Tensor

__all__ = ["CharLSTM", "train_char_lstm", "evaluate_bpc", "sample_logits"]


def sample_logits(logits, temperature=1.0, top_k=None, generator=None):
    """One id drawn from a 1-D array of logits; temperature <= 0 means greedy (argmax)."""
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    if temperature is None or temperature <= 0:
        return int(np.argmax(z))
    z = z / temperature
    if top_k is not None and 0 < top_k < z.size:
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= kth, z, -np.inf)
    p = np.exp(z - z.max())
    p /= p.sum()
    u = (generator or _random.default_generator).rng.random()
    return int(min(np.searchsorted(np.cumsum(p), u, side="right"), z.size - 1))


class CharLSTM(Module):
    """Next-character model: ``forward(x, state=None) -> (logits, state)``.

    x: (B, T) int64 ids (or (T,) for one sequence); logits: (B, T, vocab_size); state is the
    LSTM's (h, c), to carry across consecutive chunks of a stream (truncated BPTT).
    """

    def __init__(self, vocab_size, embed_dim=128, hidden_size=256, num_layers=1, dropout=0.0):
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = Embedding(vocab_size, embed_dim)
        self.lstm = LSTM(embed_dim, hidden_size, num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0)
        self.drop = Dropout(dropout)
        self.head = Linear(hidden_size, vocab_size)

    def forward(self, x, state=None):
        y, state = self.lstm(self.embed(x), state)
        return self.head(self.drop(y)), state

    def sample(self, prefix, length, temperature=1.0, top_k=None, generator=None):
        """``length`` new ids (int64 Tensor) continuing ``prefix`` (a non-empty id sequence).

        Runs in eval mode without recording a graph; draws come from ``generator`` (default:
        narae's default generator), so ``narae.manual_seed`` fixes the result.
        """
        ids = np.asarray(getattr(prefix, "_data", prefix), dtype=np.int64).reshape(-1)
        if ids.size == 0:
            raise ValueError("CharLSTM.sample: prefix must hold at least one id")
        was_training = self.training
        self.eval()
        device = self.head.weight._data
        out = []
        try:
            with grad_mode.no_grad():
                x = Tensor(to_device(ids[None, :], _device_of(device)))
                logits, state = self(x, None)
                for _ in range(length):
                    last = to_device(logits._data[0, -1], as_device("cpu"))
                    nxt = sample_logits(last, temperature, top_k, generator)
                    out.append(nxt)
                    x = Tensor(to_device(np.array([[nxt]], np.int64), _device_of(device)))
                    logits, state = self(x, state)
        finally:
            self.train(was_training)
        return Tensor(np.array(out, dtype=np.int64))


def _device_of(array):
    from ..backend import device_of
    return device_of(array)


@grad_mode.no_grad()
def evaluate_bpc(model, dataset, batch_size=64):
    """Mean cross-entropy of ``model`` on a CharBlockDataset, in bits per character."""
    from ..ops.loss import cross_entropy
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    n = len(dataset)
    for start in range(0, n, batch_size):
        x, y = dataset._get_batch(np.arange(start, min(start + batch_size, n)))
        logits, _ = model(x)
        loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                             reduction="sum")
        total += float(loss.item())
        count += y.numel()
    model.train(was_training)
    return total / count / math.log(2)


def train_char_lstm(epochs=1, batch_size=32, block_size=64, lr=2e-3, embed_dim=128,
                    hidden_size=256, num_layers=1, dropout=0.0, corpus=None, max_chars=None,
                    max_steps=None, grad_clip=1.0, seed=0, sample_length=200, prefix="The ",
                    temperature=0.8, top_k=None, verbose=True, out=None):
    """Train a ``CharLSTM`` on ``corpus`` (default: ``TextCorpus()``, stdlib docstrings).

    Returns a dict: ``model``, ``corpus``, ``val_bpc``, ``train_losses`` (per step, nats),
    ``sample`` (generated text after ``prefix``) and ``seconds``. ``out``: a directory where
    ``char_lstm.safetensors`` (model, optimizer, config) is written.
    """
    from .. import manual_seed
    from ..datasets import TextCorpus
    from ..nn.utils.clip_grad import clip_grad_norm_
    from ..ops.loss import cross_entropy
    from ..optim import Adam
    from ..utils.data import DataLoader
    manual_seed(seed)
    if corpus is None:
        corpus = TextCorpus(max_chars=max_chars)
    train_ds = corpus.dataset("train", block_size)
    val_ds = corpus.dataset("val", block_size)
    model = CharLSTM(corpus.vocab_size, embed_dim, hidden_size, num_layers, dropout)
    opt = Adam(model.parameters(), lr=lr)
    loader = DataLoader(train_ds, batch_size=batch_size, shuffle=True, drop_last=True)
    say = print if verbose else (lambda *a, **k: None)
    losses, step, start = [], 0, time.time()
    for epoch in range(epochs):
        for x, y in loader:
            logits, _ = model(x)
            loss = cross_entropy(logits.reshape(-1, corpus.vocab_size), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            if grad_clip:
                clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            losses.append(float(loss.item()))
            step += 1
            if verbose and step % 50 == 0:
                say(f"epoch {epoch + 1} step {step}: train loss {losses[-1]:.3f} "
                    f"({losses[-1] / math.log(2):.3f} bits/char)")
            if max_steps is not None and step >= max_steps:
                break
        if max_steps is not None and step >= max_steps:
            break
    val_bpc = evaluate_bpc(model, val_ds)
    seed_ids = corpus.encode(prefix) if prefix else corpus.train_data._data[:1]
    text = corpus.decode(model.sample(seed_ids, sample_length, temperature, top_k))
    seconds = time.time() - start
    say(f"validation: {val_bpc:.3f} bits/char after {step} steps ({seconds:.1f}s)")
    say(f"sample: {prefix}{text}")
    if out is not None:
        import os
        from ..io import save_checkpoint
        os.makedirs(out, exist_ok=True)
        save_checkpoint(os.path.join(out, "char_lstm.safetensors"), model, opt, epoch=epochs,
                        config={"model": "char-lstm", "vocab": "".join(corpus.chars),
                                "embed_dim": embed_dim, "hidden_size": hidden_size,
                                "num_layers": num_layers},
                        val_bpc=val_bpc)
    return {"model": model, "corpus": corpus, "val_bpc": val_bpc, "train_losses": losses,
            "sample": text, "seconds": seconds}
