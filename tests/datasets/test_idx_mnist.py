import gzip
import os
import urllib.error

import numpy as np
import pytest

import narae as nr
from narae.datasets import MNIST, FashionMNIST, read_idx, write_idx, DownloadError
from narae.datasets import _download
from narae.utils.data import DataLoader

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")


def _fake_mnist(folder, n_train=5, n_test=3, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{suffix}"), imgs)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{suffix}"), labels)
        arrays[prefix] = (imgs, labels)
    return arrays


def test_idx_header_bytes_are_the_standard_ones(tmp_path):
    path = tmp_path / "x"
    write_idx(path, np.zeros((2, 3, 4), np.uint8))
    raw = path.read_bytes()
    # magic 0x00000803, then big-endian sizes 2, 3, 4, then 24 data bytes
    assert raw[:16] == bytes.fromhex("00000803" "00000002" "00000003" "00000004")
    assert len(raw) == 16 + 24


def test_idx_roundtrip_other_dtypes(tmp_path):
    a = np.arange(6, dtype=np.int32).reshape(2, 3) - 3
    write_idx(tmp_path / "a.gz", a)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), a)
    f = np.array([1.5, -2.25], np.float64)
    write_idx(tmp_path / "f", f)
    assert read_idx(tmp_path / "f").tolist() == [1.5, -2.25]


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_roundtrip(tmp_path, gz):
    arrays = _fake_mnist(tmp_path / "MNIST" / "raw", gz=gz)
    train, test = MNIST(tmp_path), MNIST(tmp_path, train=False)
    assert len(train) == 5 and len(test) == 3
    img, label = train[2]
    assert isinstance(img, nr.Tensor) and tuple(img.shape) == (1, 28, 28)
    assert img.dtype == nr.float32
    np.testing.assert_allclose(img.numpy()[0], arrays["train"][0][2] / 255.0, rtol=1e-6)
    assert label == int(arrays["train"][1][2]) and isinstance(label, int)
    assert np.array_equal(test.data, arrays["t10k"][0])
    assert train.targets.tolist() == arrays["train"][1].tolist()


def test_files_directly_in_root_and_fashion(tmp_path):
    arrays = _fake_mnist(tmp_path, gz=True)
    ds = FashionMNIST(tmp_path, train=False)
    assert len(ds) == 3 and ds.classes[9] == "Ankle boot"
    assert ds[0][1] == int(arrays["t10k"][1][0])


def test_transforms_and_fast_batches(tmp_path):
    arrays = _fake_mnist(tmp_path, n_train=6)
    ds = MNIST(tmp_path, transform=lambda x: x * 2, target_transform=lambda y: y + 100)
    img, label = ds[1]
    np.testing.assert_allclose(img.numpy()[0], arrays["train"][0][1] / 255.0 * 2, rtol=1e-6)
    assert label == int(arrays["train"][1][1]) + 100
    xb, yb = next(iter(DataLoader(MNIST(tmp_path), batch_size=4)))
    assert tuple(xb.shape) == (4, 1, 28, 28) and yb.dtype == nr.int64
    np.testing.assert_allclose(xb.numpy()[:, 0], arrays["train"][0][:4] / 255.0, rtol=1e-6)
    xs, ys = MNIST(tmp_path).tensors()
    assert tuple(xs.shape) == (6, 1, 28, 28) and ys.tolist() == arrays["train"][1].tolist()


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(RuntimeError, match=r"train-images-idx3-ubyte.*MNIST.raw"):
        MNIST(tmp_path)


def _corrupt(tmp_path, name, data):
    _fake_mnist(tmp_path)
    (tmp_path / name).write_bytes(data)
    return tmp_path


def test_bad_magic(tmp_path):
    _corrupt(tmp_path, "train-images-idx3-ubyte", b"\x12\x34\x08\x03" + b"\x00" * 100)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*bad magic"):
        MNIST(tmp_path)


def test_truncated_data(tmp_path):
    good = (tmp_path / "ok")
    write_idx(good, np.zeros((5, 28, 28), np.uint8))
    _corrupt(tmp_path, "train-images-idx3-ubyte", good.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*truncated.*3920.*3910"):
        MNIST(tmp_path)


def test_truncated_header_and_tiny_file(tmp_path):
    _corrupt(tmp_path, "train-labels-idx1-ubyte", b"\x00\x00\x08\x01\x00")
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.*truncated IDX header"):
        MNIST(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00")
    with pytest.raises(ValueError, match="truncated IDX file"):
        MNIST(tmp_path)


def test_swapped_files_and_count_mismatch(tmp_path):
    _fake_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="3 dimension.*expected 1"):
        MNIST(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        MNIST(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(5, 12, np.uint8))
    with pytest.raises(ValueError, match="label 12 is out of range"):
        MNIST(tmp_path)


def test_corrupt_gzip(tmp_path):
    data = gzip.compress(b"\x00" * 1000)
    _corrupt(tmp_path, "train-images-idx3-ubyte", data[:20])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*corrupt gzip"):
        MNIST(tmp_path)


def test_download_without_network_is_clear(tmp_path, monkeypatch):
    tried = []

    def offline(url, timeout=None):
        tried.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(_download, "_urlopen", offline)
    with pytest.raises(DownloadError, match=r"(?s)could not download train-images.*no network"
                                            r".*Put the MNIST files.*MNIST.raw"):
        MNIST(tmp_path, download=True)
    assert len(tried) == len(MNIST.mirrors) and all(u.startswith("http") for u in tried)
    assert not any(p.name.startswith(".part") for p in (tmp_path / "MNIST" / "raw").iterdir())


def test_download_fetches_and_checks_md5(tmp_path, monkeypatch):
    src = tmp_path / "src"
    _fake_mnist(src, gz=True)

    class Response:
        def __init__(self, data):
            self.data, self.pos = data, 0

        def read(self, n):
            chunk = self.data[self.pos:self.pos + n]
            self.pos += n
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake(url, timeout=None):
        return Response((src / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(_download, "_urlopen", fake)
    monkeypatch.setattr(MNIST, "md5", {})  # our fake files are not the real ones
    root = tmp_path / "root"
    assert len(MNIST(root, download=True)) == 5
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == \
        sorted(f + ".gz" for f in FILES)
    monkeypatch.setattr(MNIST, "md5", {f + ".gz": "0" * 32 for f in FILES})
    with pytest.raises(DownloadError, match="MD5 mismatch"):
        MNIST(tmp_path / "other", download=True)
