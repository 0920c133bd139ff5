"""TensorBoard event files written by hand: TFRecord framing around ``Event`` protobufs.

No TensorFlow or protobuf package is needed. An event file is a sequence of records::

    uint64 length | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)

(little-endian), where ``data`` is a serialized ``tensorflow.Event``. The first event holds
``file_version = "brain.Event:2"``; the rest hold a ``Summary`` with scalar, histogram or
image values. Field numbers used (from tensorflow/core/util/event.proto and summary.proto):

    Event:          wall_time=1 (double), step=2 (int64), file_version=3 (string), summary=5
    Summary:        value=1 (repeated Summary.Value)
    Summary.Value:  tag=1, simple_value=2 (float), image=4, histo=5
    Summary.Image:  height=1, width=2, colorspace=3, encoded_image_string=4
    HistogramProto: min=1, max=2, num=3, sum=4, sum_squares=5 (doubles),
                    bucket_limit=6, bucket=7 (packed repeated doubles)

    w = SummaryWriter("runs/exp1")
    w.add_scalar("loss", 0.5, step=1)
    w.close()
"""
import itertools
import os
import socket
import struct
import time

import numpy as np

from .png import encode_png

__all__ = ["SummaryWriter", "crc32c", "masked_crc32c", "encode_record", "make_grid"]


# -- CRC-32C (Castagnoli), reflected polynomial 0x82F63B78 ---------------------------------
def _make_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _make_table()


def crc32c(data, crc=0):
    """CRC-32C of ``data`` (continuing from ``crc``); crc32c(b"123456789") == 0xE3069283."""
    table = _TABLE
    c = crc ^ 0xFFFFFFFF
    for b in bytes(data):
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data):
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant (mod 2**32)."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def encode_record(data):
    """One TFRecord: length, its masked CRC, the payload, the payload's masked CRC."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", masked_crc32c(length)) + data +
            struct.pack("<I", masked_crc32c(data)))


# -- protobuf wire format ------------------------------------------------------------------
def _varint(n):
    n &= (1 << 64) - 1  # negative int64 values are sent as their two's complement
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field, wire_type):
    return _varint(field << 3 | wire_type)


def _f_varint(field, value):
    return _key(field, 0) + _varint(int(value))


def _f_double(field, value):
    return _key(field, 1) + struct.pack("<d", float(value))


def _f_float(field, value):
    return _key(field, 5) + struct.pack("<f", float(value))


def _f_bytes(field, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _key(field, 2) + _varint(len(data)) + data


def _f_packed_doubles(field, values):
    return _f_bytes(field, np.asarray(values, dtype="<f8").tobytes())


def _event(step, wall_time, file_version=None, summary=None):
    msg = _f_double(1, wall_time)
    if step:
        msg += _f_varint(2, step)
    if file_version is not None:
        msg += _f_bytes(3, file_version)
    if summary is not None:
        msg += _f_bytes(5, summary)
    return msg


def _summary(*values):
    return b"".join(_f_bytes(1, v) for v in values)


def scalar_value(tag, value):
    return _f_bytes(1, tag) + _f_float(2, value)


def histogram_value(tag, values, bins=30):
    """Summary.Value with a HistogramProto of ``values`` (non-finite values are dropped)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        lo = hi = 0.0
        counts, limits = np.zeros(0), np.zeros(0)
    else:
        lo, hi = float(v.min()), float(v.max())
        counts, edges = np.histogram(v, bins=bins if hi > lo else 1,
                                     range=(lo, hi) if hi > lo else (lo - 0.5, hi + 0.5))
        limits = edges[1:]  # bucket i counts values in (limit[i-1], limit[i]]
    histo = (_f_double(1, lo) + _f_double(2, hi) + _f_double(3, v.size) +
             _f_double(4, v.sum()) + _f_double(5, (v * v).sum()) +
             _f_packed_doubles(6, limits) + _f_packed_doubles(7, counts))
    return _f_bytes(1, tag) + _f_bytes(5, histo)


def image_value(tag, image):
    """Summary.Value with a PNG-encoded Summary.Image; ``image`` is (H, W) or (H, W, C)."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, c = a.shape
    img = (_f_varint(1, h) + _f_varint(2, w) + _f_varint(3, c) +
           _f_bytes(4, encode_png(a)))
    return _f_bytes(1, tag) + _f_bytes(4, img)


def _to_numpy(x):
    from ..tensor import Tensor
    return np.asarray(x.detach() if isinstance(x, Tensor) else x)


_counter = itertools.count()


class SummaryWriter:
    """Write scalars, histograms and images for TensorBoard (torch's SummaryWriter names).

    Events are buffered and flushed every ``flush_secs`` seconds, on ``flush()`` and on
    ``close()``; ``tensorboard --logdir <log_dir>`` shows them.
    """

    def __init__(self, log_dir="runs", flush_secs=10, filename_suffix=""):
        self.log_dir = os.fspath(log_dir)
        os.makedirs(self.log_dir, exist_ok=True)
        name = (f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}."
                f"{os.getpid()}.{next(_counter)}{filename_suffix}")
        self.path = os.path.join(self.log_dir, name)
        self._file = open(self.path, "wb")
        self.flush_secs = flush_secs
        self._last_flush = time.monotonic()
        self._write(_event(0, time.time(), file_version="brain.Event:2"))
        self.flush()

    def _write(self, event):
        if self._file is None:
            raise RuntimeError(f"SummaryWriter for {self.log_dir!r} is closed")
        self._file.write(encode_record(event))
        if time.monotonic() - self._last_flush > self.flush_secs:
            self.flush()

    def _add(self, value, step, walltime):
        step = 0 if step is None else int(step)
        self._write(_event(step, time.time() if walltime is None else walltime,
                           summary=_summary(value)))

    def add_scalar(self, tag, scalar_value_, global_step=None, walltime=None):
        self._add(scalar_value(tag, float(_to_numpy(scalar_value_))), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        for tag, v in tag_scalar_dict.items():
            self.add_scalar(f"{main_tag}/{tag}", v, global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins=30, walltime=None):
        if not isinstance(bins, int):
            bins = 30
        self._add(histogram_value(tag, _to_numpy(values), bins), global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """``img_tensor`` in ``dataformats`` layout ("CHW", "HWC" or "HW"); floats in [0, 1]."""
        a = _to_numpy(img_tensor)
        fmt = dataformats.upper()
        if fmt not in ("CHW", "HWC", "HW") or a.ndim != len(fmt):
            raise ValueError(f"add_image: image of shape {a.shape} does not match "
                             f"dataformats={dataformats!r}")
        if fmt == "CHW":
            a = np.moveaxis(a, 0, -1)
        self._add(image_value(tag, a), global_step, walltime)

    def flush(self):
        if self._file is not None:
            self._file.flush()
            self._last_flush = time.monotonic()

    def close(self):
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_grid(images, ncols=8, pad=1):
    """Tile ``(N, H, W)`` or ``(N, C, H, W)`` images into one ``(H', W', C)`` float image.

    Values are rescaled to [0, 1] when they fall outside it (e.g. normalized inputs).
    """
    a = _to_numpy(images).astype(np.float64)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[1] not in (1, 3, 4):
        raise ValueError(f"make_grid: expected images of shape (N, H, W) or (N, C, H, W) "
                         f"with C in (1, 3, 4), got {a.shape}")
    lo, hi = a.min(initial=0.0), a.max(initial=1.0)
    if lo < 0 or hi > 1:
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    n, c, h, w = a.shape
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    grid = np.zeros((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c))
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = np.moveaxis(a[i], 0, -1)
    return grid
