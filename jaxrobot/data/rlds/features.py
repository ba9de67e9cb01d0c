"""TFDS metadata without TFDS: ``features.json`` as a flat feature spec, ``dataset_info.json`` as splits/shards.

A *flat spec* maps a ``/``-joined key to a :class:`Feature`, e.g.::

    steps/action                (None, 7)        float32  tensor
    steps/observation/image_0   (None, 64, 64, 3) uint8   jpeg
    steps/language_instruction  (None,)          string   text
    episode_metadata/file_path  ()               string   text

The shape is the shape of the array an episode holds for that key: features inside the ``steps`` sequence
(a TFDS ``Dataset``/``Sequence`` feature) lead with ``None``, the episode length T. ``dtype`` is a numpy dtype
name, or ``"string"`` for text (read as ``bytes`` in ``np.object_`` arrays). ``encoding`` says how values are
stored in the ``tf.train.Example``: ``jpeg``/``png`` (encoded image bytes), ``scalar``/``tensor`` (int64 or
float lists; bools as int64), ``tensor_bytes``/``tensor_zlib`` (raw or zlib-compressed array bytes), ``text``,
``class_label`` (int64; written back as an int64 scalar).

The JSON layouts follow tensorflow_datasets/core/proto/feature.proto and dataset_info.proto (field names in
their JSON camelCase form), as written by tfds 4.9; both the standard builder's shard names
(``-00000-of-00001``) and ``SequentialWriter``'s (``-00000``) are handled through ``filepathTemplate``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from jaxrobot.data.base import DataError

_CLS = "tensorflow_datasets.core.features."
_FEATURES_DICT = _CLS + "features_dict.FeaturesDict"
_DATASET = _CLS + "dataset_feature.Dataset"
_SEQUENCE = _CLS + "sequence_feature.Sequence"
_TENSOR = _CLS + "tensor_feature.Tensor"
_SCALAR = _CLS + "scalar.Scalar"
_IMAGE = _CLS + "image_feature.Image"
_TEXT = _CLS + "text_feature.Text"

IMAGE_ENCODINGS = ("jpeg", "png")
ENCODINGS = ("jpeg", "png", "scalar", "tensor", "tensor_bytes", "tensor_zlib", "text", "class_label")
DEFAULT_TEMPLATE = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"  # tfds naming.DEFAULT_FILENAME_TEMPLATE
INDEX_TEMPLATE = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_INDEX}"  # what tfds's SequentialWriter writes


@dataclasses.dataclass(frozen=True)
class Feature:
    """One leaf feature of a flat spec (see the module docstring)."""

    shape: tuple[int | None, ...]
    dtype: str
    encoding: str
    description: str = ""
    sequence: bool = False  # per-step feature: shape[0] is None, the episode length

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        """Shape of one step's value (or of the whole value for episode-level features)."""
        return self.shape[1:] if self.sequence else self.shape

    def as_dict(self) -> dict[str, Any]:
        return {"shape": self.shape, "dtype": self.dtype, "encoding": self.encoding}


Spec = dict[str, Feature]


# ------------------------------------------------------------------------------------------ features.json


def _dims(shape_json: dict | None) -> tuple[int | None, ...]:
    dims = (shape_json or {}).get("dimensions", [])
    return tuple(None if int(d) == -1 else int(d) for d in dims)


