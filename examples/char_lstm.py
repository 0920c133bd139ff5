"""Train a character-level LSTM on the stdlib docstrings; print val bits/char and a sample.

    python examples/char_lstm.py --epochs 1            # ~144 steps of 32 x 64 characters
    python examples/char_lstm.py --epochs 3 --hidden 256 --temperature 0.7 --top-k 10

``train_char_lstm`` (narae.models.char_lm) is the function ``narae train --model char-lstm
--dataset text`` calls; it is re-exported here.
"""
import argparse

from narae.models.char_lm import train_char_lstm

__all__ = ["train_char_lstm", "main"]


def main(argv=None):
    p = argparse.ArgumentParser(description="character-level LSTM language model")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--embed", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--max-chars", type=int, default=None, help="use only this much text")
    p.add_argument("--prefix", default="The ")
    p.add_argument("--length", type=int, default=300, help="characters to generate")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="directory for char_lstm.safetensors")
    args = p.parse_args(argv)
    result = train_char_lstm(epochs=args.epochs, batch_size=args.batch_size,
                             block_size=args.block_size, lr=args.lr, embed_dim=args.embed,
                             hidden_size=args.hidden, num_layers=args.layers,
                             dropout=args.dropout, max_chars=args.max_chars,
                             max_steps=args.max_steps, seed=args.seed, prefix=args.prefix,
                             sample_length=args.length, temperature=args.temperature,
                             top_k=args.top_k, out=args.out)
    print(f"val bits/char: {result['val_bpc']:.3f}")
    return result


if __name__ == "__main__":
    main()
