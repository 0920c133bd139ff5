"""Stateful metrics: ``update(preds, targets)`` per batch, ``compute()`` per epoch, ``reset()``.

Accumulating counts (not averaging per-batch scores) makes the epoch value exact whatever
the batch sizes, and equal to scikit-learn's on the concatenated predictions.

    acc = Accuracy()
    for x, y in loader:
        acc.update(model(x), y)
    acc.compute()                 # fraction of correct argmax predictions
    get_metric("f1")              # metrics by name, as ``fit(metrics=["accuracy", "f1"])``

Predictions may be class scores ``(N, C, ...)`` (argmax over dim 1), class labels of the
targets' shape, or probabilities of a binary problem (thresholded at 0.5).
"""
import numpy as np

from .._dtype import is_floating

__all__ = ["Metric", "Accuracy", "TopKAccuracy", "Precision", "Recall", "F1Score",
           "ConfusionMatrix", "MeanSquaredError", "MeanAbsoluteError", "Mean", "FunctionMetric",
           "get_metric", "METRICS"]


def to_numpy(x):
    """A host NumPy array from a Tensor (detached) or anything array-like."""
    from ..tensor import Tensor
    if isinstance(x, Tensor):
        return np.asarray(x.detach())
    return np.asarray(x)


def _labels(preds, targets, threshold=0.5):
    """(predicted labels, true labels) as flat int arrays."""
    p, t = to_numpy(preds), to_numpy(targets)
    if p.ndim == t.ndim + 1:
        p = p.argmax(axis=1)
    elif p.shape != t.shape:
        raise ValueError(f"metric: predictions of shape {p.shape} do not match targets of "
                         f"shape {t.shape} (expected scores (N, C, ...) or labels (N, ...))")
    elif is_floating(p.dtype) and t.dtype.kind in "biu":
        p = (p >= threshold)
    return p.reshape(-1).astype(np.int64), t.reshape(-1).astype(np.int64)


class Metric:
    """Base class. Subclasses keep running state; ``name`` is the key used in the logs."""
    name = "metric"
    scalar = True  # False for metrics whose value is an array (not written to the logs)

    def __init__(self, name=None):
        if name is not None:
            self.name = name
        self.reset()

    def reset(self):
        raise NotImplementedError

    def update(self, preds, targets):
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError

    def __call__(self, preds, targets):
        """One-shot value for a single batch (does not touch the running state)."""
        m = self.__class__.__new__(self.__class__)
        m.__dict__.update({k: v for k, v in self.__dict__.items()})
        m.reset()
        m.update(preds, targets)
        return m.compute()

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class Accuracy(Metric):
    """Fraction of predictions equal to the targets (argmax of scores, or 0.5 threshold)."""
    name = "accuracy"

    def __init__(self, threshold=0.5, name=None):
        self.threshold = threshold
        super().__init__(name)

    def reset(self):
        self.correct = 0
        self.total = 0

    def update(self, preds, targets):
        p, t = _labels(preds, targets, self.threshold)
        self.correct += int((p == t).sum())
        self.total += t.size

    def compute(self):
        return self.correct / self.total if self.total else 0.0


class TopKAccuracy(Metric):
    """Fraction of samples whose target is among the ``k`` highest scores."""

    def __init__(self, k=5, name=None):
        self.k = k
        super().__init__(name or f"top{k}_accuracy")

    def reset(self):
        self.correct = 0
        self.total = 0

    def update(self, preds, targets):
        p, t = to_numpy(preds), to_numpy(targets)
        if p.ndim != t.ndim + 1:
            raise ValueError(f"{self.name}: needs scores of shape (N, C, ...), got {p.shape} "
                             f"for targets of shape {t.shape}")
        p = np.moveaxis(p, 1, -1).reshape(-1, p.shape[1])
        t = t.reshape(-1, 1)
        k = min(self.k, p.shape[1])
        # Ties count against the sample: the target must beat the (k+1)-th score strictly.
        target_score = np.take_along_axis(p, t.astype(np.int64), axis=1)
        rank = (p > target_score).sum(axis=1)
        self.correct += int((rank < k).sum())
        self.total += t.shape[0]

    def compute(self):
        return self.correct / self.total if self.total else 0.0


class ConfusionMatrix(Metric):
    """``C[i, j]`` = number of samples of true class ``i`` predicted as ``j`` (sklearn's layout).

    ``num_classes=None`` grows the matrix to the largest label seen.
    """
    name = "confusion_matrix"
    scalar = False

    def __init__(self, num_classes=None, name=None):
        self.num_classes = num_classes
        super().__init__(name)

    def reset(self):
        n = self.num_classes or 0
        self.matrix = np.zeros((n, n), dtype=np.int64)

    def update(self, preds, targets):
        p, t = _labels(preds, targets)
        if p.size and (min(p.min(), t.min()) < 0):
            raise ValueError(f"{self.name}: class labels must be >= 0")
        n = max(self.matrix.shape[0], int(max(p.max(initial=-1), t.max(initial=-1))) + 1)
        if self.num_classes is not None and n > self.num_classes:
            raise ValueError(f"{self.name}: label {n - 1} out of range for "
                             f"num_classes={self.num_classes}")
        if n > self.matrix.shape[0]:
            grown = np.zeros((n, n), dtype=np.int64)
            k = self.matrix.shape[0]
            grown[:k, :k] = self.matrix
            self.matrix = grown
        self.matrix += np.bincount(t * n + p, minlength=n * n).reshape(n, n)

    def compute(self):
        return self.matrix.copy()