def _leaf(node: dict, key: str, in_sequence: bool, where: str) -> Feature:
    cls = node.get("pythonClassName", "")
    desc = node.get("description", "") or ""
    lead: tuple[int | None, ...] = (None,) if in_sequence else ()
    if "image" in node:
        img = node["image"]
        enc = (img.get("encodingFormat") or "png").lower()  # tfds encodes PNG when no format is given
        if enc not in IMAGE_ENCODINGS:
            raise DataError(f"{where}: feature {key!r} has image encoding {enc!r}; expected jpeg or png")
        return Feature(lead + _dims(img.get("shape")), img.get("dtype", "uint8"), enc, desc, in_sequence)
    if "tensor" in node:
        t = node["tensor"]
        shape = _dims(t.get("shape"))
        if None in shape:
            raise DataError(f"{where}: feature {key!r} has a variable shape {shape} (ragged): not supported")
        enc = (t.get("encoding") or "none").lower()
        dtype = t.get("dtype", "float32")
        if enc == "none":
            encoding = "scalar" if cls == _SCALAR or not shape else "tensor"
        elif enc in ("bytes", "zlib"):
            encoding = f"tensor_{enc}"
        else:
            raise DataError(f"{where}: feature {key!r} has tensor encoding {enc!r}; expected none, bytes or zlib")
        dtype = "string" if dtype in ("string", "str", "object") else dtype
        return Feature(lead + shape, dtype, encoding, desc, in_sequence)
    if "text" in node:
        if node["text"]:
            raise DataError(f"{where}: feature {key!r} uses a deprecated TFDS text encoder; not supported")
        return Feature(lead, "string", "text", desc, in_sequence)
    if "classLabel" in node:
        return Feature(lead, "int64", "class_label", desc, in_sequence)
    kinds = sorted(k for k in node if k not in ("pythonClassName", "description", "valueRange"))
    raise DataError(f"{where}: feature {key!r} is a {cls or kinds} feature; jaxrobot reads FeaturesDict, "
                    "Dataset/Sequence, Tensor, Scalar, Image, Text and ClassLabel")


def _walk(node: dict, prefix: str, in_sequence: bool, out: Spec, where: str) -> None:
    if "featuresDict" in node:
        for name, child in node["featuresDict"].get("features", {}).items():
            _walk(child, f"{prefix}/{name}" if prefix else name, in_sequence, out, where)
    elif "sequence" in node:
        if in_sequence:
            raise DataError(f"{where}: feature {prefix!r} is a sequence inside a sequence (ragged): not supported")
        seq = node["sequence"]
        length = int(seq.get("length", -1))
        if length != -1:
            raise DataError(f"{where}: feature {prefix!r} is a fixed-length sequence ({length}): not supported")
        _walk(seq["feature"], prefix, True, out, where)
    else:
        out[prefix] = _leaf(node, prefix, in_sequence, where)


def parse_features(content: dict, where: str = "features.json") -> Spec:
    """Flat spec from the parsed ``features.json`` (a TFDS FeaturesDict serialisation)."""
    if not isinstance(content, dict) or "featuresDict" not in content:
        raise DataError(f"{where}: not a TFDS FeaturesDict (no 'featuresDict' at the top level)")
    out: Spec = {}
    try:
        _walk(content, "", False, out, where)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{where}: malformed TFDS features ({type(e).__name__}: {e})") from e
    return out


def _feature_json(f: Feature) -> dict:
    shape = list(f.item_shape)
    desc = {"description": f.description} if f.description else {}

    def shape_json(dims):
        return {"dimensions": [str(-1 if d is None else d) for d in dims]} if dims else {}

    if f.encoding in IMAGE_ENCODINGS:
        return {"pythonClassName": _IMAGE, "image": {"shape": shape_json(shape), "dtype": f.dtype,
                                                     "encodingFormat": f.encoding}, **desc}
    if f.encoding == "text":
        return {"pythonClassName": _TEXT, "text": {}, **desc}
    enc = {"scalar": "none", "tensor": "none", "tensor_bytes": "bytes", "tensor_zlib": "zlib",
           "class_label": "none"}[f.encoding]
    cls = _SCALAR if f.encoding in ("scalar", "class_label") else _TENSOR
    return {"pythonClassName": cls, "tensor": {"shape": shape_json(shape), "dtype": f.dtype, "encoding": enc},
            **desc}


