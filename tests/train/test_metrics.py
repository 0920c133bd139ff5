"""Metrics agree with scikit-learn on the concatenation of several batches."""
import numpy as np
import pytest
from sklearn import metrics as skm

import narae as nr
from narae.train import metrics as M

RNG = np.random.default_rng(0)


def _batches(n_classes=5, sizes=(7, 13, 1, 20), drop_class=None):
    batches = []
    for n in sizes:
        scores = RNG.standard_normal((n, n_classes)).astype(np.float32)
        y = RNG.integers(0, n_classes, n)
        if drop_class is not None:  # a class that never occurs, in targets or predictions
            scores[:, drop_class] = -1e9
            y[y == drop_class] = (drop_class + 1) % n_classes
        batches.append((nr.tensor(scores), nr.tensor(y)))
    preds = np.concatenate([b[0].numpy().argmax(1) for b in batches])
    targets = np.concatenate([b[1].numpy() for b in batches])
    return batches, preds, targets


def _run(metric, batches):
    metric.reset()
    for p, t in batches:
        metric.update(p, t)
    return metric.compute()


@pytest.mark.parametrize("drop_class", [None, 2])
def test_classification_metrics_match_sklearn(drop_class):
    batches, p, t = _batches(drop_class=drop_class)
    assert _run(M.Accuracy(), batches) == pytest.approx(skm.accuracy_score(t, p))
    for average in ("macro", "micro", "weighted", None):
        prec, rec, f1, _ = skm.precision_recall_fscore_support(t, p, average=average,
                                                               zero_division=0)
        if average is None:  # sklearn's per-class arrays cover the labels that occur
            labels = np.union1d(t, p)
            got = [_run(cls(average=None), batches)[labels] for cls in
                   (M.Precision, M.Recall, M.F1Score)]
        else:
            got = [_run(cls(average=average), batches) for cls in
                   (M.Precision, M.Recall, M.F1Score)]
        np.testing.assert_allclose(got[0], prec)
        np.testing.assert_allclose(got[1], rec)
        np.testing.assert_allclose(got[2], f1)
    cm = _run(M.ConfusionMatrix(num_classes=5), batches)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(t, p, labels=range(5)))


def test_confusion_matrix_grows_without_num_classes():
    m = M.ConfusionMatrix()
    m.update(np.array([0, 1]), np.array([0, 1]))
    m.update(np.array([3]), np.array([2]))
    np.testing.assert_array_equal(m.compute(), skm.confusion_matrix([0, 1, 2], [0, 1, 3]))
    with pytest.raises(ValueError, match="out of range"):
        M.ConfusionMatrix(num_classes=2).update(np.array([5]), np.array([0]))


def test_top_k_accuracy_matches_sklearn():
    batches, _, t = _batches(n_classes=6)
    scores = np.concatenate([b[0].numpy() for b in batches])
    for k in (1, 2, 3):
        assert _run(M.TopKAccuracy(k), batches) == pytest.approx(
            skm.top_k_accuracy_score(t, scores, k=k, labels=range(6)))


def test_regression_metrics_match_sklearn():
    chunks = [(RNG.standard_normal((n, 3)), RNG.standard_normal((n, 3))) for n in (4, 9)]
    p = np.concatenate([c[0] for c in chunks])
    t = np.concatenate([c[1] for c in chunks])
    mse, mae = M.MeanSquaredError(), M.MeanAbsoluteError()
    for a, b in chunks:
        mse.update(nr.tensor(a), nr.tensor(b))
        mae.update(a, b)
    assert mse.compute() == pytest.approx(skm.mean_squared_error(t, p))
    assert mae.compute() == pytest.approx(skm.mean_absolute_error(t, p))


def test_binary_probabilities_are_thresholded():
    probs = np.array([0.1, 0.7, 0.5, 0.2], np.float32)
    y = np.array([0, 1, 0, 1])
    assert M.Accuracy()(probs, y) == pytest.approx(0.5)


def test_names_call_and_errors():
    assert isinstance(M.get_metric("accuracy"), M.Accuracy)
    assert M.get_metric("f1").name == "f1" and M.get_metric("mse").name == "mse"
    assert M.get_metric("top5_accuracy").name == "top5_accuracy"
    f = M.get_metric(lambda p, t: 0.25)
    f.update(np.zeros((4, 2)), np.zeros(4))
    assert f.compute() == 0.25
    acc = M.Accuracy()
    acc.update(np.eye(3), np.array([0, 1, 1]))
    assert acc(np.eye(3), np.array([0, 1, 2])) == 1.0   # one-shot call ...
    assert acc.compute() == pytest.approx(2 / 3)         # ... leaves the running state alone
    with pytest.raises(ValueError, match="unknown metric"):
        M.get_metric("nope")
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        M.Accuracy().update(np.zeros((4, 3)), np.zeros((5, 2)))
