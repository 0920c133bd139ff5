"""Encoder-decoder RNN with attention (Bahdanau et al. 2015; Luong et al. 2015).

The encoder (GRU or LSTM, optionally bidirectional) reads the source into one vector per
position; at every output step the decoder attends over those vectors, so it never has to
squeeze the whole source into its state, and the attention weights show which source
position each output came from. Training uses teacher forcing; ``greedy_decode`` and
``beam_search`` generate.

    task = DigitTask("reverse", generator=nr.Generator().manual_seed(0))
    src, src_len, tgt = task.batch(64)
    model = Seq2Seq(VOCAB_SIZE, attention="luong")
    logits, attn = model(src, src_len, tgt)             # teacher forcing
    tokens, attn = greedy_decode(model, src, src_len)
"""
import time

import numpy as np

from .. import creation, nn, optim
from ..autograd import grad_mode
from ..ops.shape import cat, stack
from ..nn import functional as F
from ..nn.attention import BahdanauAttention, LuongAttention
from ..nn.rnn import GRU, LSTM, GRUCell, LSTMCell
from ..nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["PAD", "SOS", "EOS", "VOCAB_SIZE", "DigitTask", "Seq2Seq", "greedy_decode",
           "beam_search", "strip_eos", "exact_match", "train_seq2seq", "plot_attention",
           "encode_digits", "decode_tokens", "seq2seq_demo"]

PAD, SOS, EOS = 0, 1, 2
_DIGIT0 = 3                  # digit d is token d + 3
VOCAB_SIZE = _DIGIT0 + 10


def encode_digits(digits):
    return [int(d) + _DIGIT0 for d in digits]


def decode_tokens(tokens):
    """Token ids back to a digit string (stops at EOS; special tokens dropped)."""
    out = []
    for t in tokens:
        t = int(t)
        if t == EOS:
            break
        if t >= _DIGIT0:
            out.append(str(t - _DIGIT0))
    return "".join(out)


# -- the task ------------------------------------------------------------------------------
class DigitTask:
    """Digit strings of random length in [min_len, max_len], drawn on the fly from a narae
    Generator, and their deterministic transduction: 'reverse', 'copy' or 'sort'."""

    RULES = {"reverse": lambda s: s[::-1], "copy": lambda s: list(s), "sort": sorted}

    def __init__(self, kind="reverse", min_len=1, max_len=8, generator=None):
        if kind not in self.RULES:
            raise ValueError(f"DigitTask: kind must be one of {sorted(self.RULES)}, got {kind!r}")
        if not 1 <= min_len <= max_len:
            raise ValueError(f"DigitTask: need 1 <= min_len <= max_len, got {min_len}, {max_len}")
        if generator is None:
            from ..random import default_generator
            generator = default_generator
        self.kind, self.min_len, self.max_len = kind, min_len, max_len
        self.rng = generator.rng
        self.rule = self.RULES[kind]

    def sample(self):
        n = int(self.rng.integers(self.min_len, self.max_len + 1))
        return [int(d) for d in self.rng.integers(0, 10, n)]

    def batch(self, batch_size):
        """(src (B, S) long, src_lengths (B,) long, tgt (B, T) long): PAD-padded token ids,
        tgt ending in EOS."""
        seqs = [self.sample() for _ in range(batch_size)]
        return self.encode([s for s in seqs], [self.rule(s) for s in seqs])

    @staticmethod
    def encode(sources, targets=None):
        S = max(len(s) for s in sources)
        src = np.full((len(sources), S), PAD, np.int64)
        for i, s in enumerate(sources):
            src[i, :len(s)] = encode_digits(s)
        lengths = np.array([len(s) for s in sources], np.int64)
        out = [creation.tensor(src), creation.tensor(lengths)]
        if targets is not None:
            T = max(len(t) for t in targets) + 1
            tgt = np.full((len(targets), T), PAD, np.int64)
            for i, t in enumerate(targets):
                tgt[i, :len(t) + 1] = encode_digits(t) + [EOS]
            out.append(creation.tensor(tgt))
        return tuple(out)


