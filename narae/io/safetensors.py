"""The safetensors format, read and written from its specification (no pickle, nothing runs).

Layout of a file::

    8 bytes     N, the header length, unsigned 64-bit little-endian
    N bytes     a UTF-8 JSON object: {"__metadata__": {str: str},
                                      name: {"dtype": "F32", "shape": [2, 3],
                                             "data_offsets": [begin, end]}, ...}
                padded with spaces so that the data starts 8-byte aligned
    rest        the tensors' raw little-endian bytes, C order; offsets are relative to
                the start of this section, cover it exactly, with no overlap and no hole

Loading only parses JSON and copies bytes, so an untrusted file can at worst fail with a
``ValueError`` naming the file and the problem; it can never execute code.

    save_file({"w": nr.randn(2, 3)}, "w.safetensors", metadata={"step": "10"})
    tensors = load_file("w.safetensors")
"""
import json
import os
import struct

import numpy as np

from .._dtype import BF16
from .atomic import atomic_write

__all__ = ["save_file", "load_file", "save", "load", "load_file_arrays", "read_file",
           "load_file_with_metadata", "read_metadata", "read_header", "DTYPES"]

# safetensors dtype name -> NumPy dtype (little-endian). BF16 is ml_dtypes.bfloat16
# (narae.bfloat16) when that package is installed; without it BF16 is read as float32 (its
# bits are the top half of a float32) and cannot be written.
DTYPES = {
    "BOOL": np.dtype("?"), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"), "U16": np.dtype("<u2"), "F16": np.dtype("<f2"),
    "I32": np.dtype("<i4"), "U32": np.dtype("<u4"), "F32": np.dtype("<f4"),
    "I64": np.dtype("<i8"), "U64": np.dtype("<u8"), "F64": np.dtype("<f8"),
    "C64": np.dtype("<c8"),  # (complex64: real, imaginary float32 pairs; safetensors >= 0.6)
}
# safetensors has no complex128, and ``save_file`` refuses it as the reference package does.
# ``narae.save`` (io/state.py) stores such a tensor as F64 of shape (*shape, 2) holding
# (real, imaginary) pairs, its name listed (JSON) under this metadata key; reading undoes it.
COMPLEX128_KEY = "narae.complex128"
if BF16 is not None:
    DTYPES["BF16"] = BF16  # (stored as little-endian uint16 bit patterns, as on x86/ARM)
