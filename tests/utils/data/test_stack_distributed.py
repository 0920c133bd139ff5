"""StackDataset and DistributedSampler against torch.utils.data."""
import numpy as np
import pytest
import torch.utils.data as tud

import narae as nr
from narae.utils.data import DataLoader, DistributedSampler, StackDataset, TensorDataset


def test_stack_dataset_tuple_and_dict_forms():
    a, b = list(range(5)), [f"s{i}" for i in range(5)]
    ours, theirs = StackDataset(a, b), tud.StackDataset(a, b)
    assert len(ours) == len(theirs) == 5
    assert [ours[i] for i in range(5)] == [theirs[i] for i in range(5)]
    ours, theirs = StackDataset(num=a, name=b), tud.StackDataset(num=a, name=b)
    assert ours[3] == theirs[3] == {"num": 3, "name": "s3"}
    assert ours.__getitems__([4, 1]) == theirs.__getitems__([4, 1])
    with pytest.raises(ValueError, match="Size mismatch"):
        StackDataset(a, b[:3])
    with pytest.raises(ValueError, match="both types"):
        StackDataset(a, name=b)


def test_stack_dataset_batches_through_the_loader():
    x = nr.arange(12.0).reshape(6, 2)
    ds = StackDataset(image=TensorDataset(x), label=list(range(6)))
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert set(batch) == {"image", "label"}
    np.testing.assert_array_equal(batch["image"][0].numpy(), x.numpy()[:4])
    assert batch["label"].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (9, 3, False),
                                                  (2, 4, False), (11, 4, True)])
def test_distributed_sampler_without_shuffle_matches_torch(n, replicas, drop_last):
    data = list(range(n))
    for rank in range(replicas):
        ours = DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = tud.DistributedSampler(data, replicas, rank, shuffle=False,
                                        drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_distributed_sampler_shuffle_partitions_each_epoch():
    data = list(range(12))
    samplers = [DistributedSampler(data, 3, r, seed=5) for r in range(3)]
    seen = []
    for epoch in range(2):
        for s in samplers:
            s.set_epoch(epoch)
        parts = [list(s) for s in samplers]
        assert sorted(sum(parts, [])) == data  # disjoint and complete
        seen.append(parts)
    assert seen[0] != seen[1]  # a new order each epoch
    again = DistributedSampler(data, 3, 1, seed=5)
    assert list(again) == seen[0][1]  # every replica computes the same permutation


def test_distributed_sampler_reads_torchrun_environment(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    s = DistributedSampler(list(range(6)), shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (2, 1, [1, 3, 5])
    monkeypatch.delenv("WORLD_SIZE")
    with pytest.raises(RuntimeError, match="WORLD_SIZE"):
        DistributedSampler(list(range(6)))
    with pytest.raises(ValueError, match="Invalid rank 3"):
        DistributedSampler(list(range(6)), num_replicas=2, rank=3)


def test_distributed_sampler_in_a_loader():
    x = nr.arange(10.0)
    loader = DataLoader(TensorDataset(x), batch_size=2,
                        sampler=DistributedSampler(range(10), 2, 0, shuffle=False))
    assert [b[0].tolist() for b in loader] == [[0.0, 2.0], [4.0, 6.0], [8.0]]