# -- the model -----------------------------------------------------------------------------
class Seq2Seq(nn.Module):
    """Embedding + (bi)RNN encoder; attentional RNN decoder.

    ``attention='bahdanau'``: the previous decoder state queries the source, the context
    joins the input of the cell, the output layer sees [state; context].
    ``attention='luong'``: the new state queries the source (``luong_method`` 'dot',
    'general' or 'concat'); h~ = tanh(W_c [context; state]) feeds the output layer and,
    as "input feeding", the next step.
    """

    def __init__(self, vocab_size=VOCAB_SIZE, emb_dim=32, hidden_size=64, cell="gru",
                 bidirectional=True, attention="bahdanau", luong_method="general"):
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"Seq2Seq: cell must be 'gru' or 'lstm', got {cell!r}")
        if attention not in ("bahdanau", "luong"):
            raise ValueError(f"Seq2Seq: attention must be 'bahdanau' or 'luong', "
                             f"got {attention!r}")
        self.cell_type, self.attention_type = cell, attention
        self.hidden_size, self.bidirectional = hidden_size, bidirectional
        key_dim = hidden_size * (2 if bidirectional else 1)
        self.src_embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)
        rnn = GRU if cell == "gru" else LSTM
        self.encoder = rnn(emb_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.bridge = nn.Linear(key_dim, hidden_size)
        self.tgt_embedding = nn.Embedding(vocab_size, emb_dim)
        step_cell = GRUCell if cell == "gru" else LSTMCell
        if attention == "bahdanau":
            self.attention = BahdanauAttention(hidden_size, key_dim, hidden_size)
            self.decoder_cell = step_cell(emb_dim + key_dim, hidden_size)
            self.out = nn.Linear(hidden_size + key_dim, vocab_size)
        else:
            self.attention = LuongAttention(hidden_size, luong_method, key_dim=key_dim)
            self.decoder_cell = step_cell(emb_dim + hidden_size, hidden_size)
            self.combine = nn.Linear(key_dim + hidden_size, hidden_size, bias=False)
            self.out = nn.Linear(hidden_size, vocab_size)

    # -- encoder ----------------------------------------------------------------------
    def encode(self, src, src_lengths=None):
        """-> memory (B, S, key_dim), mask (B, S) True at real positions, initial state."""
        B, S = src.shape
        if src_lengths is None:
            src_lengths = (src != PAD).long().sum(1)
        lengths = [int(n) for n in src_lengths.tolist()]
        mask = creation.tensor(np.arange(S)[None, :] < np.array(lengths)[:, None],
                               device=src.device)
        packed = pack_padded_sequence(self.src_embedding(src), lengths, batch_first=True,
                                      enforce_sorted=False)
        out, hn = self.encoder(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=S)
        h = hn[0] if self.cell_type == "lstm" else hn
        last = cat([h[-2], h[-1]], 1) if self.bidirectional else h[-1]
        h0 = self.bridge(last).tanh()
        state = {"h": h0}
        if self.cell_type == "lstm":
            state["c"] = creation.zeros(B, self.hidden_size, dtype=h0.dtype, device=h0.device)
        if self.attention_type == "luong":
            state["feed"] = creation.zeros(B, self.hidden_size, dtype=h0.dtype,
                                           device=h0.device)
        else:
            state["keys"] = self.attention.key_proj(memory)  # projected once per source
        return memory, mask, state

    # -- one decoder step ---------------------------------------------------------------
    def _cell(self, x, state):
        if self.cell_type == "lstm":
            h, c = self.decoder_cell(x, (state["h"], state["c"]))
            return {"h": h, "c": c}
        return {"h": self.decoder_cell(x, state["h"])}

    def step(self, y_prev, state, memory, mask):
        """Feed tokens y_prev (B,) -> (logits (B, V), new state, attention weights (B, S))."""
        e = self.tgt_embedding(y_prev)
        if self.attention_type == "bahdanau":
            ctx, w = self.attention(state["h"], memory, mask, projected_keys=state["keys"])
            new = self._cell(cat([e, ctx], 1), state)
            new["keys"] = state["keys"]
            logits = self.out(cat([new["h"], ctx], 1))
        else:
            new = self._cell(cat([e, state["feed"]], 1), state)
            ctx, w = self.attention(new["h"], memory, mask)
            new["feed"] = self.combine(cat([ctx, new["h"]], 1)).tanh()
            logits = self.out(new["feed"])
        return logits, new, w

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio=1.0, generator=None):
        """Logits (B, T, V) and attention (B, T, S) for predicting ``tgt`` (B, T).

        With probability ``teacher_forcing_ratio`` a step is fed the true previous token,
        otherwise the model's own previous prediction (drawn per step from ``generator``).
        """
        memory, mask, state = self.encode(src, src_lengths)
        B, T = tgt.shape
        y = creation.full((B,), SOS, dtype=tgt.dtype, device=tgt.device)
        rng = None
        if teacher_forcing_ratio < 1.0:
            from ..random import default_generator
            rng = (generator or default_generator).rng
        logits, weights = [], []
        for t in range(T):
            lg, state, w = self.step(y, state, memory, mask)
            logits.append(lg)
            weights.append(w)
            if rng is None or rng.random() < teacher_forcing_ratio:
                y = tgt[:, t]
            else:
                y = lg.detach().argmax(-1)
        return stack(logits, 1), stack(weights, 1)

    def greedy_decode(self, src, src_lengths=None, max_len=None):
        return greedy_decode(self, src, src_lengths, max_len)

    def beam_search(self, src, src_lengths=None, beam_width=4, max_len=None, **kw):
        return beam_search(self, src, src_lengths, beam_width, max_len, **kw)


