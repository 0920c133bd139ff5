"""A minimal PNG encoder (8-bit gray, gray+alpha, RGB or RGBA), using only zlib.

TensorBoard's image summaries carry PNG bytes; this spares a Pillow dependency.
A PNG is the 8-byte signature then chunks ``length | type | data | crc32(type+data)``:
IHDR (size and pixel format), IDAT (zlib stream of rows, each prefixed by a filter byte;
we use filter 0, "none") and IEND.

    open("x.png", "wb").write(encode_png(np.zeros((8, 8, 3), np.uint8)))
"""
import struct
import zlib

import numpy as np

from .._dtype import is_floating

__all__ = ["encode_png", "to_uint8"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def _chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def to_uint8(image):
    """Floats are taken as [0, 1] and scaled to [0, 255]; integers are clipped to [0, 255]."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a
    if is_floating(a.dtype):
        a = np.nan_to_num(a.astype(np.float64), nan=0.0) * 255.0
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if a.dtype.kind == "b":
        return a.astype(np.uint8) * 255
    return np.clip(a, 0, 255).astype(np.uint8)


def encode_png(image, compress_level=6):
    """PNG bytes for an ``(H, W)`` or ``(H, W, C)`` image with C in 1..4."""
    a = to_uint8(image)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in _COLOR_TYPE:
        raise ValueError(f"encode_png: expected an image of shape (H, W) or (H, W, C) with C "
                         f"in 1..4, got {a.shape}")
    h, w, c = a.shape
    if h == 0 or w == 0:
        raise ValueError(f"encode_png: image of shape {a.shape} is empty")
    rows = np.concatenate([np.zeros((h, 1), np.uint8),
                           np.ascontiguousarray(a).reshape(h, w * c)], axis=1)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPE[c], 0, 0, 0)
    return (_SIGNATURE + _chunk(b"IHDR", ihdr) +
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), compress_level)) +
            _chunk(b"IEND", b""))
