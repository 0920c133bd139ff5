"""SummaryWriter: event files that parse back (framing CRCs, protobuf fields, PNG images)."""
import io
import struct
import zlib

import numpy as np
import pytest

import narae as nr
from narae.train.tensorboard import SummaryWriter, crc32c, masked_crc32c, make_grid
from narae.train.png import encode_png

from tb_reader import events, crc32c_bitwise, masked


def test_crc32c_known_vectors():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA            # RFC 3720 B.4: 32 zero bytes
    assert crc32c(b"\xff" * 32) == 0x62A8AB43          # RFC 3720 B.4: 32 0xFF bytes
    data = bytes(range(256)) * 3
    assert crc32c(data) == crc32c_bitwise(data)
    assert masked_crc32c(data) == masked(data)


def test_scalars_histograms_and_images_parse_back(tmp_path):
    values = np.random.default_rng(0).standard_normal(1000)
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("neg_step", 2.0, -1)
        w.add_histogram("weights", nr.tensor(values.astype(np.float32)), 7, bins=20)
        w.add_image("img", np.linspace(0, 1, 2 * 3 * 4).reshape(2, 3, 4)[:1], 2)
        path = w.path
    evs = events(path)
    assert evs[0]["file_version"] == "brain.Event:2"
    scal = [(e["step"], v["tag"], v["simple_value"]) for e in evs for v in e.get("values", [])
            if "simple_value" in v]
    assert scal[:3] == [(0, "loss", 1.0), (1, "loss", 0.5), (2, "loss", pytest.approx(1 / 3))]
    assert scal[3][0] == 2 ** 64 - 1  # int64 -1 travels as a 10-byte two's-complement varint
    histo = [v["histo"] for e in evs for v in e.get("values", []) if "histo" in v][0]
    assert histo["num"] == 1000 and sum(histo["bucket"]) == 1000
    assert len(histo["bucket"]) == len(histo["bucket_limit"]) == 20
    v32 = values.astype(np.float32).astype(np.float64)
    assert histo["min"] == pytest.approx(v32.min()) and histo["max"] == pytest.approx(v32.max())
    assert histo["sum"] == pytest.approx(v32.sum()) and \
        histo["sum_squares"] == pytest.approx((v32 ** 2).sum())
    assert histo["bucket_limit"][-1] == pytest.approx(v32.max())
    image = [v["image"] for e in evs for v in e.get("values", []) if "image" in v][0]
    assert (image["height"], image["width"], image["colorspace"]) == (3, 4, 1)
    assert image["png"].startswith(b"\x89PNG\r\n\x1a\n")


def _decode_png(data):
    """Minimal PNG decoder for filter-0 images (what encode_png writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body)
        chunks.setdefault(kind, b"")
        chunks[kind] += body
        pos += 12 + n
    w, h, depth, ctype = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[ctype]
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + w * channels)
    assert (rows[:, 0] == 0).all()
    assert b"IEND" in chunks
    return rows[:, 1:].reshape(h, w, channels)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_encoder_round_trip(channels):
    img = np.random.default_rng(channels).integers(0, 256, (5, 7, channels), dtype=np.uint8)
    data = encode_png(img)
    np.testing.assert_array_equal(_decode_png(data), img)
    try:
        from PIL import Image
    except ImportError:
        return
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))).reshape(img.shape),
                                  img)


def test_png_encoder_float_and_errors():
    img = np.array([[0.0, 0.5, 1.0]])
    np.testing.assert_array_equal(_decode_png(encode_png(img))[..., 0], [[0, 128, 255]])
    with pytest.raises(ValueError, match=r"\(2, 2, 5\)"):
        encode_png(np.zeros((2, 2, 5)))


def test_make_grid_and_add_image_formats(tmp_path):
    grid = make_grid(np.ones((5, 1, 4, 4)), ncols=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 1)
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="dataformats"):
            w.add_image("x", np.zeros((4, 4)), 0)
        w.add_image("x", np.zeros((4, 5, 3)), 0, dataformats="HWC")
        path = w.path
    img = [v["image"] for e in events(path) for v in e.get("values", []) if "image" in v][0]
    assert (img["height"], img["width"], img["colorspace"]) == (4, 5, 3)


def test_real_tensorboard_reads_our_event_files(tmp_path):
    """The tensorboard package's own reader parses scalars, histograms and images we wrote."""
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    values = np.random.default_rng(1).standard_normal(500).astype(np.float32)
    with SummaryWriter(tmp_path) as w:
        for step in range(4):
            w.add_scalar("train/loss", 2.0 / (step + 1), step)
        w.add_histogram("layer/weight", nr.tensor(values), 3, bins=10)
        w.add_image("digits", np.linspace(0, 1, 3 * 5 * 6).reshape(3, 5, 6), 1)
    acc = ea_mod.EventAccumulator(str(tmp_path), size_guidance={"histograms": 0, "images": 0,
                                                                 "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert "train/loss" in tags["scalars"] and "layer/weight" in tags["histograms"]
    assert "digits" in tags["images"]
    scalars = acc.Scalars("train/loss")
    assert [s.step for s in scalars] == [0, 1, 2, 3]
    np.testing.assert_allclose([s.value for s in scalars], [2.0, 1.0, 2 / 3, 0.5], rtol=1e-6)
    histo = acc.Histograms("layer/weight")[0]
    assert histo.step == 3 and histo.histogram_value.num == 500
    assert histo.histogram_value.min == pytest.approx(float(values.min()))
    image = acc.Images("digits")[0]
    assert (image.width, image.height) == (6, 5) and image.step == 1
