"""Deterministic image operations behind the transforms (mirrors torchvision's functional).

Images are NumPy arrays or narae Tensors whose last two axes are (H, W): (H, W), (C, H, W)
or a batch (N, C, H, W). Each function returns the same kind it was given. The work is done
on the host with NumPy: these are per-sample preprocessing steps, not graph ops.
"""
import math
import numbers

import numpy as np

from .._dtype import is_floating
from ..tensor import Tensor
from ..utils.data._arrays import wrap

__all__ = ["to_tensor", "normalize", "pad", "crop", "hflip", "vflip", "affine", "rotate",
           "per_image_standardize"]


def _unwrap(img):
    if isinstance(img, Tensor):
        return (img._data if isinstance(img._data, np.ndarray) else np.asarray(img)), True
    if isinstance(img, np.ndarray):
        return img, False
    raise TypeError(f"expected a NumPy array or a narae Tensor, got {type(img).__name__}")


def _like(arr, was_tensor):
    return wrap(np.ascontiguousarray(arr)) if was_tensor else arr


def _check_image(arr, name):
    if arr.ndim < 2:
        raise ValueError(f"{name}: expected an image with at least 2 dimensions (..., H, W), "
                         f"got shape {arr.shape}")


def to_tensor(pic):
    """An (H, W, C) or (H, W) array / PIL image -> float32 (C, H, W) Tensor.

    uint8 is scaled to [0, 1]; other dtypes keep their values (as torchvision does).
    A narae Tensor is returned unchanged (it is taken to be CHW already).
    """
    if isinstance(pic, Tensor):
        return pic
    arr = np.asarray(pic)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"to_tensor: expected an (H, W) or (H, W, C) image, got shape "
                         f"{arr.shape}")
    chw = arr.transpose(2, 0, 1)
    if arr.dtype == np.uint8:
        return wrap(chw.astype(np.float32) / np.float32(255))
    if is_floating(arr.dtype):
        return wrap(np.ascontiguousarray(chw, dtype=np.float32)
                    if arr.dtype != np.float64 else np.ascontiguousarray(chw))
    return wrap(np.ascontiguousarray(chw))


def _per_channel(values, channels, name):
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size not in (1, channels):
        raise ValueError(f"{name}: got {v.size} values for an image with {channels} channels")
    return v.reshape(-1, 1, 1)


def normalize(img, mean, std, inplace=False):
    """``(img - mean[c]) / std[c]`` per channel of a float (C, H, W) or (N, C, H, W) image."""
    arr, was_tensor = _unwrap(img)
    if arr.ndim < 3:
        raise ValueError(f"normalize: expected a (C, H, W) image, got shape {arr.shape}")
    if not is_floating(arr.dtype):
        raise TypeError(f"normalize: expected a floating-point image, got {arr.dtype}; "
                        f"use ToTensor first")
    c = arr.shape[-3]
    m = _per_channel(mean, c, "normalize mean").astype(arr.dtype)
    s = _per_channel(std, c, "normalize std").astype(arr.dtype)
    if (s == 0).any():
        raise ValueError(f"normalize: std evaluated to zero after conversion to {arr.dtype}, "
                         f"leading to division by zero")
    if inplace:
        arr -= m
        arr /= s
        return img
    return _like((arr - m) / s, was_tensor)


def _padding(padding):
    """torchvision's padding spec -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        return (int(padding),) * 4
    p = tuple(int(v) for v in padding)
    if len(p) == 1:
        return p * 4
    if len(p) == 2:
        return (p[0], p[1], p[0], p[1])
    if len(p) == 4:
        return p
    raise ValueError(f"padding must be an int or a sequence of 1, 2 or 4 ints, got {padding}")


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the H and W axes; modes as torchvision: constant, edge, reflect, symmetric."""
    arr, was_tensor = _unwrap(img)
    _check_image(arr, "pad")
    left, top, right, bottom = _padding(padding)
    if min(left, top, right, bottom) < 0:
        raise ValueError(f"pad: negative padding {padding} is not supported")
    widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
    if padding_mode == "constant":
        out = np.pad(arr, widths, mode="constant", constant_values=fill)
    elif padding_mode in ("edge", "reflect", "symmetric"):
        out = np.pad(arr, widths, mode=padding_mode)
    else:
        raise ValueError(f"pad: padding_mode must be constant, edge, reflect or symmetric, "
                         f"got {padding_mode!r}")
    return _like(out, was_tensor)


def crop(img, top, left, height, width):
    """The (height, width) window whose top-left pixel is (top, left); must lie inside."""
    arr, was_tensor = _unwrap(img)
    _check_image(arr, "crop")
    h, w = arr.shape[-2:]
    if top < 0 or left < 0 or top + height > h or left + width > w:
        raise ValueError(f"crop: window top={top}, left={left}, {height}x{width} does not fit "
                         f"an image of {h}x{w}")
    return _like(arr[..., top:top + height, left:left + width].copy(), was_tensor)


