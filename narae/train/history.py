"""``History``: the per-epoch record ``fit`` returns (Keras's ``History`` callback).

    h = fit(model, data, ...)
    h.history["val_accuracy"][-1]; h.epoch == [0, 1, ...]
    h.to_csv("history.csv"); h.to_json("history.json")
"""
import csv
import io
import json
import math

from .base import Callback

__all__ = ["History"]


class History(Callback):
    """``history``: {name: [value per epoch]}; ``epoch``: the epoch indices (0-based)."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            # A key first seen late (e.g. lr logged from epoch 3) is padded to stay aligned.
            column = self.history.setdefault(k, [math.nan] * (len(self.epoch) - 1))
            column.append(v)
        for k, column in self.history.items():
            if len(column) < len(self.epoch):
                column.append(math.nan)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"

    def to_dict(self):
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in
                                                       self.history.items()}}

    def to_json(self, path=None):
        """The JSON text (``{"epoch": [...], "history": {...}}``); written to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            from ..io.atomic import atomic_write_text
            atomic_write_text(path, text + "\n")
        return text

    def to_csv(self, path=None):
        """CSV text, one row per epoch (``epoch`` first); written to ``path`` if given."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        keys = list(self.history)
        w.writerow(["epoch"] + keys)
        for i, e in enumerate(self.epoch):
            w.writerow([e] + [repr(float(self.history[k][i])) for k in keys])
        text = buf.getvalue()
        if path is not None:
            from ..io.atomic import atomic_write_text
            atomic_write_text(path, text)
        return text

    @classmethod
    def from_json(cls, path):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        h = cls()
        h.epoch = list(d["epoch"])
        h.history = {k: list(v) for k, v in d["history"].items()}
        return h
