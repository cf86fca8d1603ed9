"""A reader of odeflow model files (format v1), written from the package
documentation (modelfile/doc.go) with the Python standard library only.

Usage: python3 read_model.py FILE
Prints a JSON summary: kind, config, meta, parameters and section data as
hexadecimal bit patterns. Exits with status 1 and a message on a bad file.
"""
import hashlib
import json
import struct
import sys


def read(path):
    b = open(path, "rb").read()
    if b[:8] != b"ODFLMODL":
        raise ValueError("not an odeflow model file")
    version = int.from_bytes(b[8:12], "little")
    if version != 1:
        raise ValueError("format version %d" % version)
    H = int.from_bytes(b[12:16], "little")
    hdr = json.loads(b[16:16 + H].decode("utf-8"))
    P = hdr["num_params"]
    sections = hdr.get("sections", [])
    total = 16 + H + 8 * P + sum(s["length"] for s in sections) + 32
    if len(b) != total:
        raise ValueError("file has %d bytes, header declares %d" % (len(b), total))
    if hashlib.sha256(b[:-32]).digest() != b[-32:]:
        raise ValueError("checksum mismatch")
    off = 16 + H
    params = struct.unpack_from("<%dQ" % P, b, off)  # bit patterns
    off += 8 * P
    out_sections = []
    for s in sections:
        data = b[off:off + s["length"]]
        off += s["length"]
        if s["kind"] not in ("bytes", "float64", "json") and s.get("critical", False):
            raise ValueError("unknown critical section %r" % s["name"])
        out_sections.append({"name": s["name"], "kind": s["kind"],
                             "critical": s.get("critical", False), "hex": data.hex()})
    return {"kind": hdr["kind"], "config": hdr["config"], "meta": hdr.get("meta", {}),
            "params": ["%016x" % p for p in params], "sections": out_sections}


if __name__ == "__main__":
    try:
        print(json.dumps(read(sys.argv[1])))
    except (ValueError, KeyError) as e:
        print("error:", e, file=sys.stderr)
        sys.exit(1)