def _default_max_len(S):
    return 2 * S + 5


def _take(state, idx):
    return {k: v.index_select(0, idx) for k, v in state.items()}


def greedy_decode(model, src, src_lengths=None, max_len=None):
    """Most likely token at every step, batched. Returns ``(tokens (B, T) long, attention
    (B, T, S))``; each row ends at its EOS, PAD (and zero attention) after it."""
    was = model.training
    model.eval()
    with grad_mode.no_grad():
        memory, mask, state = model.encode(src, src_lengths)
        B, S = src.shape
        max_len = _default_max_len(S) if max_len is None else max_len
        y = creation.full((B,), SOS, dtype=src.dtype, device=src.device)
        done = np.zeros(B, bool)
        toks, atts = [], []
        for _ in range(max_len):
            logits, state, w = model.step(y, state, memory, mask)
            y = logits.argmax(-1)
            yn = np.where(done, PAD, y.cpu().numpy())
            toks.append(yn)
            atts.append(np.where(done[:, None], 0.0, w.cpu().numpy()))
            done |= yn == EOS
            if done.all():
                break
    model.train(was)
    return (creation.tensor(np.stack(toks, 1), device=src.device),
            creation.tensor(np.stack(atts, 1).astype(np.float32), device=src.device))


def _beam_one(model, src, length, beam_width, max_len, length_penalty):
    """Beam search for one source (1, S): (tokens list, attention (T, S) array, score)."""
    dev = src.device
    memory, mask, state = model.encode(src, creation.tensor([length], device=dev))
    S = src.shape[1]
    alive = [([], [], 0.0)]           # (tokens, attention rows, log-prob) per live beam
    finished = []

    def norm(score, n):
        return score / (max(n, 1) ** length_penalty) if length_penalty else score
    for _ in range(max_len):
        n = len(alive)
        idx = creation.zeros(n, dtype=src.dtype, device=dev)  # all beams read one source
        prev = [SOS if not toks else toks[-1] for toks, _, _ in alive]
        logits, state_new, w = model.step(creation.tensor(prev, device=dev), state,
                                          memory.index_select(0, idx),
                                          mask.index_select(0, idx))
        logp = F.log_softmax(logits, -1).cpu().numpy().astype(np.float64)
        wn = w.cpu().numpy()
        cand = (np.array([s for _, _, s in alive])[:, None] + logp).ravel()
        V = logp.shape[1]
        nxt, rows = [], []
        for rank, flat in enumerate(np.argsort(-cand, kind="stable")):
            b, tok = divmod(int(flat), V)
            toks, att, _ = alive[b]
            entry = (toks + [tok], att + [wn[b]], float(cand[flat]))
            if tok == EOS:
                # an ending counts only if it is among the beam_width best continuations:
                # lower-ranked endings are pruned like any other candidate (else a pile of
                # unlikely short hypotheses fills `finished` and stops the search early)
                if rank < beam_width:
                    finished.append(entry)
            else:
                nxt.append(entry)
                rows.append(b)
            if len(nxt) == beam_width:
                break
        alive = nxt
        state = _take(state_new, creation.tensor(rows, device=dev))
        best_done = max((norm(s, len(t)) for t, _, s in finished), default=-np.inf)
        best_alive = max((norm(s, len(t)) for t, _, s in alive), default=-np.inf)
        # log-probs only fall: without a length penalty no live beam can overtake the best
        # finished one, which is exact; with one, stop at beam_width finished hypotheses
        if not alive or (best_done >= best_alive if not length_penalty
                         else len(finished) >= beam_width):
            break
    pool = finished if finished else alive
    toks, att, score = max(pool, key=lambda e: norm(e[2], len(e[0])))
    return toks, (np.stack(att) if att else np.zeros((0, S))), score


