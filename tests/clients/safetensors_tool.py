"""Minimal safetensors reading/writing in pure Python (no numpy), for the CLI tests."""
import json
import struct
from array import array


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    data = blob[8 + n :]
    return header, data


def write(path, header, data):
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)


def tensor_f32(path, name):
    header, data = read(path)
    entry = header[name]
    assert entry["dtype"] == "F32", entry["dtype"]
    begin, end = entry["data_offsets"]
    values = array("f")
    values.frombytes(data[begin:end])
    return entry["shape"], values


def without_tensor(header, data, name):
    """The file's tensors minus `name`, re-packed contiguously."""
    out_header, chunks, offset = {}, [], 0
    for key, entry in sorted(header.items(), key=lambda kv: kv[1].get("data_offsets", [0])[0] if isinstance(kv[1], dict) and "data_offsets" in kv[1] else -1):
        if key == "__metadata__" or key == name:
            continue
        begin, end = entry["data_offsets"]
        chunks.append(data[begin:end])
        out_header[key] = dict(entry, data_offsets=[offset, offset + end - begin])
        offset += end - begin
    return out_header, b"".join(chunks)
