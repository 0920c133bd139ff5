import numpy as np
import pytest

import narae as nr
from narae.utils.data import (SequentialSampler, RandomSampler, SubsetRandomSampler,
                              WeightedRandomSampler, BatchSampler)


def test_sequential():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]


def test_random_is_permutation_and_seeded():
    nr.manual_seed(1)
    a = list(RandomSampler(range(50)))
    nr.manual_seed(1)
    b = list(RandomSampler(range(50)))
    nr.manual_seed(2)
    c = list(RandomSampler(range(50)))
    assert sorted(a) == list(range(50)) and a == b and a != c


def test_random_num_samples_without_replacement_repeats_permutations():
    s = RandomSampler(range(4), num_samples=10)
    idx = list(s)
    assert len(s) == 10 and len(idx) == 10
    assert sorted(idx[:4]) == [0, 1, 2, 3] and sorted(idx[4:8]) == [0, 1, 2, 3]
    assert len(set(idx[8:])) == 2


def test_random_with_replacement():
    idx = list(RandomSampler(range(3), replacement=True, num_samples=300))
    assert len(idx) == 300 and set(idx) == {0, 1, 2}


def test_random_generator_argument():
    g = nr.Generator().manual_seed(5)
    a = list(RandomSampler(range(20), generator=g))
    g.manual_seed(5)
    assert list(RandomSampler(range(20), generator=g)) == a


def test_random_sampler_bad_args():
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_sampler():
    idx = list(SubsetRandomSampler([3, 7, 9]))
    assert sorted(idx) == [3, 7, 9]


def test_weighted_random_sampler():
    idx = np.array(list(WeightedRandomSampler([0.0, 1.0, 3.0], 4000)))
    assert set(idx.tolist()) == {1, 2}
    assert 0.70 < (idx == 2).mean() < 0.80
    no_rep = list(WeightedRandomSampler([1, 1, 1, 0], 3, replacement=False))
    assert sorted(no_rep) == [0, 1, 2]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1, 0], 2, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1, -1], 2)


def test_batch_sampler():
    assert list(BatchSampler(SequentialSampler(range(7)), 3, False)) == \
        [[0, 1, 2], [3, 4, 5], [6]]
    bs = BatchSampler(SequentialSampler(range(7)), 3, True)
    assert list(bs) == [[0, 1, 2], [3, 4, 5]] and len(bs) == 2
    assert len(BatchSampler(range(7), 3, False)) == 3
    assert list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]  # plain iterable
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(3), 0, False)