def features_json(spec: Spec, sequence_key: str = "steps") -> dict:
    """``features.json`` content for a flat spec (inverse of :func:`parse_features`).

    Per-step features must sit under ``sequence_key`` (RLDS: ``steps``), which becomes a TFDS ``Dataset``.
    """

    def fdict(tree: dict) -> dict:
        return {"pythonClassName": _FEATURES_DICT, "featuresDict": {"features": tree}}

    root: dict = {}
    seq_tree: dict = {}
    for key, f in spec.items():
        parts = key.split("/")
        if f.sequence:
            if parts[0] != sequence_key or len(parts) < 2:
                raise DataError(f"feature {key!r}: per-step features must be under '{sequence_key}/'")
            node, parts = seq_tree, parts[1:]
        else:
            if parts[0] == sequence_key:
                raise DataError(f"feature {key!r}: features under '{sequence_key}/' must be per-step "
                                "(shape starting with None)")
            node = root
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if "pythonClassName" in node:
                raise DataError(f"feature {key!r} nests under a leaf feature")
        node[parts[-1]] = _feature_json(f)

    def wrap(tree: dict) -> dict:
        return fdict({k: (v if "pythonClassName" in v else wrap(v)) for k, v in tree.items()})

    if seq_tree:
        root[sequence_key] = {"pythonClassName": _DATASET,
                              "sequence": {"feature": wrap(seq_tree), "length": "-1"}}
    return wrap(root)


def normalize_spec(features: dict[str, Any]) -> Spec:
    """A user-given flat spec (dicts or :class:`Feature`) checked and completed.

    Keys under ``steps/`` are per-step; their shape may be given with or without the leading ``None``.
    ``encoding`` defaults to ``jpeg`` for uint8 [H, W, 3] images, ``text`` for strings, ``scalar`` for
    shape ``()`` and ``tensor`` otherwise.
    """
    out: Spec = {}
    for key, f in features.items():
        if isinstance(f, Feature):
            f = f.as_dict() | {"description": f.description}
        if not isinstance(f, dict) or "dtype" not in f:
            raise DataError(f"feature {key!r}: expected a dict with 'shape', 'dtype' and 'encoding', got {f!r}")
        shape = tuple(None if d is None else int(d) for d in f.get("shape", ()))
        dtype = str(f["dtype"])
        if dtype in ("str", "bytes", "object"):
            dtype = "string"
        seq = key.split("/")[0] == "steps"
        if seq and (not shape or shape[0] is not None):
            shape = (None,) + shape
        item = shape[1:] if seq else shape
        enc = f.get("encoding")
        if enc is None:
            if dtype == "string":
                enc = "text"
            elif dtype == "uint8" and len(item) == 3 and item[-1] in (1, 3):
                enc = "jpeg" if item[-1] == 3 else "png"
            else:
                enc = "scalar" if not item else "tensor"
        if enc not in ENCODINGS:
            raise DataError(f"feature {key!r}: encoding {enc!r} is not one of {ENCODINGS}")
        if enc in IMAGE_ENCODINGS and (len(item) != 3 or dtype not in ("uint8", "uint16")):
            raise DataError(f"feature {key!r}: images need shape (H, W, C) and dtype uint8 (or uint16 png), "
                            f"got {item} {dtype}")
        if enc == "jpeg" and (dtype != "uint8" or item[-1] not in (1, 3)):
            raise DataError(f"feature {key!r}: jpeg needs uint8 with 1 or 3 channels")
        if enc == "text" and item:
            raise DataError(f"feature {key!r}: text features are scalar per step/episode, got shape {item}")
        if enc not in IMAGE_ENCODINGS and None in item:
            raise DataError(f"feature {key!r}: variable dimensions are only allowed in images, got {item}")
        out[key] = Feature(shape, dtype, enc, str(f.get("description", "") or ""), seq)
    return out


# -------------------------------------------------------------------------------------- dataset_info.json


