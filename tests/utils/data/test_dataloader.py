import collections

import numpy as np
import pytest

import narae as nr
from narae.utils.data import (DataLoader, TensorDataset, Dataset, IterableDataset, Subset,
                              SequentialSampler, BatchSampler, default_collate, random_split)


def _ds(n=10):
    return TensorDataset(nr.from_numpy(np.arange(n * 2, dtype=np.float32).reshape(n, 2)),
                         nr.from_numpy(np.arange(n, dtype=np.int64)))


class Squares(Dataset):
    """A plain map-style dataset (no fast path): (array, int, float) samples."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.full(3, i, dtype=np.float32), i, float(i * i)


def test_batches_shapes_and_len():
    loader = DataLoader(_ds(), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [tuple(b[0].shape) for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert batches[0][1].tolist() == [0, 1, 2, 3] and batches[0][1].dtype == nr.int64
    assert batches[0][0].dtype == nr.float32


def test_drop_last():
    loader = DataLoader(_ds(), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[1].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def _order(seed, **kw):
    nr.manual_seed(seed)
    return [i for _, y in DataLoader(_ds(20), batch_size=6, shuffle=True, **kw)
            for i in y.tolist()]


def test_shuffle_reproducible_and_seed_dependent():
    a, b, c = _order(0), _order(0), _order(1)
    assert sorted(a) == list(range(20)) and a == b and a != c


def test_shuffle_changes_between_epochs():
    nr.manual_seed(0)
    loader = DataLoader(_ds(20), batch_size=20, shuffle=True)
    e1, e2 = next(iter(loader))[1].tolist(), next(iter(loader))[1].tolist()
    assert e1 != e2


def test_generator_argument():
    g = nr.Generator().manual_seed(9)
    a = [y.tolist() for _, y in DataLoader(_ds(), batch_size=5, shuffle=True, generator=g)]
    g.manual_seed(9)
    b = [y.tolist() for _, y in DataLoader(_ds(), batch_size=5, shuffle=True, generator=g)]
    assert a == b


def test_fast_path_matches_per_sample_path():
    ds = _ds(9)
    nr.manual_seed(5)
    fast = [[t.tolist() for t in b] for b in DataLoader(ds, batch_size=4, shuffle=True)]
    nr.manual_seed(5)
    slow = [[t.tolist() for t in b] for b in
            DataLoader(ds, batch_size=4, shuffle=True, collate_fn=lambda s: default_collate(s))]
    assert fast == slow


def test_fast_path_does_not_loop_over_samples(monkeypatch):
    ds = _ds(8)

    def per_sample(self, i):
        raise AssertionError("the per-sample path was used")

    monkeypatch.setattr(TensorDataset, "__getitem__", per_sample)
    assert len(list(DataLoader(ds, batch_size=4))) == 2
    assert len(list(DataLoader(Subset(ds, [1, 2, 3]), batch_size=2))) == 2  # random_split part


def test_getitem_override_is_not_bypassed():
    class Times10(TensorDataset):
        def __getitem__(self, i):
            return (self.tensors[0]._data[i] * 10,)

    ds = Times10(nr.from_numpy(np.arange(4.0)))
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=2)] == [[0, 10], [20, 30]]
    assert [b[0].tolist() for b in DataLoader(Subset(ds, [3]), batch_size=2)] == [[30]]


def test_subset_of_tensor_dataset_values():
    nr.manual_seed(0)
    train, _ = random_split(_ds(10), [6, 4])
    got = [i for _, y in DataLoader(train, batch_size=4) for i in y.tolist()]
    assert got == list(train.indices)


def test_generic_dataset_default_collate():
    x, i, f = next(iter(DataLoader(Squares(), batch_size=3)))
    assert tuple(x.shape) == (3, 3) and x.dtype == nr.float32
    assert i.tolist() == [0, 1, 2] and i.dtype == nr.int64
    assert f.tolist() == [0.0, 1.0, 4.0] and f.dtype == nr.float64


def test_batch_size_none_and_custom_collate():
    sample = next(iter(DataLoader(Squares(), batch_size=None)))
    assert tuple(sample[0].shape) == (3,) and sample[1] == 0
    loader = DataLoader(Squares(), batch_size=2, collate_fn=lambda b: len(b))
    assert list(loader) == [2, 2, 2, 1]


def test_batch_sampler_and_sampler_options():
    bs = BatchSampler(SequentialSampler(range(10)), 5, False)
    assert [y.tolist() for _, y in DataLoader(_ds(), batch_sampler=bs)] == \
        [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    loader = DataLoader(_ds(), batch_size=3, sampler=[9, 8, 7, 6])
    assert [y.tolist() for _, y in loader] == [[9, 8, 7], [6]]


def test_exclusive_options_raise():
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(_ds(), sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(_ds(), batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(_ds(), num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(_ds(), persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(_ds(), prefetch_factor=2)


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

        def __len__(self):
            return 7

    loader = DataLoader(Stream(), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3, drop_last=True)] == \
        [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(), shuffle=True)


def test_default_collate_structures():
    Point = collections.namedtuple("Point", "x y")
    out = default_collate([{"a": np.zeros(2), "b": "s", "p": Point(1, 2.0)},
                           {"a": np.ones(2), "b": "t", "p": Point(3, 4.0)}])
    assert out["a"].tolist() == [[0, 0], [1, 1]] and out["b"] == ["s", "t"]
    assert isinstance(out["p"], Point) and out["p"].x.tolist() == [1, 3]
    t = default_collate([nr.tensor([1.0, 2.0]), nr.tensor([3.0, 4.0])])
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert default_collate([np.int32(1), np.int32(2)]).dtype == nr.int32
    assert default_collate([True, False]).dtype == nr.bool
    with pytest.raises(RuntimeError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="object"):
        default_collate([object(), object()])
