"""safetensors: round trips, the byte layout of the spec, and rejection of corrupt files."""
import json
import os
import pickle
import struct

import numpy as np
import pytest

import narae as nr
from narae.io import safetensors as st
from narae.io import save_file, load_file, read_metadata, atomic_write

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
          np.uint8, np.bool_]
if nr._dtype.BF16 is not None:
    DTYPES.append(nr._dtype.BF16)  # narae.bfloat16 (ml_dtypes), stored as "BF16"
SHAPES = [(), (0,), (3, 0, 2), (5,), (2, 3), (2, 1, 4)]


def _array(dtype, shape, rng):
    a = rng.standard_normal(shape) * 50
    if dtype == np.bool_:
        return a > 0
    return a.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip_every_dtype_and_shape(tmp_path, dtype):
    rng = np.random.default_rng(0)
    arrays = {f"t{i}": _array(dtype, s, rng) for i, s in enumerate(SHAPES)}
    tensors = {k: nr.tensor(v) for k, v in arrays.items()}
    path = tmp_path / "x.safetensors"
    save_file(tensors, path, metadata={"note": "hi"})
    back = load_file(path)
    assert set(back) == set(arrays)
    for k, a in arrays.items():
        t = back[k]
        assert isinstance(t, nr.Tensor)
        assert t.shape == a.shape and t.numpy().dtype == a.dtype
        np.testing.assert_array_equal(t.numpy(), a)
    assert read_metadata(path) == {"note": "hi"}


def test_numpy_inputs_non_contiguous_and_big_endian(tmp_path):
    a = np.arange(24, dtype=np.float64).reshape(4, 6)[:, ::2]  # a strided view
    b = np.arange(5, dtype=">i4")                              # big-endian input
    path = tmp_path / "x.safetensors"
    save_file({"a": a, "b": b, "c": nr.randn(3, 4).t()}, path)
    arrays = st.load_file_arrays(path)
    np.testing.assert_array_equal(arrays["a"], a)
    np.testing.assert_array_equal(arrays["b"], b)
    assert arrays["b"].dtype == np.int32 and arrays["b"].dtype.isnative


def test_unsigned_wide_ints_read_as_arrays(tmp_path):
    path = tmp_path / "u.safetensors"
    arrays = {"u16": np.arange(3, dtype=np.uint16), "u32": np.arange(3, dtype=np.uint32),
              "u64": np.arange(3, dtype=np.uint64)}
    save_file(arrays, path)
    back = st.load_file_arrays(path)
    for k, v in arrays.items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == v.dtype


