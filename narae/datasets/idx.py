"""Reading IDX files (the MNIST file format), plain or gzipped, with strict validation.

Layout: two zero bytes, a type code byte, a byte giving the number of dimensions ``d``; then
``d`` big-endian uint32 sizes; then the values, big-endian, in C order. A file must hold
exactly the bytes its header announces, otherwise it is reported as corrupt.
"""
import gzip
import zlib

import numpy as np

__all__ = ["read_idx", "write_idx", "IDX_TYPES"]

# type code -> big-endian NumPy dtype
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip magic: decide by content, not by file name
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt gzip data ({exc})") from None
    return raw


def read_idx(path, ndim=None):
    """The array stored in IDX file ``path`` (native byte order); ``ndim`` checks its rank."""
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated IDX file: {len(raw)} bytes, shorter than the "
                         f"4-byte magic number")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path}: bad magic number 0x{raw[:4].hex()}: not an IDX file "
                         f"(expected 0x0000 then a type code in "
                         f"{sorted(hex(c) for c in IDX_TYPES)} and a rank byte)")
    code, rank = raw[2], raw[3]
    if ndim is not None and rank != ndim:
        raise ValueError(f"{path}: IDX file has {rank} dimension(s), expected {ndim} "
                         f"(magic number 0x{raw[:4].hex()}); is it the wrong file?")
    header = 4 + 4 * rank
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header: {rank} dimensions need {header} "
                         f"bytes, the file has {len(raw)}")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=rank, offset=4))
    dtype = np.dtype(IDX_TYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "too long"
        raise ValueError(f"{path}: {what} IDX data: shape {shape} of {dtype.name} needs "
                         f"{expected} bytes after the header, found {found}")
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file (gzipped when ``compress`` or ``path`` ends in .gz)."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX type code")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + array.astype(IDX_TYPES[code]).tobytes()
    if compress or (compress is None and str(path).endswith(".gz")):
        payload = gzip.compress(payload)
    with open(path, "wb") as f:
        f.write(payload)
