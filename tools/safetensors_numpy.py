#!/usr/bin/python3
"""Independent safetensors reader/writer (struct + json + numpy; the safetensors package is not
available) to check ionhop's model files both ways.

    /usr/bin/python3 tools/safetensors_numpy.py write tests/fixtures/numpy_written.safetensors
        writes the fixture that tests/test_modelfile.c reads and checks value by value;
    /usr/bin/python3 tools/safetensors_numpy.py check FILE
        reads a file written by ionhop (tools/st_write_example.c writes the same tensors) and
        checks every value against expected_tensors().

Layout: u64 little-endian header length N, N bytes of JSON header (tensor name -> dtype, shape,
data_offsets; "__metadata__" -> string map) padded with spaces, then raw little-endian data.
"""
import json
import struct
import sys

import numpy as np


def expected_tensors():
    """The tensors both writers produce; keep in sync with tools/st_write_example.c."""
    return {
        "embed.weight": (np.arange(6, dtype=np.float32) * np.float32(0.5) - np.float32(1)).reshape(2, 3),
        "layers.0.bn.running_mean": np.array([1e-30, -0.0, 3.4e38, -2.5], dtype=np.float32),
        "scale": np.array(np.float32(np.pi)),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "w\u00e9ird \"name\"": np.array([[7.0]], dtype=np.float32),
    }


EXPECTED_META = {"format": "ionhop-model",
                 "ionhop": json.dumps({"config": {"hidden": 256, "tasks": ["em"]}, "note": "a\nb"})}


def write(path):
    tensors = expected_tensors()
    # a different layout choice from ionhop's writer: data in reverse name order, metadata last,
    # spaces after separators
    header, blobs, off = {}, [], 0
    for name in sorted(tensors, reverse=True):
        a = np.asarray(tensors[name], dtype="<f4", order="C")  # ascontiguousarray would make 0-d 1-d
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = EXPECTED_META
    h = json.dumps(header, ensure_ascii=False).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert 8 + n <= len(raw), "header length beyond the file"
    assert (8 + n) % 8 == 0, "data not 8-byte aligned"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out, spans = {}, []
    for name, e in header.items():
        assert e["dtype"] == "F32", e
        b0, b1 = e["data_offsets"]
        spans.append((b0, b1))
        out[name] = np.frombuffer(data[b0:b1], dtype="<f4").reshape(tuple(e["shape"]))
    spans.sort()
    pos = 0
    for b0, b1 in spans:
        assert b0 == pos, "gap or overlap in the data section"
        pos = b1
    assert pos == len(data), "data section length"
    return out, meta


def check(path):
    got, meta = read(path)
    want = expected_tensors()
    assert set(got) == set(want), (sorted(got), sorted(want))
    for name, a in want.items():
        g = got[name]
        assert g.shape == a.shape, (name, g.shape, a.shape)
        assert g.tobytes() == a.astype("<f4").tobytes(), (name, g, a)
    assert meta == EXPECTED_META, meta
    for name in sorted(got):
        print(f"  {name!r:32} {list(got[name].shape)!s:10} {got[name].ravel()[:4]}")
    print(f"  metadata: {meta}")
    print(f"{path}: {len(got)} tensors and the metadata match, bit for bit")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    (write if sys.argv[1] == "write" else check)(sys.argv[2])