def beam_search(model, src, src_lengths=None, beam_width=4, max_len=None, length_penalty=0.0,
                return_scores=False):
    """Keep the ``beam_width`` most likely prefixes at every step; a prefix ending in EOS is
    set aside. Returns ``(tokens (B, T) long, attention (B, T, S))`` laid out as
    ``greedy_decode``'s (and, with ``return_scores``, the log-probabilities (B,)). Score is
    log p / len**length_penalty. With ``beam_width=1`` it is exactly greedy decoding."""
    if beam_width < 1:
        raise ValueError(f"beam_search: beam_width must be >= 1, got {beam_width}")
    if src.ndim == 1:
        src = src.unsqueeze(0)
    B, S = src.shape
    if src_lengths is None:
        src_lengths = (src != PAD).long().sum(1)
    lengths = [int(n) for n in src_lengths.tolist()]
    max_len = _default_max_len(S) if max_len is None else max_len
    was = model.training
    model.eval()
    results = []
    with grad_mode.no_grad():
        for i in range(B):
            results.append(_beam_one(model, src[i:i + 1], lengths[i], beam_width, max_len,
                                     length_penalty))
    model.train(was)
    T = max(len(t) for t, _, _ in results)
    tokens = np.full((B, T), PAD, np.int64)
    attn = np.zeros((B, T, S), np.float32)
    for i, (t, a, _) in enumerate(results):
        tokens[i, :len(t)] = t
        attn[i, :len(t)] = a
    out = (creation.tensor(tokens, device=src.device), creation.tensor(attn, device=src.device))
    if return_scores:
        out += (creation.tensor(np.array([s for _, _, s in results])),)
    return out


def strip_eos(tokens):
    """Token rows as lists, cut at (and without) EOS."""
    rows = tokens.tolist() if hasattr(tokens, "tolist") else list(tokens)
    out = []
    for r in rows:
        out.append(r[:r.index(EOS)] if EOS in r else [t for t in r if t != PAD])
    return out


def exact_match(model, task, n=500, batch_size=250, beam_width=None):
    """Fraction of ``n`` fresh strings from ``task`` transduced exactly (greedy or beam)."""
    hits = 0
    for i in range(0, n, batch_size):
        src, lengths, tgt = task.batch(min(batch_size, n - i))
        if beam_width:
            out, _ = beam_search(model, src, lengths, beam_width)
        else:
            out, _ = greedy_decode(model, src, lengths)
        hits += sum(p == t for p, t in zip(strip_eos(out), strip_eos(tgt)))
    return hits / n


