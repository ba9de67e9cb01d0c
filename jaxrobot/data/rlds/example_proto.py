"""``tf.train.Example`` protobuf wire format, parsed and written with numpy only (no TensorFlow, no protobuf).

Why by hand: importing ``tensorflow_datasets`` (for its bundled numpy parser) costs ~0.6 s and TensorFlow
~5 s; the Example message is small and stable (tensorflow/core/example/{example,feature}.proto)::

    Example   { Features features = 1; }
    Features  { map<string, Feature> feature = 1; }       # map entry: { string key = 1; Feature value = 2; }
    Feature   { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }
    FloatList { repeated float value = 1 [packed = true]; }
    Int64List { repeated int64 value = 1 [packed = true]; }

Packed float lists become zero-copy ``np.frombuffer`` views, which is where RLDS episodes keep their bulk
(T x A actions, T x 512 language embeddings); JPEG frames stay ``bytes`` until decoded.
"""

from __future__ import annotations

import struct

import numpy as np

Value = np.ndarray | list  # float32 / int64 arrays, or a list of bytes


class ProtoError(ValueError):
    """Malformed wire data (the caller adds file and record)."""


def _varint(buf, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ProtoError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtoError("varint too long")


def _skip(buf, pos: int, wire: int) -> int:
    if wire == 0:
        return _varint(buf, pos)[1]
    if wire == 1:
        return pos + 8
    if wire == 2:
        n, pos = _varint(buf, pos)
        return pos + n
    if wire == 5:
        return pos + 4
    raise ProtoError(f"unsupported wire type {wire}")


def _fields(buf, start: int, end: int):
    """Yield ``(field number, wire type, payload start, payload end)`` of a message's fields."""
    pos = start
    while pos < end:
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 2:
            n, pos = _varint(buf, pos)
            stop = pos + n
            if stop > end:
                raise ProtoError(f"field {field} runs past its message ({stop} > {end})")
            yield field, wire, pos, stop
            pos = stop
        else:
            stop = _skip(buf, pos, wire)
            if stop > end:
                raise ProtoError(f"field {field} runs past its message")
            yield field, wire, pos, stop
            pos = stop


def _decode_varints(data: np.ndarray) -> np.ndarray:
    """Packed varints -> int64 (two's complement for negatives), vectorised."""
    if data.size == 0:
        return np.zeros(0, dtype=np.int64)
    ends = data < 0x80
    if not ends[-1]:
        raise ProtoError("truncated packed varint")
    if np.all(ends):
        return data.astype(np.int64)
    group = np.concatenate([[0], np.cumsum(ends)[:-1]])
    starts = np.flatnonzero(np.concatenate([[True], ends[:-1]]))
    pos_in_group = np.arange(data.size) - starts[group]
    if pos_in_group.max() > 9:
        raise ProtoError("varint too long")
    parts = (data & 0x7F).astype(np.uint64) << (7 * pos_in_group).astype(np.uint64)
    return np.bitwise_or.reduceat(parts, starts).view(np.int64)


def _parse_feature(buf, start: int, end: int) -> Value:
    for field, wire, s, e in _fields(buf, start, end):
        if wire != 2:
            continue
        if field == 1:  # BytesList
            return [bytes(buf[vs:ve]) for f, w, vs, ve in _fields(buf, s, e) if f == 1 and w == 2]
        if field == 2:  # FloatList
            packed = []
            singles = []
            for f, w, vs, ve in _fields(buf, s, e):
                if f != 1:
                    continue
                if w == 2:
                    packed.append(np.frombuffer(buf, dtype="<f4", count=(ve - vs) // 4, offset=vs))
                elif w == 5:
                    singles.append(struct.unpack_from("<f", buf, vs)[0])
            if singles:
                packed.append(np.asarray(singles, dtype="<f4"))
            if len(packed) == 1:
                return packed[0]
            return np.concatenate(packed) if packed else np.zeros(0, np.float32)
        if field == 3:  # Int64List
            parts = []
            singles = []
            for f, w, vs, ve in _fields(buf, s, e):
                if f != 1:
                    continue
                if w == 2:
                    parts.append(_decode_varints(np.frombuffer(buf, dtype=np.uint8, count=ve - vs, offset=vs)))
                elif w == 0:
                    v, _ = _varint(buf, vs)
                    singles.append(v - (1 << 64) if v >= 1 << 63 else v)
            if singles:
                parts.append(np.asarray(singles, dtype=np.int64))
            if len(parts) == 1:
                return parts[0]
            return np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return []  # an empty Feature (no kind set): no values


def parse_example(data: bytes) -> dict[str, Value]:
    """Serialized ``tf.train.Example`` -> ``{key: float32 array | int64 array | list of bytes}``.

    Float arrays are read-only views into ``data``.
    """
    buf = memoryview(data) if not isinstance(data, memoryview) else data
    out: dict[str, Value] = {}
    try:
        for field, wire, s, e in _fields(buf, 0, len(buf)):
            if field != 1 or wire != 2:
                continue
            for f, w, es, ee in _fields(buf, s, e):  # map entries
                if f != 1 or w != 2:
                    continue
                key = None
                value: Value = []
                for ef, ew, vs, ve in _fields(buf, es, ee):
                    if ef == 1 and ew == 2:
                        key = bytes(buf[vs:ve]).decode("utf-8")
                    elif ef == 2 and ew == 2:
                        value = _parse_feature(buf, vs, ve)
                if key is None:
                    raise ProtoError("feature map entry without a key")
                out[key] = value
    except (IndexError, struct.error, UnicodeDecodeError) as e:
        raise ProtoError(f"malformed tf.train.Example: {e}") from e
    return out


# --------------------------------------------------------------------------------------------- writing


def _enc_varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _enc_varints(values: np.ndarray) -> bytes:
    """Packed varints for an int64 array, vectorised (10 bytes max each)."""
    v = values.astype(np.int64).view(np.uint64)
    if v.size == 0:
        return b""
    if np.all(v < 0x80):
        return v.astype(np.uint8).tobytes()
    nbytes = np.ones(v.size, dtype=np.int64)
    rest = v >> np.uint64(7)
    while np.any(rest):
        nbytes += rest > 0
        rest = rest >> np.uint64(7)
    total = int(nbytes.sum())
    out = np.zeros(total, dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(nbytes)[:-1]])
    for k in range(int(nbytes.max())):
        sel = nbytes > k
        byte = ((v[sel] >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        more = nbytes[sel] > k + 1
        out[starts[sel] + k] = byte | (more.astype(np.uint8) << 7)
    return out.tobytes()


def _len_field(field: int, payload: bytes) -> bytes:
    return _enc_varint((field << 3) | 2) + _enc_varint(len(payload)) + payload


def _feature_bytes(value) -> bytes:
    if isinstance(value, list | tuple):
        inner = b"".join(_len_field(1, v.encode("utf-8") if isinstance(v, str) else bytes(v)) for v in value)
        return _len_field(1, inner)
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        inner = _len_field(1, arr.astype("<f4").tobytes()) if arr.size else b""
        return _len_field(2, inner)
    if arr.dtype.kind in "iub":
        inner = _len_field(1, _enc_varints(arr.reshape(-1))) if arr.size else b""
        return _len_field(3, inner)
    raise TypeError(f"cannot serialise dtype {arr.dtype} into a tf.train.Feature")


def serialize_example(features: dict[str, Value]) -> bytes:
    """``{key: list of bytes | float array | integer array}`` -> serialized ``tf.train.Example``.

    Floats are stored as float32 and integers/bools as int64, as TFDS does.
    """
    entries = b"".join(
        _len_field(1, _len_field(1, key.encode("utf-8")) + _len_field(2, _feature_bytes(value)))
        for key, value in features.items()
    )
    return _len_field(1, entries)
