import numpy as np
import pytest

import narae as nr
from narae.utils.data import (Dataset, TensorDataset, ConcatDataset, Subset, random_split,
                              IterableDataset, ChainDataset)


def _ds(n=10):
    x = nr.from_numpy(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
    y = nr.from_numpy(np.arange(n, dtype=np.int64))
    return TensorDataset(x, y)


def test_tensor_dataset_rows_and_dtypes():
    ds = _ds()
    assert len(ds) == 10
    x, y = ds[4]
    assert x.tolist() == [12.0, 13.0, 14.0] and x.dtype == nr.float32
    assert y.item() == 4 and y.dtype == nr.int64


def test_tensor_dataset_size_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(4,\)"):
        TensorDataset(nr.zeros(3, 2), nr.zeros(4))


def test_tensor_dataset_accepts_numpy():
    ds = TensorDataset(np.ones((5, 2)), np.arange(5))
    assert ds[2][1].item() == 2


def test_concat_dataset_indexing():
    a, b = _ds(3), _ds(4)
    c = a + b
    assert isinstance(c, ConcatDataset) and len(c) == 7
    assert c[3][1].item() == 0 and c[-1][1].item() == 3 and c[2][1].item() == 2
    with pytest.raises(IndexError):
        c[7]


def test_subset():
    s = Subset(_ds(), [9, 0, 5])
    assert len(s) == 3 and [s[i][1].item() for i in range(3)] == [9, 0, 5]


def test_random_split_lengths_disjoint_cover():
    parts = random_split(range(10), [3, 7])
    assert [len(p) for p in parts] == [3, 7]
    seen = [p[i] for p in parts for i in range(len(p))]
    assert sorted(seen) == list(range(10))


def test_random_split_fractions_round_robin():
    parts = random_split(range(11), [0.5, 0.3, 0.2])
    # floor: 5, 3, 2 -> remainder 1 goes to the first split (torch's rule)
    assert [len(p) for p in parts] == [6, 3, 2]


def test_random_split_reproducible():
    nr.manual_seed(3)
    a = random_split(range(20), [10, 10])[0].indices
    nr.manual_seed(3)
    b = random_split(range(20), [10, 10])[0].indices
    nr.manual_seed(4)
    c = random_split(range(20), [10, 10])[0].indices
    assert a == b and a != c
    g1, g2 = nr.Generator().manual_seed(7), nr.Generator().manual_seed(7)
    assert random_split(range(20), [5, 15], generator=g1)[0].indices == \
        random_split(range(20), [5, 15], generator=g2)[0].indices


def test_random_split_bad_lengths():
    with pytest.raises(ValueError, match="does not equal"):
        random_split(range(10), [3, 3])


def test_iterable_and_chain():
    class Count(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    c = Count(2) + Count(3)
    assert isinstance(c, ChainDataset) and list(c) == [0, 1, 0, 1, 2] and len(c) == 5


def test_base_dataset_needs_getitem():
    with pytest.raises(NotImplementedError):
        Dataset()[0]
