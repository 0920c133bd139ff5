"""A small real English corpus that exists offline: docstrings of Python's own standard library.

The text is read from the stdlib source files with ``ast`` (nothing is imported or executed),
so it is the same on every machine with the same Python version. It suits character-level
language models: a few hundred kilobytes of English prose about programming.
"""
import ast
import inspect
import os
import sysconfig

import numpy as np

from ..utils.data import Dataset
from ..utils.data._arrays import wrap

__all__ = ["TextCorpus", "CharBlockDataset", "stdlib_docstrings", "DEFAULT_MODULES"]

# stdlib modules with long, well-written docstrings (pure-Python sources)
DEFAULT_MODULES = ("textwrap", "difflib", "argparse", "functools", "collections", "pathlib",
                   "inspect", "json", "logging", "subprocess", "threading", "datetime",
                   "fractions", "decimal", "statistics", "random", "heapq", "string",
                   "calendar", "shutil", "tempfile", "zipfile", "tarfile", "csv", "dataclasses",
                   "typing", "enum", "contextlib", "pprint", "doctest")


def _source_path(module):
    base = os.path.join(sysconfig.get_paths()["stdlib"], *module.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return path
    return None


def _docstrings_from_source(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    nodes = [tree] + [n for n in ast.walk(tree) if isinstance(
        n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    return [d for d in (ast.get_docstring(n) for n in nodes) if d]


def _docstrings_from_import(module):
    """Fallback where the stdlib ships without sources: the imported module's docstrings."""
    import importlib
    mod = importlib.import_module(module)
    docs = [inspect.getdoc(mod)]
    for name in sorted(vars(mod)):
        obj = getattr(mod, name)
        if not name.startswith("_") and getattr(obj, "__module__", None) == module:
            docs.append(inspect.getdoc(obj))
    return [d for d in docs if d]


def stdlib_docstrings(modules=DEFAULT_MODULES):
    """The docstrings of ``modules`` joined by blank lines, kept to printable ASCII."""
    docs = []
    for module in modules:
        path = _source_path(module)
        docs.extend(_docstrings_from_source(path) if path else _docstrings_from_import(module))
    text = "\n\n".join(docs)
    return "".join(ch for ch in text if ch == "\n" or " " <= ch <= "~")


class TextCorpus:
    """A character-level corpus: text, vocabulary, encode/decode and a train/val split.

    The split is contiguous and deterministic: the first ``1 - val_fraction`` of the
    characters are ``train_data``, the rest ``val_data`` (int64 Tensors of character ids).
    ``text=`` uses your own string instead of the stdlib docstrings.
    """

    def __init__(self, modules=DEFAULT_MODULES, val_fraction=0.1, text=None, max_chars=None):
        if not 0 <= val_fraction < 1:
            raise ValueError(f"TextCorpus: val_fraction must be in [0, 1), got {val_fraction}")
        text = stdlib_docstrings(modules) if text is None else text
        if max_chars is not None:
            text = text[:max_chars]
        if not text:
            raise ValueError("TextCorpus: the corpus is empty")
        self.text = text
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.itos = dict(enumerate(self.chars))
        ids = self.encode(text)
        cut = len(ids) - int(len(ids) * val_fraction)
        self.train_data = wrap(ids[:cut])
        self.val_data = wrap(ids[cut:])

    @property
    def vocab_size(self):
        return len(self.chars)

    def __len__(self):
        return len(self.text)

    def encode(self, s):
        """Character ids (int64 array) of string ``s``."""
        try:
            return np.fromiter((self.stoi[c] for c in s), dtype=np.int64, count=len(s))
        except KeyError as exc:
            raise KeyError(f"TextCorpus.encode: character {exc.args[0]!r} is not in the "
                           f"vocabulary") from None

    def decode(self, ids):
        """The string for a sequence of ids (list, array or Tensor)."""
        arr = np.asarray(getattr(ids, "_data", ids)).reshape(-1)
        return "".join(self.itos[int(i)] for i in arr)

    def dataset(self, split="train", block_size=64, stride=None):
        """A ``CharBlockDataset`` over the ``"train"`` or ``"val"`` ids."""
        if split not in ("train", "val"):
            raise ValueError(f"TextCorpus.dataset: split must be 'train' or 'val', got {split!r}")
        data = self.train_data if split == "train" else self.val_data
        return CharBlockDataset(data, block_size, stride)


class CharBlockDataset(Dataset):
    """(input, target) windows of ``block_size`` ids, the target shifted by one character.

    Window ``i`` starts at ``i * stride`` (default ``stride = block_size``: no overlap).
    """

    def __init__(self, ids, block_size, stride=None):
        self.ids = np.asarray(getattr(ids, "_data", ids), dtype=np.int64).reshape(-1)
        self.block_size = int(block_size)
        self.stride = int(stride or block_size)
        if self.block_size <= 0 or self.stride <= 0:
            raise ValueError("CharBlockDataset: block_size and stride must be positive")
        if len(self.ids) < self.block_size + 1:
            raise ValueError(f"CharBlockDataset: {len(self.ids)} ids are too few for one block "
                             f"of {self.block_size} plus its shifted target")

    def __len__(self):
        return (len(self.ids) - self.block_size - 1) // self.stride + 1

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for {n} blocks")
        start = (index % n) * self.stride
        block = self.ids[start:start + self.block_size + 1]
        return wrap(block[:-1].copy()), wrap(block[1:].copy())

    def _get_batch(self, indices):
        rows = (indices % len(self))[:, None] * self.stride + \
            np.arange(self.block_size + 1)[None, :]
        blocks = self.ids[rows]
        return [wrap(blocks[:, :-1]), wrap(blocks[:, 1:])]