_ITEMSIZE = {name: dt.itemsize for name, dt in DTYPES.items()}
_ITEMSIZE.update({"BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1})
_BY_NUMPY = {dt.newbyteorder("="): name for name, dt in DTYPES.items()}

_LITTLE = np.little_endian
MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's bound; guards against bombs
_ALIGN = 8


def _where(path):
    return f"safetensors file {os.fspath(path)!r}" if path is not None else "safetensors data"


# -- writing ------------------------------------------------------------------------------
def _as_numpy(value, name, complex128_pairs=False):
    from ..tensor import Tensor
    if isinstance(value, Tensor):
        value = np.asarray(value)  # __array__ copies GPU data to the host
    elif isinstance(value, np.generic):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise TypeError(f"save_file: tensor {name!r} must be a narae Tensor or a NumPy array, "
                        f"got {type(value).__name__}")
    native = value.dtype.newbyteorder("=")
    if native == np.complex128 and complex128_pairs:  # (real, imag) pairs: COMPLEX128_KEY
        pairs = np.stack((value.real, value.imag), axis=-1).astype("<f8")
        return pairs, "C128"
    if native not in _BY_NUMPY:
        raise TypeError(f"save_file: tensor {name!r} has dtype {value.dtype}, which "
                        f"safetensors cannot store (known: {sorted(DTYPES)})")
    # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
    value = value.astype(value.dtype.newbyteorder("<"), order="C", copy=False)
    if value.dtype.byteorder == "=" and not _LITTLE:  # bfloat16 has no byte-order variant
        value = value.view(np.uint16).byteswap().view(value.dtype)
    return value, _BY_NUMPY[native]


def _check_metadata(metadata):
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("save_file: metadata must be a dict of str -> str")
    return dict(metadata)


def _layout(tensors, metadata, complex128_pairs=False):
    """(header bytes padded to alignment, [arrays in file order])."""
    if not isinstance(tensors, dict):
        raise TypeError(f"save_file: expected a dict of name -> tensor, got "
                        f"{type(tensors).__name__}")
    arrays = {}
    complex128 = []
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"save_file: tensor names must be str, got {name!r}")
        if name == "__metadata__":
            raise ValueError("save_file: '__metadata__' is reserved and cannot name a tensor")
        arrays[name] = _as_numpy(value, name, complex128_pairs)
        if arrays[name][1] == "C128":
            complex128.append(name)
    # Largest items first keeps every tensor aligned to its item size (the reference order).
    order = sorted(arrays, key=lambda n: (-arrays[n][0].dtype.itemsize, n))
    header = {}
    metadata = _check_metadata(metadata)
    if complex128:
        metadata = dict(metadata or {})
        metadata[COMPLEX128_KEY] = json.dumps(complex128)
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name in order:
        arr, dtype_name = arrays[name]
        header[name] = {"dtype": "F64" if dtype_name == "C128" else dtype_name,
                        "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-(8 + len(text)) % _ALIGN)
    return text, [arrays[n][0] for n in order]


def _write(f, header, arrays):
    f.write(struct.pack("<Q", len(header)))
    f.write(header)
    for arr in arrays:
        if arr.size:
            f.write(arr.reshape(-1).view(np.uint8))


def save_file(tensors, path, metadata=None, *, complex128_pairs=False):
    """Write ``{name: Tensor or ndarray}`` to ``path`` atomically (old file kept on failure).

    complex128 has no safetensors dtype: with ``complex128_pairs`` such tensors are written
    as float64 (real, imag) pairs noted in the metadata (``load_file`` restores them),
    otherwise they are refused like the reference implementation does."""
    header, arrays = _layout(tensors, metadata, complex128_pairs)
    with atomic_write(path, "wb") as f:
        _write(f, header, arrays)


def save(tensors, metadata=None, *, complex128_pairs=False):
    """The bytes of a safetensors file holding ``tensors`` (like ``safetensors.numpy.save``)."""
    import io
    header, arrays = _layout(tensors, metadata, complex128_pairs)
    buf = io.BytesIO()
    _write(buf, header, arrays)
    return buf.getvalue()


# -- reading ------------------------------------------------------------------------------
def _reject_constant(token):
    raise ValueError(f"non-standard JSON constant {token}")


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _parse_header(raw, data_len, where):
    """Validate the JSON header; return (metadata, [(name, dtype, shape, begin, end)])."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: header is not valid UTF-8 ({e})") from None
    if not text.startswith("{"):
        raise ValueError(f"{where}: header does not start with '{{' (not a safetensors file?)")
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates,
                            parse_constant=_reject_constant)
    except ValueError as e:
        raise ValueError(f"{where}: header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{where}: header must be a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(v, str) for v in metadata.values())):
        raise ValueError(f"{where}: __metadata__ must be an object of string values")
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{where}: tensor {name!r} must have exactly the keys dtype, "
                             f"shape and data_offsets, got {info!r}")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _ITEMSIZE:
            raise ValueError(f"{where}: tensor {name!r} has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(
                type(d) is int and d >= 0 for d in shape):
            raise ValueError(f"{where}: tensor {name!r} has invalid shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and
                all(type(o) is int for o in offsets)):
            raise ValueError(f"{where}: tensor {name!r} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise ValueError(f"{where}: tensor {name!r} has data_offsets {offsets} outside "
                             f"the data section of {data_len} bytes (file truncated?)")
        expected = int(np.prod(shape, dtype=object)) * _ITEMSIZE[dtype]
        if end - begin != expected:
            raise ValueError(f"{where}: tensor {name!r} of dtype {dtype} and shape {shape} "
                             f"needs {expected} bytes but data_offsets span {end - begin}")
        entries.append((name, dtype, tuple(shape), begin, end))
    position = 0
    for name, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin < position:
            raise ValueError(f"{where}: tensor {name!r} overlaps the previous tensor "
                             f"(starts at byte {begin}, previous ends at {position})")
        if begin > position:
            raise ValueError(f"{where}: hole in the data section between bytes {position} "
                             f"and {begin}")
        position = end
    if position != data_len:
        raise ValueError(f"{where}: the data section has {data_len} bytes but the tensors "
                         f"cover {position}")
    return metadata, entries


def _read_raw(path):
    """(header bytes, data bytearray) after checking the length prefix against the file."""
    where = _where(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise ValueError(f"{where}: file of {size} bytes is too short to hold the 8-byte "
                             "header length (truncated?)")
        (n,) = struct.unpack("<Q", f.read(8))
        if n > MAX_HEADER:
            raise ValueError(f"{where}: header length {n} exceeds the limit of "
                             f"{MAX_HEADER} bytes (corrupt file?)")
        if n < 2 or 8 + n > size:
            raise ValueError(f"{where}: header length {n} does not fit a file of {size} "
                             "bytes (truncated or corrupt)")
        raw = f.read(n)
        data = bytearray(size - 8 - n)
        if f.readinto(data) != len(data):
            raise ValueError(f"{where}: file changed size while being read")
    return raw, data


def _bf16_to_f32(buf):
    bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32)


def _bf16(buf):
    """BF16 bytes as a bfloat16 array (its little-endian bits, in native order)."""
    return np.frombuffer(buf, dtype="<u2").astype(np.uint16).view(BF16)


def _arrays(data, entries, where):
    out = {}
    for name, dtype, shape, begin, end in entries:
        if dtype == "BF16":
            buf = memoryview(data)[begin:end]
            arr = (_bf16(buf) if BF16 is not None else _bf16_to_f32(buf)).reshape(shape)
        elif dtype not in DTYPES:
            raise ValueError(f"{where}: tensor {name!r} has dtype {dtype}, which narae "
                             "cannot represent")
        else:
            dt = DTYPES[dtype]
            arr = np.frombuffer(data, dtype=dt, count=(end - begin) // dt.itemsize,
                                offset=begin).reshape(shape)
            if not arr.dtype.isnative or not arr.flags.aligned:
                arr = arr.astype(dt.newbyteorder("="))
        out[name] = arr
    return out


def read_file(path):
    """(metadata dict, ``{name: ndarray}``) from one validated read of a safetensors file."""
    where = _where(path)
    raw, data = _read_raw(path)
    metadata, entries = _parse_header(raw, len(data), where)
    return _restore_complex128(metadata or {}, _arrays(data, entries, where), where)


def _restore_complex128(metadata, arrays, where):
    """Turn the (real, imag) float64 pairs saved for complex128 tensors back into complex,
    and drop the note from the metadata."""
    names = metadata.get(COMPLEX128_KEY)
    if names is None:
        return metadata, arrays
    metadata = {k: v for k, v in metadata.items() if k != COMPLEX128_KEY}
    try:
        names = json.loads(names)
    except ValueError:
        raise ValueError(f"{where}: metadata {COMPLEX128_KEY!r} is not a JSON list") from None
    for name in names:
        arr = arrays.get(name)
        if arr is None or arr.dtype != np.float64 or arr.ndim == 0 or arr.shape[-1] != 2:
            raise ValueError(f"{where}: tensor {name!r} is listed as complex128 but is not a "
                             "float64 array of (real, imag) pairs")
        arrays[name] = arr[..., 0] + 1j * arr[..., 1]
    return metadata, arrays


def load_file_arrays(path):
    """``{name: ndarray}`` from a safetensors file (all dtypes, validated)."""
    return read_file(path)[1]


def _to_tensors(arrays, device, where):
    from .. import _dtype
    from ..tensor import Tensor
    from ..backend import as_device, to_device
    device = as_device(device)
    out = {}
    for name, arr in arrays.items():
        try:
            _dtype.from_numpy_dtype(arr.dtype)
        except TypeError:
            raise ValueError(f"{where}: tensor {name!r} has dtype {arr.dtype}, which narae "
                             "tensors do not support") from None
        if device.type != "cpu":
            arr = to_device(arr, device)
        out[name] = Tensor(arr)
    return out


def load_file(path, device="cpu"):
    """``{name: Tensor}`` from a safetensors file, validated; tensors placed on ``device``."""
    return _to_tensors(read_file(path)[1], device, _where(path))


def load_file_with_metadata(path, device="cpu"):
    """(metadata, ``{name: Tensor}``) from a single read of the file."""
    metadata, arrays = read_file(path)
    return metadata, _to_tensors(arrays, device, _where(path))


def load(data, device="cpu"):
    """``{name: Tensor}`` from the bytes of a safetensors file (see ``save``)."""
    data = bytes(data)
    if len(data) < 8:
        raise ValueError("safetensors data: too short to hold the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n < 2 or n > MAX_HEADER or 8 + n > len(data):
        raise ValueError(f"safetensors data: header length {n} does not fit {len(data)} bytes")
    body = bytearray(data[8 + n:])
    metadata, entries = _parse_header(data[8:8 + n], len(body), "safetensors data")
    _, arrays = _restore_complex128(metadata or {}, _arrays(body, entries, "safetensors data"),
                                    "safetensors data")
    return _to_tensors(arrays, device, "safetensors data")


def read_header(path):
    """(metadata dict or None, {name: (dtype, shape)}) without reading the tensor data."""
    where = _where(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise ValueError(f"{where}: file of {size} bytes is too short (truncated?)")
        (n,) = struct.unpack("<Q", f.read(8))
        if n < 2 or n > MAX_HEADER or 8 + n > size:
            raise ValueError(f"{where}: header length {n} does not fit a file of {size} bytes")
        raw = f.read(n)
    metadata, entries = _parse_header(raw, size - 8 - n, where)
    return metadata, {name: (dtype, shape) for name, dtype, shape, _, _ in entries}


def read_metadata(path):
    """The ``__metadata__`` string map of a safetensors file (``{}`` if it has none)."""
    return read_header(path)[0] or {}
