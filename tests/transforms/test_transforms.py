import math

import numpy as np
import pytest

import narae as nr
import narae.transforms as T
from narae.transforms import functional as F


def _img(c=1, h=4, w=4):
    return np.arange(c * h * w, dtype=np.float32).reshape(c, h, w)


def test_to_tensor_hwc_uint8():
    hwc = np.array([[[0, 255], [51, 102]], [[204, 0], [255, 255]]], np.uint8)  # H=2, W=2, C=2
    t = T.ToTensor()(hwc)
    assert isinstance(t, nr.Tensor) and t.dtype == nr.float32 and tuple(t.shape) == (2, 2, 2)
    np.testing.assert_allclose(t.numpy(), [[[0, 0.2], [0.8, 1]], [[1, 0.4], [0, 1]]], rtol=1e-6)
    assert tuple(T.ToTensor()(np.zeros((3, 5), np.uint8)).shape) == (1, 3, 5)
    same = nr.zeros(1, 2, 2)
    assert T.ToTensor()(same) is same


def test_normalize_hand_values():
    img = np.array([[[0.0, 1.0]], [[0.5, 0.25]]], np.float32)  # C=2, H=1, W=2
    out = T.Normalize((0.5, 0.25), (0.5, 0.25))(img)
    np.testing.assert_allclose(out, [[[-1.0, 1.0]], [[1.0, 0.0]]])
    assert isinstance(out, np.ndarray)
    t = T.Normalize([0.5], [2.0])(nr.from_numpy(np.array([[[1.5]]], np.float32)))
    assert isinstance(t, nr.Tensor) and t.item() == 0.5
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize(0.0, 0.0)(img)
    with pytest.raises(ValueError, match="3 values for an image with 2 channels"):
        T.Normalize((0, 0, 0), (1, 1, 1))(img)


def test_normalize_inplace():
    img = np.ones((1, 2, 2), np.float32)
    assert T.Normalize(1.0, 1.0, inplace=True)(img) is img and not img.any()


def test_pad_modes():
    img = np.array([[[1.0, 2.0]]], np.float32)
    assert F.pad(img, 1, fill=9).tolist() == [[[9, 9, 9, 9], [9, 1, 2, 9], [9, 9, 9, 9]]]
    assert F.pad(img, (1, 0), padding_mode="edge").tolist() == [[[1, 1, 2, 2]]]
    assert F.pad(img, (1, 0, 0, 0), padding_mode="reflect").tolist() == [[[2, 1, 2]]]
    with pytest.raises(ValueError, match="padding_mode"):
        F.pad(img, 1, padding_mode="wrap")


def test_crop_and_center_crop():
    img = _img()
    assert F.crop(img, 1, 2, 2, 2).tolist() == [[[6, 7], [10, 11]]]
    assert T.CenterCrop(2)(img).tolist() == [[[5, 6], [9, 10]]]
    with pytest.raises(ValueError, match="does not fit"):
        F.crop(img, 3, 3, 2, 2)


