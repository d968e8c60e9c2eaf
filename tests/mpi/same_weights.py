"""Compare the tensors of two ionhop model files (safetensors): exit 0 if every tensor is the same
bit for bit, 1 if not (the largest difference printed). The metadata (command, seconds) may differ.
Standard library only."""
import json
import struct
import sys


def tensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    head = json.loads(blob[8 : 8 + n])
    data = blob[8 + n :]
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        lo, hi = t["data_offsets"]
        out[name] = (t["dtype"], tuple(t["shape"]), data[lo:hi])
    return out


def main():
    a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
    if a.keys() != b.keys():
        print("different tensor names")
        return 1
    worst, where = 0.0, None
    for name in sorted(a):
        if a[name][:2] != b[name][:2]:
            print(f"{name}: different dtype or shape")
            return 1
        if a[name][2] != b[name][2] and a[name][0] == "F32":
            n = len(a[name][2]) // 4
            x = struct.unpack(f"<{n}f", a[name][2])
            y = struct.unpack(f"<{n}f", b[name][2])
            d = max(abs(p - q) for p, q in zip(x, y))
            if d >= worst:
                worst, where = d, name
        elif a[name][2] != b[name][2]:
            worst, where = float("inf"), name
    if where is None:
        print(f"{len(a)} tensors identical")
        return 0
    print(f"tensors differ: largest difference {worst:.3g} in {where}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
