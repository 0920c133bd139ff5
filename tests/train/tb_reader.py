"""A small, independent TensorBoard event-file reader for the tests.

It re-implements CRC-32C bit by bit (no table, unlike the writer), checks both masked CRCs
of every TFRecord, and decodes the protobuf wire format generically.
"""
import struct


def crc32c_bitwise(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c_bitwise(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    raw = open(path, "rb").read()
    pos, out = 0, []
    while pos < len(raw):
        header = raw[pos:pos + 8]
        (n,) = struct.unpack("<Q", header)
        (len_crc,) = struct.unpack("<I", raw[pos + 8:pos + 12])
        assert len_crc == masked(header), "length CRC mismatch"
        data = raw[pos + 12:pos + 12 + n]
        (data_crc,) = struct.unpack("<I", raw[pos + 12 + n:pos + 16 + n])
        assert data_crc == masked(data), "data CRC mismatch"
        out.append(data)
        pos += 16 + n
    assert pos == len(raw)
    return out


def _varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def parse(buf):
    """{field number: [raw values]}: ints for varints, bytes for length-delimited and fixed."""
    fields, pos = {}, 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        fields.setdefault(field, []).append(value)
    return fields


def events(path):
    """Decoded events: dicts with wall_time, step, file_version or values."""
    out = []
    for rec in read_records(path):
        f = parse(rec)
        ev = {"wall_time": struct.unpack("<d", f[1][0])[0], "step": f.get(2, [0])[0]}
        if 3 in f:
            ev["file_version"] = f[3][0].decode()
        if 5 in f:
            values = []
            for v in parse(f[5][0]).get(1, []):
                vf = parse(v)
                item = {"tag": vf[1][0].decode()}
                if 2 in vf:
                    item["simple_value"] = struct.unpack("<f", vf[2][0])[0]
                if 4 in vf:
                    img = parse(vf[4][0])
                    item["image"] = {"height": img[1][0], "width": img[2][0],
                                     "colorspace": img[3][0], "png": img[4][0]}
                if 5 in vf:
                    h = parse(vf[5][0])
                    d = {name: struct.unpack("<d", h[i][0])[0] for i, name in
                         enumerate(["min", "max", "num", "sum", "sum_squares"], 1)}
                    d["bucket_limit"] = list(struct.unpack(f"<{len(h[6][0]) // 8}d", h[6][0]))
                    d["bucket"] = list(struct.unpack(f"<{len(h[7][0]) // 8}d", h[7][0]))
                    item["histo"] = d
                values.append(item)
            ev["values"] = values
        out.append(ev)
    return out


def scalars(log_dir):
    """{tag: [(step, value)]} over every event file under ``log_dir``."""
    import glob
    import os
    out = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "**", "*tfevents*"), recursive=True)):
        for ev in events(path):
            for v in ev.get("values", []):
                if "simple_value" in v:
                    out.setdefault(v["tag"], []).append((ev["step"], v["simple_value"]))
    return out
