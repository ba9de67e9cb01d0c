"""TFRecord framing, read and written by hand, with both masked CRC-32C checks.

A TFRecord file is a sequence of records, each::

    uint64 length            (little-endian)
    uint32 masked_crc32c(length bytes)
    byte   data[length]
    uint32 masked_crc32c(data)

(tensorflow/core/lib/io/record_writer.cc.) In an RLDS dataset one record is one whole episode, so an index
of record offsets lets any episode be read by a single positioned read. Every problem is reported as a
:class:`~jaxrobot.data.base.DataError` that names the file, the record number (when known) and its byte
offset; TensorFlow's own message ("corrupted record at 12") names neither the file nor the record.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterable, Iterator

import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.data.rlds import fs
from jaxrobot.data.rlds.crc32c import masked_crc32c

HEADER = 12  # uint64 length + uint32 crc of the length
FOOTER = 4  # uint32 crc of the data
_READ_AHEAD = 1 << 20


def _where(path: str, number: int | None, offset: int) -> str:
    rec = f"record {number} " if number is not None else "record "
    return f"{path}: {rec}at byte {offset}"


def _parse_header(path: str, header: bytes, number: int | None, offset: int, check_crc: bool) -> int:
    if len(header) < HEADER:
        raise DataError(f"{_where(path, number, offset)}: truncated header ({len(header)} of {HEADER} bytes); "
                        "the shard is cut short (interrupted copy or write?)")
    length, crc = struct.unpack("<QI", header)
    if check_crc and masked_crc32c(header[:8]) != crc:
        raise DataError(f"{_where(path, number, offset)}: length CRC mismatch (corrupt shard)")
    return length


def _check_body(path: str, body: bytes, length: int, number: int | None, offset: int, check_crc: bool) -> bytes:
    if len(body) < length + FOOTER:
        raise DataError(f"{_where(path, number, offset)}: truncated data ({max(0, len(body) - FOOTER)} of "
                        f"{length} bytes); the shard is cut short (interrupted copy or write?)")
    data = body[:length]
    if check_crc:
        (crc,) = struct.unpack_from("<I", body, length)
        if masked_crc32c(data) != crc:
            raise DataError(f"{_where(path, number, offset)}: data CRC mismatch (corrupt shard)")
    return data


def iter_records(path: str, *, check_crc: bool = True) -> Iterator[tuple[int, bytes]]:
    """Yield ``(byte offset, record bytes)`` for every record of a TFRecord file, in order."""
    with fs.open_read(path) as f:
        offset = 0
        number = 0
        while True:
            header = f.read(HEADER)
            if not header:
                return
            length = _parse_header(path, header, number, offset, check_crc)
            body = f.read(length + FOOTER)
            yield offset, _check_body(path, body, length, number, offset, check_crc)
            offset += HEADER + length + FOOTER
            number += 1


@dataclasses.dataclass(frozen=True)
class ShardIndex:
    """Where each record of one shard lives: record i is ``lengths[i]`` bytes of data at ``offsets[i]``."""

    path: str
    offsets: np.ndarray  # int64 [N], offset of each record's header
    lengths: np.ndarray  # int64 [N], data length of each record

    def __len__(self) -> int:
        return len(self.offsets)


def index_shard(path: str, *, check_crc: bool = True) -> ShardIndex:
    """Offsets of all records of a shard, reading only the 12-byte headers (a seek per record).

    Checks each length's CRC, and that the last record ends exactly at the end of the file (a truncated
    shard is caught here rather than mid-training).
    """
    offsets: list[int] = []
    lengths: list[int] = []
    with fs.RandomAccessFile(path) as f:
        size = f.size()
        offset = 0
        while offset < size:
            header = f.pread(offset, HEADER)
            length = _parse_header(path, header, len(offsets), offset, check_crc)
            end = offset + HEADER + length + FOOTER
            if end > size:
                raise DataError(f"{_where(path, len(offsets), offset)}: truncated data (record needs {length} "
                                f"bytes, the file has {max(0, size - offset - HEADER - FOOTER)} left); the "
                                "shard is cut short (interrupted copy or write?)")
            offsets.append(offset)
            lengths.append(length)
            offset = end
    return ShardIndex(path, np.asarray(offsets, dtype=np.int64), np.asarray(lengths, dtype=np.int64))


def read_record(f: fs.RandomAccessFile, offset: int, *, length: int | None = None, number: int | None = None,
                check_crc: bool = True) -> bytes:
    """The record whose header starts at ``offset`` (one read when ``length`` is known from an index)."""
    if length is None:
        header = f.pread(offset, HEADER)
        length = _parse_header(f.path, header, number, offset, check_crc)
        body = f.pread(offset + HEADER, length + FOOTER)
    else:
        buf = f.pread(offset, HEADER + length + FOOTER)
        got = _parse_header(f.path, buf[:HEADER], number, offset, check_crc)
        if got != length:
            raise DataError(f"{_where(f.path, number, offset)}: length {got} differs from the index ({length}); "
                            "the shard changed since it was indexed")
        body = memoryview(buf)[HEADER:]
    return bytes(_check_body(f.path, body, length, number, offset, check_crc))


def encode_record(data: bytes) -> bytes:
    """One framed record (header, data, footer)."""
    length = struct.pack("<Q", len(data))
    return b"".join((length, struct.pack("<I", masked_crc32c(length)), data,
                     struct.pack("<I", masked_crc32c(data))))


def write_records(path: str, records: Iterable[bytes]) -> list[int]:
    """Write records to a new TFRecord file; returns each record's byte offset."""
    offsets = []
    offset = 0
    with fs.open_write(path) as f:
        for data in records:
            framed = encode_record(data)
            f.write(framed)
            offsets.append(offset)
            offset += len(framed)
    return offsets