@dataclasses.dataclass(frozen=True)
class SplitInfo:
    name: str
    shard_lengths: tuple[int, ...]  # episodes per shard
    num_bytes: int
    template: str

    @property
    def num_episodes(self) -> int:
        return int(sum(self.shard_lengths))

    def shard_names(self, dataset_name: str, file_format: str) -> list[str]:
        """File names of the shards, following ``filepathTemplate`` (tfds naming.ShardedFileTemplate)."""
        n = len(self.shard_lengths)
        digits = max(len(str(n)), 5)
        names = []
        for i in range(n):
            idx = f"{i:0{digits}d}"
            mapping = {"DATASET": dataset_name, "SPLIT": self.name, "FILEFORMAT": file_format,
                       "SHARD_INDEX": idx, "NUM_SHARDS": f"{n:0{digits}d}",
                       "SHARD_X_OF_Y": f"{idx}-of-{n:0{digits}d}"}
            template = self.template.split("%")[0]  # strip an encoding suffix, as tfds does
            try:
                names.append(template.format(**mapping))
            except (KeyError, IndexError, ValueError) as e:
                raise DataError(f"split {self.name!r}: cannot use file name template {self.template!r}: {e}") from e
        return names


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    name: str
    version: str
    file_format: str
    splits: dict[str, SplitInfo]
    description: str = ""
    citation: str = ""


#: Beside dataset_info.json: how the data was made (tfds keeps a builder's ``MetadataDict`` in this file).
METADATA_FILE = "metadata.json"


def parse_dataset_info(content: dict, where: str = "dataset_info.json") -> DatasetInfo:
    """Name, version, file format and splits (shard lengths, file names) of a ``dataset_info.json``."""
    if not isinstance(content, dict) or "name" not in content:
        raise DataError(f"{where}: not a TFDS dataset_info.json (no 'name')")
    try:
        return _parse_dataset_info(content, where)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{where}: malformed TFDS dataset info ({type(e).__name__}: {e})") from e


def _parse_dataset_info(content: dict, where: str) -> DatasetInfo:
    splits: dict[str, SplitInfo] = {}
    for s in content.get("splits", []):
        lengths = tuple(int(x) for x in s.get("shardLengths", []))
        if not lengths and int(s.get("numShards", 0) or 0):
            raise DataError(f"{where}: split {s.get('name')!r} lists no shardLengths (written by a tfds older "
                            "than 4.0); rewrite it with a recent tfds")
        splits[s["name"]] = SplitInfo(name=s["name"], shard_lengths=lengths,
                                      num_bytes=int(s.get("numBytes", 0) or 0),
                                      template=s.get("filepathTemplate") or DEFAULT_TEMPLATE)
    return DatasetInfo(name=content["name"], version=str(content.get("version", "")),
                       file_format=content.get("fileFormat") or "tfrecord", splits=splits,
                       description=content.get("description", ""), citation=content.get("citation", ""))


def dataset_info_json(info: DatasetInfo) -> dict:
    """``dataset_info.json`` content (the fields tfds reads back)."""
    out: dict[str, Any] = {"name": info.name, "version": info.version, "fileFormat": info.file_format,
                           "moduleName": "", "releaseNotes": {info.version: "Written by jaxrobot."}}
    if info.description:
        out["description"] = info.description
    if info.citation:
        out["citation"] = info.citation
    out["splits"] = [{"name": s.name, "filepathTemplate": s.template, "numBytes": str(s.num_bytes),
                      "shardLengths": [str(n) for n in s.shard_lengths]} for s in info.splits.values()]
    return out


def load_json(text: str | bytes, where: str) -> dict:
    """Parse the JSON metadata file ``where`` (text or its raw bytes); damage raises a DataError naming it."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{where}: damaged or not a JSON file (byte {e.start} of {len(text)} is not "
                            "UTF-8 text)") from None
    if not text.strip():
        raise DataError(f"{where}: empty file (an interrupted download or copy?)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{where}: invalid JSON ({e})") from e
