"""``plot_history``: training curves as a PNG (needs matplotlib, an optional dependency).

One panel per quantity (loss, accuracy, ...), the training curve and its ``val_`` twin
together, so over-fitting shows as the two curves parting.
"""
import os

__all__ = ["plot_history"]


def plot_history(history, path, title=None):
    """Save ``history`` (a History or its ``.history`` dict) as a PNG at ``path``; return path."""
    try:
        import matplotlib
        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plot_history needs matplotlib: pip install matplotlib") from None
    h = getattr(history, "history", history)
    epochs = getattr(history, "epoch", None)
    names = [k for k in h if not k.startswith("val_") and k != "lr"]
    names += [k[4:] for k in h if k.startswith("val_") and k[4:] not in h]
    if not names:
        raise ValueError("plot_history: the history is empty")
    fig = Figure(figsize=(4.5 * len(names), 3.5), dpi=100)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        for key, label in ((name, "train"), ("val_" + name, "validation")):
            if key in h:
                ys = h[key]
                xs = [e + 1 for e in epochs] if epochs and len(epochs) == len(ys) else \
                    list(range(1, len(ys) + 1))
                ax.plot(xs, ys, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, format="png")
    return path
