"""narae.plotting: grids are tiled correctly and every writer produces a valid PNG."""
import struct
import sys
import zlib

import numpy as np
import pytest

import narae as nr
from narae import plotting


def _read_png(path):
    """(width, height, colour type, pixel rows) of an 8-bit PNG; checks every chunk's CRC."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.setdefault(kind, b"")
        chunks[kind] += body
        pos += 12 + n
    assert b"IEND" in chunks
    w, h, depth, ctype = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    return w, h, ctype, zlib.decompress(chunks[b"IDAT"])


def test_make_grid_layout():
    imgs = np.zeros((5, 1, 2, 3))
    imgs[3] = 1.0
    g = plotting.make_grid(imgs, nrow=3, padding=1, pad_value=0.5)
    assert g.shape == (2 * 3 + 1, 3 * 4 + 1)
    assert g[0, 0] == 0.5
    np.testing.assert_array_equal(g[4:6, 1:4], 1.0)   # image 3: second row, first column
    flat = plotting.make_grid(nr.rand(4, 64), nrow=2, padding=0)
    assert flat.shape == (16, 16)
    rgb = plotting.make_grid(np.random.rand(2, 3, 4, 4), nrow=2)
    assert rgb.shape == (6, 11, 3)


def test_make_grid_value_range_and_per_image():
    g = plotting.make_grid(np.full((1, 1, 2, 2), -1.0), padding=0, value_range=(-1, 1))
    np.testing.assert_array_equal(g, 0.0)
    w = np.stack([np.arange(4.0).reshape(1, 2, 2), 10 * np.arange(4.0).reshape(1, 2, 2)])
    g = plotting.make_grid(w, padding=0, per_image=True)
    np.testing.assert_allclose(g[:, :2], g[:, 2:])


def test_make_grid_bad_shapes():
    with pytest.raises(ValueError, match="image_shape"):
        plotting.make_grid(np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"\(2, 5, 4, 4\)"):
        plotting.make_grid(np.zeros((2, 5, 4, 4)))


def test_save_image_writes_a_valid_png(tmp_path):
    path = plotting.save_image(nr.rand(6, 1, 8, 8), tmp_path / "sub" / "grid.png", nrow=3,
                               scale=2)
    w, h, ctype, raw = _read_png(path)
    assert (w, h, ctype) == ((3 * 9 + 1) * 2, (2 * 9 + 1) * 2, 0)
    assert len(raw) == h * (w + 1)


@pytest.fixture
def mpl():
    pytest.importorskip("matplotlib")


def test_plot_functions_write_pngs(tmp_path, mpl):
    x = nr.rand(12, 64)
    paths = [plotting.plot_images(x, tmp_path / "a.png", title="digits"),
             plotting.plot_filters(nr.randn(64, 10).T, tmp_path / "b.png"),
             plotting.plot_filters(nr.randn(4, 2, 3, 3), tmp_path / "b2.png"),
             plotting.plot_reconstructions(x, x * 0.5, tmp_path / "c.png", corrupted=x * 0.1),
             plotting.plot_samples(2 * x - 1, tmp_path / "d.png", value_range=(-1, 1))]
    for p in paths:
        w, h, _, _ = _read_png(p)
        assert w > 50 and h > 50


def test_missing_matplotlib_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plotting.plot_images(nr.rand(4, 64), tmp_path / "x.png")
    plotting.save_image(nr.rand(4, 64), tmp_path / "ok.png")   # needs no matplotlib
