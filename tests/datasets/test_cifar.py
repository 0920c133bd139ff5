import numpy as np
import pytest

import narae as nr
from narae.datasets import CIFAR10
from narae.datasets import _download


def _write_batch(path, labels, images):
    recs = np.concatenate([np.asarray(labels, np.uint8)[:, None],
                           images.reshape(len(labels), -1)], axis=1)
    path.write_bytes(recs.tobytes())


def _fake_cifar(root, n=4, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        imgs = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n)
        _write_batch(folder / name, labels, imgs)
        out[name] = (imgs, labels)
    return out


def test_record_layout_roundtrip(tmp_path):
    root = tmp_path
    folder = root / "cifar-10-batches-bin"
    folder.mkdir()
    img = np.zeros((1, 3, 32, 32), np.uint8)
    img[0, 0, 0, 1] = 255   # red, row 0, column 1 -> byte 1 + 1
    img[0, 2, 31, 31] = 51  # blue, last pixel -> last byte
    _write_batch(folder / "test_batch.bin", [7], img)
    raw = (folder / "test_batch.bin").read_bytes()
    assert len(raw) == 3073 and raw[0] == 7 and raw[2] == 255 and raw[-1] == 51
    x, y = CIFAR10(root, train=False)[0]
    assert tuple(x.shape) == (3, 32, 32) and x.dtype == nr.float32 and y == 7
    assert x.numpy()[0, 0, 1] == 1.0 and x.numpy()[2, 31, 31] == pytest.approx(0.2)
    assert x.numpy().sum() == pytest.approx(1.2)


def test_train_concatenates_five_batches(tmp_path):
    data = _fake_cifar(tmp_path)
    ds = CIFAR10(tmp_path)
    assert len(ds) == 20 and tuple(ds.data.shape) == (20, 32, 32, 3)
    imgs3, labels3 = data["data_batch_3.bin"]
    x, y = ds[9]  # second batch file starts at 4 -> index 9 is batch 3, record 1
    np.testing.assert_allclose(x.numpy(), imgs3[1] / 255.0, rtol=1e-6)
    assert y == labels3[1]
    assert ds.classes[0] == "airplane"


def test_truncated_file(tmp_path):
    _fake_cifar(tmp_path)
    f = tmp_path / "cifar-10-batches-bin" / "test_batch.bin"
    f.write_bytes(f.read_bytes()[:-5])
    with pytest.raises(ValueError, match=r"test_batch.bin.*not a positive multiple of the 3073"):
        CIFAR10(tmp_path, train=False)
    f.write_bytes(b"")
    with pytest.raises(ValueError, match="test_batch.bin"):
        CIFAR10(tmp_path, train=False)


def test_bad_label(tmp_path):
    _fake_cifar(tmp_path)
    f = tmp_path / "cifar-10-batches-bin" / "data_batch_2.bin"
    raw = bytearray(f.read_bytes())
    raw[3073] = 200  # label byte of record 1
    f.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"data_batch_2.bin.*record 1 has label 200"):
        CIFAR10(tmp_path)


def test_missing_and_offline(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match=r"data_batch_1.bin.*cifar-10-batches-bin"):
        CIFAR10(tmp_path)

    def offline(url, timeout=None):
        raise OSError("network unreachable")

    monkeypatch.setattr(_download, "_urlopen", offline)
    with pytest.raises(RuntimeError, match=r"(?s)cifar-10-binary.tar.gz.*unreachable.*"
                                           r"data_batch_1.bin"):
        CIFAR10(tmp_path, download=True)