def hflip(img):
    arr, was_tensor = _unwrap(img)
    _check_image(arr, "hflip")
    return _like(arr[..., ::-1].copy(), was_tensor)


def vflip(img):
    arr, was_tensor = _unwrap(img)
    _check_image(arr, "vflip")
    return _like(arr[..., ::-1, :].copy(), was_tensor)


def _inverse_matrix(angle, translate, scale, shear):
    """2x2 matrix and offset taking output (x, y) about the centre to input (x, y).

    Forward map in pixel coordinates with y pointing down: rotate by ``angle`` degrees
    counter-clockwise as seen on screen, shear by ``shear`` = (sx, sy) degrees, scale, then
    translate by (tx, ty) pixels.
    """
    a = math.radians(angle)
    sx, sy = (math.tan(math.radians(s)) for s in shear)
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    shr = np.array([[1.0, sx], [sy, 1.0]])
    fwd = scale * rot @ shr
    if abs(np.linalg.det(fwd)) < 1e-12:
        raise ValueError(f"affine: the transform (angle={angle}, scale={scale}, shear={shear}) "
                         f"is not invertible")
    return np.linalg.inv(fwd), np.asarray(translate, dtype=np.float64)


def _fill_border(arr, fill):
    """The image with a 1-pixel frame of ``fill`` (scalar or one value per channel)."""
    out = np.empty(arr.shape[:-2] + (arr.shape[-2] + 2, arr.shape[-1] + 2), arr.dtype)
    f = np.asarray(fill, dtype=arr.dtype)
    if f.ndim and arr.ndim >= 3:
        f = _per_channel(f, arr.shape[-3], "fill").astype(arr.dtype)
    out[...] = f
    out[..., 1:-1, 1:-1] = arr
    return out


def affine(img, angle=0.0, translate=(0, 0), scale=1.0, shear=(0.0, 0.0),
           interpolation="nearest", fill=0, center=None):
    """Warp the image by the affine map above, about ``center`` = (x, y) (default: the
    middle, ((W - 1) / 2, (H - 1) / 2)). Pixels that come from outside get ``fill``.
    ``interpolation`` is ``"nearest"`` or ``"bilinear"``.
    """
    arr, was_tensor = _unwrap(img)
    _check_image(arr, "affine")
    if isinstance(shear, numbers.Number):
        shear = (shear, 0.0)
    h, w = arr.shape[-2:]
    cx, cy = ((w - 1) / 2, (h - 1) / 2) if center is None else center
    inv, t = _inverse_matrix(angle, translate, scale, tuple(shear))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    dx, dy = xs - cx - t[0], ys - cy - t[1]
    src_x = inv[0, 0] * dx + inv[0, 1] * dy + cx
    src_y = inv[1, 0] * dx + inv[1, 1] * dy + cy
    framed = _fill_border(arr, fill)   # index -1 and W (resp. H) now read the fill value
    if interpolation == "bilinear":
        framed = framed.astype(np.float64)

    def at(yi, xi):
        return framed[..., np.clip(yi, -1, h) + 1, np.clip(xi, -1, w) + 1]

    if interpolation == "nearest":
        out = at(np.floor(src_y + 0.5).astype(np.int64), np.floor(src_x + 0.5).astype(np.int64))
    elif interpolation == "bilinear":
        x0, y0 = np.floor(src_x), np.floor(src_y)
        fx, fy = src_x - x0, src_y - y0
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        out = (at(y0, x0) * ((1 - fx) * (1 - fy)) + at(y0, x0 + 1) * (fx * (1 - fy)) +
               at(y0 + 1, x0) * ((1 - fx) * fy) + at(y0 + 1, x0 + 1) * (fx * fy))
        out = np.rint(out).astype(arr.dtype) if arr.dtype.kind in "iub" else \
            out.astype(arr.dtype)
    else:
        raise ValueError(f"affine: interpolation must be 'nearest' or 'bilinear', got "
                         f"{interpolation!r}")
    return _like(out, was_tensor)


def rotate(img, angle, interpolation="nearest", fill=0, center=None):
    """Rotate counter-clockwise by ``angle`` degrees about the centre (same size output)."""
    return affine(img, angle=angle, interpolation=interpolation, fill=fill, center=center)


def per_image_standardize(img, eps=None):
    """``(x - mean) / max(std, 1 / sqrt(numel))`` over the whole image (all channels).

    The floor on the std (as in TensorFlow's ``per_image_standardization``) keeps a uniform
    image finite. Pass a (C, H, W) image; a batch would be standardised as one image.
    """
    arr, was_tensor = _unwrap(img)
    if not is_floating(arr.dtype):
        arr = arr.astype(np.float32)
    floor = 1.0 / math.sqrt(max(arr.size, 1)) if eps is None else eps
    std = max(float(arr.std()), floor)
    return _like(((arr - arr.mean()) / std).astype(arr.dtype), was_tensor)
