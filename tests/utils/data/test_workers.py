"""DataLoader with worker processes: the same batches as the main process, in order, with
per-worker seeds, worker_init_fn, get_worker_info sharding, errors and timeouts surfaced."""
import math
import os
import time

import numpy as np
import pytest

import narae as nr
from narae.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info


class Slow(Dataset):
    """Samples cost Python time and randomness (like an augmenting image dataset)."""

    def __init__(self, n=23, noise=False):
        self.n, self.noise = n, noise

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x = np.full(3, float(i), dtype=np.float32)
        if self.noise:
            x = x + np.float32(nr.rand(1).item())
        return nr.from_numpy(x), i


def _epochs(loader, n=2):
    return [[(x.numpy().copy(), y.tolist()) for x, y in loader] for _ in range(n)]


def _same(a, b):
    assert len(a) == len(b)
    for ea, eb in zip(a, b):
        assert len(ea) == len(eb)
        for (xa, ya), (xb, yb) in zip(ea, eb):
            np.testing.assert_array_equal(xa, xb)
            assert ya == yb


@pytest.mark.parametrize("kw", [dict(batch_size=4), dict(batch_size=4, shuffle=True),
                                dict(batch_size=5, shuffle=True, drop_last=True),
                                dict(batch_size=3, persistent_workers=True)])
def test_workers_give_the_main_process_batches_in_order(kw):
    nr.manual_seed(3)
    main = _epochs(DataLoader(Slow(), **kw)) if not kw.get("persistent_workers") else \
        _epochs(DataLoader(Slow(), batch_size=3))
    nr.manual_seed(3)
    workers = _epochs(DataLoader(Slow(), num_workers=2, **kw))
    _same(main, workers)


def test_batch_size_none_with_workers():
    got = [y for _, y in DataLoader(Slow(5), batch_size=None, num_workers=2)]
    assert got == [0, 1, 2, 3, 4]


def _worker_seed(_):
    return get_worker_info().seed


class WhoAmI(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return np.array([info.id, info.num_workers, info.seed, os.getpid(),
                         np.random.randint(1 << 30), int(nr.randint(0, 1 << 30, (1,)).item())])


def test_worker_info_and_seeds():
    nr.manual_seed(0)
    rows = np.concatenate([b.numpy() for b in DataLoader(WhoAmI(), batch_size=2,
                                                          num_workers=2)])
    ids, counts, seeds, pids = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    assert ids.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]  # batches go round-robin
    assert set(counts.tolist()) == {2}
    assert seeds[2] == seeds[0] + 1  # base_seed + worker_id
    assert os.getpid() not in set(pids.tolist()) and len(set(pids.tolist())) == 2
    assert get_worker_info() is None  # main process
    nr.manual_seed(0)
    again = np.concatenate([b.numpy() for b in DataLoader(WhoAmI(), batch_size=2,
                                                           num_workers=2)])
    np.testing.assert_array_equal(again[:, [0, 2, 4, 5]], rows[:, [0, 2, 4, 5]])
    nr.manual_seed(1)
    other = np.concatenate([b.numpy() for b in DataLoader(WhoAmI(), batch_size=2,
                                                           num_workers=2)])
    assert not np.array_equal(other[:, 4], rows[:, 4])  # seeds follow manual_seed


def test_epochs_draw_new_worker_seeds():
    loader = DataLoader(WhoAmI(), batch_size=8, num_workers=1, persistent_workers=True)
    first, second = (next(iter(loader)).numpy() for _ in range(2))
    assert first[0, 2] != second[0, 2] and first[0, 3] == second[0, 3]  # same process


class Shards(IterableDataset):
    """Each worker yields its own slice of range(n), as torch's docs recommend."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        per = math.ceil(self.n / info.num_workers)
        return iter(range(info.id * per, min(self.n, (info.id + 1) * per)))


def test_iterable_dataset_sharded_by_worker_info():
    got = sorted(np.concatenate([b.numpy() for b in DataLoader(Shards(17), batch_size=3,
                                                                num_workers=3)]).tolist())
    assert got == list(range(17))
    order = [b.tolist() for b in DataLoader(Shards(8), batch_size=2, num_workers=2)]
    assert order == [[0, 1], [4, 5], [2, 3], [6, 7]]  # round-robin over the workers
    dropped = [b.tolist() for b in DataLoader(Shards(7), batch_size=2, num_workers=2,
                                              drop_last=True)]
    assert dropped == [[0, 1], [4, 5], [2, 3]]


def _remember(worker_id):
    os.environ["NARAE_TEST_WORKER"] = str(worker_id)


class ReadsEnv(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return int(os.environ.get("NARAE_TEST_WORKER", "-1"))


def test_worker_init_fn_runs_in_each_worker():
    got = [b.tolist() for b in DataLoader(ReadsEnv(), batch_size=1, num_workers=2,
                                          worker_init_fn=_remember)]
    assert got == [[0], [1], [0], [1]]
    assert "NARAE_TEST_WORKER" not in os.environ


class Broken(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 4:
            raise KeyError(f"sample {i} is missing")
        return i


def test_worker_errors_reach_the_main_process_with_their_traceback():
    loader = DataLoader(Broken(), batch_size=2, num_workers=2)
    with pytest.raises(KeyError, match=r"(?s)in DataLoader worker process 0.*sample 4 is "):
        list(loader)


class Sleepy(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(3)
        return i


def test_timeout():
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(DataLoader(Sleepy(), batch_size=1, num_workers=1, timeout=0.5))


def test_breaking_out_of_an_epoch_with_persistent_workers():
    loader = DataLoader(Slow(12), batch_size=2, num_workers=2, persistent_workers=True)
    for k, _ in enumerate(loader):
        if k == 1:
            break
    assert [y.tolist() for _, y in loader][0] == [0, 1]  # stale answers are dropped
    assert len(list(loader)) == 6
    loader._persistent_iterator._shutdown()


def test_spawn_context():
    got = [y.tolist() for _, y in DataLoader(Slow(6), batch_size=3, num_workers=2,
                                             multiprocessing_context="spawn")]
    assert got == [[0, 1, 2], [3, 4, 5]]