def test_header_layout_byte_by_byte(tmp_path):
    a = np.array([1.5, -2.0], dtype=np.float32)
    b = np.array(7, dtype=np.int64)
    c = np.array([True, False, True])
    path = tmp_path / "x.safetensors"
    save_file({"a": a, "b": b, "c": c}, path, metadata={"k": "v"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert raw[:8] == n.to_bytes(8, "little")
    header_bytes = raw[8:8 + n]
    assert header_bytes[:1] == b"{"
    assert (8 + n) % 8 == 0                         # data section starts 8-byte aligned
    assert header_bytes.rstrip(b" ") == header_bytes.strip()  # padding is trailing spaces
    header = json.loads(header_bytes.decode("utf-8"))
    assert header["__metadata__"] == {"k": "v"}
    assert header["a"] == {"dtype": "F32", "shape": [2], "data_offsets": header["a"]["data_offsets"]}
    assert header["b"]["dtype"] == "I64" and header["b"]["shape"] == []
    assert header["c"]["dtype"] == "BOOL" and header["c"]["shape"] == [3]
    data = raw[8 + n:]
    spans = sorted(tuple(header[k]["data_offsets"]) for k in "abc")
    assert spans[0][0] == 0 and spans[-1][1] == len(data)
    assert all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
    for k, arr in (("a", a), ("b", b), ("c", c)):
        begin, end = header[k]["data_offsets"]
        assert data[begin:end] == arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        # every tensor is aligned to its item size (largest items first)
        assert begin % arr.dtype.itemsize == 0


def _hand_made(header, data, pad=b""):
    text = json.dumps(header).encode() + pad
    return struct.pack("<Q", len(text)) + text + data


def test_reads_a_file_written_by_another_tool(tmp_path):
    # Written by hand from the spec: unsorted keys, no padding, a BF16 tensor.
    f32 = np.array([[1, 2], [3, 4]], dtype="<f4").tobytes()
    bf16 = (np.array([1.0, -2.5], dtype="<f4").view("<u4") >> 16).astype("<u2").tobytes()
    header = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [4, 20]},
              "h": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]},
              "__metadata__": {"format": "pt"}}
    path = tmp_path / "other.safetensors"
    path.write_bytes(_hand_made(header, bf16 + f32))
    t = load_file(path)
    np.testing.assert_array_equal(t["w"].numpy(), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(t["h"].numpy(), [1.0, -2.5])
    assert read_metadata(path) == {"format": "pt"}


def test_bytes_api_round_trip():
    data = st.save({"x": nr.arange(6).reshape(2, 3)})
    back = st.load(data)
    np.testing.assert_array_equal(back["x"].numpy(), np.arange(6).reshape(2, 3))


GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


@pytest.mark.parametrize("case", [
    "empty", "short", "huge_len", "len_past_end", "bad_utf8", "bad_json", "not_object",
    "no_brace", "unknown_dtype", "out_of_range", "overlap", "hole", "wrong_count",
    "bad_shape", "negative_shape", "extra_key", "trailing_bytes", "bad_metadata",
    "truncated_data", "duplicate_key", "nan_constant"])
def test_corrupt_files_raise_clear_value_error(tmp_path, case):
    data8 = np.zeros(2, "<f4").tobytes()
    if case == "empty":
        raw = b""
    elif case == "short":
        raw = b"\x05\x00\x00"
    elif case == "huge_len":
        raw = struct.pack("<Q", 2 ** 62) + b"{}"
    elif case == "len_past_end":
        raw = struct.pack("<Q", 500) + b"{}"
    elif case == "bad_utf8":
        raw = struct.pack("<Q", 4) + b"{\xff\xfe}"
    elif case == "bad_json":
        raw = struct.pack("<Q", 9) + b'{"a": [1,'
    elif case == "not_object":
        raw = _hand_made([1, 2], b"")
    elif case == "no_brace":
        raw = struct.pack("<Q", 2) + b"[]"
    elif case == "unknown_dtype":
        raw = _hand_made({"a": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}}, data8)
    elif case == "out_of_range":
        raw = _hand_made({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 800]}},
                         data8)
    elif case == "overlap":
        raw = _hand_made({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                          "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, data8)
    elif case == "hole":
        raw = _hand_made({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, data8)
    elif case == "wrong_count":
        raw = _hand_made({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, data8)
    elif case == "bad_shape":
        raw = _hand_made({"a": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}, data8)
    elif case == "negative_shape":
        raw = _hand_made({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, data8)
    elif case == "extra_key":
        raw = _hand_made({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8],
                                "py/object": "os.system"}}, data8)
    elif case == "trailing_bytes":
        raw = _hand_made(GOOD, data8 + b"\x00" * 8)
    elif case == "bad_metadata":
        raw = _hand_made({**GOOD, "__metadata__": {"k": 1}}, data8)
    elif case == "truncated_data":
        raw = _hand_made(GOOD, data8)[:-3]
    elif case == "duplicate_key":
        text = (b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                b'"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}')
        raw = struct.pack("<Q", len(text)) + text + data8
    elif case == "nan_constant":
        text = b'{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,8]}}'
        raw = struct.pack("<Q", len(text)) + text + data8
    path = tmp_path / f"{case}.safetensors"
    path.write_bytes(raw)
    with pytest.raises(ValueError) as info:
        load_file(path)
    assert str(path) in str(info.value)  # the message names the file


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_file_is_rejected_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(_Exploit(str(marker))))
    with pytest.raises(ValueError):
        load_file(path)
    assert not marker.exists()


def test_atomic_save_keeps_old_file_when_writing_raises(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    save_file({"w": np.ones(4, np.float32)}, path)
    before = path.read_bytes()

    def broken_write(f, header, arrays):
        f.write(b"\x00" * 100)  # half a file...
        raise OSError("disk full")

    monkeypatch.setattr(st, "_write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        save_file({"w": np.zeros(4, np.float32)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.safetensors"]  # no temporary file left behind
    np.testing.assert_array_equal(load_file(path)["w"].numpy(), np.ones(4))


def test_atomic_write_replaces_only_on_success(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(path, "w") as f:
            f.write("new")
            raise RuntimeError("boom")
    assert path.read_text() == "old"
    with atomic_write(path, "w") as f:
        f.write("new")
    assert path.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_save_file_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError, match="names must be str"):
        save_file({1: np.zeros(2)}, tmp_path / "x")
    with pytest.raises(ValueError, match="reserved"):
        save_file({"__metadata__": np.zeros(2)}, tmp_path / "x")
    with pytest.raises(TypeError, match="complex128"):
        save_file({"c": np.zeros(2, complex)}, tmp_path / "x")
    with pytest.raises(TypeError, match="metadata"):
        save_file({"a": np.zeros(2)}, tmp_path / "x", metadata={"a": 1})
    assert not os.listdir(tmp_path)


def test_the_safetensors_package_reads_ours_and_we_read_its(tmp_path):
    """Interoperability with the reference implementation, both directions."""
    ref = pytest.importorskip("safetensors.numpy")
    arrays = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "i": np.array([1, -2, 3]),
              "b": np.array([True, False]), "h": np.ones((2, 2), np.float16),
              "scalar": np.array(2.5)}
    ours = tmp_path / "ours.safetensors"
    save_file({k: nr.from_numpy(v) for k, v in arrays.items()}, ours, metadata={"epoch": "3"})
    back = ref.load_file(str(ours))
    for k, v in arrays.items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == v.dtype
    theirs = tmp_path / "theirs.safetensors"
    ref.save_file(arrays, str(theirs), metadata={"note": "x"})
    loaded = load_file(theirs)
    for k, v in arrays.items():
        np.testing.assert_array_equal(loaded[k].numpy(), v)