def test_random_crop_reproducible_and_valid():
    img = _img(3, 6, 6)
    crop = T.RandomCrop(4, padding=2)
    nr.manual_seed(0)
    a = [crop(img) for _ in range(5)]
    nr.manual_seed(0)
    b = [crop(img) for _ in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert all(x.shape == (3, 4, 4) for x in a)
    padded = F.pad(img, 2)
    windows = {(i, j) for i in range(7) for j in range(7)}
    for x in a:  # each output is some window of the padded image
        assert any(np.array_equal(x, padded[:, i:i + 4, j:j + 4]) for i, j in windows)
    assert len({x.tobytes() for x in a}) > 1
    assert np.array_equal(T.RandomCrop(6)(img), img)
    with pytest.raises(ValueError, match="larger than"):
        T.RandomCrop(7)(img)
    assert T.RandomCrop(8, pad_if_needed=True)(img).shape == (3, 8, 8)


def test_flips():
    img = _img(1, 2, 3)
    assert T.RandomHorizontalFlip(p=1.0)(img).tolist() == [[[2, 1, 0], [5, 4, 3]]]
    assert T.RandomVerticalFlip(p=1.0)(img).tolist() == [[[3, 4, 5], [0, 1, 2]]]
    assert T.RandomHorizontalFlip(p=0.0)(img) is img
    flip = T.RandomHorizontalFlip()
    nr.manual_seed(0)
    a = [flip(img)[0, 0, 0] for _ in range(20)]
    nr.manual_seed(0)
    assert a == [flip(img)[0, 0, 0] for _ in range(20)] and set(a) == {0.0, 2.0}
    t = F.hflip(nr.from_numpy(img))
    assert isinstance(t, nr.Tensor) and t.tolist()[0][0] == [2, 1, 0]


def test_rotate_quarter_turns_match_rot90():
    img = _img(2, 4, 4)
    np.testing.assert_array_equal(F.rotate(img, 90), np.rot90(img, 1, axes=(1, 2)))
    np.testing.assert_array_equal(F.rotate(img, -90), np.rot90(img, -1, axes=(1, 2)))
    np.testing.assert_allclose(F.rotate(img, 180, interpolation="bilinear"),
                               img[:, ::-1, ::-1], atol=1e-4)


def test_affine_translate_fill_and_bilinear():
    img = np.ones((1, 3, 3), np.float32)
    assert F.affine(img, translate=(2, 0), fill=7).tolist() == [[[7, 7, 1]] * 3]
    row = np.array([[[0.0, 2.0, 4.0, 6.0]]], np.float32)
    out = F.affine(row, translate=(0.5, 0), interpolation="bilinear")
    np.testing.assert_allclose(out, [[[0.0, 1.0, 3.0, 5.0]]], atol=1e-6)
    # scale 2 about the centre (1, 1) of a 3x3 image (nearest): output column 0, 1, 2 reads
    # input column 0.5, 1, 1.5, and a half rounds up -> columns 1, 1, 2 (rows alike)
    img = _img(1, 3, 3)
    assert F.affine(img, scale=2.0).tolist() == [[[4, 4, 5], [4, 4, 5], [7, 7, 8]]]
    img = np.zeros((3, 2, 2), np.float32)
    out = F.affine(img, translate=(1, 0), fill=(1, 2, 3))
    assert out[:, 0, 0].tolist() == [1, 2, 3] and out[:, 0, 1].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="interpolation"):
        F.affine(img, interpolation="cubic")


def test_affine_uint8_bilinear_keeps_dtype():
    img = np.array([[[0, 100]]], np.uint8)
    out = F.affine(img, translate=(0.5, 0), interpolation="bilinear", fill=0)
    assert out.dtype == np.uint8 and out.tolist() == [[[0, 50]]]


def test_random_rotation_and_affine_reproducible():
    img = np.random.default_rng(0).random((1, 8, 8)).astype(np.float32)
    for tf in (T.RandomRotation(30, interpolation="bilinear"),
               T.RandomAffine(15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10)):
        nr.manual_seed(11)
        a = tf(img)
        nr.manual_seed(11)
        b = tf(img)
        nr.manual_seed(12)
        c = tf(img)
        assert np.array_equal(a, b) and not np.array_equal(a, c) and a.shape == img.shape
    g = nr.Generator().manual_seed(1)
    angle = T.RandomAffine((10, 20), generator=g).get_params(8, 8)[0]
    assert 10 <= angle <= 20
    with pytest.raises(ValueError, match="translate"):
        T.RandomAffine(0, translate=(2, 0))


def test_per_image_standardize():
    img = np.array([[[0.0, 2.0], [4.0, 6.0]]], np.float32)
    out = T.PerImageStandardize()(img)
    np.testing.assert_allclose(out, (img - 3.0) / math.sqrt(5.0), rtol=1e-6)
    flat = T.PerImageStandardize()(nr.ones(1, 2, 2))
    assert isinstance(flat, nr.Tensor) and flat.tolist() == [[[0.0, 0.0], [0.0, 0.0]]]


def test_compose_and_lambda():
    tf = T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2), T.Normalize(1.0, 1.0)])
    out = tf(np.full((2, 2, 1), 255, np.uint8))
    assert out.tolist() == [[[1.0, 1.0], [1.0, 1.0]]]
    assert "ToTensor" in repr(tf)
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


def test_with_dataset_and_loader():
    from narae.datasets import Digits
    from narae.utils.data import DataLoader
    ds = Digits(train=False, transform=T.Compose([T.RandomCrop(8, padding=1),
                                                  T.Normalize(0.5, 0.5)]))
    xb, yb = next(iter(DataLoader(ds, batch_size=8)))
    assert tuple(xb.shape) == (8, 1, 8, 8) and float(xb.numpy().min()) >= -1.0