class _PRF(ConfusionMatrix):
    """Precision/recall/F1 from a running confusion matrix.

    ``average="macro"`` averages over the classes that occur in the targets or the
    predictions (as scikit-learn does); ``average=None`` gives the per-class array;
    ``"micro"`` and ``"weighted"`` as in scikit-learn. A 0/0 score counts as 0.
    """
    scalar = True

    def __init__(self, num_classes=None, average="macro", name=None):
        if average not in ("macro", "micro", "weighted", None):
            raise ValueError(f"average must be 'macro', 'micro', 'weighted' or None, "
                             f"got {average!r}")
        self.average = average
        super().__init__(num_classes, name or (self.base_name if average in ("macro", None)
                                               else f"{self.base_name}_{average}"))
        self.scalar = average is not None

    def _scores(self):
        m = self.matrix
        tp = np.diag(m).astype(np.float64)
        support = m.sum(axis=1).astype(np.float64)
        predicted = m.sum(axis=0).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(predicted > 0, tp / predicted, 0.0)
            recall = np.where(support > 0, tp / support, 0.0)
            denom = precision + recall
            f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
        return {"precision": precision, "recall": recall, "f1": f1}, tp, support, predicted

    def compute(self):
        scores, tp, support, predicted = self._scores()
        per_class = scores[self.base_name]
        present = (support > 0) | (predicted > 0)
        if self.average is None:
            return per_class
        if not present.any():
            return 0.0
        if self.average == "macro":
            return float(per_class[present].mean())
        if self.average == "weighted":
            return float((per_class * support).sum() / support.sum()) if support.sum() else 0.0
        # micro: with one label per sample, micro precision = recall = f1 = accuracy
        return float(tp.sum() / support.sum()) if support.sum() else 0.0


class Precision(_PRF):
    base_name = "precision"


class Recall(_PRF):
    base_name = "recall"


class F1Score(_PRF):
    base_name = "f1"


class MeanSquaredError(Metric):
    """Mean of ``(pred - target)**2`` over every element seen."""
    name = "mse"

    def reset(self):
        self.sum = 0.0
        self.count = 0

    def _diff(self, preds, targets):
        p, t = to_numpy(preds).astype(np.float64), to_numpy(targets).astype(np.float64)
        if p.shape != t.shape:
            if p.size != t.size:
                raise ValueError(f"{self.name}: predictions of shape {p.shape} do not match "
                                 f"targets of shape {t.shape}")
            p = p.reshape(t.shape)
        return p - t

    def update(self, preds, targets):
        d = self._diff(preds, targets)
        self.sum += float((d * d).sum())
        self.count += d.size

    def compute(self):
        return self.sum / self.count if self.count else 0.0


class MeanAbsoluteError(MeanSquaredError):
    """Mean of ``|pred - target|`` over every element seen."""
    name = "mae"

    def update(self, preds, targets):
        d = self._diff(preds, targets)
        self.sum += float(np.abs(d).sum())
        self.count += d.size


class Mean(Metric):
    """Weighted running mean of a scalar (the loss): ``update(value, weight=1)``."""
    name = "mean"

    def reset(self):
        self.total = 0.0
        self.weight = 0.0

    def update(self, value, weight=1):
        self.total += float(value) * weight
        self.weight += weight

    def compute(self):
        return self.total / self.weight if self.weight else float("nan")


class FunctionMetric(Metric):
    """Wrap ``fn(preds, targets) -> float`` as a metric averaged over samples."""

    def __init__(self, fn, name=None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def reset(self):
        self.total = 0.0
        self.count = 0

    def update(self, preds, targets):
        n = len(to_numpy(targets)) if np.ndim(to_numpy(targets)) else 1
        self.total += float(self.fn(preds, targets)) * n
        self.count += n

    def compute(self):
        return self.total / self.count if self.count else 0.0


METRICS = {
    "accuracy": Accuracy, "acc": Accuracy,
    "top5_accuracy": lambda: TopKAccuracy(5), "top_k_accuracy": lambda: TopKAccuracy(5),
    "top3_accuracy": lambda: TopKAccuracy(3),
    "precision": Precision, "recall": Recall, "f1": F1Score, "f1_score": F1Score,
    "confusion_matrix": ConfusionMatrix,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}


def get_metric(spec):
    """A fresh Metric from a name (``"accuracy"``, ``"f1"``, ``"mse"``...), a Metric, or a function."""
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, str):
        try:
            return METRICS[spec.lower()]()
        except KeyError:
            raise ValueError(f"unknown metric {spec!r}; known: {sorted(METRICS)}") from None
    if isinstance(spec, type) and issubclass(spec, Metric):
        return spec()
    if callable(spec):
        return FunctionMetric(spec)
    raise TypeError(f"a metric must be a name, a Metric or a function, got {spec!r}")
