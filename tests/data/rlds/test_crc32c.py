"""CRC-32C against published check values and a byte-by-byte reference."""

from __future__ import annotations

import numpy as np
import pytest

from jaxrobot.data.rlds import crc32c as crc_mod
from jaxrobot.data.rlds.crc32c import crc32c, masked_crc32c


@pytest.mark.parametrize("data, expected", [
    (b"", 0x00000000),
    (b"123456789", 0xE3069283),  # the CRC catalogue's check value for CRC-32C
    (bytes(32), 0x8A9136AA),  # RFC 3720 (iSCSI) appendix B.4: 32 bytes of zeros
    (b"\xff" * 32, 0x62A8AB43),  # ... 32 bytes of ones
    (bytes(range(32)), 0x46DD794E),  # ... incrementing
    (bytes(range(31, -1, -1)), 0x113FDB5C),  # ... decrementing
])
def test_known_vectors(data, expected):
    assert crc32c(data) == expected
    assert crc_mod._crc32c_fallback(data) == expected


@pytest.mark.parametrize("n", [1, 7, 2047, 2048, 2049, 4097, 65_537, 300_001])
def test_numpy_matches_bytewise_reference(n):
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    ref = crc_mod._raw_py(data, 0xFFFFFFFF) ^ 0xFFFFFFFF
    assert crc_mod._crc32c_numpy(np.frombuffer(data, np.uint8)) == ref
    assert crc32c(data) == ref
    assert crc32c(memoryview(data)) == ref


def test_masked_crc_matches_tensorflow_formula():
    # tensorflow/core/lib/hash/crc32c.h: Mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8
    crc = crc32c(b"abc")
    assert masked_crc32c(b"abc") == ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