# -- training and pictures -----------------------------------------------------------------
def train_seq2seq(task="reverse", steps=3000, batch_size=64, min_len=1, max_len=8,
                  emb_dim=32, hidden_size=64, cell="gru", bidirectional=True,
                  attention="bahdanau", luong_method="general", lr=3e-3,
                  teacher_forcing_ratio=1.0, clip=1.0, seed=0, eval_size=500, target=None,
                  log_every=0, verbose=False):
    """Train a Seq2Seq on a DigitTask with fresh batches each step.

    Returns ``(model, history)``: history has 'loss' (per step), 'exact_match' (greedy,
    on ``eval_size`` held-out strings from an independent generator), 'steps', 'seconds'.
    Every ``log_every`` steps (if > 0) it evaluates and stops once ``target`` is reached.
    """
    from ..random import Generator
    from .. import manual_seed
    manual_seed(seed)
    train_task = DigitTask(task, min_len, max_len, Generator().manual_seed(seed))
    model = Seq2Seq(VOCAB_SIZE, emb_dim, hidden_size, cell, bidirectional, attention,
                    luong_method)
    opt = optim.Adam(model.parameters(), lr=lr)
    history = {"loss": [], "exact_match": None, "steps": 0}

    def held_out():
        return DigitTask(task, min_len, max_len, Generator().manual_seed(seed + 777))
    start = time.time()
    for step in range(1, steps + 1):
        src, lengths, tgt = train_task.batch(batch_size)
        logits, _ = model(src, lengths, tgt, teacher_forcing_ratio)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                               ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        history["loss"].append(loss.item())
        history["steps"] = step
        if log_every and step % log_every == 0:
            em = exact_match(model, held_out(), eval_size)
            if verbose:
                print(f"step {step:5d}  loss {loss.item():.4f}  exact match {em:.4f}")
            if target is not None and em >= target:
                break
    history["exact_match"] = exact_match(model, held_out(), eval_size)
    history["seconds"] = time.time() - start
    return model, history


def plot_attention(attention, src_tokens, out_tokens, path, title=None):
    """Save an attention heat map (rows: outputs, columns: source positions) as a PNG.

    Uses matplotlib when installed (labelled axes); otherwise writes the bare grey-scale
    matrix, scaled up, with narae's own PNG encoder. Returns the path.
    """
    a = np.asarray(attention.numpy() if hasattr(attention, "numpy") else attention, np.float64)
    src_labels = [decode_tokens([t]) or "." for t in src_tokens]
    out_labels = [decode_tokens([t]) or ("<eos>" if int(t) == EOS else ".") for t in out_tokens]
    a = a[:len(out_labels), :len(src_labels)]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from ..train.png import encode_png
        img = np.kron((255 * a / max(a.max(), 1e-12)).astype(np.uint8),
                      np.ones((16, 16), np.uint8))
        with open(path, "wb") as f:
            f.write(encode_png(img))
        return path
    fig, ax = plt.subplots(figsize=(1 + 0.45 * len(src_labels), 1 + 0.45 * len(out_labels)))
    ax.imshow(a, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(src_labels)), src_labels)
    ax.set_yticks(range(len(out_labels)), out_labels)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def seq2seq_demo(out_dir=None, seed=0, steps=1500, target=0.995, verbose=True, **train_kw):
    """Train on digit reversal until ``target`` exact match, report greedy and beam (width 3)
    exact match on fresh strings, and save an attention heat map (anti-diagonal for a
    reversal) under ``out_dir``. Returns a summary dict (what the CLI prints)."""
    import os
    from ..random import Generator
    model, hist = train_seq2seq(steps=steps, target=target, log_every=100, seed=seed,
                                verbose=verbose, **train_kw)
    task = train_kw.get("task", "reverse")
    fresh = DigitTask(task, train_kw.get("min_len", 1), train_kw.get("max_len", 8),
                      Generator().manual_seed(seed + 4242))
    summary = {"steps": hist["steps"], "seconds": round(hist["seconds"], 1),
               "final_loss": hist["loss"][-1], "exact_match": exact_match(model, fresh, 500),
               "exact_match_beam3": exact_match(model, fresh, 200, beam_width=3)}
    digits = [int(d) for d in fresh.rng.integers(0, 10, fresh.max_len)]
    src, lengths = DigitTask.encode([digits])
    out, attn = beam_search(model, src, lengths, beam_width=3)
    summary["example"] = f"{''.join(map(str, digits))} -> {decode_tokens(out.tolist()[0])}"
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        n = (out.tolist()[0] + [EOS]).index(EOS) + 1
        summary["heatmap"] = plot_attention(attn.numpy()[0, :n], src.tolist()[0],
                                            out.tolist()[0][:n],
                                            os.path.join(out_dir, "seq2seq_attention.png"),
                                            title=f"{task}: attention")
    if verbose:
        for k, v in summary.items():
            print(f"{k}: {v}")
    return summary
