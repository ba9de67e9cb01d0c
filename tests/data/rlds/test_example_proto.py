"""The hand-written tf.train.Example codec against the protobuf-generated one bundled with tfds."""

from __future__ import annotations

import numpy as np
import pytest

from jaxrobot.data.rlds import example_proto
from jaxrobot.data.rlds.example_proto import ProtoError, parse_example, serialize_example


@pytest.fixture(scope="module")
def pb():
    from tensorflow_datasets.proto import tf_example_pb2  # protobuf only, no TensorFlow

    return tf_example_pb2


def _proto_values(pb, data):
    ex = pb.Example.FromString(data)
    out = {}
    for k, f in ex.features.feature.items():
        kind = f.WhichOneof("kind")
        out[k] = list(getattr(f, kind).value) if kind else []
    return out


def _same(mine, theirs):
    assert set(mine) == set(theirs)
    for k, v in theirs.items():
        if isinstance(mine[k], list):
            assert mine[k] == v, k
        else:
            assert np.array_equal(mine[k], np.asarray(v, dtype=mine[k].dtype)), k


def test_parse_matches_protobuf_on_bridge_records(bridge_path, pb):
    import os

    from jaxrobot.data.rlds import tfrecord

    path = os.path.join(bridge_path, "bridge_dataset-train.tfrecord-00000-of-00001")
    for _, data in list(tfrecord.iter_records(path))[:5]:
        _same(parse_example(data), _proto_values(pb, data))
        # and re-serialising gives the same message
        assert pb.Example.FromString(serialize_example(parse_example(data))) == pb.Example.FromString(data)


def test_round_trip_values(pb):
    feats = {
        "f": np.array([1.5, -2.25, np.inf, 3e38], np.float32),
        "i": np.array([0, 1, -1, 127, 128, 300, 2**62, -(2**63), 2**63 - 1], np.int64),
        "b": np.array([True, False, True]),
        "s": [b"", b"abc", "h\u00e9".encode()],
        "empty_f": np.zeros(0, np.float32),
    }
    data = serialize_example(feats)
    back = parse_example(data)
    assert np.array_equal(back["f"], feats["f"])
    assert np.array_equal(back["i"], feats["i"])
    assert back["b"].tolist() == [1, 0, 1]
    assert back["s"] == feats["s"]
    assert back["empty_f"].size == 0
    theirs = _proto_values(pb, data)
    assert theirs["i"] == feats["i"].tolist()
    assert theirs["s"] == feats["s"]


def test_unpacked_repeated_fields_parse():
    """Writers may emit non-packed repeated fields; the wire format allows both."""
    enc = example_proto._enc_varint
    floats = b"".join(b"\x0d" + np.float32(x).tobytes() for x in (1.0, 2.0))  # field 1, wire type 5
    ints = b"".join(b"\x08" + enc(v) for v in (5, -3))  # field 1, wire type 0
    feat_f = example_proto._len_field(2, floats)
    feat_i = example_proto._len_field(3, ints)
    entry = lambda k, f: example_proto._len_field(1, example_proto._len_field(1, k) + example_proto._len_field(2, f))
    data = example_proto._len_field(1, entry(b"f", feat_f) + entry(b"i", feat_i))
    out = parse_example(data)
    assert out["f"].tolist() == [1.0, 2.0]
    assert out["i"].tolist() == [5, -3]


def test_garbage_raises_proto_error():
    with pytest.raises(ProtoError):
        parse_example(b"\x0a\xff\xff\xff\x0f")  # a length far past the end
